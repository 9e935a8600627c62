//! A compute layer of a model: its workload plus where it came from.

use crate::workload::Workload;

/// One CIM layer, as the front end lowered it.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Position in the model's layer list (topological order).
    pub index: usize,
    /// Name of the ONNX node (or `<op>_<n>` when the node has none).
    pub name: String,
    /// The ONNX nodes folded into this layer (the compute node first).
    pub onnx_nodes: Vec<String>,
    pub workload: Workload,
    /// Index of the first layer with an identical workload (itself when it is the first).
    pub dedup_group: usize,
    /// Gemm with a bias term (`C` input) or a Conv with a bias: added by the vector unit.
    pub has_bias: bool,
}
