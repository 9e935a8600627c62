//! A simulator that executes one layer's schedule loop by loop, with the semantics of the
//! MIREDO reference simulator (`Simulator/Simulax.py` and `LoopNest.preprogress` in
//! `utils/Workload.py` of `BUAA-CI-LAB/MIREDO`). It judges the cost models and the optimisers,
//! so it depends on neither: only on the target, the workload and the mapping.
//!
//! ```text
//! simulate(target, workload, mapping) ─ check ─▶ program (anchor rewrite, transfer flags, tiles)
//!                                              ─▶ fast path (or walk) ─▶ SimReport
//! ```
//!
//! [`simulate`] refuses a mapping that [`cimopt_ir::check()`] rejects ([`SimError::Invalid`]
//! carries the violations). [`simulate`] and [`simulate_walk`] return the same report; the walk
//! executes every iteration, the fast path skips iterations it proves repeat.
//!
//! # Indices
//!
//! Levels are 0-based, outer to inner, level 0 the DRAM; the MAC array is the pseudo-level
//! `levels.len()` ([`cimopt_target::Target::compute_level`]). The reference is 1-based with
//! DRAM = 1 and the MAC = `Num_mem`.
//!
//! # What is simulated
//!
//! The executed workload ([`cimopt_ir::analysis::executed_workload`], padded dims) on the
//! nest after the reference's rewrite:
//!
//! * **Next level.** For an operand, the child of a level is the next deeper level holding a
//!   loop of that operand (the MAC after the innermost used one). Levels without a loop of the
//!   operand are bypassed: they hold nothing and their timer never moves.
//! * **Sizes.** `data(l, o)`: elements of `o` over the temporal loops at level `l` or deeper
//!   for `o` and the spatial factors whose fan-out source for `o` is `l` or deeper (0 when
//!   bypassed, 1 at the MAC). `tile(l, o)`, what `l` sends to its child: temporal loops
//!   strictly deeper than `l`, the same spatial factors.
//! * **Reuse anchors.** A *storage run* of `o` is a maximal run of consecutive loops at one
//!   level whose child is another storage level (not the MAC, and not weights at the macro).
//!   While some storage run contains no loop that changes `o`'s tile (relevant to `o` with a
//!   trip count above 1), the rewrite moves `o`'s loops between the last tile-changing loop
//!   above the run and the run into the run's level, and inserts there a trip-1 *anchor*
//!   loop that counts as tile-changing for `o` only. Tile sizes do not change.
//! * **Transfer flags.** Per operand: the last loop of each level run transfers; then, from
//!   inner to outer, irrelevant loops at the bottom of a run hand the transfer up to the run's
//!   innermost relevant loop (or the run's first loop); then every storage run transfers at
//!   exactly its innermost tile-changing loop; loops of weights at the macro never transfer.
//! * **Transfer cost.** `ceil(tile · precision / read bandwidth)` cycles at the loop's level,
//!   +1 when that level is the operand's innermost used level and not its register
//!   ([`cimopt_target::Target::innermost`]); 0 for weights at the macro and for loops that
//!   do not transfer the operand.
//! * **Buffering.** A loop's transfer of `o` is double-buffered when the child level
//!   double-buffers `o` ([`cimopt_ir::analysis::double_buffered`]; the MAC pseudo-level
//!   follows the macro's ping-pong flag, for every operand).
//! * **Timing.** One ready time per (level, operand) and per operand at the MAC. Each
//!   iteration of a loop, per operand: double-buffered `cur += c; nxt = max(nxt, cur)`
//!   (the increase of `nxt` is a *mismatch* stall); single-buffered
//!   `cur = max(cur, nxt) + c; nxt = cur` (`c` is a *mode-switch* stall). Then, for a
//!   double-buffered output from the second iteration on, the delayed write-back of the
//!   previous tile `cur = max(cur, nxt) + c`; then the child; then, for a single-buffered
//!   output, `nxt = max(cur, nxt) + c; cur = nxt`. After the last iteration a double-buffered
//!   output flushes (`cur = max(cur, nxt) + c`). An activation waits for all three operands:
//!   `mac = max(mac_I, mac_W, mac_O) + t_MAC` for all three, and an operand whose innermost
//!   used level is single-buffered has that level wait for it too.
//! * **Bootstrap.** An operand whose outermost loop is not at level 0 is first copied whole
//!   from DRAM: `size · precision / DRAM bandwidth` cycles (not rounded) added to the DRAM
//!   timer and to the first level's timer, DRAM read energy for the whole operand and write
//!   energy for the first level's data. Outputs are copied back the same way at the end
//!   (time only).
//! * **Latency** is the largest ready time over the memory levels (not the MAC).
//! * **Energy.** Every transfer reads `tile · precision` at its level and writes
//!   `data(child) · precision` at the child; from the innermost used level when it is not the
//!   register, the data also passes through the register (one write and one read of
//!   `data(child)` there). Output write-backs read at the child and write the tile at the
//!   level. Bits are counted per instance, then multiplied by the number of instances in use
//!   (the product of the spatial factors whose source for that operand lies strictly outside
//!   the level). Energies are in pJ/bit in the target and reported in nJ. Reads at the macro
//!   cost nothing. MAC energy = activation energy × activations × cores used. Leakage =
//!   latency × leakage per cycle.
//! * **Precision.** Outputs are partial sums at output levels at or below the outermost
//!   output level holding a reduction loop (R, S, C) with a trip count above 1, final outputs
//!   above ([`cimopt_ir::analysis::psum_levels`], on the nest as given, before the rewrite,
//!   as the reference does).
//!
//! Report fields: [`SimReport`]. Bits in [`LevelReport`] are counted where they move (the
//! reference derives its byte counts by dividing energy by cost per bit, so it shows 0 at
//! levels whose accesses cost nothing). The stall profile is the reference's:
//! `idle = max(0, latency − compute − mode switch − mismatch − write-back)`; the bootstrap
//! is reported but not subtracted.
//!
//! # Deliberate differences from the reference
//!
//! * **Instances per (level, operand).** The reference multiplies a whole level's energy by the
//!   instance count of each operand the level holds that has more than one instance; we
//!   multiply each operand's bits by that operand's own count. On the presets every level
//!   with more than one instance holds one operand, so the numbers agree; on a target with a
//!   shared multi-instance level the reference would compound the factors.
//! * **Batch.** `B` is a loop dimension relevant to inputs and outputs (the reference has no
//!   batch dimension), so a batched layer reuses its weights across images.
//! * **Dilation** widens input windows ([`cimopt_ir::Workload::operand_elements`]); the
//!   reference has no dilation.
//! * **MAC energy** counts the cores used as the product of the spatial factors on the cores
//!   axis, where the reference reads the instance count of a hard-coded level index (the
//!   input buffer of its default template, which is the same number there).
//! * **Exact time.** Times are integers in units of `1 / DRAM bandwidth` cycles, so the
//!   fractional bootstrap stays exact and no rounding enters the timing; bit counts are
//!   integers and energies are computed once at the end.
//! * **MAC utilisation** (reference: not reported) is defined as the workload's useful MACs
//!   (unpadded) divided by `activations × peak MACs per activation` (all cores, full macro).
//!
//! # The fast path is exact
//!
//! The body of a loop only adds constants to ready times, takes maxima and differences, so
//! it commutes with shifts. The reference's fast path runs iterations until every ready
//! time it touches moved by one common shift over one iteration, then extrapolates. That
//! fails whenever two clocks run at different rates (a double-buffered prefetcher that is
//! faster than compute keeps falling behind it), so we use a stronger, still exact, test.
//! Let `δ_x` be the advance of ready time `x` over the observed iteration. Every update has the
//! form `x = max(args) + c`. If, for every update executed in that iteration, every argument
//! `a` has `δ_a ≤ δ_x` and some argument reaching the maximum has `δ_a = δ_x`, then the next
//! iteration, started from the state shifted by `δ`, performs every update with the values
//! of this one shifted by `δ` (by induction over the updates in program order), the gaps
//! between a maximum and the other arguments do not shrink, so the condition holds again,
//! and every stall (a difference of two values of one ready time) repeats. All remaining
//! iterations are therefore this one shifted: timers advance by `remaining × δ` and the
//! mismatch stall by `remaining ×` its increment. The facts are recorded while executing:
//! which updates read what (static per loop) and which argument decided each maximum. When
//! a child loop skipped iterations, its skipped updates had the same arguments and as
//! deciders only the observed deciders that advance with the updated time, which is what
//! the parent's test uses. Every other counter does not depend on the timing and is
//! computed from the trip counts. Tests compare the fast path with the walk on random nests.
//! On 3 000 random larger schedules (2·10⁹ activations in all) the reference's common-shift
//! test would have executed about half of the activations one by one; this one executes
//! about 0.01 %. Targets with more than 41 levels (more ready times than the 128-bit masks
//! track) fall back to the walk.

mod fast;
mod prepare;
#[cfg(test)]
mod tests;
pub mod trace;
mod walk;

use cimopt_ir::{Mapping, Violation, Workload};
use cimopt_target::{Operand, Target};
use prepare::{Program, counter};
use walk::Counters;

/// Why a schedule was not simulated.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the mapping is invalid: {}", join(.0))]
    Invalid(Vec<Violation>),
}

fn join(v: &[Violation]) -> String {
    v.iter()
        .map(|x| x.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Stall profile, in cycles (the reference's decomposition).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stalls {
    /// Transfers into single-buffered children (fetch and compute serialise).
    pub mode_switch: f64,
    /// Waiting of double-buffered children for their next tile.
    pub mismatch: f64,
    /// Output write-back transfers.
    pub writeback: f64,
    /// Whole-operand copies from and to DRAM (not part of `idle`).
    pub bootstrap: f64,
    /// `max(0, latency − compute − mode_switch − mismatch − writeback)`.
    pub idle: f64,
}

/// Traffic and energy at one memory level, all instances together.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LevelReport {
    pub name: String,
    pub bits_read: u64,
    pub bits_written: u64,
    /// Per operand (by [`Operand::index`]).
    pub operand_bits_read: [u64; 3],
    pub operand_bits_written: [u64; 3],
    pub read_energy_nj: f64,
    pub write_energy_nj: f64,
    /// Instances of the level in use, per operand: the product of the spatial factors whose
    /// source for the operand lies outside the level (0 for operands the level cannot hold).
    pub instances: [u64; 3],
}

/// The result of simulating one layer's schedule.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SimReport {
    pub latency_cycles: f64,
    /// Memory reads and writes, MAC activations and leakage.
    pub energy_nj: f64,
    /// `latency_cycles × energy_nj`.
    pub edp: f64,
    /// Macro activations (the product of the temporal trip counts).
    pub activations: u64,
    /// `activations × t_MAC`.
    pub compute_cycles: u64,
    pub stalls: Stalls,
    /// Cycles spent transferring each operand (pre-reads and output write-backs).
    pub transfer_cycles: [u64; 3],
    /// One entry per memory level, outer to inner.
    pub levels: Vec<LevelReport>,
    pub mac_energy_nj: f64,
    pub leakage_energy_nj: f64,
    /// Useful MACs of the (unpadded) workload / (activations × peak MACs per activation).
    pub mac_utilisation: f64,
    /// Reuse anchors the reference's rewrite inserted into the nest.
    pub anchors: usize,
}

fn prepared(t: &Target, w: &Workload, m: &Mapping) -> Result<Program, SimError> {
    let violations = cimopt_ir::check(t, w, m);
    if !violations.is_empty() {
        return Err(SimError::Invalid(violations));
    }
    Ok(prepare::program(t, w, m))
}

fn start_timers(prog: &Program) -> Vec<u64> {
    let mut timer = vec![0; prog.coords];
    for o in 0..3 {
        let b = prog.bootstrap_ticks[o];
        if b > 0 {
            timer[prog.home[o] * 3 + o] += b;
            timer[prog.first_level[o] * 3 + o] += b;
        }
    }
    timer
}

/// Simulates `m` on `t`: the fast path, identical in result to [`simulate_walk`].
pub fn simulate(t: &Target, w: &Workload, m: &Mapping) -> Result<SimReport, SimError> {
    let prog = prepared(t, w, m)?;
    if prog.coords > fast::MAX_COORDS {
        return Ok(run_walk(t, w, &prog));
    }
    let mut f = fast::Fast::new(&prog, start_timers(&prog));
    f.run(0);
    let mut counters = fast::counted(&prog);
    counters.mismatch_ticks = f.mismatch_ticks;
    let timer = std::mem::take(&mut f.timer);
    Ok(report(t, w, &prog, timer, &counters))
}

/// Simulates `m` on `t` by executing every iteration of every loop.
pub fn simulate_walk(t: &Target, w: &Workload, m: &Mapping) -> Result<SimReport, SimError> {
    let prog = prepared(t, w, m)?;
    Ok(run_walk(t, w, &prog))
}

fn run_walk(t: &Target, w: &Workload, prog: &Program) -> SimReport {
    let mut walker = walk::Walker::new(prog, start_timers(prog));
    walker.run(0);
    let timer = std::mem::take(&mut walker.timer);
    report(t, w, prog, timer, &walker.c)
}

fn report(
    t: &Target,
    w: &Workload,
    prog: &Program,
    mut timer: Vec<u64>,
    c: &Counters,
) -> SimReport {
    let den = prog.den as f64;
    // Outputs go back to their home whole at the end (time only).
    let o = Operand::O.index();
    let b = prog.bootstrap_ticks[o];
    if b > 0 {
        timer[prog.home[o] * 3 + o] += b;
        timer[prog.first_level[o] * 3 + o] += b;
    }
    let bootstrap_ticks: u64 = prog.bootstrap_ticks.iter().sum::<u64>() + b;
    let latency_ticks = timer[..prog.levels * 3].iter().copied().max().unwrap_or(0);
    let latency = latency_ticks as f64 / den;

    let mut bits = c.bits.clone();
    for &(s, n) in &prog.bootstrap_bits {
        bits[s] += n;
    }
    let macro_level = t.macro_level();
    let levels: Vec<LevelReport> = (0..prog.levels)
        .map(|lv| {
            let level = &t.levels[lv];
            let inst = prog.instances[lv];
            let operand_bits_read = [0, 1, 2].map(|o| bits[counter(lv, o, false)] * inst[o]);
            let operand_bits_written = [0, 1, 2].map(|o| bits[counter(lv, o, true)] * inst[o]);
            let bits_read: u64 = operand_bits_read.iter().sum();
            let bits_written: u64 = operand_bits_written.iter().sum();
            let read_cost = if lv == macro_level {
                0.0
            } else {
                level.read_pj_per_bit
            };
            LevelReport {
                name: level.name.clone(),
                bits_read,
                bits_written,
                operand_bits_read,
                operand_bits_written,
                read_energy_nj: bits_read as f64 * read_cost * 1e-3,
                write_energy_nj: bits_written as f64 * level.write_pj_per_bit * 1e-3,
                instances: inst,
            }
        })
        .collect();
    let memory: f64 = levels
        .iter()
        .map(|l| l.read_energy_nj + l.write_energy_nj)
        .sum();
    let mac_energy =
        t.activation_energy_nj_at(&prog.precision) * c.activations as f64 * prog.cores_used as f64;
    let leakage = latency * t.leakage_nj_per_cycle;
    let energy = memory + mac_energy + leakage;

    let compute_cycles = c.activations * prog.t_mac;
    let mode_switch = c.mode_switch as f64;
    let mismatch = c.mismatch_ticks as f64 / den;
    let writeback = c.writeback as f64;
    let idle = (latency - compute_cycles as f64 - mode_switch - mismatch - writeback).max(0.0);
    let peak = c.activations as f64 * t.peak_macs_per_activation() as f64;
    SimReport {
        latency_cycles: latency,
        energy_nj: energy,
        edp: latency * energy,
        activations: c.activations,
        compute_cycles,
        stalls: Stalls {
            mode_switch,
            mismatch,
            writeback,
            bootstrap: bootstrap_ticks as f64 / den,
            idle,
        },
        transfer_cycles: c.transfer,
        levels,
        mac_energy_nj: mac_energy,
        leakage_energy_nj: leakage,
        mac_utilisation: if peak > 0.0 {
            w.macs() as f64 / peak
        } else {
            0.0
        },
        anchors: prog.anchors,
    }
}
