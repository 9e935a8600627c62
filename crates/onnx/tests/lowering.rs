//! Lowering rules on small hand-built graphs, each checked against dims computed by hand.

mod common;

use cimopt_ir::OpKind::{Conv, Gemm, MatMul};
use cimopt_ir::WeightKind::{Activation, Constant};
use cimopt_onnx::LoadOptions;
use cimopt_zoo::{Builder, attr_float, attr_int, attr_ints, attr_str, encode};
use common::*;

fn lower(b: Builder) -> cimopt_onnx::Model {
    let m =
        load_bytes(&encode(&b.finish()), &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    check_invariants(&m);
    m
}

fn named_dims(m: &cimopt_onnx::Model) -> Vec<(&str, Dims)> {
    m.layers
        .iter()
        .map(|l| (l.name.as_str(), dims(l)))
        .collect()
}

#[test]
fn conv_padding_modes_batch_groups_and_kernels() {
    let mut b = Builder::new("convs");
    let x = b.input("x", &[2, 6, 10, 9]);
    let w1 = b.weight("w1", &[8, 6, 3, 3]);
    let sl = vec![
        attr_str("auto_pad", "SAME_LOWER"),
        attr_ints("strides", &[2, 2]),
    ];
    let c1 = b.node("Conv", "same_lower", &[&x, &w1], sl);
    let w2 = b.weight("w2", &[4, 8, 3, 2]);
    let c2 = b.node(
        "Conv",
        "valid",
        &[&c1, &w2],
        vec![attr_str("auto_pad", "VALID")],
    );
    let w3 = b.weight("w3", &[4, 6, 3, 3]);
    let su = vec![
        attr_str("auto_pad", "SAME_UPPER"),
        attr_ints("strides", &[2, 2]),
    ];
    let c3 = b.node("Conv", "same_upper_s2", &[&x, &w3], su);
    let w4 = b.weight("w4", &[12, 1, 3, 3]);
    let dw = vec![attr_int("group", 6), attr_ints("pads", &[1, 1, 1, 1])];
    let c4 = b.node("Conv", "dw_multiplier", &[&x, &w4], dw);
    let w5 = b.weight("w5", &[8, 6, 3, 3]);
    let c5 = b.node("Conv", "default_attrs", &[&x, &w5], vec![]);
    b.output(&c2, &[2, 4, 3, 4]);
    b.output(&c3, &[2, 4, 5, 5]);
    b.output(&c4, &[2, 12, 10, 9]);
    b.output(&c5, &[2, 8, 8, 7]);
    let m = lower(b);
    assert_eq!(
        named_dims(&m),
        vec![
            // SAME_LOWER, stride 2: out = ⌈10/2⌉ = 5, ⌈9/2⌉ = 5.
            // H: total = (5−1)·2 + 3 − 10 = 1 → 1 before (lower), 0 after.
            // W: total = (5−1)·2 + 3 − 9 = 2 → 1 before, 1 after. Batch 2 → B = 2.
            (
                "same_lower",
                (
                    Conv,
                    Constant,
                    [3, 3, 5, 5, 6, 8, 1, 2],
                    [10, 9],
                    [2, 2],
                    [1, 1, 0, 1],
                    [1, 1]
                )
            ),
            // VALID 3×2 on 5×5: P = 5 − 3 + 1 = 3, Q = 5 − 2 + 1 = 4.
            (
                "valid",
                (
                    Conv,
                    Constant,
                    [3, 2, 3, 4, 8, 4, 1, 2],
                    [5, 5],
                    [1, 1],
                    [0, 0, 0, 0],
                    [1, 1]
                )
            ),
            // SAME_UPPER: the odd pad row goes after: H 0 before / 1 after, W 1 / 1.
            (
                "same_upper_s2",
                (
                    Conv,
                    Constant,
                    [3, 3, 5, 5, 6, 4, 1, 2],
                    [10, 9],
                    [2, 2],
                    [0, 1, 1, 1],
                    [1, 1]
                )
            ),
            // Depthwise with multiplier 2: G = 6, C = 6/6 = 1, K = 12/6 = 2; P = 10, Q = 9.
            (
                "dw_multiplier",
                (
                    Conv,
                    Constant,
                    [3, 3, 10, 9, 1, 2, 6, 2],
                    [10, 9],
                    [1, 1],
                    [1, 1, 1, 1],
                    [1, 1]
                )
            ),
            // No attributes: stride 1, no padding: P = 10 − 2 = 8, Q = 9 − 2 = 7.
            (
                "default_attrs",
                (
                    Conv,
                    Constant,
                    [3, 3, 8, 7, 6, 8, 1, 2],
                    [10, 9],
                    [1, 1],
                    [0, 0, 0, 0],
                    [1, 1]
                )
            ),
        ]
    );
}

#[test]
fn one_dimensional_conv_is_a_single_row() {
    let mut b = Builder::new("conv1d");
    let x = b.input("x", &[1, 4, 20]);
    let w = b.weight("w", &[8, 4, 5]);
    let bias = b.weight("bias", &[8]);
    let attrs = vec![
        attr_ints("strides", &[3]),
        attr_ints("pads", &[2, 1]),
        attr_ints("dilations", &[2]),
    ];
    let y = b.node("Conv", "conv1d", &[&x, &w, &bias], attrs);
    b.output(&y, &[1, 8, 5]);
    let m = lower(b);
    // Window (5−1)·2 + 1 = 9; Q = ⌊(20 + 2 + 1 − 9) / 3⌋ + 1 = 4 + 1 = 5; H = R = P = 1.
    assert_eq!(
        named_dims(&m),
        vec![(
            "conv1d",
            (
                Conv,
                Constant,
                [1, 5, 1, 5, 4, 8, 1, 1],
                [1, 20],
                [1, 3],
                [0, 2, 0, 1],
                [1, 2]
            )
        )]
    );
    assert!(m.layers[0].has_bias);
}

#[test]
fn gemm_transposes_and_bias() {
    let mut b = Builder::new("gemm");
    let a = b.input("a", &[64, 5]);
    let w = b.weight("w", &[64, 10]);
    let attrs = vec![
        attr_int("transA", 1),
        attr_float("alpha", 0.5),
        attr_float("beta", 2.0),
    ];
    let y = b.node("Gemm", "gemm_ta", &[&a, &w], attrs);
    let w2 = b.weight("w2", &[7, 10]);
    let c = b.weight("c", &[7]);
    let z = b.node(
        "Gemm",
        "gemm_tb_bias",
        &[&y, &w2, &c],
        vec![attr_int("transB", 1)],
    );
    b.output(&z, &[5, 7]);
    let m = lower(b);
    assert_eq!(
        named_dims(&m),
        vec![
            // Aᵀ [5,64] × B [64,10]: P = 5 rows, C = 64, K = 10.
            (
                "gemm_ta",
                (
                    Gemm,
                    Constant,
                    [1, 1, 5, 1, 64, 10, 1, 1],
                    [5, 1],
                    [1, 1],
                    [0, 0, 0, 0],
                    [1, 1]
                )
            ),
            // [5,10] × [7,10]ᵀ: P = 5, C = 10, K = 7.
            (
                "gemm_tb_bias",
                (
                    Gemm,
                    Constant,
                    [1, 1, 5, 1, 10, 7, 1, 1],
                    [5, 1],
                    [1, 1],
                    [0, 0, 0, 0],
                    [1, 1]
                )
            ),
        ]
    );
    assert_eq!((m.layers[0].has_bias, m.layers[1].has_bias), (false, true));
}

#[test]
fn matmul_batch_dims_fold_into_p_or_g() {
    let mut b = Builder::new("matmul");
    let x = b.input("x", &[2, 3, 7, 16]);
    let w2d = b.weight("w2d", &[16, 8]);
    let m1 = b.node("MatMul", "const_2d", &[&x, &w2d], vec![]);
    let w3d = b.weight("w3d", &[3, 16, 8]);
    let m2 = b.node("MatMul", "const_3d", &[&x, &w3d], vec![]);
    let xt = b.node(
        "Transpose",
        "t",
        &[&x],
        vec![attr_ints("perm", &[0, 1, 3, 2])],
    );
    let m3 = b.node("MatMul", "act_act", &[&x, &xt], vec![]);
    let v = b.input("v", &[16]);
    let m4 = b.node("MatMul", "vec_mat", &[&v, &w2d], vec![]);
    let wv = b.weight("wv", &[16]);
    let m5 = b.node("MatMul", "mat_vec", &[&x, &wv], vec![]);
    // A weight reached through a Transpose is still a constant weight.
    let wt = b.weight("wt", &[8, 16]);
    let wtt = b.node(
        "Transpose",
        "wt_t",
        &[&wt],
        vec![attr_ints("perm", &[1, 0])],
    );
    let m6 = b.node("MatMul", "via_transpose", &[&x, &wtt], vec![]);
    b.output(&m1, &[2, 3, 7, 8]);
    b.output(&m2, &[2, 3, 7, 8]);
    b.output(&m3, &[2, 3, 7, 7]);
    b.output(&m4, &[8]);
    b.output(&m5, &[2, 3, 7]);
    b.output(&m6, &[2, 3, 7, 8]);
    let m = lower(b);
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
        named_dims(&m),
        vec![
            // [2,3,7,16] × [16,8]: one weight for all 2·3 slices → P = 2·3·7 = 42.
            ("const_2d", mm(42, 16, 8, 1, Constant)),
            // [2,3,7,16] × [3,16,8]: B varies along the dim of 3 → G = 3; the dim of 2
            // broadcasts B → folded: P = 2·7 = 14.
            ("const_3d", mm(14, 16, 8, 3, Constant)),
            // [2,3,7,16] × [2,3,16,7] computed from x: G = 2·3 = 6, P = 7, C = 16, K = 7.
            ("act_act", mm(7, 16, 7, 6, Activation)),
            // [16] × [16,8]: A is one row.
            ("vec_mat", mm(1, 16, 8, 1, Constant)),
            // [2,3,7,16] × [16]: K = 1, P = 42.
            ("mat_vec", mm(42, 16, 1, 1, Constant)),
            ("via_transpose", mm(42, 16, 8, 1, Constant)),
        ]
    );
    // Both x and v feed the A operand of a MatMul: data inputs. The weights are not.
    let inputs: Vec<&str> = m.inputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(inputs, vec!["x", "v"]);
    let others: Vec<(&str, u64)> = m
        .other_ops
        .iter()
        .map(|o| (o.name.as_str(), o.output_elements))
        .collect();
    assert_eq!(others, vec![("t", 2 * 3 * 16 * 7), ("wt_t", 16 * 8)]);
}

#[test]
fn graph_inputs_are_weights_unless_data_reaches_a_compute_operand() {
    let mut b = Builder::new("classes");
    let x = b.input("x", &[4, 16]);
    let y = b.input("y", &[16, 16]);
    // y is only ever a B operand → a constant weight.
    let a = b.node("MatMul", "x_y", &[&x, &y], vec![]);
    // A bias added by broadcasting is a parameter, not data.
    let bias = b.weight("bias", &[16]);
    let a = b.node("Add", "add_bias", &[&bias, &a], vec![]);
    // z reaches the A operand of a MatMul → data; so the product with it is activation × activation.
    let z = b.input("z", &[16, 16]);
    let za = b.node("Relu", "relu_z", &[&z], vec![]);
    let s = b.node("MatMul", "z_w", &[&za, &y], vec![]);
    let t = b.node("MatMul", "x_z", &[&a, &s], vec![]);
    b.output(&t, &[4, 16]);
    let m = lower(b);
    let kinds: Vec<_> = m
        .layers
        .iter()
        .map(|l| (l.name.as_str(), l.workload.weight_kind))
        .collect();
    assert_eq!(
        kinds,
        vec![("x_y", Constant), ("z_w", Constant), ("x_z", Activation)]
    );
    let inputs: Vec<&str> = m.inputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(inputs, vec!["x", "z"]);
    // Data flows x_y → x_z (through the bias Add) and z_w → x_z (as the run-time B operand).
    let edges: Vec<(usize, usize)> = m
        .graph
        .raw_edges()
        .iter()
        .map(|e| (m.graph[e.source()], m.graph[e.target()]))
        .collect();
    assert_eq!(edges, vec![(0, 2), (1, 2)]);
}

#[test]
fn unnamed_nodes_foreign_domains_and_dedup() {
    let mut b = Builder::new("names");
    let x = b.input("x", &[1, 4, 8, 8]);
    let w = b.weight("w", &[4, 4, 3, 3]);
    let attrs = || vec![attr_ints("pads", &[1, 1, 1, 1])];
    let c1 = b.node("Conv", "", &[&x, &w], attrs());
    let r = b.node("Relu", "", &[&c1], vec![]);
    let c2 = b.node("Conv", "", &[&r, &w], attrs());
    b.output(&c2, &[1, 4, 8, 8]);
    let mut proto = b.finish();
    // Unique output names (the builder derives them from the empty node names).
    let g = proto.graph.as_mut().unwrap();
    for (i, n) in g.node.iter_mut().enumerate() {
        n.output[0] = format!("t{i}");
    }
    g.node[1].input[0] = "t0".into();
    g.node[2].input[0] = "t1".into();
    g.output[0].name = "t2".into();
    let m = load_bytes(&encode(&proto), &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    check_invariants(&m);
    let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
    // `<op>_<position of the node in the graph>`.
    assert_eq!(names, vec!["Conv_0", "Conv_2"]);
    assert_eq!(m.other_ops[0].name, "Relu_1");
    assert_eq!((m.layers[0].dedup_group, m.layers[1].dedup_group), (0, 0));

    // A Conv of another domain is not an ONNX Conv: not lowered. It looks like a convolution,
    // so it is refused rather than listed as a non-CIM operator (its MACs would be lost)...
    proto.graph.as_mut().unwrap().node[2].domain = "com.example".into();
    let e = load_bytes(&encode(&proto), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, cimopt_onnx::FrontendError::Unsupported { node, op, .. }
            if node == "Conv_2" && op == "com.example.Conv"),
        "{e:?}"
    );
    // ... and with keep_going it is listed as skipped, with the MACs of an ONNX Conv
    // (K 4 × C 4 × 3 × 3 × P 8 × Q 8).
    let keep_going = LoadOptions {
        keep_going: true,
        ..Default::default()
    };
    let m = load_bytes(&encode(&proto), &keep_going).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.layers.len(), 1);
    assert!(m.other_ops.iter().all(|o| o.name != "Conv_2"));
    let skipped: Vec<_> = m
        .skipped
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.op_type.as_str(),
                s.domain.as_str(),
                s.macs,
            )
        })
        .collect();
    assert_eq!(
        skipped,
        vec![("Conv_2", "Conv", "com.example", Some(4 * 4 * 9 * 64))]
    );
}
