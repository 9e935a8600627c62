//! Two schedules of one model side by side: per-layer and total ratios of latency, energy and
//! EDP (`cimopt compare`).

use crate::{Error, Result};
use cimopt_schedule::{Metrics, Schedule};
use serde_json::{Value, json};

/// The comparison of schedule A with schedule B (ratios are A / B: above 1 means B is better).
#[derive(Clone, Debug)]
pub struct Comparison {
    /// `simulated` or `predicted`: which numbers are compared.
    pub source: &'static str,
    /// Per layer: id, name, A's and B's metrics.
    pub rows: Vec<(usize, String, Metrics, Metrics)>,
    /// Totals: (latency, energy) of A and of B.
    pub a: (f64, f64),
    pub b: (f64, f64),
    /// Whether the schedules were compiled from different model files.
    pub different_models: bool,
}

/// The numbers compared for one layer: simulated when both schedules have them (unless
/// `predicted`), else predicted.
fn metrics(s: &Schedule, i: usize, predicted: bool) -> Option<&Metrics> {
    let l = &s.layers[i];
    if predicted {
        l.predicted.as_ref()
    } else {
        l.simulated.as_ref().or(l.predicted.as_ref())
    }
}

/// `x / y`, NaN when `y` is 0.
pub fn ratio(x: f64, y: f64) -> f64 {
    if y == 0.0 { f64::NAN } else { x / y }
}

/// Compares two schedules of the same model (`names` name them in errors); `predicted`
/// compares the cost model's numbers even when both were simulated.
pub fn compare(
    a: &Schedule,
    b: &Schedule,
    names: [&str; 2],
    predicted: bool,
) -> Result<Comparison> {
    if a.layers.len() != b.layers.len() {
        return Err(Error::Mismatch(format!(
            "{} has {} layers and {} has {}: they are not schedules of the same model",
            names[0],
            a.layers.len(),
            names[1],
            b.layers.len()
        )));
    }
    let predicted = predicted
        || a.layers
            .iter()
            .chain(&b.layers)
            .any(|l| l.simulated.is_none());
    let mut rows = Vec::new();
    let (mut la, mut lb, mut ea, mut eb) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..a.layers.len() {
        let (la_, lb_) = (&a.layers[i].layer, &b.layers[i].layer);
        if la_.workload != lb_.workload {
            return Err(Error::Mismatch(format!(
                "layer {} differs between the schedules (`{}` vs `{}`)",
                la_.index, la_.name, lb_.name
            )));
        }
        let missing = || Error::Mismatch("a layer without numbers".into());
        let (ma, mb) = (
            metrics(a, i, predicted).ok_or_else(missing)?,
            metrics(b, i, predicted).ok_or_else(missing)?,
        );
        la += ma.latency_cycles;
        lb += mb.latency_cycles;
        ea += ma.energy_nj;
        eb += mb.energy_nj;
        rows.push((la_.index, la_.name.clone(), ma.clone(), mb.clone()));
    }
    Ok(Comparison {
        source: if predicted { "predicted" } else { "simulated" },
        rows,
        a: (la, ea),
        b: (lb, eb),
        different_models: a.inputs.model_sha256 != b.inputs.model_sha256,
    })
}

impl Comparison {
    /// The document `cimopt compare --json` prints.
    pub fn to_json(&self, names: [&str; 2]) -> Value {
        let ((la, ea), (lb, eb)) = (self.a, self.b);
        let layers: Vec<_> = self
            .rows
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
        json!({"source": self.source, "a": names[0], "b": names[1], "layers": layers,
            "total": {"a": {"latency_cycles": la, "energy_nj": ea, "edp": la * ea}, "b": {"latency_cycles": lb, "energy_nj": eb, "edp": lb * eb},
                      "speedup": ratio(la, lb), "energy_ratio": ratio(ea, eb), "edp_ratio": ratio(la * ea, lb * eb)}})
    }

    /// The table `cimopt compare` prints.
    pub fn table(&self, names: [&str; 2]) -> String {
        use std::fmt::Write;
        let ((la, ea), (lb, eb)) = (self.a, self.b);
        let mut o = String::new();
        let _ = writeln!(
            o,
            "A = {}, B = {} ({} numbers; ratios are A / B, above 1 means B is better)",
            names[0], names[1], self.source
        );
        let _ = writeln!(
            o,
            "{:>3}  {:<36} {:>14} {:>14} {:>9} {:>9} {:>9}",
            "id", "layer", "latency A", "latency B", "latency", "energy", "EDP"
        );
        for (id, name, ma, mb) in &self.rows {
            let name = crate::output::tail(name, 36);
            let _ = writeln!(
                o,
                "{id:>3}  {name:<36} {:>14.0} {:>14.0} {:>8.2}× {:>8.2}× {:>8.2}×",
                ma.latency_cycles,
                mb.latency_cycles,
                ratio(ma.latency_cycles, mb.latency_cycles),
                ratio(ma.energy_nj, mb.energy_nj),
                ratio(ma.edp, mb.edp)
            );
        }
        let _ = writeln!(
            o,
            "total: latency {:.2}×, energy {:.2}×, EDP {:.2}× (A: {la:.0} cycles, {ea:.1} nJ; B: {lb:.0} cycles, {eb:.1} nJ)",
            ratio(la, lb),
            ratio(ea, eb),
            ratio(la * ea, lb * eb)
        );
        o
    }
}
