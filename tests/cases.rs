//! Data-driven cases: each file of `tests/cases/` is one layer on one target, with what
//! reading, checking, the cost model and the simulator must say of it. A new case is a new
//! file; `CIMOPT_BLESS=1 cargo test --test cases` writes the current output into every case's
//! `expect` (review the diff).
//!
//! A case is a JSON object: `about` (what it shows), `target` (a preset), `set` (overrides,
//! optional), `layer` (one layer as a schedule writes it: `op`, `dims`, `mapping`, ...) and
//! `expect` (the lines below). The runner wraps the layer into a schedule document, reads it
//! back with `cimopt_schedule::from_json` (which checks it) and, when it is valid, prices it
//! with the cost model and runs the simulator.

mod common;

use cimopt_schedule::ScheduleError;
use serde_json::{Value, json};
use std::fmt::Write;

fn render(case: &Value) -> Vec<String> {
    let set: Vec<String> = case["set"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let t = cimopt_target::load(case["target"].as_str().unwrap(), &set)
        .unwrap()
        .target;
    let mut layer = case["layer"].clone();
    layer["id"] = json!(0);
    let doc = json!({
        "schema": {"name": "cimopt-schedule", "version": "1.0.0"},
        "inputs": {"target": {"spec": serde_json::to_value(t.to_file()).unwrap()}},
        "layers": [layer],
    });
    let mut out = Vec::new();
    let s = match cimopt_schedule::from_json(&doc.to_string(), None) {
        Ok(s) => s,
        Err(ScheduleError::InvalidMappings(v)) => {
            out.push("check: invalid".to_string());
            out.extend(v.iter().map(|x| format!("  {}", x.violation)));
            return out;
        }
        Err(e) => {
            out.push(format!("read: {e}"));
            return out;
        }
    };
    out.push("check: valid".to_string());
    let l = &s.layers[0];
    let (w, m) = (&l.layer.workload, &l.mapping);
    let c = cimopt_cost::evaluate(&t, w, m);
    let b = &c.latency;
    let parts = b.compute + b.mode_switch + b.mismatch + b.writeback + b.bootstrap;
    assert!(
        (parts - c.latency_cycles).abs() <= 1e-6 * c.latency_cycles.max(1.0),
        "{}: the latency breakdown ({parts}) does not add up to {}",
        case["about"],
        c.latency_cycles
    );
    out.push(format!(
        "predicted: latency {:.1} cycles, energy {:.6} nJ, {} activations",
        c.latency_cycles, c.energy_nj, c.activations
    ));
    out.push(format!(
        "  by cause: compute {:.1}, mode switch {:.1}, mismatch {:.1}, write-back {:.1}, bootstrap {:.1}",
        b.compute, b.mode_switch, b.mismatch, b.writeback, b.bootstrap
    ));
    let mut energy = String::from("  energy nJ:");
    for (lv, level) in t.levels.iter().enumerate() {
        let _ = write!(energy, " {} {:.6},", level.name, c.energy.level_total(lv));
    }
    let _ = write!(
        energy,
        " MAC {:.6}, leakage {:.6}",
        c.energy.mac, c.energy.leakage
    );
    out.push(energy);
    let r = cimopt_sim::simulate(&t, w, m).unwrap();
    let st = &r.stalls;
    out.push(format!(
        "simulated: latency {:.1} cycles, energy {:.6} nJ",
        r.latency_cycles, r.energy_nj
    ));
    out.push(format!(
        "  stalls: mode switch {:.1}, mismatch {:.1}, write-back {:.1}, bootstrap {:.1}, idle {:.1}",
        st.mode_switch, st.mismatch, st.writeback, st.bootstrap, st.idle
    ));
    out
}

#[test]
fn every_case_says_what_it_expects() {
    let dir = common::root().join("tests/cases");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "{} cases", paths.len());
    let bless = std::env::var_os("CIMOPT_BLESS").is_some();
    let mut failures = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let mut case: Value = serde_json::from_str(&text).unwrap();
        let got = render(&case);
        let want: Vec<String> = case["expect"]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        if got == want {
            continue;
        }
        if bless {
            case["expect"] = json!(got);
            std::fs::write(path, serde_json::to_string_pretty(&case).unwrap() + "\n").unwrap();
        } else {
            failures.push(format!(
                "{}:\n  expected:\n    {}\n  got:\n    {}",
                path.display(),
                want.join("\n    "),
                got.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) changed; rerun with CIMOPT_BLESS=1 if intended:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
