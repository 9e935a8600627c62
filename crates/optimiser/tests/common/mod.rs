//! Workloads and targets the optimiser's test files share.
#![allow(dead_code)]

use cimopt_ir::{OpKind, WeightKind, Workload};
use cimopt_target::{Target, load};

/// A built-in target with `--set KEY=VALUE` overrides.
pub fn target(name: &str, set: &[&str]) -> Target {
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    load(name, &set).unwrap().target
}

/// Both presets and the variants that change what the latency terms reason about: registers
/// that hold several elements (no refill term) and a ping-pong macro (weights load while it
/// computes).
pub fn test_targets() -> Vec<Target> {
    vec![
        target("default", &[]),
        target("transformer", &[]),
        target(
            "default",
            &["levels.4.capacity=64bit", "levels.5.capacity=64bit"],
        ),
        target("default", &["macro.ping_pong=true"]),
    ]
}

/// A square convolution without padding.
pub fn conv(r: u64, p: u64, c: u64, k: u64, g: u64, stride: u64) -> Workload {
    Workload {
        op: OpKind::Conv,
        weight_kind: WeightKind::Constant,
        r,
        s: r,
        p,
        q: p,
        c,
        k,
        g,
        b: 1,
        h: (p - 1) * stride + r,
        w: (p - 1) * stride + r,
        stride: [stride, stride],
        pad: [0; 4],
        dilation: [1, 1],
        bits: cimopt_ir::Bits::FLOAT,
    }
}

/// `m × kdim` times `kdim × n` with constant weights.
pub fn matmul(m: u64, kdim: u64, n: u64) -> Workload {
    Workload {
        op: OpKind::MatMul,
        weight_kind: WeightKind::Constant,
        r: 1,
        s: 1,
        p: m,
        q: 1,
        c: kdim,
        k: n,
        g: 1,
        b: 1,
        h: m,
        w: 1,
        stride: [1, 1],
        pad: [0; 4],
        dilation: [1, 1],
        bits: cimopt_ir::Bits::FLOAT,
    }
}
