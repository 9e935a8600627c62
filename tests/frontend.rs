//! `cimopt inspect` end to end.

mod common;
use common::*;
use serde_json::Value;

/// Table rows: lines that start with a layer index followed by an op name.
fn layer_rows(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            w.next().is_some_and(|i| i.parse::<usize>().is_ok())
                && matches!(w.next(), Some("Conv" | "Gemm" | "MatMul"))
        })
        .collect()
}

#[test]
fn inspect_resnet18_table() {
    let out = ok(&root(), &["inspect", "models/resnet18.onnx"]);
    let rows = layer_rows(&out);
    assert_eq!(rows.len(), 21, "{out}");
    assert!(out.contains("21 layers"), "{out}");
    assert!(
        rows[0].contains("/conv1/Conv") && rows[20].contains("/fc/Gemm"),
        "{out}"
    );
    // conv1: R S P Q C K G B = 7 7 112 112 3 64 1 1, stride 2x2, pads 3.
    let first: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        &first[..13],
        &[
            "0", "Conv", "7", "7", "112", "112", "3", "64", "1", "1", "2x2", "3,3,3,3", "1x1"
        ]
    );
    // Non-CIM operators are listed, not dropped.
    for op in ["Relu", "MaxPool", "Add", "GlobalAveragePool", "Flatten"] {
        assert!(
            out.lines().any(|l| l.starts_with(op)),
            "{op} missing:\n{out}"
        );
    }
}

#[test]
fn inspect_json() {
    let out = ok(&root(), &["inspect", "models/resnet18.onnx", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("valid JSON");
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 21);
    assert_eq!(v["summary"]["layers"], 21);
    assert_eq!(v["summary"]["total_macs"], 1_814_073_344u64);
    let l0 = &layers[0];
    let keys: Vec<&str> = l0.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "index",
            "name",
            "op",
            "weight_kind",
            "r",
            "s",
            "p",
            "q",
            "c",
            "k",
            "g",
            "b",
            "h",
            "w",
            "stride",
            "pad",
            "dilation",
            "macs",
            "weights",
            "dedup_group",
            "has_bias",
            "onnx_nodes",
            "bits"
        ]
    );
    assert_eq!(
        (l0["name"].as_str(), l0["op"].as_str(), l0["p"].as_u64()),
        (Some("/conv1/Conv"), Some("Conv"), Some(112))
    );
    assert_eq!(l0["macs"], 118_013_952u64);
    // layer1.0.conv2 has the same workload as layer1.0.conv1.
    assert_eq!(layers[2]["dedup_group"], 1);
    let other = v["other_ops"].as_array().unwrap();
    assert_eq!(other.len(), 28);
    assert!(
        other
            .iter()
            .all(|o| o["op_type"].is_string() && o["output_elements"].is_u64())
    );
    assert!(
        v["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == &serde_json::json!([0, 1]))
    );
}

#[test]
fn inspect_bert_attention_is_activation_times_activation() {
    let out = ok(&root(), &["inspect", "models/bert_base.onnx", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 96);
    let qk = &layers[3];
    assert_eq!(qk["weight_kind"], "activation");
    assert_eq!(
        (
            qk["g"].as_u64(),
            qk["p"].as_u64(),
            qk["c"].as_u64(),
            qk["k"].as_u64()
        ),
        (Some(12), Some(128), Some(64), Some(128))
    );
}

#[test]
fn inspect_missing_file_names_it() {
    let out = fails(&root(), &["inspect", "models/no_such_model.onnx"], 1);
    assert!(out.contains("models/no_such_model.onnx"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
}

#[test]
fn inspect_non_onnx_file_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readme.onnx"), "just some text\n").unwrap();
    let out = fails(dir.path(), &["inspect", "readme.onnx"], 1);
    assert!(
        out.contains("readme.onnx") && out.contains("not a valid ONNX model"),
        "{out}"
    );
}

// A minimal protobuf writer, enough for a hand-made ONNX model with a symbolic input dim.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn field_varint(field: u32, v: u64, out: &mut Vec<u8>) {
    varint(u64::from(field) << 3, out);
    varint(v, out);
}
fn field_bytes(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    varint((u64::from(field) << 3) | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}
enum D {
    Value(u64),
    Param(&'static str),
}
/// ValueInfoProto { name, type: TypeProto { tensor_type: { elem_type: FLOAT, shape } } }
fn value_info(name: &str, dims: &[D]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d {
            D::Value(v) => field_varint(1, *v, &mut dim),
            D::Param(p) => field_bytes(2, p.as_bytes(), &mut dim),
        }
        field_bytes(1, &dim, &mut shape);
    }
    let mut tensor = Vec::new();
    field_varint(1, 1, &mut tensor);
    field_bytes(2, &shape, &mut tensor);
    let mut ty = Vec::new();
    field_bytes(1, &tensor, &mut ty);
    let mut vi = Vec::new();
    field_bytes(1, name.as_bytes(), &mut vi);
    field_bytes(2, &ty, &mut vi);
    vi
}
/// `y = MatMul(tokens[seq, 16], w[16, 8])` with `seq` symbolic.
fn symbolic_model() -> Vec<u8> {
    let mut node = Vec::new();
    field_bytes(1, b"tokens", &mut node);
    field_bytes(1, b"w", &mut node);
    field_bytes(2, b"y", &mut node);
    field_bytes(3, b"proj", &mut node);
    field_bytes(4, b"MatMul", &mut node);
    let mut graph = Vec::new();
    field_bytes(1, &node, &mut graph);
    field_bytes(2, b"symbolic", &mut graph);
    field_bytes(
        11,
        &value_info("tokens", &[D::Param("seq"), D::Value(16)]),
        &mut graph,
    );
    field_bytes(
        11,
        &value_info("w", &[D::Value(16), D::Value(8)]),
        &mut graph,
    );
    field_bytes(
        12,
        &value_info("y", &[D::Param("seq"), D::Value(8)]),
        &mut graph,
    );
    let mut opset = Vec::new();
    field_varint(2, 17, &mut opset);
    let mut model = Vec::new();
    field_varint(1, 8, &mut model);
    field_bytes(7, &graph, &mut model);
    field_bytes(8, &opset, &mut model);
    model
}

#[test]
fn inspect_symbolic_input_needs_input_shape() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sym.onnx"), symbolic_model()).unwrap();
    let out = fails(dir.path(), &["inspect", "sym.onnx"], 1);
    assert!(
        out.contains("`tokens`") && out.contains("seq") && out.contains("--input-shape"),
        "{out}"
    );

    let out = ok(
        dir.path(),
        &["inspect", "sym.onnx", "--input-shape", "tokens=32x16"],
    );
    let rows = layer_rows(&out);
    assert_eq!(rows.len(), 1, "{out}");
    // [32,16] × [16,8]: P = 32, C = 16, K = 8.
    let cols: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        &cols[..10],
        &["0", "MatMul", "1", "1", "32", "1", "16", "8", "1", "1"]
    );

    let out = fails(
        dir.path(),
        &["inspect", "sym.onnx", "--input-shape", "tokenz=32x16"],
        1,
    );
    assert!(
        out.contains("`tokenz`") && out.contains("`tokens`"),
        "{out}"
    );
}

#[test]
fn inspect_directory_fails_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = fails(dir.path(), &["inspect", "."], 1);
    assert!(out.contains("is a directory"), "{out}");
    assert_eq!(
        out.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{out}"
    );
    assert!(!out.contains("os error"), "{out}");
}

#[test]
fn inspect_huge_input_shape_is_an_error_not_a_panic() {
    let out = fails(
        &root(),
        &[
            "inspect",
            "models/tiny_cnn.onnx",
            "--input-shape",
            "input=1x3x4294967296x4294967296",
        ],
        1,
    );
    assert!(
        out.contains("`input`") && out.contains("9223372036854775807"),
        "{out}"
    );
    assert!(
        !out.contains("panicked") && !out.contains("overflow"),
        "{out}"
    );
}

/// `x → Conv → DepthToSpace(blocksize 0)`: tract panics (divides by zero) on it.
fn tract_panics_model() -> Vec<u8> {
    let mut node = Vec::new();
    // Conv(x, w) → y
    let mut conv = Vec::new();
    field_bytes(1, b"x", &mut conv);
    field_bytes(1, b"w", &mut conv);
    field_bytes(2, b"y", &mut conv);
    field_bytes(3, b"conv", &mut conv);
    field_bytes(4, b"Conv", &mut conv);
    field_bytes(1, &conv, &mut node);
    // DepthToSpace(y) → z, blocksize = 0
    let mut d2s = Vec::new();
    field_bytes(1, b"y", &mut d2s);
    field_bytes(2, b"z", &mut d2s);
    field_bytes(3, b"d2s", &mut d2s);
    field_bytes(4, b"DepthToSpace", &mut d2s);
    let mut attr = Vec::new();
    field_bytes(1, b"blocksize", &mut attr);
    field_varint(3, 0, &mut attr);
    field_varint(20, 2, &mut attr); // type INT
    field_bytes(5, &attr, &mut d2s);
    field_bytes(1, &d2s, &mut node);
    let mut graph = node;
    field_bytes(2, b"tract_panics", &mut graph);
    let dims = |d: &[u64]| d.iter().map(|&v| D::Value(v)).collect::<Vec<_>>();
    field_bytes(11, &value_info("x", &dims(&[1, 4, 4, 4])), &mut graph);
    field_bytes(11, &value_info("w", &dims(&[4, 4, 1, 1])), &mut graph);
    field_bytes(12, &value_info("z", &[]), &mut graph);
    let mut opset = Vec::new();
    field_varint(2, 17, &mut opset);
    let mut model = Vec::new();
    field_varint(1, 8, &mut model);
    field_bytes(7, &graph, &mut model);
    field_bytes(8, &opset, &mut model);
    model
}

#[test]
fn inspect_tract_panic_is_one_quiet_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d2s.onnx"), tract_panics_model()).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cimopt"))
        .current_dir(dir.path())
        .env("RUST_BACKTRACE", "1")
        .args(["inspect", "d2s.onnx"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("tract panicked"), "{err}");
    assert!(
        !err.contains("stack backtrace") && !err.contains("panicked at"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn inspect_quantized_models_shows_the_float_layers() {
    let dir = root().join("models/quantized");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let summary = |model: &str| {
        let out = ok(&root(), &["inspect", model, "--json"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        (
            v["summary"]["layers"].clone(),
            v["summary"]["total_macs"].clone(),
        )
    };
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let twin = if stem.starts_with("tiny_cnn") {
            "models/tiny_cnn.onnx".to_string()
        } else if stem.starts_with("resnet18") {
            "models/resnet18.onnx".to_string()
        } else {
            "models/quantized/llama_tiny.onnx".to_string()
        };
        let model = format!("models/quantized/{stem}.onnx");
        assert_eq!(summary(&model), summary(&twin), "{stem} vs {twin}");
        let table = ok(&root(), &["inspect", &model]);
        assert!(!layer_rows(&table).is_empty(), "{table}");
    }
}

#[test]
fn compile_quantized_models_with_greedy() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["tiny_cnn_qop", "tiny_cnn_dynamic", "llama_tiny_q4"] {
        let src = root().join(format!("models/quantized/{model}.onnx"));
        let out = dir.path().join(format!("{model}.json"));
        let text = ok(
            dir.path(),
            &[
                "compile",
                src.to_str().unwrap(),
                "--target",
                "default",
                "--mapper",
                "greedy",
                "-q",
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert!(out.is_file(), "{model}: {text}");
    }
}
