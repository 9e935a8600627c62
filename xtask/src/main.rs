//! Project tasks: `cargo xtask <task>`.
//!
//! Every task that builds the project first makes sure the native build tools HiGHS needs
//! (cmake, libclang) are present, and every build uses the workspace's `dev` profile, so the
//! main command and the tests share one build of HiGHS and tract.

mod bench;
mod fuzz;
mod golden;
mod models;
mod python;
mod tools;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "\
usage: cargo xtask <task> [args]

tasks:
  test [--fast] [--no-python|--python-only] [cargo test args]
                           install missing build tools, then run every test: cargo's, then the
                           Python package's (pytest in a venv under target/; --no-python skips
                           them, --python-only runs only them); --fast skips the heavy ones
                           (every model with the MILP, cold golden solves)
  run -- <cimopt args>     install missing build tools, then run the cimopt command
  setup                    only install missing build tools (cmake, libclang)
  models                   regenerate models/*.onnx from the project's network definitions
  bench [--section precision|residency|certify|variants]
                           time compile and simulate on every bundled model, write docs/benchmarks.md;
                           --section precision regenerates only the W8A8 / W4A8 section,
                           --section residency only the residency on/off section,
                           --section certify only the --certify section,
                           --section variants only the targets off the presets
  golden                   regenerate schedules/ (every bundled model on both presets)
  fuzz [--seconds N] [cimopt-fuzz args]
                           fuzz every input reader for N seconds (default 600); findings go to
                           target/fuzz-findings/
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = root();
    match task.as_str() {
        "setup" => {
            let env = tools::ensure(&root)?;
            eprintln!("xtask: build tools ready ({})", env.describe());
            Ok(())
        }
        "test" => {
            let env = tools::ensure(&root)?;
            tools::ensure_chromium();
            let fast = rest.iter().any(|a| a == "--fast");
            let no_python = rest.iter().any(|a| a == "--no-python");
            let python_only = rest.iter().any(|a| a == "--python-only");
            let rest: Vec<String> = rest
                .into_iter()
                .filter(|a| a != "--fast" && a != "--no-python" && a != "--python-only")
                .collect();
            if python_only {
                // The same build as cargo's tests, without running them.
                build_cimopt(&root, &env)?;
                return python::test(&root, &env, fast);
            }
            let mut args: Vec<String> = ["test", "--workspace"].map(String::from).to_vec();
            args.extend(rest);
            if fast {
                // Heavy tests are named `heavy_*`; the harness filters them out by name.
                if !args.iter().any(|a| a == "--") {
                    args.push("--".into());
                }
                args.extend(["--skip".into(), "heavy_".into()]);
            }
            let started = std::time::Instant::now();
            cargo(&root, &env, args)?;
            eprintln!(
                "xtask: cargo test took {:.0} s",
                started.elapsed().as_secs_f64()
            );
            if no_python {
                return Ok(());
            }
            // After cargo's tests, which built the `cimopt` binary the Python tests compare
            // against and every dependency the extension links.
            python::test(&root, &env, fast)
        }
        "run" => {
            let env = tools::ensure(&root)?;
            let bin = build_cimopt(&root, &env)?;
            let rest: Vec<String> = rest.into_iter().skip_while(|a| a == "--").collect();
            let status = Command::new(bin)
                .args(rest)
                .status()
                .context("running cimopt")?;
            std::process::exit(status.code().unwrap_or(1));
        }
        "models" => {
            let env = tools::ensure(&root)?;
            models::models(&root, &env)
        }
        "golden" => {
            let env = tools::ensure(&root)?;
            golden::golden(&root, &env)
        }
        "bench" => {
            let env = tools::ensure(&root)?;
            match rest.as_slice() {
                [] => bench::bench(&root, &env),
                [flag, section] if flag == "--section" && section == "precision" => {
                    bench::precision_only(&root, &env)
                }
                [flag, section] if flag == "--section" && section == "residency" => {
                    bench::residency_only(&root, &env)
                }
                [flag, section] if flag == "--section" && section == "certify" => {
                    bench::certify_only(&root, &env)
                }
                [flag, section] if flag == "--section" && section == "variants" => {
                    bench::variants_only(&root, &env)
                }
                _ => anyhow::bail!(
                    "bench takes no arguments but `--section precision|residency|certify|variants`, got {rest:?}\n{USAGE}"
                ),
            }
        }
        "fuzz" => {
            let env = tools::ensure(&root)?;
            fuzz::fuzz(&root, &env, &rest)
        }
        "" | "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown task `{other}`\n{USAGE}"),
    }
}

fn cargo(root: &Path, env: &tools::ToolEnv, args: impl IntoIterator<Item = String>) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args(args);
    env.apply(&mut cmd);
    let status = cmd.status().context("running cargo")?;
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}

/// Builds the `cimopt` binary (and the workspace's other binaries) in the shared profile and returns its path. It builds the
/// workspace with its test targets, exactly as `cargo xtask test` does, so that both resolve
/// the same dependency features and nothing (tract, and later HiGHS) is compiled twice.
pub fn build_cimopt(root: &Path, env: &tools::ToolEnv) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args(["build", "--quiet", "--workspace", "--tests"]);
    env.apply(&mut build);
    if !build.status().context("running cargo")?.success() {
        bail!("building cimopt failed");
    }
    Ok(root.join("target/debug/cimopt"))
}
