//! Whole models: every bundled and shared file loads, the zoo's layer counts, and torchvision's
//! exports lower to the same layers as the zoo's definitions.

mod common;

use cimopt_ir::{OpKind, WeightKind};
use common::*;
use petgraph::graph::NodeIndex;
use std::path::PathBuf;

fn onnx_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_bundled_model_loads() {
    let files = onnx_files(&models_dir());
    assert!(
        files.len() >= 6,
        "models/ holds {} .onnx files; run `cargo xtask models`",
        files.len()
    );
    for f in files {
        let m = load(&f);
        assert!(!m.layers.is_empty(), "{}: no layers", f.display());
        check_invariants(&m);
    }
}

#[test]
#[cfg_attr(not(shared_models), ignore = "needs ../shared/models")]
fn every_shared_model_loads() {
    let dir = shared();
    let files = onnx_files(&dir);
    assert!(!files.is_empty());
    for f in files {
        let m = load(&f);
        assert!(!m.layers.is_empty(), "{}: no layers", f.display());
        check_invariants(&m);
    }
}

fn count(m: &cimopt_onnx::Model, op: OpKind) -> usize {
    m.layers.iter().filter(|l| l.workload.op == op).count()
}

#[test]
fn zoo_layer_counts() {
    let m = |stem: &str| load(&models_dir().join(format!("{stem}.onnx")));

    let r18 = m("resnet18");
    assert_eq!(
        (
            count(&r18, OpKind::Conv),
            count(&r18, OpKind::Gemm),
            r18.layers.len()
        ),
        (20, 1, 21)
    );
    // ResNet-18 at 224×224: 1.814 GMACs.
    assert_eq!(r18.total_macs(), 1_814_073_344);
    assert_eq!(
        r18.inputs,
        vec![("input".to_string(), vec![1, 3, 224, 224])]
    );

    // ResNet-50: stem + 16 bottlenecks × 3 + 4 downsamples = 53 Conv, 1 Gemm; 4.09 GMACs.
    let r50 = m("resnet50");
    assert_eq!(
        (count(&r50, OpKind::Conv), count(&r50, OpKind::Gemm)),
        (53, 1)
    );
    assert_eq!(r50.total_macs(), 4_089_184_256);
    // v1.5: the stride sits on the 3×3 of the first bottleneck of layer2.
    let l2 = r50
        .layers
        .iter()
        .find(|l| l.name == "/layer2/layer2.0/conv2/Conv")
        .unwrap();
    assert_eq!(
        (l2.workload.r, l2.workload.stride, l2.workload.p),
        (3, [2, 2], 28)
    );

    // VGG-16: 13 Conv + 3 Gemm, 15.47 GMACs; the first FC reduces 512·7·7.
    let vgg = m("vgg16");
    assert_eq!(
        (count(&vgg, OpKind::Conv), count(&vgg, OpKind::Gemm)),
        (13, 3)
    );
    assert_eq!(vgg.total_macs(), 15_470_264_320);
    assert_eq!(vgg.layers[13].workload.c, 25088);

    // MobileNetV2: 52 Conv (17 depthwise) + 1 Gemm, 300.8 MMACs.
    let mb = m("mobilenet_v2");
    assert_eq!(
        (count(&mb, OpKind::Conv), count(&mb, OpKind::Gemm)),
        (52, 1)
    );
    let depthwise = mb
        .layers
        .iter()
        .filter(|l| l.workload.g > 1 && l.workload.c == 1 && l.workload.k == 1)
        .count();
    assert_eq!(depthwise, 17);
    assert_eq!(mb.total_macs(), 300_774_272);

    // BERT-base: 12 × (Q, K, V, Q·Kᵀ, scores·V, output, FFN1, FFN2) = 96 MatMuls.
    let bert = m("bert_base");
    assert_eq!((count(&bert, OpKind::MatMul), bert.layers.len()), (96, 96));
    let act: Vec<_> = bert
        .layers
        .iter()
        .filter(|l| l.workload.weight_kind == WeightKind::Activation)
        .collect();
    assert_eq!(act.len(), 24);
    // Q·Kᵀ: [12,128,64] × [12,64,128] → G = 12 heads, P = 128, C = 64, K = 128.
    let qk = &bert.layers[3].workload;
    assert_eq!(
        (qk.g, qk.p, qk.c, qk.k, qk.weight_kind),
        (12, 128, 64, 128, WeightKind::Activation)
    );
    // scores·V: [12,128,128] × [12,128,64] → G = 12, P = 128, C = 128, K = 64.
    let sv = &bert.layers[4].workload;
    assert_eq!(
        (sv.g, sv.p, sv.c, sv.k, sv.weight_kind),
        (12, 128, 128, 64, WeightKind::Activation)
    );
    // FFN1: [1,128,768] × [768,3072], constant, batch folded into P.
    let ffn = &bert.layers[6].workload;
    assert_eq!(
        (ffn.g, ffn.p, ffn.c, ffn.k, ffn.weight_kind),
        (1, 128, 768, 3072, WeightKind::Constant)
    );
    // 12 × (4·128·768² + 2·128·768·3072 + 2·12·128²·64)
    assert_eq!(
        bert.total_macs(),
        12 * (4 * 128 * 768 * 768 + 2 * 128 * 768 * 3072 + 2 * 12 * 128 * 128 * 64)
    );
    // Only the embeddings are a data input: biases and LayerNorm parameters are weights.
    assert_eq!(
        bert.inputs,
        vec![("embeddings".to_string(), vec![1, 128, 768])]
    );
    // Identical workloads: Q/K/V/output, Q·Kᵀ, scores·V, FFN1, FFN2.
    assert_eq!(
        bert.layers
            .iter()
            .filter(|l| l.dedup_group == l.index)
            .count(),
        5
    );

    let tiny = m("tiny_cnn");
    assert_eq!(
        (count(&tiny, OpKind::Conv), count(&tiny, OpKind::Gemm)),
        (4, 1)
    );
}

#[test]
fn layer_graph_follows_data_through_other_ops() {
    let tiny = load(&models_dir().join("tiny_cnn.onnx"));
    let edges: Vec<(usize, usize)> = tiny
        .graph
        .raw_edges()
        .iter()
        .map(|e| (tiny.graph[e.source()], tiny.graph[e.target()]))
        .collect();
    // conv1 → conv2 → conv3 → conv4 → (GlobalAveragePool, Flatten) → fc
    assert_eq!(edges, vec![(0, 1), (1, 2), (2, 3), (3, 4)]);

    let r18 = load(&models_dir().join("resnet18.onnx"));
    let has = |a: usize, b: usize| {
        r18.graph
            .find_edge(NodeIndex::new(a), NodeIndex::new(b))
            .is_some()
    };
    // The stem feeds layer1.0.conv1 through Relu + MaxPool, and layer1.1.conv1 through the
    // residual Add; the downsample conv feeds layer2.1.conv1 through Add + Relu.
    assert!(has(0, 1) && has(0, 3) && has(2, 3) && has(7, 8) && has(6, 8));
    // No data flows from a layer to an earlier one, nor between parallel branches.
    assert!(!has(6, 7) && !has(7, 6));
    // The Gemm reads from the last block through avgpool and flatten.
    assert!(has(19, 20) && has(17, 20));

    // Attention: Q and K feed Q·Kᵀ, V and the scores feed scores·V.
    let bert = load(&models_dir().join("bert_base.onnx"));
    let has = |a: usize, b: usize| {
        bert.graph
            .find_edge(NodeIndex::new(a), NodeIndex::new(b))
            .is_some()
    };
    assert!(has(0, 3) && has(1, 3) && has(2, 4) && has(3, 4) && has(4, 5));
    assert!(!has(0, 4) && !has(2, 3));
}

/// torchvision's own exports (weights as graph inputs, BN folded, Identity nodes on shared
/// biases) lower to exactly the zoo's layers, names included.
#[test]
#[cfg_attr(not(shared_models), ignore = "needs ../shared/models")]
fn torchvision_exports_match_the_zoo() {
    let shared = shared();
    for (theirs, ours) in [
        ("resnet18_shapes", "resnet18"),
        ("mobilenet_v2_shapes", "mobilenet_v2"),
    ] {
        let a = load(&shared.join(format!("{theirs}.onnx")));
        let b = load(&models_dir().join(format!("{ours}.onnx")));
        assert_eq!(
            a.layers.len(),
            b.layers.len(),
            "{theirs} vs {ours}: layer count"
        );
        for (x, y) in a.layers.iter().zip(&b.layers) {
            assert_eq!(
                dims(x),
                dims(y),
                "{theirs} layer {} `{}` vs {ours} `{}`",
                x.index,
                x.name,
                y.name
            );
            assert_eq!(x.name, y.name, "{theirs} vs {ours}: node names");
            assert_eq!(x.has_bias, y.has_bias);
            assert_eq!(x.dedup_group, y.dedup_group);
        }
        assert_eq!(a.total_macs(), b.total_macs());
        let edges = |m: &cimopt_onnx::Model| {
            let mut e: Vec<(usize, usize)> = m
                .graph
                .raw_edges()
                .iter()
                .map(|e| (m.graph[e.source()], m.graph[e.target()]))
                .collect();
            e.sort();
            e
        };
        assert_eq!(edges(&a), edges(&b), "{theirs} vs {ours}: layer graph");
    }
}

#[test]
#[cfg_attr(not(shared_models), ignore = "needs ../shared/models")]
fn squeezenet_with_real_initializers_loads() {
    let shared = shared();
    let m = load(&shared.join("squeezenet1_0.onnx"));
    assert_eq!(m.layers.len(), 26);
    assert!(
        m.layers.iter().all(
            |l| l.workload.op == OpKind::Conv && l.workload.weight_kind == WeightKind::Constant
        )
    );
    // features.0: 7×7/2, no padding, on 224: (224 − 7)/2 + 1 = 109.
    let w = &m.layers[0].workload;
    assert_eq!(
        (w.r, w.s, w.p, w.q, w.c, w.k, w.stride),
        (7, 7, 109, 109, 3, 96, [2, 2])
    );
    // The classifier is a 1×1 conv to 1000 classes on 13×13.
    let last = &m.layers[25].workload;
    assert_eq!(
        (last.r, last.p, last.q, last.c, last.k),
        (1, 13, 13, 512, 1000)
    );
    assert_eq!(m.inputs.len(), 1);
}
