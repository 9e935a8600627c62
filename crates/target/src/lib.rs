//! The accelerator description ("target", domain §1): a TOML file, or a built-in preset, with
//! command-line overrides, validated into a [`Target`].
//!
//! ```text
//! preset name / file  ──parse──▶ toml::Value ──--set KEY=VALUE──▶ TargetFile ──resolve──▶ Target
//! ```

pub mod file;
pub mod limits;
pub mod model;
pub mod show;
pub mod units;
pub mod vocab;

pub use file::TargetFile;
pub use model::{
    ActivationEnergy, Level, Macro, Precision, Replication, SpatialAxis, Target, WeightStorage,
};
pub use vocab::{Axis, Dim, Operand, OperandSet};

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("cannot read target file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("target {origin} is not valid TOML: {message}")]
    Syntax { origin: String, message: String },
    #[error("`{0}` is neither a preset ({presets}) nor an existing file", presets = PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    #[error("--set {key}: {reason}")]
    Override { key: String, reason: String },
    /// A key of the text holds a value of the wrong type or shape, or is unknown.
    #[error("{key}: {reason} (in {origin})")]
    Field {
        origin: String,
        key: String,
        reason: String,
    },
}

/// Built-in presets: name and TOML text.
pub const PRESETS: &[(&str, &str)] = &[
    ("default", include_str!("../presets/default.toml")),
    ("transformer", include_str!("../presets/transformer.toml")),
];

/// A loaded target and where it came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub target: Target,
    /// The preset name or the file path given on the command line.
    pub origin: String,
}

/// Loads a preset (by name) or a TOML file (by path), applies `KEY=VALUE` overrides, validates.
pub fn load(spec: &str, overrides: &[String]) -> Result<Loaded, TargetError> {
    let (origin, text) = if let Some((_, text)) = PRESETS.iter().find(|(n, _)| *n == spec) {
        (format!("preset `{spec}`"), text.to_string())
    } else if Path::new(spec).exists() {
        let text = std::fs::read_to_string(spec).map_err(|source| TargetError::Io {
            path: spec.to_string(),
            source,
        })?;
        (spec.to_string(), text)
    } else {
        return Err(TargetError::Unknown(spec.to_string()));
    };
    let target = parse(&origin, &text, overrides)?;
    Ok(Loaded {
        target,
        origin: spec.to_string(),
    })
}

/// `t` with `KEY=VALUE` overrides applied, validated again (as [`load`] applies them to a
/// file).
pub fn with_overrides(t: &Target, overrides: &[String]) -> Result<Target, TargetError> {
    let origin = format!("target `{}`", t.name);
    let value = toml::Table::try_from(t.to_file()).map_err(|e| TargetError::Syntax {
        origin: origin.clone(),
        message: e.to_string(),
    })?;
    resolve_table(&origin, value, overrides)
}

/// Parses TOML text, applies overrides, validates. `origin` names the text in errors.
pub fn parse(origin: &str, text: &str, overrides: &[String]) -> Result<Target, TargetError> {
    let value: toml::Table = toml::from_str(text).map_err(|e| TargetError::Syntax {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    resolve_table(origin, value, overrides)
}

/// A target table with overrides applied, deserialised and validated.
fn resolve_table(
    origin: &str,
    mut value: toml::Table,
    overrides: &[String],
) -> Result<Target, TargetError> {
    let field = |(key, reason)| TargetError::Field {
        origin: origin.to_string(),
        key,
        reason,
    };
    // A value of the wrong type is blamed on the key it sits at, and on the override that
    // brought it when the text alone reads.
    from_table(&value).map_err(field)?;
    for o in overrides {
        apply_override(&mut value, o)?;
        if let Err((key, reason)) = from_table(&value) {
            let set = o.split_once('=').map_or(o.as_str(), |(k, _)| k.trim());
            return Err(TargetError::Override {
                key: set.to_string(),
                reason: if key == set {
                    reason
                } else {
                    format!("{key}: {reason}")
                },
            });
        }
    }
    from_table(&value).map_err(field)?.resolve()
}

/// The target file a TOML table holds, or the key (`levels[2].capacity`) and reason of what
/// does not fit.
fn from_table(value: &toml::Table) -> Result<TargetFile, (String, String)> {
    serde_path_to_error::deserialize(toml::Value::Table(value.clone())).map_err(
        |e: serde_path_to_error::Error<toml::de::Error>| {
            let key = match e.path().to_string() {
                p if p == "." => "(target)".to_string(),
                p => p,
            };
            (key, e.into_inner().message().to_string())
        },
    )
}

/// Applies one `KEY=VALUE` override. Keys are dotted paths; a level is addressed by name or
/// index (`levels.global_buffer.capacity`, `levels[1].capacity`). Values are TOML values;
/// anything that is not valid TOML is taken as a string (`512KiB`).
pub fn apply_override(root: &mut toml::Table, assignment: &str) -> Result<(), TargetError> {
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| TargetError::Override {
            key: assignment.to_string(),
            reason: "expected KEY=VALUE, e.g. --set cores=16".into(),
        })?;
    let key = key.trim();
    let fail = |reason: String| TargetError::Override {
        key: key.to_string(),
        reason,
    };
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));

    let mut segments: Vec<String> = Vec::new();
    for part in key.split('.') {
        // `levels[1]` is the same as `levels.1`.
        if let Some((name, rest)) = part.split_once('[') {
            segments.push(name.to_string());
            segments.push(rest.trim_end_matches(']').to_string());
        } else {
            segments.push(part.to_string());
        }
    }
    if segments.iter().any(|s| s.is_empty()) {
        return Err(fail("empty key segment".into()));
    }
    let mut whole = toml::Value::Table(std::mem::take(root));
    let result = set_path(&mut whole, &segments, value).map_err(fail);
    if let toml::Value::Table(t) = whole {
        *root = t;
    }
    result
}

fn set_path(node: &mut toml::Value, segments: &[String], value: toml::Value) -> Result<(), String> {
    let (seg, rest) = segments.split_first().expect("non-empty path");
    match node {
        toml::Value::Table(t) => {
            if rest.is_empty() {
                if !t.contains_key(seg.as_str()) && !is_optional_key(seg) {
                    let known: Vec<_> = t.keys().cloned().collect();
                    return Err(format!("no key `{seg}` here (known: {})", known.join(", ")));
                }
                t.insert(seg.clone(), value);
                return Ok(());
            }
            let child = t
                .get_mut(seg.as_str())
                .ok_or_else(|| format!("no key `{seg}`"))?;
            set_path(child, rest, value)
        }
        toml::Value::Array(items) => {
            let idx = match seg.parse::<usize>() {
                Ok(i) => i,
                Err(_) => items
                    .iter()
                    .position(|it| {
                        it.get("name")
                            .and_then(|n| n.as_str())
                            .is_some_and(|n| n.eq_ignore_ascii_case(seg))
                    })
                    .ok_or_else(|| {
                        let names: Vec<_> = items
                            .iter()
                            .filter_map(|it| it.get("name").and_then(|n| n.as_str()))
                            .collect();
                        format!("no entry named `{seg}` (have: {})", names.join(", "))
                    })?,
            };
            if rest.is_empty() {
                return Err("cannot replace a whole list entry; set one of its keys".into());
            }
            let len = items.len();
            let child = items
                .get_mut(idx)
                .ok_or_else(|| format!("index {idx} out of range (0..{len})"))?;
            set_path(child, rest, value)
        }
        _ => Err(format!("`{seg}` is inside a value that is not a table")),
    }
}

// Keys a file may omit: setting them from the command line is allowed.
fn is_optional_key(key: &str) -> bool {
    matches!(
        key,
        "description"
            | "vector_lanes"
            | "read_bandwidth_bits_per_cycle"
            | "write_bandwidth_bits_per_cycle"
            | "bandwidth_bits_per_cycle"
            | "nj"
            | "double_buffer"
            | "ping_pong"
            | "input_bits_per_cycle"
            | "weight_bits_supported"
            | "weight_storage"
            | "pad_unsupported_weights"
    )
}
