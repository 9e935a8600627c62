//! The schedule format end to end: round trips, the schema, what is derived, what a reader
//! tolerates and how it reports what it cannot read.

mod common;

use cimopt_schedule::*;
use cimopt_target::{Dim, Operand};
use common::*;
use serde_json::{Value, json};

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn read(v: &Value) -> Result<Schedule, ScheduleError> {
    from_json(&v.to_string(), None)
}

fn err(v: &Value) -> String {
    match read(v) {
        Ok(_) => panic!("expected an error for\n{v:#}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn fixtures_are_valid_mappings() {
    let s = schedule();
    for l in &s.layers {
        let violations = cimopt_ir::check(&s.inputs.target, &l.layer.workload, &l.mapping);
        assert!(violations.is_empty(), "{}: {violations:?}", l.layer.name);
    }
}

#[test]
fn round_trip_is_byte_identical_and_lossless() {
    let s = schedule();
    let first = write(&s);
    let back = from_json(&first, None).unwrap();
    assert_eq!(back, s);
    let second = write(&back);
    assert_eq!(first, second);
    assert!(first.ends_with("}\n") && !first.ends_with("\n\n"));
    // Deterministic: writing twice gives the same bytes.
    assert_eq!(write(&s), first);
}

#[test]
fn output_is_pretty_with_two_spaces_and_ordered_keys() {
    let text = write(&schedule());
    assert!(text.starts_with("{\n  \"schema\": {\n    \"name\": \"cimopt-schedule\",\n    \"version\": \"1.3.0\"\n  },\n  \"producer\": {"));
    let v = parse(&text);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&v),
        ["schema", "producer", "inputs", "units", "layers", "model"]
    );
    assert_eq!(
        keys(&v["producer"]),
        [
            "tool",
            "version",
            "mapper",
            "objective",
            "solver",
            "solver_options"
        ]
    );
    assert_eq!(keys(&v["inputs"]["target"]), ["name", "sha256", "spec"]);
    assert_eq!(
        keys(&v["layers"][0]),
        [
            "id",
            "name",
            "onnx_nodes",
            "op",
            "weight_kind",
            "same_as",
            "has_bias",
            "dims",
            "padded_dims",
            "precision",
            "mapping",
            "psum_levels",
            "resident_bits",
            "predicted",
            "simulated",
            "solve"
        ]
    );
    assert_eq!(
        keys(&v["layers"][0]["precision"]),
        ["input_bits", "weight_bits", "output_bits"]
    );
    assert_eq!(
        keys(&v["layers"][0]["dims"]),
        [
            "R", "S", "P", "Q", "C", "K", "G", "B", "H", "W", "stride", "pad", "dilation"
        ]
    );
    assert_eq!(
        keys(&v["layers"][0]["solve"]),
        [
            "mapper",
            "status",
            "objective",
            "best_bound",
            "gap",
            "space_bound",
            "space_gap",
            "wall_s",
            "candidates",
            "warm_start",
            "cache_hit",
            "stop_reasons"
        ]
    );
    assert_eq!(
        keys(&v["model"]),
        [
            "latency_cycles",
            "energy_nj",
            "edp",
            "lower_bound_cycles",
            "simulated_latency_cycles",
            "simulated_energy_nj",
            "skipped_nodes",
            "non_cim_ops"
        ]
    );
    assert_eq!(
        v["units"],
        json!({"latency": "cycles", "energy": "nJ", "capacity": "bit", "edp": "cycle·nJ"})
    );
    // Shortest round-trip floats.
    assert!(text.contains("\"energy.level.macro_nj\": 0.30000000000000004"));
    assert!(text.contains("\"latency.stall_cycles\": 1e-7"));
}

#[test]
fn names_padding_and_derived_fields_are_written() {
    let s = schedule();
    let v = parse(&write(&s));
    let conv = &v["layers"][0];
    let fc = &v["layers"][1];
    assert_eq!(conv["padded_dims"], Value::Null);
    assert_eq!(fc["padded_dims"], json!({"K": 112}));
    assert_eq!(fc["op"], "Gemm");
    assert_eq!(conv["weight_kind"], "constant");
    assert_eq!(v["layers"][2]["same_as"], 0);
    assert_eq!(conv["same_as"], Value::Null);
    assert_eq!(
        conv["mapping"]["spatial"][0],
        json!({"axis": "cores", "dim": "K", "factor": 4})
    );
    assert_eq!(
        conv["mapping"]["temporal"][2],
        json!({"dim": "C", "factor": 2, "level": {"I": "input_buffer", "W": "macro", "O": "oreg"}})
    );
    assert_eq!(
        conv["mapping"]["double_buffer"],
        json!([{"level": "global_buffer", "operand": "I"}, {"level": "input_buffer", "operand": "I"}])
    );
    // The C loop (a reduction, trip 2) sits at oreg for O: oreg holds partial sums.
    assert_eq!(conv["psum_levels"], json!(["oreg"]));

    let t = &s.inputs.target;
    let bits = cimopt_ir::analysis::resident_bits(t, &conv1x1(), &conv_mapping());
    let rb = conv["resident_bits"].as_object().unwrap();
    let expected: Vec<&str> = (0..t.num_levels())
        .filter(|&lv| bits[lv].iter().any(|b| *b > 0))
        .map(|lv| t.levels[lv].name.as_str())
        .collect();
    assert_eq!(rb.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    for (name, triple) in rb {
        let lv = t.level_by_name(name).unwrap();
        for o in Operand::ALL {
            assert_eq!(triple[o.name()], bits[lv][o.index()], "{name}.{o}");
        }
    }
    // Global buffer, I double-buffered: 2 × (8 columns × 64 channels) × 8 bit.
    assert_eq!(rb["global_buffer"]["I"], 2 * 8 * 64 * 8);
    assert_eq!(
        v["inputs"]["target"]["sha256"].as_str().unwrap(),
        target_sha256(t)
    );
    assert_eq!(v["inputs"]["target"]["spec"]["name"], "default");
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    jsonschema::meta::validate(&schema).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}

#[test]
fn broken_documents_fail_the_schema() {
    let good = parse(&write(&schedule()));
    type Breakage = (&'static str, Box<dyn Fn(&mut Value)>);
    let breakages: Vec<Breakage> = vec![
        (
            "missing field",
            Box::new(|v| {
                v["layers"][0].as_object_mut().unwrap().remove("mapping");
            }),
        ),
        (
            "unknown field",
            Box::new(|v| v["layers"][0]["mapping"]["extra"] = json!(1)),
        ),
        (
            "wrong type",
            Box::new(|v| v["layers"][1]["dims"]["K"] = json!("100")),
        ),
        (
            "zero factor",
            Box::new(|v| v["layers"][0]["mapping"]["temporal"][0]["factor"] = json!(0)),
        ),
        (
            "bad axis",
            Box::new(|v| v["layers"][0]["mapping"]["spatial"][0]["axis"] = json!("lanes")),
        ),
        (
            "bad dim",
            Box::new(|v| v["layers"][0]["padded_dims"] = json!({"X": 3})),
        ),
        (
            "bad version",
            Box::new(|v| v["schema"]["version"] = json!("2.0.0")),
        ),
        (
            "bad hash",
            Box::new(|v| v["inputs"]["model"]["sha256"] = json!("abc")),
        ),
        (
            "bad target hash",
            Box::new(|v| v["inputs"]["target"]["sha256"] = json!("")),
        ),
        ("bad unit", Box::new(|v| v["units"]["energy"] = json!("pJ"))),
        (
            "NaN written as null",
            Box::new(|v| v["model"]["edp"] = Value::Null),
        ),
        (
            "bad target spec",
            Box::new(|v| {
                v["inputs"]["target"]["spec"]["levels"][0]["replication"] = json!("everywhere")
            }),
        ),
    ];
    assert!(validate_against_schema(&good).is_ok());
    for (what, f) in breakages {
        let mut bad = good.clone();
        f(&mut bad);
        let errors = validate_against_schema(&bad)
            .err()
            .unwrap_or_else(|| panic!("{what}: the schema accepted it"));
        assert!(!errors.is_empty(), "{what}");
    }
    // Errors point at the offending value.
    let mut bad = good.clone();
    bad["layers"][1]["dims"]["K"] = json!("100");
    let errors = validate_against_schema(&bad).unwrap_err();
    assert!(
        errors.iter().any(|e| e.starts_with("/layers/1/dims/K: ")),
        "{errors:?}"
    );
}

#[test]
fn a_schedule_without_optional_parts_is_written_validly() {
    let mut s = schedule();
    s.producer.solver = None;
    s.producer.solver_options.clear();
    s.model.skipped_nodes.clear();
    s.model.non_cim_ops.clear();
    s.model.simulated_latency_cycles = Some(5000.0);
    s.model.simulated_energy_nj = Some(25.0);
    for l in &mut s.layers {
        l.predicted = None;
        l.simulated = None;
        l.solve = SolveInfo {
            mapper: "given".into(),
            status: "given".into(),
            ..SolveInfo::default()
        };
    }
    s.layers.truncate(1);
    let text = write(&s);
    assert_eq!(from_json(&text, None).unwrap(), s);
    // Empty strings are kept as written, not replaced by the defaults of absent fields.
    s.layers[0].layer.name.clear();
    s.layers[0].solve.mapper.clear();
    s.layers[0].solve.status.clear();
    s.inputs.target_name.clear();
    s.inputs.model_file.clear();
    s.inputs.model_sha256.clear();
    let text = write(&s);
    assert_eq!(from_json(&text, None).unwrap(), s);
    s.layers.clear();
    let text = write(&s);
    assert_eq!(from_json(&text, None).unwrap(), s);
}

#[test]
fn the_target_hash_is_written_from_the_target() {
    let mut s = schedule();
    s.inputs.target_sha256 = "stale".into();
    let text = write(&s);
    assert_eq!(text, write(&schedule()));
    assert_eq!(from_json(&text, None).unwrap(), schedule());
}

#[test]
fn double_buffer_is_normalised() {
    let mut s = schedule();
    s.layers[0].mapping.double_buffer =
        vec![(IBUF, Operand::I), (GBUF, Operand::I), (IBUF, Operand::I)];
    let text = write(&s);
    assert_eq!(text, write(&schedule()));
    let mut v = parse(&text);
    v["layers"][0]["mapping"]["double_buffer"] = json!([
        {"level": "input_buffer", "operand": "I"},
        {"level": "global_buffer", "operand": "I"},
        {"level": "input_buffer", "operand": "I"}
    ]);
    let back = read(&v).unwrap();
    assert_eq!(
        back.layers[0].mapping.double_buffer,
        vec![(GBUF, Operand::I), (IBUF, Operand::I)]
    );
}

#[test]
fn a_minimal_hand_written_schedule_reads_with_defaults() {
    let spec = serde_json::to_value(target().to_file()).unwrap();
    let doc = json!({
        "schema": {"name": "cimopt-schedule", "version": "1.0.0"},
        "inputs": {"target": {"spec": spec}},
        "layers": [{
            "id": 0,
            "op": "Gemm",
            "dims": {"R": 1, "S": 1, "P": 4, "Q": 1, "C": 64, "K": 100},
            "padded_dims": {"K": 112},
            "mapping": {
                "spatial": [{"axis": "rows", "dim": "C", "factor": 32}, {"axis": "cols", "dim": "K", "factor": 16}],
                "temporal": [
                    {"dim": "K", "factor": 7, "level": {"I": "dram", "W": "dram", "O": "dram"}},
                    {"dim": "P", "factor": 4, "level": {"I": "global_buffer", "W": "global_buffer", "O": "output_buffer"}},
                    {"dim": "C", "factor": 2, "level": {"I": "input_buffer", "W": "macro", "O": "oreg"}}
                ]
            },
            "predicted": {"latency_cycles": 100.0, "energy_nj": 2.0}
        }]
    });
    let s = read(&doc).unwrap();
    let l = &s.layers[0];
    assert_eq!(l.layer.workload, gemm());
    assert_eq!(l.layer.name, "Gemm_0");
    assert_eq!(l.layer.dedup_group, 0);
    assert!(l.layer.onnx_nodes.is_empty() && !l.layer.has_bias);
    assert_eq!(l.same_as, None);
    assert_eq!(
        l.mapping,
        cimopt_ir::Mapping {
            double_buffer: vec![],
            ..gemm_mapping()
        }
    );
    assert_eq!(l.predicted.as_ref().unwrap().edp, 200.0);
    assert_eq!(l.solve.status, "unknown");
    assert_eq!(s.inputs.target, target());
    assert_eq!(s.inputs.target_name, "default");
    assert_eq!(s.inputs.target_sha256, target_sha256(&target()));
    assert_eq!(s.inputs.model_file, "");
    assert_eq!(s.producer, Producer::default());
    // Model totals default to the sums of the predictions.
    assert_eq!(s.model.latency_cycles, 100.0);
    assert_eq!(s.model.energy_nj, 2.0);
    assert_eq!(s.model.edp, 200.0);
    assert!(cimopt_ir::check(&s.inputs.target, &l.layer.workload, &l.mapping).is_empty());
    // What it reads writes out as a complete, schema-valid document.
    let text = write(&s);
    assert_eq!(from_json(&text, None).unwrap(), s);
}

/// Temporal loops that keep every operand in DRAM: a valid mapping of any workload they cover.
fn dram_loops(dims: &[(&str, u64)]) -> Value {
    let loops: Vec<Value> = dims
        .iter()
        .map(|(d, f)| json!({"dim": d, "factor": f, "level": {"I": "dram", "W": "dram", "O": "dram"}}))
        .collect();
    Value::Array(loops)
}

#[test]
fn input_extent_defaults_from_the_conv_geometry() {
    let spec = serde_json::to_value(target().to_file()).unwrap();
    let doc = json!({
        "schema": {"name": "cimopt-schedule", "version": "1.0"},
        "inputs": {"target": {"spec": spec}},
        "layers": [{
            "id": 0, "op": "Conv",
            "dims": {"R": 3, "S": 3, "P": 28, "Q": 28, "C": 16, "K": 16, "stride": [2, 2], "pad": [1, 1, 1, 1]},
            "mapping": {"temporal": dram_loops(&[("R", 3), ("S", 3), ("P", 28), ("Q", 28), ("C", 16), ("K", 16)])}
        }]
    });
    let w = &read(&doc).unwrap().layers[0].layer.workload;
    // (28 − 1)·2 + 3 − 2 = 55 … an input of 55 or 56 rows gives 28 outputs; the default is
    // the smallest.
    assert_eq!((w.h, w.w), (55, 55));
}

#[test]
fn a_target_override_replaces_the_embedded_spec() {
    let mut v = parse(&write(&schedule()));
    // The embedded spec is not even read.
    v["inputs"]["target"]["spec"] = json!("garbage");
    let other = cimopt_target::load("default", &["cores=16".to_string()])
        .unwrap()
        .target;
    let s = from_json(&v.to_string(), Some(&other)).unwrap();
    assert_eq!(s.inputs.target, other);
    assert_eq!(s.inputs.target_sha256, target_sha256(&other));
    assert_eq!(s.layers.len(), 3);
    // No inputs at all is fine with an override, and an error without.
    let v = json!({
        "schema": {"name": "cimopt-schedule", "version": "1.0.0"},
        "layers": []
    });
    assert!(from_json(&v.to_string(), Some(&other)).is_ok());
    assert_eq!(
        err(&v),
        "inputs.target.spec: missing: a schedule embeds its target (the target file as JSON); give it, or read the schedule with a target override"
    );
}

#[test]
fn unknown_fields_and_newer_minor_versions_are_accepted() {
    let s = schedule();
    let mut v = parse(&write(&s));
    v["schema"]["version"] = json!("1.7.2");
    v["future"] = json!({"anything": [1, 2]});
    v["producer"]["host"] = json!("ci");
    v["layers"][0]["notes"] = json!("hand-tuned");
    v["layers"][0]["mapping"]["temporal"][0]["unroll_hint"] = json!(true);
    v["layers"][0]["solve"]["iterations"] = json!(12);
    v["model"]["area_mm2"] = json!(1.5);
    // Derived fields are ignored, whatever they hold.
    v["layers"][0]["psum_levels"] = json!("nonsense");
    v["layers"][1]["resident_bits"] = json!({"nowhere": -1});
    v["layers"][2]
        .as_object_mut()
        .unwrap()
        .remove("psum_levels");
    assert_eq!(read(&v).unwrap(), s);
}

#[test]
fn errors_name_the_json_path() {
    let good = parse(&write(&schedule()));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        err(&v)
    };
    assert_eq!(
        with(&|v| v["layers"][0]["mapping"]["temporal"][2]["level"]["I"] = json!("gbuf")),
        "layers[0].mapping.temporal[2].level.I: no level named \"gbuf\" in target \"default\" (levels: dram, global_buffer, output_buffer, input_buffer, oreg, ireg, macro)"
    );
    // A layer whose id is not its position is named by both.
    assert_eq!(
        with(&|v| {
            v["layers"][1]["id"] = json!(7);
            v["layers"][1]["mapping"]["double_buffer"][0]["level"] = json!("sram");
        }),
        "layers[1].mapping.double_buffer[0].level (layer id 7): no level named \"sram\" in target \"default\" (levels: dram, global_buffer, output_buffer, input_buffer, oreg, ireg, macro)"
    );
    assert_eq!(
        with(&|v| v["layers"][0]["mapping"]["spatial"][1]["axis"] = json!("dimX")),
        "layers[0].mapping.spatial[1].axis: no spatial axis named \"dimX\" in target \"default\" (axes: cores, rows, cols)"
    );
    assert_eq!(
        with(&|v| v["layers"][0]["mapping"]["temporal"][1]["dim"] = json!("Z")),
        "layers[0].mapping.temporal[1].dim: unknown loop dimension `Z` (expected one of R S P Q C K G B)"
    );
    assert_eq!(
        with(&|v| v["layers"][0]["mapping"]["double_buffer"][0]["operand"] = json!("X")),
        "layers[0].mapping.double_buffer[0].operand: unknown operand `X` (expected I, W or O)"
    );
    assert_eq!(
        with(&|v| v["layers"][1]["padded_dims"] = json!({"KK": 112})),
        "layers[1].padded_dims.KK: unknown loop dimension `KK` (expected one of R S P Q C K G B)"
    );
    assert_eq!(
        with(&|v| v["layers"][0]["op"] = json!("Pool")),
        "layers[0].op: \"Pool\": expected \"Conv\", \"Gemm\" or \"MatMul\""
    );
    assert_eq!(
        with(&|v| v["layers"][0]["weight_kind"] = json!("runtime")),
        "layers[0].weight_kind: \"runtime\": expected \"constant\" or \"activation\""
    );
    assert_eq!(
        with(&|v| v["layers"][0]["dims"]["C"] = json!(0)),
        "layers[0].dims.C: must be ≥ 1"
    );
    assert_eq!(
        with(&|v| v["layers"][2]["id"] = json!(1)),
        "layers[2].id: id 1 is already used by layers[1]; ids must be unique"
    );
    assert_eq!(
        with(&|v| v["layers"][2]["same_as"] = json!(9)),
        "layers[2].same_as: no layer has id 9"
    );
    assert_eq!(
        with(&|v| v["layers"][0]["same_as"] = json!(2)),
        "layers[0].same_as: layer 0 cannot be the same as layer 2: same_as names an earlier layer (a smaller id)"
    );
    assert_eq!(
        with(&|v| v["layers"][2]["same_as"] = json!(1)),
        "layers[2].same_as: layer 2 says it is the same as layer 1, but their op, weight_kind, dims or precision differ"
    );
    assert_eq!(
        with(&|v| v["units"]["energy"] = json!("pJ")),
        "units.energy: \"pJ\": version 1 schedules give energy in \"nJ\" only; convert the numbers and write \"nJ\""
    );

    // Serde-level errors carry the path too.
    let e = with(&|v| v["layers"][0]["mapping"]["temporal"][0]["factor"] = json!("eight"));
    assert!(
        e.starts_with("layers[0].mapping.temporal[0].factor: invalid type: string \"eight\""),
        "{e}"
    );
    let e = with(&|v| v["layers"][1]["dims"]["K"] = json!(-3));
    assert!(
        e.starts_with("layers[1].dims.K: invalid value: integer `-3`"),
        "{e}"
    );
    let e = with(&|v| {
        v["layers"][1].as_object_mut().unwrap().remove("op");
    });
    assert!(e.starts_with("layers[1]: missing field `op`"), "{e}");
    let e = with(&|v| {
        v["layers"][0]["mapping"]
            .as_object_mut()
            .unwrap()
            .remove("temporal");
    });
    assert!(
        e.starts_with("layers[0].mapping: missing field `temporal`"),
        "{e}"
    );

    // The target spec: file-format errors and validation errors, under its path.
    let e = with(&|v| v["inputs"]["target"]["spec"]["levels"][2]["capacity"] = json!("lots"));
    assert!(
        e.starts_with("inputs.target.spec.levels[2].capacity: `lots` is not a capacity"),
        "{e}"
    );
    let e = with(&|v| v["inputs"]["target"]["spec"]["cores"] = json!(true));
    assert!(
        e.starts_with("inputs.target.spec.cores: invalid type: boolean"),
        "{e}"
    );
    let e = with(&|v| v["inputs"]["target"]["sha256"] = json!("0".repeat(64)));
    assert!(
        e.starts_with(&format!(
            "inputs.target.sha256: \"{}\" does not match the embedded spec, whose hash is \"{}\"",
            "0".repeat(64),
            target_sha256(&target())
        )),
        "{e}"
    );
    // Editing the spec without updating the hash is caught.
    let e = with(&|v| v["inputs"]["target"]["spec"]["cores"] = json!(16));
    assert!(e.starts_with("inputs.target.sha256: "), "{e}");
}

#[test]
fn schema_identity_and_version_errors() {
    let good = parse(&write(&schedule()));
    let mut v = good.clone();
    v["schema"]["version"] = json!("2.0.0");
    let e = read(&v).unwrap_err();
    assert!(
        matches!(e, ScheduleError::UnsupportedVersion { major: 2, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with(
            "schema.version: the document is version 2.0.0 of the cimopt-schedule format, but this reader understands major version 1 only"
        ),
        "{e}"
    );
    // A version-2 document is refused for its version, not for a field it lacks.
    assert!(matches!(
        read(&json!({"schema": {"name": "cimopt-schedule", "version": "2.1.0"}, "plan": {}})),
        Err(ScheduleError::UnsupportedVersion { .. })
    ));
    v["schema"]["version"] = json!("one");
    assert_eq!(
        err(&v),
        "schema.version: \"one\" is not a semantic version (MAJOR.MINOR.PATCH, e.g. \"1.0.0\")"
    );
    v["schema"]["name"] = json!("timeloop-mapping");
    assert!(matches!(read(&v), Err(ScheduleError::NotASchedule(_))));
    assert!(err(&v).starts_with("schema: name is \"timeloop-mapping\", not \"cimopt-schedule\""));
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("schema");
    assert!(
        err(&v).starts_with("schema: missing; expected \"schema\": {\"name\": \"cimopt-schedule\"")
    );
    assert!(matches!(
        from_json("[1, 2]", None),
        Err(ScheduleError::NotASchedule(_))
    ));
    let e = from_json("{\"schema\": ", None).unwrap_err();
    assert!(matches!(e, ScheduleError::Syntax(_)));
    assert!(
        e.to_string()
            .starts_with("the schedule is not valid JSON: "),
        "{e}"
    );
}

/// Every mutation of every value of a written document reads without panicking, and what
/// reads also writes without panicking.
#[test]
fn reading_never_panics() {
    let good = parse(&write(&schedule()));
    let mut paths = Vec::new();
    collect_paths(&good, String::new(), &mut paths);
    assert!(paths.len() > 200, "{}", paths.len());
    let replacements = [
        Value::Null,
        json!(-1),
        json!(0),
        json!(u64::MAX),
        json!(1.5e300),
        json!("x"),
        json!("dram"),
        json!([]),
        json!({}),
    ];
    let mut read_ok = 0;
    for path in &paths {
        let mut variants: Vec<Value> = replacements
            .iter()
            .map(|r| {
                let mut v = good.clone();
                *v.pointer_mut(path).unwrap() = r.clone();
                v
            })
            .collect();
        if let Some((parent, key)) = path.rsplit_once('/') {
            let mut v = good.clone();
            match v.pointer_mut(parent).unwrap() {
                Value::Object(m) => {
                    m.remove(key);
                }
                Value::Array(a) => {
                    a.remove(key.parse::<usize>().unwrap());
                }
                _ => unreachable!(),
            }
            variants.push(v);
        }
        for v in variants {
            let text = v.to_string();
            let result = std::panic::catch_unwind(|| {
                from_json(&text, None).map(|s| {
                    let _ = to_json(&s);
                })
            });
            match result {
                Ok(Ok(())) => read_ok += 1,
                Ok(Err(e)) => assert!(!e.to_string().is_empty()),
                Err(_) => panic!("from_json or to_json panicked after setting {path}:\n{text}"),
            }
        }
    }
    assert!(read_ok > 0);
    // Truncations of the text.
    let text = write(&schedule());
    for cut in (0..text.len()).step_by(97) {
        if text.is_char_boundary(cut) {
            assert!(from_json(&text[..cut], None).is_err());
        }
    }
}

fn collect_paths(v: &Value, at: String, out: &mut Vec<String>) {
    if !at.is_empty() {
        out.push(at.clone());
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                collect_paths(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_paths(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn huge_factors_are_written_without_derived_fields() {
    let mut s = schedule();
    s.layers[0].mapping.temporal[0].factor = u64::MAX;
    s.layers[1].mapping.temporal[0].level = [99, 0, 0];
    let v = parse(&to_json(&s));
    assert_eq!(v["layers"][0]["resident_bits"], json!({}));
    assert_eq!(v["layers"][0]["psum_levels"], json!([]));
    assert_eq!(
        v["layers"][1]["mapping"]["temporal"][0]["level"]["I"],
        "#99"
    );
    assert!(from_json(&to_json(&s), None).is_err());
}

#[test]
fn reads_padding_from_the_declared_overrides() {
    let s = from_json(&write(&schedule()), None).unwrap();
    let p = s.layers[1].mapping.padded_dims;
    for d in Dim::ALL {
        let want = if d == Dim::K { 112 } else { gemm().extent(d) };
        assert_eq!(p[d.index()], want, "{d}");
    }
}

/// Each layer records the widths it runs at (1.2.0); a document without them (1.0.0, 1.1.0)
/// ran every layer at the target's, and one the macro cannot run is refused naming the layer.
#[test]
fn layers_record_their_precisions() {
    let mut s = schedule();
    s.layers[1].layer.workload.bits.weight = Some(4);
    let text = write(&s);
    let v = parse(&text);
    assert_eq!(
        v["layers"][1]["precision"],
        json!({"input_bits": 8, "weight_bits": 4, "output_bits": 8})
    );
    assert_eq!(
        v["layers"][0]["precision"],
        json!({"input_bits": 8, "weight_bits": 8, "output_bits": 8})
    );
    let back = read(&v).unwrap();
    assert_eq!(back, s);
    assert_eq!(write(&back), text);

    // Older documents: the target's precisions.
    let mut old = v.clone();
    old["schema"]["version"] = json!("1.1.0");
    for l in old["layers"].as_array_mut().unwrap() {
        l.as_object_mut().unwrap().remove("precision");
    }
    let read_old = read(&old).unwrap();
    for l in &read_old.layers {
        let b = l.layer.workload.bits;
        assert_eq!(
            (b.input, b.weight, b.output),
            (Some(8), Some(8), Some(8)),
            "{}",
            l.layer.name
        );
    }

    // What the macro cannot run.
    let with = |f: &dyn Fn(&mut Value)| {
        let mut x = v.clone();
        f(&mut x);
        err(&x)
    };
    let e = with(&|x| x["layers"][1]["precision"]["weight_bits"] = json!(3));
    assert!(
        e.contains("layer 1 `fc`")
            && e.contains("precision: the array computes weights of 4 or 8 bits (macro.weight_bits_supported), not 3"),
        "{e}"
    );
    let e = with(&|x| x["layers"][1]["precision"]["input_bits"] = json!(16));
    assert!(
        e.contains(
            "16-bit inputs are wider than the macro's 8-bit inputs (macro.precision.input_bits)"
        ),
        "{e}"
    );
    let e = with(&|x| x["layers"][1]["precision"]["output_bits"] = json!(32));
    assert!(
        e.contains("32-bit outputs are wider than the macro's 16-bit accumulators"),
        "{e}"
    );
    for bad in [json!(0), json!(1000), json!(u64::MAX)] {
        let e = with(&|x| x["layers"][1]["precision"]["weight_bits"] = bad.clone());
        assert!(
            e.contains("layer 1 `fc`") && e.contains("weights of"),
            "{e}"
        );
    }
    // An identical layer runs at the same widths.
    let e = with(&|x| x["layers"][2]["precision"]["weight_bits"] = json!(4));
    assert!(e.contains("dims or precision differ"), "{e}");
    let e = with(&|x| x["layers"][1]["precision"] = json!({"input_bits": 8}));
    assert!(
        e.contains("layers[2].precision") || e.contains("weight_bits"),
        "{e}"
    );
}
