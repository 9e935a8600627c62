//! Physical lower bounds on a layer's latency (spec §6).

use crate::spatial;
use cimopt_ir::{SpatialFactor, Workload};
use cimopt_target::{Dim, Operand, Target};

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

/// A lower bound on the cost model's latency of every mapping with one spatial unrolling,
/// whatever its loop splits, order, levels and double buffering.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateBound {
    /// Activations × t_MAC.
    pub compute_cycles: f64,
    /// Cycles the activations must wait between each other for new inputs or outputs at the
    /// array (weights not counted).
    pub switch_cycles: f64,
    /// Weight loading into a non-ping-pong macro beyond what `switch_cycles` may hide.
    pub weight_cycles: f64,
    /// `max(compute + max(weight load, switch + weight), DRAM)`.
    pub cycles: f64,
}

/// Lower bound for the spatial factors `s` (docs/optimiser.md, "Candidate bounds").
///
/// On a non-ping-pong macro no MAC-feeding transfer is double-buffered, so in the cost model
/// every boundary between two activations waits for the operand chains of the loop that
/// advances: a loop over a dim relevant to the inputs re-sends the input tile to the array, one
/// relevant to the outputs writes the partial sum back and reads the next (twice the cycles),
/// and a register level that holds one element must first be refilled from the level above.
/// `m_I` and `m_O` are the cheapest such chains over every level an operand may feed the array
/// from. At most `A·(1 − 1/T)` boundaries belong to loops over the dims of the cheaper kind
/// (`T`: their temporal trips); every other boundary costs the dearer chain. Weight loads run in
/// the same gaps (the largest chain decides), so each weight-load boundary may hide up to the
/// dearer chain.
pub fn candidate_bound(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    lb: &LowerBound,
) -> CandidateBound {
    let (trips, _) = spatial::trips(w, s);
    let activations: u64 = trips.iter().product();
    let compute_cycles = (activations * t.t_mac()) as f64;
    let dram = lb.dram_cycles.iter().cloned().fold(0.0, f64::max);
    if t.macro_.ping_pong {
        // A ping-pong array double-buffers its feeds: no boundary has to wait.
        return CandidateBound {
            compute_cycles,
            switch_cycles: 0.0,
            weight_cycles: 0.0,
            cycles: compute_cycles.max(dram),
        };
    }
    let m_i = cheapest_feed(t, w, s, Operand::I, &trips) as f64;
    let m_o = 2.0 * cheapest_feed(t, w, s, Operand::O, &trips) as f64;
    let product = |only: Operand| -> u64 {
        Dim::ALL
            .iter()
            .filter(|d| d.relevant_to(only) && !d.relevant_to(other(only)))
            .map(|d| trips[d.index()])
            .product()
    };
    let (cheap, dear, cheap_trips) = if m_i <= m_o {
        (m_i, m_o, product(Operand::I))
    } else {
        (m_o, m_i, product(Operand::O))
    };
    let a = activations as f64;
    let cheap_boundaries = (activations - activations / cheap_trips) as f64;
    let switch_cycles = (a - 1.0) * dear - cheap_boundaries * (dear - cheap);
    // One weight load moves at least one weight per used cell of every array it fills.
    let fastest_load = weight_load_min_cycles(t, w, s);
    let weight_cycles = if lb.weight_load_cycles > 0.0 && dear < fastest_load {
        lb.weight_load_cycles * (1.0 - dear / fastest_load)
    } else {
        0.0
    };
    let cycles =
        (compute_cycles + lb.weight_load_cycles.max(switch_cycles + weight_cycles)).max(dram);
    CandidateBound {
        compute_cycles,
        switch_cycles,
        weight_cycles,
        cycles,
    }
}

/// The operand relevant to the dims `o` alone is not (inputs ↔ outputs).
fn other(o: Operand) -> Operand {
    match o {
        Operand::I => Operand::O,
        _ => Operand::I,
    }
}

/// Elements of `o` that one transfer from `level` carries at least: the spatial fan-out below
/// that level.
fn fanout_elems(t: &Target, w: &Workload, s: &[SpatialFactor], o: Operand, level: usize) -> u64 {
    let mut e = [1u64; 8];
    for f in s {
        if t.axes[f.axis].source[o.index()] >= level {
            e[f.dim.index()] *= f.factor;
        }
    }
    w.operand_elements(&e, o)
}

fn transfer_cycles(t: &Target, elems: u64, precision: u64, from: usize) -> u64 {
    (elems * precision).div_ceil(t.levels[from].read_bw)
}

/// The cheapest cycles one change of `o` (inputs or outputs) at the array can cost, over every
/// level that may feed the array: the feed itself (+1 through the register when the level is
/// not the register), plus, when that level holds a single element and cannot double-buffer,
/// the refill from some level above it (a loop that changes the tile cannot sit at such a
/// level). Outputs count once here; they move twice.
fn cheapest_feed(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    o: Operand,
    trips: &[u64; 8],
) -> u64 {
    let reduces = Dim::ALL
        .iter()
        .any(|d| d.is_reduction() && trips[d.index()] > 1);
    let (feed_p, low_p) = match o {
        // With a temporal reduction the feeding level holds partial sums (it is at or below
        // the reduction's loop); a level above may hold final outputs.
        Operand::O => (
            t.precision(o, reduces),
            t.precision(o, true).min(t.precision(o, false)),
        ),
        _ => (t.precision(o, false), t.precision(o, false)),
    };
    let levels = t.levels_of(o);
    levels
        .iter()
        .enumerate()
        .map(|(pos, &l)| {
            let feed = transfer_cycles(t, fanout_elems(t, w, s, o, l), feed_p, l)
                + u64::from(l != t.innermost(o));
            // A loop that changes the tile at `l` would keep two elements there, at the
            // feeding precision.
            let single_element = t.levels[l].capacity_bits < 2 * feed_p;
            let refill = if single_element && !t.may_double_buffer(l, o) {
                levels[..pos]
                    .iter()
                    .map(|&up| transfer_cycles(t, fanout_elems(t, w, s, o, up), low_p, up))
                    .min()
                    .unwrap_or(0)
            } else {
                0
            };
            feed + refill
        })
        .min()
        .expect("validated: every operand has a level")
}

/// Cycles of the cheapest single load of weights into the macros for spatial factors `s`.
fn weight_load_min_cycles(t: &Target, w: &Workload, s: &[SpatialFactor]) -> f64 {
    t.levels_of(Operand::W)
        .into_iter()
        .filter(|&l| l != t.macro_level())
        .map(|l| {
            transfer_cycles(
                t,
                fanout_elems(t, w, s, Operand::W, l),
                t.precision(Operand::W, false),
                l,
            )
        })
        .min()
        .unwrap_or(1) as f64
}
