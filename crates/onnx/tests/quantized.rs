//! Quantized models lower to the layers of their float twins; every compute node is lowered,
//! refused or (with keep_going) listed as skipped, never a non-CIM operator; precisions.

mod common;

use cimopt_ir::OpKind::{Conv, Gemm, MatMul};
use cimopt_ir::WeightKind::{Activation, Constant};
use cimopt_ir::{Bits, Workload};
use cimopt_onnx::{FrontendError, LoadOptions, Model};
use cimopt_zoo::{Builder, attr_int, attr_ints, attr_str, encode};
use common::*;
use tract_onnx::pb::tensor_proto::DataType;

fn quantized(stem: &str) -> Model {
    let m = load(&models_dir().join(format!("quantized/{stem}.onnx")));
    check_invariants(&m);
    assert!(m.skipped.is_empty(), "{stem}: {:?}", m.skipped);
    m
}

fn float(proto: tract_onnx::pb::ModelProto) -> Model {
    let m = load_bytes(&encode(&proto), &LoadOptions::default()).unwrap();
    check_invariants(&m);
    m
}

fn edges(m: &Model) -> Vec<(usize, usize)> {
    let mut e: Vec<(usize, usize)> = m
        .graph
        .raw_edges()
        .iter()
        .map(|e| (m.graph[e.source()], m.graph[e.target()]))
        .collect();
    e.sort();
    e
}

fn keep_going() -> LoadOptions {
    LoadOptions {
        keep_going: true,
        ..Default::default()
    }
}

const NONE: Bits = Bits::FLOAT;

fn bits(i: Option<u64>, w: Option<u64>, o: Option<u64>) -> Bits {
    Bits {
        input: i,
        weight: w,
        output: o,
    }
}

/// The bit widths each layer's workload carries.
fn precisions(m: &Model) -> Vec<Bits> {
    m.layers.iter().map(|l| l.workload.bits).collect()
}

/// A workload's loop nest and geometry, without its bit widths.
fn shape(w: &Workload) -> Workload {
    Workload {
        bits: Bits::FLOAT,
        ..w.clone()
    }
}

/// Same workloads (but for their bit widths), dedup groups, layer graph and data inputs as the
/// float model; same MACs.
fn assert_same_layers(stem: &str, q: &Model, f: &Model) {
    assert_eq!(q.layers.len(), f.layers.len(), "{stem}: layer count");
    for (a, b) in q.layers.iter().zip(&f.layers) {
        assert_eq!(
            shape(&a.workload),
            shape(&b.workload),
            "{stem}: layer {} `{}`",
            a.index,
            a.name
        );
        assert_eq!(
            a.dedup_group, b.dedup_group,
            "{stem}: `{}` dedup group",
            a.name
        );
    }
    assert_eq!(q.total_macs(), f.total_macs(), "{stem}: MACs");
    assert_eq!(edges(q), edges(f), "{stem}: layer graph");
    assert_eq!(q.inputs, f.inputs, "{stem}: data inputs");
}

#[test]
fn every_quantized_cnn_lowers_to_the_float_layers() {
    let tiny = float(cimopt_zoo::tiny_cnn());
    let r18 = float(cimopt_zoo::resnet18());
    for (stem, f) in [
        ("tiny_cnn_qdq", &tiny),
        ("tiny_cnn_qop", &tiny),
        ("tiny_cnn_dynamic", &tiny),
        ("resnet18_qdq", &r18),
        ("resnet18_qop", &r18),
        ("resnet18_qdq_int4", &r18),
    ] {
        let q = quantized(stem);
        assert_same_layers(stem, &q, f);
        let bias: Vec<bool> = q.layers.iter().map(|l| l.has_bias).collect();
        let want: Vec<bool> = if stem == "tiny_cnn_dynamic" {
            // The bias of a ConvInteger is a separate Add; the Gemm stays float.
            f.layers.iter().map(|l| l.workload.op == Gemm).collect()
        } else {
            f.layers.iter().map(|l| l.has_bias).collect()
        };
        assert_eq!(bias, want, "{stem}: biases");
        // QOperator graphs list their element-wise nodes with their output sizes.
        if stem.ends_with("_qop") {
            let ops: Vec<&str> = q.other_ops.iter().map(|o| o.op_type.as_str()).collect();
            assert!(ops.contains(&"QLinearGlobalAveragePool"), "{stem}: {ops:?}");
            assert!(q.other_ops.iter().all(|o| o.output_elements > 0), "{stem}");
        }
    }
    let q = quantized("resnet18_qop");
    let adds: Vec<u64> = q
        .other_ops
        .iter()
        .filter(|o| o.op_type == "QLinearAdd")
        .map(|o| o.output_elements)
        .collect();
    assert_eq!(adds.len(), 8);
    assert_eq!(adds[0], 64 * 56 * 56);
    let pool = q
        .other_ops
        .iter()
        .find(|o| o.op_type == "QLinearGlobalAveragePool")
        .unwrap();
    assert_eq!(pool.output_elements, 512);
}

#[test]
fn precisions_follow_the_quantized_types() {
    let all = |m: &Model, p: Bits| vec![p; m.layers.len()];
    for stem in [
        "tiny_cnn_qdq",
        "tiny_cnn_qop",
        "resnet18_qdq",
        "resnet18_qop",
    ] {
        let m = quantized(stem);
        assert_eq!(
            precisions(&m),
            all(&m, bits(Some(8), Some(8), Some(8))),
            "{stem}"
        );
    }
    let m = quantized("resnet18_qdq_int4");
    assert_eq!(precisions(&m), all(&m, bits(Some(8), Some(4), Some(8))));
    // ConvInteger: uint8 input (DynamicQuantizeLinear), int8 weight, int32 result; the
    // Gemm is float.
    let m = quantized("tiny_cnn_dynamic");
    let want: Vec<Bits> = m
        .layers
        .iter()
        .map(|l| match l.workload.op {
            Conv => bits(Some(8), Some(8), Some(32)),
            _ => NONE,
        })
        .collect();
    assert_eq!(precisions(&m), want);
    for f in [
        float(cimopt_zoo::tiny_cnn()),
        float(cimopt_zoo::resnet18()),
        quantized("llama_tiny"),
    ] {
        assert_eq!(
            precisions(&f),
            all(&f, NONE),
            "float layers take the target's precision"
        );
    }
}

#[test]
fn matmul_nbits_is_a_constant_k_by_n_weight() {
    let q = quantized("llama_tiny_q4");
    let f = quantized("llama_tiny");
    assert_same_layers("llama_tiny_q4", &q, &f);
    // 2 blocks × (Q, K, V, Q·Kᵀ, scores·V, O, gate, up, down) + the LM head.
    assert_eq!(q.layers.len(), 19);
    for (l, p) in q.layers.iter().zip(&precisions(&q)) {
        let w = &l.workload;
        if l.name.ends_with("MatMul_Q4") {
            assert_eq!(w.weight_kind, Constant, "{}", l.name);
            assert_eq!(*p, bits(None, Some(4), None), "{}", l.name);
            // P = 16 tokens; the K × N matrix.
            let (k, n) = if l.name.contains("down_proj") {
                (256, 128)
            } else if l.name.contains("gate_proj") || l.name.contains("up_proj") {
                (128, 256)
            } else if l.name.contains("lm_head") {
                (128, 512)
            } else {
                (128, 128)
            };
            assert_eq!(
                (w.op, w.p, w.c, w.k, w.g, w.weight_count()),
                (MatMul, 16, k, n, 1, k * n),
                "{}",
                l.name
            );
        } else {
            // Q·Kᵀ [1,4,16,32] × [1,4,32,16] and scores·V [1,4,16,16] × [1,4,16,32].
            assert_eq!((w.weight_kind, w.g, w.p), (Activation, 4, 16), "{}", l.name);
            assert_eq!(*p, NONE);
        }
    }
    assert_eq!(
        q.layers
            .iter()
            .filter(|l| l.name.ends_with("MatMul_Q4"))
            .count(),
        15
    );
    // 2 · 16 · (4·128² + 3·128·256 + 2·4·16·32) + 16 · 128 · 512
    assert_eq!(
        q.total_macs(),
        2 * 16 * (4 * 128 * 128 + 3 * 128 * 256 + 2 * 4 * 16 * 32) + 16 * 128 * 512
    );
}

/// Q → DQ of `x` with the shared scale and uint8 zero point.
fn qdq(b: &mut Builder, x: &str, s: &str, z: &str) -> String {
    let q = b.node("QuantizeLinear", &format!("{x}_q"), &[x, s, z], vec![]);
    b.node("DequantizeLinear", &format!("{x}_dq"), &[&q, s, z], vec![])
}

#[test]
fn qdq_matmul_of_two_runtime_tensors_stays_activation_times_activation() {
    let mut b = Builder::new("qdq_attention");
    let s = b.filled_f32("s", &[], 0.1);
    let z = b.zeros("z", &[], DataType::Uint8);
    let x = b.input("x", &[2, 8, 16]);
    let xq = qdq(&mut b, &x, &s, &z);
    // A constant int8 weight through DequantizeLinear: a constant layer.
    let w = b.zeros("w", &[16, 16], DataType::Int8);
    let wz = b.zeros("w_zp", &[], DataType::Int8);
    let wdq = b.node("DequantizeLinear", "w_dq", &[&w, &s, &wz], vec![]);
    let y = b.node("MatMul", "proj", &[&xq, &wdq], vec![]);
    let yq = qdq(&mut b, &y, &s, &z);
    // Its transpose, quantized, as the right operand: computed at run time.
    let yt = b.node(
        "Transpose",
        "t",
        &[&yq],
        vec![attr_ints("perm", &[0, 2, 1])],
    );
    let ytq = qdq(&mut b, &yt, &s, &z);
    let scores = b.node("MatMul", "scores", &[&yq, &ytq], vec![]);
    let out = qdq(&mut b, &scores, &s, &z);
    b.output(&out, &[2, 8, 8]);
    let m = float(b.finish());
    let got: Vec<_> = m
        .layers
        .iter()
        .map(|l| (l.name.as_str(), dims(l)))
        .collect();
    let mm = |p, c, k, g, kind| {
        (
            MatMul,
            kind,
            [1, 1, p, 1, c, k, g, 1],
            [p, 1],
            [1, 1],
            [0, 0, 0, 0],
            [1, 1],
        )
    };
    assert_eq!(
        got,
        vec![
            ("proj", mm(16, 16, 16, 1, Constant)),
            ("scores", mm(8, 16, 8, 2, Activation)),
        ]
    );
    assert_eq!(m.inputs, vec![("x".to_string(), vec![2, 8, 16])]);
    assert_eq!(edges(&m), vec![(0, 1)]);
    // proj: uint8 input, int8 weight, uint8 output; scores: both operands uint8.
    assert_eq!(
        precisions(&m),
        vec![
            bits(Some(8), Some(8), Some(8)),
            bits(Some(8), Some(8), Some(8))
        ]
    );
}

/// `x[4, 16] → op → [4, 8]` for a matrix-product operator `op` of `domain` with `inputs`
/// built by `wire`, against MatMul by a `[16, 8]` weight.
fn one_matrix_product(
    domain: &str,
    op: &str,
    attrs: Vec<tract_onnx::pb::AttributeProto>,
    wire: impl FnOnce(&mut Builder, &str) -> Vec<String>,
) -> Model {
    let mut b = Builder::new("one");
    let x = b.input("x", &[4, 16]);
    let inputs = wire(&mut b, &x);
    let inputs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
    let y = b.node_in(domain, op, "the_node", &inputs, attrs, 1);
    let z = b.node("Relu", "after", &[&y[0]], vec![]);
    b.output(&z, &[4, 8]);
    float(b.finish())
}

#[test]
fn qoperator_dynamic_and_contrib_matrix_products_lower_like_matmul() {
    let want = (
        MatMul,
        Constant,
        [1, 1, 4, 1, 16, 8, 1, 1],
        [4, 1],
        [1, 1],
        [0, 0, 0, 0],
        [1, 1],
    );
    let scalars = |b: &mut Builder| {
        (
            b.filled_f32("s", &[], 0.1),
            b.zeros("zu", &[], DataType::Uint8),
            b.zeros("zi", &[], DataType::Int8),
        )
    };
    let cases: Vec<(&str, Model, Bits)> = vec![
        (
            "QLinearMatMul",
            one_matrix_product("", "QLinearMatMul", vec![], |b, x| {
                let (s, zu, zi) = scalars(b);
                let xq = b.node("QuantizeLinear", "xq", &[x, &s, &zu], vec![]);
                let w = b.weight_typed("w", &[16, 8], DataType::Int8);
                vec![xq, s.clone(), zu.clone(), w, s.clone(), zi, s, zu]
            }),
            bits(Some(8), Some(8), Some(8)),
        ),
        (
            "MatMulInteger",
            one_matrix_product("", "MatMulInteger", vec![], |b, x| {
                let q = b.node_in("", "DynamicQuantizeLinear", "dql", &[x], vec![], 3);
                let w = b.weight_typed("w", &[16, 8], DataType::Int8);
                let wz = b.zeros("wz", &[], DataType::Int8);
                vec![q[0].clone(), w, q[2].clone(), wz]
            }),
            bits(Some(8), Some(8), Some(32)),
        ),
        (
            "MatMulIntegerToFloat",
            one_matrix_product("com.microsoft", "MatMulIntegerToFloat", vec![], |b, x| {
                let q = b.node_in("", "DynamicQuantizeLinear", "dql", &[x], vec![], 3);
                let w = b.weight_typed("w", &[16, 8], DataType::Uint8);
                let ws = b.filled_f32("ws", &[], 0.1);
                vec![q[0].clone(), w, q[1].clone(), ws, q[2].clone()]
            }),
            bits(Some(8), Some(8), None),
        ),
        (
            "DynamicQuantizeMatMul",
            one_matrix_product("com.microsoft", "DynamicQuantizeMatMul", vec![], |b, x| {
                let w = b.weight_typed("w", &[16, 8], DataType::Int8);
                let ws = b.filled_f32("ws", &[], 0.1);
                let wz = b.zeros("wz", &[], DataType::Int8);
                vec![x.to_string(), w, ws, wz]
            }),
            bits(Some(8), Some(8), None),
        ),
        (
            "FusedMatMul transB",
            one_matrix_product(
                "com.microsoft",
                "FusedMatMul",
                vec![attr_int("transB", 1)],
                |b, x| vec![x.to_string(), b.weight("w", &[8, 16])],
            ),
            NONE,
        ),
        (
            "Einsum",
            one_matrix_product(
                "",
                "Einsum",
                vec![attr_str("equation", "mk,nk->mn")],
                |b, x| vec![x.to_string(), b.weight("w", &[8, 16])],
            ),
            NONE,
        ),
        (
            "Einsum with the weight first",
            // (An initializer: a weight given as a graph input must be the second operand, as
            // for MatMul, to be told from data.)
            one_matrix_product(
                "",
                "Einsum",
                vec![attr_str("equation", "kn,mk->mn")],
                |b, x| vec![b.zeros("w", &[16, 8], DataType::Float), x.to_string()],
            ),
            NONE,
        ),
        (
            "MatMulNBits (8 bits, with zero points)",
            one_matrix_product(
                "com.microsoft",
                "MatMulNBits",
                vec![
                    attr_int("K", 16),
                    attr_int("N", 8),
                    attr_int("bits", 8),
                    attr_int("block_size", 16),
                ],
                |b, x| {
                    let w = b.zeros("w", &[8, 1, 16], DataType::Uint8);
                    let s = b.filled_f32("s", &[8], 0.1);
                    let z = b.zeros("z", &[8], DataType::Uint8);
                    vec![x.to_string(), w, s, z]
                },
            ),
            bits(None, Some(8), None),
        ),
    ];
    for (what, m, precision) in cases {
        assert_eq!(m.layers.len(), 1, "{what}: {:?}", m.other_ops);
        assert_eq!(dims(&m.layers[0]), want, "{what}");
        assert_eq!(precisions(&m), vec![precision], "{what}");
        assert_eq!(m.inputs, vec![("x".to_string(), vec![4, 16])], "{what}");
        let after = m.other_ops.iter().find(|o| o.name == "after").unwrap();
        assert_eq!(after.output_elements, 32, "{what}: shape after the layer");
    }

    // FusedGemm / QGemm are Gemms, FusedConv a Conv.
    let gemm = one_matrix_product(
        "com.microsoft",
        "FusedGemm",
        vec![attr_int("transB", 1), attr_str("activation", "Relu")],
        |b, x| vec![x.to_string(), b.weight("w", &[8, 16]), b.weight("c", &[8])],
    );
    assert_eq!(
        (
            dims(&gemm.layers[0]).0,
            dims(&gemm.layers[0]).2,
            gemm.layers[0].has_bias
        ),
        (Gemm, [1, 1, 4, 1, 16, 8, 1, 1], true)
    );
    let mut b = Builder::new("fused_conv");
    let x = b.input("x", &[1, 4, 8, 8]);
    let w = b.weight("w", &[6, 4, 3, 3]);
    let attrs = vec![
        attr_ints("pads", &[1, 1, 1, 1]),
        attr_ints("strides", &[2, 2]),
        attr_str("activation", "Relu"),
    ];
    let y = b.node_in(
        "com.microsoft",
        "FusedConv",
        "fc",
        &[&x, &w],
        attrs.clone(),
        1,
    );
    b.output(&y[0], &[1, 6, 4, 4]);
    let fused = float(b.finish());
    let mut b = Builder::new("conv");
    let x = b.input("x", &[1, 4, 8, 8]);
    let w = b.weight("w", &[6, 4, 3, 3]);
    let y = b.node("Conv", "c", &[&x, &w], attrs[..2].to_vec());
    b.output(&y, &[1, 6, 4, 4]);
    let plain = float(b.finish());
    assert_eq!(fused.layers[0].workload, plain.layers[0].workload);
}

#[test]
fn einsum_attention_is_a_grouped_activation_product() {
    let mut b = Builder::new("einsum");
    let q = b.input("q", &[2, 4, 16, 8]);
    // Computed from the data: a run-time operand.
    let k = b.node("Relu", "k", &[&q], vec![]);
    let s = b.node(
        "Einsum",
        "scores",
        &[&q, &k],
        vec![attr_str("equation", "bhqd,bhkd->bhqk")],
    );
    // Ellipsis form: [.., 16, 16] × [.., 16, 8].
    let c = b.node(
        "Einsum",
        "context",
        &[&s, &k],
        vec![attr_str("equation", "...qk,...kd->...qd")],
    );
    b.output(&c, &[2, 4, 16, 8]);
    let m = float(b.finish());
    let w: Vec<_> = m
        .layers
        .iter()
        .map(|l| {
            let w = &l.workload;
            (w.weight_kind, w.g, w.p, w.c, w.k)
        })
        .collect();
    assert_eq!(
        w,
        vec![(Activation, 8, 16, 8, 16), (Activation, 8, 16, 16, 8)]
    );
}

#[test]
fn int4_and_uint4_initializers_load() {
    for (ty, zp_ty) in [
        (DataType::Int4, DataType::Int4),
        (DataType::Uint4, DataType::Uint4),
    ] {
        let mut b = Builder::new("int4");
        b.opset(21);
        let x = b.input("x", &[1, 8, 6, 6]);
        let w = b.zeros("w", &[5, 8, 3, 3], ty);
        let s = b.filled_f32("w_scale", &[5], 0.1);
        let z = b.zeros("w_zero_point", &[5], zp_ty);
        let wdq = b.node(
            "DequantizeLinear",
            "w_dq",
            &[&w, &s, &z],
            vec![attr_int("axis", 0)],
        );
        let y = b.node("Conv", "conv", &[&x, &wdq], vec![]);
        // An INT4 Constant node (a zero point) works too.
        let t = tract_onnx::pb::TensorProto {
            dims: vec![],
            data_type: ty as i32,
            raw_data: vec![0],
            ..Default::default()
        };
        let attr = tract_onnx::pb::AttributeProto {
            name: "value".into(),
            r#type: tract_onnx::pb::attribute_proto::AttributeType::Tensor as i32,
            t: Some(t),
            ..Default::default()
        };
        let cz = b.node("Constant", "zp4", &[], vec![attr]);
        let ys = b.filled_f32("y_scale", &[], 0.1);
        let yq = b.node("QuantizeLinear", "y_q", &[&y, &ys, &cz], vec![]);
        let ydq = b.node("DequantizeLinear", "y_dq", &[&yq, &ys, &cz], vec![]);
        b.output(&ydq, &[1, 5, 4, 4]);
        let m = float(b.finish());
        assert_eq!(m.layers.len(), 1, "{ty:?}");
        let w = &m.layers[0].workload;
        assert_eq!((w.c, w.k, w.r, w.p, w.weight_kind), (8, 5, 3, 4, Constant));
        assert_eq!(precisions(&m), vec![bits(None, Some(4), Some(4))], "{ty:?}");
        let q = m.other_ops.iter().find(|o| o.name == "y_q").unwrap();
        assert_eq!(q.output_elements, 5 * 4 * 4);
    }
}

/// `x → [a] → node → [b]` with MatMul layers `a` and `b` around a compute node `op` of
/// `domain` reading `x[4,16]` and a weight `w`.
fn around(domain: &str, op: &str, w_dims: &[i64], out: &[i64]) -> Vec<u8> {
    let mut b = Builder::new("around");
    let x = b.input("x", &[4, 16]);
    let wa = b.weight("wa", &[16, 16]);
    let a = b.node("MatMul", "a", &[&x, &wa], vec![]);
    let w = b.weight("w", w_dims);
    let y = b.node_in(domain, op, "the_node", &[&a, &w], vec![], 1);
    let wb = b.weight("wb", &[*out.last().unwrap(), 4]);
    let z = b.node("MatMul", "b", &[&y[0], &wb], vec![]);
    b.output(&z, &[]);
    let mut proto = b.finish();
    // The compute node's output shape, as an exporter declares it.
    let g = proto.graph.as_mut().unwrap();
    let mut vi = g.input[0].clone();
    vi.name = y[0].clone();
    if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
        vi.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        for (d, &v) in t.shape.as_mut().unwrap().dim.iter_mut().zip(out) {
            d.value = Some(tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(v));
        }
    }
    g.value_info.push(vi);
    encode(&proto)
}

#[test]
fn unknown_compute_operators_are_refused_or_skipped_with_their_macs() {
    let bytes = around("com.example", "MyMatMul", &[16, 8], &[4, 8]);
    let e = load_bytes(&bytes, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, FrontendError::Unsupported { node, op, .. }
            if node == "the_node" && op == "com.example.MyMatMul"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("keep_going") && msg.contains("the_node"),
        "{msg}"
    );

    let m = load_bytes(&bytes, &keep_going()).unwrap();
    check_invariants(&m);
    let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b"]);
    assert!(m.other_ops.iter().all(|o| o.name != "the_node"));
    assert_eq!(m.skipped.len(), 1);
    let s = &m.skipped[0];
    assert_eq!(
        (
            s.name.as_str(),
            s.op_type.as_str(),
            s.domain.as_str(),
            s.macs
        ),
        ("the_node", "MyMatMul", "com.example", Some(4 * 16 * 8))
    );
    assert!(
        !s.reason.contains('\n') && s.reason.contains("matrix product"),
        "{}",
        s.reason
    );
    // Data still flows from a to b through the skipped node.
    assert_eq!(edges(&m), vec![(0, 1)]);
}

#[test]
fn no_compute_operator_becomes_a_non_cim_op() {
    // (domain, op, weight dims, output dims, MACs with keep_going when known); ConvTranspose,
    // LSTM and Einsum are in `refused_standard_operators_have_their_macs`.
    type Case = (&'static str, &'static str, Vec<i64>, Vec<i64>, Option<u64>);
    let cases: Vec<Case> = vec![
        (
            "com.microsoft",
            "Attention",
            vec![16, 48],
            vec![4, 16],
            None,
        ),
        (
            "com.microsoft",
            "QAttention",
            vec![16, 48],
            vec![4, 16],
            None,
        ),
        (
            "com.microsoft",
            "MultiHeadAttention",
            vec![4, 16],
            vec![4, 16],
            None,
        ),
        (
            "com.microsoft",
            "GroupQueryAttention",
            vec![4, 16],
            vec![4, 16],
            None,
        ),
        (
            "com.microsoft",
            "NhwcConv",
            vec![8, 1, 1, 16],
            vec![4, 8],
            None,
        ),
        (
            "com.microsoft",
            "QOrderedMatMul",
            vec![16, 8],
            vec![4, 8],
            None,
        ),
        ("com.example", "Conv2D", vec![8, 16], vec![4, 8], None),
        (
            "com.example",
            "SelfAttention",
            vec![16, 16],
            vec![4, 16],
            None,
        ),
        (
            "com.example",
            "DenseGemm",
            vec![16, 8],
            vec![4, 8],
            Some(4 * 16 * 8),
        ),
        ("", "MatMulPlus", vec![16, 8], vec![4, 8], Some(4 * 16 * 8)),
    ];
    for (domain, op, w, out, macs) in cases {
        let bytes = around(domain, op, &w, &out);
        match load_bytes(&bytes, &LoadOptions::default()) {
            Err(FrontendError::Unsupported { node, .. }) => assert_eq!(node, "the_node"),
            other => panic!("{domain} {op}: {other:?}"),
        }
        let m = load_bytes(&bytes, &keep_going()).unwrap_or_else(|e| panic!("{op}: {e}"));
        assert!(m.other_ops.iter().all(|o| o.name != "the_node"), "{op}");
        assert_eq!(m.skipped.len(), 1, "{op}: {:?}", m.skipped);
        assert_eq!(m.skipped[0].op_type, op);
        if macs.is_some() {
            assert_eq!(m.skipped[0].macs, macs, "{op}");
        }
    }
}

#[test]
fn refused_standard_operators_have_their_macs() {
    // ConvTranspose [1, 4, 5, 5] with W [4, 6, 3, 3]: every input element meets 6·3·3 weights.
    let mut b = Builder::new("deconv");
    let x = b.input("x", &[1, 4, 5, 5]);
    let w = b.weight("w", &[4, 6, 3, 3]);
    let y = b.node("ConvTranspose", "deconv", &[&x, &w], vec![]);
    b.output(&y, &[1, 6, 7, 7]);
    let proto = b.finish();
    let e = load_bytes(&encode(&proto), &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("ConvTranspose"), "{e}");
    let m = load_bytes(&encode(&proto), &keep_going()).unwrap();
    assert_eq!(m.skipped[0].macs, Some(4 * 5 * 5 * 6 * 9));

    // LSTM: 10 steps × batch 2 × (W [1, 4·8, 16] + R [1, 4·8, 8]).
    let mut b = Builder::new("lstm");
    let x = b.input("x", &[10, 2, 16]);
    let w = b.weight("W", &[1, 32, 16]);
    let r = b.weight("R", &[1, 32, 8]);
    let y = b.node(
        "LSTM",
        "lstm",
        &[&x, &w, &r],
        vec![attr_int("hidden_size", 8)],
    );
    b.output(&y, &[]);
    let m = load_bytes(&encode(&b.finish()), &keep_going()).unwrap();
    assert_eq!(
        (m.skipped[0].name.as_str(), m.skipped[0].macs),
        ("lstm", Some(10 * 2 * (32 * 16 + 32 * 8)))
    );

    // An element-wise Einsum is a product but no matrix product: refused, with its MACs.
    let mut b = Builder::new("hadamard");
    let x = b.input("x", &[4, 16]);
    let w = b.weight("w", &[4, 16]);
    let y = b.node(
        "Einsum",
        "had",
        &[&x, &w],
        vec![attr_str("equation", "ij,ij->ij")],
    );
    b.output(&y, &[4, 16]);
    let proto = b.finish();
    let e = load_bytes(&encode(&proto), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, FrontendError::Unsupported { node, .. } if node == "had"),
        "{e:?}"
    );
    let m = load_bytes(&encode(&proto), &keep_going()).unwrap();
    assert_eq!(m.skipped[0].macs, Some(64));
    // A one-operand Einsum (a transpose) computes no product: a non-CIM op.
    let mut b = Builder::new("transpose");
    let x = b.input("x", &[4, 16]);
    let w = b.weight("w", &[4, 8]);
    let y = b.node("Einsum", "t", &[&x], vec![attr_str("equation", "ij->ji")]);
    let z = b.node("MatMul", "mm", &[&y, &w], vec![]);
    b.output(&z, &[]);
    let m = float(b.finish());
    assert_eq!(m.other_ops.len(), 1);
    assert_eq!(m.other_ops[0].output_elements, 64);
}

#[test]
fn keep_going_skips_compute_nodes_that_fail_to_lower() {
    // A conv whose weight has no usable shape, one over the IR's limits, and a good one.
    let mut b = Builder::new("mixed");
    let x = b.input("x", &[1, 4, 8, 8]);
    let bad = b.weight("bad_w", &[4, 4, 3, 3]);
    let y = b.node("Conv", "bad_weight", &[&x, &bad], vec![]);
    let huge = b.weight("huge_w", &[1 << 40, 4, 1, 1]);
    let z = b.node("Conv", "too_large", &[&x, &huge], vec![]);
    let good = b.weight("good_w", &[4, 4, 1, 1]);
    let v = b.node("Conv", "good", &[&x, &good], vec![]);
    b.output(&y, &[]);
    b.output(&z, &[]);
    b.output(&v, &[]);
    let mut proto = b.finish();
    let g = proto.graph.as_mut().unwrap();
    let vi = g.input.iter_mut().find(|i| i.name == "bad_w").unwrap();
    if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
        vi.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.shape.as_mut().unwrap().dim[1].value =
            Some(tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(-4));
    }
    let bytes = encode(&proto);
    let e = load_bytes(&bytes, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, FrontendError::WeightShape { .. }), "{e:?}");
    let m = load_bytes(&bytes, &keep_going()).unwrap();
    let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, vec!["good"]);
    let skipped: Vec<(&str, Option<u64>)> = m
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), s.macs))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("bad_weight", None),
            ("too_large", Some((1 << 40) * 4 * 64))
        ]
    );
    assert!(m.skipped[0].reason.contains("dimension -4 at position 1"));
    assert!(m.skipped[1].reason.contains("2147483647"));
}

#[test]
fn bfloat16_and_float8_tensors_load() {
    // A bfloat16 model, and a float8 weight (E4M3) under DequantizeLinear.
    let mut b = Builder::new("bf16");
    let x = b.input_typed("x", &[4, 16], DataType::Bfloat16);
    let w = b.weight_typed("w", &[16, 8], DataType::Bfloat16);
    let y = b.node("MatMul", "mm", &[&x, &w], vec![]);
    // One byte per element, as FLOAT8E4M3FN has: retyped below.
    let w8 = b.zeros("w8", &[8, 8], DataType::Uint8);
    let s = b.filled_f32("s", &[], 0.1);
    let dq = b.node("DequantizeLinear", "w8_dq", &[&w8, &s], vec![]);
    let yf = b.node(
        "Cast",
        "to_float",
        &[&y],
        vec![attr_int("to", DataType::Float as i64)],
    );
    let z = b.node("MatMul", "mm8", &[&yf, &dq], vec![]);
    b.output(&z, &[4, 8]);
    let mut proto = b.finish();
    proto.opset_import[0].version = 21;
    let g = proto.graph.as_mut().unwrap();
    g.initializer
        .iter_mut()
        .find(|t| t.name == "w8")
        .unwrap()
        .data_type = DataType::Float8e4m3fn as i32;
    let m = float(proto);
    let got: Vec<_> = m
        .layers
        .iter()
        .map(|l| (l.name.as_str(), l.workload.p, l.workload.c, l.workload.k))
        .collect();
    assert_eq!(got, vec![("mm", 4, 16, 8), ("mm8", 4, 8, 8)]);
    assert_eq!(precisions(&m), vec![NONE, bits(None, Some(8), None)]);
}

#[test]
fn quantized_element_wise_contrib_ops_are_other_ops_with_their_sizes() {
    let mut b = Builder::new("qlinear_elementwise");
    let s = b.filled_f32("s", &[], 0.1);
    let z = b.zeros("z", &[], DataType::Uint8);
    let x = b.input("x", &[1, 4, 6, 6]);
    let xq = b.node("QuantizeLinear", "xq", &[&x, &s, &z], vec![]);
    let w = b.weight_typed("w", &[4, 4, 1, 1], DataType::Int8);
    let wz = b.zeros("wz", &[], DataType::Int8);
    let c = b.node(
        "QLinearConv",
        "conv",
        &[&xq, &s, &z, &w, &s, &wz, &s, &z],
        vec![],
    );
    let ms = "com.microsoft";
    let mul = b.node_in(
        ms,
        "QLinearMul",
        "mul",
        &[&c, &s, &z, &xq, &s, &z, &s, &z],
        vec![],
        1,
    );
    let sig = b.node_in(
        ms,
        "QLinearSigmoid",
        "sig",
        &[&mul[0], &s, &z, &s, &z],
        vec![],
        1,
    );
    let cat = b.node_in(
        ms,
        "QLinearConcat",
        "cat",
        &[&s, &z, &sig[0], &s, &z, &c, &s, &z],
        vec![attr_int("axis", 1)],
        1,
    );
    let pool = b.node_in(
        ms,
        "QLinearAveragePool",
        "pool",
        &[&cat[0], &s, &z, &s, &z],
        vec![
            attr_ints("kernel_shape", &[2, 2]),
            attr_ints("strides", &[2, 2]),
        ],
        1,
    );
    let w2 = b.weight_typed("w2", &[2, 8, 3, 3], DataType::Int8);
    let c2 = b.node(
        "QLinearConv",
        "conv2",
        &[&pool[0], &s, &z, &w2, &s, &wz, &s, &z],
        vec![],
    );
    b.output(&c2, &[]);
    let m = float(b.finish());
    let others: Vec<(&str, u64)> = m
        .other_ops
        .iter()
        .map(|o| (o.name.as_str(), o.output_elements))
        .collect();
    assert_eq!(
        others,
        vec![
            ("xq", 144),
            ("mul", 144),
            ("sig", 144),
            ("cat", 288),
            ("pool", 72)
        ]
    );
    // conv2 reads the pooled 8 × 3 × 3 map: P = Q = 1, C = 8; data flows conv → conv2.
    let w = &m.layers[1].workload;
    assert_eq!((w.p, w.q, w.c, w.k), (1, 1, 8, 2));
    assert_eq!(edges(&m), vec![(0, 1)]);
}
