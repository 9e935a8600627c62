//! What one operand placement contributes to the cost model: its memory energy, its capacity
//! use at shared levels, and its transfers along the executed nest
//! ([`cimopt_cost::OperandTiming`], the terms the latency recursion is stated in). Every
//! number comes from the cost model's own nest built with the other operands left in the
//! outermost level, so the MILP prices exactly what the cost model charges.

use crate::placement::{Placement, all_outermost, mapping_of};
use cimopt_cost::{Nest, OperandTiming, operand_energy_nj};
use cimopt_ir::Workload;
use cimopt_space::Skeleton;
use cimopt_target::{Operand, Target};

#[derive(Clone, Debug)]
pub struct Profile {
    /// Read and write energy of this operand over all levels, bootstrap included, nJ.
    pub energy_nj: f64,
    /// Bits this operand occupies at each level (double buffering counted).
    pub bits: Vec<u64>,
    /// The operand's transfers along the nest.
    pub timing: OperandTiming,
}

impl Profile {
    /// The largest port time of a stream at each position, outer to inner.
    pub fn ports_by_position(&self) -> Vec<(usize, f64)> {
        let mut out: Vec<(usize, f64)> = Vec::new();
        for p in &self.timing.ports {
            match out.iter_mut().find(|q| q.0 == p.position) {
                Some(q) => q.1 = q.1.max(p.cycles),
                None => out.push((p.position, p.cycles)),
            }
        }
        out
    }
}

/// Builds the profile of `p` for operand `o`, whose data takes `bits` at each level (as
/// [`crate::placement::placements`] found them).
pub fn profile(
    t: &Target,
    w: &Workload,
    sk: &Skeleton,
    o: Operand,
    p: &Placement,
    bits: Vec<u64>,
) -> Profile {
    let rest = all_outermost(sk);
    let mut ps = [&rest[0], &rest[1], &rest[2]];
    ps[o.index()] = p;
    let m = mapping_of(sk, ps);
    let nest = Nest::of_operand(t, w, &m, o);
    Profile {
        energy_nj: operand_energy_nj(t, &nest, o),
        bits,
        timing: OperandTiming::of(t, &nest, o),
    }
}
