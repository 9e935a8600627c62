//! The search space of one layer, and what can be proven about all of it.
//!
//! Both the heuristic mappers (`cimopt-mappers`) and the optimiser (`cimopt-optimiser`) search
//! the same space, built from the same pieces, and reports compare schedules with the same
//! bounds:
//!
//! - [`spatial`]: every spatial unrolling of a layer onto cores, macro rows and columns;
//! - [`templates`]: the stationarity orders a loop list starts from;
//! - [`moves`]: the local moves (split, merge, swap) that walk from one loop list to another;
//! - [`Skeleton`]: a mapping without its per-operand levels and double buffers;
//! - [`random`]: valid mappings drawn from the whole space, seeded, to test what the searches
//!   rely on (the cost model, the bounds) where no search looks;
//! - [`whole`]: every skeleton of the whole space (every split and order of every spatial
//!   candidate), for brute force on small layers;
//! - [`bounds`]: lower bounds on latency and energy per spatial candidate, per layer and per
//!   model, valid for every loop order, split, level and double-buffer choice.

pub mod bounds;
pub mod moves;
pub mod random;
pub mod skeleton;
pub mod spatial;
pub mod templates;
pub mod whole;

pub use moves::{loop_moves, loop_reorders, loop_splits};
pub use skeleton::Skeleton;
pub use templates::{INPUT_STATIONARY, OUTPUT_STATIONARY, WEIGHT_STATIONARY, loops_in_order};
