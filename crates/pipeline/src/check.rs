//! What is wrong with a schedule: every violation of every layer, named.

use cimopt_ir::Violation;
use cimopt_schedule::Schedule;

/// One violation of one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerViolation {
    pub index: usize,
    pub name: String,
    pub violation: Violation,
}

impl std::fmt::Display for LayerViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "layer {} `{}`: {}",
            self.index, self.name, self.violation
        )
    }
}

/// Every violation of every layer of `s` on its target, in layer order (empty when valid).
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
