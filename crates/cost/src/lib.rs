//! The analytical cost model: the one definition of a mapping's predicted latency and energy
//! (domain §4), used by the mappers, the optimiser's extraction check and the reports.
//!
//! Energy is exact: every transfer the nest performs is counted in closed form (tile size ×
//! precision × executions × instances). Latency follows the simulator's structure — one ready
//! time per (level, operand), operands meeting only at the MAC array — as a critical-path sum
//! over loop boundaries:
//!
//! ```text
//! body(MAC) = t_MAC
//! body(i)   = F_i · body(i+1) + (F_i − 1) · (wait(i) − ahead(i))
//!             (a double-buffered output loop: the larger of that, with its first boundary
//!              waiting for one output read, and its output port's path
//!              2·body(i+1) + (F_i − 2)·2·c_O(i) + the output transfers inside)
//! wait(i)   = max( max_o chain_o(i),                          operands' chains run in parallel
//!                 max_{j ≥ i, O double at j} 2·c_O(j) − body(j+1) )  an output stream slower
//!                                                                  than what it feeds
//! chain_I,W(i) = max over single-buffered refills inside i of (transfers down − what the
//!                refilled level overlapped since it was last released)
//! chain_O(i)   = Σ_{j > i} (2·c_O(j) + tail(j)) + what loop i's own output transfer exposes
//! tail(j)   = max(0, c_O(j) − one tile's work − the part of j's last wait its read does not
//!             decide): the write-back before the flush of a double-buffered output stream
//! ahead(i)  = min(gain of the outermost output stream inside i by reading its second tile
//!                 ahead, how far the input and weight chains exceed the output terms at i)
//! lag       = max over input/weight streams s of
//!             (bootstrap_o + fill_o + most s ever falls behind the activations) − start
//! latency   = max( start + body(0) + max(−ahead(start), lag) + Σ_j (c_O(j) + tail(j))
//!                    + bootstrap_out,
//!                  the streams' port times,
//!                  start + body(j+1) + Σ_{k > j} c_O(k) + an output stream's port time
//!                    after its first two reads + Σ_{k < j} boundaries(k) ·
//!                    max(0, wait(k) − lead_j), for each output stream at loop j )
//! start     = max_o (bootstrap_o + Σ_j c_o(j))
//! ```
//! where `c_o(j)` is the cycles of the tile transfer loop `j` fires for operand `o` (0 when it
//! fires none) and "double" means the transfer overlaps the child's work on its previous tile.
//! An input or weight stream runs ahead of the activations without bound (the single-buffered
//! refills above it wait for its sends only and add to it), so what it costs is the largest
//! running sum of its shortfall over its tiles (`timing::stream_lag`); an output stream reads
//! at most two tiles ahead of its write-backs, so a boundary outside its loop that stalls the
//! activations longer than its lead (`timing::output_port_lead`) leaves its port idle. Every
//! term is a max of sums of per-loop constants and of such running sums, which is what lets
//! the optimiser state it linearly; two exceptions, the lead, which falls with the body inside
//! the stream's loop at two rates, and an output stream's read-ahead, a gain (a minimum) the
//! recursion subtracts, the MILP states at their largest (lower bounds). The
//! terms are stated once, in [`timing`]; this crate folds them into numbers and the
//! optimiser's MILP into rows. `docs/optimiser.md` ("What the cost model models") says which
//! of the simulator's rules each term follows and how well it predicts the simulator.

pub mod nest;
pub mod timing;

pub use nest::{Nest, Transfer};
pub use timing::{OperandTiming, bootstrap_cycles};
use timing::{
    Slack, for_each_refill_term, loops_outside, output_chain, output_inner, output_port_lead,
    output_read_ahead, output_tail, stream_extra, stream_lag, ways,
};

use cimopt_ir::analysis::precision_at;
use cimopt_ir::{Mapping, Workload};
use cimopt_target::{Axis, Operand, Target};

/// Where the cycles go. `compute + mode_switch + mismatch + writeback + bootstrap == latency`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyBreakdown {
    /// Macro activations × t_MAC.
    pub compute: f64,
    /// Exposed transfers into single-buffered levels (fetch and compute serialise).
    pub mode_switch: f64,
    /// Exposed transfers into double-buffered levels (the pipeline fill, or a transfer longer
    /// than the work it overlaps).
    pub mismatch: f64,
    /// Exposed output write-backs.
    pub writeback: f64,
    /// Whole-operand copies from DRAM before the nest starts and the final output write-back.
    pub bootstrap: f64,
    /// Total transfer cycles per operand (I, W, O), overlapped or not.
    pub transfer_cycles: [f64; 3],
}

/// Energy by cause, nJ.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnergyBreakdown {
    /// `[level][op]` read energy over all instances.
    pub read: Vec<[f64; 3]>,
    /// `[level][op]` write energy over all instances.
    pub write: Vec<[f64; 3]>,
    /// `[level][op]` bits read over all instances.
    pub bits_read: Vec<[f64; 3]>,
    /// `[level][op]` bits written over all instances.
    pub bits_written: Vec<[f64; 3]>,
    pub mac: f64,
    pub leakage: f64,
}

impl EnergyBreakdown {
    pub fn level_total(&self, level: usize) -> f64 {
        self.read[level]
            .iter()
            .chain(self.write[level].iter())
            .sum()
    }
    pub fn memory_total(&self) -> f64 {
        (0..self.read.len()).map(|l| self.level_total(l)).sum()
    }
}

/// A mapping's predicted cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    pub latency_cycles: f64,
    pub energy_nj: f64,
    pub activations: u64,
    pub latency: LatencyBreakdown,
    pub energy: EnergyBreakdown,
}

impl Cost {
    pub fn edp(&self) -> f64 {
        self.latency_cycles * self.energy_nj
    }
}

/// What a mapper minimises.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Objective {
    Latency,
    Energy,
    Edp,
    /// `energy + nj_per_cycle · latency` (nJ): a layer's share of a model-level EDP objective.
    /// Minimising `Σ_i (E_i + λ·L_i)` with `λ = E/L` of a reference schedule never gives a
    /// model EDP `(Σ E_i)·(Σ L_i)` above the reference's (AM–GM), so the model's EDP is
    /// optimised layer by layer with this weight.
    Weighted {
        nj_per_cycle: f64,
    },
}

impl Objective {
    /// The name users give (`--objective`); `weighted` for the derived per-layer objective.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Latency => "latency",
            Objective::Energy => "energy",
            Objective::Edp => "edp",
            Objective::Weighted { .. } => "weighted",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "latency" => Some(Objective::Latency),
            "energy" => Some(Objective::Energy),
            "edp" => Some(Objective::Edp),
            _ => None,
        }
    }
    pub fn of(self, c: &Cost) -> f64 {
        self.of_parts(c.latency_cycles, c.energy_nj)
    }
    /// The objective of a latency (cycles) and an energy (nJ).
    pub fn of_parts(self, latency_cycles: f64, energy_nj: f64) -> f64 {
        match self {
            Objective::Latency => latency_cycles,
            Objective::Energy => energy_nj,
            Objective::Edp => latency_cycles * energy_nj,
            Objective::Weighted { nj_per_cycle } => energy_nj + nj_per_cycle * latency_cycles,
        }
    }
}

/// Evaluates a mapping that `cimopt_ir::check` accepts.
pub fn evaluate(t: &Target, w: &Workload, m: &Mapping) -> Cost {
    let nest = Nest::new(t, w, m);
    let (latency_cycles, latency) = latency_of(
        t.t_mac_at(&nest.precision) as f64,
        &nest.steps.iter().map(|s| s.factor).collect::<Vec<_>>(),
        &Operand::ALL.map(|o| OperandTiming::of(t, &nest, o)),
    );
    let mut energy = energy(t, &nest);
    energy.leakage = latency_cycles * t.leakage_nj_per_cycle;
    let activations = m.activations();
    energy.mac = t.activation_energy_nj_at(&nest.precision)
        * activations as f64
        * m.unrolling_on(Axis::Cores) as f64;
    let energy_nj = energy.memory_total() + energy.mac + energy.leakage;
    Cost {
        latency_cycles,
        energy_nj,
        activations,
        latency,
        energy,
    }
}

/// The latency recursion over an executed nest's steps (`factors`, one per step, anchors
/// included) and each operand's view of it (`timing`, step for step), with `t_mac` the cycles
/// of one activation. Each operand's view depends on its own levels and double buffering
/// alone, so the optimiser prices a placement triple from the views it built one operand at a
/// time (`timing::merge`).
pub fn latency_of(
    t_mac: f64,
    factors: &[u64],
    timing: &[OperandTiming; 3],
) -> (f64, LatencyBreakdown) {
    let mut b = LatencyBreakdown::default();
    let steps = factors.len();
    let entries = |i: usize| -> u64 { factors[..i].iter().product() };
    let c = |i: usize, o: Operand| timing[o.index()].steps[i].cycles;
    let double = |i: usize, o: Operand| timing[o.index()].steps[i].double;
    let (oi, ow, oo) = (Operand::I, Operand::W, Operand::O);
    // The step of each mapping loop (loop `n`: one activation), to value what the terms name
    // by position and loop index.
    let positions: Vec<usize> = timing[0].steps.iter().map(|s| s.position).collect();
    let mut loop_step: Vec<usize> = (0..steps).filter(|&i| positions[i] % 2 == 1).collect();
    loop_step.push(steps);

    // body[i]: one execution of loop i from its first activation's start to its last
    // activation's end: F_i children separated by F_i − 1 boundaries.
    let mut body = t_mac;
    // body_of[i]: one execution of loop i; body_of[steps] is one activation.
    let mut body_of = vec![0.0f64; steps + 1];
    // wait_of[i], chain_of[i]: the boundary wait of loop i and each operand's chain in it.
    let mut wait_of = vec![0.0f64; steps];
    let mut first_wait_of = vec![0.0f64; steps];
    let mut chain_of = vec![[0.0f64; 3]; steps];
    body_of[steps] = body;
    // Exposed cycles of one execution: mode switch, mismatch, write-back.
    let mut exposed = [0.0f64; 3];
    // The largest output stream deficit at this loop or inside it.
    let mut deficit = 0.0f64;
    // The tails of the double-buffered output streams inside: cycles their port stays busy
    // after the last activation of an execution before the flush can start.
    let mut tails = 0.0f64;
    // What the outermost output stream inside gains by reading ahead across a boundary
    // outside its loop that an input or a weight decides (`timing::output_read_ahead`).
    let mut read_ahead = 0.0f64;
    let body_after = |body_of: &[f64], position: usize| body_of[loop_step[position.div_ceil(2)]];
    for i in (0..steps).rev() {
        let f = factors[i] as f64;
        let child = body;
        // At a boundary of loop i each operand's chain runs in parallel; the slowest decides.
        // An input or weight chain is its largest refill term (`timing::refill_terms`), its
        // slack valued with the bodies and waits of the loops inside.
        let refill = |o: Operand| -> f64 {
            let mut chain = 0.0f64;
            for_each_refill_term(&timing[o.index()].steps, i, |term| {
                let slack = match term.slack {
                    Slack::None => 0.0,
                    Slack::BodyWait(j) => {
                        let next = loop_step[j];
                        body_of[next + 1] + (wait_of[next] - chain_of[next][o.index()]).max(0.0)
                    }
                    Slack::Body(j) => body_of[loop_step[j]],
                    Slack::SyncWait(j) => {
                        let next = loop_step[j];
                        body_of[next + 1] + wait_of[next]
                    }
                };
                chain = chain.max(term.after - slack);
            });
            chain
        };
        let outputs = &timing[oo.index()].steps;
        let chains = [
            refill(oi),
            refill(ow),
            output_chain(outputs, positions[i]) + tails,
        ];
        // A double-buffered output transfer of loop i streams ahead by one tile at most (it
        // cannot read the next tile before writing the previous one back): slower than the
        // child it overlaps, it stalls every boundary at or outside its loop. Input and weight
        // streams run ahead without bound; they are valued after the recursion.
        let out_stream = if double(i, oo) {
            timing[oo.index()].steps[i].stream_cycles(oo) - child
        } else {
            0.0
        };
        let serial_wait = chains.iter().cloned().fold(0.0, f64::max);
        let inner_deficit = deficit;
        deficit = deficit.max(out_stream);
        let wait = serial_wait.max(deficit);
        // A double-buffered output reads its second tile right after the first, before any
        // write-back: the first boundary of each execution only needs one transfer. When the
        // child waits for the write-back (a loop of outputs at the same level inside,
        // `StepTiming::own_chain`), each boundary, the first too, waits for the read under way
        // since the child started, then for the previous tile's write-back: the child cannot
        // overlap the write-back, and the next read only follows it.
        let synced = if double(i, oo) {
            timing[oo.index()].steps[i].own_chain
        } else {
            0.0
        };
        let synced_wait = if synced > 0.0 {
            c(i, oo) + synced - child
        } else {
            0.0
        };
        let first_wait = if double(i, oo) && f > 1.0 {
            serial_wait
                .max(inner_deficit)
                .max(c(i, oo) + synced - child)
        } else {
            wait
        };
        // At a boundary of loop i that an input or weight chain decides, beyond what the
        // outputs wait for there, the output stream inside reads its second tile ahead: the
        // execution after the boundary is shorter by up to `read_ahead`.
        let in_or_w = chains[0].max(chains[1]);
        let (o_rest, o_first) = if double(i, oo) && f > 1.0 {
            let o = chains[2].max(inner_deficit);
            (o.max(synced_wait), o.max(c(i, oo) + synced - child))
        } else {
            let o = chains[2].max(deficit);
            (o, o)
        };
        let ahead_rest = read_ahead.min((in_or_w - o_rest).max(0.0));
        let ahead_first = read_ahead.min((in_or_w - o_first).max(0.0));
        body = if f > 1.0 && double(i, oo) {
            // A double-buffered output loop: either every boundary waits for the chains and
            // the streams inside (the first only for one output read), or the output stream's
            // port decides, from the end of the first tile's work and its write-back below
            // (`timing::output_inner`): two transfers per tile after it, never the chains'
            // wait on top. The port then ends the loop behind the last activation: its last
            // write-back and the flush follow the last read, not the last activation, so the
            // flush the next boundary counts from the end starts that much later.
            let inner_wait = serial_wait.max(inner_deficit).max(synced_wait);
            let chains_path =
                f * child + (f - 2.0) * (inner_wait - ahead_rest) + first_wait - ahead_first;
            let port_path = 2.0 * child
                + (f - 2.0) * (out_stream + child)
                + output_inner(outputs, positions[i]).max(c(i, oo) - child);
            chains_path.max(port_path)
        } else if f > 1.0 {
            f * child + (f - 2.0) * (wait - ahead_rest) + first_wait - ahead_first
        } else {
            child
        };
        let mut e = exposed.map(|x| x * f);
        if f > 1.0 {
            let stalls = body - f * child;
            let excess = (stalls - (f - 1.0) * serial_wait).max(0.0);
            e[1] += excess;
            e[if chains[2] >= chains[0].max(chains[1]) {
                2
            } else {
                0
            }] += stalls - excess;
        }
        exposed = e;
        let last_wait = if f > 2.0 { wait } else { first_wait };
        tails += output_tail(outputs, positions[i], child, last_wait);
        if let Some(a) =
            output_read_ahead(outputs, positions[i], child, serial_wait.max(inner_deficit))
        {
            read_ahead = a;
        }
        body_of[i] = body;
        wait_of[i] = wait;
        first_wait_of[i] = first_wait;
        chain_of[i] = chains;
        for o in Operand::ALL {
            b.transfer_cycles[o.index()] += entries(i) as f64 * f * c(i, o) * ways(o);
        }
    }
    // Before the first activation every transfer of the nest happens once, per operand in
    // parallel, after that operand's bootstrap copy; after the last one the outputs go back
    // up through every level, then whole to DRAM.
    let boot = |o: Operand| timing[o.index()].boot;
    let fill = |o: Operand| timing[o.index()].fill;
    let start = Operand::ALL
        .iter()
        .map(|&o| boot(o) + fill(o))
        .fold(0.0, f64::max);
    let boot_in = Operand::ALL.iter().map(|&o| boot(o)).fold(0.0, f64::max);
    let drain = fill(oo) + tails;
    let boot_out = boot(oo);
    // An input or weight stream runs ahead of the activations without bound, from the moment
    // its operand is in place: it delays the nest by the most it ever falls behind, less its
    // head start (`timing::stream_lag`).
    let lag = [oi, ow]
        .iter()
        .flat_map(|&o| {
            let steps = &timing[o.index()].steps;
            steps
                .iter()
                .filter(|s| s.double && s.cycles > 0.0)
                .map(move |s| (o, s))
                .collect::<Vec<_>>()
        })
        .map(|(o, s)| {
            let steps = &timing[o.index()].steps;
            let gaps: Vec<(f64, f64, f64)> = loops_outside(s.position)
                .map(|k| {
                    let i = loop_step[k];
                    let extra = stream_extra(steps, s.position, k);
                    (factors[i] as f64, wait_of[i], extra)
                })
                .collect();
            let behind = stream_lag(s.stream_cycles(o), body_after(&body_of, s.position), &gaps);
            boot(o) + fill(o) + behind - start
        })
        // The outermost output stream reads its second tile ahead while another operand's
        // bootstrap or fill decides the start, as at a boundary outside its loop: the first
        // execution is up to `read_ahead` shorter, unless a stream falls behind it.
        .fold(
            -read_ahead.min((start - boot(oo) - fill(oo)).max(0.0)),
            f64::max,
        );
    exposed[1] += lag;
    let mut total = start + body + lag + drain + boot_out;
    // A double-buffered stream also bounds the latency by its port time (`timing::Port`); the
    // body inside an input or weight stream's loop and the output drain follow it, and an
    // output stream's port after its first two reads follows the first tile's work.
    for j in 0..steps {
        for o in Operand::ALL {
            for port in timing[o.index()].ports.iter().filter(|p| p.step == j) {
                let bound = if o == oo {
                    let idle = port_idle(
                        factors,
                        &timing[oo.index()].steps,
                        j,
                        body_of[j + 1],
                        &wait_of,
                        &first_wait_of,
                    );
                    port.cycles
                        .max(start + body_of[j + 1] + port.after_start + idle)
                } else {
                    port.cycles + body_of[j + 1] + drain + boot_out
                };
                if bound > total {
                    exposed[1] += bound - total;
                    total = bound;
                }
            }
        }
    }

    let activations: u64 = factors.iter().product();
    b.compute = activations as f64 * t_mac;
    b.mode_switch = exposed[0] + (start - boot_in);
    b.mismatch = exposed[1];
    b.writeback = exposed[2] + drain;
    b.bootstrap = boot_in + boot_out;
    // The causes add up to the total (checked by the prediction tests on every bundled layer).
    (total, b)
}

/// The cycles the port of the double-buffered output stream at step `j` sits idle at the
/// boundaries of the loops outside it (`timing::output_port_lead`): at each boundary whose wait
/// exceeds the port's lead, the port waits for the first tile's work after it.
fn port_idle(
    factors: &[u64],
    steps: &[timing::StepTiming],
    j: usize,
    inner: f64,
    wait_of: &[f64],
    first_wait_of: &[f64],
) -> f64 {
    let Some(lead) = output_port_lead(steps, j, inner) else {
        return 0.0;
    };
    (0..j)
        .filter(|&i| factors[i] > 1)
        .map(|i| {
            let f = factors[i] as f64;
            factors[..i].iter().product::<u64>() as f64
                * ((first_wait_of[i] - lead).max(0.0) + (f - 2.0) * (wait_of[i] - lead).max(0.0))
        })
        .sum()
}

/// Memory energy of a nest by level and operand (MAC and leakage left at 0). Each operand's
/// column depends only on that operand's levels, which is what lets the optimiser price
/// operand placements independently.
pub fn energy(t: &Target, n: &Nest) -> EnergyBreakdown {
    let nl = t.num_levels();
    let mut e = EnergyBreakdown {
        read: vec![[0.0; 3]; nl],
        write: vec![[0.0; 3]; nl],
        bits_read: vec![[0.0; 3]; nl],
        bits_written: vec![[0.0; 3]; nl],
        mac: 0.0,
        leakage: 0.0,
    };
    for o in Operand::ALL {
        let bits = OperandBits::of(t, n, o);
        for lv in 0..nl {
            let (r, w) = bits.at(lv);
            e.bits_read[lv][o.index()] = r;
            e.bits_written[lv][o.index()] = w;
            let (read, write) = bits.energy_nj(t, lv);
            e.read[lv][o.index()] = read;
            e.write[lv][o.index()] = write;
        }
    }
    e
}

/// The memory energy of one operand in nest `n` (reads and writes at every level, nJ): the sum
/// of its column of [`energy`], worked out for that operand alone.
pub fn operand_energy_nj(t: &Target, n: &Nest, o: Operand) -> f64 {
    let bits = OperandBits::of(t, n, o);
    (0..t.num_levels())
        .map(|lv| {
            let (read, write) = bits.energy_nj(t, lv);
            read + write
        })
        .sum()
}

/// Bits of one operand read and written at each level over the nest, every instance counted.
struct OperandBits {
    read: Vec<f64>,
    written: Vec<f64>,
}

impl OperandBits {
    fn of(t: &Target, n: &Nest, o: Operand) -> Self {
        let nl = t.num_levels();
        let mut bits_r = vec![0.0f64; nl + 1];
        let mut bits_w = vec![0.0f64; nl + 1];
        let prec = |lv: usize| {
            if lv >= nl {
                n.precision.bits(o, false)
            } else {
                precision_at(t, &n.precision, &n.psum, lv, o)
            }
        } as f64;
        let reg = t.innermost(o);
        let mut entries = 1u64;
        for (step, transfers) in n.steps.iter().zip(&n.transfers) {
            let times = (entries * step.factor) as f64;
            entries *= step.factor;
            let tr = &transfers[o.index()];
            if !tr.fires {
                continue;
            }
            let (tile, child) = (tr.tile_elems as f64, tr.child_elems as f64);
            // Moving down: read the tile at `from`, write it into the child (via the register).
            bits_r[tr.from] += times * tile * prec(tr.from);
            if tr.via_register {
                bits_w[reg] += times * child * prec(reg);
                bits_r[reg] += times * child * prec(reg);
            }
            bits_w[tr.to] += times * child * prec(tr.to);
            if o == Operand::O {
                // Partial sums / results come back up: read the child, write at `from`.
                bits_r[tr.to] += times * child * prec(tr.to);
                if tr.via_register {
                    bits_w[reg] += times * child * prec(reg);
                    bits_r[reg] += times * child * prec(reg);
                }
                bits_w[tr.from] += times * tile * prec(tr.from);
            }
        }
        // Bootstrap: the whole operand read from its home once, written into its first level.
        let (first, home) = (n.first_level[o.index()], n.home[o.index()]);
        if first != home {
            bits_r[home] += n.workload.operand_size(o) as f64 * prec(home);
            bits_w[first] += n.resident[first][o.index()] as f64 * prec(first);
        }
        // Every instance of a level moves its own copy.
        for lv in 0..nl {
            let k = n.instances[lv][o.index()] as f64;
            bits_r[lv] *= k;
            bits_w[lv] *= k;
        }
        OperandBits {
            read: bits_r,
            written: bits_w,
        }
    }

    /// Bits read and written at `lv`.
    fn at(&self, lv: usize) -> (f64, f64) {
        (self.read[lv], self.written[lv])
    }

    /// Read and write energy at `lv`, nJ. The macro computes in place: reading weights out of
    /// it costs nothing extra.
    fn energy_nj(&self, t: &Target, lv: usize) -> (f64, f64) {
        let read_pj = if lv == t.macro_level() {
            0.0
        } else {
            t.levels[lv].read_pj_per_bit
        };
        (
            self.read[lv] * read_pj * 1e-3,
            self.written[lv] * t.levels[lv].write_pj_per_bit * 1e-3,
        )
    }
}

#[cfg(test)]
mod objective_tests {
    use super::Objective;

    #[test]
    fn each_objective_weighs_latency_and_energy_as_documented() {
        let (l, e) = (1000.0, 250.0);
        assert_eq!(Objective::Latency.of_parts(l, e), 1000.0);
        assert_eq!(Objective::Energy.of_parts(l, e), 250.0);
        assert_eq!(Objective::Edp.of_parts(l, e), 250_000.0);
        let w = Objective::Weighted { nj_per_cycle: 0.5 };
        assert_eq!(w.of_parts(l, e), 750.0);
        assert_eq!(w.name(), "weighted");
        assert_eq!(Objective::parse("weighted"), None, "not a user objective");
    }

    /// The guarantee the optimiser relies on: with λ = E_r/L_r, any (E, L) with
    /// E + λ·L ≤ E_r + λ·L_r has E·L ≤ E_r·L_r (AM–GM).
    #[test]
    fn a_weighted_improvement_never_raises_the_product() {
        let (lr, er) = (4000.0_f64, 900.0_f64);
        let lambda = er / lr;
        let w = Objective::Weighted {
            nj_per_cycle: lambda,
        };
        let budget = w.of_parts(lr, er);
        for i in 1..200 {
            let l = lr * i as f64 / 100.0;
            // The largest energy the weighted budget allows at this latency.
            let e = budget - lambda * l;
            if e > 0.0 {
                assert!(l * e <= lr * er * (1.0 + 1e-12), "L {l} E {e}");
            }
        }
    }
}
