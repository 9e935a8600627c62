//! Every problem the fuzzer ever found, as a test: the minimised input in `regressions/`,
//! named `<target>-<what>.<ext>`, fed to its target the way the fuzzer fed it. A panic fails
//! the test (with its message and location), and so does a broken promise; an input may be
//! accepted or rejected, as long as it is one of the two.
//!
//! To add one: copy `input.<ext>` of a finding in `target/fuzz-findings/` here under a name
//! that says what it is, add a `regression!` line, fix the bug.

use cimopt_fuzz::{FuzzTarget, Outcome, exercise};
use std::path::{Path, PathBuf};

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions")
}

fn target_of(file: &str) -> FuzzTarget {
    let prefix = file.split('-').next().unwrap_or("");
    prefix
        .parse()
        .unwrap_or_else(|e| panic!("{file}: a regression's name starts with its target: {e}"))
}

fn replay(file: &str) {
    let path = folder().join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match exercise(target_of(file), &bytes) {
        Outcome::Accepted | Outcome::Rejected(_) => {}
        Outcome::Violated { site, detail } => panic!("{file}: {site}: {detail}"),
    }
}

macro_rules! regression {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $name() {
                replay($file);
            }
        )*
        const FILES: &[&str] = &[$($file),*];
    };
}

regression! {
    cache_candidates_one => "cache-candidates-one.json",
    cache_candidates_two => "cache-candidates-two.json",
    cache_temporal_levels_empty => "cache-temporal-levels-empty.json",
    cache_temporal_levels_one => "cache-temporal-levels-one.json",
    cache_temporal_levels_two => "cache-temporal-levels-two.json",
    onnx_huge_pads_other_op_totals => "onnx-huge-pads-other-op-totals.onnx",
    schedule_dilated_input_overflow => "schedule-dilated-input-overflow.json",
    schedule_energy_max_f64 => "schedule-energy-max-f64.json",
    schedule_float_read_back => "schedule-float-read-back.json",
    target_energy_max_f64 => "target-energy-max-f64.toml",
    target_float_read_back => "target-float-read-back.toml",
    target_level_name_quote => "target-level-name-quote.toml",
    target_shared_capacity_overflow => "target-shared-capacity-overflow.toml",
}

#[test]
fn every_file_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(folder())
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    on_disk.sort();
    let mut listed: Vec<String> = FILES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "tests/regressions/ and the regression! list differ"
    );
}
