//! ONNX front end: lowers every convolution and matrix product of an ONNX model to a
//! [`cimopt_ir::Layer`] (domain §2) and lists every other node as an [`OtherOp`].
//!
//! Node attributes come from the ONNX protobuf; tensor shapes come from tract's shape
//! inference, so a model whose weights are initializers and the same model whose weights are
//! shape-only graph inputs give identical layers.
//!
//! # Compute nodes
//!
//! Lowered to layers: ONNX `Conv`, `Gemm`, `MatMul`, the integer forms `QLinearConv`,
//! `ConvInteger`, `QLinearMatMul`, `MatMulInteger`, a two-operand `Einsum` that is a matrix
//! product, and ONNX Runtime's (`com.microsoft`) `QGemm`, `FusedConv`, `FusedGemm`,
//! `FusedMatMul`, `MatMulIntegerToFloat`, `DynamicQuantizeMatMul`, `GemmFastGelu`,
//! `MatMulNBits` and `MatMulBnb4`. A quantized model lowers to the same workloads as its float
//! export: QLinearConv / ConvInteger / FusedConv are Convs, QGemm / FusedGemm Gemms, the
//! others MatMuls; `MatMulNBits(A[.., K], B)` is a MatMul by a constant `K × N` weight, every
//! batch dim of A folded into `P`. Quantize / dequantize nodes and ONNX Runtime's `QLinearAdd`,
//! `QLinearMul`, `QLinearGlobalAveragePool`, ... are other ops. Each layer's workload carries
//! the bit widths the model gives its operands ([`Workload::bits`](cimopt_ir::Workload::bits),
//! see "Precisions" below); identical workloads at different widths are different dedup
//! groups.
//!
//! No node that computes a convolution or a matrix product becomes a non-CIM op: a compute
//! operator the front end does not lower (ConvTranspose, DeformConv, RNN / GRU / LSTM, fused
//! attention, ONNX Runtime's channels-last and ordered variants) and an operator it does not
//! know whose name says convolution, matrix product or attention (`com.example.MyMatMul`, a
//! `Conv` of a custom domain) are refused with [`FrontendError::Unsupported`] naming the node
//! and the operator, and so is a compute node whose lowering fails; with
//! [`LoadOptions::keep_going`] they are listed in [`Model::skipped`] instead, with their MACs
//! when their shapes tell.
//!
//! tract does not read every model (INT4 tensors, contrib operators, blocked quantization):
//! it infers shapes on a rewritten copy that keeps every tensor's name, shape and element
//! count (see `shapes::for_tract`), and tract's panics are caught, silently, as
//! [`FrontendError::InvalidModel`]. Sizes are checked before tract sees the model
//! ([`MAX_TENSOR_ELEMENTS`], convolution and pooling attributes) and every workload against
//! the IR's limits ([`Workload::shape_errors`](cimopt_ir::Workload::shape_errors)), so no
//! arithmetic on a hostile model overflows.
//!
//! # Precisions
//!
//! The bit widths a model gives one layer's operands (`None`: not given, a float operand,
//! which runs at the target's precision).
//!
//! Derivation, by operator:
//!
//! - `QLinearConv`, `QLinearMatMul`, `com.microsoft` `QGemm`: input from `x_zero_point`'s
//!   type (`x`'s if absent), weight from `w`'s type (`w_zero_point`'s when `w`'s is not
//!   known), output from `y_zero_point`'s type (uint8, 8 bits, when only `y_scale` is given;
//!   QGemm without `y_scale` has a float output: `None`).
//! - `ConvInteger`, `MatMulInteger`: input from the zero point's type (the tensor's if
//!   absent), weight likewise, output 32 (the int32 accumulator they return).
//! - `com.microsoft` `MatMulIntegerToFloat`: input and weight as for MatMulInteger, float
//!   output; `DynamicQuantizeMatMul`: input 8 (quantized to uint8 at run time inside the
//!   operator), weight from B's zero point (B's type if absent), float output.
//! - `com.microsoft` `MatMulNBits`: weight from attribute `bits` (default 4), `MatMulBnb4`: 4.
//! - Every float operator (Conv, Gemm, MatMul, FusedConv, FusedGemm, FusedMatMul, Einsum),
//!   and the float operands of the ones above (QDQ): an operand produced by a
//!   `DequantizeLinear` — directly or through Identity, Reshape, Flatten, Squeeze, Unsqueeze
//!   or Transpose — takes that node's zero point's type (its input's type without one); the
//!   output takes the type of the zero point of a `QuantizeLinear` reading it — directly or
//!   through Relu, Clip or the same layout nodes — (its `output_dtype`, else uint8, without
//!   one).
//!
//! Types map to bits as int8/uint8 → 8, int4/uint4 → 4, int16/uint16 → 16, int32/uint32 →
//! 32, int64/uint64 → 64, the float8 types → 8, float4e2m1 → 4; float, float16, bfloat16 and
//! double → `None`. Types come from the model's declarations (initializers, graph inputs and
//! outputs, `value_info`, Constant nodes) and otherwise from tract's type inference.
//!
//! # Weights that are graph inputs
//!
//! Shape-only exports list every weight as a graph input without data. A graph input (one
//! without an initializer of the same name) is a **data input** when data can flow from it,
//! through any chain of nodes, into the data operand of a compute node (input 0 of a Conv,
//! input A of a Gemm or MatMul) without passing a *parameter slot*: the weight slots of
//! compute nodes (Conv kernel and bias, Gemm B and C, MatMul B), the scale/bias/statistics
//! of normalisations, PRelu's slope, Clip's bounds, a Gather's table, the shape/axes/pads
//! operands of shape ops, the scales and zero points of quantization nodes, and an operand of
//! an element-wise op (Add, Mul, ...) that broadcasts, i.e. has fewer elements than the result
//! (a bias, a scale). The operand slots of the integer and contrib compute operators follow
//! their float counterparts (QLinearConv's `w` is a Conv kernel, QLinearMatMul's `b` a MatMul
//! B); an Einsum's second operand is its parameter slot, so a weight given as a graph input
//! must be the second operand to be told from data (an initializer may be either). Every other graph
//! input is a **weight input** and counts as a constant: a Conv kernel `[K, C, R, S]` or a
//! MatMul/Gemm B `[in, out]` given as a graph input — directly or through Identity,
//! Transpose, Reshape... — is a constant weight whenever it never mixes into the data path.
//! (If no graph input reaches a data operand at all, every graph input is a data input.)
//!
//! A tensor is constant when it is an initializer, a weight input, the output of a `Shape` or
//! `Size` node, or the output of a node whose inputs are all constant (a `Constant` node has
//! none). The "W" operand of a layer (Conv kernel, Gemm/MatMul B) that is constant gives
//! [`WeightKind::Constant`]; one computed from a data input at run time gives
//! [`WeightKind::Activation`].
//!
//! # MatMul batch dimensions
//!
//! For `A[..., M, K] × B[..., K, N]` the batch dims are broadcast right-aligned. A batch dim in
//! which B has extent 1 (or which B lacks) reuses the same B matrix, so it is folded into `P`
//! (`P = M × those dims`); a batch dim in which B varies selects a different B matrix, so it
//! goes into `G`. For a 2-D weight this is "leading batch dims of A folded into P"; for
//! attention's Q·Kᵀ and scores·V over `[heads, T, d]` tensors it gives `G = heads (× batch)`,
//! `P = T`.

mod error;
pub mod flow;
mod lower;
mod names;
mod ops;
mod panics;
mod precision;
mod shapes;
mod validate;

pub use error::FrontendError;
pub use names::display_name;
pub(crate) use shapes::Shapes;

use cimopt_ir::Layer;
use cimopt_ir::workload::checked_product;
use petgraph::Graph;
use prost::Message;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::pb::type_proto::Value as TypeValue;

/// The most elements one tensor may have: `2^63 − 1`, the largest size ONNX's `int64`
/// dimensions can describe. A declared graph input or initializer, a shape given in
/// [`LoadOptions::input_shapes`] or a node's inferred output above it is refused with an error
/// naming the tensor, before any arithmetic on it can overflow.
pub const MAX_TENSOR_ELEMENTS: u64 = i64::MAX as u64;

/// Options for [`load`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Concrete shapes for graph inputs, by input name. Required for every input whose
    /// declared shape has a symbolic (or missing) dimension; overrides the declared shape
    /// otherwise (the rank must match).
    pub input_shapes: Vec<(String, Vec<u64>)>,
    /// Keep going past compute nodes that cannot be lowered (see [`SkippedCompute`]): list
    /// them in [`Model::skipped`] instead of failing. Off by default: such a node is an error
    /// naming it. Errors about the model as a whole (not ONNX, a cycle, a data input without
    /// a shape) fail either way.
    pub keep_going: bool,
}

/// A node that computes a convolution or a matrix product but was not lowered to a layer,
/// listed when [`LoadOptions::keep_going`] is set (without it, loading fails on it): an
/// operator the front end does not lower (ConvTranspose, recurrent and fused-attention
/// operators), an unknown operator whose name says convolution, matrix product or attention,
/// or a compute node whose lowering failed (invalid attributes, unknown shapes, over the
/// IR's limits). Its MACs are in no total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedCompute {
    /// Node name (or `<op>_<n>`, as for layers).
    pub name: String,
    pub op_type: String,
    /// The node's operator domain (`""` for ONNX's).
    pub domain: String,
    /// Its multiply-accumulates when its shapes tell: as the ONNX operator it resembles for
    /// an unknown one (a Conv or MatMul of its first two inputs), every input element times
    /// `M / group · kernel` for ConvTranspose, steps × (W + R) elements for RNN / GRU / LSTM,
    /// the workload's for a node over the IR's limits, one per index combination for an
    /// Einsum that is not a matrix product. `None` otherwise.
    pub macs: Option<u64>,
    /// Why it was not lowered (one paragraph).
    pub reason: String,
}

/// A node that does not run on the CIM macros (pooling, element-wise, normalisation, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherOp {
    /// Node name (or `<op>_<n>` when the node has none, `n` its position in the graph).
    pub name: String,
    pub op_type: String,
    /// Elements of all its outputs together (0 when tract could not infer a shape).
    pub output_elements: u64,
}

/// A model lowered to CIM layers.
#[derive(Clone, Debug)]
pub struct Model {
    pub path: PathBuf,
    /// The compute layers in topological order; `layers[i].index == i`.
    pub layers: Vec<Layer>,
    /// Every other top-level node, in topological order.
    pub other_ops: Vec<OtherOp>,
    /// One node per layer (weight = layer index, node index = layer index) and an edge
    /// producer → consumer whenever data flows from one layer into a data operand of another,
    /// directly or through non-CIM nodes (and skipped compute nodes). Not transitively
    /// reduced: a residual stream (BERT) links a layer to every later layer its sum reaches.
    /// The scale and zero point a `DynamicQuantizeLinear` computes from a tensor are
    /// quantization parameters and carry no edge.
    pub graph: Graph<usize, ()>,
    /// The data inputs (see the crate docs) with their concrete shapes, in graph order.
    pub inputs: Vec<(String, Vec<u64>)>,
    /// Compute nodes not lowered, in topological order (only with
    /// [`LoadOptions::keep_going`]; empty otherwise).
    pub skipped: Vec<SkippedCompute>,
    /// The run-time tensors and the nodes that read and write them, in execution order: what
    /// a memory plan places.
    pub flow: flow::Flow,
}

impl Model {
    /// Total multiply-accumulates of all layers (saturating at `u64::MAX`; each layer has at
    /// most [`MAX_MACS`](cimopt_ir::workload::MAX_MACS)).
    pub fn total_macs(&self) -> u64 {
        self.layers
            .iter()
            .fold(0u64, |acc, l| acc.saturating_add(l.workload.macs()))
    }
}

/// Loads an ONNX model file and lowers it to layers.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Model, FrontendError> {
    if path.is_dir() {
        return Err(FrontendError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let bytes = std::fs::read(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => FrontendError::NotFound {
            path: path.to_path_buf(),
        },
        std::io::ErrorKind::IsADirectory => FrontendError::NotAFile {
            path: path.to_path_buf(),
        },
        _ => FrontendError::Io {
            path: path.to_path_buf(),
            error,
        },
    })?;
    load_bytes(path, &bytes, opts)
}

/// Lowers a serialized ONNX model; `path` is used in messages and to find external data.
pub fn load_bytes(path: &Path, bytes: &[u8], opts: &LoadOptions) -> Result<Model, FrontendError> {
    let proto = decode(path, bytes)?;
    load_proto(path, proto, opts)
}

/// Decodes and sanity-checks the protobuf.
fn decode(path: &Path, bytes: &[u8]) -> Result<pb::ModelProto, FrontendError> {
    let not_onnx = |reason: String| FrontendError::NotOnnx {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.is_empty() {
        return Err(not_onnx("the file is empty".into()));
    }
    let proto = pb::ModelProto::decode(bytes)
        .map_err(|e| not_onnx(format!("protobuf decoding failed: {e}")))?;
    let Some(graph) = proto.graph.as_ref() else {
        return Err(not_onnx("it contains no graph".into()));
    };
    if proto.ir_version <= 0 {
        return Err(not_onnx(format!("its IR version is {}", proto.ir_version)));
    }
    if graph.node.is_empty() {
        return Err(not_onnx("its graph has no nodes".into()));
    }
    Ok(proto)
}

/// Lowers a decoded ONNX model.
pub fn load_proto(
    path: &Path,
    mut proto: pb::ModelProto,
    opts: &LoadOptions,
) -> Result<Model, FrontendError> {
    let path_buf = path.to_path_buf();
    let graph = proto.graph.as_mut().ok_or_else(|| FrontendError::NotOnnx {
        path: path_buf.clone(),
        reason: "it contains no graph".into(),
    })?;
    let inits: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    apply_input_shapes(path, graph, &inits, opts)?;
    let graph = proto.graph.as_ref().expect("checked above");
    check_declared_sizes(path, graph)?;

    let order = topo_order(path, graph, &inits)?;
    validate::window_attributes(path, graph)?;
    let shapes = shapes::infer_shapes(path, &shapes::for_tract(&proto))?;
    let classes = classify(graph, &inits, &order, &shapes);
    let weight_problems = if opts.keep_going {
        // Reported by the compute nodes that need those shapes, which are then skipped.
        weight_problems(graph, &inits, &classes)
    } else {
        HashMap::new()
    };
    check_input_shapes(path, graph, &inits, &classes, opts.keep_going)?;
    let types = precision::Types::new(graph, &shapes);
    let dataflow = precision::Dataflow::new(graph);

    let mut inputs = Vec::new();
    let mut flow = flow::FlowBuilder::default();
    for vi in &graph.input {
        if classes.data_inputs.contains(&vi.name) {
            let shape = shapes
                .get(&vi.name)
                .cloned()
                .or_else(|| declared_shape(vi))
                .unwrap_or_default();
            flow.model_input(&vi.name, element_count(&shape).unwrap_or(0));
            inputs.push((vi.name.clone(), shape));
        }
    }
    let elements_of = |t: &str| shapes.get(t).and_then(|s| element_count(s)).unwrap_or(0);

    let ctx = lower::Ctx {
        path,
        shapes: &shapes,
        constant: &classes.constant,
        weight_problems: &weight_problems,
    };
    let mut layers: Vec<Layer> = Vec::new();
    let mut other_ops = Vec::new();
    let mut skipped = Vec::new();
    // For each tensor name: the layers whose output reaches it through non-CIM nodes.
    let mut upstream: HashMap<&str, BTreeSet<usize>> = HashMap::new();
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();

    for &ni in &order {
        let node = &graph.node[ni];
        let name = node_name(node, ni);
        let compute = ops::compute(node);
        let lowered = match compute {
            None => None,
            Some(ops::Compute::Lower(kind)) => {
                let result = lower::lower(&ctx, node, &name, kind).and_then(|l| {
                    let problems = l.workload.shape_errors();
                    if problems.is_empty() {
                        Ok(l)
                    } else {
                        Err(FrontendError::LayerLimits {
                            path: path_buf.clone(),
                            node: name.clone(),
                            op: node.op_type.clone(),
                            problems,
                        })
                    }
                });
                match result {
                    Ok(l) => Some((l, kind)),
                    Err(e) => {
                        let macs = match kind {
                            ops::Kind::Einsum => lower::einsum_macs(&ctx, node, &name),
                            // Over the limits, the workload is still known.
                            _ => lower::lower(&ctx, node, &name, kind)
                                .ok()
                                .and_then(|l| checked_product(&l.workload.extents())),
                        };
                        skip(opts, &mut skipped, node, &name, e, macs)?;
                        None
                    }
                }
            }
            Some(ops::Compute::Refuse { why, estimate }) => {
                let e = FrontendError::Unsupported {
                    path: path_buf.clone(),
                    node: name.clone(),
                    op: qualified_op(node),
                    reason: format!(
                        "{why}{}",
                        if opts.keep_going {
                            String::new()
                        } else {
                            KEEP_GOING_HINT.to_string()
                        }
                    ),
                };
                let macs = lower::estimate_macs(&ctx, node, &name, estimate);
                skip(opts, &mut skipped, node, &name, e, macs)?;
                None
            }
            Some(ops::Compute::Lookalike(estimate)) => {
                let e = FrontendError::Unsupported {
                    path: path_buf.clone(),
                    node: name.clone(),
                    op: qualified_op(node),
                    reason: format!(
                        "`{}` is not an operator the front end knows, and its name says it computes \
                         a convolution, a matrix product or attention, whose MACs would be lost{}",
                        display_name(&qualified_op(node)),
                        if opts.keep_going {
                            String::new()
                        } else {
                            KEEP_GOING_HINT.to_string()
                        }
                    ),
                };
                let macs = lower::estimate_macs(&ctx, node, &name, estimate);
                skip(opts, &mut skipped, node, &name, e, macs)?;
                None
            }
        };
        match lowered {
            Some((lowered, kind)) => {
                let index = layers.len();
                let slot_tensor = |flow: &mut flow::FlowBuilder, slot: usize| {
                    node.input
                        .get(slot)
                        .filter(|t| !t.is_empty())
                        .map(|t| flow.tensor(t, elements_of(t)))
                };
                let input = slot_tensor(&mut flow, lowered.data_slots[0]);
                let weight = lowered
                    .data_slots
                    .get(1)
                    .and_then(|&s| slot_tensor(&mut flow, s));
                let output = node
                    .output
                    .first()
                    .filter(|o| !o.is_empty())
                    .map(|o| flow.tensor(o, elements_of(o)));
                if let (Some(input), Some(output)) = (input, output) {
                    flow.layer(flow::LayerIo {
                        input,
                        weight,
                        output,
                    });
                    let mut reads = vec![input];
                    reads.extend(weight);
                    flow.node(
                        flow::FlowNodeKind::Layer(index),
                        &node.op_type,
                        reads,
                        vec![output],
                    );
                } else {
                    return Err(FrontendError::InvalidNode {
                        path: path_buf.clone(),
                        node: name.clone(),
                        op: node.op_type.clone(),
                        reason: "its data input or its output is missing".into(),
                    });
                }
                for slot in &lowered.data_slots {
                    if let Some(t) = node.input.get(*slot)
                        && let Some(ups) = upstream.get(t.as_str())
                    {
                        edges.extend(ups.iter().map(|&u| (u, index)));
                    }
                }
                for out in node.output.iter().filter(|o| !o.is_empty()) {
                    upstream.insert(out, BTreeSet::from([index]));
                }
                let workload = cimopt_ir::Workload {
                    bits: precision::of(node, kind, &types, &dataflow),
                    ..lowered.workload
                };
                let dedup_group = layers
                    .iter()
                    .position(|l| l.workload == workload)
                    .unwrap_or(index);
                layers.push(Layer {
                    index,
                    name: name.clone(),
                    onnx_nodes: vec![name],
                    workload,
                    dedup_group,
                    has_bias: lowered.has_bias,
                });
            }
            None => {
                let mut ups = BTreeSet::new();
                for t in node
                    .input
                    .iter()
                    .filter(|t| !t.is_empty() && !classes.constant.contains(*t))
                {
                    if let Some(u) = upstream.get(t.as_str()) {
                        ups.extend(u.iter().copied());
                    }
                }
                let mut output_elements = 0u64;
                // The scale and zero point DynamicQuantizeLinear computes are quantization
                // parameters: no layer data flows through them into a graph edge.
                let dynamic_q = node.op_type == "DynamicQuantizeLinear";
                for (slot, out) in node
                    .output
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| !o.is_empty())
                {
                    if let Some(s) = shapes.get(out) {
                        output_elements = element_count(s)
                            .and_then(|e| output_elements.checked_add(e))
                            .filter(|&e| e <= MAX_TENSOR_ELEMENTS)
                            .ok_or_else(|| FrontendError::TooLarge {
                                path: path_buf.clone(),
                                tensor: out.clone(),
                                node: Some(name.clone()),
                                reason: format!(
                                    "its inferred shape {s:?} has more than {MAX_TENSOR_ELEMENTS} elements (the limit per tensor), with the node's other outputs"
                                ),
                            })?;
                    }
                    if !(ups.is_empty() || dynamic_q && slot > 0) {
                        upstream.insert(out, ups.clone());
                    }
                }
                // Its run-time tensors, in the dataflow (a node that reads none computes
                // constants).
                let reads: Vec<usize> = node
                    .input
                    .iter()
                    .filter(|t| !t.is_empty() && !classes.constant.contains(*t))
                    .filter_map(|t| flow.get(t))
                    .collect();
                let kind = if compute.is_none() {
                    flow::FlowNodeKind::Op(other_ops.len())
                } else {
                    flow::FlowNodeKind::Skipped(skipped.len().saturating_sub(1))
                };
                if !reads.is_empty() {
                    let writes: Vec<usize> = node
                        .output
                        .iter()
                        .filter(|o| !o.is_empty() && !classes.constant.contains(*o))
                        .map(|o| flow.tensor(o, elements_of(o)))
                        .collect();
                    flow.node(kind, &node.op_type, reads, writes);
                }
                if compute.is_none() {
                    other_ops.push(OtherOp {
                        name,
                        op_type: node.op_type.clone(),
                        output_elements,
                    });
                }
            }
        }
    }
    let model_outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let flow = flow.finish(&model_outputs);

    let mut g = Graph::with_capacity(layers.len(), edges.len());
    let ids: Vec<_> = (0..layers.len()).map(|i| g.add_node(i)).collect();
    for (a, b) in edges {
        g.add_edge(ids[a], ids[b], ());
    }
    Ok(Model {
        path: path_buf,
        layers,
        other_ops,
        graph: g,
        inputs,
        skipped,
        flow,
    })
}

/// Appended to a refusal when `keep_going` is off.
const KEEP_GOING_HINT: &str =
    "; to load the other layers and list this node as skipped, load with LoadOptions::keep_going";

/// `op_type`, prefixed by the domain when that is not ONNX's.
fn qualified_op(node: &pb::NodeProto) -> String {
    match ops::domain(node) {
        ops::Domain::Standard => node.op_type.clone(),
        _ => format!("{}.{}", node.domain, node.op_type),
    }
}

/// Records a compute node that cannot be lowered in `skipped` when the caller keeps going
/// (for errors about that node only); returns the error otherwise.
fn skip(
    opts: &LoadOptions,
    skipped: &mut Vec<SkippedCompute>,
    node: &pb::NodeProto,
    name: &str,
    error: FrontendError,
    macs: Option<u64>,
) -> Result<(), FrontendError> {
    match error.node_reason() {
        Some(reason) if opts.keep_going => {
            skipped.push(SkippedCompute {
                name: name.to_string(),
                op_type: node.op_type.clone(),
                domain: node.domain.clone(),
                macs,
                reason,
            });
            Ok(())
        }
        _ => Err(error),
    }
}

/// The display name of a node.
pub(crate) fn node_name(node: &pb::NodeProto, index: usize) -> String {
    if node.name.is_empty() {
        format!("{}_{}", node.op_type, index)
    } else {
        node.name.clone()
    }
}

fn declared_shape(vi: &pb::ValueInfoProto) -> Option<Vec<u64>> {
    let TypeValue::TensorType(t) = vi.r#type.as_ref()?.value.as_ref()?;
    t.shape
        .as_ref()?
        .dim
        .iter()
        .map(|d| match d.value {
            Some(DimValue::DimValue(v)) if v >= 0 => Some(v as u64),
            _ => None,
        })
        .collect()
}

/// Checks `opts.input_shapes` against the graph inputs and writes the given shapes into the
/// proto.
fn apply_input_shapes(
    path: &Path,
    graph: &mut pb::GraphProto,
    inits: &HashSet<String>,
    opts: &LoadOptions,
) -> Result<(), FrontendError> {
    let known: Vec<String> = graph
        .input
        .iter()
        .filter(|i| !inits.contains(&i.name))
        .map(|i| i.name.clone())
        .collect();
    for (name, dims) in &opts.input_shapes {
        let Some(vi) = graph
            .input
            .iter_mut()
            .find(|i| &i.name == name && !inits.contains(&i.name))
        else {
            return Err(FrontendError::UnknownInput {
                path: path.to_path_buf(),
                input: name.clone(),
                known,
            });
        };
        let bad = |reason: String| FrontendError::BadInputShape {
            path: path.to_path_buf(),
            input: name.clone(),
            reason,
        };
        if dims.is_empty() {
            return Err(bad("the shape is empty".into()));
        }
        if dims.contains(&0) {
            return Err(bad(format!(
                "dimension {} is 0",
                dims.iter().position(|&d| d == 0).unwrap_or(0)
            )));
        }
        if dims.iter().any(|&d| d > i64::MAX as u64) {
            return Err(bad("a dimension is too large".into()));
        }
        if element_count(dims).is_none_or(|e| e > MAX_TENSOR_ELEMENTS) {
            return Err(bad(format!(
                "{} has more than {MAX_TENSOR_ELEMENTS} elements (the limit per tensor)",
                dims.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("x")
            )));
        }
        let ty = vi.r#type.get_or_insert_with(Default::default);
        let TypeValue::TensorType(tensor) =
            ty.value
                .get_or_insert(TypeValue::TensorType(pb::type_proto::Tensor {
                    elem_type: pb::tensor_proto::DataType::Float as i32,
                    shape: None,
                }));
        if let Some(shape) = &tensor.shape
            && !shape.dim.is_empty()
            && shape.dim.len() != dims.len()
        {
            return Err(bad(format!(
                "the model declares rank {} but {} dimensions were given ({})",
                shape.dim.len(),
                dims.len(),
                dims.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("x")
            )));
        }
        tensor.shape = Some(pb::TensorShapeProto {
            dim: dims
                .iter()
                .map(|&d| pb::tensor_shape_proto::Dimension {
                    denotation: String::new(),
                    value: Some(DimValue::DimValue(d as i64)),
                })
                .collect(),
        });
    }
    Ok(())
}

/// What is wrong with a graph input's declared type and shape, if anything.
pub(crate) enum DeclaredShape<'a> {
    Concrete,
    NoType,
    NoShape,
    /// A dimension ≤ 0: position, value.
    NonPositive(usize, i64),
    /// A `dim_param`: position, name.
    Symbolic(usize, &'a str),
    /// A dimension without value or name: position.
    Unknown(usize),
}

pub(crate) fn declared_problem(vi: &pb::ValueInfoProto) -> DeclaredShape<'_> {
    let Some(TypeValue::TensorType(tensor)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return DeclaredShape::NoType;
    };
    let Some(shape) = tensor.shape.as_ref() else {
        return DeclaredShape::NoShape;
    };
    for (i, d) in shape.dim.iter().enumerate() {
        match &d.value {
            Some(DimValue::DimValue(v)) if *v > 0 => {}
            Some(DimValue::DimValue(v)) => return DeclaredShape::NonPositive(i, *v),
            Some(DimValue::DimParam(p)) if !p.is_empty() => return DeclaredShape::Symbolic(i, p),
            _ => return DeclaredShape::Unknown(i),
        }
    }
    DeclaredShape::Concrete
}

/// The reason in a [`FrontendError::WeightShape`], when the declared shape is not concrete.
pub(crate) fn weight_shape_reason(problem: &DeclaredShape) -> Option<String> {
    Some(match problem {
        DeclaredShape::Concrete => return None,
        DeclaredShape::NoType => "has no type".into(),
        DeclaredShape::NoShape => "has no shape".into(),
        DeclaredShape::NonPositive(i, v) => format!("has dimension {v} at position {i}"),
        DeclaredShape::Symbolic(i, p) => format!(
            "has a symbolic dimension `{}` at position {i}",
            display_name(p)
        ),
        DeclaredShape::Unknown(i) => format!("has an unknown dimension at position {i}"),
    })
}

/// Weight inputs whose declared shape is not concrete, with what is wrong.
fn weight_problems(
    graph: &pb::GraphProto,
    inits: &HashSet<String>,
    classes: &Classes,
) -> HashMap<String, String> {
    graph
        .input
        .iter()
        .filter(|vi| !inits.contains(&vi.name) && !classes.data_inputs.contains(&vi.name))
        .filter_map(|vi| Some((vi.name.clone(), weight_shape_reason(&declared_problem(vi))?)))
        .collect()
}

/// The first node (in file order) that reads `tensor`.
pub(crate) fn first_consumer(graph: &pb::GraphProto, tensor: &str) -> Option<String> {
    graph
        .node
        .iter()
        .enumerate()
        .find(|(_, n)| n.input.iter().any(|t| t == tensor))
        .map(|(i, n)| node_name(n, i))
}

/// Refuses graph inputs whose declared shape is not concrete: a data input with
/// [`FrontendError::SymbolicInput`] or [`FrontendError::BadDeclaredDim`] (give it a shape
/// with `--input-shape`), a weight input read by some node with
/// [`FrontendError::WeightShape`] (unless `keep_going`: then the compute nodes that need its
/// shape are skipped). Unused inputs are not checked.
fn check_input_shapes(
    path: &Path,
    graph: &pb::GraphProto,
    inits: &HashSet<String>,
    classes: &Classes,
    keep_going: bool,
) -> Result<(), FrontendError> {
    for vi in graph.input.iter().filter(|i| !inits.contains(&i.name)) {
        let problem = declared_problem(vi);
        if matches!(problem, DeclaredShape::Concrete) {
            continue;
        }
        if !classes.data_inputs.contains(&vi.name) {
            if keep_going {
                continue;
            }
            let Some(node) = first_consumer(graph, &vi.name) else {
                continue;
            };
            return Err(FrontendError::WeightShape {
                path: path.to_path_buf(),
                weight: vi.name.clone(),
                node,
                reason: weight_shape_reason(&problem).unwrap_or_default(),
            });
        }
        let declared = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(TypeValue::TensorType(t)) => t.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(DimValue::DimValue(v)) => v.to_string(),
                        Some(DimValue::DimParam(p)) if !p.is_empty() => p.clone(),
                        _ => "?".into(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            None => None,
        };
        let symbolic = |dim: usize, dim_name: &str, shape: String| FrontendError::SymbolicInput {
            path: path.to_path_buf(),
            input: vi.name.clone(),
            dim,
            dim_name: dim_name.to_string(),
            shape,
        };
        return Err(match problem {
            DeclaredShape::Concrete => unreachable!("skipped above"),
            DeclaredShape::NoType => symbolic(0, "?", "unknown".into()),
            DeclaredShape::NoShape => symbolic(0, "?", "unknown rank".into()),
            DeclaredShape::Symbolic(i, p) => symbolic(i, p, declared.unwrap_or_default()),
            DeclaredShape::Unknown(i) => symbolic(i, "?", declared.unwrap_or_default()),
            DeclaredShape::NonPositive(i, v) => FrontendError::BadDeclaredDim {
                path: path.to_path_buf(),
                input: vi.name.clone(),
                dim: i,
                value: v,
                shape: declared.unwrap_or_default(),
            },
        });
    }
    Ok(())
}

/// The product of `dims`, or `None` when it does not fit in 64 bits.
pub(crate) fn element_count(dims: &[u64]) -> Option<u64> {
    cimopt_ir::workload::checked_product(dims)
}

/// Refuses a declared graph input or initializer with more than [`MAX_TENSOR_ELEMENTS`]
/// elements, before tract (whose dimension arithmetic is `i64`) sees it.
fn check_declared_sizes(path: &Path, graph: &pb::GraphProto) -> Result<(), FrontendError> {
    let declared = graph
        .input
        .iter()
        .filter_map(|vi| Some((&vi.name, declared_shape(vi)?)))
        .chain(graph.initializer.iter().filter_map(|t| {
            let dims: Option<Vec<u64>> = t.dims.iter().map(|&d| u64::try_from(d).ok()).collect();
            Some((&t.name, dims?))
        }));
    for (name, dims) in declared {
        if element_count(&dims).is_none_or(|e| e > MAX_TENSOR_ELEMENTS) {
            return Err(FrontendError::TooLarge {
                path: path.to_path_buf(),
                tensor: name.clone(),
                node: None,
                reason: format!(
                    "its declared shape {dims:?} has more than {MAX_TENSOR_ELEMENTS} elements (the limit per tensor)"
                ),
            });
        }
    }
    Ok(())
}

/// Top-level nodes in a topological order (the file's order where it already is one).
fn topo_order(
    path: &Path,
    graph: &pb::GraphProto,
    inits: &HashSet<String>,
) -> Result<Vec<usize>, FrontendError> {
    let invalid = |reason: String| FrontendError::InvalidModel {
        path: path.to_path_buf(),
        reason,
    };
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if producer.insert(o, i).is_some() {
                return Err(invalid(format!(
                    "tensor `{}` is produced by more than one node",
                    display_name(o)
                )));
            }
        }
    }
    let sources: HashSet<&str> = graph
        .input
        .iter()
        .map(|i| i.name.as_str())
        .chain(inits.iter().map(|s| s.as_str()))
        .collect();
    let mut indegree = vec![0usize; graph.node.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); graph.node.len()];
    for (i, n) in graph.node.iter().enumerate() {
        for t in n.input.iter().filter(|t| !t.is_empty()) {
            match producer.get(t.as_str()) {
                Some(&p) => {
                    indegree[i] += 1;
                    consumers[p].push(i);
                }
                None if sources.contains(t.as_str()) => {}
                None => {
                    return Err(invalid(format!(
                        "tensor `{}`, input of node `{}`, is neither a graph input, an initializer nor the output of a node",
                        display_name(t),
                        display_name(&node_name(n, i))
                    )));
                }
            }
        }
    }
    let mut ready: BinaryHeap<std::cmp::Reverse<usize>> = (0..graph.node.len())
        .filter(|&i| indegree[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(graph.node.len());
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(i);
        for &c in &consumers[i] {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.push(std::cmp::Reverse(c));
            }
        }
    }
    if order.len() != graph.node.len() {
        let stuck = (0..graph.node.len())
            .find(|&i| indegree[i] > 0)
            .unwrap_or(0);
        return Err(invalid(format!(
            "the graph has a cycle through node `{}`",
            display_name(&node_name(&graph.node[stuck], stuck))
        )));
    }
    Ok(order)
}

struct Classes {
    /// Graph inputs that carry data (see the crate docs).
    data_inputs: HashSet<String>,
    /// Tensors whose values are known before run time.
    constant: HashSet<String>,
}

/// Whether input `slot` of `node` is a parameter slot: data flowing into it does not make a
/// graph input a data input (see the crate docs).
fn parameter_slot(node: &pb::NodeProto, slot: usize, shapes: &Shapes) -> bool {
    let elements = |t: &str| shapes.get(t).and_then(|s| element_count(s));
    // An operand that broadcasts (fewer elements than the result) is a parameter.
    let broadcasts = |slot: usize| match (
        node.input.get(slot).and_then(|t| elements(t)),
        node.output.first().and_then(|o| elements(o)),
    ) {
        (Some(a), Some(out)) => a < out,
        _ => false,
    };
    match ops::compute(node) {
        Some(ops::Compute::Lower(kind)) => return slot != kind.data_slot(),
        Some(_) => return slot >= 1,
        None => {}
    }
    if ops::params_after_first(node) {
        return slot >= 1;
    }
    if ops::domain(node) == ops::Domain::Microsoft {
        match node.op_type.as_str() {
            // (A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point)
            "QLinearAdd" | "QLinearMul" => return !matches!(slot, 0 | 3) || broadcasts(slot),
            // (Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input)
            "QLinearConcat" => return slot < 2 || !(slot - 2).is_multiple_of(3),
            _ => {}
        }
    }
    match node.op_type.as_str() {
        "Conv"
        | "ConvTranspose"
        | "Gemm"
        | "LayerNormalization"
        | "InstanceNormalization"
        | "GroupNormalization"
        | "BatchNormalization"
        | "PRelu"
        | "Clip"
        | "Reshape"
        | "Expand"
        | "Tile"
        | "Slice"
        | "Pad"
        | "Resize"
        | "Split"
        | "Squeeze"
        | "Unsqueeze"
        | "ReduceMean"
        | "ReduceSum"
        | "ReduceMax"
        | "ReduceMin"
        | "TopK" => slot >= 1,
        "Gather" | "GatherElements" | "GatherND" => slot == 0,
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Where" | "Max" | "Min" | "Sum" | "Mean"
        | "Mod" => broadcasts(slot),
        _ => false,
    }
}

/// Compute nodes (lowered, refused or look-alikes) for the data-input classification.
fn is_compute(node: &pb::NodeProto) -> bool {
    ops::compute(node).is_some()
}

fn classify(
    graph: &pb::GraphProto,
    inits: &HashSet<String>,
    order: &[usize],
    shapes: &Shapes,
) -> Classes {
    // For each tensor, the graph inputs it derives from through non-parameter slots.
    let runtime: Vec<&str> = graph
        .input
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| !inits.contains(*n))
        .collect();
    let mut origin: HashMap<&str, BTreeSet<usize>> = HashMap::new();
    for (k, name) in runtime.iter().enumerate() {
        origin.insert(name, BTreeSet::from([k]));
    }
    let mut data = vec![false; runtime.len()];
    for &ni in order {
        let node = &graph.node[ni];
        let mut reach = BTreeSet::new();
        for (slot, t) in node.input.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
            if let Some(o) = origin.get(t.as_str())
                && !parameter_slot(node, slot, shapes)
            {
                if is_compute(node) {
                    for &k in o {
                        data[k] = true;
                    }
                }
                reach.extend(o.iter().copied());
            }
        }
        if !reach.is_empty() {
            for out in node.output.iter().filter(|o| !o.is_empty()) {
                origin.insert(out, reach.clone());
            }
        }
    }
    if !data.contains(&true) {
        // No compute node takes data from a graph input: every graph input is data.
        data.iter_mut().for_each(|d| *d = true);
    }
    let data_inputs: HashSet<String> = runtime
        .iter()
        .zip(&data)
        .filter(|(_, d)| **d)
        .map(|(n, _)| n.to_string())
        .collect();
    let mut constant: HashSet<String> = inits.clone();
    constant.extend(
        runtime
            .iter()
            .filter(|n| !data_inputs.contains(**n))
            .map(|n| n.to_string()),
    );
    for &ni in order {
        let node = &graph.node[ni];
        let shape_only = matches!(node.op_type.as_str(), "Shape" | "Size");
        if shape_only
            || node
                .input
                .iter()
                .filter(|t| !t.is_empty())
                .all(|t| constant.contains(t))
        {
            constant.extend(node.output.iter().filter(|o| !o.is_empty()).cloned());
        }
    }
    Classes {
        data_inputs,
        constant,
    }
}
