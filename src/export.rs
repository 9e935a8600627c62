//! `cimopt export SCHEDULE --format timeloop|miredo|perfetto|gantt` and
//! `cimopt import --format timeloop FILE... -o SCHEDULE`: a schedule in other tools' terms
//! and back (`docs/exports.md`), over `cimopt_pipeline::export`.

use crate::Outcome;
use cimopt_pipeline::export::{
    Documents, ExportFormat, ExportOptions, ImportFormat, Written, export, export_policy, import,
};
use cimopt_pipeline::output::write_output;
use std::path::PathBuf;

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
            let policy = export_policy(Some(&args.schedule), args.force);
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

pub fn run_import(args: &ImportArgs) -> Outcome {
    let docs = Documents::read(&args.files)?;
    let s = import(args.format, &docs.files)?;
    let json = cimopt_schedule::to_json(&s);
    match &args.output {
        Some(out) => {
            write_output(out, json.as_bytes(), &docs.output_policy(args.force))?;
            eprintln!("wrote {} ({} layers)", out.display(), s.layers.len());
        }
        None => print!("{json}"),
    }
    Ok(0)
}
