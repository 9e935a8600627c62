//! Ctrl-C (SIGINT) stops `compile` and `sweep` cleanly: exit 1, "interrupted", no output file
//! and no temporary file left behind.

mod common;

use common::root;
use std::process::{Command, Stdio};
use std::time::Duration;

fn interrupt_after_start(args: &[&str], dir: &std::path::Path) -> (Option<i32>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_cimopt"))
        .current_dir(dir)
        .env("CIMOPT_CACHE_DIR", dir.join("cache"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough for the model to load and the solves to start; the jobs below take far
    // longer than this to finish.
    std::thread::sleep(Duration::from_secs(3));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "cache")
        .collect()
}

#[test]
fn ctrl_c_stops_compile_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/resnet50.onnx");
    let (code, out) = interrupt_after_start(
        &[
            "compile",
            model.to_str().unwrap(),
            "--target",
            "default",
            "--mapper",
            "mip",
            "--no-cache",
            "-o",
            "out.json",
        ],
        dir.path(),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("interrupted"), "{out}");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn ctrl_c_stops_a_sweep_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/resnet18.onnx");
    let (code, out) = interrupt_after_start(
        &[
            "sweep",
            model.to_str().unwrap(),
            "--target",
            "default",
            "--set",
            "cores=4,8,16",
            "--mapper",
            "mip",
            "--no-cache",
            "--csv",
            "s.csv",
            "--html",
            "s.html",
        ],
        dir.path(),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("interrupted"), "{out}");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}
