//! Whether a layer's gap is its bound's or its search's: brute force over every loop nest and
//! placement of the layer's own spatial candidate, on a copy of the layer shrunk to `P = Q =
//! SIZE` outputs and `N` groups (channels, for a layer without groups), at its homes and with
//! the latency weight its compile gave it. Prints the optimum against the candidate's bound,
//! and the bound's latency and energy per weight source and innermost kind.
//! `cargo run --example shrunk_candidate -p cimopt-pipeline -- schedule.json LAYER_ID SIZE N`
use cimopt_cost::{Objective, evaluate};
use cimopt_optimiser::{exhaustive_skeleton, skeleton_space, spatial_bound};
use cimopt_space::bounds::{candidate_bounds, physical_bound_at};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: shrunk_candidate <schedule.json> <layer id> <size> <groups or channels>";
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        return Err(usage.into());
    }
    let text = std::fs::read_to_string(&a[1]).map_err(|e| format!("{}: {e}", a[1]))?;
    let id: usize = a[2].parse()?;
    let p: u64 = a[3].parse()?;
    let g: u64 = a[4].parse()?;
    let t = cimopt_schedule::embedded_target(&text)?;
    let s = cimopt_schedule::from_json(&text, Some(&t))?;
    let l = s
        .layers
        .get(id)
        .ok_or_else(|| format!("no layer {id} (it has {})", s.layers.len()))?;
    let m = &l.mapping;
    let cost = evaluate(&t, &l.layer.workload, m);
    let objective = l.solve.objective.ok_or("the layer records no objective")?;
    // The layer objective the compile minimised: E + λ·L.
    let lambda = (objective - cost.energy_nj) / cost.latency_cycles;
    let mut w = l.layer.workload.clone();
    let stride = w.stride[0];
    w.p = p;
    w.q = p;
    w.h = p * stride;
    w.w = p * stride;
    if w.g > 1 {
        w.g = g;
    } else {
        w.c = g;
    }
    let o = Objective::Weighted {
        nj_per_cycle: lambda,
    };
    let lb = physical_bound_at(&t, &w, m.home)?;
    let bound = spatial_bound(&t, &w, &m.spatial, &lb, o);
    let cbs = candidate_bounds(&t, &w, &m.spatial, &lb);
    let sks = cimopt_space::whole::skeletons_of(&w, &m.spatial, m.home);
    println!("lambda {lambda:.4} skeletons {}", sks.len());
    let mut best: Option<(f64, cimopt_ir::Mapping, cimopt_cost::Cost)> = None;
    for sk in &sks {
        let Some(space) = skeleton_space(&t, &w, sk, usize::MAX) else {
            continue;
        };
        if let Some((mm, c)) = exhaustive_skeleton(&t, &w, &space, o) {
            let v = o.of(&c);
            if best.as_ref().is_none_or(|b| v < b.0) {
                best = Some((v, mm, c));
            }
        }
    }
    let (v, mm, c) = best.ok_or("no mapping of the candidate fits the shrunk layer")?;
    println!(
        "optimum {v:.1} bound {bound:.1} gap {:.2} %",
        100.0 * (v - bound) / v
    );
    println!(
        "opt L {} E0 {:.1}",
        c.latency_cycles,
        c.energy_nj - t.leakage_nj_per_cycle * c.latency_cycles
    );
    for b in &cbs {
        println!(
            "  bound kind {:?} L {} E0 {:.1}",
            b.innermost, b.cycles, b.energy_nj
        );
    }
    println!("{mm:?}");
    println!("{:?}\n{:?}", c.latency, c.energy);
    Ok(())
}
