//! Helpers shared by the end-to-end tests of the `cimopt` command.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/models` beside the checkout, when present.
pub fn shared_models() -> Option<PathBuf> {
    let p = root().join("../shared/models");
    p.is_dir().then_some(p)
}

pub fn bundled_models() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("models"))
        .expect("models/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    v.sort();
    v
}

/// The solve cache of the tests: under cargo's target folder, never the user's.
pub fn test_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("solve-cache")
}

pub fn cimopt(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cimopt"))
        .current_dir(dir)
        .env("CIMOPT_CACHE_DIR", test_cache())
        .args(args)
        .output()
        .expect("cimopt runs")
}

/// [`cimopt`] with extra environment variables (a log target, say).
pub fn cimopt_env(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cimopt"))
        .current_dir(dir)
        .env("CIMOPT_CACHE_DIR", test_cache())
        .envs(vars.iter().copied())
        .args(args)
        .output()
        .expect("cimopt runs")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs and asserts success, returning stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let o = cimopt(dir, args);
    assert!(
        o.status.success(),
        "cimopt {} failed ({:?}):\n{}",
        args.join(" "),
        o.status.code(),
        text(&o)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Runs and asserts the exit code, returning stdout + stderr.
pub fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let o = cimopt(dir, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "cimopt {}:\n{}",
        args.join(" "),
        text(&o)
    );
    text(&o)
}
