//! The internal representation shared by every stage: workloads, layers and mappings.
//!
//! These types are plain Rust and know nothing of JSON; `cimopt-schedule` converts them at
//! the boundary.

pub mod layer;
pub mod workload;

pub use layer::Layer;
pub use workload::{OpKind, WeightKind, Workload};
