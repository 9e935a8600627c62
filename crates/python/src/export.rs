//! `cimopt.export()`, `cimopt.Export` and `cimopt.import_schedule()`: `cimopt export` and
//! `cimopt import` over the same library functions (`cimopt_pipeline::export`), so that the
//! documents, the warnings and notes, the output rules and the messages are the command's.

use crate::errors::{self, Failure, Kind};
use crate::schedule::{Schedule, ScheduleArg};
use cimopt_pipeline::export::{self as lib, Documents, ExportFormat, ExportOptions, ImportFormat};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::path::PathBuf;

/// A schedule in another tool's terms: the files `cimopt export` writes, with what it would
/// tell the user. `str()` (and `text`) is what the command prints without `-o`.
#[pyclass(frozen, module = "cimopt")]
pub struct Export {
    export: lib::Export,
    /// The schedule file exported, which `write` never replaces.
    source: Option<PathBuf>,
}

#[pymethods]
impl Export {
    /// `timeloop`, `miredo`, `perfetto` or `gantt`.
    #[getter]
    fn format(&self) -> &'static str {
        self.export.format.name()
    }

    /// The files by name (the names `write` gives them in a folder), in order: one, or one
    /// Timeloop document per layer when every layer was exported.
    #[getter]
    fn files<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for f in &self.export.files {
            d.set_item(&f.name, &f.text)?;
        }
        Ok(d)
    }

    /// Per file, whether it says the schedule exactly in the other tool's terms (`warnings`
    /// say what is not). A Timeloop document that is not exact does not import.
    #[getter]
    fn exact<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for f in &self.export.files {
            d.set_item(&f.name, f.exact)?;
        }
        Ok(d)
    }

    /// Every file as one text, what the command prints to standard output: Timeloop
    /// documents one after the other as a YAML stream, the other formats their one file.
    #[getter]
    fn text(&self) -> String {
        self.export.text()
    }

    /// What does not translate exactly (the command's `warning:` lines); each was also
    /// issued as a `cimopt.ExportWarning` when the export was made.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.export.warnings.clone()
    }

    /// What a user should know, exact or not (the command's `note:` lines: a trace
    /// summarised after `max_activations`, how many Timeloop documents are exact).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.export.notes.clone()
    }

    /// Writes the files as `cimopt export -o PATH` does and returns the paths written. One
    /// file goes to `path`, or into it under its own name when `path` is a folder; several
    /// (Timeloop, every layer) go into the folder `path`, created when missing. Each file is
    /// replaced atomically (links followed); never the schedule file being exported (the one
    /// given to `export`, or the one a `Schedule` was loaded from), nor a read-only file
    /// unless `force`.
    #[pyo3(signature = (path, *, force = false))]
    fn write(&self, py: Python<'_>, path: PathBuf, force: bool) -> PyResult<Vec<PathBuf>> {
        let policy = lib::export_policy(self.source.as_deref(), force);
        let written = py.detach(|| self.export.write(&path, &policy).map_err(errors::pipeline))?;
        Ok(match written {
            lib::Written::File(p) => vec![p],
            lib::Written::Folder { dir, .. } => self
                .export
                .files
                .iter()
                .map(|f| dir.join(&f.name))
                .collect(),
        })
    }

    fn __str__(&self) -> String {
        self.export.text()
    }

    fn __repr__(&self) -> String {
        let e = &self.export;
        format!(
            "Export({}, {} file(s), {} warning(s))",
            e.format.name(),
            e.files.len(),
            e.warnings.len()
        )
    }
}

/// A schedule (a `Schedule` or a schedule file) in another tool's terms, as `cimopt export`
/// writes it (`docs/exports.md`): `format` is `timeloop` (a Timeloop v4 document per
/// layer), `miredo` (the MIREDO reference's loop nests, JSON), `perfetto` (one layer's
/// simulated timeline as Chrome trace events) or `gantt` (the same as an SVG chart).
/// `layer` exports only that layer (the timeline formats trace layer 0 when not given);
/// `max_activations` is how many activations a timeline traces in full before summarising.
/// With `output`, the files are also written there as `Export.write(output, force=force)`
/// does (`-o`, `--force`). What is not exact is issued as `cimopt.ExportWarning`s.
#[pyfunction]
#[pyo3(signature = (
    schedule, format, *, layer = None, max_activations = 2000, output = None, force = false
))]
pub fn export(
    py: Python<'_>,
    schedule: &Bound<'_, PyAny>,
    format: &str,
    layer: Option<usize>,
    max_activations: usize,
    output: Option<PathBuf>,
    force: bool,
) -> PyResult<Export> {
    let format: ExportFormat = errors::option(format)?;
    let (s, source) = ScheduleArg::read(py, schedule)?;
    let options = ExportOptions {
        format,
        layer,
        max_activations,
    };
    let export = py.detach(|| lib::export(&s, &options).map_err(errors::pipeline))?;
    errors::warn_as(py, "ExportWarning", &export.warnings)?;
    let export = Export { export, source };
    if let Some(path) = output {
        export.write(py, path, force)?;
    }
    Ok(export)
}

// The signature says the command's default as a literal, so that `help()` and the stubs show
// the number.
const _: () = assert!(lib::DEFAULT_MAX_ACTIVATIONS == 2000);

/// A file or folder argument, if `obj` is one. A str that holds a line break is a document's
/// text given where a path belongs (`import_schedule(export.text, ...)`), which is said rather
/// than looked for as a file.
fn path(obj: &Bound<'_, PyAny>) -> PyResult<Option<PathBuf>> {
    if let Ok(text) = obj.cast::<PyString>()
        && text.to_cow()?.contains('\n')
    {
        return Err(PyTypeError::new_err(
            "documents: a str names a file or folder; give documents' texts as {name: text}",
        ));
    }
    Ok(obj.extract::<PathBuf>().ok())
}

/// The `documents=` argument of `import_schedule`: texts given, or files to read.
enum DocumentsArg {
    Texts(Vec<(String, String)>),
    Files(Vec<PathBuf>),
}

impl DocumentsArg {
    fn extract(obj: &Bound<'_, PyAny>) -> PyResult<DocumentsArg> {
        let expected = || {
            PyTypeError::new_err(format!(
                "documents: expected a file or folder, a list of them, a dict of name: text or \
                 a cimopt.Export, not {}",
                obj.get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        };
        if let Ok(e) = obj.cast::<Export>() {
            let files = e.get().export.files.iter();
            return Ok(DocumentsArg::Texts(
                files.map(|f| (f.name.clone(), f.text.clone())).collect(),
            ));
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            return d
                .iter()
                .map(
                    |(k, v)| match (k.extract::<String>(), v.extract::<String>()) {
                        (Ok(name), Ok(text)) => Ok((name, text)),
                        _ => Err(PyTypeError::new_err(
                            "documents: a dict maps a name (str) to a document's text (str)",
                        )),
                    },
                )
                .collect::<PyResult<_>>()
                .map(DocumentsArg::Texts);
        }
        if let Some(p) = path(obj)? {
            return Ok(DocumentsArg::Files(vec![p]));
        }
        obj.try_iter()
            .map_err(|_| expected())?
            .map(|item| path(&item?)?.ok_or_else(expected))
            .collect::<PyResult<_>>()
            .map(DocumentsArg::Files)
    }

    fn read(self) -> cimopt_pipeline::Result<Documents> {
        match self {
            DocumentsArg::Texts(files) => Ok(Documents {
                paths: Vec::new(),
                files,
            }),
            DocumentsArg::Files(paths) => Documents::read(&paths),
        }
    }
}

/// Reads documents another tool's format holds back into a `Schedule`, as `cimopt import`
/// does: `format` is `timeloop` (documents `export(..., "timeloop")` wrote, perhaps edited
/// in Timeloop's terms). `documents` is a file or folder (its `*.yaml` files in name order),
/// a list of them, a dict of name → document text, or an `Export`. The schedule is checked
/// like every schedule. With `output`, it is also written there atomically, never over a
/// document being imported, nor a read-only file unless `force` (`-o`, `--force`).
#[pyfunction]
#[pyo3(signature = (documents, format, *, output = None, force = false))]
pub fn import_schedule(
    py: Python<'_>,
    documents: &Bound<'_, PyAny>,
    format: &str,
    output: Option<PathBuf>,
    force: bool,
) -> PyResult<Schedule> {
    let format: ImportFormat = errors::option(format)?;
    let documents = DocumentsArg::extract(documents)?;
    let schedule = py.detach(|| -> Result<_, Failure> {
        let docs = documents.read().map_err(errors::pipeline)?;
        let s = lib::import(format, &docs.files).map_err(errors::pipeline)?;
        if let Some(out) = &output {
            let json = cimopt_schedule::to_json(&s);
            cimopt_pipeline::output::write_output(out, json.as_bytes(), &docs.output_policy(force))
                .map_err(errors::output)?;
        }
        Ok(s)
    })?;
    Ok(Schedule {
        schedule,
        source: None,
    })
}
