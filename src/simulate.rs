//! `cimopt simulate SCHEDULE.json`: execute every layer's schedule with the simulator.

use crate::Outcome;
use anyhow::Context;
use cimopt_pipeline::simulate::{relative_error, simulate_schedule, simulation_json};
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

pub fn run(args: &SimulateArgs) -> Outcome {
    let s = crate::read_schedule_on(&args.schedule, args.target.as_deref(), &args.set)?
        .with_context(|| format!("{} is not a valid schedule", args.schedule.display()))?;
    let reports = simulate_schedule(&s)?;
    if !args.json {
        crate::warn_skipped(&s);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&simulation_json(&s, &reports))?
        );
        return Ok(0);
    }
    let total_latency: f64 = reports.iter().map(|r| r.latency_cycles).sum();
    let total_energy: f64 = reports.iter().map(|r| r.energy_nj).sum();
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
        let name = cimopt_pipeline::output::tail(&l.layer.name, 32);
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
