//! A schedule in other tools' terms, and back (`cimopt export`, `cimopt import`;
//! `docs/exports.md`): what [`cimopt_export`] renders, gathered into files with their names,
//! the warnings a caller shows, and one way to write them.
//!
//! ```text
//! Schedule ─export(options)─▶ Export { files, warnings, notes } ─write(path, policy)─▶ files
//! paths ─Documents::read─▶ Timeloop texts ─import(format, files)─▶ Schedule
//! ```
//!
//! The command and the Python package both go through here, so that they read the same
//! documents, protect the same inputs and say the same things.

use crate::output::{OutputError, OutputPolicy, write_output};
use crate::{Error, Result};
use cimopt_schedule::Schedule;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What [`export`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ExportFormat {
    /// Timeloop v4 (timeloopfe) YAML: problem, architecture and mapping per layer.
    Timeloop,
    /// The MIREDO reference implementation's loop nest, as JSON.
    Miredo,
    /// The simulator's timeline of one layer as Chrome trace-event JSON (ui.perfetto.dev).
    Perfetto,
    /// The simulator's timeline of one layer's first activations as an SVG Gantt chart.
    Gantt,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 4] = [
        ExportFormat::Timeloop,
        ExportFormat::Miredo,
        ExportFormat::Perfetto,
        ExportFormat::Gantt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Timeloop => "timeloop",
            ExportFormat::Miredo => "miredo",
            ExportFormat::Perfetto => "perfetto",
            ExportFormat::Gantt => "gantt",
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        ExportFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown export format `{s}` (expected timeloop, miredo, perfetto or gantt)"
                )
            })
    }
}

/// What to export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    pub format: ExportFormat,
    /// Only this layer (its id). The timeline formats (perfetto, gantt) trace one layer:
    /// layer 0 when not given.
    pub layer: Option<usize>,
    /// perfetto and gantt: activations traced in full; the rest of the layer is summarised.
    pub max_activations: usize,
}

impl ExportOptions {
    pub fn new(format: ExportFormat) -> Self {
        ExportOptions {
            format,
            layer: None,
            max_activations: cimopt_export::DEFAULT_MAX_ACTIVATIONS,
        }
    }
}

/// One output file: a name to give it inside a folder, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    pub name: String,
    pub text: String,
    /// Whether the file says the schedule exactly in the other tool's terms (`warnings` say
    /// what is not). A Timeloop document that is not exact does not import.
    pub exact: bool,
}

/// An export: its files, and what a caller should tell the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub format: ExportFormat,
    /// One file, except a Timeloop export of every layer (one document per layer).
    pub files: Vec<ExportFile>,
    /// What is not exact in the other tool's terms (printed names escaped).
    pub warnings: Vec<String>,
    /// What a user should know, exact or not (a truncated trace).
    pub notes: Vec<String>,
}

/// Where [`Export::write`] put the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    File(PathBuf),
    /// The files inside this folder (created when it was missing).
    Folder {
        dir: PathBuf,
        files: usize,
    },
}

impl Export {
    /// Everything as one text, what standard output gets: Timeloop documents one after the
    /// other as YAML documents (`---` between them), the other formats their one file.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.files.iter().map(|f| f.text.as_str()).collect();
        texts.join("---\n")
    }

    /// Writes the export to `path` through [`write_output`] and `policy` (links followed,
    /// inputs and read-only files refused, atomic replacement). One file goes to `path`, or
    /// into it under its own name when `path` is a folder; several (a Timeloop export of every
    /// layer) go into the folder `path`, created when missing (its parent must exist).
    pub fn write(&self, path: &Path, policy: &OutputPolicy) -> Result<Written> {
        if let [one] = &self.files[..] {
            let p = if path.is_dir() {
                path.join(&one.name)
            } else {
                path.to_path_buf()
            };
            write_output(&p, one.text.as_bytes(), policy)?;
            return Ok(Written::File(p));
        }
        if !path.is_dir() {
            if path.exists() {
                return Err(OutputError::NotAFile {
                    path: path.to_path_buf(),
                    what: "not a folder (this export writes one file per layer)",
                }
                .into());
            }
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(OutputError::MissingFolder {
                    path: path.to_path_buf(),
                    dir: parent.to_path_buf(),
                }
                .into());
            }
            std::fs::create_dir(path).map_err(|error| OutputError::Write {
                path: path.to_path_buf(),
                error,
            })?;
        }
        for f in &self.files {
            write_output(&path.join(&f.name), f.text.as_bytes(), policy)?;
        }
        Ok(Written::Folder {
            dir: path.to_path_buf(),
            files: self.files.len(),
        })
    }
}

fn json_text(v: &Value, pretty: bool) -> String {
    let mut s = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .expect("JSON values serialise");
    s.push('\n');
    s
}

fn stem(s: &Schedule, layer: usize) -> String {
    let l = &s.layers[layer].layer;
    let slug = cimopt_export::slug(&l.name);
    format!("layer{:03}_{slug}", l.index)
}

/// The layer a timeline export traces.
fn timeline_layer(s: &Schedule, layer: Option<usize>) -> Result<usize> {
    let l = layer.unwrap_or(0);
    if l >= s.layers.len() {
        return Err(cimopt_export::ExportError::NoSuchLayer {
            layer: l,
            count: s.layers.len(),
        }
        .into());
    }
    Ok(l)
}

/// Exports `s` as `options` say.
pub fn export(s: &Schedule, options: &ExportOptions) -> Result<Export> {
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let files = match options.format {
        ExportFormat::Timeloop => {
            let docs = cimopt_export::timeloop(s, options.layer)?;
            for d in docs.iter().filter(|d| !d.exact) {
                for w in &d.warnings {
                    warnings.push(format!("layer {}: not exact in Timeloop: {w}", d.layer));
                }
            }
            if docs.len() > 1 {
                notes.push(format!(
                    "{} Timeloop documents ({} exact)",
                    docs.len(),
                    docs.iter().filter(|d| d.exact).count()
                ));
            }
            docs.into_iter()
                .map(|d| ExportFile {
                    name: d.file_name,
                    text: d.text,
                    exact: d.exact,
                })
                .collect()
        }
        ExportFormat::Miredo => {
            let v = cimopt_export::miredo(s, options.layer)?;
            let mut resident = Vec::new();
            let mut exact = true;
            for l in v["layers"].as_array().into_iter().flatten() {
                exact &= l["exact"] != false;
                let id = &l["layer"]["id"];
                if !l["residency"].is_null() {
                    resident.push(id.to_string());
                }
                for w in l["warnings"].as_array().into_iter().flatten() {
                    let w = w.as_str().unwrap_or("");
                    // Residency is said once for all the layers below.
                    if !w.contains("the reference has no residency") {
                        warnings.push(format!(
                            "layer {id}: not exact in the reference's terms: {w}"
                        ));
                    }
                }
            }
            if !resident.is_empty() {
                warnings.push(format!(
                    "{} layer(s) keep operands on chip ({}): the reference has no residency, so their \
                     `residency` key says where each lives and the reference's DRAM traffic for them \
                     is not cimopt's",
                    resident.len(),
                    abbreviate(&resident)
                ));
            }
            let name = match options.layer {
                Some(l) => format!("{}.miredo.json", stem(s, l)),
                None => "schedule.miredo.json".into(),
            };
            vec![ExportFile {
                name,
                text: json_text(&v, true),
                exact,
            }]
        }
        ExportFormat::Perfetto | ExportFormat::Gantt => {
            let layer = timeline_layer(s, options.layer)?;
            let tr = cimopt_export::trace_layer(s, layer, options.max_activations)?;
            if !tr.complete {
                notes.push(format!(
                    "layer {layer} traced for its first {} of {} activations; the rest is summarised",
                    tr.recorded_activations, tr.report.activations
                ));
            }
            let (text, ext) = if options.format == ExportFormat::Perfetto {
                let v = cimopt_export::perfetto_of_trace(s, layer, &tr);
                (json_text(&v, false), "trace.json")
            } else {
                (cimopt_export::gantt_svg(&tr, u64::MAX), "gantt.svg")
            };
            // A summarised trace is still the simulator's, as far as it goes (a note says so).
            vec![ExportFile {
                name: format!("{}.{ext}", stem(s, layer)),
                text,
                exact: true,
            }]
        }
    };
    Ok(Export {
        format: options.format,
        files,
        warnings,
        notes,
    })
}

/// `1, 2, 3, …, 40` for a long list of ids.
fn abbreviate(ids: &[String]) -> String {
    if ids.len() <= 8 {
        return ids.join(", ");
    }
    format!(
        "{}, …, {}",
        ids[..6].join(", "),
        ids.last().expect("long list")
    )
}

/// What [`import`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ImportFormat {
    /// Timeloop v4 documents written by `cimopt export --format timeloop`.
    Timeloop,
}

/// Reads documents (each `(source name, text)`) back into a schedule.
pub fn import(format: ImportFormat, files: &[(String, String)]) -> Result<Schedule> {
    Ok(match format {
        ImportFormat::Timeloop => cimopt_export::import_timeloop(files)?,
    })
}

impl std::str::FromStr for ImportFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "timeloop" => Ok(ImportFormat::Timeloop),
            _ => Err(format!("unknown import format `{s}` (expected timeloop)")),
        }
    }
}

/// Documents read from files for [`import`], with the files they came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Documents {
    /// Every file read, in the order read.
    pub paths: Vec<PathBuf>,
    /// `(source name, text)` per file: what [`import`] takes.
    pub files: Vec<(String, String)>,
}

impl Documents {
    /// Reads each file named, and the `*.yaml` / `*.yml` files of each folder named in name
    /// order (so that `export --format timeloop -o DIR` and `import DIR` round-trip).
    pub fn read(paths: &[PathBuf]) -> Result<Documents> {
        let mut out = Documents::default();
        for p in paths {
            if p.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(|error| Error::Read {
                        what: format!("the folder {}", p.display()),
                        error,
                    })?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                    .collect();
                found.sort();
                if found.is_empty() {
                    return Err(Error::NoDocuments { dir: p.clone() });
                }
                out.paths.extend(found);
            } else {
                out.paths.push(p.clone());
            }
        }
        for p in &out.paths {
            let text = std::fs::read_to_string(p).map_err(|error| Error::Read {
                what: p.display().to_string(),
                error,
            })?;
            out.files.push((p.display().to_string(), text));
        }
        Ok(out)
    }

    /// How an import writes its schedule: never over a document being imported.
    pub fn output_policy(&self, force: bool) -> OutputPolicy {
        let roles: Vec<(&str, &Path)> = self
            .paths
            .iter()
            .map(|p| ("a document being imported", p.as_path()))
            .collect();
        OutputPolicy::protecting(&roles, force)
    }
}

/// How an export is written: never over the schedule file being exported (when it came
/// from one).
pub fn export_policy(schedule_file: Option<&Path>, force: bool) -> OutputPolicy {
    match schedule_file {
        Some(f) => OutputPolicy::protecting(&[("the schedule being exported", f)], force),
        None => OutputPolicy {
            force,
            inputs: Vec::new(),
        },
    }
}

pub use cimopt_export::DEFAULT_MAX_ACTIVATIONS;
