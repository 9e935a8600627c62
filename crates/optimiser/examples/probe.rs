//! Times the optimiser's phases on one conv layer:
//! `cargo run --example probe -- R P C K stride [latency weight, nJ/cycle]` (EDP without a weight).
use cimopt_cost::Objective;
use cimopt_ir::{OpKind, WeightKind, Workload};
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
    let w = Workload {
        op: OpKind::Conv,
        weight_kind: WeightKind::Constant,
        r,
        s: r,
        p,
        q: p,
        c,
        k,
        g: 1,
        b: 1,
        h: (p - 1) * st + r,
        w: (p - 1) * st + r,
        stride: [st, st],
        pad: [0; 4],
        dilation: [1, 1],
        bits: cimopt_ir::Bits::FLOAT,
    };
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
