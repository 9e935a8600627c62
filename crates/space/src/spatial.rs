//! Spatial unrolling candidates: factors of allowed dims on cores, macro rows and columns.

use cimopt_ir::{SpatialFactor, Workload};
use cimopt_target::{Axis, Dim, Target};

/// Factors worth trying for `extent` iterations on an axis of `size`: every divisor that fits,
/// plus the whole axis when the extent is larger and no divisor fills it (the rest is padding).
pub fn axis_factors(extent: u64, size: u64) -> Vec<u64> {
    let mut f: Vec<u64> = (1..=extent.min(size))
        .filter(|d| extent.is_multiple_of(*d))
        .collect();
    if extent > size && !f.contains(&size) {
        f.push(size);
    }
    f
}

/// The most spatial unrollings of one layer any search or bound enumerates.
///
/// Every candidate is bounded one by one (a few microseconds each), so the space of a layer
/// must stay enumerable: at this limit a layer's bounds take about 3 s of one core. Real targets
/// are far inside it (the presets offer at most ~6 000 per layer, a 256-core target with
/// 512 × 512 macros ~30 000); a target that lets every dim unroll on every large axis offers
/// millions, and is refused with [`TooManyUnrollings`] instead of searched for hours.
pub const MAX_UNROLLINGS: usize = 500_000;

/// A layer whose spatial unrollings on a target exceed a limit ([`MAX_UNROLLINGS`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooManyUnrollings {
    pub limit: usize,
}

impl std::fmt::Display for TooManyUnrollings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "it has more than {} spatial unrollings on this target (the limit, cimopt_space::spatial::MAX_UNROLLINGS): \
             let fewer dims unroll on each axis (`spatial.cores.dims`, `spatial.rows.dims`, `spatial.cols.dims`) or make the axes smaller",
            self.limit
        )
    }
}

impl std::error::Error for TooManyUnrollings {}

/// All spatial candidates, each a list of factors (factor-1 entries left out), with a dim's
/// extent shared by the axes that unroll it; at most [`MAX_UNROLLINGS`].
pub fn enumerate(t: &Target, w: &Workload) -> Result<Vec<Vec<SpatialFactor>>, TooManyUnrollings> {
    enumerate_with(t, w, &axis_factors, MAX_UNROLLINGS)
}

/// Spatial unrollings with the factors `factors(extent left of the dim, room left on the axis)`
/// offers for each dim on each axis, in the same order as [`enumerate`]; an error as soon as
/// there are more than `limit`.
pub fn enumerate_with(
    t: &Target,
    w: &Workload,
    factors: &dyn Fn(u64, u64) -> Vec<u64>,
    limit: usize,
) -> Result<Vec<Vec<SpatialFactor>>, TooManyUnrollings> {
    let mut out = Vec::new();
    Walk {
        t,
        factors,
        limit,
        found: 0,
        out: Some(&mut out),
    }
    .run(w)?;
    Ok(out)
}

/// Whether the layer's spatial unrollings can be enumerated ([`enumerate`] would succeed),
/// found without building them.
pub fn check_enumerable(t: &Target, w: &Workload) -> Result<(), TooManyUnrollings> {
    Walk {
        t,
        factors: &axis_factors,
        limit: MAX_UNROLLINGS,
        found: 0,
        out: None,
    }
    .run(w)
}

/// A depth-first walk over the factors of each allowed dim on each axis, in axis order.
struct Walk<'a> {
    t: &'a Target,
    factors: &'a dyn Fn(u64, u64) -> Vec<u64>,
    limit: usize,
    found: usize,
    /// Where the unrollings go (`None`: only counted).
    out: Option<&'a mut Vec<Vec<SpatialFactor>>>,
}

impl Walk<'_> {
    fn run(&mut self, w: &Workload) -> Result<(), TooManyUnrollings> {
        self.axis(0, 0, 1, &mut w.extents(), &mut Vec::new())
    }

    /// Extends `current` with the factors of dim `dim_pos` of axis `axis` and beyond.
    fn axis(
        &mut self,
        axis: usize,
        dim_pos: usize,
        fill: u64,
        remaining: &mut [u64; 8],
        current: &mut Vec<SpatialFactor>,
    ) -> Result<(), TooManyUnrollings> {
        let t = self.t;
        if axis == t.axes.len() {
            if self.found == self.limit {
                return Err(TooManyUnrollings { limit: self.limit });
            }
            self.found += 1;
            if let Some(out) = self.out.as_mut() {
                out.push(current.clone());
            }
            return Ok(());
        }
        let a = &t.axes[axis];
        if dim_pos == a.dims.len() {
            return self.axis(axis + 1, 0, 1, remaining, current);
        }
        let d: Dim = a.dims[dim_pos];
        let extent = remaining[d.index()];
        for f in (self.factors)(extent, a.size / fill) {
            if f > 1 {
                current.push(SpatialFactor {
                    axis: Axis::ALL[axis],
                    dim: d,
                    factor: f,
                });
            }
            let saved = remaining[d.index()];
            remaining[d.index()] = saved.div_ceil(f);
            let walked = self.axis(axis, dim_pos + 1, fill * f, remaining, current);
            remaining[d.index()] = saved;
            if f > 1 {
                current.pop();
            }
            walked?;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use cimopt_ir::{OpKind, WeightKind};

    fn conv3x3(p: u64, c: u64, k: u64) -> Workload {
        Workload {
            op: OpKind::Conv,
            weight_kind: WeightKind::Constant,
            r: 3,
            s: 3,
            p,
            q: p,
            c,
            k,
            g: 1,
            b: 1,
            h: p + 2,
            w: p + 2,
            stride: [1, 1],
            pad: [0; 4],
            dilation: [1, 1],
            bits: cimopt_ir::Bits::FLOAT,
        }
    }

    fn target(set: &[&str]) -> Target {
        let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        cimopt_target::load("default", &set).unwrap().target
    }

    const EVERY_DIM: &str = r#"["R","S","P","Q","C","K","G","B"]"#;

    #[test]
    fn the_presets_spaces_are_enumerated_whole() {
        let w = conv3x3(56, 64, 64);
        for name in ["default", "transformer"] {
            let t = cimopt_target::load(name, &[]).unwrap().target;
            let all = enumerate(&t, &w).unwrap();
            assert!(!all.is_empty() && all.len() < MAX_UNROLLINGS);
            assert_eq!(check_enumerable(&t, &w), Ok(()));
            // No unrolling twice.
            let mut sorted: Vec<String> = all.iter().map(|s| format!("{s:?}")).collect();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), all.len());
        }
    }

    #[test]
    fn the_limit_is_exact() {
        let t = target(&[]);
        let w = conv3x3(56, 64, 64);
        let n = enumerate(&t, &w).unwrap().len();
        assert_eq!(enumerate_with(&t, &w, &axis_factors, n).unwrap().len(), n);
        assert_eq!(
            enumerate_with(&t, &w, &axis_factors, n - 1),
            Err(TooManyUnrollings { limit: n - 1 })
        );
    }

    #[test]
    fn a_space_too_large_to_search_is_refused_at_once() {
        // Every dim on every axis of a 65536-core target with 65536 macro columns: the fuzzer's
        // hang (tens of millions of unrollings, bounded one by one for minutes). Refused after
        // MAX_UNROLLINGS steps of the walk, without building them.
        let cores = format!("spatial.cores.dims={EVERY_DIM}");
        let rows = format!("spatial.rows.dims={EVERY_DIM}");
        let cols = format!("spatial.cols.dims={EVERY_DIM}");
        let t = target(&["cores=65536", "macro.cols=65536", &cores, &rows, &cols]);
        let w = conv3x3(56, 64, 64);
        let e = check_enumerable(&t, &w).unwrap_err();
        assert_eq!(e.limit, MAX_UNROLLINGS);
        assert_eq!(enumerate(&t, &w), Err(e.clone()));
        let msg = e.to_string();
        assert!(msg.contains("spatial unrollings") && msg.contains("spatial.cores.dims"));
        // The same dims on the default's sizes stay searchable for a small layer.
        let t = target(&[&cores, &rows, &cols]);
        assert!(enumerate(&t, &conv3x3(7, 8, 8)).is_ok());
    }
}
