//! Physical lower bounds on a layer's latency (spec §6).

use crate::spatial;
use cimopt_ir::Workload;
use cimopt_target::{Operand, Target};

#[derive(Clone, Debug, PartialEq)]
pub struct LowerBound {
    /// Fewest activations over the spatial candidates × t_MAC.
    pub compute_cycles: f64,
    /// Cycles to write every weight into the macros once, when that cannot overlap compute
    /// (no ping-pong macro), at the fastest bandwidth a weight can arrive with.
    pub weight_load_cycles: f64,
    /// Cycles to read each operand from DRAM once.
    pub dram_cycles: [f64; 3],
    /// `max(compute + weight load, max DRAM)`.
    pub cycles: f64,
}

pub fn lower_bound(t: &Target, w: &Workload) -> LowerBound {
    let min_activations = spatial::enumerate(t, w)
        .iter()
        .map(|s| spatial::trips(w, s).0.iter().product::<u64>())
        .min()
        .unwrap_or_else(|| w.macs());
    let compute_cycles = (min_activations * t.t_mac()) as f64;
    let weight_bits = (w.weight_count() * t.precision(Operand::W, false)) as f64;
    let fastest_w = t
        .levels_of(Operand::W)
        .into_iter()
        .filter(|&l| l != t.macro_level())
        .map(|l| t.levels[l].read_bw)
        .max()
        .unwrap_or(1);
    let weight_load_cycles = if t.macro_.ping_pong {
        0.0
    } else {
        weight_bits / fastest_w as f64
    };
    let dram_cycles = Operand::ALL
        .map(|o| (w.operand_size(o) * t.precision(o, false)) as f64 / t.levels[0].read_bw as f64);
    let cycles =
        (compute_cycles + weight_load_cycles).max(dram_cycles.iter().cloned().fold(0.0, f64::max));
    LowerBound {
        compute_cycles,
        weight_load_cycles,
        dram_cycles,
        cycles,
    }
}
