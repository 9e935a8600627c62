//! Are there better mappings than a schedule's, in skeletons no search looked at? Per distinct
//! layer of a schedule, draws random skeletons (splits and orders of the loops) of the spatial
//! candidates whose analytical bound is below the layer's objective, lowest bound first, and
//! searches each for its best placements against the schedule's mapping. Prints what it found.
//! An experiment for issue 16's "from above": the gap between a result and its bound is
//! either a better mapping no search found or a loose bound, and this looks for the first.
//! `cargo run --example sample_skeletons -p cimopt-pipeline -- schedule.json [draws per
//! candidate, default 200] [candidates, default 4] [layer id]`
use cimopt_cost::{Objective, evaluate};
use cimopt_optimiser::{Options, improve_skeleton, skeleton_space, spatial_bound};
use cimopt_space::bounds::physical_bound_at;
use cimopt_space::random::Rng;
use cimopt_space::spatial;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: sample_skeletons <schedule.json>")?;
    let draws: usize = args.get(2).map_or(Ok(200), |s| s.parse())?;
    let per_layer: usize = args.get(3).map_or(Ok(4), |s| s.parse())?;
    let only: Option<usize> = args.get(4).map(|s| s.parse()).transpose()?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let t = cimopt_schedule::embedded_target(&text)?;
    let s = cimopt_schedule::from_json(&text, Some(&t))?;
    for (id, l) in s.layers.iter().enumerate() {
        if l.same_as.is_some() || only.is_some_and(|o| o != id) {
            continue;
        }
        let w = &l.layer.workload;
        let m0 = &l.mapping;
        let c0 = evaluate(&t, w, m0);
        let obj = l.solve.objective.unwrap_or(f64::NAN);
        let lambda = (obj - c0.energy_nj) / c0.latency_cycles;
        let objective = Objective::Weighted {
            nj_per_cycle: lambda,
        };
        let lb = physical_bound_at(&t, w, m0.home)?;
        let mut cands: Vec<(f64, Vec<_>)> = spatial::enumerate(&t, w)?
            .into_iter()
            .map(|sp| (spatial_bound(&t, w, &sp, &lb, objective), sp))
            .filter(|(b, _)| *b * 1.001 < obj)
            .collect();
        cands.sort_by(|a, b| a.0.total_cmp(&b.0));
        let opts = Options {
            objective,
            home: m0.home,
            ..Options::default()
        };
        let mut best = (m0.clone(), c0.clone());
        let mut rng = Rng::new(1 + id as u64);
        let started = std::time::Instant::now();
        for (b, sp) in cands.iter().take(per_layer) {
            let (trips, padded) = spatial::trips(w, sp);
            for draw in 0..draws {
                let sk = cimopt_space::Skeleton {
                    spatial: sp.clone(),
                    loops: cimopt_space::random::random_loops(&trips, &mut rng),
                    padded,
                    home: m0.home,
                };
                let Some(space) = skeleton_space(&t, w, &sk, opts.placement_limit) else {
                    continue;
                };
                let before = objective.of(&best.1);
                let (m, c, _) = improve_skeleton(&t, w, &space, &opts, best.clone());
                if objective.of(&c) < before {
                    println!(
                        "  layer {id} draw {draw}: {:.6e} -> {:.6e} ({:+.2} %) candidate bound {:.6e} loops {:?}",
                        before,
                        objective.of(&c),
                        100.0 * (objective.of(&c) / before - 1.0),
                        b,
                        sk.loops
                    );
                    best = (m, c);
                }
            }
        }
        let found = objective.of(&best.1);
        println!(
            "{id:>3} {:<40} gap {:>5.1} % objective {:.6e} sampled best {:.6e} ({:+.2} %) candidates {} of {} in {:.1} s",
            &l.layer.name[..l.layer.name.len().min(40)],
            100.0 * l.solve.gap.unwrap_or(f64::NAN),
            obj,
            found,
            100.0 * (found / obj - 1.0),
            per_layer.min(cands.len()),
            cands.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
