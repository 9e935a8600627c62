//! The front end's errors. Each message is one paragraph that names the file, node or input;
//! names and paths are printed through [`display_name`](crate::display_name), so control
//! characters in them never reach a terminal raw. The fields keep the raw names.

use crate::names::{display_name as n, display_path};
use std::path::PathBuf;
use thiserror::Error;

/// Why an ONNX model could not be lowered to layers.
#[derive(Debug, Error)]
pub enum FrontendError {
    /// The model file does not exist.
    #[error("ONNX model `{}` does not exist; check the path", display_path(path))]
    NotFound { path: PathBuf },

    /// The path names a directory.
    #[error("`{}` is a directory, not an ONNX model file", display_path(path))]
    NotAFile { path: PathBuf },

    /// The model file exists but could not be read. The message includes the OS error, so
    /// `error` is not also the error's `source()` (which would print it twice).
    #[error("cannot read ONNX model `{}`: {error}", display_path(path))]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    /// The bytes are not an ONNX `ModelProto` (not ONNX at all, corrupt or truncated).
    #[error(
        "`{}` is not a valid ONNX model ({reason}); the file may be corrupt, truncated or not \
         ONNX at all",
        display_path(path)
    )]
    NotOnnx { path: PathBuf, reason: String },

    /// The graph is malformed (a cycle, a tensor nobody produces, tract cannot parse a node).
    #[error("ONNX model `{}` is malformed: {reason}", display_path(path))]
    InvalidModel { path: PathBuf, reason: String },

    /// A graph input has a symbolic (or missing) dimension and no concrete shape was given.
    #[error(
        "input `{}` of `{}` has a symbolic dimension {dim} (`{}`) in its shape \
         [{}]; give the input a concrete shape with `--input-shape {}={}` \
         (dimensions separated by `x`, e.g. `--input-shape NAME=1x3x224x224`; repeat the \
         option for each input with symbolic dimensions)",
        n(input),
        display_path(path),
        n(dim_name),
        n(shape),
        n(input),
        example_shape(shape)
    )]
    SymbolicInput {
        path: PathBuf,
        input: String,
        /// Position of the symbolic dimension in the input's shape.
        dim: usize,
        /// The `dim_param` name (`?` when the dimension is missing altogether).
        dim_name: String,
        /// The declared shape, symbolic dims by name (`batch, 3, 224, 224`).
        shape: String,
    },

    /// A data input declares a dimension ≤ 0 and no concrete shape was given.
    #[error(
        "input `{}` of `{}` declares dimension {dim} as {value} in its shape [{}]; give the \
         input a concrete shape with `--input-shape {}={}`",
        n(input),
        display_path(path),
        n(shape),
        n(input),
        example_shape(shape)
    )]
    BadDeclaredDim {
        path: PathBuf,
        input: String,
        /// Position of the dimension in the input's shape.
        dim: usize,
        /// Its declared value (0 or negative).
        value: i64,
        /// The declared shape (`1, 0, 224, 224`).
        shape: String,
    },

    /// A weight given as a graph input (a graph input that is not a data input: see the crate
    /// docs) whose declared type or shape is not concrete. `node` is the first node reading
    /// it; `reason` says what is missing (`has no shape`, `has dimension -4 at position 1`).
    #[error(
        "weight `{}` of node `{}` in `{}` {reason}; a weight given as a graph input needs its \
         full, concrete shape in the model (`--input-shape` is for data inputs)",
        n(weight),
        n(node),
        display_path(path)
    )]
    WeightShape {
        path: PathBuf,
        weight: String,
        node: String,
        reason: String,
    },

    /// An `input_shapes` entry names no graph input of the model.
    #[error(
        "`{}` has no graph input named `{}` (inputs that take a shape: {}); fix the name \
         given to --input-shape",
        display_path(path),
        n(input),
        list_names(known)
    )]
    UnknownInput {
        path: PathBuf,
        input: String,
        known: Vec<String>,
    },

    /// An `input_shapes` entry does not fit the input (wrong rank, zero dimension).
    #[error(
        "bad shape given for input `{}` of `{}`: {reason}",
        n(input),
        display_path(path)
    )]
    BadInputShape {
        path: PathBuf,
        input: String,
        reason: String,
    },

    /// tract could not infer the shape of a tensor a layer needs.
    #[error(
        "cannot infer the shape of tensor `{}` (input of node `{}`) in `{}`: {reason}",
        n(tensor),
        n(node),
        display_path(path)
    )]
    ShapeInference {
        path: PathBuf,
        node: String,
        tensor: String,
        reason: String,
    },

    /// A compute node whose attributes or shapes are inconsistent.
    #[error(
        "node `{}` ({}) of `{}` is invalid: {reason}",
        n(node),
        n(op),
        display_path(path)
    )]
    InvalidNode {
        path: PathBuf,
        node: String,
        op: String,
        reason: String,
    },

    /// A tensor with more elements than [`MAX_TENSOR_ELEMENTS`](crate::MAX_TENSOR_ELEMENTS):
    /// a declared graph input or initializer (`node` is `None`), or the output of a node.
    #[error(
        "tensor `{}`{} in `{}` is too large: {reason}",
        n(tensor),
        node.as_ref().map(|k| format!(" (output of node `{}`)", n(k))).unwrap_or_default(),
        display_path(path)
    )]
    TooLarge {
        path: PathBuf,
        tensor: String,
        node: Option<String>,
        reason: String,
    },

    /// A compute node whose workload breaks the IR's limits (extents up to
    /// [`MAX_EXTENT`](cimopt_ir::workload::MAX_EXTENT), at most
    /// [`MAX_MACS`](cimopt_ir::workload::MAX_MACS) per layer): every problem
    /// [`Workload::shape_errors`](cimopt_ir::Workload::shape_errors) found.
    #[error(
        "node `{}` ({}) of `{}` cannot be a CIM layer: {}",
        n(node),
        n(op),
        display_path(path),
        problems.join("; ")
    )]
    LayerLimits {
        path: PathBuf,
        node: String,
        op: String,
        problems: Vec<String>,
    },

    /// A compute node the front end cannot lower (unknown kernel shape, 3-D conv,
    /// ConvTranspose, fused attention, an unknown operator that looks like a convolution or
    /// a matrix product...). `op` is the node's operator, with its domain when that is not
    /// ONNX's (`com.example.MyMatMul`).
    #[error(
        "unsupported compute node `{}` ({}) in `{}`: {reason}",
        n(node),
        n(op),
        display_path(path)
    )]
    Unsupported {
        path: PathBuf,
        node: String,
        op: String,
        reason: String,
    },
}

impl FrontendError {
    /// For an error about one compute node that cannot be lowered (invalid, unsupported,
    /// unknown shapes, over the IR's limits): why, without the file and node names — what
    /// [`SkippedCompute::reason`](crate::SkippedCompute::reason) records.
    pub(crate) fn node_reason(&self) -> Option<String> {
        Some(match self {
            FrontendError::InvalidNode { reason, .. }
            | FrontendError::Unsupported { reason, .. } => reason.clone(),
            FrontendError::ShapeInference { tensor, reason, .. } => format!(
                "cannot infer the shape of its input `{}`: {reason}",
                n(tensor)
            ),
            FrontendError::LayerLimits { problems, .. } => problems.join("; "),
            FrontendError::WeightShape { weight, reason, .. } => {
                format!("its weight `{}` {reason}", n(weight))
            }
            _ => return None,
        })
    }
}

/// `a`, `b`, ... — at most eight names.
fn list_names(names: &[String]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    let mut s = names
        .iter()
        .take(8)
        .map(|k| format!("`{}`", n(k)))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 8 {
        s.push_str(&format!(" and {} more", names.len() - 8));
    }
    s
}

/// A concrete shape to suggest: the declared one with every symbolic dim replaced by 1.
fn example_shape(declared: &str) -> String {
    if declared.starts_with("unknown") {
        return "1x3x224x224".into();
    }
    declared
        .split(", ")
        .map(|d| {
            if d.parse::<u64>().is_ok_and(|v| v > 0) {
                d
            } else {
                "1"
            }
        })
        .collect::<Vec<_>>()
        .join("x")
}
