//! Paths from the command line, made safe to print like the names in a model.

pub use cimopt_ir::display_name;

/// A path as [`display_name`] prints names.
pub(crate) fn display_path(path: &std::path::Path) -> String {
    display_name(&path.display().to_string())
}
