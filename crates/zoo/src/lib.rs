//! The project's own network definitions, written as ONNX `ModelProto`s.
//!
//! Every model is shape-only: weights are graph inputs with full shapes and no data (the front
//! end needs shapes, not values), batch 1, opset 17. The CNNs follow torchvision's
//! architectures exactly, with batch norm folded into the convolutions as torchvision's ONNX
//! export does (so every Conv has a bias), and use torchvision's export node names
//! (`/layer1/layer1.0/conv1/Conv`). The output is deterministic: [`all`] returns the same
//! bytes on every call, which `models/*.onnx` are checked against.
//!
//! [`quantized`] lists the quantized variants (QDQ and QOperator int8, dynamic, 4-bit) and a
//! small Llama-style decoder with its 4-bit twin, written to `models/quantized/`: they share
//! the float definitions' architecture code, so each lowers to the layers of its float model.
//!
//! [`Builder`] is public so tests can build small models of their own (symbolic dims, odd
//! attributes).

mod llama;
mod nets;
mod quant;

use prost::Message;
use tract_onnx::pb;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;

pub use nets::{bert_base, mobilenet_v2, resnet18, resnet50, tiny_cnn, vgg16};

/// Every zoo model: (file stem, serialized `ModelProto`).
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("tiny_cnn", encode(&tiny_cnn())),
        ("resnet18", encode(&resnet18())),
        ("resnet50", encode(&resnet50())),
        ("vgg16", encode(&vgg16())),
        ("mobilenet_v2", encode(&mobilenet_v2())),
        ("bert_base", encode(&bert_base())),
    ]
}

/// Every quantized zoo model and the float twin of the decoder, for `models/quantized/`:
/// (file stem, serialized `ModelProto`). Deterministic, like [`all`].
pub fn quantized() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("tiny_cnn_qdq", encode(&tiny_cnn_qdq())),
        ("tiny_cnn_qop", encode(&tiny_cnn_qop())),
        ("tiny_cnn_dynamic", encode(&tiny_cnn_dynamic())),
        ("resnet18_qdq", encode(&resnet18_qdq())),
        ("resnet18_qop", encode(&resnet18_qop())),
        ("resnet18_qdq_int4", encode(&resnet18_qdq_int4())),
        ("llama_tiny", encode(&llama_tiny())),
        ("llama_tiny_q4", encode(&llama_tiny_q4())),
    ]
}

fn quantized_cnn(model: &str, style: quant::Style, resnet: bool) -> pb::ModelProto {
    let mut n = quant::Quant::new(model, style);
    if resnet {
        nets::resnet_in(&mut n, false, [2, 2, 2, 2]);
    } else {
        nets::tiny_cnn_in(&mut n);
    }
    n.b.finish()
}

/// [`tiny_cnn`] quantized in QDQ form: uint8 activations, int8 per-channel weights.
pub fn tiny_cnn_qdq() -> pb::ModelProto {
    quantized_cnn("tiny_cnn_qdq", quant::Style::Qdq(DataType::Int8), false)
}

/// [`tiny_cnn`] in QOperator form: QLinearConv, `com.microsoft` QLinearGlobalAveragePool and
/// QGemm.
pub fn tiny_cnn_qop() -> pb::ModelProto {
    quantized_cnn("tiny_cnn_qop", quant::Style::QOperator, false)
}

/// [`tiny_cnn`] with dynamically quantized convs (DynamicQuantizeLinear → ConvInteger); the
/// Gemm stays float.
pub fn tiny_cnn_dynamic() -> pb::ModelProto {
    quantized_cnn("tiny_cnn_dynamic", quant::Style::Dynamic, false)
}

/// [`resnet18`] quantized in QDQ form (uint8 activations, int8 weights).
pub fn resnet18_qdq() -> pb::ModelProto {
    quantized_cnn("resnet18_qdq", quant::Style::Qdq(DataType::Int8), true)
}

/// [`resnet18`] in QOperator form (QLinearConv, QLinearAdd, QLinearGlobalAveragePool, QGemm).
pub fn resnet18_qop() -> pb::ModelProto {
    quantized_cnn("resnet18_qop", quant::Style::QOperator, true)
}

/// [`resnet18`] with 4-bit weights: QDQ with INT4 weight initializers (zeros) and INT4 zero
/// points under DequantizeLinear, uint8 activations; opset 21.
pub fn resnet18_qdq_int4() -> pb::ModelProto {
    quantized_cnn("resnet18_qdq_int4", quant::Style::Qdq(DataType::Int4), true)
}

/// A two-block Llama-style decoder with float MatMul projections (see `llama.rs`).
pub fn llama_tiny() -> pb::ModelProto {
    llama::llama(false)
}

/// [`llama_tiny`] with every projection a `com.microsoft` `MatMulNBits` (4-bit weights).
pub fn llama_tiny_q4() -> pb::ModelProto {
    llama::llama(true)
}

/// Serializes a model (deterministic).
pub fn encode(model: &pb::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// One dimension of a declared tensor shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    /// A symbolic dimension (`dim_param`).
    Param(String),
}

impl From<i64> for Dim {
    fn from(v: i64) -> Self {
        Dim::Fixed(v)
    }
}

impl From<&str> for Dim {
    fn from(s: &str) -> Self {
        Dim::Param(s.to_string())
    }
}

/// Builds an ONNX graph node by node.
#[derive(Clone, Debug)]
pub struct Builder {
    graph: pb::GraphProto,
    /// The default domain's opset ([`OPSET`] unless [`Builder::opset`] changes it).
    opset: i64,
    /// Other operator domains the model imports, in the order first used.
    domains: Vec<(String, i64)>,
}

/// ONNX opset of every zoo model.
pub const OPSET: i64 = 17;

fn value_info(name: &str, elem_type: DataType, dims: &[Dim]) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: elem_type as i32,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| pb::tensor_shape_proto::Dimension {
                            denotation: String::new(),
                            value: Some(match d {
                                Dim::Fixed(v) => DimValue::DimValue(*v),
                                Dim::Param(p) => DimValue::DimParam(p.clone()),
                            }),
                        })
                        .collect(),
                }),
            })),
        }),
        doc_string: String::new(),
    }
}

fn fixed(dims: &[i64]) -> Vec<Dim> {
    dims.iter().map(|&d| Dim::Fixed(d)).collect()
}

impl Builder {
    pub fn new(name: &str) -> Self {
        Builder {
            graph: pb::GraphProto {
                name: name.to_string(),
                ..Default::default()
            },
            opset: OPSET,
            domains: Vec::new(),
        }
    }

    /// Sets the default domain's opset (21 for INT4 tensors under `DequantizeLinear`).
    pub fn opset(&mut self, version: i64) {
        self.opset = version;
    }

    /// Imports operator domain `domain` at `version` (once; later calls are ignored).
    pub fn import_domain(&mut self, domain: &str, version: i64) {
        if !self.domains.iter().any(|(d, _)| d == domain) {
            self.domains.push((domain.to_string(), version));
        }
    }

    /// A data input of element type `elem_type` with a concrete shape.
    pub fn input_typed(&mut self, name: &str, dims: &[i64], elem_type: DataType) -> String {
        self.graph
            .input
            .push(value_info(name, elem_type, &fixed(dims)));
        name.to_string()
    }

    /// A weight of element type `elem_type`: a graph input with its full shape and no data.
    pub fn weight_typed(&mut self, name: &str, dims: &[i64], elem_type: DataType) -> String {
        self.input_typed(name, dims, elem_type)
    }

    /// An initializer.
    pub fn initializer(&mut self, tensor: pb::TensorProto) -> String {
        let name = tensor.name.clone();
        self.graph.initializer.push(tensor);
        name
    }

    /// An initializer of `dims` holding zeros of element type `elem_type`, as `raw_data` of
    /// the right size (INT4 and UINT4 packed two to a byte, as ONNX stores them).
    pub fn zeros(&mut self, name: &str, dims: &[i64], elem_type: DataType) -> String {
        let elements: usize = dims.iter().map(|&d| d as usize).product();
        let bytes = match elem_type {
            DataType::Int4 | DataType::Uint4 => elements.div_ceil(2),
            DataType::Int8 | DataType::Uint8 | DataType::Bool => elements,
            DataType::Int16 | DataType::Uint16 | DataType::Float16 | DataType::Bfloat16 => {
                2 * elements
            }
            DataType::Int32 | DataType::Uint32 | DataType::Float => 4 * elements,
            DataType::Int64 | DataType::Uint64 | DataType::Double => 8 * elements,
            other => panic!("zeros: no byte size for {other:?}"),
        };
        self.initializer(pb::TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: elem_type as i32,
            raw_data: vec![0; bytes],
            ..Default::default()
        })
    }

    /// A float initializer of `dims`, every element `value`.
    pub fn filled_f32(&mut self, name: &str, dims: &[i64], value: f32) -> String {
        let elements: usize = dims.iter().map(|&d| d as usize).product();
        self.initializer(pb::TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: DataType::Float as i32,
            float_data: vec![value; elements],
            ..Default::default()
        })
    }

    /// Adds a node of operator domain `domain` (imported at version 1 if not yet) with `outputs`
    /// outputs named `<name>_output_<i>`, which it returns.
    pub fn node_in(
        &mut self,
        domain: &str,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        attribute: Vec<pb::AttributeProto>,
        outputs: usize,
    ) -> Vec<String> {
        if !domain.is_empty() {
            self.import_domain(domain, 1);
        }
        let output: Vec<String> = (0..outputs).map(|i| format!("{name}_output_{i}")).collect();
        self.graph.node.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.clone(),
            name: name.to_string(),
            op_type: op_type.to_string(),
            domain: domain.to_string(),
            attribute,
            ..Default::default()
        });
        output
    }

    /// A float data input with a concrete shape.
    pub fn input(&mut self, name: &str, dims: &[i64]) -> String {
        self.input_dims(name, &fixed(dims))
    }

    /// A float data input whose shape may have symbolic dims.
    pub fn input_dims(&mut self, name: &str, dims: &[Dim]) -> String {
        self.graph
            .input
            .push(value_info(name, DataType::Float, dims));
        name.to_string()
    }

    /// A float weight: a graph input with its full shape and no data.
    pub fn weight(&mut self, name: &str, dims: &[i64]) -> String {
        self.input(name, dims)
    }

    /// A small int64 initializer (shapes for Reshape, axes...).
    pub fn const_i64(&mut self, name: &str, values: &[i64]) -> String {
        self.graph.initializer.push(pb::TensorProto {
            name: name.to_string(),
            dims: vec![values.len() as i64],
            data_type: DataType::Int64 as i32,
            int64_data: values.to_vec(),
            ..Default::default()
        });
        name.to_string()
    }

    /// A scalar float initializer.
    pub fn const_f32(&mut self, name: &str, value: f32) -> String {
        self.graph.initializer.push(pb::TensorProto {
            name: name.to_string(),
            dims: vec![],
            data_type: DataType::Float as i32,
            float_data: vec![value],
            ..Default::default()
        });
        name.to_string()
    }

    /// A `Constant` node holding a float scalar; returns its output.
    pub fn constant_f32(&mut self, name: &str, value: f32) -> String {
        let t = pb::TensorProto {
            dims: vec![],
            data_type: DataType::Float as i32,
            raw_data: value.to_le_bytes().to_vec(),
            ..Default::default()
        };
        let attr = pb::AttributeProto {
            name: "value".into(),
            r#type: AttributeType::Tensor as i32,
            t: Some(t),
            ..Default::default()
        };
        self.node("Constant", name, &[], vec![attr])
    }

    /// Adds a node with one output named `<name>_output_0`, which it returns.
    pub fn node(
        &mut self,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        attribute: Vec<pb::AttributeProto>,
    ) -> String {
        let output = format!("{name}_output_0");
        self.graph.node.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: name.to_string(),
            op_type: op_type.to_string(),
            attribute,
            ..Default::default()
        });
        output
    }

    /// Declares a float graph output.
    pub fn output(&mut self, tensor: &str, dims: &[i64]) {
        self.graph
            .output
            .push(value_info(tensor, DataType::Float, &fixed(dims)));
    }

    /// The finished model (IR version 8 — 10 from opset 21 on, as INT4 needs —, opset 17 unless
    /// [`Builder::opset`] says otherwise, plus the imported domains).
    pub fn finish(self) -> pb::ModelProto {
        let mut opset_import = vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: self.opset,
        }];
        opset_import.extend(
            self.domains
                .into_iter()
                .map(|(domain, version)| pb::OperatorSetIdProto { domain, version }),
        );
        pb::ModelProto {
            ir_version: if self.opset >= 21 { 10 } else { 8 },
            opset_import,
            producer_name: "cimopt-zoo".into(),
            producer_version: "1".into(),
            graph: Some(self.graph),
            ..Default::default()
        }
    }
}

/// An integer attribute.
pub fn attr_int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

/// A list-of-integers attribute.
pub fn attr_ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// A float attribute.
pub fn attr_float(name: &str, v: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}

/// A string attribute.
pub fn attr_str(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// Conv attributes as torchvision exports them: square kernel, symmetric pads.
pub fn conv_attrs(kernel: i64, stride: i64, pad: i64, group: i64) -> Vec<pb::AttributeProto> {
    vec![
        attr_ints("dilations", &[1, 1]),
        attr_int("group", group),
        attr_ints("kernel_shape", &[kernel, kernel]),
        attr_ints("pads", &[pad, pad, pad, pad]),
        attr_ints("strides", &[stride, stride]),
    ]
}
