//! Gives the solve cache a source identity: a SHA-256 over the sources of every crate a solve
//! depends on (and the lock file that pins the solver), so that a cached result is served only
//! to the code that computed it, and survives rebuilds that change nothing it depends on.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The crates whose code decides a layer's mapping, relative to this crate.
const SOLVE_INPUTS: &[&str] = &[
    "../target/src",
    "../target/presets",
    "../ir/src",
    "../cost/src",
    "../space/src",
    "../mappers/src",
    "../optimiser/src",
    "../sim/src",
    "src",
    "../../Cargo.lock",
];

fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            files(&e, out);
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    }
}

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut hash = Sha256::new();
    for input in SOLVE_INPUTS {
        println!("cargo::rerun-if-changed={input}");
        let mut list = Vec::new();
        files(&here.join(input), &mut list);
        for f in list {
            let rel = f.strip_prefix(&here).unwrap_or(&f);
            hash.update(rel.to_string_lossy().as_bytes());
            hash.update([0]);
            hash.update(std::fs::read(&f).unwrap_or_default());
            hash.update([0]);
        }
    }
    let digest: String = hash
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo::rustc-env=CIMOPT_SOURCE_ID={digest}");
}
