//! Why a document could not be read.

/// An error reading a schedule. Each is one paragraph; `Invalid` names the JSON path of the
/// offending value (`layers[3].mapping.temporal[2].level.I`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
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
