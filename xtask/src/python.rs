//! The Python package's tests: a venv under `target/`, maturin and pytest in it, the package
//! built from `python/` and installed, then `pytest python/tests`.
//!
//! The extension is built by maturin with the workspace's `dev` profile into the workspace's
//! target folder, so it links the dependencies `cargo test --workspace` compiled (tract,
//! HiGHS, ...): only pyo3, the extension crate, and cimopt-pipeline and cimopt-schedule
//! without the command's features are compiled for it (once; about 1.5 minutes on 2 cores).
//! The crate's Cargo.toml aligns the features that other workspace members turn on in shared
//! dependencies (see its comments); this task fails if the build compiles tract or HiGHS.

use crate::tools::ToolEnv;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The test venv, made by `python3 -m venv`.
pub fn venv(root: &Path) -> PathBuf {
    root.join("target/python-venv")
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Whether the venv's python can import every module named.
fn has_modules(python: &Path, modules: &[&str]) -> bool {
    let probe = format!("import {}", modules.join(", "));
    Command::new(python)
        .args(["-c", &probe])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Makes the venv and installs the test tools when missing: maturin (the build backend,
/// used without build isolation so nothing is downloaded per build), pytest, pandas (so
/// that `Schedule.to_pandas` is tested; the package itself does not need it) and mypy (whose
/// stubtest holds the package's type stubs to the built module).
fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let venv = venv(root);
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!("xtask: creating the Python test venv in {}", venv.display());
        run(
            Command::new("python3").args(["-m", "venv", &venv.to_string_lossy()]),
            "python3 -m venv",
        )?;
    }
    let wanted = [
        ("maturin", "maturin>=1.9.4,<2"),
        ("pytest", "pytest"),
        ("pandas", "pandas"),
        ("mypy", "mypy>=2.4,<3"),
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(module, _)| !has_modules(&python, &[module]))
        .map(|(_, spec)| *spec)
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "xtask: installing {} into the test venv",
            missing.join(", ")
        );
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(&missing),
            "pip install",
        )?;
    }
    Ok(python)
}

/// Builds and installs the package, then runs its tests; `fast` skips tests named `heavy`.
pub fn test(root: &Path, env: &ToolEnv, fast: bool) -> Result<()> {
    let start = Instant::now();
    let python = ensure_venv(root)?;
    let venv_s = start.elapsed().as_secs_f64();

    let build = Instant::now();
    let log = root.join("target/python-build.log");
    eprintln!(
        "xtask: building and installing the Python package (pip install ./python; log in {})",
        log.display()
    );
    let mut install = Command::new(&python);
    install
        .current_dir(root)
        .args([
            "-m",
            "pip",
            "install",
            "--verbose",
            "--disable-pip-version-check",
            "--no-build-isolation",
            "--no-deps",
            "--force-reinstall",
            "./python",
        ])
        // The workspace's target folder (maturin finds it too; said here so that an outer
        // CARGO_TARGET_DIR cannot split the builds).
        .env("CARGO_TARGET_DIR", root.join("target"));
    env.apply(&mut install);
    // The build backend runs the venv's `maturin` from PATH, as an activated venv would.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![venv(root).join("bin")];
    dirs.extend(std::env::split_paths(&path));
    install.env("PATH", std::env::join_paths(dirs).context("PATH")?);
    let out = install.output().context("starting pip install ./python")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&log, &text).with_context(|| format!("writing {}", log.display()))?;
    if !out.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "pip install ./python failed ({}); the end of {}:\n{}",
            out.status,
            log.display(),
            tail.join("\n")
        );
    }
    let compiled = compiled_crates(&text);
    eprintln!(
        "xtask: the package build compiled {} crate(s){}{}",
        compiled.len(),
        if compiled.is_empty() { "" } else { ": " },
        compiled.join(", ")
    );
    let shared: Vec<&String> = compiled.iter().filter(|c| is_heavy(c)).collect();
    if !shared.is_empty() {
        bail!(
            "the Python package build compiled {} again instead of reusing cargo test's build: \
             a dependency's features differ between the two builds; align them in \
             crates/python/Cargo.toml (compare `cargo tree -e features` of the workspace and of \
             -p cimopt-python)",
            shared
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let build_s = build.elapsed().as_secs_f64();

    let tests = Instant::now();
    let mut pytest = Command::new(&python);
    pytest
        .current_dir(root)
        .args([
            "-m",
            "pytest",
            "python/tests",
            "-q",
            "-p",
            "no:cacheprovider",
        ])
        .env("CIMOPT_BIN", root.join("target/debug/cimopt"));
    if fast {
        pytest.args(["-k", "not heavy"]);
    }
    run(&mut pytest, "pytest python/tests")?;
    eprintln!(
        "xtask: Python part took {:.0} s (venv {:.0} s, package build and install {:.0} s, pytest {:.0} s)",
        start.elapsed().as_secs_f64(),
        venv_s,
        build_s,
        tests.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The crates a build log says cargo compiled (`Compiling NAME vX.Y.Z`), in order.
fn compiled_crates(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("Compiling"))
                .then(|| words.next())
                .flatten()
                .map(str::to_string)
        })
        .collect()
}

/// The dependencies whose second compilation this design exists to avoid (minutes each):
/// the ONNX stack and the MILP solver.
fn is_heavy(name: &str) -> bool {
    name.starts_with("tract-") || name.starts_with("highs") || name == "good_lp"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_logs_name_what_was_compiled() {
        let log = "   Compiling pyo3-ffi v0.30.1\nwarning: x\n   Compiling cimopt-python v0.1.0 (/w/crates/python)\n    Finished `dev` profile";
        assert_eq!(compiled_crates(log), ["pyo3-ffi", "cimopt-python"]);
        assert!(is_heavy("tract-onnx") && is_heavy("highs-sys") && !is_heavy("pyo3"));
    }
}
