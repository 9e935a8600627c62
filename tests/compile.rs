//! `cimopt compile` and `cimopt check` end to end.

mod common;
use common::*;
use serde_json::Value;

fn compile_to(
    dir: &std::path::Path,
    model: &std::path::Path,
    target: &str,
    mapper: &str,
) -> (std::path::PathBuf, Value) {
    compile_with(dir, model, target, mapper, "on")
}

fn compile_with(
    dir: &std::path::Path,
    model: &std::path::Path,
    target: &str,
    mapper: &str,
    residency: &str,
) -> (std::path::PathBuf, Value) {
    let out = dir.join(format!(
        "{}.{target}.{mapper}.{residency}.json",
        model.file_stem().unwrap().to_string_lossy()
    ));
    ok(
        dir,
        &[
            "compile",
            model.to_str().unwrap(),
            "--target",
            target,
            "--mapper",
            mapper,
            "--residency",
            residency,
            "-q",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    (out, json)
}

fn assert_schedule_sound(path: &std::path::Path, json: &Value) {
    if let Err(errors) = cimopt_schedule::validate_against_schema(json) {
        panic!(
            "{} does not match the schema:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
    let text = std::fs::read_to_string(path).unwrap();
    let back = cimopt_schedule::from_json(&text, None).unwrap();
    assert_eq!(
        cimopt_schedule::to_json(&back),
        text,
        "{} does not round-trip byte for byte",
        path.display()
    );
}

/// What every schedule of a model must satisfy, whatever the mapper: it is sound (schema, byte
/// round trip) and `check` accepts it; it covers every layer `inspect` lists with all their MACs;
/// its totals are the sums of its layers (EDP their product) and at least its lower bound; every
/// mapping does at most the peak work per activation; and the simulator confirms each layer's
/// prediction within 3 %.
fn assert_schedule_right(
    dir: &std::path::Path,
    model: &std::path::Path,
    path: &std::path::Path,
    json: &Value,
) {
    assert_schedule_sound(path, json);
    let report = ok(dir, &["check", path.to_str().unwrap()]);
    assert!(report.contains("layers valid"), "{report}");
    let inspect: Value =
        serde_json::from_str(&ok(dir, &["inspect", model.to_str().unwrap(), "--json"])).unwrap();
    let layers = json["layers"].as_array().unwrap();
    let what = path.display();
    assert_eq!(
        layers.len() as u64,
        inspect["summary"]["layers"].as_u64().unwrap(),
        "{what}: a layer is missing"
    );
    let t = &json["inputs"]["target"]["spec"];
    let peak = t["cores"].as_f64().unwrap()
        * t["macro"]["rows"].as_f64().unwrap()
        * t["macro"]["cols"].as_f64().unwrap();
    let (mut macs, mut latency, mut energy) = (0.0, 0.0, 0.0);
    for l in layers {
        let d = &l["dims"];
        let layer_macs: f64 = ["R", "S", "P", "Q", "C", "K", "G", "B"]
            .iter()
            .map(|k| d[*k].as_f64().unwrap())
            .product();
        macs += layer_macs;
        let activations: f64 = l["mapping"]["temporal"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["factor"].as_f64().unwrap())
            .product();
        assert!(
            layer_macs <= activations * peak,
            "{what} layer {}: {layer_macs} MACs in {activations} activations of {peak}",
            l["id"]
        );
        let p = &l["predicted"];
        latency += p["latency_cycles"].as_f64().unwrap();
        energy += p["energy_nj"].as_f64().unwrap();
        for key in ["prediction_error.latency", "prediction_error.energy"] {
            let e = l["simulated"]["breakdown"][key].as_f64().unwrap();
            assert!(e <= 0.03, "{what} layer {}: {key} {e}", l["id"]);
        }
    }
    assert_eq!(
        macs,
        inspect["summary"]["total_macs"].as_f64().unwrap(),
        "{what}: the layers do not hold the model's MACs"
    );
    let m = &json["model"];
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(
        close(m["latency_cycles"].as_f64().unwrap(), latency),
        "{what}"
    );
    assert!(close(m["energy_nj"].as_f64().unwrap(), energy), "{what}");
    assert!(
        close(m["edp"].as_f64().unwrap(), latency * energy),
        "{what}"
    );
    assert!(
        m["lower_bound_cycles"].as_f64().unwrap() <= latency,
        "{what}"
    );
}

/// Every model on both presets with every mapper: each schedule is right, residency never makes
/// a model worse than its own every-tensor-in-DRAM baseline, and the mappers rank as they
/// promise for the same homes (every tensor in DRAM): greedy never worse than ws per layer, mip
/// never worse than greedy on the model's EDP.
fn all_mappers_on(models: &[std::path::PathBuf]) {
    let dir = tempfile::tempdir().unwrap();
    let totals = |j: &Value| {
        let b = &j["memory_plan"]["baseline"];
        let m = &j["model"];
        let f = |v: &Value, k: &str| v[k].as_f64().unwrap();
        (
            (f(m, "latency_cycles"), f(m, "energy_nj")),
            (f(b, "latency_cycles"), f(b, "energy_nj")),
        )
    };
    for model in models {
        for target in ["default", "transformer"] {
            let what = format!("{} on {target}", model.display());
            let mut off = Vec::new();
            let mut ws_layers: Vec<Value> = Vec::new();
            for mapper in ["ws", "greedy", "mip"] {
                let (path, on) = compile_to(dir.path(), model, target, mapper);
                assert_schedule_right(dir.path(), model, &path, &on);
                let ((l, e), (bl, be)) = totals(&on);
                let tol = 1.0 + 1e-9;
                assert!(
                    l <= bl * tol && e <= be * tol,
                    "{what} {mapper}: residency on ({l} cycles, {e} nJ) above its baseline ({bl}, {be})"
                );
                // The mip's baseline is its residency-off schedule (tests/memory_plan.rs shows
                // the two agree); the heuristics are cheap enough to compile again.
                off.push(if mapper == "mip" {
                    bl * be
                } else {
                    let (path, json) = compile_with(dir.path(), model, target, mapper, "off");
                    assert_schedule_right(dir.path(), model, &path, &json);
                    let layers = json["layers"].as_array().unwrap().clone();
                    if mapper == "ws" {
                        ws_layers = layers;
                    } else {
                        for (g, w) in layers.iter().zip(&ws_layers) {
                            assert!(
                                g["predicted"]["edp"].as_f64().unwrap()
                                    <= w["predicted"]["edp"].as_f64().unwrap() * tol,
                                "{what} layer {}: greedy above ws",
                                g["id"]
                            );
                        }
                    }
                    json["model"]["edp"].as_f64().unwrap()
                });
            }
            assert!(
                off[2] <= off[1] * (1.0 + 1e-9),
                "{what}: mip {} above greedy {} (every tensor in DRAM)",
                off[2],
                off[1]
            );
        }
    }
}

#[test]
fn heavy_every_bundled_model_compiles_right_with_every_mapper() {
    let models = bundled_models();
    assert!(models.len() >= 6, "{models:?}");
    all_mappers_on(&models);
}

#[test]
#[cfg_attr(not(shared_models), ignore = "needs ../shared/models")]
fn heavy_every_shared_model_compiles_right_with_every_mapper() {
    let shared = shared_models().expect("../shared/models was present when this test was built");
    let mut models: Vec<_> = std::fs::read_dir(shared)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    models.sort();
    assert!(!models.is_empty());
    all_mappers_on(&models);
}

#[test]
fn greedy_beats_weight_stationary_on_resnet18() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/resnet18.onnx");
    let (_, ws) = compile_with(dir.path(), &model, "default", "ws", "off");
    let (_, greedy) = compile_with(dir.path(), &model, "default", "greedy", "off");
    let edp = |j: &Value| j["model"]["edp"].as_f64().unwrap();
    assert!(
        edp(&greedy) * 1.3 < edp(&ws),
        "greedy {} vs ws {}",
        edp(&greedy),
        edp(&ws)
    );
    // Per layer too: greedy keeps ws as a fallback, so it is never worse by the cost model.
    for (g, w) in greedy["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(ws["layers"].as_array().unwrap())
    {
        assert!(
            g["predicted"]["edp"].as_f64().unwrap()
                <= w["predicted"]["edp"].as_f64().unwrap() * (1.0 + 1e-9)
        );
    }
    // Totals follow the reference convention: EDP = Σ latency × Σ energy.
    let m = &greedy["model"];
    let sum = |k: &str| {
        greedy["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["predicted"][k].as_f64().unwrap())
            .sum::<f64>()
    };
    assert!((m["latency_cycles"].as_f64().unwrap() - sum("latency_cycles")).abs() < 1e-6);
    assert!(
        (m["edp"].as_f64().unwrap() - sum("latency_cycles") * sum("energy_nj")).abs()
            <= 1e-9 * m["edp"].as_f64().unwrap()
    );
    assert!(m["lower_bound_cycles"].as_f64().unwrap() <= m["latency_cycles"].as_f64().unwrap());
}

#[test]
fn compile_is_deterministic_and_names_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/tiny_cnn.onnx");
    let stdout = ok(
        dir.path(),
        &["compile", model.to_str().unwrap(), "--target", "default"],
    );
    let default_name = dir.path().join("tiny_cnn.default.schedule.json");
    assert!(default_name.exists(), "{stdout}");
    assert!(stdout.contains("total: latency"), "{stdout}");
    let first = std::fs::read(&default_name).unwrap();
    ok(
        dir.path(),
        &[
            "compile",
            model.to_str().unwrap(),
            "--target",
            "default",
            "-q",
        ],
    );
    assert_eq!(
        first,
        std::fs::read(&default_name).unwrap(),
        "two compiles differ"
    );
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".cimopt-"))
        .collect();
    assert!(leftovers.is_empty());
}

fn corrupt(
    dir: &std::path::Path,
    name: &str,
    json: &Value,
    edit: impl FnOnce(&mut Value),
) -> std::path::PathBuf {
    let mut j = json.clone();
    edit(&mut j);
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(&j).unwrap()).unwrap();
    p
}

#[test]
fn check_rejects_corrupted_schedules_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (_, json) = compile_to(
        dir.path(),
        &root().join("models/tiny_cnn.onnx"),
        "default",
        "greedy",
    );
    let d = dir.path();

    let p = corrupt(d, "factor.json", &json, |j| {
        let f = &mut j["layers"][0]["mapping"]["temporal"][0]["factor"];
        *f = Value::from(f.as_u64().unwrap() * 2);
    });
    let out = fails(d, &["check", p.to_str().unwrap()], 1);
    assert!(
        out.contains("layer 0") && out.contains("factors multiply to"),
        "{out}"
    );

    let p = corrupt(d, "order.json", &json, |j| {
        let temporal = j["layers"][0]["mapping"]["temporal"]
            .as_array_mut()
            .unwrap();
        let n = temporal.len();
        temporal[n - 1]["level"]["O"] = Value::from("dram");
        temporal[0]["level"]["O"] = Value::from("global_buffer");
    });
    let out = fails(d, &["check", p.to_str().unwrap()], 1);
    assert!(out.contains("levels must not go outwards"), "{out}");

    let p = corrupt(d, "level.json", &json, |j| {
        j["layers"][1]["mapping"]["temporal"][0]["level"]["I"] = Value::from("gbuf");
    });
    let out = fails(d, &["check", p.to_str().unwrap()], 1);
    assert!(
        out.contains("layers[1].mapping.temporal[0].level.I") && out.contains("gbuf"),
        "{out}"
    );

    // The same schedule on a target where a level layer 0 uses is far too small.
    let used = json["layers"][0]["resident_bits"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| *k != "dram")
        .unwrap()
        .clone();
    let p = corrupt(d, "same.json", &json, |_| {});
    let set = format!("levels.{used}.capacity=1");
    let out = fails(
        d,
        &[
            "check",
            p.to_str().unwrap(),
            "--target",
            "default",
            "--set",
            &set,
        ],
        1,
    );
    assert!(
        out.contains(&format!("level `{used}` overflows")) && out.contains("holds 1 bit"),
        "{out}"
    );

    let p = corrupt(d, "spatial.json", &json, |j| {
        j["layers"][0]["mapping"]["spatial"] =
            serde_json::json!([{"axis": "cols", "dim": "C", "factor": 2}]);
    });
    let out = fails(d, &["check", p.to_str().unwrap()], 1);
    assert!(out.contains("C may not be unrolled on `cols`"), "{out}");
}

#[test]
fn unmappable_layers_are_errors_or_skipped_with_keep_going() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/tiny_cnn.onnx");
    let m = model.to_str().unwrap();
    let out = fails(
        dir.path(),
        &[
            "compile",
            m,
            "--target",
            "default",
            "--set",
            "levels.dram.capacity=64",
            "-o",
            "x.json",
        ],
        1,
    );
    assert!(
        out.contains("layer 0") && out.contains("level `dram` overflows"),
        "{out}"
    );
    assert!(
        !dir.path().join("x.json").exists(),
        "a failed compile must not write a schedule"
    );
    // With --keep-going the layers are skipped; here every one is, so there is nothing to
    // write: an error, and no file (tests/robustness.rs covers a partial skip).
    let out = fails(
        dir.path(),
        &[
            "compile",
            m,
            "--target",
            "default",
            "--set",
            "levels.dram.capacity=64",
            "--keep-going",
            "-o",
            "y.json",
        ],
        1,
    );
    assert!(
        out.contains("no layer could be mapped (5 skipped)"),
        "{out}"
    );
    assert!(!dir.path().join("y.json").exists());
}

#[test]
fn bad_targets_are_usage_or_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/tiny_cnn.onnx");
    let m = model.to_str().unwrap();
    let out = fails(dir.path(), &["compile", m, "--target", "nope"], 1);
    assert!(out.contains("`nope` is neither a preset"), "{out}");
    let out = fails(
        dir.path(),
        &[
            "compile",
            m,
            "--target",
            "default",
            "--set",
            "levels[2].capacity=0",
        ],
        1,
    );
    assert!(out.contains("levels[2].capacity: must be > 0"), "{out}");
    std::fs::write(
        dir.path().join("bad.toml"),
        "name = \"x\"\ncores = \"many\"\n",
    )
    .unwrap();
    let out = fails(dir.path(), &["compile", m, "--target", "bad.toml"], 1);
    assert!(out.contains("bad.toml"), "{out}");
    fails(dir.path(), &["compile", m], 2);
    fails(
        dir.path(),
        &["compile", m, "--target", "default", "--mapper", "magic"],
        2,
    );
}

#[test]
fn targets_list_and_show_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let list = ok(dir.path(), &["targets"]);
    assert!(
        list.contains("default") && list.contains("transformer"),
        "{list}"
    );
    for name in ["default", "transformer"] {
        let shown = ok(dir.path(), &["targets", "show", name]);
        let file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&file, &shown).unwrap();
        // The saved file is a target the compiler accepts, equal to the preset.
        let a = cimopt_target::load(name, &[]).unwrap().target;
        let b = cimopt_target::load(file.to_str().unwrap(), &[])
            .unwrap()
            .target;
        assert_eq!(a, b);
    }
    let shown = ok(
        dir.path(),
        &["targets", "show", "default", "--set", "cores=16"],
    );
    assert!(shown.contains("cores = 16"), "{shown}");
}

#[test]
fn progress_is_logged_off_a_terminal_and_silenced_by_quiet_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/tiny_cnn.onnx");
    let m = model.to_str().unwrap();
    let o = cimopt(
        dir.path(),
        &["compile", m, "--target", "default", "-o", "a.json"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success());
    assert!(
        err.lines()
            .any(|l| l.contains("/5 ") && l.contains("/conv")),
        "expected one log line per layer:\n{err}"
    );
    // The stages after the mapping say what they work through.
    assert!(
        err.lines()
            .any(|l| l.contains("] memory plan: ") && l.ends_with(" variants")),
        "expected the memory plan's line:\n{err}"
    );
    let o = cimopt(
        dir.path(),
        &[
            "compile",
            m,
            "--target",
            "transformer",
            "--certify",
            "50",
            "-o",
            "d.json",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let certified: Vec<&str> = err.lines().filter(|l| l.contains("] certify ")).collect();
    assert!(
        err.contains("] certify: 5 layers")
            && certified.len() == 5
            && certified
                .iter()
                .all(|l| l.contains("/5 /") && l.contains("gap ")),
        "expected one line per certified layer, with its gap:\n{err}"
    );
    let o = cimopt(
        dir.path(),
        &["compile", m, "--target", "default", "-q", "-o", "b.json"],
    );
    assert!(o.stderr.is_empty() && o.stdout.is_empty());
    let o = cimopt(
        dir.path(),
        &[
            "compile", m, "--target", "default", "--json", "-o", "c.json",
        ],
    );
    assert!(o.stderr.is_empty());
    let j: Value = serde_json::from_slice(&o.stdout).expect("--json prints JSON only");
    assert_eq!(j["layers"].as_array().unwrap().len(), 5);
}
