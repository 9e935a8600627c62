//! `cimopt simulate SCHEDULE.json`: execute every layer's schedule with the simulator, and the
//! per-layer simulated metrics `compile` records.

use crate::Outcome;
use anyhow::{Context, Result};
use cimopt_schedule::{Metrics, Schedule};
use cimopt_sim::SimReport;
use cimopt_target::{Operand, Target};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Schedule JSON.
    pub schedule: PathBuf,
    /// Simulate on this target (preset or file) instead of the one embedded in the schedule.
    #[arg(long, short)]
    pub target: Option<String>,
    /// Override a field of that target.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

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
                let r =
                    cimopt_sim::simulate(t, &l.layer.workload, &l.mapping).with_context(|| {
                        format!(
                            "layer {} `{}` cannot be simulated",
                            l.layer.index, l.layer.name
                        )
                    })?;
                done.insert(l.layer.index, r.clone());
                r
            }
        };
        out.push(r);
    }
    Ok(out)
}

pub fn run(args: &SimulateArgs) -> Outcome {
    let text = std::fs::read_to_string(&args.schedule)
        .with_context(|| format!("cannot read {}", args.schedule.display()))?;
    let target = match &args.target {
        Some(t) => Some(
            cimopt_target::load(t, &args.set)
                .with_context(|| format!("target `{t}`"))?
                .target,
        ),
        None => None,
    };
    let s = cimopt_schedule::from_json(&text, target.as_ref())
        .with_context(|| format!("{} is not a valid schedule", args.schedule.display()))?;
    let reports = simulate_schedule(&s)?;
    let t = &s.inputs.target;
    let total_latency: f64 = reports.iter().map(|r| r.latency_cycles).sum();
    let total_energy: f64 = reports.iter().map(|r| r.energy_nj).sum();
    if args.json {
        let layers: Vec<_> = s
            .layers
            .iter()
            .zip(&reports)
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
        let doc = json!({
            "units": {"latency": "cycles", "energy": "nJ", "edp": "cycle·nJ", "bits": "bit"},
            "target": t.name,
            "layers": layers,
            "model": {"latency_cycles": total_latency, "energy_nj": total_energy, "edp": total_latency * total_energy},
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    println!(
        "{:>3}  {:<32} {:>13} {:>12} {:>11} {:>10} {:>10} {:>10} {:>6} {:>8} {:>8}",
        "id",
        "layer",
        "latency (cyc)",
        "energy (nJ)",
        "EDP",
        "mode-sw",
        "mismatch",
        "writeback",
        "util",
        "err lat",
        "err E"
    );
    for (l, r) in s.layers.iter().zip(&reports) {
        let name = crate::output::tail(&l.layer.name, 32);
        let (el, ee) = match &l.predicted {
            Some(p) => (
                format!(
                    "{:.2}%",
                    100.0 * relative_error(p.latency_cycles, r.latency_cycles)
                ),
                format!("{:.2}%", 100.0 * relative_error(p.energy_nj, r.energy_nj)),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:>3}  {:<32} {:>13.0} {:>12.1} {:>11.3e} {:>10.0} {:>10.0} {:>10.0} {:>5.1}% {:>8} {:>8}",
            l.layer.index,
            name,
            r.latency_cycles,
            r.energy_nj,
            r.edp,
            r.stalls.mode_switch,
            r.stalls.mismatch,
            r.stalls.writeback,
            100.0 * r.mac_utilisation,
            el,
            ee
        );
    }
    println!(
        "total: latency {total_latency:.0} cycles, energy {total_energy:.1} nJ, EDP {:.4e} cycle·nJ",
        total_latency * total_energy
    );
    Ok(0)
}
