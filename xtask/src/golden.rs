//! `cargo xtask golden`: regenerates `schedules/`, the committed schedules of every bundled
//! model and of the 4-bit-weight quantized ones ([`QUANTIZED`]) on both presets with the
//! default mapper, solved afresh (`--no-cache`). `tests/golden.rs` fails when compile output
//! changes without this.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

pub const TARGETS: [&str; 2] = ["default", "transformer"];

/// The quantized models of `models/quantized/` with golden schedules: layers at their own
/// precisions (4-bit weights). `tests/golden.rs` lists the same.
pub const QUANTIZED: [&str; 2] = ["resnet18_qdq_int4", "llama_tiny_q4"];

pub fn golden(root: &Path, env: &crate::tools::ToolEnv) -> Result<()> {
    let bin = crate::build_cimopt(root, env)?;
    std::fs::create_dir_all(root.join("schedules"))?;
    let mut models: Vec<String> = std::fs::read_dir(root.join("models"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .map(|p| {
            p.file_stem()
                .context("model name")
                .map(|s| format!("models/{}.onnx", s.to_string_lossy()))
        })
        .collect::<Result<_>>()?;
    models.sort();
    models.extend(QUANTIZED.map(|q| format!("models/quantized/{q}.onnx")));
    for rel_model in models {
        let stem = Path::new(&rel_model)
            .file_stem()
            .context("model name")?
            .to_string_lossy()
            .to_string();
        for target in TARGETS {
            // Paths relative to the repository root, as the README's commands use them.
            let out = format!("schedules/{stem}.{target}.schedule.json");
            let status = Command::new(&bin)
                .current_dir(root)
                .args([
                    "compile",
                    &rel_model,
                    "--target",
                    target,
                    "--no-cache",
                    "-q",
                    "-o",
                    &out,
                ])
                .status()?;
            if !status.success() {
                bail!("cimopt compile {rel_model} --target {target} failed");
            }
            eprintln!("golden: wrote {out}");
        }
    }
    Ok(())
}
