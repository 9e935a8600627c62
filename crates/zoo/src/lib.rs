//! The project's own network definitions, written as ONNX `ModelProto`s.
//!
//! Every model is shape-only: weights are graph inputs with full shapes and no data (the front
//! end needs shapes, not values), batch 1, opset 17. The CNNs follow torchvision's
//! architectures exactly, with batch norm folded into the convolutions as torchvision's ONNX
//! export does (so every Conv has a bias), and use torchvision's export node names
//! (`/layer1/layer1.0/conv1/Conv`). The output is deterministic: [`all`] returns the same
//! bytes on every call, which `models/*.onnx` are checked against.
//!
//! [`Builder`] is public so tests can build small models of their own (symbolic dims, odd
//! attributes).

mod nets;

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
        }
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

    /// The finished model (IR version 8, opset 17).
    pub fn finish(self) -> pb::ModelProto {
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
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
