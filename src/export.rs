//! `cimopt export SCHEDULE --format timeloop|miredo|perfetto|gantt` and
//! `cimopt import --format timeloop FILE... -o SCHEDULE`: a schedule in other tools' terms
//! and back (`docs/exports.md`), over `cimopt_pipeline::export`.

use crate::Outcome;
use anyhow::{Context, bail};
use cimopt_pipeline::export::{ExportFormat, ExportOptions, ImportFormat, Written, export, import};
use cimopt_pipeline::output::{OutputPolicy, write_output};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Schedule JSON.
    pub schedule: PathBuf,
    /// What to write.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Only this layer (its id). perfetto and gantt trace one layer: layer 0 when not given.
    #[arg(long)]
    pub layer: Option<usize>,
    /// Write here (atomically) instead of standard output. timeloop without --layer writes
    /// one file per layer into this folder (created when missing); into an existing folder,
    /// a single file goes under its own name.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// perfetto and gantt: activations traced in full; the rest of the layer is summarised.
    #[arg(long, alias = "max-events", default_value_t = cimopt_pipeline::export::DEFAULT_MAX_ACTIVATIONS)]
    pub max_activations: usize,
    /// Replace outputs even when they are read-only.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Files (or folders of *.yaml files) to read.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// What the files are.
    #[arg(long, value_enum)]
    pub format: ImportFormat,
    /// Write the schedule here (atomically) instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Replace the output even when it is read-only.
    #[arg(long)]
    pub force: bool,
}

pub fn run_export(args: &ExportArgs) -> Outcome {
    let s = crate::read_schedule(&args.schedule)?;
    let options = ExportOptions {
        format: args.format,
        layer: args.layer,
        max_activations: args.max_activations,
    };
    let e = export(&s, &options)?;
    for w in &e.warnings {
        eprintln!("warning: {w}");
    }
    match &args.output {
        Some(p) => {
            let policy = OutputPolicy::protecting(
                &[("the schedule being exported", &args.schedule)],
                args.force,
            );
            if let Written::Folder { dir, files } = e.write(p, &policy)? {
                eprintln!(
                    "wrote {files} {} files to {}",
                    args.format.name(),
                    dir.display()
                );
            }
        }
        None => print!("{}", e.text()),
    }
    for n in &e.notes {
        eprintln!("note: {n}");
    }
    Ok(0)
}

/// The files to read: each given file, and the `*.yaml` / `*.yml` files of each given folder
/// in name order.
fn inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read the folder {}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            found.sort();
            if found.is_empty() {
                bail!("the folder {} has no .yaml file", p.display());
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub fn run_import(args: &ImportArgs) -> Outcome {
    let paths = inputs(&args.files)?;
    let mut files = Vec::new();
    for p in &paths {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        files.push((p.display().to_string(), text));
    }
    let s = import(args.format, &files)?;
    let json = cimopt_schedule::to_json(&s);
    match &args.output {
        Some(out) => {
            let roles: Vec<(&str, &Path)> = paths
                .iter()
                .map(|p| ("a document being imported", p.as_path()))
                .collect();
            write_output(
                out,
                json.as_bytes(),
                &OutputPolicy::protecting(&roles, args.force),
            )?;
            eprintln!("wrote {} ({} layers)", out.display(), s.layers.len());
        }
        None => print!("{json}"),
    }
    Ok(0)
}
