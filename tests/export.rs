//! `cimopt export` and `cimopt import`: every format on a committed schedule, the Timeloop
//! round trip through files, and the errors for bad input.

mod common;

use common::{cimopt, fails, ok, root, text};
use serde_json::Value;

fn schedule() -> String {
    root()
        .join("schedules/tiny_cnn.default.schedule.json")
        .display()
        .to_string()
}

/// A frozen schedule of the tiny CNN whose layer 2 Timeloop cannot express exactly: the golden
/// schedules change as the optimiser improves, and may translate whole.
fn mixed() -> std::path::PathBuf {
    root().join("tests/fixtures/tiny_cnn.default.inexact-timeloop.schedule.json")
}

fn mappings(path: &std::path::Path) -> Vec<(u64, Value)> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].as_u64().unwrap(), l["mapping"].clone()))
        .collect()
}

#[test]
fn timeloop_export_to_a_folder_imports_back_to_the_same_mappings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tl");
    let o = cimopt(
        dir.path(),
        &[
            "export",
            mixed().to_str().unwrap(),
            "--format",
            "timeloop",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut files: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().collect();
    files.sort_by_key(|f| f.path());
    let original = mappings(&mixed());
    assert_eq!(files.len(), original.len());
    // Keep the layers that translate exactly (the others say so and the import refuses them).
    let mut exact = Vec::new();
    for f in &files {
        let t = std::fs::read_to_string(f.path()).unwrap();
        if t.contains("  exact: true") {
            exact.push(f.path());
        } else {
            assert!(t.contains("# WARNING (not exact)"));
            let err = fails(
                dir.path(),
                &["import", "--format", "timeloop", f.path().to_str().unwrap()],
                1,
            );
            assert!(err.contains("was not exact"), "{err}");
        }
    }
    assert!(!exact.is_empty() && exact.len() < files.len());
    let back = dir.path().join("back.json");
    let mut args = vec!["import", "--format", "timeloop"];
    let names: Vec<String> = exact.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    args.extend(["-o", back.to_str().unwrap()]);
    ok(dir.path(), &args);
    ok(dir.path(), &["check", back.to_str().unwrap()]);
    for (id, m) in mappings(&back) {
        let want = &original.iter().find(|x| x.0 == id).unwrap().1;
        assert_eq!(&m, want, "layer {id}");
    }
}

#[test]
fn timeloop_one_layer_goes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let y = ok(
        dir.path(),
        &[
            "export",
            &schedule(),
            "--format",
            "timeloop",
            "--layer",
            "1",
        ],
    );
    assert!(y.contains("problem:\n") && y.contains("architecture:\n") && y.contains("mapping:\n"));
    assert!(y.contains("!Container") && y.contains("type: dataspace"));
    // A stream of all layers imports as a whole when every layer is exact; one file reads alone.
    let f = dir.path().join("one.yaml");
    std::fs::write(&f, &y).unwrap();
    if y.contains("  exact: true") {
        let s = ok(
            dir.path(),
            &["import", "--format", "timeloop", f.to_str().unwrap()],
        );
        let doc: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(doc["layers"][0]["id"], 1);
    }
}

#[test]
fn miredo_and_perfetto_write_json() {
    let dir = tempfile::tempdir().unwrap();
    let m = ok(dir.path(), &["export", &schedule(), "--format", "miredo"]);
    let v: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(v["format"], "cimopt-miredo-1");
    assert_eq!(v["layers"].as_array().unwrap().len(), 5);
    let out = dir.path().join("trace.json");
    ok(
        dir.path(),
        &[
            "export",
            &schedule(),
            "--format",
            "perfetto",
            "--layer",
            "2",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(!t["traceEvents"].as_array().unwrap().is_empty());
    assert_eq!(t["otherData"]["layer"], 2);
    // Few activations: the rest is summarised, and said so.
    let o = cimopt(
        dir.path(),
        &[
            "export",
            &schedule(),
            "--format",
            "perfetto",
            "--max-events",
            "3",
        ],
    );
    assert!(o.status.success());
    let t: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(t["otherData"]["complete"], false);
    assert!(String::from_utf8_lossy(&o.stderr).contains("summarised"));
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.json");
    let e = fails(
        dir.path(),
        &[
            "export",
            &schedule(),
            "--format",
            "miredo",
            "--layer",
            "7",
            "-o",
            out.to_str().unwrap(),
        ],
        1,
    );
    assert!(
        e.contains("there is no layer 7: the schedule has 5 layers"),
        "{e}"
    );
    assert!(!out.exists());
    let e = fails(dir.path(), &["export", &schedule(), "--format", "onnx"], 2);
    assert!(e.contains("timeloop") && e.contains("perfetto"), "{e}");
    let e = fails(
        dir.path(),
        &[
            "export",
            &schedule(),
            "--format",
            "perfetto",
            "--layer",
            "9",
        ],
        1,
    );
    assert!(e.contains("no layer 9"), "{e}");
    let junk = dir.path().join("junk.yaml");
    std::fs::write(&junk, "problem: {}\n").unwrap();
    let e = fails(
        dir.path(),
        &[
            "import",
            "--format",
            "timeloop",
            junk.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        1,
    );
    assert!(
        e.contains("junk.yaml") && e.contains("ignore_cimopt"),
        "{e}"
    );
    assert!(!out.exists());
}

#[test]
fn outputs_follow_the_rules_of_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(schedule(), d.join("s.json")).unwrap();
    // Never over the schedule being exported.
    let e = fails(
        d,
        &["export", "s.json", "--format", "miredo", "-o", "s.json"],
        1,
    );
    assert!(
        e.contains("refusing to write") && e.contains("the schedule being exported"),
        "{e}"
    );
    cimopt_schedule::from_json(&std::fs::read_to_string(d.join("s.json")).unwrap(), None).unwrap();
    // A read-only file is kept unless --force.
    let ro = d.join("ro.json");
    std::fs::write(&ro, "keep").unwrap();
    let mut p = std::fs::metadata(&ro).unwrap().permissions();
    p.set_readonly(true);
    std::fs::set_permissions(&ro, p).unwrap();
    let e = fails(
        d,
        &["export", "s.json", "--format", "miredo", "-o", "ro.json"],
        1,
    );
    assert!(e.contains("read-only") && e.contains("--force"), "{e}");
    assert_eq!(std::fs::read_to_string(&ro).unwrap(), "keep");
    ok(
        d,
        &[
            "export", "s.json", "--format", "miredo", "-o", "ro.json", "--force",
        ],
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&ro).unwrap()).unwrap();
    assert_eq!(v["format"], "cimopt-miredo-1");
    // The committed schedules keep tensors on chip: MIREDO says so once, naming the layers.
    let o = cimopt(d, &["export", "s.json", "--format", "miredo"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("keep operands on chip") && err.matches("no residency").count() == 1,
        "{err}"
    );
    // The Gantt chart of one layer, to a file or into a folder under its own name.
    ok(
        d,
        &[
            "export", "s.json", "--format", "gantt", "--layer", "1", "-o", "g.svg",
        ],
    );
    let svg = std::fs::read_to_string(d.join("g.svg")).unwrap();
    assert!(svg.starts_with("<svg xmlns=") && svg.contains(">MAC array<"));
    std::fs::create_dir(d.join("out")).unwrap();
    ok(
        d,
        &[
            "export", "s.json", "--format", "gantt", "--layer", "1", "-o", "out",
        ],
    );
    let names: Vec<String> = std::fs::read_dir(d.join("out"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(
        names[0].starts_with("layer001_") && names[0].ends_with(".gantt.svg"),
        "{names:?}"
    );
    // One file per layer needs a folder whose parent exists.
    let e = fails(
        d,
        &[
            "export",
            "s.json",
            "--format",
            "timeloop",
            "-o",
            "missing/tl",
        ],
        1,
    );
    assert!(e.contains("missing") && e.contains("does not exist"), "{e}");
    let e = fails(
        d,
        &["export", "s.json", "--format", "timeloop", "-o", "g.svg"],
        1,
    );
    assert!(e.contains("not a folder"), "{e}");
    // Never over a document being imported.
    ok(d, &["export", "s.json", "--format", "timeloop", "-o", "tl"]);
    let exact = std::fs::read_dir(d.join("tl"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("  exact: true")
        })
        .expect("an exact layer");
    let before = std::fs::read_to_string(&exact).unwrap();
    let x = exact.to_str().unwrap();
    let e = fails(d, &["import", "--format", "timeloop", x, "-o", x], 1);
    assert!(e.contains("a document being imported"), "{e}");
    assert_eq!(std::fs::read_to_string(&exact).unwrap(), before);
}
