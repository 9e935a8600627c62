//! What it would take to prove a schedule's layers by searching their spatial candidates
//! whole (`--certify`): per distinct layer, the candidates whose analytical bound is below the
//! objective (those certification must search), and their skeletons (every split and order
//! of their loops): in all, the most of any one, in those more than 1 % below, and those whose
//! kinds of innermost and outermost loop have their own analytical bound below the objective
//! too (certification settles the others without a solve; counted whole for a candidate of
//! more than `LISTING_LIMIT`).
//! `cargo run --example proof_work -p cimopt-pipeline -- schedule.json`
use cimopt_cost::Objective;
use cimopt_optimiser::{LISTING_LIMIT, nest_case, spatial_bound_by_case};
use cimopt_space::bounds::physical_bound_at;
use cimopt_space::spatial;
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: proof_work <schedule.json>")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let t = cimopt_schedule::embedded_target(&text)?;
    let s = cimopt_schedule::from_json(&text, Some(&t))?;
    for l in &s.layers {
        if l.same_as.is_some() {
            continue;
        }
        let w = &l.layer.workload;
        let m = &l.mapping;
        let cost = cimopt_cost::evaluate(&t, w, m);
        let obj = l.solve.objective.unwrap_or(f64::NAN);
        let lambda = (obj - cost.energy_nj) / cost.latency_cycles;
        let lb = physical_bound_at(&t, w, m.home)?;
        // The layer objective the search minimised: E + λ·L.
        let objective = Objective::Weighted {
            nj_per_cycle: lambda,
        };
        let mut need: Vec<(f64, u64)> = Vec::new();
        let mut by_kind = 0u64;
        let all = spatial::enumerate(&t, w)?;
        for sp in &all {
            let kinds = spatial_bound_by_case(&t, w, sp, &lb, objective);
            let v = kinds
                .iter()
                .flatten()
                .cloned()
                .fold(f64::INFINITY, f64::min);
            if v * 1.001 < obj {
                let trips = spatial::trips(w, sp).0;
                let n = cimopt_space::whole::loop_list_count(&trips);
                need.push((v / obj, n));
                by_kind = by_kind.saturating_add(if n <= LISTING_LIMIT {
                    let mut left = 0u64;
                    cimopt_space::whole::for_each_loop_list(&trips, |loops| {
                        let b = nest_case(loops).map_or(v, |(i, o)| kinds[i][o]);
                        left += u64::from(b * 1.001 < obj);
                        true
                    });
                    left
                } else {
                    n
                });
            }
        }
        need.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: u64 = need
            .iter()
            .map(|x| x.1)
            .fold(0u64, |a, b| a.saturating_add(b));
        let max = need.iter().map(|x| x.1).max().unwrap_or(0);
        let within1: u64 = need
            .iter()
            .filter(|x| x.0 < 0.99)
            .map(|x| x.1)
            .fold(0u64, |a, b| a.saturating_add(b));
        println!(
            "{:<45} gap {:>5.1}% candidates {:>4} of {:<5} skeletons {:>14} most {:>12} (below 0.99: {}) by kind {}",
            &l.layer.name[..l.layer.name.len().min(45)],
            100.0 * l.solve.gap.unwrap_or(f64::NAN),
            need.len(),
            all.len(),
            total,
            max,
            within1,
            by_kind
        );
    }
    Ok(())
}
