//! Where a schedule's layer gaps come from: per distinct layer, the objective and its bound,
//! and the latency and energy (leakage excluded) of the mapping against the analytical bound of
//! its own spatial candidate and of the candidate that sets the layer's bound.
//! It also says which operands the own candidate reads from their homes in tiles (they fit whole
//! in no level below their home), which the energy bound charges for extra passes.
//! With `--cases N`, it lists under each layer the `N` least of its own candidate's deep bounds
//! (`candidate_bounds_by_outer_deep`), each case of outermost loop with its own latency and
//! energy: which case, route, weight source and kind set the bound.
//! `cargo run --example gaps -p cimopt-pipeline -- schedule.json [--cases N]`
use cimopt_cost::evaluate;
use cimopt_space::bounds::{
    OUTER_CASES, candidate_bounds, candidate_bounds_by_outer, candidate_bounds_by_outer_deep,
    physical_bound_at, read_in_tiles,
};
use cimopt_space::spatial;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: gaps <schedule.json> [--cases N]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or(usage)?.clone();
    let cases: usize = match args.get(1).map(String::as_str) {
        None => 0,
        Some("--cases") => args
            .get(2)
            .and_then(|n| n.parse().ok())
            .ok_or("--cases takes a count")?,
        Some(other) => return Err(format!("{other}: {usage}").into()),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let t = cimopt_schedule::embedded_target(&text).map_err(|e| format!("{path}: {e}"))?;
    let s = cimopt_schedule::from_json(&text, Some(&t)).map_err(|e| format!("{path}: {e}"))?;
    let leak = t.leakage_nj_per_cycle;
    println!(
        "{:>3} {:<36} {:>7} | {:>9} {:>9} {:>5} | {:>9} {:>9} {:>5} | {:>9} {:>9}",
        "id", "layer", "gap", "L", "L own", "L/b", "E0", "E0 own", "E/b", "L best", "E0 best"
    );
    for l in &s.layers {
        if l.same_as.is_some() {
            continue;
        }
        let w = &l.layer.workload;
        let m = &l.mapping;
        let cost = evaluate(&t, w, m);
        let lat = cost.latency_cycles;
        let e0 = cost.energy_nj - leak * lat;
        // The layer objective: E + λ·L, λ recovered from the recorded objective.
        let obj = l.solve.objective.unwrap_or(f64::NAN);
        let lambda = (obj - cost.energy_nj) / lat;
        let lb = physical_bound_at(&t, w, m.home)?;
        let value =
            |b: &cimopt_space::bounds::CandidateBound| b.energy_nj + (leak + lambda) * b.cycles;
        let own = candidate_bounds(&t, w, &m.spatial, &lb)
            .into_iter()
            .min_by(|a, b| value(a).total_cmp(&value(b)))
            .ok_or("a candidate with no weight source")?;
        // The own candidate's bound with each case of outermost loop paired with its own
        // latency and energy, and the case that sets it.
        let (paired, case) = candidate_bounds_by_outer(&t, w, &m.spatial, &lb)
            .iter()
            .flat_map(|b| {
                (0..OUTER_CASES).map(move |c| {
                    (
                        b.energy_by_outer[c] + (leak + lambda) * b.cycles_by_outer[c],
                        c,
                    )
                })
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .ok_or("a candidate with no weight source")?;
        let best = spatial::enumerate(&t, w)?
            .iter()
            .flat_map(|s| candidate_bounds(&t, w, s, &lb))
            .min_by(|a, b| value(a).total_cmp(&value(b)))
            .ok_or("a layer with no candidate")?;
        println!(
            "{:>3} {:<36} {:>6.1}% | {:>9.0} {:>9.0} {:>5.2} | {:>9.0} {:>9.0} {:>5.2} | {:>9.0} {:>9.0}  own obj {:.0} paired {:.0} (outer case {}) best obj {:.0} obj {:.0} own: compute {:.0} switch {:.0} weight {:.0} source {} innermost {:?} slabs {:?} read in tiles (I W O) {:?}",
            l.layer.index,
            &l.layer.name[..l.layer.name.len().min(36)],
            100.0 * l.solve.gap.unwrap_or(f64::NAN),
            lat,
            own.cycles,
            lat / own.cycles,
            e0,
            own.energy_nj,
            e0 / own.energy_nj,
            best.cycles,
            best.energy_nj,
            value(&own),
            paired,
            case,
            value(&best),
            obj,
            own.compute_cycles,
            own.switch_cycles,
            own.weight_cycles,
            own.weight_source,
            own.innermost,
            own.slabs,
            read_in_tiles(&t, w, &m.spatial, m.home)
        );
        if cases > 0 {
            let mut rows: Vec<(f64, String)> = candidate_bounds_by_outer_deep(&t, w, &m.spatial, &lb)
                .iter()
                .flat_map(|b| {
                    (0..OUTER_CASES).map(move |c| {
                        let cycles = b.cycles_by_outer[c];
                        let energy = b.energy_by_outer[c];
                        (
                            energy + (leak + lambda) * cycles,
                            format!(
                                "outer case {c} {:?} source {} innermost {:?} slabs {:?}: {cycles:.0} cycles, {energy:.0} nJ",
                                b.outputs, b.weight_source, b.innermost, b.slabs
                            ),
                        )
                    })
                })
                .filter(|r| r.0.is_finite())
                .collect();
            rows.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (value, what) in rows.iter().take(cases) {
                println!("      deep obj {value:.0}: {what}");
            }
        }
    }
    Ok(())
}
