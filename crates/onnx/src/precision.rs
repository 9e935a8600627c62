//! The bit widths a model gives each layer's operands (the crate docs, "Precisions").

use crate::Shapes;
use crate::ops::{self, Domain, Kind};
use cimopt_ir::Bits;
use std::collections::HashMap;
use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::type_proto::Value as TypeValue;

/// The ONNX element type of every tensor whose type is known: declared in the model
/// (initializers, graph inputs and outputs, `value_info`, Constant nodes), else inferred by
/// tract.
pub(crate) struct Types<'a> {
    declared: HashMap<&'a str, i32>,
    inferred: &'a HashMap<String, i32>,
}

impl<'a> Types<'a> {
    pub(crate) fn new(graph: &'a pb::GraphProto, shapes: &'a Shapes) -> Self {
        let mut declared = HashMap::new();
        let mut value_info = |vi: &'a pb::ValueInfoProto| {
            if let Some(TypeValue::TensorType(t)) =
                vi.r#type.as_ref().and_then(|t| t.value.as_ref())
                && t.elem_type != DataType::Undefined as i32
            {
                declared.insert(vi.name.as_str(), t.elem_type);
            }
        };
        graph
            .input
            .iter()
            .chain(&graph.output)
            .chain(&graph.value_info)
            .for_each(&mut value_info);
        for t in &graph.initializer {
            declared.insert(t.name.as_str(), t.data_type);
        }
        for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
            if let (Some(out), Some(t)) = (
                node.output.first(),
                node.attribute
                    .iter()
                    .find(|a| a.name == "value")
                    .and_then(|a| a.t.as_ref()),
            ) {
                declared.insert(out.as_str(), t.data_type);
            }
        }
        Types {
            declared,
            inferred: &shapes.types,
        }
    }

    fn elem_type(&self, tensor: &str) -> Option<i32> {
        self.declared
            .get(tensor)
            .copied()
            .or_else(|| self.inferred.get(tensor).copied())
    }

    /// The bit width of `tensor`'s element type (see [`bits_of`]).
    fn bits(&self, tensor: &str) -> Option<u32> {
        bits_of(self.elem_type(tensor)?)
    }
}

/// Bits per element of an ONNX element type, `None` for float types (and non-numbers).
pub(crate) fn bits_of(elem_type: i32) -> Option<u32> {
    use DataType::*;
    Some(match DataType::try_from(elem_type).ok()? {
        Int4 | Uint4 | Float4e2m1 => 4,
        Int8 | Uint8 | Float8e4m3fn | Float8e4m3fnuz | Float8e5m2 | Float8e5m2fnuz => 8,
        Int16 | Uint16 => 16,
        Int32 | Uint32 => 32,
        Int64 | Uint64 => 64,
        _ => return None,
    })
}

/// Producers and consumers of every tensor, for following QDQ chains.
pub(crate) struct Dataflow<'a> {
    nodes: &'a [pb::NodeProto],
    producer: HashMap<&'a str, usize>,
    consumers: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Dataflow<'a> {
    pub(crate) fn new(graph: &'a pb::GraphProto) -> Self {
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in graph.node.iter().enumerate() {
            for o in n.output.iter().filter(|o| !o.is_empty()) {
                producer.insert(o.as_str(), i);
            }
            for t in n.input.iter().filter(|t| !t.is_empty()) {
                consumers.entry(t.as_str()).or_default().push(i);
            }
        }
        Dataflow {
            nodes: &graph.node,
            producer,
            consumers,
        }
    }
}

/// Nodes that only move data (a QDQ chain passes through them).
fn layout_only(node: &pb::NodeProto) -> bool {
    ops::domain(node) == Domain::Standard
        && matches!(
            node.op_type.as_str(),
            "Identity" | "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Transpose"
        )
}

fn is_op(node: &pb::NodeProto, op: &str) -> bool {
    node.op_type == op && matches!(ops::domain(node), Domain::Standard | Domain::Microsoft)
}

fn input(node: &pb::NodeProto, slot: usize) -> Option<&str> {
    node.input
        .get(slot)
        .map(|s| s.as_str())
        .filter(|s| !s.is_empty())
}

/// The bits of the first of `slots` whose input is given and of known type.
fn first_known(types: &Types, node: &pb::NodeProto, slots: &[usize]) -> Option<u32> {
    slots
        .iter()
        .find_map(|&s| input(node, s).and_then(|t| types.bits(t)))
}

/// The bits of the DequantizeLinear that produces `tensor` (through layout-only nodes).
fn dequantized(types: &Types, flow: &Dataflow, tensor: &str) -> Option<u32> {
    let mut t = tensor;
    for _ in 0..16 {
        let node = &flow.nodes[*flow.producer.get(t)?];
        if is_op(node, "DequantizeLinear") {
            return first_known(types, node, &[2, 0]);
        }
        if !layout_only(node) {
            return None;
        }
        t = input(node, 0)?;
    }
    None
}

/// The bits of a QuantizeLinear that reads `tensor` (through fused activations and
/// layout-only nodes), breadth first.
fn quantized(types: &Types, flow: &Dataflow, tensor: &str) -> Option<u32> {
    let mut frontier = vec![tensor];
    for _ in 0..8 {
        let mut next = Vec::new();
        for t in frontier {
            for &c in flow.consumers.get(t).into_iter().flatten() {
                let node = &flow.nodes[c];
                if input(node, 0) != Some(t) {
                    continue;
                }
                if is_op(node, "QuantizeLinear") {
                    if let Some(zp) = input(node, 2) {
                        return types.bits(zp);
                    }
                    let dtype = node
                        .attribute
                        .iter()
                        .find(|a| a.name == "output_dtype" && a.i != 0)
                        .map(|a| a.i as i32);
                    return dtype.and_then(bits_of).or(Some(8));
                }
                let activation = ops::domain(node) == Domain::Standard
                    && matches!(node.op_type.as_str(), "Relu" | "Clip");
                if activation || layout_only(node) {
                    next.extend(
                        node.output
                            .iter()
                            .filter(|o| !o.is_empty())
                            .map(|o| o.as_str()),
                    );
                }
            }
        }
        if next.is_empty() {
            return None;
        }
        frontier = next;
    }
    None
}

/// The bit widths of the layer lowered from `node` (the crate docs, "Precisions").
pub(crate) fn of(node: &pb::NodeProto, kind: Kind, types: &Types, flow: &Dataflow) -> Bits {
    let op = node.op_type.as_str();
    let (data, weight) = match kind {
        Kind::Conv { x, w, .. } => (x, w),
        Kind::Gemm { a, b, .. } | Kind::MatMul { a, b, .. } => (a, b),
        Kind::MatMulNBits { .. } | Kind::Einsum => (0, 1),
    };
    let qdq_in = |slot: usize| input(node, slot).and_then(|t| dequantized(types, flow, t));
    let qdq_out = || {
        node.output
            .first()
            .filter(|o| !o.is_empty())
            .and_then(|o| quantized(types, flow, o))
    };
    let (input_bits, weight_bits, output_bits) = match (ops::domain(node), op) {
        (Domain::Standard, "QLinearConv" | "QLinearMatMul") => (
            first_known(types, node, &[2, 0]),
            first_known(types, node, &[3, 5]),
            input(node, 7).map(|zp| types.bits(zp)).unwrap_or(Some(8)),
        ),
        (Domain::Microsoft, "QGemm") => (
            first_known(types, node, &[2, 0]),
            first_known(types, node, &[3, 5]),
            match (input(node, 7), input(node, 8)) {
                (_, Some(zp)) => types.bits(zp),
                (Some(_), None) => Some(8),
                (None, None) => None,
            },
        ),
        (Domain::Standard, "ConvInteger" | "MatMulInteger") => (
            first_known(types, node, &[2, 0]),
            first_known(types, node, &[3, 1]),
            node.output.first().and_then(|o| types.bits(o)).or(Some(32)),
        ),
        (Domain::Microsoft, "MatMulIntegerToFloat") => (
            first_known(types, node, &[4, 0]),
            first_known(types, node, &[5, 1]),
            qdq_out(),
        ),
        (Domain::Microsoft, "DynamicQuantizeMatMul") => {
            (Some(8), first_known(types, node, &[3, 1]), qdq_out())
        }
        _ => {
            let weight_bits = match kind {
                Kind::MatMulNBits {
                    fixed_bits: Some(b),
                } => Some(b),
                Kind::MatMulNBits { fixed_bits: None } => Some(
                    node.attribute
                        .iter()
                        .find(|a| a.name == "bits")
                        .map_or(4, |a| a.i as u32),
                ),
                _ => qdq_in(weight),
            };
            (qdq_in(data), weight_bits, qdq_out())
        }
    };
    Bits {
        input: input_bits.map(u64::from),
        weight: weight_bits.map(u64::from),
        output: output_bits.map(u64::from),
    }
}
