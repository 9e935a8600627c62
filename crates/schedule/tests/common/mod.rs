//! Fixtures: schedules on the `default` preset built by hand, and a writer that validates
//! everything it writes against the schema.

#![allow(dead_code)]

use cimopt_ir::{Layer, Mapping, OpKind, SpatialFactor, TemporalLoop, WeightKind, Workload};
use cimopt_schedule::*;
use cimopt_target::{Axis, Dim, Operand, Target};
use std::collections::BTreeMap;

// Level indices of the default preset.
pub const DRAM: usize = 0;
pub const GBUF: usize = 1;
pub const OBUF: usize = 2;
pub const IBUF: usize = 3;
pub const OREG: usize = 4;
pub const IREG: usize = 5;
pub const MACRO: usize = 6;
// Axis indices.
pub const CORES: Axis = Axis::Cores;
pub const ROWS: Axis = Axis::Rows;
pub const COLS: Axis = Axis::Cols;

pub fn target() -> Target {
    cimopt_target::load("default", &[]).unwrap().target
}

/// Serialises and checks the text against the schema: every document a test writes goes
/// through here.
pub fn write(s: &Schedule) -> String {
    let text = to_json(s);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    if let Err(errors) = validate_against_schema(&value) {
        panic!(
            "a written schedule does not match the schema:\n{}\n\n{text}",
            errors.join("\n")
        );
    }
    text
}

/// 1×1 conv, C = K = 64, P = Q = 8.
pub fn conv1x1() -> Workload {
    Workload {
        op: OpKind::Conv,
        weight_kind: WeightKind::Constant,
        r: 1,
        s: 1,
        p: 8,
        q: 8,
        c: 64,
        k: 64,
        g: 1,
        b: 1,
        h: 8,
        w: 8,
        stride: [1, 1],
        pad: [0; 4],
        dilation: [1, 1],
        // As compile writes them: the widths each layer runs at.
        bits: cimopt_ir::Bits {
            input: Some(8),
            weight: Some(8),
            output: Some(8),
        },
    }
}

/// A 4 × 64 × 100 Gemm: K = 100 is padded to 112 (7 × 16 columns).
pub fn gemm() -> Workload {
    Workload {
        op: OpKind::Gemm,
        weight_kind: WeightKind::Constant,
        r: 1,
        s: 1,
        p: 4,
        q: 1,
        c: 64,
        k: 100,
        g: 1,
        b: 1,
        h: 4,
        w: 1,
        stride: [1, 1],
        pad: [0; 4],
        dilation: [1, 1],
        // As compile writes them: the widths each layer runs at.
        bits: cimopt_ir::Bits {
            input: Some(8),
            weight: Some(8),
            output: Some(8),
        },
    }
}

pub fn tl(dim: Dim, factor: u64, i: usize, w: usize, o: usize) -> TemporalLoop {
    TemporalLoop {
        dim,
        factor,
        level: [i, w, o],
    }
}

pub fn sf(axis: Axis, dim: Dim, factor: u64) -> SpatialFactor {
    SpatialFactor { axis, dim, factor }
}

pub fn conv_mapping() -> Mapping {
    Mapping {
        spatial: vec![
            sf(CORES, Dim::K, 4),
            sf(ROWS, Dim::C, 32),
            sf(COLS, Dim::K, 16),
        ],
        temporal: vec![
            tl(Dim::P, 8, DRAM, DRAM, DRAM),
            tl(Dim::Q, 8, GBUF, GBUF, OBUF),
            tl(Dim::C, 2, IBUF, MACRO, OREG),
        ],
        double_buffer: vec![(GBUF, Operand::I), (IBUF, Operand::I)],
        padded_dims: conv1x1().extents(),
        home: [0; 3],
    }
}

pub fn gemm_mapping() -> Mapping {
    let mut padded = gemm().extents();
    padded[Dim::K.index()] = 112;
    Mapping {
        spatial: vec![sf(ROWS, Dim::C, 32), sf(COLS, Dim::K, 16)],
        temporal: vec![
            tl(Dim::K, 7, DRAM, DRAM, DRAM),
            tl(Dim::P, 4, GBUF, GBUF, OBUF),
            tl(Dim::C, 2, IBUF, MACRO, OREG),
        ],
        double_buffer: vec![(GBUF, Operand::W)],
        padded_dims: padded,
        home: [0; 3],
    }
}

pub fn layer(index: usize, name: &str, workload: Workload, dedup_group: usize) -> Layer {
    Layer {
        index,
        name: name.to_string(),
        onnx_nodes: vec![name.to_string(), format!("{name}_relu")],
        workload,
        dedup_group,
        has_bias: index != 1,
    }
}

pub fn metrics(latency: f64, energy: f64) -> Metrics {
    let mut breakdown = BTreeMap::new();
    breakdown.insert("energy.dram_nj".to_string(), energy * 0.7);
    breakdown.insert("energy.macro_nj".to_string(), 0.1 + 0.2);
    breakdown.insert("latency.stall_cycles".to_string(), 1e-7);
    Metrics {
        latency_cycles: latency,
        energy_nj: energy,
        edp: latency * energy,
        breakdown: cimopt_schedule::Breakdown::from_keys(&breakdown, &target()),
    }
}

/// Three layers (a conv, a padded Gemm, and a repeat of the conv), metrics, solve
/// statistics, a skipped node and non-CIM ops.
pub fn schedule() -> Schedule {
    let t = target();
    let solve = SolveInfo {
        mapper: "mip".into(),
        status: "optimal".into(),
        objective: Some(123456.789),
        best_bound: Some(120000.0),
        gap: Some(0.027_7),
        space_bound: Some(123000.0),
        space_gap: Some(0.003_696),
        wall_s: Some(1.25),
        candidates: Some(Candidates {
            enumerated: 180,
            pruned_by_bound: 150,
            solved: 30,
        }),
        warm_start: Some(true),
        cache_hit: Some(false),
        stop_reasons: vec!["gap_reached".into()],
    };
    let mut sim = metrics(2061.0, 13.5);
    sim.breakdown = Default::default();
    Schedule {
        plan: None,
        producer: Producer {
            tool: "cimopt".into(),
            version: "0.1.0".into(),
            mapper: "mip".into(),
            objective: "edp".into(),
            solver: Some("highs".into()),
            solver_options: BTreeMap::from([
                ("threads".to_string(), "1".to_string()),
                ("time_limit_s".to_string(), "60".to_string()),
            ]),
        },
        inputs: Inputs {
            model_file: "models/tiny.onnx".into(),
            model_sha256: sha256_hex(b"not really an onnx model"),
            target_name: "default".into(),
            target_sha256: target_sha256(&t),
            target: t,
        },
        layers: vec![
            ScheduledLayer {
                layer: layer(0, "conv1", conv1x1(), 0),
                same_as: None,
                mapping: conv_mapping(),
                predicted: Some(metrics(2048.0, 12.25)),
                simulated: Some(sim),
                solve: solve.clone(),
            },
            ScheduledLayer {
                layer: layer(1, "fc", gemm(), 1),
                same_as: None,
                mapping: gemm_mapping(),
                predicted: Some(metrics(1000.5, 3.0e-3)),
                simulated: None,
                solve: SolveInfo {
                    mapper: "heuristic".into(),
                    status: "feasible".into(),
                    objective: None,
                    best_bound: None,
                    gap: None,
                    space_bound: None,
                    space_gap: None,
                    wall_s: Some(0.001),
                    candidates: None,
                    warm_start: None,
                    cache_hit: None,
                    stop_reasons: vec![],
                },
            },
            ScheduledLayer {
                layer: layer(2, "conv2", conv1x1(), 0),
                same_as: Some(0),
                mapping: conv_mapping(),
                predicted: Some(metrics(2048.0, 12.25)),
                simulated: None,
                solve: SolveInfo {
                    status: "reused".into(),
                    cache_hit: Some(true),
                    ..solve
                },
            },
        ],
        model: ModelSummary {
            latency_cycles: 5096.5,
            energy_nj: 24.503,
            edp: 5096.5 * 24.503,
            lower_bound_cycles: 4000.0,
            simulated_latency_cycles: None,
            simulated_energy_nj: None,
            skipped_nodes: vec![SkippedNode {
                name: "loop0".into(),
                op: "Loop".into(),
                reason: "control flow is not supported".into(),
                macs: Some(3 * 3 * 64 * 64 * 56 * 56),
            }],
            non_cim_ops: vec![
                NonCimOp {
                    name: "pool".into(),
                    op: "MaxPool".into(),
                    output_elements: 1024,
                },
                NonCimOp {
                    name: "add".into(),
                    op: "Add".into(),
                    output_elements: 4096,
                },
            ],
        },
    }
}
