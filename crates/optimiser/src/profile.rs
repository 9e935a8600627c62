//! What one operand placement contributes to the cost model: its memory energy, its capacity
//! use at shared levels, and its transfers along the executed nest. Every number comes from
//! the cost model's own nest ([`cimopt_cost::Nest`]) built with the other operands left in the
//! outermost level, so the MILP prices exactly what the cost model charges.

use crate::placement::{Placement, mapping_of, outermost};
use cimopt_cost::{Nest, bootstrap_cycles, energy};
use cimopt_ir::Workload;
use cimopt_ir::analysis::resident_bits;
use cimopt_space::Skeleton;
use cimopt_target::{Operand, Target};

/// One step of the executed nest as one operand sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// `2j + 1` for the skeleton's loop `j`; `2j` for a reuse anchor (a factor-1 step the cost
    /// model inserts) just outside loop `j`.
    pub slot: usize,
    pub factor: u64,
    /// Transfer cycles of one firing (0 when the step does not move this operand).
    pub cycles: f64,
    /// Whether the step's child level double-buffers the operand.
    pub double: bool,
    /// Whether the step feeds the MAC array directly.
    pub to_compute: bool,
}

#[derive(Clone, Debug)]
pub struct Profile {
    /// Read and write energy of this operand over all levels, bootstrap included, nJ.
    pub energy_nj: f64,
    /// Bits this operand occupies at each level (double buffering counted).
    pub bits: Vec<u64>,
    /// Cycles to copy the operand whole from DRAM before the nest starts.
    pub boot: f64,
    /// Sum of one firing of every transfer: the pipeline fill (and, for O, the drain).
    pub fill: f64,
    pub steps: Vec<StepInfo>,
    /// Stream port bounds by slot: for each double-buffered transfer, what must precede its
    /// first and follow... (I, W: bootstrap + transfers above + all its transfers back to back,
    /// to which the body inside and the output drain add; O: the whole bound).
    pub ports: Vec<(usize, f64)>,
}

/// Builds the profile of `p` for operand `o`.
pub fn profile(t: &Target, w: &Workload, sk: &Skeleton, o: Operand, p: &Placement) -> Profile {
    let rest = outermost(sk);
    let mut ps = [&rest, &rest, &rest];
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
    let mut steps = Vec::with_capacity(nest.steps.len());
    let mut loop_index = 0usize;
    for (i, s) in nest.steps.iter().enumerate() {
        let slot = if s.anchor_for.is_some() {
            2 * loop_index
        } else {
            loop_index += 1;
            2 * loop_index - 1
        };
        let tr = &nest.transfers[i][o.index()];
        steps.push(StepInfo {
            slot,
            factor: s.factor,
            cycles: tr.cycles as f64,
            double: tr.double,
            to_compute: tr.to == t.compute_level(),
        });
    }
    let boot = bootstrap_cycles(t, &nest, o);
    let fill: f64 = steps.iter().map(|s| s.cycles).sum();
    let k = if o == Operand::O { 2.0 } else { 1.0 };
    let mut ports: Vec<(usize, f64)> = Vec::new();
    let mut above = 0.0;
    let mut entries = 1.0;
    for s in &steps {
        if s.double && s.cycles > 0.0 {
            let port = k * s.cycles * entries * s.factor as f64;
            let bound = if o == Operand::O {
                boot + 2.0 * above + port + boot
            } else {
                boot + above + port
            };
            match ports.iter_mut().find(|p| p.0 == s.slot) {
                Some(p) => p.1 = p.1.max(bound),
                None => ports.push((s.slot, bound)),
            }
        }
        above += s.cycles;
        entries *= s.factor as f64;
    }
    Profile {
        energy_nj,
        bits,
        boot,
        fill,
        steps,
        ports,
    }
}
