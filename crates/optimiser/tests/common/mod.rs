//! Workloads and targets the optimiser's test files share.
#![allow(dead_code)]

use cimopt_ir::{SpatialFactor, TemporalLoop, Workload};
use cimopt_target::{Axis, Dim, Target, load};

/// A temporal loop of a hand-written mapping: its levels for inputs, weights and outputs.
pub fn lp(dim: Dim, factor: u64, level: [usize; 3]) -> TemporalLoop {
    TemporalLoop { dim, factor, level }
}

/// A spatial factor of a hand-written mapping.
pub fn sf(axis: Axis, dim: Dim, factor: u64) -> SpatialFactor {
    SpatialFactor { axis, dim, factor }
}

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

/// A square convolution without padding ([`Workload::square_conv`]).
pub fn conv(r: u64, p: u64, c: u64, k: u64, g: u64, stride: u64) -> Workload {
    Workload::square_conv(r, p, c, k, g, stride)
}

/// A 3×3 convolution padded by one on every side, as ResNet's are: `p × p` outputs from
/// `(p·stride)²` inputs.
pub fn padded_conv3(p: u64, c: u64, k: u64, stride: u64) -> Workload {
    Workload {
        h: p * stride,
        w: p * stride,
        pad: [1; 4],
        ..conv(3, p, c, k, 1, stride)
    }
}

/// A level of `t` by name (the test's target must have it).
pub fn level(t: &Target, name: &str) -> usize {
    t.level_by_name(name)
        .unwrap_or_else(|| panic!("{} has no level {name}", t.name))
}

/// `m × kdim` times `kdim × n` with constant weights.
pub fn matmul(m: u64, kdim: u64, n: u64) -> Workload {
    Workload::matmul(m, kdim, n)
}

/// Small layers of varied shapes: 1×1, 3×3, depthwise, strided, MatMul, and primes 7 and 13
/// in the dims.
pub fn small_layers() -> Vec<(&'static str, Workload)> {
    vec![
        ("1x1 c16 k32 7x7", conv(1, 7, 16, 32, 1, 1)),
        ("3x3 c8 k16 5x5", conv(3, 5, 8, 16, 1, 1)),
        ("depthwise 3x3 g16 7x7", conv(3, 7, 1, 1, 16, 1)),
        ("3x3 stride 2 c4 k13 3x3", conv(3, 3, 4, 13, 1, 2)),
        ("matmul 13x64x32", matmul(13, 64, 32)),
    ]
}
