//! `cimopt sweep` end to end.

mod common;
use common::*;

#[test]
fn sweep_compiles_the_cartesian_product() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = root().join("models/tiny_cnn.onnx");
    let out = ok(
        d,
        &[
            "sweep",
            m.to_str().unwrap(),
            "--target",
            "default",
            "--set",
            "cores=4,8",
            "--set",
            "levels.global_buffer.capacity=128KiB,512KiB",
            "--set",
            "spatial.cores.dims=[\"P\",\"K\"],[\"K\"]",
            "--html",
            "s.html",
            "--schedules",
            "sch",
        ],
    );
    assert!(out.contains("lowest EDP"), "{out}");
    let csv = std::fs::read_to_string(d.join("tiny_cnn.default.sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 8, "{csv}");
    assert!(
        lines[0]
            .starts_with("cores,levels.global_buffer.capacity,spatial.cores.dims,latency_cycles")
    );
    assert!(
        lines[1].starts_with("4,128KiB,\"[\"\"P\"\",\"\"K\"\"]\","),
        "{}",
        lines[1]
    );
    // Each variant equals a plain compile with the same overrides.
    let variant = d.join("v.json");
    ok(
        d,
        &[
            "compile",
            m.to_str().unwrap(),
            "--target",
            "default",
            "--set",
            "cores=8",
            "--set",
            "levels.global_buffer.capacity=512KiB",
            "--set",
            "spatial.cores.dims=[\"K\"]",
            "-q",
            "-o",
            variant.to_str().unwrap(),
        ],
    );
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&variant).unwrap()).unwrap();
    let last: Vec<&str> = lines[8].split(',').collect();
    assert_eq!(
        last[last.len() - 5].parse::<f64>().unwrap(),
        j["model"]["latency_cycles"].as_f64().unwrap()
    );
    assert_eq!(std::fs::read_dir(d.join("sch")).unwrap().count(), 8);
    let html = std::fs::read_to_string(d.join("s.html")).unwrap();
    assert_eq!(html.matches("<svg ").count(), 3);
    assert_eq!(html.matches("class=\"bar\"").count(), 3 * 8);
    // A bad value names the variant.
    let out = fails(
        d,
        &[
            "sweep",
            m.to_str().unwrap(),
            "--target",
            "default",
            "--set",
            "cores=4,0",
        ],
        1,
    );
    assert!(
        out.contains("variant cores=0") && out.contains("cores: must be > 0"),
        "{out}"
    );
}
