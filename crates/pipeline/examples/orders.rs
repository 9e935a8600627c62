//! Whether a schedule's loop orders are the best of their loops: per distinct layer, every order
//! of the mapping's temporal loops (its splits and spatial factors kept; layers with more than
//! `MAX_LOOPS` loops are skipped), each searched by the MILP against the recorded mapping, at the
//! layer's homes and objective. Prints the layer objective recorded and the best found.
//! `cargo run --example orders -p cimopt-pipeline -- schedule.json [first-layer-id]`
use cimopt_cost::{Objective, evaluate};
use cimopt_optimiser::{Options, improve_skeleton, skeleton_space};
use cimopt_space::Skeleton;
use std::time::Instant;

const MAX_LOOPS: usize = 7;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: orders <schedule.json> [first-layer-id]")?;
    let first: usize = std::env::args().nth(2).map_or(Ok(0), |s| s.parse())?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let t = cimopt_schedule::embedded_target(&text).map_err(|e| format!("{path}: {e}"))?;
    let s = cimopt_schedule::from_json(&text, Some(&t)).map_err(|e| format!("{path}: {e}"))?;
    let (mut recorded, mut found) = (0.0, 0.0);
    for l in &s.layers {
        if l.same_as.is_some() || l.layer.index < first {
            continue;
        }
        let w = &l.layer.workload;
        let m = &l.mapping;
        let cost = evaluate(&t, w, m);
        let obj = l.solve.objective.unwrap_or(f64::NAN);
        // The layer objective is E + λ·L; λ recovered from the recorded objective.
        let lambda = (obj - cost.energy_nj) / cost.latency_cycles;
        let opts = Options {
            objective: Objective::Weighted {
                nj_per_cycle: lambda,
            },
            home: m.home,
            ..Options::default()
        };
        let base = Skeleton::of(m);
        let n = base.loops.len();
        if n > MAX_LOOPS {
            println!("{:>3} {}: {n} loops, skipped", l.layer.index, l.layer.name);
            continue;
        }
        let started = Instant::now();
        let mut best = (m.clone(), cost.clone());
        let mut idx: Vec<usize> = (0..n).collect();
        let mut orders = 0;
        let mut build = 0.0;
        permute(&mut idx, 0, &mut |p| {
            let sk = Skeleton {
                loops: p.iter().map(|&i| base.loops[i]).collect(),
                ..base.clone()
            };
            let t0 = Instant::now();
            let space = skeleton_space(&t, w, &sk, opts.placement_limit);
            build += t0.elapsed().as_secs_f64();
            if let Some(space) = space {
                let (bm, bc, _) = improve_skeleton(&t, w, &space, &opts, best.clone());
                best = (bm, bc);
                orders += 1;
            }
        });
        let v = opts.objective.of(&best.1);
        let copies = s
            .layers
            .iter()
            .filter(|x| x.same_as == Some(l.layer.index))
            .count()
            + 1;
        recorded += obj * copies as f64;
        found += v * copies as f64;
        println!(
            "{:>3} {:<40} {orders:>5} orders in {:>5.1} s ({build:.1} s building): recorded {obj:.1}, best {v:.1} ({:+.2} %){}",
            l.layer.index,
            &l.layer.name[..l.layer.name.len().min(40)],
            started.elapsed().as_secs_f64(),
            100.0 * (v / obj - 1.0),
            if v < obj {
                format!(" {:?}", Skeleton::of(&best.0).loops)
            } else {
                String::new()
            }
        );
    }
    println!(
        "all searched layers (copies counted): recorded {recorded:.1}, best {found:.1} ({:+.3} %)",
        100.0 * (found / recorded - 1.0)
    );
    Ok(())
}

fn permute(v: &mut Vec<usize>, k: usize, f: &mut dyn FnMut(&[usize])) {
    if k == v.len() {
        f(v);
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permute(v, k + 1, f);
        v.swap(k, i);
    }
}
