//! Simulating a schedule: every layer executed loop by loop (identical layers once), and the
//! simulated metrics a schedule records.

use crate::{Error, Result};
use cimopt_schedule::{Metrics, Schedule};
use cimopt_sim::SimReport;
use cimopt_target::{Operand, Target};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Relative error of a prediction against the simulation.
pub fn relative_error(predicted: f64, simulated: f64) -> f64 {
    if simulated == 0.0 {
        if predicted == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        (predicted - simulated).abs() / simulated
    }
}

/// The simulated metrics of one layer, with the prediction's relative errors when given.
pub fn metrics_of(t: &Target, r: &SimReport, predicted: Option<&Metrics>) -> Metrics {
    let mut b = BTreeMap::new();
    b.insert("latency.compute_cycles".into(), r.compute_cycles as f64);
    b.insert("latency.mode_switch_cycles".into(), r.stalls.mode_switch);
    b.insert("latency.mismatch_cycles".into(), r.stalls.mismatch);
    b.insert("latency.writeback_cycles".into(), r.stalls.writeback);
    b.insert("latency.bootstrap_cycles".into(), r.stalls.bootstrap);
    b.insert("latency.idle_cycles".into(), r.stalls.idle);
    for o in Operand::ALL {
        b.insert(
            format!("latency.transfer_{o}_cycles"),
            r.transfer_cycles[o.index()] as f64,
        );
    }
    for (lv, level) in r.levels.iter().enumerate() {
        b.insert(
            format!("energy.{}_nj", t.levels[lv].name),
            level.read_energy_nj + level.write_energy_nj,
        );
        b.insert(
            format!("bits.{}_read", t.levels[lv].name),
            level.bits_read as f64,
        );
        b.insert(
            format!("bits.{}_written", t.levels[lv].name),
            level.bits_written as f64,
        );
    }
    b.insert("energy.mac_nj".into(), r.mac_energy_nj);
    b.insert("energy.leakage_nj".into(), r.leakage_energy_nj);
    b.insert("mac_utilisation".into(), r.mac_utilisation);
    if let Some(p) = predicted {
        b.insert(
            "prediction_error.latency".into(),
            relative_error(p.latency_cycles, r.latency_cycles),
        );
        b.insert(
            "prediction_error.energy".into(),
            relative_error(p.energy_nj, r.energy_nj),
        );
    }
    Metrics {
        latency_cycles: r.latency_cycles,
        energy_nj: r.energy_nj,
        edp: r.edp,
        breakdown: b,
    }
}

/// Simulates every layer of a schedule (identical layers once); errors name the layer.
pub fn simulate_schedule(s: &Schedule) -> Result<Vec<SimReport>> {
    let t = &s.inputs.target;
    let mut done: BTreeMap<usize, SimReport> = BTreeMap::new();
    let mut out = Vec::new();
    for l in &s.layers {
        let key = l.same_as.unwrap_or(l.layer.index);
        let r = match done.get(&key) {
            Some(r) if l.same_as.is_some() => r.clone(),
            _ => {
                let r = cimopt_sim::simulate(t, &l.layer.workload, &l.mapping).map_err(|e| {
                    Error::Simulation {
                        index: l.layer.index,
                        name: l.layer.name.clone(),
                        reason: e.to_string(),
                    }
                })?;
                done.insert(l.layer.index, r.clone());
                r
            }
        };
        out.push(r);
    }
    Ok(out)
}

/// Simulates a schedule and records the simulated numbers in it: per layer and in total.
pub fn record_simulation(s: &mut Schedule) -> Result<Vec<SimReport>> {
    let reports = simulate_schedule(s)?;
    let t = s.inputs.target.clone();
    for (l, r) in s.layers.iter_mut().zip(&reports) {
        l.simulated = Some(metrics_of(&t, r, l.predicted.as_ref()));
    }
    s.model.simulated_latency_cycles = Some(reports.iter().map(|r| r.latency_cycles).sum());
    s.model.simulated_energy_nj = Some(reports.iter().map(|r| r.energy_nj).sum());
    Ok(reports)
}

/// The document `cimopt simulate --json` prints: per-layer simulated numbers and breakdowns,
/// and the model totals.
pub fn simulation_json(s: &Schedule, reports: &[SimReport]) -> Value {
    let t = &s.inputs.target;
    let total_latency: f64 = reports.iter().map(|r| r.latency_cycles).sum();
    let total_energy: f64 = reports.iter().map(|r| r.energy_nj).sum();
    let layers: Vec<_> = s
        .layers
        .iter()
        .zip(reports)
        .map(|(l, r)| {
            let m = metrics_of(t, r, l.predicted.as_ref());
            json!({
                "id": l.layer.index,
                "name": l.layer.name,
                "latency_cycles": r.latency_cycles,
                "energy_nj": r.energy_nj,
                "edp": r.edp,
                "activations": r.activations,
                "breakdown": m.breakdown,
            })
        })
        .collect();
    json!({
        "units": {"latency": "cycles", "energy": "nJ", "edp": "cycle·nJ", "bits": "bit"},
        "target": t.name,
        "layers": layers,
        "model": {"latency_cycles": total_latency, "energy_nj": total_energy, "edp": total_latency * total_energy},
    })
}
