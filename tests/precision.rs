//! Every layer at its own precision, end to end: each quantized form compiles on both presets
//! with its float twin's layers and the widths its tensors give; 4-bit weights move half the
//! weight bits from DRAM and take half the macro's cells; `--precision target` runs the
//! target's; a width the macro cannot run is refused naming the layer (or padded up where the
//! target allows it); the simulator agrees with the cost model on every quantized layer.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const PRESETS: [&str; 2] = ["default", "transformer"];

/// Every quantized model the zoo writes, with its float twin.
fn quantized_models() -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(root().join("models/quantized"))
        .expect("models/quantized exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), p))
        .collect();
    v.sort();
    assert!(v.len() >= 8, "{v:?}");
    v
}

fn twin(stem: &str) -> PathBuf {
    if stem.starts_with("tiny_cnn") {
        root().join("models/tiny_cnn.onnx")
    } else if stem.starts_with("resnet18") {
        root().join("models/resnet18.onnx")
    } else {
        root().join("models/quantized/llama_tiny.onnx")
    }
}

fn compile(dir: &Path, model: &Path, target: &str, extra: &[&str]) -> Value {
    let name = format!(
        "{}.{target}.{}.json",
        model.file_stem().unwrap().to_string_lossy(),
        extra
            .join("")
            .replace(['-', '=', '.', '[', ']', ',', ' '], "")
    );
    let out = dir.join(name);
    let mut args = vec![
        "compile",
        model.to_str().unwrap(),
        "--target",
        target,
        "-q",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    ok(dir, &args);
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

fn layers(s: &Value) -> &Vec<Value> {
    s["layers"].as_array().unwrap()
}

/// `[input, weight, output]` bits a schedule's layer runs at.
fn bits(l: &Value) -> [u64; 3] {
    let p = &l["precision"];
    ["input_bits", "weight_bits", "output_bits"].map(|k| p[k].as_u64().unwrap())
}

/// The widths each layer of a quantized model runs at on the presets.
fn expected_bits(stem: &str, layer: &Value) -> [u64; 3] {
    match stem {
        s if s.ends_with("_int4") => [8, 4, 8],
        // MatMulNBits' 4-bit weights; the attention products are float, at 8 bits.
        "llama_tiny_q4" if layer["name"].as_str().unwrap().ends_with("MatMul_Q4") => [8, 4, 8],
        // ConvInteger's int32 accumulator, written at the 16-bit partial sums; the Gemm stays
        // float.
        "tiny_cnn_dynamic" if layer["op"] == "Conv" => [8, 8, 16],
        _ => [8, 8, 8],
    }
}

/// The simulator's relative errors against the prediction, per distinct layer.
fn prediction_errors(s: &Value) -> Vec<(f64, f64)> {
    layers(s)
        .iter()
        .filter(|l| l["same_as"].is_null())
        .map(|l| {
            let b = &l["simulated"]["breakdown"];
            (
                b["prediction_error.latency"].as_f64().unwrap(),
                b["prediction_error.energy"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Every quantized form compiles on both presets; its layers are the float twin's (op, dims,
/// weight kind, layer count) at the widths its tensors give; every layer's simulation is within
/// 3 % of its prediction and the mean within 1 %.
fn every_quantized_form_compiles(mapper: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut errors = Vec::new();
    for (stem, path) in quantized_models() {
        for target in PRESETS {
            let q = compile(dir.path(), &path, target, &["--mapper", mapper]);
            let f = compile(dir.path(), &twin(&stem), target, &["--mapper", mapper]);
            assert_eq!(layers(&q).len(), layers(&f).len(), "{stem} {target}");
            for (a, b) in layers(&q).iter().zip(layers(&f)) {
                for key in ["op", "weight_kind", "dims", "has_bias"] {
                    if key == "has_bias" && stem == "tiny_cnn_dynamic" {
                        continue; // its bias is a separate Add
                    }
                    assert_eq!(a[key], b[key], "{stem} {target} layer {}: {key}", a["id"]);
                }
                assert_eq!(
                    bits(a),
                    expected_bits(&stem, a),
                    "{stem} {target} layer {} `{}`",
                    a["id"],
                    a["name"]
                );
                assert_eq!(bits(b), [8, 8, 8], "the float twin at the target's");
            }
            for (l, e) in prediction_errors(&q) {
                assert!(l <= 0.03 && e <= 0.03, "{stem} {target}: {l} {e}");
                errors.push((l, e));
            }
            // Every schedule reads back and checks.
            let out = dir.path().join(format!("{stem}.{target}.{mapper}.json"));
            std::fs::write(&out, serde_json::to_string_pretty(&q).unwrap()).unwrap();
            ok(dir.path(), &["check", out.to_str().unwrap()]);
        }
    }
    let n = errors.len() as f64;
    let (l, e) = errors
        .iter()
        .fold((0.0, 0.0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
    assert!(l / n <= 0.01 && e / n <= 0.01, "means {} {}", l / n, e / n);
}

#[test]
fn every_quantized_form_compiles_with_greedy_on_both_presets() {
    every_quantized_form_compiles("greedy");
}

#[test]
fn heavy_every_quantized_form_compiles_with_the_optimiser_on_both_presets() {
    every_quantized_form_compiles("mip");
}

/// The bits each operand moves from DRAM and writes into the macros over a schedule, by the
/// simulator and by the cost model, with each layer's mapping at the widths `bits` gives it.
fn traffic(s: &cimopt_schedule::Schedule, weight_bits: Option<u64>) -> [[f64; 2]; 2] {
    use cimopt_target::Operand::W;
    let t = &s.inputs.target;
    let (mut dram, mut cells) = ([0.0; 2], [0.0; 2]);
    for l in &s.layers {
        let mut w = l.layer.workload.clone();
        if let Some(b) = weight_bits {
            w.bits.weight = Some(b);
        }
        assert!(
            cimopt_ir::check(t, &w, &l.mapping).is_empty(),
            "{}",
            l.layer.name
        );
        let sim = cimopt_sim::simulate(t, &w, &l.mapping).unwrap();
        let cost = cimopt_cost::evaluate(t, &w, &l.mapping);
        dram[0] += sim.levels[0].operand_bits_read[W.index()] as f64;
        dram[1] += cost.energy.bits_read[0][W.index()];
        cells[0] += sim.levels[t.macro_level()].operand_bits_written[W.index()] as f64;
        cells[1] += cost.energy.bits_written[t.macro_level()][W.index()];
    }
    [dram, cells]
}

/// The same mappings at 4-bit weights read exactly half the weight bits from DRAM and, packed
/// two to a cell slot, write half as many into the macros (padded, as many); every other
/// operand's traffic is unchanged. Checked on the committed ResNet-18 and BERT schedules, by
/// the simulator and the cost model alike.
#[test]
fn four_bit_weights_move_half_the_weight_bits_and_take_half_the_cells() {
    for file in [
        "resnet18.default",
        "resnet18.transformer",
        "bert_base.transformer",
    ] {
        let text = std::fs::read_to_string(root().join(format!("schedules/{file}.schedule.json")))
            .unwrap();
        let s = cimopt_schedule::from_json(&text, None).unwrap();
        let [dram8, cells8] = traffic(&s, None);
        let [dram4, cells4] = traffic(&s, Some(4));
        for k in 0..2 {
            assert!(dram8[k] > 0.0 && cells8[k] > 0.0, "{file}");
            assert_eq!(dram4[k] * 2.0, dram8[k], "{file}: DRAM weight bits");
            assert_eq!(cells4[k] * 2.0, cells8[k], "{file}: macro bits");
        }
        // Padded to the native width, a 4-bit weight takes a whole 8-bit slot of a cell.
        let padded = cimopt_target::with_overrides(
            &s.inputs.target,
            &["macro.weight_storage=\"padded\"".into()],
        )
        .unwrap();
        let text = cimopt_schedule::to_json(&s);
        let s_padded = cimopt_schedule::from_json(&text, Some(&padded)).unwrap();
        let [dram_p, cells_p] = traffic(&s_padded, Some(4));
        assert_eq!(dram_p, dram4, "{file}: DRAM holds them packed either way");
        assert_eq!(cells_p, cells8, "{file}: padded cells");
    }
}

/// The 4-bit twins compiled from scratch: half the weight bits from DRAM of the int8 model (each
/// layer reads its weights from DRAM as often as its mapping says; the optimiser's 4-bit
/// mappings read them no more often), and a cheaper schedule.
#[test]
fn a_four_bit_model_reads_half_the_weight_bits_of_its_eight_bit_twin() {
    let dir = tempfile::tempdir().unwrap();
    for (w8, w4) in [
        ("resnet18_qdq", "resnet18_qdq_int4"),
        ("llama_tiny", "llama_tiny_q4"),
    ] {
        let read = |stem: &str| {
            let path = root().join(format!("models/quantized/{stem}.onnx"));
            let v = compile(dir.path(), &path, "default", &["--mapper", "greedy"]);
            cimopt_schedule::from_json(&v.to_string(), None).unwrap()
        };
        let (s8, s4) = (read(w8), read(w4));
        let weights = |s: &cimopt_schedule::Schedule, four: bool| -> f64 {
            s.layers
                .iter()
                .filter(|l| !four || l.layer.workload.bits.weight == Some(4))
                .map(|l| {
                    let sim = cimopt_sim::simulate(&s.inputs.target, &l.layer.workload, &l.mapping)
                        .unwrap();
                    sim.levels[0].operand_bits_read[cimopt_target::Operand::W.index()] as f64
                })
                .sum()
        };
        // Over the layers whose weights are 4-bit in the twin (the Llama block's attention
        // products keep their 8-bit run-time operands).
        let four: Vec<&str> = s4
            .layers
            .iter()
            .filter(|l| l.layer.workload.bits.weight == Some(4))
            .map(|l| l.layer.name.as_str())
            .collect();
        assert!(!four.is_empty());
        let w8_same: f64 = s8
            .layers
            .iter()
            .zip(&s4.layers)
            .filter(|(_, b)| b.layer.workload.bits.weight == Some(4))
            .map(|(a, _)| {
                cimopt_sim::simulate(&s8.inputs.target, &a.layer.workload, &a.mapping)
                    .unwrap()
                    .levels[0]
                    .operand_bits_read[cimopt_target::Operand::W.index()] as f64
            })
            .sum();
        let ratio = weights(&s4, true) / w8_same;
        assert!(ratio <= 0.5 + 1e-9, "{w4}: {ratio}");
        assert!(
            s4.model.latency_cycles * s4.model.energy_nj
                < s8.model.latency_cycles * s8.model.energy_nj,
            "{w4}: EDP"
        );
    }
}

fn same_layers(a: &Value, b: &Value, what: &str) {
    assert_eq!(layers(a).len(), layers(b).len(), "{what}");
    for (x, y) in layers(a).iter().zip(layers(b)) {
        for key in ["dims", "precision", "mapping", "predicted", "simulated"] {
            assert_eq!(
                x[key], y[key],
                "{what}: layer {} `{}` {key}",
                x["id"], x["name"]
            );
        }
    }
}

/// An int8 model maps exactly like its float twin (the presets are 8-bit), and
/// `--precision target` runs a 4-bit model at the target's 8 bits: the float model's mappings
/// and numbers, layer by layer. (With residency off: the quantized graphs' extra
/// QuantizeLinear nodes give the memory plan other tensors to keep on chip.)
#[test]
fn int8_and_target_precision_map_like_the_float_model() {
    let dir = tempfile::tempdir().unwrap();
    let off = ["--residency", "off"];
    for target in PRESETS {
        let f = compile(dir.path(), &twin("tiny_cnn"), target, &off);
        for stem in ["tiny_cnn_qdq", "tiny_cnn_qop"] {
            let path = root().join(format!("models/quantized/{stem}.onnx"));
            let q = compile(dir.path(), &path, target, &off);
            same_layers(&q, &f, &format!("{stem} {target}"));
        }
        let path = root().join("models/quantized/resnet18_qdq_int4.onnx");
        let greedy = ["--mapper", "greedy", "--residency", "off"];
        let q = compile(
            dir.path(),
            &path,
            target,
            &[&greedy[..], &["--precision", "target"]].concat(),
        );
        let f = compile(dir.path(), &twin("resnet18"), target, &greedy);
        same_layers(
            &q,
            &f,
            &format!("resnet18_qdq_int4 --precision target {target}"),
        );
        let q = compile(
            dir.path(),
            &root().join("models/quantized/llama_tiny_q4.onnx"),
            target,
            &["--mapper", "greedy", "--precision", "target"],
        );
        let f = compile(
            dir.path(),
            &twin("llama_tiny"),
            target,
            &["--mapper", "greedy"],
        );
        same_layers(
            &q,
            &f,
            &format!("llama_tiny_q4 --precision target {target}"),
        );
    }
}

/// On a macro that computes 8-bit weights only, a 4-bit layer is refused naming it and its
/// width, with what would run it; allowed to pad, it runs at 8 bits (said once); with
/// `--keep-going` the layers the macro cannot run are skipped with their MACs.
#[test]
fn a_width_the_macro_cannot_run_is_refused_naming_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/quantized/resnet18_qdq_int4.onnx");
    let m = model.to_str().unwrap();
    let only8 = "macro.weight_bits_supported=[8]";
    let out = dir.path().join("x.json");
    let o = out.to_str().unwrap();
    let base = [
        "compile", m, "--target", "default", "--mapper", "greedy", "-q", "-o", o,
    ];
    let e = fails(dir.path(), &[&base[..], &["--set", only8]].concat(), 1);
    assert!(
        e.contains("layer 0 `/conv1/Conv` (Conv): the macro cannot run its precisions: the array computes weights of 8 bits (macro.weight_bits_supported), not 4; macro.pad_unsupported_weights = true runs its weights at 8 bits, --precision target runs every layer at the target's precisions"),
        "{e}"
    );
    assert!(!out.exists());
    let o2 = cimopt(
        dir.path(),
        &[
            &base[..],
            &[
                "--set",
                only8,
                "--set",
                "macro.pad_unsupported_weights=true",
            ],
        ]
        .concat(),
    );
    assert!(o2.status.success(), "{}", text(&o2));
    let warning = String::from_utf8_lossy(&o2.stderr);
    assert!(
        warning.contains("warning: 21 layers (`/conv1/Conv` and 20 more): weights the array does not compute at (e.g. 4 bits) run padded to 8 bits (macro.pad_unsupported_weights)"),
        "{warning}"
    );
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(layers(&s).iter().all(|l| bits(l) == [8, 8, 8]));

    // The Llama block: its 4-bit projections skipped, its attention products mapped.
    let llama = root().join("models/quantized/llama_tiny_q4.onnx");
    let text = ok(
        dir.path(),
        &[
            "compile",
            llama.to_str().unwrap(),
            "--target",
            "default",
            "--mapper",
            "greedy",
            "--set",
            only8,
            "--keep-going",
            "-o",
            o,
        ],
    );
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let skipped = s["model"]["skipped_nodes"].as_array().unwrap();
    assert_eq!(skipped.len(), 15, "{text}");
    assert!(skipped.iter().all(
        |n| n["macs"].as_u64().unwrap() > 0 && n["reason"].as_str().unwrap().contains("not 4")
    ));
    assert_eq!(layers(&s).len(), 4);
}

/// `inspect` shows the widths the model gives each layer (`-` for a float tensor: the target's
/// applies), a schedule's report the widths each layer runs at.
#[test]
fn inspect_and_report_show_each_layers_widths() {
    let dir = tempfile::tempdir().unwrap();
    let llama = root().join("models/quantized/llama_tiny_q4.onnx");
    let table = ok(dir.path(), &["inspect", llama.to_str().unwrap()]);
    let rows: Vec<&str> = table.lines().filter(|l| l.contains("MatMul")).collect();
    assert!(
        rows.iter().filter(|l| l.contains(" -/4/- ")).count() == 15
            && rows.iter().filter(|l| l.contains(" -/-/- ")).count() == 4,
        "{table}"
    );
    let json: Value = serde_json::from_str(&ok(
        dir.path(),
        &["inspect", llama.to_str().unwrap(), "--json"],
    ))
    .unwrap();
    assert_eq!(
        json["layers"][0]["bits"],
        serde_json::json!({"input": null, "weight": 4, "output": null})
    );
    let s = compile(dir.path(), &llama, "default", &["--mapper", "greedy"]);
    let path = dir.path().join("q4.json");
    std::fs::write(&path, serde_json::to_string_pretty(&s).unwrap()).unwrap();
    let report = ok(dir.path(), &["report", path.to_str().unwrap()]);
    assert!(report.contains("I/W/O bit"), "{report}");
    let rows: Vec<&str> = report.lines().filter(|l| l.contains(" MatMul ")).collect();
    assert_eq!(
        rows.iter().filter(|l| l.contains(" 8/4/8 ")).count(),
        15,
        "{report}"
    );
    assert_eq!(
        rows.iter().filter(|l| l.contains(" 8/8/8 ")).count(),
        4,
        "{report}"
    );
    let r: Value = serde_json::from_str(&ok(
        dir.path(),
        &["report", path.to_str().unwrap(), "--format", "json"],
    ))
    .unwrap();
    assert_eq!(r["layers"][0]["precision"]["weight_bits"], 4);
}
