//! What is wrong with a schedule: every violation of every layer, named.

use cimopt_schedule::{LayerViolation, Schedule};

/// Every violation of every layer of `s` on its target, in layer order (empty when valid).
/// A schedule read from JSON is already checked; this judges one built in memory.
pub fn check_schedule(s: &Schedule) -> Vec<LayerViolation> {
    let t = &s.inputs.target;
    s.layers
        .iter()
        .flat_map(|l| {
            cimopt_ir::check(t, &l.layer.workload, &l.mapping)
                .into_iter()
                .map(|v| LayerViolation {
                    index: l.layer.index,
                    name: l.layer.name.clone(),
                    violation: v,
                })
        })
        .collect()
}
