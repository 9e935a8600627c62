//! Why a document could not be read.

use cimopt_ir::Violation;
use std::fmt;

/// One violation of one layer's mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerViolation {
    pub index: usize,
    pub name: String,
    pub violation: Violation,
}

impl fmt::Display for LayerViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "layer {} `{}`: {}",
            self.index,
            cimopt_ir::display_name(&self.name),
            self.violation
        )
    }
}

fn list(v: &[LayerViolation]) -> String {
    let lines: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    lines.join("\n")
}

/// An error reading a schedule. Each is one paragraph; `Invalid` names the JSON path of the
/// offending value (`layers[3].mapping.temporal[2].level.I`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// The document reads, but some layer's mapping is not valid on the target (or its
    /// workload is not a layer): every violation, in layer order.
    #[error("{} violation(s):\n{}", .0.len(), list(.0))]
    InvalidMappings(Vec<LayerViolation>),
    /// The mappings are valid but the memory plan is not: every violation.
    #[error("memory_plan: {} violation(s):\n{}", .0.len(), .0.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"))]
    InvalidPlan(Vec<crate::plan::PlanViolation>),
    /// The text is not JSON.
    #[error("the schedule is not valid JSON: {0}")]
    Syntax(String),
    /// `schema` is missing or names another format.
    #[error("schema: {0}")]
    NotASchedule(String),
    /// A major version this reader does not understand.
    #[error(
        "schema.version: the document is version {found} of the cimopt-schedule format, but this reader understands major version 1 only (1.x documents of any minor version); read it with a tool that supports version {major}.x"
    )]
    UnsupportedVersion { found: String, major: u64 },
    /// A field is missing, has the wrong type, or does not resolve (a level, axis, dim or
    /// layer id that does not exist).
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

impl ScheduleError {
    pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ScheduleError::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
