//! Shape inference with tract, on a copy of the model tract can read.

use crate::ops::{self, Domain};
use crate::{FrontendError, display_name, panics};
use cimopt_ir::workload::MAX_EXTENT;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tract_onnx::pb;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::pb::type_proto::Value as TypeValue;

/// The type tract gets for an element type it cannot read, with the same number of elements
/// (the values do not matter to shape inference): INT4 → INT8, UINT4, the float8 types and
/// FLOAT4E2M1 → UINT8, BFLOAT16 → FLOAT16.
fn tract_type(elem_type: i32) -> Option<DataType> {
    use DataType::*;
    match DataType::try_from(elem_type).ok()? {
        Int4 => Some(Int8),
        Uint4 | Float8e4m3fn | Float8e4m3fnuz | Float8e5m2 | Float8e5m2fnuz | Float4e2m1 => {
            Some(Uint8)
        }
        Bfloat16 => Some(Float16),
        _ => None,
    }
}

fn tensor_type_mut(vi: &mut pb::ValueInfoProto) -> Option<&mut pb::type_proto::Tensor> {
    match vi.r#type.as_mut()?.value.as_mut()? {
        TypeValue::TensorType(t) => Some(t),
    }
}

fn value_info(name: &str, elem_type: i32, dims: Option<&[i64]>) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(TypeValue::TensorType(pb::type_proto::Tensor {
                elem_type,
                shape: dims.map(|dims| pb::TensorShapeProto {
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
        doc_string: String::new(),
    }
}

fn attr<'n>(node: &'n pb::NodeProto, name: &str) -> Option<&'n pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_int(node: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn ints_attr(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn string_attr(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// The operator attributes of `node` named in `keep`.
fn keep_attrs(node: &pb::NodeProto, keep: &[&str]) -> Vec<pb::AttributeProto> {
    node.attribute
        .iter()
        .filter(|a| keep.contains(&a.name.as_str()))
        .cloned()
        .collect()
}

const CONV_ATTRS: &[&str] = &[
    "auto_pad",
    "dilations",
    "group",
    "kernel_shape",
    "pads",
    "strides",
];

/// Writes the standard nodes that stand for one node for tract.
struct Rewriter<'a> {
    /// Every tensor name in the model, so that new ones are unique.
    taken: HashSet<String>,
    nodes: Vec<pb::NodeProto>,
    new_inputs: Vec<pb::ValueInfoProto>,
    prefix: &'a str,
    counter: usize,
}

impl Rewriter<'_> {
    fn fresh(&mut self) -> String {
        loop {
            self.counter += 1;
            let name = format!("{}{}", self.prefix, self.counter);
            if self.taken.insert(name.clone()) {
                return name;
            }
        }
    }

    /// Adds a standard node; `output` `None` makes a fresh tensor, which it returns.
    fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: Option<&str>,
        attribute: Vec<pb::AttributeProto>,
    ) -> String {
        let out = match output {
            Some(o) => o.to_string(),
            None => self.fresh(),
        };
        let name = self.fresh();
        self.nodes.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name,
            op_type: op.to_string(),
            attribute,
            ..Default::default()
        });
        out
    }

    fn cast_float(&mut self, x: &str) -> String {
        self.node(
            "Cast",
            &[x],
            None,
            vec![int_attr("to", DataType::Float as i64)],
        )
    }

    /// The standard nodes standing for `node` (same output names, shapes and element types),
    /// or `false` when it stays as it is.
    fn rewrite(&mut self, node: &pb::NodeProto) -> bool {
        let input = |slot: usize| {
            node.input
                .get(slot)
                .map(|s| s.as_str())
                .filter(|s| !s.is_empty())
        };
        let Some(y) = node.output.first().filter(|o| !o.is_empty()).cloned() else {
            return false;
        };
        let y = y.as_str();
        let op = node.op_type.as_str();
        match (ops::domain(node), op) {
            (Domain::Standard, "DequantizeLinear") if attr_int(node, "block_size", 0) != 0 => {
                // Blocked quantization (tract refuses it): same shape, the scale's type.
                let (Some(x), Some(s)) = (input(0), input(1)) else {
                    return false;
                };
                self.node("CastLike", &[x, s], Some(y), vec![]);
            }
            (Domain::Standard, "QuantizeLinear") if attr_int(node, "block_size", 0) != 0 => {
                let Some(x) = input(0) else { return false };
                match input(2) {
                    Some(zp) => self.node("CastLike", &[x, zp], Some(y), vec![]),
                    None => {
                        let to = match attr_int(node, "output_dtype", 0) {
                            0 => DataType::Uint8 as i64,
                            t => tract_type(t as i32).map_or(t, |t| t as i64),
                        };
                        self.node("Cast", &[x], Some(y), vec![int_attr("to", to)])
                    }
                };
            }
            (Domain::Standard, "Cast") => {
                // A cast to a type tract cannot hold: to its stand-in.
                let to = attr_int(node, "to", 0);
                let Some(t) = tract_type(to as i32) else {
                    return false;
                };
                let Some(x) = input(0) else { return false };
                self.node("Cast", &[x], Some(y), vec![int_attr("to", t as i64)]);
            }
            (Domain::Microsoft, "MatMulNBits" | "MatMulBnb4") => {
                // A × (a float K × N matrix of A's type).
                let (k, n) = (attr_int(node, "K", 0), attr_int(node, "N", 0));
                let Some(a) = input(0) else { return false };
                if !(1..=MAX_EXTENT as i64).contains(&k) || !(1..=MAX_EXTENT as i64).contains(&n) {
                    return false;
                }
                let w = self.fresh();
                self.new_inputs
                    .push(value_info(&w, DataType::Float as i32, Some(&[k, n])));
                let w = self.node("CastLike", &[&w, a], None, vec![]);
                self.node("MatMul", &[a, &w], Some(y), vec![]);
            }
            (Domain::Microsoft, "QGemm") => {
                let (Some(a), Some(b)) = (input(0), input(3)) else {
                    return false;
                };
                let (a, b) = (self.cast_float(a), self.cast_float(b));
                let attrs = keep_attrs(node, &["transA", "transB"]);
                match (input(7), input(8)) {
                    (_, Some(zp)) => {
                        let g = self.node("Gemm", &[&a, &b], None, attrs);
                        self.node("CastLike", &[&g, zp], Some(y), vec![])
                    }
                    (Some(_), None) => {
                        let g = self.node("Gemm", &[&a, &b], None, attrs);
                        let to = int_attr("to", DataType::Uint8 as i64);
                        self.node("Cast", &[&g], Some(y), vec![to])
                    }
                    (None, None) => self.node("Gemm", &[&a, &b], Some(y), attrs),
                };
            }
            (Domain::Microsoft, "QLinearAdd" | "QLinearMul") => {
                let (Some(a), Some(b)) = (input(0), input(3)) else {
                    return false;
                };
                let like = input(7).unwrap_or(a);
                let (fa, fb) = (self.cast_float(a), self.cast_float(b));
                let sum = self.node(&op[7..], &[&fa, &fb], None, vec![]);
                self.node("CastLike", &[&sum, like], Some(y), vec![]);
            }
            (Domain::Microsoft, "QLinearGlobalAveragePool" | "QLinearAveragePool") => {
                let Some(x) = input(0) else { return false };
                let like = input(4).unwrap_or(x);
                let channels_last = attr_int(node, "channels_last", 0) != 0;
                let mut t = self.cast_float(x);
                if channels_last {
                    // (4-D NHWC assumed.)
                    t = self.node(
                        "Transpose",
                        &[&t],
                        None,
                        vec![ints_attr("perm", &[0, 3, 1, 2])],
                    );
                }
                t = if op == "QLinearGlobalAveragePool" {
                    self.node("GlobalAveragePool", &[&t], None, vec![])
                } else {
                    let attrs = keep_attrs(
                        node,
                        &[
                            "auto_pad",
                            "ceil_mode",
                            "count_include_pad",
                            "kernel_shape",
                            "pads",
                            "strides",
                        ],
                    );
                    self.node("AveragePool", &[&t], None, attrs)
                };
                if channels_last {
                    t = self.node(
                        "Transpose",
                        &[&t],
                        None,
                        vec![ints_attr("perm", &[0, 2, 3, 1])],
                    );
                }
                self.node("CastLike", &[&t, like], Some(y), vec![]);
            }
            (Domain::Microsoft, "QLinearConcat") => {
                let xs: Vec<&str> = (2..node.input.len()).step_by(3).filter_map(input).collect();
                if xs.is_empty() {
                    return false;
                }
                self.node("Concat", &xs, Some(y), keep_attrs(node, &["axis"]));
            }
            (Domain::Microsoft, "QLinearSigmoid" | "QLinearLeakyRelu" | "QLinearSoftmax") => {
                let Some(x) = input(0) else { return false };
                match input(4) {
                    Some(zp) => self.node("CastLike", &[x, zp], Some(y), vec![]),
                    None => self.node("Identity", &[x], Some(y), vec![]),
                };
            }
            (Domain::Microsoft, "FusedConv") => {
                let inputs: Vec<&str> = (0..3.min(node.input.len())).filter_map(input).collect();
                self.node("Conv", &inputs, Some(y), keep_attrs(node, CONV_ATTRS));
            }
            (Domain::Microsoft, "FusedGemm") => {
                let inputs: Vec<&str> = (0..3.min(node.input.len())).filter_map(input).collect();
                let attrs = keep_attrs(node, &["alpha", "beta", "transA", "transB"]);
                self.node("Gemm", &inputs, Some(y), attrs);
            }
            (Domain::Microsoft, "FusedMatMul" | "TransposeMatMul") => {
                let (Some(a), Some(b)) = (input(0), input(1)) else {
                    return false;
                };
                if attr_int(node, "transBatchA", 0) != 0 || attr_int(node, "transBatchB", 0) != 0 {
                    return false;
                }
                let (ta, tb) = (
                    attr_int(node, "transA", 0) != 0,
                    attr_int(node, "transB", 0) != 0,
                );
                if !ta && !tb {
                    self.node("MatMul", &[a, b], Some(y), vec![]);
                } else {
                    let eq = format!(
                        "...{},...{}->...ik",
                        if ta { "ji" } else { "ij" },
                        if tb { "kj" } else { "jk" }
                    );
                    self.node(
                        "Einsum",
                        &[a, b],
                        Some(y),
                        vec![string_attr("equation", &eq)],
                    );
                }
            }
            (Domain::Microsoft, "MatMulIntegerToFloat") => {
                let (Some(a), Some(b), Some(s)) = (input(0), input(1), input(2)) else {
                    return false;
                };
                let (fa, fb) = (self.cast_float(a), self.cast_float(b));
                let m = self.node("MatMul", &[&fa, &fb], None, vec![]);
                self.node("CastLike", &[&m, s], Some(y), vec![]);
            }
            (Domain::Microsoft, "DynamicQuantizeMatMul") => {
                let (Some(a), Some(b)) = (input(0), input(1)) else {
                    return false;
                };
                let fb = self.node("CastLike", &[b, a], None, vec![]);
                self.node("MatMul", &[a, &fb], Some(y), vec![]);
            }
            (Domain::Microsoft, "GemmFastGelu") => {
                let (Some(a), Some(b)) = (input(0), input(1)) else {
                    return false;
                };
                self.node("MatMul", &[a, b], Some(y), vec![]);
            }
            _ => return false,
        }
        true
    }
}

/// The model as tract gets it: the original unless something in it needs rewriting (then a
/// copy). Rewrites keep every tensor name, shape and (where tract can hold it) element type:
///
/// - a graph input's declared dimension ≤ 0 becomes unknown (tract reads 0 as a real extent
///   and may divide by it), and a graph input without a type gets a float type of unknown
///   shape (tract refuses the file otherwise); such inputs are refused later, or not used,
///   with a message of their own;
/// - element types tract cannot read (INT4, UINT4, float8, FLOAT4E2M1, BFLOAT16) become a
///   type of the same element count ([`tract_type`]) in graph inputs, outputs, `value_info`
///   and casts, and initializers and Constant nodes of those types become graph inputs of
///   that type and shape (their values never matter to shapes);
/// - ONNX Runtime's contrib operators that tract does not know or cannot always build
///   (`MatMulNBits`, `MatMulBnb4`, `QGemm`, `QLinearAdd`, `QLinearMul`,
///   `QLinearGlobalAveragePool`, `QLinearAveragePool`, `QLinearConcat`, `QLinearSigmoid`,
///   `QLinearLeakyRelu`, `QLinearSoftmax`, `FusedConv`, `FusedGemm`, `FusedMatMul`,
///   `MatMulIntegerToFloat`, `DynamicQuantizeMatMul`, `GemmFastGelu`), and blocked
///   `DequantizeLinear` / `QuantizeLinear`, become standard nodes computing a tensor of the
///   same shape and type (a MatMul by a new `K × N` graph input for MatMulNBits, a Cast +
///   Gemm + CastLike for QGemm, ...), writing the same output name.
///
/// The lowering itself always reads the original model: only shapes and element types come
/// from this copy.
pub(crate) fn for_tract(proto: &pb::ModelProto) -> Cow<'_, pb::ModelProto> {
    let bad_dim = |d: &pb::tensor_shape_proto::Dimension| matches!(d.value, Some(DimValue::DimValue(v)) if v <= 0);
    fn tensor_type(vi: &pb::ValueInfoProto) -> Option<&pb::type_proto::Tensor> {
        match vi.r#type.as_ref()?.value.as_ref()? {
            TypeValue::TensorType(t) => Some(t),
        }
    }
    let Some(graph) = proto.graph.as_ref() else {
        return Cow::Borrowed(proto);
    };
    let untyped = |vi: &pb::ValueInfoProto| vi.r#type.as_ref().is_none_or(|t| t.value.is_none());
    let odd_type = |vi: &pb::ValueInfoProto| {
        tensor_type(vi).is_some_and(|t| tract_type(t.elem_type).is_some())
    };
    fn constant_tensor(n: &pb::NodeProto) -> Option<&pb::TensorProto> {
        if n.op_type != "Constant" || ops::domain(n) != Domain::Standard {
            return None;
        }
        attr(n, "value").and_then(|a| a.t.as_ref())
    }
    let mut probe = Rewriter {
        taken: HashSet::new(),
        nodes: Vec::new(),
        new_inputs: Vec::new(),
        prefix: "",
        counter: 0,
    };
    let needs_copy = graph.input.iter().any(|vi| {
        untyped(vi)
            || odd_type(vi)
            || tensor_type(vi)
                .and_then(|t| t.shape.as_ref())
                .is_some_and(|s| s.dim.iter().any(bad_dim))
    }) || graph.output.iter().chain(&graph.value_info).any(odd_type)
        || graph
            .initializer
            .iter()
            .any(|t| tract_type(t.data_type).is_some())
        || graph.node.iter().any(|n| {
            constant_tensor(n).is_some_and(|t| tract_type(t.data_type).is_some())
                || probe.rewrite(n)
        });
    if !needs_copy {
        return Cow::Borrowed(proto);
    }

    let mut copy = proto.clone();
    let graph = copy.graph.as_mut().expect("checked above");
    for vi in &mut graph.input {
        if untyped(vi) {
            *vi = value_info(&vi.name, DataType::Float as i32, None);
        }
        if let Some(t) = tensor_type_mut(vi)
            && let Some(shape) = t.shape.as_mut()
        {
            for d in shape.dim.iter_mut().filter(|d| bad_dim(d)) {
                d.value = Some(DimValue::DimParam("?".into()));
            }
        }
    }
    for vi in graph
        .input
        .iter_mut()
        .chain(graph.output.iter_mut())
        .chain(graph.value_info.iter_mut())
    {
        if let Some(t) = tensor_type_mut(vi)
            && let Some(sub) = tract_type(t.elem_type)
        {
            t.elem_type = sub as i32;
        }
    }
    // Initializers tract cannot read become graph inputs of a type it can.
    let mut moved = Vec::new();
    graph.initializer.retain(|t| match tract_type(t.data_type) {
        Some(sub) => {
            moved.push(value_info(&t.name, sub as i32, Some(&t.dims)));
            false
        }
        None => true,
    });
    for vi in moved {
        match graph.input.iter_mut().find(|i| i.name == vi.name) {
            Some(existing) => *existing = vi,
            None => graph.input.push(vi),
        }
    }
    let mut taken: HashSet<String> = graph
        .input
        .iter()
        .map(|i| i.name.clone())
        .chain(graph.initializer.iter().map(|t| t.name.clone()))
        .collect();
    for n in &graph.node {
        taken.extend(n.output.iter().cloned());
        taken.insert(n.name.clone());
    }
    let mut rw = Rewriter {
        taken,
        nodes: Vec::with_capacity(graph.node.len()),
        new_inputs: Vec::new(),
        prefix: "cimopt.tract_view.",
        counter: 0,
    };
    for node in std::mem::take(&mut graph.node) {
        if let Some(t) = constant_tensor(&node)
            && let Some(sub) = tract_type(t.data_type)
            && let Some(out) = node.output.first()
        {
            rw.new_inputs
                .push(value_info(out, sub as i32, Some(&t.dims)));
            continue;
        }
        if !rw.rewrite(&node) {
            rw.nodes.push(node);
        }
    }
    graph.node = rw.nodes;
    graph.input.extend(rw.new_inputs);
    Cow::Owned(copy)
}

/// Concrete tensor shapes and element types by name, from tract's inference.
pub(crate) struct Shapes {
    map: HashMap<String, Vec<u64>>,
    /// ONNX element types tract inferred (for tensors the model does not declare).
    pub(crate) types: HashMap<String, i32>,
    /// The first error tract's analysis reported, for messages about missing shapes.
    pub(crate) analysis_error: Option<String>,
}

impl Shapes {
    pub(crate) fn get(&self, name: &str) -> Option<&Vec<u64>> {
        self.map.get(name)
    }
}

/// The ONNX element type of a tract datum type.
fn onnx_type(dt: tract_onnx::prelude::DatumType) -> Option<i32> {
    use tract_onnx::prelude::DatumType as T;
    Some(
        (match dt {
            T::Bool => DataType::Bool,
            T::U8 | T::QU8(_) => DataType::Uint8,
            T::U16 => DataType::Uint16,
            T::U32 => DataType::Uint32,
            T::U64 => DataType::Uint64,
            T::I8 | T::QI8(_) => DataType::Int8,
            T::I16 => DataType::Int16,
            T::I32 | T::QI32(_) => DataType::Int32,
            T::I64 | T::TDim => DataType::Int64,
            T::F16 => DataType::Float16,
            T::F32 => DataType::Float,
            T::F64 => DataType::Double,
            _ => return None,
        }) as i32,
    )
}

pub(crate) fn infer_shapes(path: &Path, proto: &pb::ModelProto) -> Result<Shapes, FrontendError> {
    use tract_onnx::prelude::*;
    let dir = path
        .parent()
        .and_then(|p| p.to_str())
        .map(|s| s.to_string());
    let run = || -> Result<Shapes, String> {
        let framework = onnx();
        let parsed = framework
            .parse(proto, dir.as_deref())
            .map_err(|e| display_name(&format!("{e:#}")))?;
        let mut model = parsed.model;
        let analysis_error = match model.analyse(false) {
            Ok(_) => None,
            Err(e) => {
                let msg = display_name(&format!("{e:#}"));
                let _ = model.analyse(true);
                Some(msg)
            }
        };
        let mut map = HashMap::new();
        let mut types = HashMap::new();
        for (name, outlet) in &parsed.outlets_by_name {
            let Ok(fact) = model.outlet_fact(*outlet) else {
                continue;
            };
            if let Ok(Some(dims)) = fact.shape.as_concrete_finite() {
                map.insert(name.clone(), dims.iter().map(|&d| d as u64).collect());
            }
            if let Some(t) = Fact::datum_type(fact).and_then(onnx_type) {
                types.insert(name.clone(), t);
            }
        }
        Ok(Shapes {
            map,
            types,
            analysis_error,
        })
    };
    let result = {
        let _quiet = panics::Quiet::new();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
    };
    match result {
        Ok(Ok(shapes)) => Ok(shapes),
        Ok(Err(reason)) => Err(FrontendError::InvalidModel {
            path: path.to_path_buf(),
            reason: format!("tract cannot parse it: {reason}"),
        }),
        Err(payload) => Err(FrontendError::InvalidModel {
            path: path.to_path_buf(),
            reason: match panics::message(payload.as_ref()) {
                Some(m) => format!(
                    "tract panicked while inferring its shapes ({})",
                    display_name(m)
                ),
                None => "tract panicked while inferring its shapes".into(),
            },
        }),
    }
}
