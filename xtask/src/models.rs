//! `cargo xtask models`: writes the zoo's networks to `models/<stem>.onnx` and its quantized
//! ones to `models/quantized/<stem>.onnx`, through the zoo's own binary (built with the rest
//! of the workspace) so that the xtask itself stays free of the ONNX stack.

use anyhow::{Context, bail};
use std::path::Path;
use std::process::Command;

pub fn models(root: &Path, env: &crate::tools::ToolEnv) -> anyhow::Result<()> {
    crate::build_cimopt(root, env)?;
    let status = Command::new(root.join("target/debug/cimopt-write-models"))
        .arg(root.join("models"))
        .status()
        .context("running cimopt-write-models")?;
    if !status.success() {
        bail!("writing the models failed");
    }
    Ok(())
}
