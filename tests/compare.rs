//! `cimopt compare` end to end.

mod common;
use common::*;
use serde_json::Value;

#[test]
fn compare_reports_ratios_and_refuses_different_models() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = root().join("models/tiny_cnn.onnx");
    let m = m.to_str().unwrap();
    ok(
        d,
        &[
            "compile", m, "--target", "default", "--mapper", "ws", "-q", "-o", "a.json",
        ],
    );
    ok(
        d,
        &[
            "compile", m, "--target", "default", "--mapper", "greedy", "-q", "-o", "b.json",
        ],
    );
    let table = ok(d, &["compare", "a.json", "b.json"]);
    assert!(
        table.contains("simulated numbers") && table.contains("total: latency"),
        "{table}"
    );
    let j: Value =
        serde_json::from_str(&ok(d, &["compare", "a.json", "b.json", "--json"])).unwrap();
    let t = &j["total"];
    let (s, e, edp) = (
        t["speedup"].as_f64().unwrap(),
        t["energy_ratio"].as_f64().unwrap(),
        t["edp_ratio"].as_f64().unwrap(),
    );
    assert!((s * e - edp).abs() < 1e-9 * edp, "{t}");
    assert!(edp >= 1.0, "greedy is never worse than ws: {t}");
    let a: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("a.json")).unwrap()).unwrap();
    assert_eq!(
        t["a"]["latency_cycles"].as_f64(),
        a["model"]["simulated_latency_cycles"].as_f64()
    );
    // Comparing a schedule with itself gives 1× everywhere.
    let same: Value =
        serde_json::from_str(&ok(d, &["compare", "a.json", "a.json", "--json"])).unwrap();
    assert_eq!(same["total"]["edp_ratio"].as_f64(), Some(1.0));
    // Schedules of different models are refused.
    let r = root().join("models/resnet18.onnx");
    ok(
        d,
        &[
            "compile",
            r.to_str().unwrap(),
            "--target",
            "default",
            "--mapper",
            "ws",
            "-q",
            "-o",
            "c.json",
        ],
    );
    let out = fails(d, &["compare", "a.json", "c.json"], 1);
    assert!(out.contains("not schedules of the same model"), "{out}");
}
