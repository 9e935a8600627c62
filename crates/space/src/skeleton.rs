//! A skeleton: everything of a mapping except where each operand keeps each loop and which
//! levels double-buffer.

use cimopt_ir::{Mapping, SpatialFactor};
use cimopt_target::Dim;

/// A mapping's spatial unrolling, its temporal loops (order and trip counts) and the padded
/// extents they cover; the mappers and the optimiser choose the rest (levels per operand,
/// double buffers) for a skeleton.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Skeleton {
    pub spatial: Vec<SpatialFactor>,
    /// Outer to inner: (dim, trip count).
    pub loops: Vec<(Dim, u64)>,
    pub padded: [u64; 8],
    /// Where each operand's tensor lives ([`Mapping::home`]): the layer's context, not a
    /// choice of the search.
    pub home: [usize; 3],
}

impl Skeleton {
    /// The skeleton of a mapping.
    pub fn of(m: &Mapping) -> Skeleton {
        Skeleton {
            spatial: m.spatial.clone(),
            loops: m.temporal.iter().map(|l| (l.dim, l.factor)).collect(),
            padded: m.padded_dims,
            home: m.home,
        }
    }

    /// Macro activations: the product of the trip counts.
    pub fn activations(&self) -> u64 {
        self.loops.iter().map(|l| l.1).product()
    }
}
