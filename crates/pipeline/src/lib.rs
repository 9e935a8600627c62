//! The cimopt pipeline as a library: everything the `cimopt` command does, with typed options
//! instead of flags, returning typed results instead of printing.
//!
//! ```text
//! cimopt_onnx::load ─▶ Model ─┐
//! cimopt_target::load ─▶ Target ─┴─▶ compile(options) ─▶ Schedule ─▶ simulate / check / report
//! ```
//!
//! - [`compile`] maps every layer of a lowered model onto a target ([`CompileOptions`] say
//!   with which [`Mapper`], for which [`ModelObjective`], through which solve cache) and
//!   assembles the [`Schedule`](cimopt_schedule::Schedule); [`Observer`] hears about each
//!   layer and may interrupt.
//! - [`simulate`] executes a schedule's layers with the simulator; [`check`] lists what is
//!   wrong with one; [`report`] renders one as a table, JSON, CSV or HTML; [`compare`] sets two
//!   side by side; [`sweep`] compiles target variants; [`inspect`] describes a lowered model;
//!   [`export`] writes a schedule in other tools' terms (Timeloop, MIREDO, Perfetto, a Gantt
//!   chart) and imports Timeloop documents back.
//! - [`output::write_atomic`] is how every output file is written.
//!
//! The command-line crate maps flags onto these types and decides where output goes; the
//! Python package calls the same functions. This crate reads no environment variable and
//! prints nothing: the solve cache's folder, the progress display and the interrupt flag are
//! the caller's.

pub mod cache;
pub mod check;
pub mod compare;
pub mod compile;
pub mod export;
pub mod inspect;
pub mod model_bound;
pub mod options;
pub mod output;
pub mod plan;
mod plan_report;
pub mod precision;
pub mod report;
pub mod residency;
pub mod simulate;
pub mod solve;
pub mod sweep;

pub use compile::{LayerNote, Observer, Stage, compile};
pub use options::{CERTIFY_SKELETONS, CompileOptions, Mapper, ModelObjective};
pub use precision::PrecisionSource;

/// Why a pipeline step failed. The messages are the command's; each names the layer, file or
/// option concerned, and holds the whole story (no error here has a `source()` to print
/// after it).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An option value out of range (`--gap 2`).
    #[error("{0}")]
    Options(String),
    /// No mapping of the layer fits the target (or the mapper refused it).
    #[error("layer {index} `{}` ({op}): {reason}", cimopt_ir::display_name(name))]
    Unmappable {
        index: usize,
        name: String,
        op: String,
        reason: String,
    },
    /// Every layer was skipped (`keep_going`): there is no schedule to write.
    #[error("no layer could be mapped ({skipped} skipped): nothing to schedule")]
    NothingMapped { skipped: usize },
    /// The memory plan cannot place what must live in a level at a step.
    #[error(
        "the memory plan has no room for {what} ({bits} bit) in level `{level}` at step {step} ({node}): the tensors live then do not fit"
    )]
    NoRoom {
        level: String,
        step: usize,
        node: String,
        bits: u64,
        what: String,
    },
    /// The caller's observer asked to stop.
    #[error("interrupted: nothing was written")]
    Interrupted,
    /// A layer of a schedule could not be simulated.
    #[error(
        "layer {index} `{}` cannot be simulated: {reason}",
        cimopt_ir::display_name(name)
    )]
    Simulation {
        index: usize,
        name: String,
        reason: String,
    },
    /// Two schedules, or a schedule and a request, do not fit together.
    #[error("{0}")]
    Mismatch(String),
    /// A target variant of a sweep could not be built.
    #[error("variant {variant}: {error}")]
    Target {
        variant: String,
        error: cimopt_target::TargetError,
    },
    /// A variant of a sweep failed to compile.
    #[error("variant {variant}: {error}")]
    Variant { variant: String, error: Box<Error> },
    /// The observer stopped a sweep between variants.
    #[error("interrupted after {done} of {total} variants: the CSV and HTML were not written")]
    SweepInterrupted { done: usize, total: usize },
    /// Writing an output file failed.
    #[error(transparent)]
    Output(#[from] output::OutputError),
    /// A schedule did not export, or documents did not import (`export`).
    #[error(transparent)]
    Export(#[from] cimopt_export::ExportError),
    /// A file or folder to read (documents to import) could not be read.
    #[error("cannot read {what}: {error}")]
    Read { what: String, error: std::io::Error },
    /// A folder of documents to import holds none.
    #[error("the folder {} has no .yaml file", dir.display())]
    NoDocuments { dir: std::path::PathBuf },
}

pub type Result<T> = std::result::Result<T, Error>;
