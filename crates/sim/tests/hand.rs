//! Hand-computed cases on a tiny target, the arithmetic in the comments.
//!
//! The tiny target (levels 0..=4, the MAC is pseudo-level 5):
//!
//! | # | level  | holds | bw | read / write pJ/bit | capacity |
//! |---|--------|-------|----|---------------------|----------|
//! | 0 | dram   | I W O | 8 (or 4) | 1 / 2         | 1 GiB    |
//! | 1 | buf    | I W O | 16 | 0.5 / 0.25          | 4096 bit |
//! | 2 | oreg   | O     | 16 | 0 / 0.125           | 16 bit   |
//! | 3 | ireg   | I     | 8  | 0 / 0.125           | 8 bit    |
//! | 4 | macro  | W     | 8  | 0 / 0.5             | 64 bit   |
//!
//! 2 cores, a 4 × 2 macro, INT8 inputs and weights (t_MAC = 8 cycles), 16-bit partial sums,
//! 8-bit outputs, 0.01 nJ per activation and core, leakage 0.001 nJ per cycle. Spatial
//! sources: cores from `buf` for all operands; rows I and W from `buf`, O into `oreg`;
//! cols I from `ireg`, W from `buf`, O into `buf`.

use cimopt_ir::{
    Mapping, OpKind, SpatialFactor, TemporalLoop, ViolationKind, WeightKind, Workload,
};
use cimopt_sim::{SimError, SimReport, simulate, simulate_walk};
use cimopt_target::{Axis, Dim, Operand, Target};

const TINY: &str = r#"
name = "tiny"
cores = 2
leakage_nj_per_cycle = 0.001

[macro]
rows = 4
cols = 2
compartment_depth = 8
input_bits_per_cycle = 1

[macro.precision]
input_bits = 8
weight_bits = 8
psum_bits = 16
output_bits = 8

[macro.activation_energy]
nj = 0.01

[[levels]]
name = "dram"
holds = ["I", "W", "O"]
capacity = "1GiB"
bandwidth_bits_per_cycle = 8
read_energy_pj_per_bit = 1.0
write_energy_pj_per_bit = 2.0
replication = "shared"
double_buffer = ["I", "W", "O"]

[[levels]]
name = "buf"
holds = ["I", "W", "O"]
capacity = "4096bit"
bandwidth_bits_per_cycle = 16
read_energy_pj_per_bit = 0.5
write_energy_pj_per_bit = 0.25
replication = "shared"
double_buffer = ["I", "W", "O"]

[[levels]]
name = "oreg"
holds = ["O"]
capacity = "16bit"
bandwidth_bits_per_cycle = 16
read_energy_pj_per_bit = 0.0
write_energy_pj_per_bit = 0.125
replication = "per_core"

[[levels]]
name = "ireg"
holds = ["I"]
capacity = "8bit"
bandwidth_bits_per_cycle = 8
read_energy_pj_per_bit = 0.0
write_energy_pj_per_bit = 0.125
replication = "per_core"

[[levels]]
name = "macro"
holds = ["W"]
capacity = "64bit"
bandwidth_bits_per_cycle = 8
read_energy_pj_per_bit = 0.0
write_energy_pj_per_bit = 0.5
replication = "per_core"

[spatial.cores]
dims = ["P", "Q", "K", "G"]
source = { I = "buf", W = "buf", O = "buf" }

[spatial.rows]
dims = ["R", "S", "C"]
source = { I = "buf", W = "buf", O = "oreg" }

[spatial.cols]
dims = ["K"]
source = { I = "ireg", W = "buf", O = "buf" }
"#;

const DRAM: usize = 0;
const BUF: usize = 1;
const OREG: usize = 2;
const IREG: usize = 3;
const MACRO: usize = 4;

fn tiny(overrides: &[&str]) -> Target {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    cimopt_target::parse("tiny", TINY, &o).unwrap()
}

/// A 1×1 conv (a matrix product) with `p` rows, `c` inputs and `k` outputs.
fn layer(p: u64, c: u64, k: u64) -> Workload {
    Workload {
        op: OpKind::Conv,
        weight_kind: WeightKind::Constant,
        r: 1,
        s: 1,
        p,
        q: 1,
        c,
        k,
        g: 1,
        b: 1,
        h: p,
        w: 1,
        stride: [1, 1],
        pad: [0; 4],
        dilation: [1, 1],
        bits: cimopt_ir::Bits::FLOAT,
    }
}

fn tl(dim: Dim, factor: u64, level: [usize; 3]) -> TemporalLoop {
    TemporalLoop { dim, factor, level }
}

fn mapping(
    w: &Workload,
    spatial: Vec<SpatialFactor>,
    temporal: Vec<TemporalLoop>,
    db: &[(usize, Operand)],
) -> Mapping {
    let mut m = Mapping {
        home: [0; 3],
        spatial,
        temporal,
        double_buffer: db.to_vec(),
        padded_dims: w.extents(),
    };
    m.normalise();
    m
}

/// Simulates both ways, checks they agree, returns the report.
fn run(t: &Target, w: &Workload, m: &Mapping) -> SimReport {
    let fast = simulate(t, w, m).unwrap();
    let walk = simulate_walk(t, w, m).unwrap();
    assert_eq!(fast, walk);
    fast
}

fn close(a: f64, b: f64) {
    assert!(
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0),
        "{a} != {b}"
    );
}

/// Bits read and written per level, all operands.
fn traffic(r: &SimReport) -> Vec<(u64, u64)> {
    r.levels
        .iter()
        .map(|l| (l.bits_read, l.bits_written))
        .collect()
}

/// `one_loop_layer` at 4-bit inputs and weights (the macro computes 4-bit weights, packed):
/// inputs are bit-serial, an activation takes 4 cycles; I and W move 4 bits.
///   it0: every operand ready at 2 (⌈4/8⌉ + 1, ⌈8/8⌉ + 1 for O); activation 2 → 6; write-back 8.
///   it1: O 10, activation 14, write-back 16.  it2: O 18 → 22 → 24.  it3: O 26 → 30 → 32.
#[test]
fn one_loop_layer_at_four_bits() {
    let t = tiny(&["macro.weight_bits_supported=[4, 8]"]);
    let w = Workload {
        bits: cimopt_ir::Bits {
            input: Some(4),
            weight: Some(4),
            output: None,
        },
        ..layer(4, 1, 1)
    };
    let m = mapping(&w, vec![], vec![tl(Dim::P, 4, [DRAM, DRAM, DRAM])], &[]);
    let r = run(&t, &w, &m);
    assert_eq!(r.latency_cycles, 32.0);
    assert_eq!(r.compute_cycles, 16);
    assert_eq!(r.transfer_cycles, [8, 8, 16]);
    // DRAM reads 4 + 4 + 8 bits per iteration and writes 8; ireg and the macro 4 bits.
    assert_eq!(
        traffic(&r),
        vec![(64, 32), (0, 0), (64, 64), (16, 16), (16, 16)]
    );
    // 64·1 + 32·2 + 64·0.125 + 16·0.125 + 16·0.5 = 146 pJ; the activation energy (0.01 nJ at
    // the target's 8-bit inputs) at half the cycles: 4 × 0.005; leakage 32 × 0.001.
    close(r.mac_energy_nj, 0.02);
    close(r.energy_nj, 0.146 + 0.02 + 0.032);
    // A 4-bit weight padded to the native width takes 8 bits of its cell.
    let t = tiny(&[
        "macro.weight_bits_supported=[4, 8]",
        "macro.weight_storage=\"padded\"",
    ]);
    let r = run(&t, &w, &m);
    assert_eq!(r.levels[MACRO].bits_written, 32);
    assert_eq!(r.levels[DRAM].operand_bits_read, [16, 16, 32]);
}

#[test]
fn one_loop_layer() {
    // P = 4, one loop `P 4` with every operand at DRAM; ireg, oreg, macro and buf unused.
    // Every operand goes DRAM → MAC, through its register: 1 element, 8 bit / 8 bit per cycle
    // = 1 cycle, +1 (DRAM is the innermost used level and not the register) = 2 cycles.
    // W is irrelevant to P: the run's first (only) loop fires, so W is re-sent every time.
    // Nothing is double-buffered (non-ping-pong macro): all single.
    //   it0: I, W, O: dram = max(0, mac) + 2 = 2 = mac. Activation: 2 + 8 = 10; the DRAM
    //        timers wait for it (10). O write-back: mac_O = max(10, 10) + 2 = 12 = dram_O.
    //   it1: I, W 10 + 2 = 12; O 12 + 2 = 14; activation 14 → 22; write-back 24.
    //   it2: O 26, activation 34, write-back 36.  it3: O 38, activation 46, write-back 48.
    let t = tiny(&[]);
    let w = layer(4, 1, 1);
    let m = mapping(&w, vec![], vec![tl(Dim::P, 4, [DRAM, DRAM, DRAM])], &[]);
    let r = run(&t, &w, &m);
    assert_eq!(r.latency_cycles, 48.0);
    assert_eq!(r.activations, 4);
    assert_eq!(r.compute_cycles, 32);
    assert_eq!(r.transfer_cycles, [8, 8, 16]); // 4 × 2 each; O also writes back 4 × 2
    assert_eq!(r.stalls.mode_switch, 24.0); // 4 × (2 + 2 + 2)
    assert_eq!(r.stalls.writeback, 8.0);
    assert_eq!(r.stalls.mismatch, 0.0);
    assert_eq!(r.stalls.bootstrap, 0.0);
    assert_eq!(r.stalls.idle, 0.0); // 48 − 32 − 24 − 8 < 0
    // Per iteration: DRAM reads 8 bits of each operand; each passes its register (write 8,
    // read 8); O's write-back passes oreg (write 8, read 8) and writes 8 bits to DRAM.
    //   dram r 4·24 = 96, w 4·8 = 32; oreg r/w 4·16 = 64; ireg r/w 32; macro r/w 32.
    assert_eq!(
        traffic(&r),
        vec![(96, 32), (0, 0), (64, 64), (32, 32), (32, 32)]
    );
    // Energy: 96·1 + 32·2 + 64·0.125 + 32·0.125 + 32·0.5 (macro reads are free) = 188 pJ,
    // MAC 4 × 0.01 × 1 core = 0.04 nJ, leakage 48 × 0.001 = 0.048 nJ.
    close(r.mac_energy_nj, 0.04);
    close(r.leakage_energy_nj, 0.048);
    close(r.energy_nj, 0.188 + 0.04 + 0.048);
    close(r.edp, 48.0 * 0.276);
    // 4 useful MACs over 4 activations of 2 cores × 4 × 2 = 16 MACs.
    close(r.mac_utilisation, 4.0 / 64.0);
}

#[test]
fn spatial_instances_scale_energy() {
    // P = 8, P 2 on the cores, one loop `P 4` at DRAM. The DRAM tile includes the spatial
    // factor (source buf is inside DRAM): I and O 2 elements = 16 bit / 8 = 2 + 1 = 3 cycles,
    // W 1 element = 2 cycles. it0: I 3, O 3 → activation 3 → 11, O write-back 14;
    // then +3 (O pre-read) +8 +3 per iteration: 25/28, 39/42, 53/56.
    let t = tiny(&[]);
    let w = layer(8, 1, 1);
    let m = mapping(
        &w,
        vec![SpatialFactor {
            axis: Axis::Cores,
            dim: Dim::P,
            factor: 2,
        }],
        vec![tl(Dim::P, 4, [DRAM, DRAM, DRAM])],
        &[],
    );
    let r = run(&t, &w, &m);
    assert_eq!(r.latency_cycles, 56.0);
    // Per iteration and instance: dram reads 16 (I) + 8 (W) + 16 (O), writes 16 (O);
    // registers see 1 element (8 bit) per transfer, 2 instances each (one per core).
    //   dram r 160, w 64; oreg r/w 4·16·2 = 128; ireg 4·8·2 = 64; macro 64.
    assert_eq!(
        traffic(&r),
        vec![(160, 64), (0, 0), (128, 128), (64, 64), (64, 64)]
    );
    assert_eq!(r.levels[IREG].instances, [2, 0, 0]);
    assert_eq!(r.levels[OREG].instances, [0, 0, 2]);
    assert_eq!(r.levels[BUF].instances, [1, 1, 1]);
    // 160 + 128 + 128·0.125 + 64·0.125 + 64·0.5 = 344 pJ; MAC 4 × 0.01 × 2 cores.
    close(r.mac_energy_nj, 0.08);
    close(r.energy_nj, 0.344 + 0.08 + 0.056);
    close(r.mac_utilisation, 8.0 / 64.0);
}

/// P = 4 as `P 2` (I at DRAM) over `P 2` (I at buf); W stays in the macro, O in buf. With
/// DRAM at 4 bit/cycle. Returns the report with or without double-buffering I in buf.
fn two_level(double: bool) -> SimReport {
    let t = tiny(&["levels.dram.bandwidth_bits_per_cycle=4"]);
    let w = layer(4, 1, 1);
    let db: &[(usize, Operand)] = if double { &[(BUF, Operand::I)] } else { &[] };
    let m = mapping(
        &w,
        vec![],
        vec![
            tl(Dim::P, 2, [DRAM, MACRO, BUF]),
            tl(Dim::P, 2, [BUF, MACRO, BUF]),
        ],
        db,
    );
    run(&t, &w, &m)
}

#[test]
fn two_level_nest_single_vs_double_buffered() {
    // I: DRAM → buf at the outer loop: tile = 2 rows = 16 bit / 4 = 4 cycles; buf → MAC at
    //    the inner loop: 1 element, 8/16 → 1, +1 (buf is I's innermost, not ireg) = 2.
    // W: in the macro throughout (no transfers); bootstrap 1 weight · 8 / 4 = 2 cycles.
    // O: in buf throughout; the inner loop moves it: 1 + 1 = 2 cycles, written back after
    //    each activation (single-buffered MAC). Bootstrap 4 · 8 / 4 = 8 cycles, again at the end.
    // Start: dram_W = macro_W = 2, dram_O = buf_O = 8.
    //
    // Single-buffered:
    //   outer it0: dram_I = 0 + 4 = 4 = buf_I.
    //     inner it0: buf_I = 4 + 2 = 6 = mac_I; buf_O = 8 + 2 = 10 = mac_O; act 10 → 18
    //                (buf_I, macro_W, buf_O wait: 18); write-back buf_O 20.
    //     inner it1: I 20, O 22; act 22 → 30; write-back 32.
    //   outer it1: dram_I = max(4, buf_I 30) + 4 = 34 = buf_I (fetch serialised).
    //     inner it0: I 36, O 34; act 36 → 44; write-back 46.
    //     inner it1: I 46, O 48; act 48 → 56; write-back 58.
    //   End: buf_O = 58 + 8 = 66 → latency 66.
    let single = two_level(false);
    assert_eq!(single.latency_cycles, 66.0);
    assert_eq!(single.stalls.mode_switch, 24.0); // outer I 2·4; inner (I 2 + O 2)·4
    assert_eq!(single.stalls.mismatch, 0.0);
    assert_eq!(single.stalls.writeback, 8.0);
    assert_eq!(single.stalls.bootstrap, 18.0); // W 2 + O 8 + O 8
    assert_eq!(single.stalls.idle, 2.0); // 66 − 32 − 24 − 8
    assert_eq!(single.transfer_cycles, [16, 0, 16]);

    // Double-buffered (buf holds two I tiles): the DRAM timer of I runs ahead.
    //   outer it0: dram_I = 4; buf_I = max(0, 4) = 4 (mismatch 4).
    //     inner it0: I 6, O 10; act 10 → 18; write-back 20 (buf_I does not wait).
    //     inner it1: buf_I = max(6, mac_I 18) + 2 = 20; O 22; act 22 → 30; write-back 32.
    //   outer it1: dram_I = 4 + 4 = 8; buf_I = max(20, 8) = 20 (hidden, no stall).
    //     inner it0: I max(20, 30) + 2 = 32; O 34; act 34 → 42; write-back 44.
    //     inner it1: I 44, O 46; act 46 → 54; write-back 56.
    //   End: 56 + 8 = 64.
    let double = two_level(true);
    assert_eq!(double.latency_cycles, 64.0);
    assert_eq!(double.stalls.mode_switch, 16.0);
    assert_eq!(double.stalls.mismatch, 4.0);
    assert_eq!(double.stalls.idle, 4.0); // 64 − 32 − 16 − 4 − 8
    assert_eq!(double.transfer_cycles, [16, 0, 16]);

    // Same traffic either way:
    //   I: outer ×2 reads 16 at DRAM, writes 16 at buf; inner ×4 reads 8 at buf, passes ireg.
    //   W: bootstrap reads 8 at DRAM, writes 8 into the macro.
    //   O: bootstrap reads 32 at DRAM, writes 32 at buf; inner ×4 reads 8 at buf, passes oreg
    //      (w 8, r 8) and writes back through oreg (w 8, r 8) into buf (w 8).
    //   dram r 32 + 8 + 32 = 72; buf r 32 + 32 = 64, w 32 + 32 + 32 = 96; oreg 64/64;
    //   ireg 32/32; macro 0/8.
    for r in [&single, &double] {
        assert_eq!(
            traffic(r),
            vec![(72, 0), (64, 96), (64, 64), (32, 32), (0, 8)]
        );
    }
    // 72 + 64·0.5 + 96·0.25 + 64·0.125 + 32·0.125 + 8·0.5 = 144 pJ.
    close(single.energy_nj, 0.144 + 0.04 + 0.066);
    close(double.energy_nj, 0.144 + 0.04 + 0.064);
}

#[test]
fn bypassed_level() {
    // P = 2, K = 2: `P 2` (all at DRAM) over `K 2` (I in ireg, W and O at DRAM). buf holds
    // nothing: I goes DRAM → ireg directly (1 element: 8/8 = 1 cycle, written into ireg),
    // then ireg → MAC every inner iteration (K is irrelevant to I, so the run's first loop
    // fires): 1 cycle, no +1 (ireg is I's register). W and O: DRAM → MAC at the inner loop,
    // 1 + 1 = 2 cycles. All single-buffered.
    //   outer it0: dram_I = 1 = ireg_I.
    //     inner it0: I 2, W 2, O 2; act 2 → 10; write-back mac_O = dram_O = 12.
    //     inner it1: I 11, W 12, O 14; act 14 → 22; write-back 24.
    //   outer it1: dram_I = max(1, ireg_I 22) + 1 = 23 = ireg_I.
    //     inner it0: I 24, W 24, O 26; act 26 → 34; write-back 36.
    //     inner it1: I 35, W 36, O 38; act 38 → 46; write-back 48.
    let t = tiny(&[]);
    let w = layer(2, 1, 2);
    let m = mapping(
        &w,
        vec![],
        vec![
            tl(Dim::P, 2, [DRAM, DRAM, DRAM]),
            tl(Dim::K, 2, [IREG, DRAM, DRAM]),
        ],
        &[],
    );
    let r = run(&t, &w, &m);
    assert_eq!(r.latency_cycles, 48.0);
    assert_eq!(r.stalls.mode_switch, 22.0); // outer I 1·2; inner (1 + 2 + 2)·4
    assert_eq!(r.stalls.writeback, 8.0);
    assert_eq!(r.transfer_cycles, [6, 8, 16]);
    // I: DRAM r 2·8, ireg w 2·8, ireg r 4·8. W: DRAM r 4·8, macro w/r 4·8.
    // O: DRAM r 4·8 and w 4·8, oreg r/w 4·16. buf: nothing.
    assert_eq!(
        traffic(&r),
        vec![(80, 32), (0, 0), (64, 64), (32, 16), (32, 32)]
    );
    // 80 + 64 + 64·0.125 + 16·0.125 + 32·0.5 = 170 pJ.
    close(r.energy_nj, 0.170 + 0.04 + 0.048);
}

#[test]
fn bootstrap_copies_whole_operands() {
    // P = 4, one loop `P 4` with every operand in buf: each operand is first copied whole
    // from DRAM (8 bit/cycle): I 4·8/8 = 4, W 1·8/8 = 1, O 4·8/8 = 4 cycles, added to the
    // DRAM and buf timers; outputs are copied back at the end (+4, time only).
    // buf → MAC: 8/16 → 1, +1 (buf is not a register) = 2 cycles per operand per iteration.
    //   it0: I max(4, 0) + 2 = 6; W 1 + 2 = 3; O 4 + 2 = 6; act 6 → 14; write-back 16.
    //   it1: O 18 → 26 → 28.  it2: 30 → 38 → 40.  it3: 42 → 50 → 52.  End: 52 + 4 = 56.
    let t = tiny(&[]);
    let w = layer(4, 1, 1);
    let m = mapping(&w, vec![], vec![tl(Dim::P, 4, [BUF, BUF, BUF])], &[]);
    let r = run(&t, &w, &m);
    assert_eq!(r.latency_cycles, 56.0);
    assert_eq!(r.stalls.bootstrap, 13.0); // 4 + 1 + 4 + 4
    assert_eq!(r.stalls.mode_switch, 24.0);
    assert_eq!(r.stalls.writeback, 8.0);
    // Bootstrap: DRAM reads 32 + 8 + 32; buf writes the same. Per iteration each operand
    // reads 8 at buf and passes its register; O writes back 8 into buf through oreg.
    //   dram 72/0; buf r 96, w 72 + 32 = 104; oreg 64/64; ireg 32/32; macro 32/32.
    assert_eq!(
        traffic(&r),
        vec![(72, 0), (96, 104), (64, 64), (32, 32), (32, 32)]
    );
    // 72 + 96·0.5 + 104·0.25 + 64·0.125 + 32·0.125 + 32·0.5 = 174 pJ.
    close(r.energy_nj, 0.174 + 0.04 + 0.056);
}

#[test]
fn partial_sums_use_their_precision() {
    // P = 2, C = 2: `P 2` (all at DRAM) over `C 2` (I, W at DRAM, O in buf). The reduction
    // loop sits at buf for O, so buf (and oreg) hold 16-bit partial sums; DRAM holds 8-bit
    // outputs.
    // O: DRAM → buf at the outer loop: 1 element · 8 bit / 8 = 1 cycle (single-buffered,
    //    written back after the inner loop); buf → MAC at the inner loop (C is irrelevant to
    //    O, so the run's first loop fires): 16 bit / 16 = 1, +1 = 2 cycles.
    // I and W: DRAM → MAC at the inner loop (C is relevant): 1 + 1 = 2 cycles.
    //   outer it0: dram_O = 1 = buf_O.
    //     inner it0: I 2, W 2, O max(1, 0) + 2 = 3; act 3 → 11; write-back buf_O 13.
    //     inner it1: I 13, W 13, O 15; act 15 → 23; write-back 25.
    //     outer write-back: buf_O = max(1, 25) + 1 = 26 = dram_O.
    //   outer it1: dram_O = 27 = buf_O.
    //     inner it0: I 25, W 25, O max(27, 25) + 2 = 29; act 29 → 37; write-back 39.
    //     inner it1: O 41; act 41 → 49; write-back 51.
    //     outer write-back: 52.
    let t = tiny(&[]);
    let w = layer(2, 2, 1);
    let m = mapping(
        &w,
        vec![],
        vec![
            tl(Dim::P, 2, [DRAM, DRAM, DRAM]),
            tl(Dim::C, 2, [DRAM, DRAM, BUF]),
        ],
        &[],
    );
    let r = run(&t, &w, &m);
    assert_eq!(r.latency_cycles, 52.0);
    assert_eq!(r.stalls.mode_switch, 26.0); // outer O 1·2; inner (2 + 2 + 2)·4
    assert_eq!(r.stalls.writeback, 10.0); // outer 1·2; inner 2·4
    assert_eq!(r.transfer_cycles, [8, 8, 20]);
    // O: outer ×2 reads 8 at DRAM and writes 16 at buf, writes back reading 16 at buf and
    // writing 8 at DRAM; inner ×4 reads 16 at buf, passes oreg (16 + 16), writes back
    // through oreg (16 + 16) into buf (16).
    //   O: dram 16/16; buf r 32 + 64 = 96, w 32 + 64 = 96; oreg 128/128.
    // I, W: DRAM r 4·8 each; ireg 32/32; macro 32/32.
    assert_eq!(r.levels[BUF].operand_bits_read, [0, 0, 96]);
    assert_eq!(r.levels[BUF].operand_bits_written, [0, 0, 96]);
    assert_eq!(r.levels[DRAM].operand_bits_written, [0, 0, 16]);
    assert_eq!(
        traffic(&r),
        vec![(80, 16), (96, 96), (128, 128), (32, 32), (32, 32)]
    );
    // 80 + 16·2 + 96·0.5 + 96·0.25 + 128·0.125 + 32·0.125 + 32·0.5 = 220 pJ.
    close(r.energy_nj, 0.220 + 0.04 + 0.052);
}

#[test]
fn invalid_schedules_are_refused_with_checks_messages() {
    let t = tiny(&[]);
    // Capacity: I in ireg (8 bit) under a relevant loop `P 2` needs 2 elements = 16 bit.
    let w = layer(2, 1, 1);
    let m = mapping(&w, vec![], vec![tl(Dim::P, 2, [IREG, DRAM, DRAM])], &[]);
    let Err(SimError::Invalid(v)) = simulate(&t, &w, &m) else {
        panic!("accepted an overflowing schedule")
    };
    assert_eq!(v, cimopt_ir::check(&t, &w, &m));
    assert!(
        v.iter()
            .any(|x| x.kind == ViolationKind::Capacity && x.message.contains("`ireg` overflows")),
        "{v:?}"
    );
    assert!(matches!(
        simulate_walk(&t, &w, &m),
        Err(SimError::Invalid(_))
    ));
    // Coverage: the loops cover P = 2 of 4.
    let w = layer(4, 1, 1);
    let m = mapping(&w, vec![], vec![tl(Dim::P, 2, [DRAM, DRAM, DRAM])], &[]);
    let err = simulate(&t, &w, &m).unwrap_err();
    let SimError::Invalid(v) = &err;
    assert!(v.iter().any(|x| x.kind == ViolationKind::Coverage), "{v:?}");
    assert!(err.to_string().contains("factors multiply to 2"), "{err}");
}

#[test]
fn large_layer_fast_path_equals_walk() {
    // A 3×3 conv, 64 → 64 channels, 224 × 224 outputs on the default preset: 451 584
    // activations. Compares the fast path with the full walk (no timing asserted).
    let t = cimopt_target::load("default", &[]).unwrap().target;
    let w = Workload {
        op: OpKind::Conv,
        weight_kind: WeightKind::Constant,
        r: 3,
        s: 3,
        p: 224,
        q: 224,
        c: 64,
        k: 64,
        g: 1,
        b: 1,
        h: 224,
        w: 224,
        stride: [1, 1],
        pad: [1, 1, 1, 1],
        dilation: [1, 1],
        bits: cimopt_ir::Bits::FLOAT,
    };
    let spatial = vec![
        SpatialFactor {
            axis: Axis::Cores,
            dim: Dim::Q,
            factor: 8,
        },
        SpatialFactor {
            axis: Axis::Rows,
            dim: Dim::C,
            factor: 32,
        },
        SpatialFactor {
            axis: Axis::Cols,
            dim: Dim::K,
            factor: 16,
        },
    ];
    let temporal = vec![
        tl(Dim::K, 4, [0, 0, 0]),
        tl(Dim::P, 28, [0, 0, 0]),
        tl(Dim::Q, 28, [1, 1, 1]),
        tl(Dim::P, 8, [1, 1, 1]),
        tl(Dim::C, 2, [3, 1, 2]),
        tl(Dim::R, 3, [3, 1, 2]),
        tl(Dim::S, 3, [3, 6, 4]),
    ];
    for db in [
        vec![],
        vec![
            (1, Operand::W),
            (1, Operand::O),
            (2, Operand::O),
            (3, Operand::I),
        ],
    ] {
        let m = mapping(&w, spatial.clone(), temporal.clone(), &db);
        let fast = simulate(&t, &w, &m).unwrap();
        assert_eq!(fast, simulate_walk(&t, &w, &m).unwrap());
        assert_eq!(fast.activations, 4 * 28 * 28 * 8 * 2 * 3 * 3);
        assert!(fast.latency_cycles >= fast.compute_cycles as f64);
    }
}
