//! Times the optimiser's phases on one conv layer: `cargo run --example probe -- R P C K stride`.
use cimopt_cost::Objective;
use cimopt_ir::{OpKind, WeightKind, Workload};
use cimopt_mappers::spatial;
use cimopt_optimiser::{Options, optimise, skeleton_space, skeletons};
use std::time::Instant;

fn main() {
    let a: Vec<u64> = std::env::args()
        .skip(1)
        .map(|s| s.parse().unwrap())
        .collect();
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
    };
    let t = cimopt_target::load("default", &[]).unwrap().target;
    let s = &spatial::enumerate(&t, &w)[0];
    for sk in skeletons(&w, s, None) {
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
            objective: Objective::Edp,
            ..Options::default()
        },
    )
    .unwrap();
    println!("optimise {:.2}s {:?}", t0.elapsed().as_secs_f64(), r.stats);
}
