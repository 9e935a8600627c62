//! The cost model against the simulator on mappings of every source: random draws from each
//! layer's whole space (`cimopt_space::random`), the `ws` and `greedy` mappers, and the
//! optimiser's result with every mapping its MILP proposed on the way (with the agreement rule
//! off, so the search may land anywhere the model is wrong), on both presets and the test
//! targets. Per target and source: mean ≤ 0.5 %, worst ≤ 2 % on latency and on energy (the
//! goals of issue 16), and the simulator-agreement rule never fires. Random mappings on a
//! ping-pong macro, which missed the goals until the cost model counted the output streams'
//! tails and read-ahead, are held tighter, near what they meet now ([`random_bound`]).
//!
//! The stalls the model used to miss each have a case of their own below, so that one coming
//! back fails by name. Heavier sweeps: the `heavy_` tests and `examples/agreement.rs`.

mod common;
use common::{conv, lp, matmul, padded_conv3, sf, small_layers, target, test_targets};

use cimopt_cost::{Objective, evaluate};
use cimopt_ir::{Mapping, OpKind, Workload, check};
use cimopt_mappers::{GreedyOptions, greedy, weight_stationary};
use cimopt_optimiser::{Options, optimise_observed};
use cimopt_space::random::Sampler;
use cimopt_target::{Axis, Dim, Operand, Target};
use std::collections::BTreeMap;

/// Relative errors of latency and energy, and the worst case's description.
#[derive(Default)]
struct Errors {
    n: usize,
    latency_sum: f64,
    energy_sum: f64,
    latency_worst: (f64, String),
    energy_worst: (f64, String),
}

impl Errors {
    fn add(&mut self, t: &Target, w: &Workload, m: &Mapping, what: &str) {
        let c = evaluate(t, w, m);
        let s = cimopt_sim::simulate(t, w, m).expect("valid");
        let rel = |p: f64, q: f64| (p - q).abs() / q.max(1e-12);
        let (l, e) = (
            rel(c.latency_cycles, s.latency_cycles),
            rel(c.energy_nj, s.energy_nj),
        );
        let show = || {
            format!(
                "{what}: predicted {} cycles {} nJ, simulated {} cycles {} nJ: {m:?}",
                c.latency_cycles, c.energy_nj, s.latency_cycles, s.energy_nj
            )
        };
        self.n += 1;
        self.latency_sum += l;
        self.energy_sum += e;
        if l > self.latency_worst.0 {
            self.latency_worst = (l, show());
        }
        if e > self.energy_worst.0 {
            self.energy_worst = (e, show());
        }
    }

    /// Asserts the goals; prints the summary either way.
    fn hold(&self, label: &str, mean: f64, worst: f64) {
        let n = self.n.max(1) as f64;
        let (lm, em) = (self.latency_sum / n, self.energy_sum / n);
        eprintln!(
            "{label}: {} mappings, latency mean {:.4} % worst {:.3} %, energy mean {:.4} % worst {:.3} %",
            self.n,
            100.0 * lm,
            100.0 * self.latency_worst.0,
            100.0 * em,
            100.0 * self.energy_worst.0
        );
        assert!(self.n > 0, "{label}: no mappings");
        assert!(
            lm <= mean,
            "{label}: mean latency error {:.3} %",
            100.0 * lm
        );
        assert!(em <= mean, "{label}: mean energy error {:.3} %", 100.0 * em);
        assert!(
            self.latency_worst.0 <= worst,
            "{label}: latency error {:.2} % on {}",
            100.0 * self.latency_worst.0,
            self.latency_worst.1
        );
        assert!(
            self.energy_worst.0 <= worst,
            "{label}: energy error {:.2} % on {}",
            100.0 * self.energy_worst.0,
            self.energy_worst.1
        );
    }
}

const MEAN: f64 = 0.005;
const WORST: f64 = 0.02;

/// The bound random mappings on `t` are held to: the goals, and on the ping-pong macro, which
/// missed them until the cost model counted the output streams' tails and read-ahead, near
/// what it meets now (measured with seed 1):
///
/// - the 60 draws per small layer: every target within 0.001 %; the ping-pong macro was at
///   2.27 % (a 1×1 layer whose outputs stream into the array, predicted 9 632 cycles,
///   simulated 9 856: [`an_output_streams_last_write_back_delays_its_flush`]), mean 0.008 %;
/// - the 400 draws per layer of `many` (small and real layers, 4 800 mappings per target):
///   `default` worst 1.39 % (BERT's attention MatMul), `transformer` 0.073 %, the
///   small-capacity `default` 1.43 %, the ping-pong macro 0.66 % (BERT's attention MatMul),
///   means at most 0.0011 %. The ping-pong macro was at 7.29 % before the tails and the
///   read-ahead (ResNet-18 layer3.0's strided 3×3 with weights double-buffered in the macro,
///   predicted 6 560 080 cycles, simulated 7 075 897), mean 0.0069 %, and at 9.75 % before
///   that, until the cost model counted the idle time of a double-buffered output stream's
///   port at stalls outside its loop
///   ([`an_output_streams_port_idles_while_a_weight_refill_stalls_the_activations`], which
///   also took `default` from 8.98 %) and the read and the write-back an output stream into
///   the array waits for at each boundary
///   ([`a_synced_output_stream_into_a_ping_pong_array_waits_for_read_and_write_back`]).
fn random_bound(t: &Target, many: bool) -> (f64, f64) {
    if many && t.macro_.ping_pong {
        (MEAN, 0.0075)
    } else {
        (MEAN, WORST)
    }
}

/// A test target's name in messages: `common::test_targets` holds two variants of `default`.
fn label(t: &Target) -> String {
    if t.macro_.ping_pong {
        format!("{} ping-pong", t.name)
    } else if t.levels.len() > 5 && t.levels[4].capacity_bits == 64 {
        format!("{} 64-bit registers", t.name)
    } else {
        t.name.clone()
    }
}

/// Shapes of real layers: ResNet-18's, MobileNetV2's depthwise and pointwise, BERT's MatMuls.
fn real_layers() -> Vec<(&'static str, Workload)> {
    let padded = |r: u64, p: u64, c: u64, k: u64, g: u64, stride: u64| {
        let pad = (r - 1) / 2;
        Workload {
            h: p * stride,
            w: p * stride,
            pad: [pad; 4],
            ..conv(r, p, c, k, g, stride)
        }
    };
    let attention = Workload {
        op: OpKind::MatMul,
        weight_kind: cimopt_ir::WeightKind::Activation,
        g: 12,
        ..matmul(128, 64, 128)
    };
    vec![
        (
            "resnet18 layer1 3x3 c64 k64 56x56",
            padded(3, 56, 64, 64, 1, 1),
        ),
        (
            "resnet18 layer3.0 3x3 s2 c128 k256",
            padded(3, 14, 128, 256, 1, 2),
        ),
        (
            "resnet18 layer4 3x3 c512 k512 7x7",
            padded(3, 7, 512, 512, 1, 1),
        ),
        (
            "mobilenet_v2 depthwise 3x3 s2 g144",
            padded(3, 28, 1, 1, 144, 2),
        ),
        (
            "mobilenet_v2 1x1 c960 k320 7x7",
            padded(1, 7, 960, 320, 1, 1),
        ),
        ("bert 128x768x3072", matmul(128, 768, 3072)),
        ("bert attention 12x128x64x128", attention),
    ]
}

/// Random draws, per target, layer and seed.
fn random_errors(t: &Target, layers: &[(&str, Workload)], draws: usize) -> Errors {
    let mut e = Errors::default();
    for (name, w) in layers {
        for m in Sampler::new(t, w).expect("enumerable").many(1, draws) {
            e.add(t, w, &m, name);
        }
    }
    e
}

/// The mappers' and the optimiser's mappings: ws, greedy for three objectives, mip's result
/// and every mapping its MILP proposed, with the agreement rule off; `rejected` counts what the
/// rule would have rejected had it been on.
fn search_errors(
    t: &Target,
    layers: &[(&str, Workload)],
    mip: bool,
) -> BTreeMap<&'static str, Errors> {
    let mut out: BTreeMap<&'static str, Errors> = BTreeMap::new();
    for (name, w) in layers {
        out.entry("ws")
            .or_default()
            .add(t, w, &weight_stationary(t, w).unwrap().mapping, name);
        for objective in [Objective::Edp, Objective::Latency, Objective::Energy] {
            let g = greedy(
                t,
                w,
                &GreedyOptions {
                    objective,
                    ..Default::default()
                },
            )
            .unwrap();
            out.entry("greedy").or_default().add(t, w, &g.mapping, name);
        }
        if mip {
            let mut proposed: Vec<Mapping> = Vec::new();
            let opts = Options {
                agreement: f64::INFINITY,
                ..Options::default()
            };
            let r =
                optimise_observed(t, w, &opts, None, &mut |m| proposed.push(m.clone())).unwrap();
            out.entry("mip").or_default().add(t, w, &r.mapping, name);
            for m in &proposed {
                out.entry("milp").or_default().add(t, w, m, name);
            }
            // The rule as shipped rejects nothing.
            let on = cimopt_optimiser::optimise(t, w, &Options::default()).unwrap();
            assert_eq!(
                on.stats.rejected_by_simulator, 0,
                "{} {name}: the agreement rule rejected a mapping",
                t.name
            );
        }
    }
    out
}

#[test]
fn the_cost_model_predicts_the_simulator_on_random_mappings() {
    for t in test_targets() {
        let (mean, worst) = random_bound(&t, false);
        random_errors(&t, &small_layers(), 60).hold(&format!("{} random", label(&t)), mean, worst);
    }
}

#[test]
fn the_cost_model_predicts_the_simulator_on_random_mappings_of_real_layers() {
    for t in test_targets() {
        random_errors(&t, &real_layers(), 25).hold(
            &format!("{} random real layers", label(&t)),
            MEAN,
            WORST,
        );
    }
}

#[test]
fn the_cost_model_predicts_the_simulator_on_what_the_searches_produce() {
    for t in test_targets() {
        for (source, e) in search_errors(&t, &small_layers(), true) {
            e.hold(&format!("{} {source}", label(&t)), MEAN, WORST);
        }
    }
}

#[test]
fn the_cost_model_predicts_the_simulator_on_what_the_mappers_produce_on_real_layers() {
    for t in test_targets() {
        for (source, e) in search_errors(&t, &real_layers(), false) {
            e.hold(&format!("{} {source} real layers", label(&t)), MEAN, WORST);
        }
    }
}

#[test]
fn heavy_the_cost_model_predicts_the_simulator_on_what_the_searches_produce_on_real_layers() {
    searches_on_real_layers(&test_targets()[..2]);
}

// The presets and the variants in two tests, so that they run side by side.
#[test]
fn heavy_the_cost_model_predicts_the_simulator_on_what_the_searches_produce_on_real_layers_of_the_test_variants()
 {
    searches_on_real_layers(&test_targets()[2..]);
}

fn searches_on_real_layers(targets: &[Target]) {
    assert!(!targets.is_empty());
    for t in targets {
        for (source, e) in search_errors(t, &real_layers(), true) {
            e.hold(&format!("{} {source} real layers", label(t)), MEAN, WORST);
        }
    }
}

#[test]
fn the_cost_model_predicts_the_simulator_on_many_random_mappings() {
    let mut layers = small_layers();
    layers.extend(real_layers());
    let all: Vec<(Target, Errors)> = test_targets()
        .into_iter()
        .map(|t| {
            let e = random_errors(&t, &layers, 400);
            (t, e)
        })
        .collect();
    for (t, e) in &all {
        eprintln!("{}: worst latency case {}", label(t), e.latency_worst.1);
    }
    for (t, e) in &all {
        let (mean, worst) = random_bound(t, true);
        e.hold(&format!("{} random (many)", label(t)), mean, worst);
    }
}

/// Asserts that the cost model predicts `m` within 0.5 % of the simulator; returns the
/// predicted and simulated latencies.
fn predicts(t: &Target, w: &Workload, m: &Mapping, what: &str) -> (f64, f64) {
    assert!(check(t, w, m).is_empty(), "{what}: {:?}", check(t, w, m));
    let c = evaluate(t, w, m);
    let s = cimopt_sim::simulate(t, w, m).unwrap();
    let err = (c.latency_cycles - s.latency_cycles).abs() / s.latency_cycles;
    assert!(
        err <= 0.005,
        "{what}: predicted {} cycles, simulated {}",
        c.latency_cycles,
        s.latency_cycles
    );
    (c.latency_cycles, s.latency_cycles)
}

// Levels of `default`: 0 DRAM, 1 global buffer, 2 output buffer, 3 input buffer, 4 output
// register, 5 input register, 6 macro.

/// The stall of issue 16: ResNet-18 `layer4.0.conv2`, weights streamed single-buffered from
/// DRAM into the global buffer and on into the macros, with a loop over output rows at the
/// global buffer inside the send. That loop makes the global buffer wait for the macro at each
/// row, so the next DRAM refill can only start at the last row, not when the buffer last sent.
#[test]
fn a_weight_refill_waits_for_the_last_row_of_the_loop_inside_its_send() {
    let t = target("default", &[]);
    let w = padded_conv3(7, 512, 512, 1);
    let m = Mapping {
        spatial: vec![
            sf(Axis::Cores, Dim::K, 8),
            sf(Axis::Rows, Dim::C, 32),
            sf(Axis::Cols, Dim::K, 16),
        ],
        temporal: vec![
            lp(Dim::K, 4, [0, 0, 0]),
            lp(Dim::C, 16, [0, 0, 1]),
            lp(Dim::R, 3, [1, 1, 1]),
            lp(Dim::S, 3, [1, 1, 1]),
            lp(Dim::P, 7, [1, 1, 2]),
            lp(Dim::Q, 7, [3, 6, 2]),
        ],
        double_buffer: vec![],
        padded_dims: w.extents(),
        home: [0; 3],
    };
    predicts(&t, &w, &m, "weight refill behind a row loop");
}

/// A double-buffered output streamed into the output buffer: the previous tile's write-back
/// comes after the next tile's read, but a loop of outputs at the same level inside (over
/// input channels, which do not change the tile) makes the buffer wait for the write-back.
#[test]
fn a_double_buffered_write_back_is_waited_for_behind_a_loop_at_its_level() {
    let t = target("default", &[]);
    let w = conv(1, 4, 4, 4, 1, 1);
    let m = Mapping {
        spatial: vec![
            sf(Axis::Cores, Dim::P, 2),
            sf(Axis::Cores, Dim::Q, 4),
            sf(Axis::Rows, Dim::C, 2),
            sf(Axis::Cols, Dim::K, 2),
        ],
        temporal: vec![
            lp(Dim::P, 2, [1, 0, 0]),
            lp(Dim::C, 2, [1, 0, 0]),
            lp(Dim::K, 2, [5, 0, 2]),
        ],
        double_buffer: vec![(1, Operand::I), (2, Operand::O), (3, Operand::I)],
        padded_dims: w.extents(),
        home: [0; 3],
    };
    predicts(&t, &w, &m, "double-buffered write-back behind a C loop");
}

/// A ping-pong macro overlaps loading the array with computing only from a level that
/// double-buffers: the input register holds one element, so each input waits for the
/// activation that reads the previous one to end.
#[test]
fn a_ping_pong_macro_streams_only_from_double_buffered_levels() {
    let t = target("default", &["macro.ping_pong=true"]);
    let w = matmul(128, 768, 768);
    let m = weight_stationary(&t, &w).unwrap().mapping;
    predicts(&t, &w, &m, "ws on a ping-pong macro");
    let w = conv(1, 2, 2, 3, 1, 1);
    let m = Mapping {
        spatial: vec![
            sf(Axis::Cores, Dim::Q, 2),
            sf(Axis::Rows, Dim::C, 2),
            sf(Axis::Cols, Dim::K, 3),
        ],
        temporal: vec![lp(Dim::P, 2, [3, 1, 2])],
        double_buffer: vec![
            (1, Operand::I),
            (1, Operand::W),
            (1, Operand::O),
            (2, Operand::O),
        ],
        padded_dims: w.extents(),
        home: [0; 3],
    };
    predicts(&t, &w, &m, "input buffer without a second copy");
}

/// The worst random mapping of `default` (ResNet-18 layer3.0, 8.98 % under) in small: outputs
/// streamed double-buffered from DRAM into the output buffer at a loop over columns (64 cycles
/// a tile, read and written back: the port decides), weights refilled single-buffered into the
/// macros at the input-channel loop outside it (512 cycles). At that boundary the port writes
/// the last tile back and reads the next two, then sits idle until the first of them has been
/// worked on, 306 cycles: the refill waits for the last activation, and the next activation
/// for the refill. The port's time counts that idle time at every such boundary
/// (`cimopt_cost::timing::output_port_lead`); without it the model predicted 2 727 cycles,
/// simulated 2 763.
#[test]
fn an_output_streams_port_idles_while_a_weight_refill_stalls_the_activations() {
    let t = target("default", &[]);
    let w = conv(1, 4, 64, 128, 1, 1);
    let m = Mapping {
        spatial: vec![
            sf(Axis::Cores, Dim::P, 2),
            sf(Axis::Cores, Dim::K, 4),
            sf(Axis::Rows, Dim::C, 32),
            sf(Axis::Cols, Dim::K, 16),
        ],
        temporal: vec![
            lp(Dim::C, 2, [1, 0, 0]),
            lp(Dim::P, 2, [1, 0, 0]),
            lp(Dim::Q, 4, [1, 0, 0]),
            lp(Dim::K, 2, [1, 6, 2]),
        ],
        double_buffer: vec![
            (1, Operand::I),
            (1, Operand::W),
            (1, Operand::O),
            (2, Operand::O),
        ],
        padded_dims: w.extents(),
        home: [0; 3],
    };
    assert_eq!(
        predicts(&t, &w, &m, "an output port idle behind a weight refill"),
        (2763.0, 2763.0),
        "the port's idle time, exactly"
    );
}

/// The worst small random mapping of the ping-pong macro (a 1×1 layer, 8.54 % under) in small:
/// outputs streamed double-buffered from the global buffer into the array at a loop over
/// output channels, 15 cycles a partial-sum tile against 8 cycles of work, with a factor-1
/// loop of outputs at the global buffer inside, so the array waits for each write-back. At each
/// boundary the array waits for the read under way since its previous tile started (7 cycles
/// after that tile's work) and then for that tile's write-back (15): 22 cycles, at the first
/// boundary too, where the model counted 15 (one write-back). Predicted 1 246 cycles before,
/// simulated 1 344.
#[test]
fn a_synced_output_stream_into_a_ping_pong_array_waits_for_read_and_write_back() {
    let t = target("default", &["macro.ping_pong=true"]);
    let w = conv(1, 7, 4, 32, 1, 1);
    let m = Mapping {
        spatial: vec![
            sf(Axis::Cores, Dim::Q, 7),
            sf(Axis::Rows, Dim::C, 2),
            sf(Axis::Cols, Dim::K, 16),
        ],
        temporal: vec![
            lp(Dim::C, 2, [0, 0, 1]),
            lp(Dim::P, 7, [0, 0, 1]),
            lp(Dim::K, 2, [0, 0, 1]),
            lp(Dim::R, 1, [0, 0, 1]),
        ],
        double_buffer: vec![(1, Operand::I), (1, Operand::W), (1, Operand::O)],
        padded_dims: w.extents(),
        home: [0; 3],
    };
    assert_eq!(
        predicts(&t, &w, &m, "a synced output stream into a ping-pong array"),
        (1344.0, 1344.0)
    );
}

/// The worst small random mapping of the ping-pong macro (a 1×1 layer, 2.27 % under) in
/// full: outputs streamed double-buffered from the global buffer into the array at a loop over
/// output columns, 15 cycles a partial-sum tile against 8 cycles of work. The previous tile's
/// write-back starts with the last tile's work (it follows that tile's read) and outlasts it
/// by 7 cycles; the flush, and the next execution's first read, only follow it. That tail
/// comes after each of the loop's 32 executions, at the boundaries of the loops outside and
/// before the final copy back (`cimopt_cost::timing::output_tail`); without it the model
/// predicted 9 632 cycles, simulated 9 856.
#[test]
fn an_output_streams_last_write_back_delays_its_flush() {
    let t = target("default", &["macro.ping_pong=true"]);
    let w = conv(1, 7, 16, 32, 1, 1);
    let m = Mapping {
        spatial: vec![sf(Axis::Cores, Dim::P, 7), sf(Axis::Cols, Dim::K, 16)],
        temporal: vec![
            lp(Dim::C, 2, [1, 1, 0]),
            lp(Dim::C, 4, [1, 1, 0]),
            lp(Dim::K, 2, [1, 1, 0]),
            lp(Dim::C, 2, [1, 1, 1]),
            lp(Dim::Q, 7, [1, 1, 1]),
        ],
        double_buffer: vec![
            (1, Operand::W),
            (1, Operand::O),
            (2, Operand::O),
            (6, Operand::W),
        ],
        padded_dims: w.extents(),
        home: [0; 3],
    };
    assert_eq!(
        predicts(&t, &w, &m, "an output stream's tail before its flush"),
        (9856.0, 9856.0),
        "the tail, exactly"
    );
}
