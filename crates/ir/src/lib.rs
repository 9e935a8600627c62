//! The internal representation shared by every stage: workloads, layers and mappings, plus the
//! quantities derived from a mapping that all stages must agree on (resident data, partial-sum
//! precision, validity).
//!
//! These types are plain Rust and know nothing of JSON; `cimopt-schedule` converts them at
//! the boundary.

pub mod analysis;
pub mod check;
pub mod layer;
pub mod mapping;
pub mod names;
pub mod workload;

pub use check::{Violation, ViolationKind, check};
pub use layer::Layer;
pub use mapping::{Mapping, SpatialFactor, TemporalLoop};
pub use names::display_name;
pub use workload::{Bits, OpKind, WeightKind, Workload};
