//! Simulating a schedule: every layer executed loop by loop (identical layers once), and the
//! simulated metrics a schedule records.

use crate::{Error, Result};
use cimopt_schedule::{Breakdown, LatencyParts, LevelParts, Metrics, PredictionError, Schedule};
use cimopt_sim::SimReport;
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
pub fn metrics_of(r: &SimReport, predicted: Option<&Metrics>) -> Metrics {
    let st = &r.stalls;
    Metrics {
        latency_cycles: r.latency_cycles,
        energy_nj: r.energy_nj,
        edp: r.edp,
        breakdown: Breakdown {
            latency: Some(LatencyParts {
                compute: r.compute_cycles as f64,
                mode_switch: st.mode_switch,
                mismatch: st.mismatch,
                writeback: st.writeback,
                bootstrap: st.bootstrap,
                idle: Some(st.idle),
                transfer: r.transfer_cycles.map(|c| c as f64),
            }),
            levels: r
                .levels
                .iter()
                .map(|level| LevelParts {
                    energy_nj: Some(level.read_energy_nj + level.write_energy_nj),
                    bits_read: Some(level.bits_read as f64),
                    bits_written: Some(level.bits_written as f64),
                })
                .collect(),
            mac_nj: Some(r.mac_energy_nj),
            leakage_nj: Some(r.leakage_energy_nj),
            mac_utilisation: Some(r.mac_utilisation),
            prediction_error: predicted.map(|p| PredictionError {
                latency: relative_error(p.latency_cycles, r.latency_cycles),
                energy: relative_error(p.energy_nj, r.energy_nj),
            }),
            other: BTreeMap::new(),
        },
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
    for (l, r) in s.layers.iter_mut().zip(&reports) {
        l.simulated = Some(metrics_of(r, l.predicted.as_ref()));
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
            let m = metrics_of(r, l.predicted.as_ref());
            json!({
                "id": l.layer.index,
                "name": l.layer.name,
                "latency_cycles": r.latency_cycles,
                "energy_nj": r.energy_nj,
                "edp": r.edp,
                "activations": r.activations,
                "breakdown": m.breakdown.to_keys(t),
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
