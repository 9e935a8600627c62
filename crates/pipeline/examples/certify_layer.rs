//! Certifies one layer of a schedule with a budget of your choice: what `--certify N` would
//! prove on that layer, at its homes and with the latency weight its compile gave it, starting
//! from its mapping. Prints the objective before and after, the bound, the gap and the work.
//! `cargo run --example certify_layer -p cimopt-pipeline -- schedule.json LAYER_ID N`
use cimopt_cost::{Objective, evaluate};
use cimopt_optimiser::{Options, certify_from};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: certify_layer <schedule.json> <layer id> <budget N>";
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or(usage)?;
    let id: usize = args.get(2).ok_or(usage)?.parse()?;
    let n: u64 = args.get(3).ok_or(usage)?.parse()?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let t = cimopt_schedule::embedded_target(&text).map_err(|e| format!("{path}: {e}"))?;
    let s = cimopt_schedule::from_json(&text, Some(&t)).map_err(|e| format!("{path}: {e}"))?;
    let l = s
        .layers
        .get(id)
        .ok_or_else(|| format!("{path}: no layer {id} (it has {})", s.layers.len()))?;
    let w = &l.layer.workload;
    let m = &l.mapping;
    let cost = evaluate(&t, w, m);
    let objective = l
        .solve
        .objective
        .ok_or_else(|| format!("{path}: layer {id} records no objective"))?;
    // The layer objective the compile minimised: E + λ·L.
    let lambda = (objective - cost.energy_nj) / cost.latency_cycles;
    let opts = Options {
        objective: Objective::Weighted {
            nj_per_cycle: lambda,
        },
        home: m.home,
        certify_skeletons: n,
        time_limit_s: 3600.0,
        ..Options::default()
    };
    let r = certify_from(&t, w, &opts, m)?;
    println!(
        "{}: objective {objective:.1} -> {:.1}, bound {:.1}, gap {:.2} %, {} skeletons, {} MILP solves, {:.1} s, {:?}",
        l.layer.name,
        r.stats.objective,
        r.stats.bound,
        100.0 * r.stats.gap,
        r.stats.skeletons_solved,
        r.stats.milp_solves,
        r.stats.wall_s,
        r.stats.stop_reasons
    );
    Ok(())
}
