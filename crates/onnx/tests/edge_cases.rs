//! `../shared/models/edge_cases.onnx` (initializers) and `edge_cases_shapes.onnx` (weights as
//! graph inputs) against dimensions computed by hand from the graph:
//!
//! ```text
//! x [1,16,32,32]
//! conv_s2        Conv(x, w1[32,16,3,3], b1)  kernel 3, pads 1, strides 2      → c1 [1,32,16,16]
//! Relu                                                                        → r1
//! dw_dil2        Conv(r1, w2[32,1,3,3])     group 32, dilations 2, pads 2     → c2 [1,32,16,16]
//! grouped_1x1    Conv(c2, w3[64,8,1,1])     group 4                           → c3 [1,64,16,16]
//! asym_5x5       Conv(c3, w4[64,64,5,5])    pads [2,1,2,3], strides [1,2]     → c4 [1,64,16,8]
//! same_upper     Conv(c4, w4)               auto_pad SAME_UPPER               → c5 [1,64,16,8]
//! GlobalAveragePool, Flatten                                                  → flat [1,64]
//! fc_gemm        Gemm(flat, wg[10,64], bg)  transB                            → y [1,10]
//! Reshape(c5, [1,64,128]), Transpose(0,2,1)                                   → seqT [1,128,64]
//! matmul_3d      MatMul(seqT, wm[64,48])                                      → z [1,128,48]
//! Transpose(z, 0,2,1)                                                         → z_t [1,48,128]
//! matmul_act_act MatMul(z, z_t)                                               → zz [1,128,128]
//! ```

mod common;

use cimopt_ir::OpKind::{Conv, Gemm, MatMul};
use cimopt_ir::WeightKind::{Activation, Constant};
use common::*;

/// (name, has_bias, dims)
fn expected() -> Vec<(&'static str, bool, Dims)> {
    vec![
        // P = Q = ⌊(32 + 1 + 1 − 3) / 2⌋ + 1 = 15 + 1 = 16; C = 16, K = 32.
        (
            "conv_s2",
            true,
            (
                Conv,
                Constant,
                [3, 3, 16, 16, 16, 32, 1, 1],
                [32, 32],
                [2, 2],
                [1, 1, 1, 1],
                [1, 1],
            ),
        ),
        // Depthwise: G = 32 channels, C = K = 1. Window (3 − 1)·2 + 1 = 5;
        // P = Q = (16 + 2 + 2 − 5) / 1 + 1 = 16.
        (
            "dw_dil2",
            false,
            (
                Conv,
                Constant,
                [3, 3, 16, 16, 1, 1, 32, 1],
                [16, 16],
                [1, 1],
                [2, 2, 2, 2],
                [2, 2],
            ),
        ),
        // G = 4: C = 32 / 4 = 8 (= w3[1]), K = 64 / 4 = 16; P = Q = 16.
        (
            "grouped_1x1",
            false,
            (
                Conv,
                Constant,
                [1, 1, 16, 16, 8, 16, 4, 1],
                [16, 16],
                [1, 1],
                [0, 0, 0, 0],
                [1, 1],
            ),
        ),
        // P = (16 + 2 + 2 − 5) / 1 + 1 = 16; Q = ⌊(16 + 1 + 3 − 5) / 2⌋ + 1 = 7 + 1 = 8.
        (
            "asym_5x5",
            false,
            (
                Conv,
                Constant,
                [5, 5, 16, 8, 64, 64, 1, 1],
                [16, 16],
                [1, 2],
                [2, 1, 2, 3],
                [1, 1],
            ),
        ),
        // SAME_UPPER, stride 1: output = input = 16 × 8; total pad = (out − 1)·1 + 5 − in = 4
        // on each axis, split 2 before / 2 after (the odd one, if any, would go after).
        (
            "same_upper",
            false,
            (
                Conv,
                Constant,
                [5, 5, 16, 8, 64, 64, 1, 1],
                [16, 8],
                [1, 1],
                [2, 2, 2, 2],
                [1, 1],
            ),
        ),
        // [1,64] × [10,64]ᵀ: P = 1 row, C = 64, K = 10.
        (
            "fc_gemm",
            true,
            (
                Gemm,
                Constant,
                [1, 1, 1, 1, 64, 10, 1, 1],
                [1, 1],
                [1, 1],
                [0, 0, 0, 0],
                [1, 1],
            ),
        ),
        // [1,128,64] × [64,48] with a constant weight: batch 1 folded into P = 1·128, C = 64, K = 48.
        (
            "matmul_3d",
            false,
            (
                MatMul,
                Constant,
                [1, 1, 128, 1, 64, 48, 1, 1],
                [128, 1],
                [1, 1],
                [0, 0, 0, 0],
                [1, 1],
            ),
        ),
        // [1,128,48] × [1,48,128], both computed at run time: G = 1 (batch), P = 128, C = 48, K = 128.
        (
            "matmul_act_act",
            false,
            (
                MatMul,
                Activation,
                [1, 1, 128, 1, 48, 128, 1, 1],
                [128, 1],
                [1, 1],
                [0, 0, 0, 0],
                [1, 1],
            ),
        ),
    ]
}

fn check(file: &str) -> cimopt_onnx::Model {
    let dir = shared();
    let m = load(&dir.join(file));
    check_invariants(&m);
    let want = expected();
    assert_eq!(m.layers.len(), want.len(), "{file}: layer count");
    for (l, (name, bias, d)) in m.layers.iter().zip(want) {
        assert_eq!(l.name, name, "{file}: layer {}", l.index);
        assert_eq!(dims(l), d, "{file}: layer {} `{name}`", l.index);
        assert_eq!(l.has_bias, bias, "{file}: `{name}` bias");
        assert_eq!(l.dedup_group, l.index, "{file}: `{name}` is unique");
    }
    // Unnamed nodes become `<op>_<position in the graph>`, each with its output size.
    let others: Vec<(&str, &str, u64)> = m
        .other_ops
        .iter()
        .map(|o| (o.name.as_str(), o.op_type.as_str(), o.output_elements))
        .collect();
    assert_eq!(
        others,
        vec![
            ("Relu_1", "Relu", 32 * 16 * 16),
            ("GlobalAveragePool_6", "GlobalAveragePool", 64),
            ("Flatten_7", "Flatten", 64),
            ("Reshape_9", "Reshape", 64 * 128),
            ("Transpose_10", "Transpose", 128 * 64),
            ("Transpose_12", "Transpose", 48 * 128),
        ]
    );
    let edges: Vec<(usize, usize)> = m
        .graph
        .raw_edges()
        .iter()
        .map(|e| (m.graph[e.source()], m.graph[e.target()]))
        .collect();
    // same_upper feeds both the Gemm (via pool + flatten) and matmul_3d (via reshape +
    // transpose); matmul_3d feeds both operands of matmul_act_act.
    assert_eq!(
        edges,
        vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (4, 6), (6, 7)]
    );
    assert_eq!(m.inputs, vec![("x".to_string(), vec![1, 16, 32, 32])]);
    m
}

#[test]
#[cfg_attr(not(shared_models), ignore = "needs ../shared/models")]
fn edge_cases_with_initializers() {
    check("edge_cases.onnx");
}

#[test]
#[cfg_attr(not(shared_models), ignore = "needs ../shared/models")]
fn edge_cases_with_weights_as_inputs() {
    check("edge_cases_shapes.onnx");
}

#[test]
#[cfg_attr(not(shared_models), ignore = "needs ../shared/models")]
fn both_edge_case_files_give_identical_layers() {
    let a = check("edge_cases.onnx");
    let b = check("edge_cases_shapes.onnx");
    assert_eq!(a.layers, b.layers);
    assert_eq!(a.other_ops, b.other_ops);
}
