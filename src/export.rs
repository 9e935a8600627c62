//! `cimopt export SCHEDULE --format timeloop|miredo|perfetto` and
//! `cimopt import --format timeloop FILE... -o SCHEDULE`: a schedule in other tools' terms
//! and back (`docs/exports.md`).

use crate::Outcome;
use anyhow::{Context, bail};
use cimopt_pipeline::output::write_atomic;
use std::path::{Path, PathBuf};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// Timeloop v4 (timeloopfe) YAML: problem, architecture and mapping per layer.
    Timeloop,
    /// The MIREDO reference implementation's loop nest, as JSON.
    Miredo,
    /// The simulator's timeline of one layer as Chrome trace-event JSON (ui.perfetto.dev).
    Perfetto,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Schedule JSON.
    pub schedule: PathBuf,
    /// What to write.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Only this layer (its id). perfetto traces one layer: layer 0 when not given.
    #[arg(long)]
    pub layer: Option<usize>,
    /// Write here (atomically) instead of standard output. timeloop without --layer writes
    /// one file per layer into this folder (created when missing).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// perfetto: activations traced in full; the rest of the layer is summarised.
    #[arg(long, alias = "max-events", default_value_t = cimopt_export::DEFAULT_MAX_ACTIVATIONS)]
    pub max_activations: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    /// Timeloop v4 documents written by `cimopt export --format timeloop`.
    Timeloop,
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
}

fn emit(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(p) => write_atomic(p, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(())
}

fn json_text(v: &serde_json::Value, pretty: bool) -> anyhow::Result<String> {
    let mut s = if pretty {
        serde_json::to_string_pretty(v)?
    } else {
        serde_json::to_string(v)?
    };
    s.push('\n');
    Ok(s)
}

pub fn run_export(args: &ExportArgs) -> Outcome {
    let s = crate::read_schedule(&args.schedule)?;
    let output = args.output.as_deref();
    match args.format {
        ExportFormat::Timeloop => {
            let docs = cimopt_export::timeloop(&s, args.layer)?;
            for d in docs.iter().filter(|d| !d.exact) {
                for w in &d.warnings {
                    eprintln!("warning: layer {}: not exact in Timeloop: {w}", d.layer);
                }
            }
            match (output, args.layer) {
                (Some(dir), None) => {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
                    for d in &docs {
                        write_atomic(&dir.join(&d.file_name), d.text.as_bytes())?;
                    }
                    eprintln!(
                        "wrote {} Timeloop documents to {} ({} exact)",
                        docs.len(),
                        dir.display(),
                        docs.iter().filter(|d| d.exact).count()
                    );
                }
                (Some(p), Some(_)) => {
                    let p = if p.is_dir() {
                        p.join(&docs[0].file_name)
                    } else {
                        p.to_path_buf()
                    };
                    write_atomic(&p, docs[0].text.as_bytes())?;
                }
                (None, _) => {
                    let text: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
                    print!("{}", text.join("---\n"));
                }
            }
        }
        ExportFormat::Miredo => {
            let v = cimopt_export::miredo(&s, args.layer)?;
            for l in v["layers"].as_array().into_iter().flatten() {
                for w in l["warnings"].as_array().into_iter().flatten() {
                    eprintln!(
                        "warning: layer {}: not exact in the reference's terms: {}",
                        l["layer"]["id"],
                        w.as_str().unwrap_or("")
                    );
                }
            }
            emit(output, &json_text(&v, true)?)?;
        }
        ExportFormat::Perfetto => {
            let layer = args.layer.unwrap_or(0);
            let v = cimopt_export::perfetto(&s, layer, args.max_activations)?;
            if v["otherData"]["complete"] == false {
                eprintln!(
                    "note: layer {layer} traced for its first {} of {} activations; the rest is summarised",
                    v["otherData"]["traced_activations"], v["otherData"]["activations"]
                );
            }
            emit(output, &json_text(&v, false)?)?;
        }
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
    let mut files = Vec::new();
    for p in inputs(&args.files)? {
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        files.push((p.display().to_string(), text));
    }
    let s = match args.format {
        ImportFormat::Timeloop => cimopt_export::import_timeloop(&files)?,
    };
    emit(args.output.as_deref(), &cimopt_schedule::to_json(&s))?;
    if let Some(p) = &args.output {
        eprintln!("wrote {} ({} layers)", p.display(), s.layers.len());
    }
    Ok(0)
}
