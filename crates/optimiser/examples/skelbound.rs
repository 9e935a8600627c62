//! Experiment: per spatial candidate, the smallest profiles' bound over every skeleton.
#[path = "shared/resnet18.rs"]
mod resnet18;
use cimopt_cost::Objective;
use cimopt_optimiser::{Options, model, optimise, skeleton_space, spatial_bound};
use cimopt_space::bounds::physical_bound_at;
use cimopt_space::{spatial, whole};
use cimopt_target::Axis;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which: usize = args.first().map_or(1, |s| s.parse().unwrap());
    let limit: u64 = args.get(1).map_or(3000, |s| s.parse().unwrap());
    let ncand: usize = args.get(2).map_or(5, |s| s.parse().unwrap());
    let t = cimopt_target::load("default", &[]).unwrap().target;
    let w = resnet18::layers()[which].1.clone();
    let objective = Objective::Weighted {
        nj_per_cycle: 0.2528850476874452,
    };
    let r = optimise(
        &t,
        &w,
        &Options {
            objective,
            ..Options::default()
        },
    )
    .unwrap();
    println!(
        "result {:.5e} bound {:.5e} gap {:.3}",
        r.stats.objective, r.stats.bound, r.stats.gap
    );
    let lb = physical_bound_at(&t, &w, [0; 3]).unwrap();
    let mut cands: Vec<(f64, Vec<cimopt_ir::SpatialFactor>)> = spatial::enumerate(&t, &w)
        .unwrap()
        .into_iter()
        .map(|s| (spatial_bound(&t, &w, &s, &lb, objective), s))
        .collect();
    cands.sort_by(|a, b| a.0.total_cmp(&b.0));
    let below = cands.iter().filter(|c| c.0 < r.stats.objective).count();
    println!("candidates {} below result {}", cands.len(), below);
    let prec = cimopt_ir::analysis::layer_precision(&t, &w);
    for (ab, s) in cands.iter().take(ncand) {
        let (trips, _) = spatial::trips(&w, s);
        let count = whole::loop_list_count(&trips);
        let mine = *s == r.mapping.spatial;
        if count > limit {
            println!("cand analytic {ab:.5e} skeletons {count} (skipped) mine {mine}");
            continue;
        }
        let t0 = Instant::now();
        let mut best = f64::INFINITY;
        let mut n = 0;
        for sk in whole::skeletons_of(&w, s, [0; 3]) {
            let Some(space) = skeleton_space(&t, &w, &sk, usize::MAX) else {
                continue;
            };
            let inp = model::ModelInput {
                target: &t,
                skeleton: &sk,
                profiles: [&space.profiles[0], &space.profiles[1], &space.profiles[2]],
                objective,
                t_mac_cycles: t.t_mac_at(&prec),
                mac_energy_nj: t.activation_energy_nj_at(&prec)
                    * sk.activations() as f64
                    * sk.spatial
                        .iter()
                        .filter(|f| f.axis == Axis::Cores)
                        .map(|f| f.factor)
                        .product::<u64>() as f64,
                latency_ref: 1.0,
                energy_ref: 1.0,
                cutoff: f64::INFINITY,
                excluded: &[],
                gap: 1e-9,
                time_limit_s: 60.0,
                max_nodes: 1,
                fixed: None,
            };
            best = best.min(model::separable_bound(&inp));
            n += 1;
        }
        println!(
            "cand analytic {ab:.5e} skeletons {count} min profiles' bound {best:.5e} ({:.3} of result) in {:.1}s ({n}) mine {mine}",
            best / r.stats.objective,
            t0.elapsed().as_secs_f64()
        );
    }
}
