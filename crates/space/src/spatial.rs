//! Spatial unrolling candidates: factors of allowed dims on cores, macro rows and columns.

use cimopt_ir::{SpatialFactor, Workload};
use cimopt_target::{Axis, Dim, Target};

/// Factors worth trying for `extent` iterations on an axis of `size`: every divisor that fits,
/// plus the whole axis when the extent is larger and no divisor fills it (the rest is padding).
pub fn axis_factors(extent: u64, size: u64) -> Vec<u64> {
    let mut f: Vec<u64> = (1..=extent.min(size)).filter(|d| extent % d == 0).collect();
    if extent > size && !f.contains(&size) {
        f.push(size);
    }
    f
}

/// All spatial candidates, each a list of factors (factor-1 entries left out), with a dim's
/// extent shared by the axes that unroll it.
pub fn enumerate(t: &Target, w: &Workload) -> Vec<Vec<SpatialFactor>> {
    enumerate_with(t, w, &axis_factors)
}

/// Spatial unrollings with the factors `factors(extent left of the dim, room left on the axis)`
/// offers for each dim on each axis, in the same order as [`enumerate`].
pub fn enumerate_with(
    t: &Target,
    w: &Workload,
    factors: &dyn Fn(u64, u64) -> Vec<u64>,
) -> Vec<Vec<SpatialFactor>> {
    let mut out = Vec::new();
    let mut remaining = w.extents();
    let mut current = Vec::new();
    walk(t, factors, 0, 0, 1, &mut remaining, &mut current, &mut out);
    out
}

#[allow(clippy::too_many_arguments)]
fn walk(
    t: &Target,
    factors: &dyn Fn(u64, u64) -> Vec<u64>,
    axis: usize,
    dim_pos: usize,
    fill: u64,
    remaining: &mut [u64; 8],
    current: &mut Vec<SpatialFactor>,
    out: &mut Vec<Vec<SpatialFactor>>,
) {
    if axis == t.axes.len() {
        out.push(current.clone());
        return;
    }
    let a = &t.axes[axis];
    if dim_pos == a.dims.len() {
        walk(t, factors, axis + 1, 0, 1, remaining, current, out);
        return;
    }
    let d: Dim = a.dims[dim_pos];
    let extent = remaining[d.index()];
    for f in factors(extent, a.size / fill) {
        if f > 1 {
            current.push(SpatialFactor {
                axis: Axis::ALL[axis],
                dim: d,
                factor: f,
            });
        }
        let saved = remaining[d.index()];
        remaining[d.index()] = saved.div_ceil(f);
        walk(
            t,
            factors,
            axis,
            dim_pos + 1,
            fill * f,
            remaining,
            current,
            out,
        );
        remaining[d.index()] = saved;
        if f > 1 {
            current.pop();
        }
    }
}

/// Temporal trip count of each dim and the padded extent, given spatial factors.
pub fn trips(w: &Workload, spatial: &[SpatialFactor]) -> ([u64; 8], [u64; 8]) {
    let mut trips = [0u64; 8];
    let mut padded = [0u64; 8];
    for d in Dim::ALL {
        let s: u64 = spatial
            .iter()
            .filter(|f| f.dim == d)
            .map(|f| f.factor)
            .product();
        trips[d.index()] = w.extent(d).div_ceil(s);
        padded[d.index()] = trips[d.index()] * s;
    }
    (trips, padded)
}

/// Fraction of the peak MACs that do useful work with these spatial factors.
pub fn utilisation(t: &Target, w: &Workload, spatial: &[SpatialFactor]) -> f64 {
    let (trips, _) = trips(w, spatial);
    let activations: u64 = trips.iter().product();
    w.macs() as f64 / (activations as f64 * t.peak_macs_per_activation() as f64)
}
