//! What one operand placement contributes to the cost model: its memory energy, its capacity
//! use at shared levels, and its transfers along the executed nest
//! ([`cimopt_cost::OperandTiming`], the terms the latency recursion is stated in). Every
//! number comes from the cost model's own nest built with the other operands left in the
//! outermost level, so the MILP prices exactly what the cost model charges.

use crate::placement::{Placement, all_outermost, mapping_of};
use cimopt_cost::{Nest, OperandTiming, energy};
use cimopt_ir::Workload;
use cimopt_ir::analysis::resident_bits;
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

/// Builds the profile of `p` for operand `o`.
pub fn profile(t: &Target, w: &Workload, sk: &Skeleton, o: Operand, p: &Placement) -> Profile {
    let rest = all_outermost(sk);
    let mut ps = [&rest[0], &rest[1], &rest[2]];
    ps[o.index()] = p;
    let m = mapping_of(sk, ps);
    let nest = Nest::new(t, w, &m);
    let e = energy(t, &nest);
    let energy_nj: f64 = (0..t.num_levels())
        .map(|lv| e.read[lv][o.index()] + e.write[lv][o.index()])
        .sum();
    let bits = resident_bits(t, w, &m)
        .iter()
        .map(|b| b[o.index()])
        .collect();
    Profile {
        energy_nj,
        bits,
        timing: OperandTiming::of(t, &nest, o),
    }
}
