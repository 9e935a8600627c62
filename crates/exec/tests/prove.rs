//! Plans proven with data: compiled schedules of small layers of varied shapes (every mapper),
//! a chain of real layers with tensors kept on chip between them, real layers of the committed
//! schedules, and broken plans that must fail.

use cimopt_exec::{ExecError, Proof, prove};
use cimopt_pipeline::compile::{ModelSource, Silent};
use cimopt_pipeline::{CompileOptions, Mapper};
use cimopt_schedule::Schedule;
use cimopt_schedule::plan::MemoryPlan;
use cimopt_zoo::{Builder, attr_int, attr_ints, encode};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compile(model: &cimopt_onnx::Model, bytes: &[u8], target: &str, mapper: Mapper) -> Schedule {
    let t = cimopt_target::load(target, &[]).unwrap().target;
    let source = ModelSource {
        model,
        file: "test.onnx".into(),
        bytes,
    };
    let opts = CompileOptions {
        mapper,
        cache_dir: None,
        simulate: false,
        ..Default::default()
    };
    cimopt_pipeline::compile(&source, &t, target, &opts, &Silent).unwrap()
}

fn run(
    s: &Schedule,
    plan: &MemoryPlan,
    model: &cimopt_onnx::Model,
    only: Option<&[usize]>,
) -> Result<Proof, ExecError> {
    let pairs: Vec<_> = s.layers.iter().map(|l| (&l.layer, &l.mapping)).collect();
    prove(&s.inputs.target, &pairs, plan, &model.flow, 7, only)
}

fn load(b: Builder) -> (cimopt_onnx::Model, Vec<u8>) {
    let bytes = encode(&b.finish());
    let m = cimopt_onnx::load_bytes(Path::new("test.onnx"), &bytes, &Default::default()).unwrap();
    (m, bytes)
}

/// One Conv: input `[1, c·g, h, w]`, `k·g` filters of `c × r × r`.
#[allow(clippy::too_many_arguments)]
fn conv(
    name: &str,
    c: i64,
    k: i64,
    g: i64,
    hw: i64,
    r: i64,
    stride: i64,
    pad: i64,
    dil: i64,
) -> Builder {
    let mut b = Builder::new(name);
    let x = b.input("x", &[1, c * g, hw, hw]);
    let w = b.weight("w", &[k * g, c, r, r]);
    let attrs = vec![
        attr_ints("strides", &[stride, stride]),
        attr_ints("pads", &[pad, pad, pad, pad]),
        attr_ints("dilations", &[dil, dil]),
        attr_int("group", g),
    ];
    let y = b.node("Conv", name, &[&x, &w], attrs);
    let out = (hw + 2 * pad - dil * (r - 1) - 1) / stride + 1;
    b.output(&y, &[1, k * g, out, out]);
    b
}

#[test]
fn layers_of_varied_shapes_are_proven_with_every_mapper() {
    let cases = vec![
        conv("conv3x3", 8, 16, 1, 8, 3, 1, 1, 1),
        conv("stride2", 6, 8, 1, 9, 3, 2, 1, 1),
        conv("dilated", 4, 8, 1, 10, 3, 1, 2, 2),
        conv("groups", 4, 6, 2, 6, 3, 1, 1, 1),
        conv("depthwise", 1, 1, 12, 7, 3, 1, 1, 1),
        conv("pointwise", 24, 20, 1, 5, 1, 1, 0, 1),
        // K = 20 on 16 columns: the mappers pad K to 32 (or split it).
        conv("padded_k", 3, 20, 1, 6, 5, 1, 2, 1),
        {
            let mut b = Builder::new("gemm");
            let x = b.input("x", &[3, 40]);
            let w = b.weight("w", &[40, 24]);
            let y = b.node("MatMul", "gemm", &[&x, &w], vec![]);
            b.output(&y, &[3, 24]);
            b
        },
        {
            // Both operands computed at run time: the weight is a model input.
            let mut b = Builder::new("act_act");
            let x = b.input("x", &[2, 6, 20]);
            let v = b.input("v", &[2, 20, 9]);
            let y = b.node("MatMul", "act_act", &[&x, &v], vec![]);
            b.output(&y, &[2, 6, 9]);
            b
        },
    ];
    for b in cases {
        let (model, bytes) = load(b);
        for target in ["default", "transformer"] {
            for mapper in [Mapper::Ws, Mapper::Greedy, Mapper::Mip] {
                let s = compile(&model, &bytes, target, mapper);
                let plan = s.plan.as_ref().expect("a plan");
                let p = run(&s, plan, &model, None).unwrap_or_else(|e| {
                    panic!("{} on {target} with {mapper:?}: {e}", model.layers[0].name)
                });
                assert_eq!(p.layers, 1);
                assert_eq!(
                    p.macs,
                    s.layers[0].mapping.activations() * {
                        s.layers[0]
                            .mapping
                            .spatial
                            .iter()
                            .map(|f| f.factor)
                            .product::<u64>()
                    }
                );
                assert!(p.outputs > 0);
            }
        }
    }
}

fn tiny() -> (cimopt_onnx::Model, Vec<u8>) {
    let path = root().join("models/tiny_cnn.onnx");
    let bytes = std::fs::read(&path).unwrap();
    let m = cimopt_onnx::load_bytes(&path, &bytes, &Default::default()).unwrap();
    (m, bytes)
}

#[test]
fn a_chain_of_layers_with_tensors_on_chip_is_proven() {
    let (model, bytes) = tiny();
    for target in ["default", "transformer"] {
        let s = compile(&model, &bytes, target, Mapper::Mip);
        let plan = s.plan.as_ref().unwrap();
        assert!(
            plan.tensors.iter().any(|x| x.home != 0),
            "{target}: nothing on chip"
        );
        let p = run(&s, plan, &model, None).unwrap_or_else(|e| panic!("{target}: {e}"));
        // conv → relu → conv ... : the convolutions pass their outputs on through ReLUs in
        // place, on chip; the pooling is not executed, so the classifier reads fresh data.
        assert_eq!(p.layers, s.layers.len(), "{p:?}");
        assert!(p.chained >= 3, "{p:?}");
        assert!(p.ops >= 4, "{p:?}");
    }
}

/// `model` with every layer at these widths, as a quantized model gives them.
fn at_bits(model: &cimopt_onnx::Model, bits: cimopt_ir::Bits) -> cimopt_onnx::Model {
    let mut m = model.clone();
    for l in &mut m.layers {
        l.workload.bits = bits;
    }
    m
}

/// Layers at 4-bit weights (packed two to a cell slot, or padded) and at 4-bit inputs move
/// values of those widths through the plan and compute the direct result; a chain at 4-bit
/// weights passes its 8-bit activations on as at 8 bits, one at 4-bit inputs cannot (each
/// layer writes 8-bit outputs its successor does not read).
#[test]
fn layers_at_four_bits_are_proven() {
    let w4 = cimopt_ir::Bits {
        weight: Some(4),
        ..cimopt_ir::Bits::FLOAT
    };
    let a4w4 = cimopt_ir::Bits {
        input: Some(4),
        weight: Some(4),
        output: None,
    };
    for b in [conv("conv3x3", 8, 16, 1, 8, 3, 1, 1, 1), {
        let mut b = Builder::new("gemm");
        let x = b.input("x", &[3, 40]);
        let w = b.weight("w", &[40, 24]);
        let y = b.node("MatMul", "gemm", &[&x, &w], vec![]);
        b.output(&y, &[3, 24]);
        b
    }] {
        let (model, bytes) = load(b);
        for bits in [w4, a4w4] {
            let model = at_bits(&model, bits);
            for target in ["default", "transformer"] {
                for mapper in [Mapper::Ws, Mapper::Greedy] {
                    let s = compile(&model, &bytes, target, mapper);
                    assert_eq!(s.layers[0].layer.workload.bits.weight, Some(4));
                    let p = run(&s, s.plan.as_ref().unwrap(), &model, None).unwrap_or_else(|e| {
                        panic!(
                            "{} {bits:?} on {target} with {mapper:?}: {e}",
                            s.layers[0].layer.name
                        )
                    });
                    assert_eq!(p.layers, 1);
                }
            }
        }
    }
    let (model, bytes) = tiny();
    for (bits, chained) in [(w4, true), (a4w4, false)] {
        let model = at_bits(&model, bits);
        let s = compile(&model, &bytes, "default", Mapper::Greedy);
        let p = run(&s, s.plan.as_ref().unwrap(), &model, None).unwrap();
        assert_eq!(p.layers, s.layers.len(), "{p:?}");
        assert_eq!(p.chained >= 3, chained, "{bits:?}: {p:?}");
    }
}

#[test]
fn broken_plans_fail_the_proof() {
    let (model, bytes) = tiny();
    let s = compile(&model, &bytes, "default", Mapper::Mip);
    let good = s.plan.clone().unwrap();
    run(&s, &good, &model, None).unwrap();
    let gb = s.inputs.target.level_by_name("global_buffer").unwrap();

    // A resident tensor moved onto another that is live at the same time: the data it holds is
    // overwritten before its reader gets it.
    let on_chip: Vec<usize> = good
        .tensors
        .iter()
        .filter(|x| x.home == gb)
        .map(|x| x.id)
        .collect();
    let (a, b) = on_chip
        .iter()
        .enumerate()
        .find_map(|(i, &a)| {
            on_chip[i + 1..].iter().find_map(|&b| {
                let (x, y) = (&good.tensors[a], &good.tensors[b]);
                (x.live[0] <= y.live[1] && y.live[0] <= x.live[1]).then_some((a, b))
            })
        })
        .expect("two resident tensors live together");
    let mut bad = good.clone();
    bad.tensors[b].offset = bad.tensors[a].offset;
    let e = run(&s, &bad, &model, None).unwrap_err();
    assert!(matches!(e, ExecError::Mismatch { .. }), "{e}");

    // A buffer placed past the end of its level.
    let mut bad = good.clone();
    let b = bad.buffers.iter_mut().find(|b| b.bits >= 16).unwrap();
    b.offset = s.inputs.target.levels[b.level].capacity_bits - b.bits / 2;
    let e = run(&s, &bad, &model, None).unwrap_err();
    assert!(e.to_string().contains("passes the level's"), "{e}");

    // A buffer too small for the tiles the mapping moves.
    let mut bad = good.clone();
    let buf = bad.buffers.iter_mut().find(|b| b.bits >= 16).unwrap();
    buf.bits /= 4;
    let e = run(&s, &bad, &model, None).unwrap_err();
    assert!(e.to_string().contains("more than"), "{e}");

    // A layer told to read another tensor than the one its producer wrote.
    let mut bad = good.clone();
    let activation = cimopt_schedule::plan::TensorKind::Activation;
    let k = bad
        .layers
        .iter()
        .position(|io| bad.tensors[io.input].kind == activation && bad.tensors[io.input].home == gb)
        .expect("a layer reads a resident activation");
    let home = bad.tensors[bad.layers[k].input].home;
    let other = bad
        .tensors
        .iter()
        .find(|x| x.home == home && x.id != bad.layers[k].input && x.kind == activation)
        .unwrap()
        .id;
    bad.layers[k].input = other;
    let e = run(&s, &bad, &model, None).unwrap_err();
    assert!(matches!(e, ExecError::Mismatch { .. }), "{e}");
}

/// Small layers of the committed schedules (real models, their real plans, resident homes
/// included), each executed alone on fresh data.
#[test]
fn real_layers_of_the_committed_schedules_are_proven() {
    let mut proven = 0;
    for (file, model_file) in [
        (
            "mobilenet_v2.default.schedule.json",
            "models/mobilenet_v2.onnx",
        ),
        ("resnet18.transformer.schedule.json", "models/resnet18.onnx"),
    ] {
        let text = std::fs::read_to_string(root().join("schedules").join(file)).unwrap();
        let s = cimopt_schedule::from_json(&text, None).unwrap();
        let model = cimopt_onnx::load(&root().join(model_file), &Default::default()).unwrap();
        let small: Vec<usize> = s
            .layers
            .iter()
            .filter(|l| l.same_as.is_none() && l.layer.workload.macs() <= 600_000)
            .map(|l| l.layer.index)
            .take(3)
            .collect();
        assert!(!small.is_empty(), "{file}");
        let p = run(&s, s.plan.as_ref().unwrap(), &model, Some(&small))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(p.layers, small.len());
        proven += p.layers;
    }
    assert!(proven >= 4);
}
