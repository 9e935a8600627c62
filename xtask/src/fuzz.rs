//! `cargo xtask fuzz [--seconds N] [cimopt-fuzz options]`: builds the workspace as every task
//! does (so the harness shares the one build of tract and HiGHS) and runs the `cimopt-fuzz`
//! binary over every target for N seconds (default 600, split equally between the targets).
//! Findings go to `target/fuzz-findings/`, one folder per distinct problem with its minimised
//! input and the panic message; see `crates/fuzz` for what is fuzzed.

use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;

pub fn fuzz(root: &Path, env: &crate::tools::ToolEnv, args: &[String]) -> Result<()> {
    crate::build_cimopt(root, env)?;
    let bin = root.join("target/debug/cimopt-fuzz");
    let mut args: Vec<String> = args.to_vec();
    if !args.iter().any(|a| a == "--seconds" || a == "--iterations") {
        args.extend(["--seconds".into(), "600".into()]);
    }
    if !args.iter().any(|a| a == "--target") {
        args.extend(["--target".into(), "all".into()]);
    }
    let status = Command::new(&bin)
        .current_dir(root)
        .args(&args)
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}
