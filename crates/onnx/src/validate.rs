//! Checks on the protobuf that must hold before tract sees the model: tract panics (or
//! computes nonsense) on a zero stride, a negative pad or lists of mismatched lengths.

use crate::{FrontendError, display_name, node_name};
use cimopt_ir::workload::MAX_EXTENT;
use std::path::Path;
use tract_onnx::pb;

/// Operators with convolution-style window attributes, and whether they take `group`.
fn window_op(node: &pb::NodeProto) -> Option<bool> {
    match node.op_type.as_str() {
        "Conv"
        | "ConvInteger"
        | "QLinearConv"
        | "ConvTranspose"
        | "FusedConv"
        | "NhwcConv"
        | "NhwcFusedConv"
        | "DeformConv"
        | "ConvTransposeWithDynamicPads" => Some(true),
        "MaxPool" | "AveragePool" | "LpPool" | "QLinearAveragePool" | "MaxUnpool" => Some(false),
        _ => None,
    }
}

/// Checks the window attributes of every convolution and pooling node: `strides`,
/// `dilations` and `kernel_shape` values in `1..=MAX_EXTENT`, `pads` (and ConvTranspose's
/// `output_padding`) in `0..=MAX_EXTENT`, `group` in `1..=MAX_EXTENT`, lists of consistent
/// lengths (`pads` twice the others) and a known `auto_pad`.
pub(crate) fn window_attributes(path: &Path, graph: &pb::GraphProto) -> Result<(), FrontendError> {
    for (i, node) in graph.node.iter().enumerate() {
        let Some(grouped) = window_op(node) else {
            continue;
        };
        let invalid = |reason: String| FrontendError::InvalidNode {
            path: path.to_path_buf(),
            node: node_name(node, i),
            op: node.op_type.clone(),
            reason,
        };
        let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
        // (name, minimum, spatial axes per value: 1, or 2 for begin and end pads)
        let mut rank: Option<(&str, usize)> = None;
        for (name, min, per_axis) in [
            ("kernel_shape", 1, 1),
            ("strides", 1, 1),
            ("dilations", 1, 1),
            ("pads", 0, 2),
            ("output_padding", 0, 1),
        ] {
            let Some(a) = attr(name) else { continue };
            let values = &a.ints;
            if values.is_empty() {
                continue;
            }
            for (pos, &v) in values.iter().enumerate() {
                if v < min {
                    return Err(invalid(format!(
                        "attribute `{name}` has the value {v} at position {pos} (it must be at least {min})"
                    )));
                }
                if v as u64 > MAX_EXTENT {
                    return Err(invalid(format!(
                        "attribute `{name}` has the value {v} at position {pos}, more than the limit {MAX_EXTENT}"
                    )));
                }
            }
            if values.len() % per_axis != 0 {
                return Err(invalid(format!(
                    "attribute `{name}` has {} values; it needs a begin and an end value per spatial axis",
                    values.len()
                )));
            }
            let axes = values.len() / per_axis;
            match rank {
                Some((other, r)) if r != axes => {
                    return Err(invalid(format!(
                        "attribute `{name}` has values for {axes} spatial axes but `{other}` for {r}"
                    )));
                }
                Some(_) => {}
                None => rank = Some((name, axes)),
            }
        }
        if let Some(a) = attr("group") {
            let g = a.i;
            if !grouped {
                // Pooling has no groups; tract ignores the attribute, so do we.
            } else if g < 1 {
                return Err(invalid(format!(
                    "attribute `group` is {g} (it must be at least 1)"
                )));
            } else if g as u64 > MAX_EXTENT {
                return Err(invalid(format!(
                    "attribute `group` is {g}, more than the limit {MAX_EXTENT}"
                )));
            }
        }
        if let Some(a) = attr("auto_pad") {
            let v = String::from_utf8_lossy(&a.s);
            if !matches!(
                v.as_ref(),
                "" | "NOTSET" | "VALID" | "SAME_UPPER" | "SAME_LOWER"
            ) {
                return Err(invalid(format!(
                    "attribute `auto_pad` is `{}` (NOTSET, VALID, SAME_UPPER or SAME_LOWER)",
                    display_name(&v)
                )));
            }
        }
    }
    Ok(())
}
