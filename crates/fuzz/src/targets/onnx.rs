//! ONNX protobufs: `cimopt_onnx::load_bytes`, then what `cimopt inspect` and `cimopt compile
//! --mapper ws` do with the lowered model.
//!
//! Corpus: every bundled model (`models/*.onnx`, `models/quantized/*.onnx`) and the real
//! exports in `../shared/models/*.onnx` when that folder exists, decoded with prost into
//! `tract_onnx::pb::ModelProto`.
//!
//! Mutations, at the field level: node attributes (ints to boundary values, lists emptied or
//! lengthened, types changed, attributes added or removed), operator types and domains
//! (quantized and contrib ones included), tensor names (dangling, empty, duplicated,
//! cycles), declared shapes (0, −1, huge, symbolic, rank changes), initializers and Constant
//! tensors (dims, data types, raw data length, typed data, external data), opset versions, IR
//! version, nodes removed, duplicated or reordered, graph inputs and initializers removed or
//! swapped, and convolution geometry scaled to the front end's limits; then, sometimes, raw
//! byte mutations of the encoded protobuf (truncation, bit flips, copies).

use crate::rng::Rng;
use crate::{Fuzzer, Input, Outcome, Plan};
use cimopt_onnx::{FrontendError, LoadOptions};
use prost::Message;
use std::path::{Path, PathBuf};
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::pb::type_proto::Value as TypeValue;

pub struct OnnxFuzzer {
    bases: Vec<(String, pb::ModelProto)>,
}

/// The model files of the corpus, sorted: the bundled ones, then `../shared/models`.
pub fn corpus_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        root.join("models"),
        root.join("models/quantized"),
        root.join("../shared/models"),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "onnx"));
        files.sort();
        out.extend(files);
    }
    out
}

impl OnnxFuzzer {
    pub fn load(root: &Path) -> Result<OnnxFuzzer, String> {
        let mut bases = Vec::new();
        for f in corpus_files(root) {
            let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let proto = pb::ModelProto::decode(bytes.as_slice())
                .map_err(|e| format!("{}: {e}", f.display()))?;
            let name = f
                .strip_prefix(root)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| f.display().to_string());
            bases.push((name, proto));
        }
        if bases.is_empty() {
            return Err(format!(
                "no ONNX models under {}",
                root.join("models").display()
            ));
        }
        Ok(OnnxFuzzer { bases })
    }
}

const STEPS: &[(&str, u32)] = &[
    ("attribute value", 15),
    ("attribute added", 8),
    ("attribute removed", 4),
    ("op type", 8),
    ("domain", 3),
    ("tensor name", 10),
    ("shape", 12),
    ("initializer", 10),
    ("constant", 4),
    ("opset", 4),
    ("ir version", 1),
    ("nodes", 6),
    ("graph io", 5),
    ("conv geometry", 8),
    ("bytes", 5),
];
const BYTES: usize = 14;

impl Fuzzer for OnnxFuzzer {
    fn plan(&self, rng: &mut Rng) -> Plan {
        let weights: Vec<u32> = STEPS.iter().map(|s| s.1).collect();
        let n = rng.weighted(&[0, 45, 30, 15, 10]);
        Plan {
            base: rng.below(self.bases.len()),
            shape: 0,
            steps: (0..n)
                .map(|_| (rng.weighted(&weights), rng.next_u64()))
                .collect(),
        }
    }

    fn build(&self, plan: &Plan) -> Input {
        let (name, proto) = &self.bases[plan.base];
        let mut proto = proto.clone();
        let mut mutations = Vec::new();
        for &(kind, seed) in plan.steps.iter().filter(|s| s.0 != BYTES) {
            let mut rng = Rng::new(seed);
            if let Some(m) = step(kind, &mut rng, &mut proto) {
                mutations.push(format!("{}: {m}", STEPS[kind].0));
            }
        }
        let mut bytes = proto.encode_to_vec();
        for &(_, seed) in plan.steps.iter().filter(|s| s.0 == BYTES) {
            let mut rng = Rng::new(seed);
            mutations.push(format!("bytes: {}", mutate_bytes(&mut rng, &mut bytes)));
        }
        Input {
            bytes,
            base: name.clone(),
            mutations,
        }
    }

    fn reduce(
        &self,
        input: &[u8],
        budget: &mut usize,
        fails: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Vec<u8> {
        let Ok(proto) = pb::ModelProto::decode(input) else {
            return input.to_vec();
        };
        let encoded = proto.encode_to_vec();
        if !fails(&encoded) {
            return input.to_vec();
        }
        reduce_proto(proto, budget, fails).encode_to_vec()
    }
}

/// Removes what it can (nodes, value infos, initializers, inputs, outputs, attributes, opset
/// imports, metadata) while the model still `fails`.
fn reduce_proto(
    mut proto: pb::ModelProto,
    budget: &mut usize,
    fails: &mut dyn FnMut(&[u8]) -> bool,
) -> pb::ModelProto {
    proto.doc_string.clear();
    proto.metadata_props.clear();
    proto.producer_name.clear();
    proto.producer_version.clear();
    if !fails(&proto.encode_to_vec()) {
        return proto;
    }
    type Remover = fn(&mut pb::ModelProto, usize) -> bool;
    fn g(p: &mut pb::ModelProto) -> &mut pb::GraphProto {
        p.graph.get_or_insert_with(Default::default)
    }
    let removers: [Remover; 7] = [
        |p, i| {
            i < g(p).node.len() && {
                g(p).node.remove(i);
                true
            }
        },
        |p, i| {
            i < g(p).value_info.len() && {
                g(p).value_info.remove(i);
                true
            }
        },
        |p, i| {
            i < g(p).initializer.len() && {
                g(p).initializer.remove(i);
                true
            }
        },
        |p, i| {
            i < g(p).input.len() && {
                g(p).input.remove(i);
                true
            }
        },
        |p, i| {
            i < g(p).output.len() && {
                g(p).output.remove(i);
                true
            }
        },
        |p, i| {
            i < p.opset_import.len() && {
                p.opset_import.remove(i);
                true
            }
        },
        |p, i| {
            // Attribute `i` counted over all nodes.
            let mut k = i;
            for n in &mut g(p).node {
                if k < n.attribute.len() {
                    n.attribute.remove(k);
                    return true;
                }
                k -= n.attribute.len();
            }
            false
        },
    ];
    let mut changed = true;
    while changed && *budget > 0 {
        changed = false;
        for remove in removers {
            let mut i = 0;
            loop {
                if *budget == 0 {
                    break;
                }
                let mut candidate = proto.clone();
                if !remove(&mut candidate, i) {
                    break;
                }
                *budget -= 1;
                if fails(&candidate.encode_to_vec()) {
                    proto = candidate;
                    changed = true;
                } else {
                    i += 1;
                }
            }
        }
    }
    proto
}

const BOUNDARY_I64: &[i64] = &[
    0,
    1,
    -1,
    2,
    3,
    -2,
    7,
    64,
    65_536,
    (1 << 31) - 1,
    1 << 31,
    1 << 32,
    1 << 40,
    1 << 48,
    1 << 62,
    i64::MAX,
    i64::MIN,
    -(1 << 31),
];

fn boundary(rng: &mut Rng) -> i64 {
    *rng.pick(BOUNDARY_I64)
}

const OPS: &[&str] = &[
    "Conv",
    "Gemm",
    "MatMul",
    "QLinearConv",
    "ConvInteger",
    "QLinearMatMul",
    "MatMulInteger",
    "Einsum",
    "ConvTranspose",
    "DeformConv",
    "RNN",
    "GRU",
    "LSTM",
    "Attention",
    "MultiHeadAttention",
    "QGemm",
    "FusedConv",
    "FusedGemm",
    "FusedMatMul",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
    "GemmFastGelu",
    "MatMulNBits",
    "MatMulBnb4",
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "QLinearAdd",
    "QLinearMul",
    "QLinearGlobalAveragePool",
    "QLinearConcat",
    "QLinearAveragePool",
    "NhwcConv",
    "TransposeMatMul",
    "MyMatMul",
    "Relu",
    "Add",
    "Mul",
    "Sub",
    "Div",
    "Reshape",
    "Flatten",
    "Transpose",
    "Concat",
    "Gather",
    "Softmax",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "LayerNormalization",
    "Identity",
    "Constant",
    "Shape",
    "Size",
    "Squeeze",
    "Unsqueeze",
    "Split",
    "Slice",
    "Pad",
    "Resize",
    "Expand",
    "Tile",
    "Clip",
    "Where",
    "ConstantOfShape",
    "Range",
    "Cast",
    "ReduceMean",
    "TopK",
    "Erf",
    "Sqrt",
    "Pow",
    "If",
    "Loop",
    "Scan",
    "NonZero",
    "",
    "conv",
    "Unknown_Op",
];

const DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "com.microsoft",
    "com.example",
    "ai.onnx.ml",
    "org.pytorch.aten",
    "\u{0}",
    "com.microsoft.nchwc",
];

const ATTRIBUTES: &[&str] = &[
    "kernel_shape",
    "strides",
    "pads",
    "dilations",
    "group",
    "auto_pad",
    "transA",
    "transB",
    "alpha",
    "beta",
    "axis",
    "axes",
    "perm",
    "bits",
    "block_size",
    "K",
    "N",
    "equation",
    "output_padding",
    "output_shape",
    "keepdims",
    "to",
    "value",
    "value_int",
    "value_ints",
    "value_float",
    "allowzero",
    "ceil_mode",
    "storage_order",
    "count_include_pad",
    "epsilon",
    "activation",
    "num_heads",
    "mode",
    "split",
    "output_dtype",
    "saturate",
    "channels_last",
    "accuracy_level",
];

fn nodes_with_attributes(g: &pb::GraphProto) -> Vec<usize> {
    (0..g.node.len())
        .filter(|&i| !g.node[i].attribute.is_empty())
        .collect()
}

/// Every tensor name of the graph.
fn tensor_names(g: &pb::GraphProto) -> Vec<String> {
    let mut out: Vec<String> = g.input.iter().map(|v| v.name.clone()).collect();
    out.extend(g.initializer.iter().map(|t| t.name.clone()));
    out.extend(g.node.iter().flat_map(|n| n.output.iter().cloned()));
    out.extend(g.output.iter().map(|v| v.name.clone()));
    out
}

fn compute_nodes(g: &pb::GraphProto) -> Vec<usize> {
    let c: Vec<usize> = (0..g.node.len())
        .filter(|&i| {
            let op = g.node[i].op_type.as_str();
            op.contains("Conv") || op.contains("Gemm") || op.contains("MatMul") || op == "Einsum"
        })
        .collect();
    if c.is_empty() {
        (0..g.node.len()).collect()
    } else {
        c
    }
}

fn step(kind: usize, rng: &mut Rng, proto: &mut pb::ModelProto) -> Option<String> {
    let g = proto.graph.as_mut()?;
    match STEPS[kind].0 {
        "attribute value" => {
            let with = nodes_with_attributes(g);
            if with.is_empty() {
                return None;
            }
            let ni = *rng.pick(&with);
            let node = &mut g.node[ni];
            let ai = rng.below(node.attribute.len());
            let a = &mut node.attribute[ai];
            let what = mutate_attribute(rng, a);
            Some(format!(
                "node {ni} `{}` ({}): attribute `{}` {what}",
                node.name, node.op_type, node.attribute[ai].name
            ))
        }
        "attribute added" => {
            if g.node.is_empty() {
                return None;
            }
            let ni = if rng.chance(2, 3) {
                *rng.pick(&compute_nodes(g))
            } else {
                rng.below(g.node.len())
            };
            let name = *rng.pick(ATTRIBUTES);
            let mut a = pb::AttributeProto {
                name: name.into(),
                r#type: 7,
                ints: vec![1, 1],
                ..Default::default()
            };
            let what = mutate_attribute(rng, &mut a);
            let node = &mut g.node[ni];
            node.attribute
                .retain(|x| x.name != name || rng.chance(1, 4));
            node.attribute.push(a);
            Some(format!(
                "node {ni} `{}` ({}): attribute `{name}` added, {what}",
                node.name, node.op_type
            ))
        }
        "attribute removed" => {
            let with = nodes_with_attributes(g);
            if with.is_empty() {
                return None;
            }
            let ni = *rng.pick(&with);
            let node = &mut g.node[ni];
            let ai = rng.below(node.attribute.len());
            let a = node.attribute.remove(ai);
            Some(format!(
                "node {ni} `{}` ({}): attribute `{}` removed",
                node.name, node.op_type, a.name
            ))
        }
        "op type" => {
            if g.node.is_empty() {
                return None;
            }
            let ni = if rng.chance(1, 2) {
                *rng.pick(&compute_nodes(g))
            } else {
                rng.below(g.node.len())
            };
            let op = *rng.pick(OPS);
            let node = &mut g.node[ni];
            let old = std::mem::replace(&mut node.op_type, op.into());
            let mut d = String::new();
            if rng.chance(1, 3) {
                node.domain = (*rng.pick(DOMAINS)).into();
                d = format!(" in domain {:?}", node.domain);
            }
            Some(format!("node {ni} `{}`: {old} → {op}{d}", node.name))
        }
        "domain" => {
            if g.node.is_empty() {
                return None;
            }
            let ni = rng.below(g.node.len());
            let d = *rng.pick(DOMAINS);
            g.node[ni].domain = d.into();
            Some(format!(
                "node {ni} `{}` ({}): domain {d:?}",
                g.node[ni].name, g.node[ni].op_type
            ))
        }
        "tensor name" => tensor_name(rng, g),
        "shape" => shape(rng, g),
        "initializer" => {
            if g.initializer.is_empty() {
                return None;
            }
            let i = rng.below(g.initializer.len());
            let what = mutate_tensor(rng, &mut g.initializer[i]);
            Some(format!("initializer `{}`: {what}", g.initializer[i].name))
        }
        "constant" => {
            let constants: Vec<usize> = (0..g.node.len())
                .filter(|&i| g.node[i].op_type == "Constant")
                .collect();
            if constants.is_empty() {
                return None;
            }
            let ni = *rng.pick(&constants);
            let node = &mut g.node[ni];
            let a = node.attribute.iter_mut().find(|a| a.t.is_some())?;
            let what = mutate_tensor(rng, a.t.as_mut()?);
            Some(format!("Constant node {ni} `{}`: {what}", node.name))
        }
        "opset" => {
            let v = *rng.pick(&[
                0i64,
                1,
                6,
                7,
                9,
                10,
                11,
                13,
                17,
                19,
                21,
                22,
                99,
                -1,
                i64::MAX,
            ]);
            match rng.below(4) {
                0 => {
                    proto.opset_import.clear();
                    Some("every opset import removed".into())
                }
                1 => {
                    let d = *rng.pick(DOMAINS);
                    proto.opset_import.push(pb::OperatorSetIdProto {
                        domain: d.into(),
                        version: v,
                    });
                    Some(format!("opset {d:?} {v} imported"))
                }
                _ => {
                    if proto.opset_import.is_empty() {
                        return None;
                    }
                    let i = rng.below(proto.opset_import.len());
                    proto.opset_import[i].version = v;
                    Some(format!(
                        "opset {:?} version → {v}",
                        proto.opset_import[i].domain
                    ))
                }
            }
        }
        "ir version" => {
            let v = *rng.pick(&[0i64, -1, 1, 3, 7, 8, 10, 11, 100, i64::MAX]);
            proto.ir_version = v;
            Some(format!("ir_version = {v}"))
        }
        "nodes" => {
            if g.node.is_empty() {
                return None;
            }
            let i = rng.below(g.node.len());
            match rng.below(4) {
                0 => {
                    let n = g.node.remove(i);
                    Some(format!("node {i} `{}` ({}) removed", n.name, n.op_type))
                }
                1 => {
                    let n = g.node[i].clone();
                    let at = rng.below(g.node.len() + 1);
                    g.node.insert(at, n);
                    Some(format!("node {i} duplicated at {at}"))
                }
                2 => {
                    let mut n = g.node[i].clone();
                    for o in &mut n.output {
                        o.push_str("_copy");
                    }
                    n.name.push_str("_copy");
                    g.node.push(n);
                    Some(format!("node {i} copied with renamed outputs"))
                }
                _ => {
                    let j = rng.below(g.node.len());
                    g.node.swap(i, j);
                    Some(format!("nodes {i} and {j} swapped"))
                }
            }
        }
        "graph io" => match rng.below(5) {
            0 if !g.input.is_empty() => {
                let i = rng.below(g.input.len());
                let v = g.input.remove(i);
                Some(format!("graph input `{}` removed", v.name))
            }
            1 if !g.initializer.is_empty() => {
                let i = rng.below(g.initializer.len());
                let t = g.initializer.remove(i);
                Some(format!("initializer `{}` removed", t.name))
            }
            2 if !g.initializer.is_empty() => {
                // An initializer turned into a graph input of its shape (a shape-only export).
                let i = rng.below(g.initializer.len());
                let t = g.initializer.remove(i);
                g.input.push(value_info(&t.name, t.data_type, &t.dims));
                Some(format!("initializer `{}` made a graph input", t.name))
            }
            3 if !g.input.is_empty() => {
                let i = rng.below(g.input.len());
                let v = g.input[i].clone();
                g.input.push(v);
                Some(format!("graph input {i} declared twice"))
            }
            _ if !g.output.is_empty() => {
                let i = rng.below(g.output.len());
                g.output[i].name = format!("{}_missing", g.output[i].name);
                Some(format!(
                    "graph output {i} renamed to a tensor nothing produces"
                ))
            }
            _ => None,
        },
        "conv geometry" => conv_geometry(rng, g),
        _ => None,
    }
}

fn value_info(name: &str, elem_type: i32, dims: &[i64]) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(TypeValue::TensorType(pb::type_proto::Tensor {
                elem_type,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| pb::tensor_shape_proto::Dimension {
                            denotation: String::new(),
                            value: Some(DimValue::DimValue(d)),
                        })
                        .collect(),
                }),
            })),
        }),
        ..Default::default()
    }
}

fn mutate_attribute(rng: &mut Rng, a: &mut pb::AttributeProto) -> String {
    match rng.below(9) {
        0 | 1 if !a.ints.is_empty() => {
            let k = rng.below(a.ints.len());
            let v = boundary(rng);
            a.ints[k] = v;
            format!("ints[{k}] = {v}")
        }
        2 => {
            a.ints.clear();
            a.r#type = 7;
            "ints emptied".into()
        }
        3 => {
            let v = boundary(rng);
            let n = rng.range(1, 8) as usize;
            a.ints.extend(std::iter::repeat_n(v, n));
            a.r#type = 7;
            format!("{n} × {v} appended to ints")
        }
        4 => {
            let v = boundary(rng);
            a.i = v;
            a.ints.clear();
            a.r#type = 2;
            format!("made INT {v}")
        }
        5 => {
            let f = *rng.pick(&[
                f32::NAN,
                f32::INFINITY,
                -f32::INFINITY,
                -1.0,
                0.0,
                1e38,
                f32::MIN_POSITIVE,
            ]);
            a.f = f;
            a.r#type = 1;
            format!("made FLOAT {f}")
        }
        6 => {
            let s = *rng.pick(&[
                "",
                "SAME_UPPER",
                "SAME_LOWER",
                "VALID",
                "NOTSET",
                "same_upper",
                "bogus",
                "ij,jk->ik",
                "i,j->ij",
                "bij,bjk->bik",
                "...ij,...jk->...ik",
                "ii->i",
                "ij,jk",
                "->",
                "abc,cd->abd",
                "ij,ij->ij",
                "\u{0}",
                "ü",
            ]);
            a.s = s.as_bytes().to_vec();
            a.r#type = 3;
            format!("made STRING {s:?}")
        }
        7 => {
            let t = *rng.pick(&[0i32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99, -1]);
            a.r#type = t;
            format!("type field = {t}")
        }
        _ => {
            let len = rng.range(0, 6) as usize;
            a.ints = (0..len).map(|_| boundary(rng)).collect();
            a.r#type = 7;
            format!("ints = {:?}", a.ints)
        }
    }
}

fn mutate_tensor(rng: &mut Rng, t: &mut pb::TensorProto) -> String {
    match rng.below(10) {
        0 | 1 => {
            if t.dims.is_empty() || rng.chance(1, 4) {
                let v = boundary(rng);
                t.dims.push(v);
                format!("dim {v} appended")
            } else {
                let k = rng.below(t.dims.len());
                let v = boundary(rng);
                t.dims[k] = v;
                format!("dims[{k}] = {v}")
            }
        }
        2 => {
            let popped = t.dims.pop();
            format!("last dim {popped:?} dropped")
        }
        3 => {
            let dt = *rng.pick(&[
                0i32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 21, 22, 23,
                24, 99, -1,
            ]);
            t.data_type = dt;
            format!("data_type = {dt}")
        }
        4 => {
            let n = t.raw_data.len();
            let k = if n == 0 { 0 } else { rng.below(n) };
            t.raw_data.truncate(k);
            format!("raw_data {n} → {k} bytes")
        }
        5 => {
            let extra = rng.range(1, 64) as usize;
            t.raw_data.extend((0..extra).map(|_| rng.next_u64() as u8));
            format!("{extra} bytes appended to raw_data")
        }
        6 => {
            // Shape tensors (Reshape, Slice, Pad, ...) hold int64 values.
            let v = boundary(rng);
            if !t.raw_data.is_empty() && t.data_type == 7 && t.raw_data.len() >= 8 {
                let k = rng.below(t.raw_data.len() / 8);
                t.raw_data[k * 8..k * 8 + 8].copy_from_slice(&v.to_le_bytes());
                format!("int64 value {k} of raw_data = {v}")
            } else if !t.int64_data.is_empty() {
                let k = rng.below(t.int64_data.len());
                t.int64_data[k] = v;
                format!("int64_data[{k}] = {v}")
            } else {
                t.int64_data.push(v);
                format!("int64_data += {v}")
            }
        }
        7 => {
            t.float_data.push(f32::NAN);
            t.int32_data.push(i32::MIN);
            "a NaN and an i32::MIN appended to the typed data".into()
        }
        8 => {
            t.data_location = Some(1);
            t.external_data = vec![
                pb::StringStringEntryProto {
                    key: "location".into(),
                    value: "missing.bin".into(),
                },
                pb::StringStringEntryProto {
                    key: "offset".into(),
                    value: "-1".into(),
                },
                pb::StringStringEntryProto {
                    key: "length".into(),
                    value: "18446744073709551615".into(),
                },
            ];
            t.raw_data.clear();
            "made external data in a missing file".into()
        }
        _ => {
            t.raw_data.clear();
            t.float_data.clear();
            t.int64_data.clear();
            t.int32_data.clear();
            "every data field emptied".into()
        }
    }
}

fn tensor_name(rng: &mut Rng, g: &mut pb::GraphProto) -> Option<String> {
    if g.node.is_empty() {
        return None;
    }
    let names = tensor_names(g);
    let ni = rng.below(g.node.len());
    let node_name = g.node[ni].name.clone();
    match rng.below(7) {
        0 if !g.node[ni].input.is_empty() => {
            let k = rng.below(g.node[ni].input.len());
            g.node[ni].input[k] = "fuzz_dangling".into();
            Some(format!("node {ni} `{node_name}`: input {k} dangling"))
        }
        1 if !g.node[ni].input.is_empty() => {
            let k = rng.below(g.node[ni].input.len());
            g.node[ni].input[k] = String::new();
            Some(format!(
                "node {ni} `{node_name}`: input {k} empty (optional, absent)"
            ))
        }
        2 if !names.is_empty() && !g.node[ni].input.is_empty() => {
            // Any other tensor: may be a later node's output (a cycle) or a shape mismatch.
            let k = rng.below(g.node[ni].input.len());
            let other = rng.pick(&names).clone();
            g.node[ni].input[k] = other.clone();
            Some(format!("node {ni} `{node_name}`: input {k} = `{other}`"))
        }
        3 if !g.node[ni].output.is_empty() && !names.is_empty() => {
            let k = rng.below(g.node[ni].output.len());
            let other = rng.pick(&names).clone();
            g.node[ni].output[k] = other.clone();
            Some(format!(
                "node {ni} `{node_name}`: output {k} = `{other}` (produced twice?)"
            ))
        }
        4 => {
            let extra = if names.is_empty() {
                String::new()
            } else {
                rng.pick(&names).clone()
            };
            let n = rng.range(1, 4) as usize;
            for _ in 0..n {
                g.node[ni].input.push(extra.clone());
            }
            Some(format!(
                "node {ni} `{node_name}`: {n} extra inputs `{extra}`"
            ))
        }
        5 if !g.node[ni].input.is_empty() => {
            let keep = rng.below(g.node[ni].input.len());
            g.node[ni].input.truncate(keep);
            Some(format!(
                "node {ni} `{node_name}`: inputs truncated to {keep}"
            ))
        }
        _ => {
            if g.node[ni].input.len() > 1 {
                g.node[ni].input.swap(0, 1);
                Some(format!("node {ni} `{node_name}`: inputs 0 and 1 swapped"))
            } else {
                g.node[ni].name = String::new();
                Some(format!("node {ni}: name removed"))
            }
        }
    }
}

fn shape(rng: &mut Rng, g: &mut pb::GraphProto) -> Option<String> {
    let which = rng.below(3);
    let list = match which {
        0 => &mut g.input,
        1 => &mut g.value_info,
        _ => &mut g.output,
    };
    if list.is_empty() {
        return None;
    }
    let i = rng.below(list.len());
    let vi = &mut list[i];
    let name = vi.name.clone();
    let place = ["input", "value_info", "output"][which];
    let ty = vi.r#type.get_or_insert_with(Default::default);
    if ty.value.is_none() || rng.chance(1, 12) {
        match rng.below(2) {
            0 => {
                vi.r#type = None;
                return Some(format!("{place} `{name}`: type removed"));
            }
            _ => {
                ty.value = Some(TypeValue::TensorType(pb::type_proto::Tensor {
                    elem_type: 1,
                    shape: None,
                }));
                return Some(format!("{place} `{name}`: shape removed"));
            }
        }
    }
    let Some(TypeValue::TensorType(t)) = ty.value.as_mut() else {
        return None;
    };
    if rng.chance(1, 6) {
        let e = *rng.pick(&[0i32, 1, 2, 3, 6, 7, 9, 10, 16, 21, 22, 23, 99]);
        t.elem_type = e;
        return Some(format!("{place} `{name}`: elem_type = {e}"));
    }
    let shape = t.shape.get_or_insert_with(Default::default);
    let dim = |v: Option<DimValue>| pb::tensor_shape_proto::Dimension {
        denotation: String::new(),
        value: v,
    };
    match rng.below(6) {
        0 => {
            shape.dim.push(dim(Some(DimValue::DimValue(1))));
            Some(format!("{place} `{name}`: a dim of 1 appended"))
        }
        1 if !shape.dim.is_empty() => {
            shape.dim.pop();
            Some(format!("{place} `{name}`: last dim dropped"))
        }
        2 if !shape.dim.is_empty() => {
            let k = rng.below(shape.dim.len());
            let p = *rng.pick(&["N", "batch", "", "?"]);
            shape.dim[k] = dim(Some(DimValue::DimParam(p.into())));
            Some(format!("{place} `{name}`: dim {k} symbolic {p:?}"))
        }
        3 if !shape.dim.is_empty() => {
            let k = rng.below(shape.dim.len());
            shape.dim[k] = dim(None);
            Some(format!("{place} `{name}`: dim {k} without value"))
        }
        _ if !shape.dim.is_empty() => {
            let k = rng.below(shape.dim.len());
            let v = boundary(rng);
            shape.dim[k] = dim(Some(DimValue::DimValue(v)));
            Some(format!("{place} `{name}`: dim {k} = {v}"))
        }
        _ => {
            shape.dim.clear();
            Some(format!("{place} `{name}`: rank 0"))
        }
    }
}

const GEOMETRY: &[i64] = &[
    2,
    3,
    1 << 10,
    1 << 16,
    1 << 20,
    1 << 28,
    1 << 29,
    (1 << 30) - 1,
    1 << 30,
    (1 << 31) - 1,
];

/// A convolution scaled towards the front end's limits: dilations, strides, pads or kernel
/// sizes of a Conv-like node set to large values, and its data input's spatial dims enlarged
/// to match, so that shape inference still succeeds.
fn conv_geometry(rng: &mut Rng, g: &mut pb::GraphProto) -> Option<String> {
    let convs: Vec<usize> = (0..g.node.len())
        .filter(|&i| g.node[i].op_type.contains("Conv"))
        .collect();
    if convs.is_empty() {
        return None;
    }
    // Mostly a convolution that reads a graph input, whose shape can be enlarged.
    let direct: Vec<usize> = convs
        .iter()
        .copied()
        .filter(|&i| {
            g.node[i]
                .input
                .first()
                .is_some_and(|d| g.input.iter().any(|vi| &vi.name == d))
        })
        .collect();
    let ni = if !direct.is_empty() && rng.chance(2, 3) {
        *rng.pick(&direct)
    } else {
        *rng.pick(&convs)
    };
    let v = *rng.pick(GEOMETRY);
    let attr = *rng.pick(&["dilations", "dilations", "strides", "pads"]);
    let n = if attr == "pads" { 4 } else { 2 };
    let node = &mut g.node[ni];
    node.attribute.retain(|a| a.name != attr);
    let mut ints = vec![if attr == "pads" { 0 } else { 1 }; n];
    let axes = if rng.chance(2, 3) {
        vec![0, 1]
    } else {
        vec![rng.below(2)]
    };
    for &a in &axes {
        ints[a] = v;
        if attr == "pads" && rng.chance(1, 2) {
            ints[a + 2] = v;
        }
    }
    node.attribute.push(pb::AttributeProto {
        name: attr.into(),
        r#type: 7,
        ints: ints.clone(),
        ..Default::default()
    });
    let mut notes = vec![format!(
        "node {ni} `{}` ({}): {attr} = {ints:?}",
        node.name, node.op_type
    )];
    // Enlarge the data input when it is a graph input with a declared shape.
    let data = node.input.first().cloned().unwrap_or_default();
    if attr != "pads"
        && rng.chance(3, 4)
        && let Some(vi) = g.input.iter_mut().find(|vi| vi.name == data)
        && let Some(TypeValue::TensorType(t)) = vi.r#type.as_mut().and_then(|t| t.value.as_mut())
        && let Some(s) = t.shape.as_mut()
        && s.dim.len() == 4
    {
        // Just large enough for the window, or well past it.
        let grow = *rng.pick(&[
            2 * v + 1,
            2 * v + 31,
            3 * v,
            6 * v + 1,
            1 << 20,
            1 << 30,
            (1 << 31) - 1,
        ]);
        for &a in &axes {
            s.dim[2 + a].value = Some(DimValue::DimValue(grow));
        }
        notes.push(format!("input `{data}` spatial dims {axes:?} = {grow}"));
    }
    Some(notes.join(", "))
}

fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) -> String {
    if bytes.is_empty() {
        bytes.push(0x08);
        return "an empty file made one byte".into();
    }
    match rng.below(5) {
        0 => {
            let n = rng.below(bytes.len());
            bytes.truncate(n);
            format!("truncated to {n} bytes")
        }
        1 => {
            let flips = rng.range(1, 8);
            for _ in 0..flips {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            format!("{flips} bits flipped")
        }
        2 => {
            let i = rng.below(bytes.len());
            let b = *rng.pick(&[0x00u8, 0xff, 0x7f, 0x80]);
            let n = rng.range(1, 16) as usize;
            for k in i..(i + n).min(bytes.len()) {
                bytes[k] = b;
            }
            format!("{n} bytes at {i} set to {b:#04x}")
        }
        3 => {
            let i = rng.below(bytes.len());
            let j = (i + rng.range(1, 256) as usize).min(bytes.len());
            let chunk = bytes[i..j].to_vec();
            let k = rng.below(bytes.len());
            bytes.splice(k..k, chunk);
            format!("bytes {i}..{j} copied to {k}")
        }
        _ => {
            // A length-delimited field claiming more bytes than there are.
            let i = rng.below(bytes.len());
            bytes.splice(i..i, [0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
            format!("an oversized length prefix inserted at {i}")
        }
    }
}

/// The path models are loaded as: its folder does not exist, so no external data is read.
pub const MODEL_PATH: &str = "/nonexistent/cimopt-fuzz/model.onnx";

/// A concrete shape for a data input the error says is symbolic or bad: its declared dims,
/// unknown ones 1.
fn shape_for(bytes: &[u8], input: &str) -> Option<Vec<u64>> {
    let proto = pb::ModelProto::decode(bytes).ok()?;
    let vi = proto.graph?.input.into_iter().find(|v| v.name == input)?;
    let TypeValue::TensorType(t) = vi.r#type?.value?;
    let dims: Vec<u64> = t
        .shape?
        .dim
        .iter()
        .map(|d| match d.value {
            Some(DimValue::DimValue(v)) if v > 0 => v as u64,
            _ => 1,
        })
        .collect();
    (!dims.is_empty()).then_some(dims)
}

/// `load_bytes` (again with `keep_going` and, for a symbolic input, with `input_shapes` when
/// it fails), then `cimopt inspect`'s tables and JSON, and each distinct layer mapped with the
/// ws mapper on the default target, priced and simulated.
pub fn exercise(bytes: &[u8]) -> Outcome {
    let path = Path::new(MODEL_PATH);
    let mut result = cimopt_onnx::load_bytes(path, bytes, &LoadOptions::default());
    if let Err(e) = &result {
        let input_shapes = match e {
            FrontendError::SymbolicInput { input, .. }
            | FrontendError::BadDeclaredDim { input, .. } => shape_for(bytes, input)
                .map(|s| vec![(input.clone(), s)])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let opts = LoadOptions {
            input_shapes,
            keep_going: true,
        };
        result = cimopt_onnx::load_bytes(path, bytes, &opts);
    }
    let model = match result {
        Ok(m) => m,
        Err(e) => return Outcome::Rejected(e.to_string()),
    };
    for l in &model.layers {
        let problems = l.workload.shape_errors();
        if !problems.is_empty() {
            return super::violated(
                "load_bytes returned a layer outside the IR's limits",
                format!("layer {} `{}`: {}", l.index, l.name, problems.join("; ")),
            );
        }
    }
    let _ = model.total_macs();
    let _ = cimopt_pipeline::inspect::table(&model);
    let _ = serde_json::to_string(&cimopt_pipeline::inspect::InspectReport::of(&model));
    let Ok(t) = cimopt_target::load("default", &[]) else {
        return Outcome::Accepted;
    };
    for l in model
        .layers
        .iter()
        .filter(|l| l.dedup_group == l.index)
        .take(6)
    {
        if let Err(o) = super::map_ws(&t.target, &l.workload) {
            return o;
        }
    }
    Outcome::Accepted
}
