//! Bad inputs give typed, one-paragraph errors naming the file, node or input — never a panic.

mod common;

use cimopt_onnx::{FrontendError, LoadOptions};
use cimopt_zoo::{Builder, Dim, attr_int, encode};
use common::*;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn load_err(path: &Path, opts: &LoadOptions) -> FrontendError {
    match cimopt_onnx::load(path, opts) {
        Ok(m) => panic!(
            "{} loaded ({} layers) but should fail",
            path.display(),
            m.layers.len()
        ),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "one paragraph: {msg}");
            e
        }
    }
}

#[test]
fn missing_file() {
    let p = Path::new("/nonexistent/dir/model.onnx");
    let e = load_err(p, &LoadOptions::default());
    assert!(matches!(e, FrontendError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/dir/model.onnx"), "{e}");
}

#[test]
fn not_onnx_empty_and_truncated_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(
        dir.path(),
        "notes.onnx",
        b"This is a text file, not an ONNX model.\nSecond line.\n",
    );
    let empty = write(dir.path(), "empty.onnx", b"");
    let full = std::fs::read(models_dir().join("resnet18.onnx")).unwrap();
    let half = write(dir.path(), "half.onnx", &full[..full.len() / 2]);
    let head = write(dir.path(), "head.onnx", &full[..1000]);
    for p in [&text, &empty, &half, &head] {
        let e = load_err(p, &LoadOptions::default());
        assert!(
            matches!(e, FrontendError::NotOnnx { .. }),
            "{}: {e:?}",
            p.display()
        );
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
    }
}

#[test]
fn garbage_never_panics() {
    // A fixed pseudo-random byte stream, cut at many lengths, and a model with bytes flipped.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for len in [1, 2, 7, 64, 300, 4096] {
        assert!(load_bytes(&bytes[..len], &LoadOptions::default()).is_err());
    }
    let mut model = std::fs::read(models_dir().join("tiny_cnn.onnx")).unwrap();
    for i in (10..model.len()).step_by(97) {
        model[i] ^= 0x5a;
        let _ = load_bytes(&model, &LoadOptions::default()); // an error or a model, never a panic
    }
}

fn symbolic_model() -> Vec<u8> {
    let mut b = Builder::new("symbolic");
    let x = b.input_dims("x", &[Dim::from("batch"), 3.into(), 8.into(), 8.into()]);
    let w = b.weight("w", &[4, 3, 3, 3]);
    let y = b.node("Conv", "conv", &[&x, &w], vec![]);
    b.output(&y, &[1, 4, 6, 6]);
    encode(&b.finish())
}

#[test]
fn symbolic_input_needs_a_shape() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "symbolic.onnx", &symbolic_model());
    let e = load_err(&p, &LoadOptions::default());
    match &e {
        FrontendError::SymbolicInput {
            input,
            dim,
            dim_name,
            ..
        } => {
            assert_eq!((input.as_str(), *dim, dim_name.as_str()), ("x", 0, "batch"));
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    for needle in ["`x`", "batch", "--input-shape x=1x3x8x8", "symbolic.onnx"] {
        assert!(msg.contains(needle), "`{needle}` missing from: {msg}");
    }

    // With a shape: batch 2 becomes B = 2; P = Q = 8 − 3 + 1 = 6.
    let opts = LoadOptions {
        input_shapes: vec![("x".into(), vec![2, 3, 8, 8])],
        ..Default::default()
    };
    let m = cimopt_onnx::load(&p, &opts).unwrap();
    let w = &m.layers[0].workload;
    assert_eq!((w.b, w.p, w.q, w.c, w.k), (2, 6, 6, 3, 4));
    assert_eq!(m.inputs, vec![("x".to_string(), vec![2, 3, 8, 8])]);

    // An unknown input name, and a shape of the wrong rank.
    let opts = LoadOptions {
        input_shapes: vec![("images".into(), vec![1, 3, 8, 8])],
        ..Default::default()
    };
    let e = load_err(&p, &opts);
    assert!(matches!(e, FrontendError::UnknownInput { .. }), "{e:?}");
    assert!(
        e.to_string().contains("`images`") && e.to_string().contains("`x`"),
        "{e}"
    );
    let opts = LoadOptions {
        input_shapes: vec![("x".into(), vec![3, 8, 8])],
        ..Default::default()
    };
    let e = load_err(&p, &opts);
    assert!(matches!(e, FrontendError::BadInputShape { .. }), "{e:?}");
    assert!(e.to_string().contains("rank 4"), "{e}");
}

fn conv_on(
    x_dims: &[i64],
    w_dims: &[i64],
    op: &str,
    attrs: Vec<tract_onnx::pb::AttributeProto>,
) -> Vec<u8> {
    let mut b = Builder::new("bad");
    let x = b.input("x", x_dims);
    let w = b.weight("w", w_dims);
    let y = b.node(op, "the_node", &[&x, &w], attrs);
    b.output(&y, &[]);
    encode(&b.finish())
}

#[test]
fn unsupported_compute_nodes() {
    // A 3-D convolution.
    let e = load_bytes(
        &conv_on(&[1, 2, 4, 4, 4], &[2, 2, 1, 1, 1], "Conv", vec![]),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, FrontendError::Unsupported { node, .. } if node == "the_node"),
        "{e:?}"
    );
    // ConvTranspose is compute the front end does not lower: an error, not a dropped layer.
    let e = load_bytes(
        &conv_on(&[1, 2, 4, 4], &[2, 2, 3, 3], "ConvTranspose", vec![]),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, FrontendError::Unsupported { node, .. } if node == "the_node"),
        "{e:?}"
    );
    assert!(e.to_string().contains("ConvTranspose"), "{e}");

    // A kernel whose shape nothing can infer (the output of an unknown custom operator).
    let mut b = Builder::new("unknown_kernel");
    let x = b.input("x", &[1, 2, 4, 4]);
    let k = b.node("MakeKernel", "make_kernel", &[], vec![]);
    let y = b.node("Conv", "dynamic_conv", &[&x, &k], vec![]);
    b.output(&y, &[]);
    let mut proto = b.finish();
    proto.graph.as_mut().unwrap().node[0].domain = "com.example".into();
    let e = load_bytes(&encode(&proto), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, FrontendError::Unsupported { node, .. } if node == "dynamic_conv"),
        "{e:?}"
    );
    assert!(e.to_string().contains("make_kernel_output_0"), "{e}");
}

#[test]
fn inconsistent_nodes_and_graphs() {
    // 6 input channels, kernel expects 4 per group × 2 groups = 8.
    let bytes = conv_on(
        &[1, 6, 4, 4],
        &[4, 4, 1, 1],
        "Conv",
        vec![attr_int("group", 2)],
    );
    let e = load_bytes(&bytes, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, FrontendError::InvalidNode { node, .. } if node == "the_node"),
        "{e:?}"
    );

    // A node reading a tensor nobody produces.
    let mut b = Builder::new("dangling");
    let x = b.input("x", &[1, 4]);
    let w = b.weight("w", &[4, 4]);
    let y = b.node("MatMul", "mm", &[&x, &w], vec![]);
    let z = b.node("Add", "add", &[&y, "nowhere"], vec![]);
    b.output(&z, &[1, 4]);
    let e = load_bytes(&encode(&b.finish()), &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, FrontendError::InvalidModel { .. }), "{e:?}");
    assert!(
        e.to_string().contains("`nowhere`") && e.to_string().contains("`add`"),
        "{e}"
    );
}

#[test]
fn names_with_control_characters_are_escaped() {
    assert_eq!(
        cimopt_onnx::display_name("/conv1/Conv"),
        "/conv1/Conv",
        "ordinary names are unchanged"
    );
    assert_eq!(
        cimopt_onnx::display_name("a\x1b[31mb\nc\td\u{7f}e\u{202e}f\u{85}"),
        "a\\u{1b}[31mb\\u{a}c\\u{9}d\\u{7f}e\\u{202e}f\\u{85}"
    );
    assert_eq!(cimopt_onnx::display_name("ünïcødé ✓"), "ünïcødé ✓");

    // An invalid Conv whose node and tensor names carry terminal escapes and newlines.
    let evil = "\x1b[31mconv\nnext line";
    let mut b = Builder::new("evil");
    let x = b.input("x\x1b[0m", &[1, 6, 4, 4]);
    let w = b.weight("w\r", &[4, 4, 1, 1]);
    let y = b.node("Conv", evil, &[&x, &w], vec![attr_int("group", 2)]);
    b.output(&y, &[]);
    let e = load_bytes(&encode(&b.finish()), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, FrontendError::InvalidNode { node, .. } if node == evil),
        "the error keeps the raw name: {e:?}"
    );
    let msg = e.to_string();
    assert!(
        !msg.chars().any(|c| c.is_control()),
        "control characters printed raw: {msg:?}"
    );
    assert!(msg.contains("\\u{1b}[31mconv\\u{a}next line"), "{msg}");

    // A tensor nobody produces, named with an escape sequence, inside a `reason`.
    let mut b = Builder::new("dangling");
    let x = b.input("x", &[1, 4]);
    let w = b.weight("w", &[4, 4]);
    let y = b.node("MatMul", "mm", &[&x, &w], vec![]);
    let z = b.node("Add", "add\x07", &[&y, "nowhere\x1b[2J"], vec![]);
    b.output(&z, &[1, 4]);
    let msg = load_bytes(&encode(&b.finish()), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(!msg.chars().any(|c| c.is_control()), "{msg:?}");
    assert!(
        msg.contains("`nowhere\\u{1b}[2J`") && msg.contains("`add\\u{7}`"),
        "{msg}"
    );

    // A file name with a newline.
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "bad\nname.onnx", b"not onnx");
    let msg = load_err(&p, &LoadOptions::default()).to_string();
    assert!(msg.contains("bad\\u{a}name.onnx"), "{msg}");
}

/// The message and every error in its `source()` chain, as `{:#}` prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[test]
fn a_directory_or_an_unreadable_path_gives_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_err(dir.path(), &LoadOptions::default());
    assert!(matches!(e, FrontendError::NotAFile { .. }), "{e:?}");
    let msg = chain(&e);
    assert!(msg.contains("is a directory"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(!msg.contains("os error"), "{msg}");

    // A path through a regular file: the OS error is named once, not twice.
    let file = write(dir.path(), "plain", b"x");
    let e = load_err(&file.join("model.onnx"), &LoadOptions::default());
    assert!(matches!(e, FrontendError::Io { .. }), "{e:?}");
    let msg = chain(&e);
    assert_eq!(msg.matches("os error").count(), 1, "{msg}");
}

fn one_conv(x_dims: &[i64], w_dims: &[i64]) -> Vec<u8> {
    let mut b = Builder::new("huge");
    let x = b.input("x", x_dims);
    let w = b.weight("w", w_dims);
    let y = b.node("Conv", "huge_conv", &[&x, &w], vec![]);
    b.output(&y, &[]);
    encode(&b.finish())
}

#[test]
fn huge_shapes_are_errors_that_name_the_limit() {
    let tiny = std::fs::read(models_dir().join("tiny_cnn.onnx")).unwrap();
    // 3·2^64 elements: the product does not fit in 64 bits.
    let opts = LoadOptions {
        input_shapes: vec![("input".into(), vec![1, 3, 1 << 32, 1 << 32])],
        ..Default::default()
    };
    let e = load_bytes(&tiny, &opts).unwrap_err();
    assert!(
        matches!(&e, FrontendError::BadInputShape { input, .. } if input == "input"),
        "{e:?}"
    );
    assert!(e.to_string().contains("9223372036854775807"), "{e}");

    // K = 2^62 and H = W = 2^31: the shapes fit, the layers break the IR's limits.
    let limit = cimopt_ir::workload::MAX_EXTENT.to_string();
    for (x, w, field) in [
        (
            &[1, 1, 4, 4][..],
            &[1 << 62, 1, 1, 1][..],
            "K = 4611686018427387904",
        ),
        (&[1, 1, 1 << 31, 1 << 31], &[1, 1, 1, 1], "H = 2147483648"),
    ] {
        let e = load_bytes(&one_conv(x, w), &LoadOptions::default()).unwrap_err();
        assert!(
            matches!(&e, FrontendError::LayerLimits { node, .. } if node == "huge_conv"),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains(field) && msg.contains(&limit), "{msg}");
    }
    // More MACs than a layer may have: 2^20 · 2^20 outputs × 2^10 channels.
    let e = load_bytes(
        &one_conv(&[1, 1, 1 << 20, 1 << 20], &[1 << 10, 1, 1, 1]),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(&e, FrontendError::LayerLimits { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains(&cimopt_ir::workload::MAX_MACS.to_string()),
        "{e}"
    );

    // A declared weight whose element count does not fit in an i64.
    let e = load_bytes(
        &one_conv(&[1, 4, 4, 4], &[1 << 62, 4, 1, 1]),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, FrontendError::TooLarge { tensor, .. } if tensor == "w"),
        "{e:?}"
    );
    assert!(e.to_string().contains("9223372036854775807"), "{e}");

    // A non-CIM node whose output has more than 2^64 elements: tract itself refuses to infer
    // such shapes, but takes a declared one (value_info) for an operator it does not know.
    let mut b = Builder::new("huge_output");
    let x = b.input("x", &[1, 4]);
    let w = b.weight("w", &[4, 4]);
    let y = b.node("MatMul", "mm", &[&x, &w], vec![]);
    let z = b.node("Broadcast", "huge_other", &[&y], vec![]);
    b.output(&z, &[]);
    let mut proto = b.finish();
    let g = proto.graph.as_mut().unwrap();
    g.node[1].domain = "com.example".into();
    let mut huge = g.input[0].clone();
    huge.name = z.clone();
    if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
        huge.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        for (d, v) in t
            .shape
            .as_mut()
            .unwrap()
            .dim
            .iter_mut()
            .zip([1i64 << 40, 1 << 40])
        {
            d.value = Some(tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(v));
        }
    }
    g.value_info.push(huge);
    let e = load_bytes(&encode(&proto), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, FrontendError::TooLarge { node: Some(n), .. } if n == "huge_other"),
        "{e:?}"
    );
    assert!(e.to_string().contains("9223372036854775807"), "{e}");
}

fn conv_with(attrs: Vec<tract_onnx::pb::AttributeProto>) -> Vec<u8> {
    let mut b = Builder::new("attrs");
    let x = b.input("x", &[1, 4, 8, 8]);
    let w = b.weight("w", &[4, 4, 3, 3]);
    let y = b.node("Conv", "bad_conv", &[&x, &w], attrs);
    b.output(&y, &[]);
    encode(&b.finish())
}

#[test]
fn conv_and_pool_attributes_are_checked_before_tract() {
    use cimopt_zoo::{attr_ints, attr_str};
    for (attrs, attr) in [
        (vec![attr_ints("strides", &[0, 0])], "strides"),
        (vec![attr_ints("strides", &[1, -2])], "strides"),
        (vec![attr_ints("dilations", &[1, 0])], "dilations"),
        (vec![attr_ints("pads", &[0, -1, 0, 0])], "pads"),
        (vec![attr_ints("pads", &[1, 1, 1])], "pads"),
        (vec![attr_ints("kernel_shape", &[0, 3])], "kernel_shape"),
        (vec![attr_int("group", 0)], "group"),
        (vec![attr_int("group", -3)], "group"),
        (vec![attr_ints("strides", &[1 << 40, 1])], "strides"),
        (
            vec![
                attr_ints("strides", &[1, 1, 1]),
                attr_ints("kernel_shape", &[3, 3]),
            ],
            "strides",
        ),
        (vec![attr_str("auto_pad", "SAME")], "auto_pad"),
    ] {
        let e = load_bytes(&conv_with(attrs.clone()), &LoadOptions::default()).unwrap_err();
        assert!(
            matches!(&e, FrontendError::InvalidNode { node, .. } if node == "bad_conv"),
            "{attrs:?}: {e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains(&format!("`{attr}`")), "{attrs:?}: {msg}");
        assert!(!msg.contains("panicked"), "{msg}");
    }
    // The same checks for pooling.
    let mut b = Builder::new("pool");
    let x = b.input("x", &[1, 4, 8, 8]);
    let w = b.weight("w", &[4, 4, 1, 1]);
    let y = b.node("Conv", "conv", &[&x, &w], vec![]);
    let attrs = vec![
        attr_ints("kernel_shape", &[2, 2]),
        attr_ints("strides", &[0, 0]),
    ];
    let z = b.node("MaxPool", "bad_pool", &[&y], attrs);
    b.output(&z, &[]);
    let e = load_bytes(&encode(&b.finish()), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, FrontendError::InvalidNode { node, .. } if node == "bad_pool"),
        "{e:?}"
    );
    assert!(e.to_string().contains("`strides`"), "{e}");
}

/// `conv(x[1,4,8,8], w)` where `w`'s declared shape is edited by `edit`.
fn conv_with_weight(edit: impl Fn(&mut tract_onnx::pb::ValueInfoProto)) -> Vec<u8> {
    let mut b = Builder::new("weights");
    let x = b.input("x", &[1, 4, 8, 8]);
    let w = b.weight("w", &[4, 4, 3, 3]);
    let bias = b.weight("bias", &[4]);
    let y = b.node("Conv", "conv", &[&x, &w, &bias], vec![]);
    b.output(&y, &[]);
    let mut proto = b.finish();
    let g = proto.graph.as_mut().unwrap();
    edit(g.input.iter_mut().find(|i| i.name == "w").unwrap());
    encode(&proto)
}

fn dims_of(
    vi: &mut tract_onnx::pb::ValueInfoProto,
) -> &mut Vec<tract_onnx::pb::tensor_shape_proto::Dimension> {
    match vi.r#type.as_mut().and_then(|t| t.value.as_mut()) {
        Some(tract_onnx::pb::type_proto::Value::TensorType(t)) => {
            &mut t.shape.as_mut().unwrap().dim
        }
        None => unreachable!(),
    }
}

#[test]
fn weight_inputs_with_bad_shapes_are_named_as_weights() {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value as V;
    type Edit = Box<dyn Fn(&mut tract_onnx::pb::ValueInfoProto)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|vi| {
                if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
                    vi.r#type.as_mut().and_then(|t| t.value.as_mut())
                {
                    t.shape = None;
                }
            }),
            "has no shape",
        ),
        (Box::new(|vi| vi.r#type = None), "has no type"),
        (
            Box::new(|vi| dims_of(vi)[1].value = Some(V::DimValue(-4))),
            "has dimension -4 at position 1",
        ),
        (
            Box::new(|vi| dims_of(vi)[0].value = Some(V::DimValue(0))),
            "has dimension 0 at position 0",
        ),
        (
            Box::new(|vi| dims_of(vi)[2].value = Some(V::DimParam("k".into()))),
            "has a symbolic dimension `k` at position 2",
        ),
        (
            Box::new(|vi| dims_of(vi)[3].value = None),
            "has an unknown dimension at position 3",
        ),
    ];
    for (edit, want) in cases {
        let e = load_bytes(&conv_with_weight(edit), &LoadOptions::default()).unwrap_err();
        assert!(
            matches!(&e, FrontendError::WeightShape { weight, node, .. } if weight == "w" && node == "conv"),
            "{want}: {e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("weight `w` of node `conv`") && msg.contains(want),
            "{msg}"
        );
        assert!(!msg.contains("symbolic dimension 0"), "{msg}");
        assert!(!msg.contains("--input-shape w="), "{msg}");
    }
}

#[test]
fn data_inputs_with_non_positive_dims_are_not_called_symbolic() {
    let mut b = Builder::new("zero");
    let x = b.input("x", &[1, 0, 8, 8]);
    let w = b.weight("w", &[4, 4, 3, 3]);
    let y = b.node("Conv", "conv", &[&x, &w], vec![]);
    b.output(&y, &[]);
    let e = load_bytes(&encode(&b.finish()), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, FrontendError::BadDeclaredDim { input, dim: 1, value: 0, .. } if input == "x"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(!msg.contains("symbolic"), "{msg}");
    assert!(msg.contains("--input-shape x=1x1x8x8"), "{msg}");
}
