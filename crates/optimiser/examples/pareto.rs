//! Where one layer's gap lies, at fixed homes: the optimiser's result for objectives from
//! energy alone to latency alone, each against the whole-space bound of that objective and
//! against the smallest latency and energy bounds of any candidate. A latency or energy far
//! above its own bound even when the objective is that metric alone says that metric's bound
//! (or the search) is loose; both close to their bounds at the ends but not in between says the
//! gap is the trade-off between them, which per-metric bounds cannot see.
//! `cargo run --example pareto -p cimopt-optimiser -- R P C K stride I,W,O` (homes as level
//! indices on `default`, e.g. `3 56 64 64 1 0,0,1`: ResNet-18's `layer1.0.conv1` with its
//! outputs in the global buffer).
use cimopt_cost::Objective;
use cimopt_ir::Workload;
use cimopt_optimiser::{Options, optimise_from};
use cimopt_space::bounds::{candidate_bounds, physical_bound_at};
use cimopt_space::spatial;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: pareto R P C K stride I,W,O";
    let n: Vec<u64> = args
        .iter()
        .take(5)
        .map(|s| s.parse().expect(usage))
        .collect();
    let home: Vec<usize> = args
        .get(5)
        .map_or("0,0,0", |s| s.as_str())
        .split(',')
        .map(|s| s.parse().expect(usage))
        .collect();
    assert!(n.len() == 5 && home.len() == 3, "{usage}");
    let home = [home[0], home[1], home[2]];
    let w = Workload::square_conv(n[0], n[1], n[2], n[3], 1, n[4]);
    let t = cimopt_target::load("default", &[]).unwrap().target;
    let leak = t.leakage_nj_per_cycle;
    let lb = physical_bound_at(&t, &w, home).unwrap();
    let all: Vec<_> = spatial::enumerate(&t, &w)
        .unwrap()
        .iter()
        .flat_map(|s| candidate_bounds(&t, &w, s, &lb))
        .collect();
    let l_min = all.iter().map(|b| b.cycles).fold(f64::INFINITY, f64::min);
    let e_min = all
        .iter()
        .map(|b| b.energy_nj + leak * b.cycles)
        .fold(f64::INFINITY, f64::min);
    println!("every mapping: latency ≥ {l_min:.0} cycles, energy ≥ {e_min:.1} nJ");
    let weighted = |nj_per_cycle| Objective::Weighted { nj_per_cycle };
    for objective in [
        Objective::Energy,
        weighted(0.05),
        weighted(0.25),
        weighted(1.0),
        Objective::Latency,
    ] {
        let opts = Options {
            objective,
            home,
            ..Options::default()
        };
        let o = optimise_from(&t, &w, &opts, None).unwrap();
        let (l, e) = (o.cost.latency_cycles, o.cost.energy_nj);
        println!(
            "{objective:?}: latency {l:.0} ({:.3}× its bound), energy {e:.1} nJ ({:.3}×), \
             objective {:.1}, bound {:.1}, gap {:.1} %",
            l / l_min,
            e / e_min,
            o.stats.objective,
            o.stats.bound,
            100.0 * o.stats.gap
        );
    }
}
