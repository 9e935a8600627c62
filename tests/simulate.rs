//! `cimopt simulate` end to end, and the simulated numbers `compile` records.

mod common;
use common::*;
use serde_json::Value;

fn compile(dir: &std::path::Path, model: &str, extra: &[&str]) -> Value {
    let m = root().join("models").join(model);
    let mut args = vec![
        "compile",
        m.to_str().unwrap(),
        "--target",
        "default",
        "-q",
        "-o",
        "s.json",
    ];
    args.extend_from_slice(extra);
    ok(dir, &args);
    serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap()
}

#[test]
fn compile_records_simulated_numbers_and_prediction_errors() {
    let dir = tempfile::tempdir().unwrap();
    let j = compile(dir.path(), "tiny_cnn.onnx", &[]);
    let mut sum = 0.0;
    for l in j["layers"].as_array().unwrap() {
        let s = &l["simulated"];
        assert!(s["latency_cycles"].as_f64().unwrap() > 0.0, "{l}");
        let err = s["breakdown"]["prediction_error.latency"].as_f64().unwrap();
        assert!(
            err <= 0.03,
            "layer {} predicted {:.2}% off",
            l["id"],
            100.0 * err
        );
        sum += s["latency_cycles"].as_f64().unwrap();
    }
    assert!((j["model"]["simulated_latency_cycles"].as_f64().unwrap() - sum).abs() < 1e-6);
    let j = compile(dir.path(), "tiny_cnn.onnx", &["--no-simulate"]);
    assert!(j["layers"][0]["simulated"].is_null());
    assert!(j["model"]["simulated_latency_cycles"].is_null());
}

#[test]
fn simulate_prints_a_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let j = compile(dir.path(), "resnet18.onnx", &["--no-simulate"]);
    let table = ok(dir.path(), &["simulate", "s.json"]);
    assert_eq!(
        table
            .lines()
            .filter(|l| l.contains("/Conv") || l.contains("/Gemm"))
            .count(),
        21,
        "{table}"
    );
    assert!(table.contains("total: latency"), "{table}");
    let out = ok(dir.path(), &["simulate", "s.json", "--json"]);
    let sim: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        sim["layers"].as_array().unwrap().len(),
        j["layers"].as_array().unwrap().len()
    );
    // Same numbers as compile records when it simulates.
    let with = compile(dir.path(), "resnet18.onnx", &[]);
    assert_eq!(
        sim["model"]["latency_cycles"].as_f64(),
        with["model"]["simulated_latency_cycles"].as_f64()
    );
}

#[test]
fn invalid_schedules_are_refused_with_checks_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = compile(dir.path(), "tiny_cnn.onnx", &["--no-simulate"]);
    let f = &mut j["layers"][0]["mapping"]["temporal"][0]["factor"];
    *f = Value::from(f.as_u64().unwrap() + 1);
    std::fs::write(
        dir.path().join("bad.json"),
        serde_json::to_string(&j).unwrap(),
    )
    .unwrap();
    let out = fails(dir.path(), &["simulate", "bad.json"], 1);
    assert!(
        out.contains("layer 0")
            && out.contains("is not a valid schedule")
            && out.contains("factors multiply to"),
        "{out}"
    );
    // A target too small for the schedule: refused with the capacity message.
    let used = j["layers"][1]["resident_bits"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| *k != "dram")
        .unwrap()
        .clone();
    compile(dir.path(), "tiny_cnn.onnx", &["--no-simulate"]);
    let set = format!("levels.{used}.capacity=1");
    let out = fails(
        dir.path(),
        &["simulate", "s.json", "--target", "default", "--set", &set],
        1,
    );
    assert!(out.contains(&format!("level `{used}` overflows")), "{out}");
}
