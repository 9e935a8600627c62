//! `cimopt compare A.json B.json`: per-layer and total ratios of latency, energy and EDP.

use crate::Outcome;
use anyhow::{Context, Result, bail};
use cimopt_schedule::{Metrics, Schedule};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The baseline schedule.
    pub a: PathBuf,
    /// The schedule compared with it.
    pub b: PathBuf,
    /// Compare the cost model's predictions instead of the simulated numbers.
    #[arg(long)]
    pub predicted: bool,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

fn load(path: &Path) -> Result<Schedule> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    cimopt_schedule::from_json(&text, None)
        .with_context(|| format!("{} is not a valid schedule", path.display()))
}

/// The numbers compared for one layer: simulated when both schedules have them (unless
/// `--predicted`), else predicted.
fn metrics<'a>(s: &'a Schedule, i: usize, predicted: bool) -> Option<&'a Metrics> {
    let l = &s.layers[i];
    if predicted {
        l.predicted.as_ref()
    } else {
        l.simulated.as_ref().or(l.predicted.as_ref())
    }
}

pub fn run(args: &CompareArgs) -> Outcome {
    let (a, b) = (load(&args.a)?, load(&args.b)?);
    if a.layers.len() != b.layers.len() {
        bail!(
            "{} has {} layers and {} has {}: they are not schedules of the same model",
            args.a.display(),
            a.layers.len(),
            args.b.display(),
            b.layers.len()
        );
    }
    if a.inputs.model_sha256 != b.inputs.model_sha256 {
        eprintln!("note: the two schedules were compiled from different model files");
    }
    let predicted = args.predicted
        || a.layers
            .iter()
            .chain(&b.layers)
            .any(|l| l.simulated.is_none());
    let source = if predicted { "predicted" } else { "simulated" };
    let mut rows = Vec::new();
    let (mut la, mut lb, mut ea, mut eb) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..a.layers.len() {
        let (la_, lb_) = (&a.layers[i].layer, &b.layers[i].layer);
        if la_.workload != lb_.workload {
            bail!(
                "layer {} differs between the schedules (`{}` vs `{}`)",
                la_.index,
                la_.name,
                lb_.name
            );
        }
        let (ma, mb) = (
            metrics(&a, i, predicted).context("a layer without numbers")?,
            metrics(&b, i, predicted).context("a layer without numbers")?,
        );
        la += ma.latency_cycles;
        lb += mb.latency_cycles;
        ea += ma.energy_nj;
        eb += mb.energy_nj;
        rows.push((la_.index, la_.name.clone(), ma.clone(), mb.clone()));
    }
    let ratio = |x: f64, y: f64| if y == 0.0 { f64::NAN } else { x / y };
    if args.json {
        let layers: Vec<_> = rows
            .iter()
            .map(|(id, name, ma, mb)| {
                json!({"id": id, "name": name,
                       "a": {"latency_cycles": ma.latency_cycles, "energy_nj": ma.energy_nj, "edp": ma.edp},
                       "b": {"latency_cycles": mb.latency_cycles, "energy_nj": mb.energy_nj, "edp": mb.edp},
                       "speedup": ratio(ma.latency_cycles, mb.latency_cycles),
                       "energy_ratio": ratio(ma.energy_nj, mb.energy_nj),
                       "edp_ratio": ratio(ma.edp, mb.edp)})
            })
            .collect();
        let doc = json!({"source": source, "a": args.a.display().to_string(), "b": args.b.display().to_string(), "layers": layers,
            "total": {"a": {"latency_cycles": la, "energy_nj": ea, "edp": la * ea}, "b": {"latency_cycles": lb, "energy_nj": eb, "edp": lb * eb},
                      "speedup": ratio(la, lb), "energy_ratio": ratio(ea, eb), "edp_ratio": ratio(la * ea, lb * eb)}});
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    println!(
        "A = {}, B = {} ({source} numbers; ratios are A / B, above 1 means B is better)",
        args.a.display(),
        args.b.display()
    );
    println!(
        "{:>3}  {:<36} {:>14} {:>14} {:>9} {:>9} {:>9}",
        "id", "layer", "latency A", "latency B", "latency", "energy", "EDP"
    );
    for (id, name, ma, mb) in &rows {
        let name = crate::output::tail(&name, 36);
        println!(
            "{id:>3}  {name:<36} {:>14.0} {:>14.0} {:>8.2}× {:>8.2}× {:>8.2}×",
            ma.latency_cycles,
            mb.latency_cycles,
            ratio(ma.latency_cycles, mb.latency_cycles),
            ratio(ma.energy_nj, mb.energy_nj),
            ratio(ma.edp, mb.edp)
        );
    }
    println!(
        "total: latency {:.2}×, energy {:.2}×, EDP {:.2}× (A: {la:.0} cycles, {ea:.1} nJ; B: {lb:.0} cycles, {eb:.1} nJ)",
        ratio(la, lb),
        ratio(ea, eb),
        ratio(la * ea, lb * eb)
    );
    Ok(0)
}
