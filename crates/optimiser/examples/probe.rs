//! Times the optimiser's phases on one conv layer:
//! `cargo run --example probe -- R P C K stride [latency weight, nJ/cycle]` (EDP without a weight).
use cimopt_cost::Objective;
use cimopt_ir::Workload;
use cimopt_optimiser::{Options, optimise, skeleton_space, skeletons};
use cimopt_space::spatial;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<u64> = args.iter().take(5).map(|s| s.parse().unwrap()).collect();
    let objective = match args.get(5) {
        Some(l) => Objective::Weighted {
            nj_per_cycle: l.parse().unwrap(),
        },
        None => Objective::Edp,
    };
    let (r, p, c, k, st) = (a[0], a[1], a[2], a[3], a[4]);
    let w = Workload::square_conv(r, p, c, k, 1, st);
    let t = cimopt_target::load("default", &[]).unwrap().target;
    let s = &spatial::enumerate(&t, &w).unwrap()[0];
    for sk in skeletons(&w, s, &[]) {
        let t0 = Instant::now();
        let sp = skeleton_space(&t, &w, &sk, usize::MAX).unwrap();
        println!(
            "skeleton {:?}: placements {:?} in {:.3}s",
            sk.loops,
            sp.placements.iter().map(|p| p.len()).collect::<Vec<_>>(),
            t0.elapsed().as_secs_f64()
        );
    }
    let t0 = Instant::now();
    let r = optimise(
        &t,
        &w,
        &Options {
            objective,
            ..Options::default()
        },
    )
    .unwrap();
    println!("optimise {:.2}s {:?}", t0.elapsed().as_secs_f64(), r.stats);
}
