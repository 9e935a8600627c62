//! A short fuzz run of every target inside the test suite: a fixed seed and a fixed number of
//! inputs (never a time), so it is deterministic; it must find no panic and break no promise.
//! A finding fails the test with its seed, iteration, mutations and minimised input; it then
//! becomes a regression test (`tests/regressions.rs`) and its bug is fixed. Longer runs:
//! `cargo xtask fuzz --seconds N`.

use cimopt_fuzz::{Budget, FuzzTarget, Report, run};

const SEED: u64 = 0x00c1_0a07;

fn quick(target: FuzzTarget, inputs: u64) -> Report {
    let r = run(target, SEED, Budget::Iterations(inputs));
    eprintln!(
        "{target}: {} inputs in {:.1} s ({:.0}/s): {} accepted, {} rejected, {} panicking, {} violating",
        r.inputs_tried,
        r.elapsed.as_secs_f64(),
        r.inputs_per_second(),
        r.accepted,
        r.rejected,
        r.panicking_inputs,
        r.violating_inputs
    );
    let findings: Vec<String> = r
        .panics
        .iter()
        .map(|f| {
            format!(
                "{} at {} (seed {}, iteration {}, base {}): {}\n  mutations: {}\n  minimised input ({} bytes): {}",
                f.kind.name(),
                f.site,
                f.seed,
                f.iteration,
                f.base,
                f.message,
                f.mutations.join("; "),
                f.input.len(),
                String::from_utf8_lossy(&f.input[..f.input.len().min(2000)])
            )
        })
        .collect();
    assert!(
        findings.is_empty(),
        "{target}: {} finding(s); save a minimised input under tests/regressions/ (see tests/regressions.rs) and replay it with `cimopt-fuzz --replay {target} FILE`:\n{}",
        findings.len(),
        findings.join("\n")
    );
    assert_eq!(
        r.harness_errors, 0,
        "{target}: the harness failed to build some inputs"
    );
    assert_eq!(r.inputs_tried, inputs);
    r
}

#[test]
fn onnx_inputs_do_not_panic() {
    let r = quick(FuzzTarget::Onnx, 100);
    assert!(
        r.rejected > 0 && r.accepted > 0,
        "the mutations should both keep and break models"
    );
}

#[test]
fn target_files_do_not_panic() {
    let r = quick(FuzzTarget::Target, 600);
    assert!(r.rejected > 0 && r.accepted > 0);
}

#[test]
fn schedules_do_not_panic() {
    let r = quick(FuzzTarget::Schedule, 500);
    assert!(r.rejected > 0 && r.accepted > 0);
}

#[test]
fn cache_entries_do_not_panic() {
    let r = quick(FuzzTarget::Cache, 800);
    assert!(r.rejected > 0 && r.accepted > 0);
}

#[test]
fn inputs_are_reproducible() {
    let root = cimopt_fuzz::default_root();
    for target in FuzzTarget::ALL {
        let a = cimopt_fuzz::input(target, SEED, 17, &root).unwrap();
        let b = cimopt_fuzz::input(target, SEED, 17, &root).unwrap();
        assert_eq!(a.bytes, b.bytes, "{target}");
        assert_eq!(a.mutations, b.mutations, "{target}");
    }
}
