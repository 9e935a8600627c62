//! The four fuzz targets: corpus, mutators, and what each input is fed to.

pub mod cache;
pub mod onnx;
pub mod schedule;
pub mod toml;

use crate::Outcome;
use cimopt_ir::Workload;
use cimopt_target::Target;

/// A broken promise.
pub(crate) fn violated(site: &str, detail: impl Into<String>) -> Outcome {
    Outcome::Violated {
        site: site.to_string(),
        detail: detail.into(),
    }
}

/// What a caller does with a mapping a reader accepted: `cimopt_ir::check`, and when it is
/// valid, the cost model and the simulator (which must then accept it too).
pub(crate) fn price_and_simulate(
    t: &Target,
    w: &Workload,
    m: &cimopt_ir::Mapping,
) -> Result<bool, Outcome> {
    if !cimopt_ir::check(t, w, m).is_empty() {
        return Ok(false);
    }
    let cost = cimopt_cost::evaluate(t, w, m);
    let _ = (cost.latency_cycles, cost.energy_nj, cost.edp());
    match cimopt_sim::simulate(t, w, m) {
        Ok(r) => {
            let _ = (r.latency_cycles, r.energy_nj);
            Ok(true)
        }
        Err(e) => Err(violated(
            "a mapping cimopt_ir::check accepts is refused by cimopt_sim::simulate",
            e.to_string(),
        )),
    }
}

/// Bounds a layer and maps it the way `cimopt compile --mapper ws` does, then prices and
/// simulates it.
pub(crate) fn map_ws(t: &Target, w: &Workload) -> Result<(), Outcome> {
    if !w.shape_errors().is_empty() {
        return Ok(());
    }
    // What `compile` records for every layer; a layer whose spatial space is too large to
    // enumerate is refused by compile before any mapper runs.
    if cimopt_space::bounds::lower_bound(t, w).is_err() {
        return Ok(());
    }
    match cimopt_mappers::weight_stationary(t, w) {
        Ok(mapped) => {
            let violations = cimopt_ir::check(t, w, &mapped.mapping);
            if !violations.is_empty() {
                return Err(violated(
                    "the ws mapper returned a mapping cimopt_ir::check rejects",
                    violations
                        .iter()
                        .map(|v| v.message.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                ));
            }
            price_and_simulate(t, w, &mapped.mapping).map(|_| ())
        }
        Err(_) => Ok(()),
    }
}

/// Where two texts first differ: the line, and both versions of it.
pub(crate) fn first_difference(a: &str, b: &str) -> String {
    let line = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()));
    format!(
        "first difference at line {}: `{}` then `{}`",
        line + 1,
        a.lines().nth(line).unwrap_or("").trim(),
        b.lines().nth(line).unwrap_or("").trim()
    )
}
