//! The model's run-time dataflow: every tensor computed at run time (the model's data inputs
//! and everything derived from them) and every node that reads or writes one, in execution
//! order. A memory plan places these tensors; constants (weights, shapes, quantization
//! parameters) are not in it.

use std::collections::HashMap;

/// A node of the model as the dataflow sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowNodeKind {
    /// A CIM layer: index into `Model::layers`.
    Layer(usize),
    /// A non-CIM operator: index into `Model::other_ops`.
    Op(usize),
    /// A compute node the front end did not lower (`keep_going`): index into
    /// `Model::skipped`. Nothing is known of how it accesses memory.
    Skipped(usize),
}

/// One node and the run-time tensors it reads and writes (indices into [`Flow::tensors`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowNode {
    pub kind: FlowNodeKind,
    /// The ONNX op type.
    pub op_type: String,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
}

/// A tensor computed at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowTensor {
    /// The ONNX tensor name.
    pub name: String,
    /// Elements (0 when shape inference left it unknown).
    pub elements: u64,
    /// A data input of the model (it arrives in DRAM).
    pub model_input: bool,
    /// An output of the model (it must end in DRAM).
    pub model_output: bool,
}

/// What a CIM layer reads and writes at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerIo {
    /// The data operand (the layer's `I`).
    pub input: usize,
    /// The `W` operand when it is computed at run time (attention's `Kᵀ`, `V`); `None` for
    /// constant weights.
    pub weight: Option<usize>,
    /// The output (the layer's `O`).
    pub output: usize,
}

/// The model's run-time dataflow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    pub tensors: Vec<FlowTensor>,
    /// Every top-level node that touches a run-time tensor, in execution (topological) order.
    pub nodes: Vec<FlowNode>,
    /// `layer_io[i]`: layer `i`'s tensors.
    pub layer_io: Vec<LayerIo>,
}

/// Builds a [`Flow`] node by node, in execution order.
#[derive(Default)]
pub(crate) struct FlowBuilder {
    flow: Flow,
    by_name: HashMap<String, usize>,
}

impl FlowBuilder {
    /// The index of tensor `name`, registering it the first time.
    pub fn tensor(&mut self, name: &str, elements: u64) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let i = self.flow.tensors.len();
        self.flow.tensors.push(FlowTensor {
            name: name.to_string(),
            elements,
            model_input: false,
            model_output: false,
        });
        self.by_name.insert(name.to_string(), i);
        i
    }

    pub fn model_input(&mut self, name: &str, elements: u64) {
        let i = self.tensor(name, elements);
        self.flow.tensors[i].model_input = true;
    }

    /// The index of a tensor already registered.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn node(
        &mut self,
        kind: FlowNodeKind,
        op_type: &str,
        inputs: Vec<usize>,
        outputs: Vec<usize>,
    ) {
        self.flow.nodes.push(FlowNode {
            kind,
            op_type: op_type.to_string(),
            inputs,
            outputs,
        });
    }

    pub fn layer(&mut self, io: LayerIo) {
        self.flow.layer_io.push(io);
    }

    pub fn finish(mut self, model_outputs: &[String]) -> Flow {
        for name in model_outputs {
            if let Some(&i) = self.by_name.get(name) {
                self.flow.tensors[i].model_output = true;
            }
        }
        self.flow
    }
}
