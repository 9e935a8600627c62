//! The library's errors as the Python exceptions of `cimopt._errors`, with the command's
//! messages.
//!
//! Work that runs detached from the interpreter returns a [`Failure`] (plain Rust data); it
//! becomes a Python exception once the thread is attached again.

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyType;
use std::ffi::CString;

/// Which exception class a failure raises (`cimopt.<Kind>Error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `cimopt.Error`: anything without a kind of its own (writing a file, reading one).
    Base,
    /// `cimopt.ModelError`: the ONNX model cannot be read or lowered.
    Model,
    /// `cimopt.TargetError`: the target (preset, file or override) is not valid.
    Target,
    /// `cimopt.UnmappableError`: no mapping of a layer fits the target.
    Unmappable,
    /// `cimopt.ScheduleError`: a schedule cannot be read, or is not valid on its target.
    Schedule,
    /// `cimopt.OptionsError` (also a `ValueError`): an option value out of range.
    Options,
    /// `KeyboardInterrupt`: the compile was stopped (Ctrl-C) and returned nothing.
    Interrupted,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::Base => "Error",
            Kind::Model => "ModelError",
            Kind::Target => "TargetError",
            Kind::Unmappable => "UnmappableError",
            Kind::Schedule => "ScheduleError",
            Kind::Options => "OptionsError",
            Kind::Interrupted => "KeyboardInterrupt",
        }
    }
}

/// An error on its way to Python.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    /// Every violation of an invalid schedule, one line each (`ScheduleError.violations`).
    pub violations: Vec<String>,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            violations: Vec::new(),
        }
    }

    pub fn into_py(self, py: Python<'_>) -> PyErr {
        if self.kind == Kind::Interrupted {
            return PyKeyboardInterrupt::new_err(self.message);
        }
        let class = match class(py, self.kind.class_name()) {
            Ok(c) => c,
            Err(e) => {
                return PyRuntimeError::new_err(format!(
                    "{} (and the cimopt exception classes cannot be loaded: {e})",
                    self.message
                ));
            }
        };
        let err = PyErr::from_type(class, self.message);
        if self.kind == Kind::Schedule
            && let Err(e) = err.value(py).setattr("violations", self.violations)
        {
            return e;
        }
        err
    }
}

/// A class of `cimopt._errors` (where the exceptions and warnings are Python classes, so that
/// they can be subclassed and documented as any other).
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    py.import("cimopt._errors")
        .and_then(|m| m.getattr(name))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from))
}

/// Issues each message as a Python warning of `category`, as the command prints `warning:
/// ...` lines. (A filter that turns warnings into errors raises the first.)
pub fn warn(py: Python<'_>, category: &Bound<'_, PyType>, messages: &[String]) -> PyResult<()> {
    for m in messages {
        let text = CString::new(m.replace('\0', "\\0")).unwrap_or_default();
        PyErr::warn(py, category.as_any(), &text, 1)?;
    }
    Ok(())
}

/// [`warn`] with a warning class of `cimopt._errors` (`ExportWarning`).
pub fn warn_as(py: Python<'_>, class_name: &str, messages: &[String]) -> PyResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    warn(py, &class(py, class_name)?, messages)
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        Python::attach(|py| f.into_py(py))
    }
}

pub type Outcome<T> = Result<T, Failure>;

/// An option given by name (`mapper="mip"`, `format="timeloop"`), parsed as the library
/// parses it; an unknown name is an `OptionsError` with the library's message.
pub fn option<T: std::str::FromStr<Err = String>>(name: &str) -> Outcome<T> {
    name.parse().map_err(|m| Failure::new(Kind::Options, m))
}

/// The kind of a pipeline error (its message is the error's own).
pub fn pipeline_kind(e: &cimopt_pipeline::Error) -> Kind {
    use cimopt_pipeline::Error as E;
    match e {
        E::Options(_) => Kind::Options,
        E::Unmappable { .. } | E::NothingMapped { .. } => Kind::Unmappable,
        E::Interrupted | E::SweepInterrupted { .. } => Kind::Interrupted,
        E::Simulation { .. } | E::Mismatch(_) => Kind::Schedule,
        E::Target { .. } => Kind::Target,
        E::Variant { error, .. } => pipeline_kind(error),
        E::Output(_) | E::Read { .. } | E::NoDocuments { .. } => Kind::Base,
        E::Export(e) => match e {
            cimopt_export::ExportError::NoSuchLayer { .. } => Kind::Options,
            // A schedule that does not say itself in the other tool's terms, or documents
            // that do not make a schedule.
            cimopt_export::ExportError::Layer { .. }
            | cimopt_export::ExportError::Import { .. }
            | cimopt_export::ExportError::Sim { .. } => Kind::Schedule,
        },
        // The model's tensors do not fit the target: the layers cannot run as planned.
        E::NoRoom { .. } => Kind::Unmappable,
    }
}

pub fn pipeline(e: cimopt_pipeline::Error) -> Failure {
    let kind = pipeline_kind(&e);
    let message = match e {
        cimopt_pipeline::Error::Output(o) => return output(o),
        // The command adds the same hint, naming its flag.
        cimopt_pipeline::Error::Unmappable { .. } => format!(
            "{e}\n(use keep_going=True to map the other layers and list this one as skipped)"
        ),
        e => e.to_string(),
    };
    Failure::new(kind, message)
}

/// An output that was not written, as the command says it but naming the keyword
/// (`force=True`) where the command names its flag.
pub fn output(e: cimopt_pipeline::output::OutputError) -> Failure {
    use cimopt_pipeline::output::OutputError;
    let message = match e {
        OutputError::ReadOnly { path } => format!(
            "refusing to replace {}: it is read-only (pass force=True to replace it anyway)",
            path.display()
        ),
        e => e.to_string(),
    };
    Failure::new(Kind::Base, message)
}

/// A schedule that does not read or check, as the command says it: `{what} is not a valid
/// schedule: {reason}`, with every violation listed.
pub fn schedule(what: &str, e: cimopt_schedule::ScheduleError) -> Failure {
    let violations = match &e {
        cimopt_schedule::ScheduleError::InvalidMappings(v) => {
            v.iter().map(|x| x.to_string()).collect()
        }
        _ => Vec::new(),
    };
    Failure {
        kind: Kind::Schedule,
        message: format!("{what} is not a valid schedule: {e}"),
        violations,
    }
}

/// A target that does not load: `target `{spec}`: {reason}`.
pub fn target(spec: &str, e: cimopt_target::TargetError) -> Failure {
    Failure::new(Kind::Target, format!("target `{spec}`: {e}"))
}
