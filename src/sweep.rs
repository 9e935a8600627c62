//! `cimopt sweep MODEL --target T --set KEY=V1,V2 ...`: compiles the cartesian product of
//! target variants and tabulates latency, energy and EDP per variant (CSV, HTML chart).

use crate::Outcome;
use crate::compile::parse_input_shapes;
use anyhow::Context;
use cimopt_pipeline::compile::ModelSource;
use cimopt_pipeline::output::write_output;
use cimopt_pipeline::sweep::{best, csv, html, parse_axes, sweep};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// ONNX model.
    pub model: PathBuf,
    /// The base target (preset or file).
    #[arg(long, short)]
    pub target: String,
    /// A swept field with its values, e.g. --set cores=4,8,16 (a single value fixes the field).
    #[arg(long = "set", value_name = "KEY=V1,V2,...")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub solver: crate::compile::SolverArgs,
    /// Shapes for symbolic graph inputs.
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shape: Vec<String>,
    /// CSV output (default `<model>.<target>.sweep.csv`).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Also write an HTML chart of latency, energy and EDP per variant.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Keep each variant's schedule in this folder.
    #[arg(long)]
    pub schedules: Option<PathBuf>,
    /// Skip simulating each variant.
    #[arg(long)]
    pub no_simulate: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Replace outputs even when they are read-only.
    #[arg(long)]
    pub force: bool,
}

/// A file name made of the variant's settings.
fn file_name(sets: &[(String, String)]) -> String {
    let joined: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
    joined
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

pub fn run(args: &SweepArgs) -> Outcome {
    let axes = parse_axes(&args.set)?;
    let opts = cimopt_onnx::LoadOptions {
        input_shapes: parse_input_shapes(&args.input_shape)?,
        ..Default::default()
    };
    let model = cimopt_onnx::load(&args.model, &opts)
        .with_context(|| format!("cannot sweep {}", args.model.display()))?;
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    if let Some(dir) = &args.schedules {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let options = cimopt_pipeline::CompileOptions {
        simulate: !args.no_simulate,
        ..args.solver.options()?
    };
    let source = ModelSource {
        model: &model,
        file: args.model.display().to_string(),
        bytes: &bytes,
    };
    let policy = crate::compile::protect(&args.model, &args.target, args.force);
    let variants = sweep(
        &source,
        &args.target,
        &axes,
        &options,
        &crate::progress::Interruptible::new(),
        &mut |idx, total, v, s| {
            if let Some(dir) = &args.schedules {
                write_output(
                    &dir.join(format!("{}.schedule.json", file_name(&v.sets))),
                    cimopt_schedule::to_json(s).as_bytes(),
                    &policy,
                )?;
            }
            if !args.quiet {
                eprintln!(
                    "[{}/{total}] {}: latency {:.0} cycles, energy {:.1} nJ, EDP {:.4e}",
                    idx + 1,
                    v.name(),
                    v.latency,
                    v.energy,
                    v.latency * v.energy
                );
            }
            Ok(())
        },
    )?;
    let csv_path = args.csv.clone().unwrap_or_else(|| {
        let stem = args
            .model
            .file_stem()
            .map_or("model".into(), |s| s.to_string_lossy().to_string());
        let t = std::path::Path::new(&args.target)
            .file_stem()
            .map_or(args.target.clone(), |s| s.to_string_lossy().to_string());
        PathBuf::from(format!("{stem}.{t}.sweep.csv"))
    });
    write_output(&csv_path, csv(&axes, &variants).as_bytes(), &policy)?;
    if let Some(h) = &args.html {
        let page = html(&args.model.display().to_string(), &args.target, &variants);
        write_output(h, page.as_bytes(), &policy)?;
    }
    if !args.quiet {
        let best = best(&variants);
        println!(
            "{:<48} {:>14} {:>14} {:>12}",
            "variant", "latency (cyc)", "energy (nJ)", "EDP"
        );
        for (i, v) in variants.iter().enumerate() {
            println!(
                "{:<48} {:>14.0} {:>14.1} {:>12.4e}{}",
                v.name(),
                v.latency,
                v.energy,
                v.latency * v.energy,
                if i == best { "  ← lowest EDP" } else { "" }
            );
        }
        println!("wrote {}", csv_path.display());
    }
    Ok(0)
}
