//! The lowest model EDP any schedule of ResNet-18 on `default` can have, whatever its spatial
//! unrolling, loop splits, loop orders, levels and double buffering (docs/optimiser.md, "1.3×
//! over greedy ... is out of reach"). `cargo run --example whole_space -p cimopt-optimiser`
//! (seconds).
//!
//! Per layer, spatial candidate and level the weights come from, the analytical bounds
//! (`cimopt_space::bounds::candidate_bounds`) give a latency `L_s` and an energy
//! `E_s = E0_s + leakage·L_s`. A schedule picks one such case per layer copy, so the model's
//! `(ΣE0, ΣL)` lies above the Minkowski sum of the layers' point sets, hence above the sum of
//! their lower-left convex hulls. Model EDP `(ΣE0 + leakage·ΣL)·ΣL` grows with both sums and
//! is smallest on that chain at a vertex. The spatial unrollings are all of them, not only the
//! ones the mappers enumerate.
#[path = "shared/resnet18.rs"]
mod resnet18;

use cimopt_ir::{SpatialFactor, Workload};
use cimopt_space::bounds::{candidate_bounds, model_edp_bound, physical_bound};
use cimopt_space::spatial;
use cimopt_target::Target;

/// Every spatial unrolling: any factor of each allowed dim on each axis (not only divisors; the
/// trips round up and the rest is padding), the product on an axis within its size. A factor
/// above what is left of a dim only under-fills more and moves larger tiles for the same trips,
/// which no bound rewards, so factors stop there.
fn every_unrolling(t: &Target, w: &Workload) -> Vec<Vec<SpatialFactor>> {
    // Far more than the mappers' divisors, but still enumerable on the default target.
    spatial::enumerate_with(
        t,
        w,
        &|bound, room| (1..=room.min(bound)).collect(),
        usize::MAX,
    )
    .unwrap()
}

fn main() {
    let layers = resnet18::layers();
    let t = cimopt_target::load("default", &[]).unwrap().target;
    let mut cases = Vec::new();
    let (mut lg, mut eg) = (0.0, 0.0);
    for (copies, w) in &layers {
        let lb = physical_bound(&t, w).unwrap();
        let unrollings = every_unrolling(&t, w);
        assert!(unrollings.len() >= spatial::enumerate(&t, w).unwrap().len());
        let bounds: Vec<_> = unrollings
            .iter()
            .flat_map(|s| candidate_bounds(&t, w, s, &lb))
            .collect();
        let g = cimopt_mappers::greedy(&t, w, &cimopt_mappers::GreedyOptions::default()).unwrap();
        lg += *copies as f64 * g.cost.latency_cycles;
        eg += *copies as f64 * g.cost.energy_nj;
        println!(
            "{:?} x{copies}: {} unrollings, latency >= {:.0} cycles (greedy {:.0})",
            (w.r, w.p, w.c, w.k, w.stride[0]),
            unrollings.len(),
            bounds
                .iter()
                .map(|b| b.cycles)
                .fold(f64::INFINITY, f64::min),
            g.cost.latency_cycles,
        );
        cases.push((*copies, bounds));
    }
    let bound = model_edp_bound(&t, &cases);
    let (edp_lb, l, e) = (bound.edp, bound.latency_cycles, bound.energy_nj);
    println!(
        "every schedule: model EDP >= {edp_lb:.5e} (at latency {l:.0} cycles, energy {e:.1} nJ); greedy {:.5e} is {:.3}x that",
        lg * eg,
        lg * eg / edp_lb
    );
}
