//! A short fuzz run of every target inside the test suite: a fixed seed and a fixed number of
//! inputs (never a time), so it is deterministic; it must find no panic and break no promise.
//!
//! Panics already recorded as ignored regression tests (`tests/regressions.rs`, which the
//! harness cannot fix) are listed in [`KNOWN`] and tolerated here, by panic site, so that this
//! test guards against *new* crashes; when one of them is fixed, its entry goes and its
//! regression test is un-ignored.

use cimopt_fuzz::{Budget, FindingKind, FuzzTarget, Report, run};

const SEED: u64 = 0x00c1_0a07;

/// Known panics: (target, the file and line of the panic, the ignored regression test).
const KNOWN: &[(FuzzTarget, &str, &str)] = &[];

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
    let unexpected: Vec<String> = r
        .panics
        .iter()
        .filter(|f| {
            !(f.kind == FindingKind::Panic
                && KNOWN.iter().any(|(t, site, _)| *t == target && f.site.ends_with(site)))
        })
        .map(|f| {
            format!(
                "{} at {} (iteration {}, base {}): {}\n  mutations: {}\n  minimised input ({} bytes): {}",
                f.kind.name(),
                f.site,
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
        unexpected.is_empty(),
        "{target}: {} new finding(s):\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert_eq!(r.harness_errors, 0, "{target}: the harness failed to build some inputs");
    assert_eq!(r.inputs_tried, inputs);
    r
}

#[test]
fn onnx_inputs_do_not_panic() {
    let r = quick(FuzzTarget::Onnx, 60);
    assert!(r.rejected > 0 && r.accepted > 0, "the mutations should both keep and break models");
}

#[test]
fn target_files_do_not_panic() {
    let r = quick(FuzzTarget::Target, 400);
    assert!(r.rejected > 0 && r.accepted > 0);
}

#[test]
fn schedules_do_not_panic() {
    let r = quick(FuzzTarget::Schedule, 300);
    assert!(r.rejected > 0 && r.accepted > 0);
}

#[test]
fn cache_entries_do_not_panic() {
    let r = quick(FuzzTarget::Cache, 400);
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
