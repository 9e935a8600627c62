//! The published schedule format, `cimopt-schedule` version 1.3.0: what `cimopt compile`
//! writes and what code generators and simulators read.
//!
//! This crate is the one place where the internal representation meets JSON. The IR types
//! ([`cimopt_ir::Layer`], [`Mapping`], ...) know nothing of serde; here they are converted to
//! and from private serde DTOs whose field names and order are the contract documented in
//! `docs/schedule-format.md` and checked by the JSON Schema [`SCHEMA`].
//!
//! ```text
//! Schedule ──to_json──▶ JSON text ──from_json(text, target override)──▶ Schedule
//! ```
//!
//! - Indices become names on the way out (levels and spatial axes are named as in the target)
//!   and names become indices on the way in, with an error naming the JSON path for every name
//!   that does not resolve.
//! - Fields derived from the mapping (`psum_levels`, `resident_bits`) are computed on write
//!   with [`cimopt_ir::analysis`] and ignored on read.
//! - `to_json` is deterministic, and `to_json(&from_json(&to_json(s), None)?)` is byte-equal
//!   to `to_json(s)`.
//! - What `from_json` returns is valid: every layer's mapping passes [`cimopt_ir::check()`]
//!   on the schedule's target (or the override), so that every reader of a schedule
//!   (`check`, `simulate`, `report`, ...) works on checked data; a document that reads but does
//!   not check gives [`ScheduleError::InvalidMappings`] with every violation.

mod breakdown;
mod dto;
mod error;
mod hash;
pub mod plan;
mod read;
mod validate;
mod write;

pub use breakdown::{Breakdown, LatencyParts, LevelParts, PredictionError};
pub use error::{LayerViolation, ScheduleError};
pub use hash::{sha256_hex, target_sha256};
pub use plan::{MemoryPlan, PlanViolation, check_plan};
pub use read::{embedded_target, from_json, unknown_fields};
#[cfg(feature = "validate")]
pub use validate::validate_against_schema;
pub use write::to_json;

use cimopt_ir::{Layer, Mapping};
use cimopt_target::Target;
use std::collections::BTreeMap;

/// `schema.name` of every document.
pub const FORMAT_NAME: &str = "cimopt-schedule";
/// The version this crate writes. It reads every 1.x version (unknown fields are ignored).
pub const FORMAT_VERSION: &str = "1.3.0";
/// The JSON Schema (draft 2020-12) of version [`FORMAT_VERSION`].
pub const SCHEMA: &str = include_str!("../../../schemas/cimopt-schedule-1.3.0.schema.json");

/// A whole schedule: one mapping per CIM layer of a model on one target.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub producer: Producer,
    pub inputs: Inputs,
    pub layers: Vec<ScheduledLayer>,
    pub model: ModelSummary,
    /// Where every tensor and buffer lives (format 1.1.0); `None` in 1.0.0 documents.
    pub plan: Option<plan::MemoryPlan>,
}

/// Who wrote the schedule and how.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Producer {
    /// `cimopt`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// The mapper used for the model (a layer may name another one in its [`SolveInfo`]).
    pub mapper: String,
    /// `latency`, `energy` or `edp`.
    pub objective: String,
    /// The MILP solver, when the mapper used one.
    pub solver: Option<String>,
    pub solver_options: BTreeMap<String, String>,
}

/// What the schedule was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Inputs {
    /// The model file as given to the compiler.
    pub model_file: String,
    /// Lowercase hex SHA-256 of the model file's bytes (see [`sha256_hex`]).
    pub model_sha256: String,
    /// The target as named to the compiler (a preset name or a file path).
    pub target_name: String,
    /// [`target_sha256`] of [`Inputs::target`]. [`from_json`] fills it; [`to_json`] ignores it
    /// and writes the hash of the target it embeds.
    pub target_sha256: String,
    pub target: Target,
}

/// One CIM layer and its mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledLayer {
    pub layer: Layer,
    /// The id of an earlier layer with the same workload whose solution was reused. Written as
    /// `same_as`; on read, `layer.dedup_group` is set from it.
    pub same_as: Option<usize>,
    pub mapping: Mapping,
    /// The mapper's cost-model prediction.
    pub predicted: Option<Metrics>,
    /// The simulator's measurement.
    pub simulated: Option<Metrics>,
    pub solve: SolveInfo,
}

/// Latency, energy and their product for one layer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub latency_cycles: f64,
    pub energy_nj: f64,
    /// cycle·nJ.
    pub edp: f64,
    /// The latency and energy by part.
    pub breakdown: Breakdown,
}

/// How a layer's mapping was found: the solve statistics of its mapper.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolveInfo {
    pub mapper: String,
    /// e.g. `optimal`, `feasible`, `time_limit`, `heuristic`, `reused`, `given`.
    pub status: String,
    pub objective: Option<f64>,
    /// A proven lower bound on the objective of every mapping of the layer.
    pub best_bound: Option<f64>,
    /// Relative gap between objective and bound.
    pub gap: Option<f64>,
    /// A proven lower bound over the space the mapper searched (1.3.0); at least `best_bound`.
    pub space_bound: Option<f64>,
    /// Relative gap between objective and `space_bound`.
    pub space_gap: Option<f64>,
    pub wall_s: Option<f64>,
    pub candidates: Option<Candidates>,
    pub warm_start: Option<bool>,
    pub cache_hit: Option<bool>,
    /// Why the search stopped (`gap_reached`, `node_budget`, `round_budget`,
    /// `candidate_budget`, `placement_limit`, `time_limit`, `unsearched_skeletons`); empty for heuristics and reused
    /// layers.
    pub stop_reasons: Vec<String>,
}

/// Spatial candidates of a search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Candidates {
    pub enumerated: u64,
    pub pruned_by_bound: u64,
    pub solved: u64,
}

/// Model totals (reference convention: latency and energy are sums over layers, EDP is their
/// product) and what the compiler left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelSummary {
    pub latency_cycles: f64,
    pub energy_nj: f64,
    pub edp: f64,
    /// Σ of the per-layer physical lower bounds on latency.
    pub lower_bound_cycles: f64,
    pub simulated_latency_cycles: Option<f64>,
    pub simulated_energy_nj: Option<f64>,
    /// Nodes the front end could not lower (and that are not plain non-CIM ops).
    pub skipped_nodes: Vec<SkippedNode>,
    /// Nodes that run outside the CIM macros (pooling, element-wise, ...).
    pub non_cim_ops: Vec<NonCimOp>,
}

/// A compute node the schedule does not map (compiled with `--keep-going`): its work is not in
/// the totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkippedNode {
    pub name: String,
    pub op: String,
    pub reason: String,
    /// Its multiply-accumulates, when known.
    pub macs: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NonCimOp {
    pub name: String,
    pub op: String,
    pub output_elements: u64,
}
