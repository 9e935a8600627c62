//! Loop-order templates: the three classic stationarities as orders of all eight dims.

use cimopt_target::Dim;

/// Loop-order templates, outer to inner.
pub const WEIGHT_STATIONARY: [Dim; 8] = [
    Dim::G,
    Dim::K,
    Dim::C,
    Dim::R,
    Dim::S,
    Dim::B,
    Dim::P,
    Dim::Q,
];
pub const OUTPUT_STATIONARY: [Dim; 8] = [
    Dim::G,
    Dim::K,
    Dim::B,
    Dim::P,
    Dim::Q,
    Dim::C,
    Dim::R,
    Dim::S,
];
pub const INPUT_STATIONARY: [Dim; 8] = [
    Dim::G,
    Dim::C,
    Dim::R,
    Dim::S,
    Dim::B,
    Dim::P,
    Dim::Q,
    Dim::K,
];

/// The loops of a template order over the given trip counts (trip-1 dims left out; one
/// factor-1 loop when every trip count is 1).
pub fn loops_in_order(order: &[Dim], trips: &[u64; 8]) -> Vec<(Dim, u64)> {
    let mut loops: Vec<(Dim, u64)> = order
        .iter()
        .map(|&d| (d, trips[d.index()]))
        .filter(|&(_, f)| f > 1)
        .collect();
    if loops.is_empty() {
        loops.push((order[order.len() - 1], 1));
    }
    loops
}
