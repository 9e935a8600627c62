//! Experiment behind docs/optimiser.md ("1.3× over greedy ... is out of reach"): how much a
//! far larger search than the shipped budgets gains on ResNet-18 / `default`, and the bound it
//! proves.
//! `cargo run --example deep -p cimopt-optimiser` (about 6 minutes on one core).
//!
//! The workloads are ResNet-18's distinct layers with their multiplicities, and the latency
//! weight is the one `compile` derived from greedy's schedule, both as recorded in
//! `schedules/resnet18.default.schedule.json`. Per layer: the shipped search, then the deep
//! one (6× the spatial candidates, 3× the rounds, 10× the nodes) started from it and re-run
//! around each improvement, which walks greedy's loop-move neighbourhood further.
#[path = "shared/resnet18.rs"]
mod resnet18;

use cimopt_cost::Objective;
use cimopt_optimiser::{Options, optimise_from, spatial_bound};
use cimopt_space::{bounds::physical_bound, spatial};

/// The latency weight `compile` derived for ResNet-18 on `default` (nJ per cycle).
const LAMBDA: f64 = 0.2528850476874452;

fn main() {
    let layers = resnet18::layers();
    let t = cimopt_target::load("default", &[]).unwrap().target;
    let objective = Objective::Weighted {
        nj_per_cycle: LAMBDA,
    };
    let deep = Options {
        objective,
        spatial_candidates: 48,
        max_rounds: 30,
        max_nodes: 5000,
        time_limit_s: 900.0,
        ..Options::default()
    };
    let base = Options {
        objective,
        ..Options::default()
    };
    let (mut l0, mut e0, mut l1, mut e1) = (0.0, 0.0, 0.0, 0.0);
    let mut bound = 0.0;
    let (mut lg, mut eg) = (0.0, 0.0);
    // Whole-space bounds on each layer's latency and energy (every spatial candidate).
    let (mut l_lb, mut e_lb) = (0.0, 0.0);
    for (copies, w) in &layers {
        let t0 = std::time::Instant::now();
        let a = optimise_from(&t, w, &base, None).unwrap();
        let mut b = optimise_from(&t, w, &deep, Some(&a.mapping)).unwrap();
        for _ in 0..4 {
            let before = objective.of(&b.cost);
            let c = optimise_from(&t, w, &deep, Some(&b.mapping)).unwrap();
            if objective.of(&c.cost) < before * (1.0 - 1e-9) {
                b = c
            } else {
                break;
            }
        }
        let c = *copies as f64;
        l0 += c * a.cost.latency_cycles;
        e0 += c * a.cost.energy_nj;
        bound += c * b.stats.bound;
        let g = cimopt_mappers::greedy(&t, w, &cimopt_mappers::GreedyOptions::default()).unwrap();
        lg += c * g.cost.latency_cycles;
        eg += c * g.cost.energy_nj;
        let lb = physical_bound(&t, w).unwrap();
        let min_over = |o: Objective| {
            spatial::enumerate(&t, w)
                .unwrap()
                .iter()
                .map(|s| spatial_bound(&t, w, s, &lb, o))
                .fold(f64::INFINITY, f64::min)
        };
        l_lb += c * min_over(Objective::Latency);
        e_lb += c * min_over(Objective::Energy);
        l1 += c * b.cost.latency_cycles;
        e1 += c * b.cost.energy_nj;
        println!(
            "{:?} x{copies}: shipped {:.1} deep {:.1} ({:.3}x) bound {:.1} in {:.0}s",
            (w.r, w.p, w.c, w.k, w.stride[0]),
            objective.of(&a.cost),
            objective.of(&b.cost),
            objective.of(&a.cost) / objective.of(&b.cost),
            b.stats.bound,
            t0.elapsed().as_secs_f64()
        );
    }
    println!(
        "model EDP shipped {:.5e} deep {:.5e} gain {:.4}x",
        l0 * e0,
        l1 * e1,
        (l0 * e0) / (l1 * e1)
    );
    let shipped = objective.of_parts(l0, e0);
    println!(
        "sum of E + λ·L: shipped {shipped:.1} nJ, proven bound over the deep space {bound:.1} nJ ({:.1} % below)",
        100.0 * (1.0 - bound / shipped)
    );
    // The model EDP E·L of any schedule in the deep space, given E + λ·L ≥ bound, E ≥ e_lb,
    // L ≥ l_lb: the product is smallest at a vertex of that region.
    let greedy_edp = lg * eg;
    let edp_lb =
        (e_lb * l_lb.max((bound - e_lb) / LAMBDA)).min(l_lb * e_lb.max(bound - LAMBDA * l_lb));
    println!(
        "whole-space bounds: latency {l_lb:.0} cycles, energy {e_lb:.1} nJ; model EDP of any schedule in the deep space >= {edp_lb:.5e}; greedy's {greedy_edp:.5e} is {:.3}x that",
        greedy_edp / edp_lb
    );
}
