//! cimopt schedules in the terms of the tools the field already works in (`docs/exports.md`):
//!
//! * [`timeloop`]: each layer as a Timeloop v4 (timeloopfe) specification, problem,
//!   architecture and mapping in one YAML document; [`import_timeloop`] reads such documents
//!   back into a schedule.
//! * [`miredo`]: each layer's mapping in the MIREDO reference implementation's own terms
//!   (its dim numbering, 1-based memory indices, spatial unrolling per axis, double-buffer
//!   flags), as JSON.
//! * [`perfetto`]: the simulator's timeline of one layer as Chrome trace-event JSON, which
//!   ui.perfetto.dev and chrome://tracing open; [`gantt_svg`] draws the same timeline as a
//!   self-contained SVG Gantt chart.
//!
//! Nothing here touches files: each function returns text or JSON, and the caller writes it
//! (`cimopt_pipeline::export` gathers them into named files and writes them).
//! Where a mapping cannot be said exactly in the other tool's terms, the output says so (a
//! warning in the document); the import refuses such documents rather than approximate.

mod gantt;
mod miredo;
mod perfetto;
mod timeloop;
mod yaml;

pub use gantt::gantt_svg;
pub use miredo::{miredo, miredo_layer};
pub use perfetto::{DEFAULT_MAX_ACTIVATIONS, perfetto, perfetto_of_trace, trace_layer};
pub use timeloop::{TimeloopDocument, import_timeloop, timeloop};

use cimopt_schedule::Schedule;

/// Why an export or an import did not happen. Nothing is written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A layer index outside the schedule.
    #[error("there is no layer {layer}: the schedule has {count} layers (0..{last})", last = count.saturating_sub(1))]
    NoSuchLayer { layer: usize, count: usize },
    /// A layer that does not translate.
    #[error("layer {layer} (`{}`): {message}", cimopt_ir::display_name(name))]
    Layer {
        layer: usize,
        name: String,
        message: String,
    },
    /// A document that does not import.
    #[error("{source_name}: {message}")]
    Import {
        source_name: String,
        message: String,
    },
    /// The simulator refused the layer.
    #[error("layer {layer}: {error}")]
    Sim {
        layer: usize,
        error: cimopt_sim::SimError,
    },
}

/// The layers `layer` selects: that one (checked), or all of them.
pub(crate) fn selected(s: &Schedule, layer: Option<usize>) -> Result<Vec<usize>, ExportError> {
    match layer {
        Some(l) if l >= s.layers.len() => Err(ExportError::NoSuchLayer {
            layer: l,
            count: s.layers.len(),
        }),
        Some(l) => Ok(vec![l]),
        None => Ok((0..s.layers.len()).collect()),
    }
}

/// A file-name-safe form of a layer name: letters, digits, `-` and `_`; others become `_`,
/// runs collapse, at most 48 characters.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' {
            c
        } else {
            '_'
        };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_end_matches('_');
    out.chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(
            slug("/layer1/layer1.0/conv1/Conv"),
            "layer1_layer1_0_conv1_Conv"
        );
        assert_eq!(slug("é"), "");
    }
}
