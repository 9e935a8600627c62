//! Lowering of one Conv / Gemm / MatMul node to a workload.

use crate::{FrontendError, Shapes, display_name};
use cimopt_ir::workload::MAX_EXTENT;
use cimopt_ir::{OpKind, WeightKind, Workload};
use std::collections::HashSet;
use std::path::Path;
use tract_onnx::pb;

/// What the lowering needs from the model.
pub(crate) struct Ctx<'a> {
    pub path: &'a Path,
    pub shapes: &'a Shapes,
    pub constant: &'a HashSet<String>,
}

pub(crate) struct Lowered {
    pub workload: Workload,
    pub has_bias: bool,
    /// Input slots that carry run-time data (for the layer graph).
    pub data_slots: Vec<usize>,
}

/// Compute operators the front end does not lower: loading a model with one of them fails
/// rather than silently dropping its MACs.
const UNSUPPORTED_COMPUTE: &[&str] = &[
    "ConvTranspose",
    "ConvInteger",
    "QLinearConv",
    "MatMulInteger",
    "QLinearMatMul",
    "Einsum",
];

pub(crate) fn is_standard_domain(node: &pb::NodeProto) -> bool {
    node.domain.is_empty() || node.domain == "ai.onnx"
}

/// Lowers a compute node; `None` for every other node.
pub(crate) fn lower(
    ctx: &Ctx,
    node: &pb::NodeProto,
    name: &str,
) -> Result<Option<Lowered>, FrontendError> {
    match node.op_type.as_str() {
        "Conv" => conv(ctx, node, name).map(Some),
        "Gemm" => gemm(ctx, node, name).map(Some),
        "MatMul" => matmul(ctx, node, name).map(Some),
        op if UNSUPPORTED_COMPUTE.contains(&op) => Err(FrontendError::Unsupported {
            node: name.to_string(),
            reason: format!(
                "{op} is a compute operator the front end cannot lower yet (only Conv, Gemm and MatMul are); \
                 export the model with those operators instead"
            ),
        }),
        _ => Ok(None),
    }
}

struct NodeCtx<'a> {
    ctx: &'a Ctx<'a>,
    node: &'a pb::NodeProto,
    name: &'a str,
}

impl NodeCtx<'_> {
    fn invalid(&self, reason: impl Into<String>) -> FrontendError {
        FrontendError::InvalidNode {
            path: self.ctx.path.to_path_buf(),
            node: self.name.to_string(),
            op: self.node.op_type.clone(),
            reason: reason.into(),
        }
    }

    fn input(&self, slot: usize) -> Option<&str> {
        self.node
            .input
            .get(slot)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    fn required_input(&self, slot: usize, what: &str) -> Result<&str, FrontendError> {
        self.input(slot)
            .ok_or_else(|| self.invalid(format!("its {what} (input {slot}) is missing")))
    }

    fn shape(&self, tensor: &str) -> Result<Vec<u64>, FrontendError> {
        self.ctx
            .shapes
            .get(tensor)
            .cloned()
            .ok_or_else(|| FrontendError::ShapeInference {
                path: self.ctx.path.to_path_buf(),
                node: self.name.to_string(),
                tensor: tensor.to_string(),
                reason: match &self.ctx.shapes.analysis_error {
                    Some(e) => format!("tract's shape inference failed: {e}"),
                    None => "tract's shape inference left it unknown".to_string(),
                },
            })
    }

    fn attr(&self, name: &str) -> Option<&pb::AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    fn attr_int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).map(|a| a.i).unwrap_or(default)
    }

    fn attr_ints(&self, name: &str) -> Option<&[i64]> {
        self.attr(name).map(|a| a.ints.as_slice())
    }

    fn attr_str(&self, name: &str) -> Option<String> {
        self.attr(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    /// A list attribute of `n` non-negative values (`min` or more each), or `default`.
    fn attr_list(
        &self,
        name: &str,
        n: usize,
        default: u64,
        min: u64,
    ) -> Result<Vec<u64>, FrontendError> {
        let Some(v) = self.attr_ints(name) else {
            return Ok(vec![default; n]);
        };
        if v.is_empty() {
            return Ok(vec![default; n]);
        }
        if v.len() != n {
            return Err(self.invalid(format!(
                "attribute `{name}` has {} values, expected {n}",
                v.len()
            )));
        }
        v.iter()
            .map(|&x| {
                if x < min as i64 {
                    Err(self.invalid(format!(
                        "attribute `{name}` has the value {x} (must be at least {min})"
                    )))
                } else {
                    Ok(x as u64)
                }
            })
            .collect()
    }

    /// Refuses a value above the IR's per-extent limit before it enters any arithmetic (so
    /// that window and padding sums cannot overflow), in the words of
    /// [`Workload::shape_errors`].
    fn within_limit(&self, field: &str, value: u64) -> Result<u64, FrontendError> {
        if value > MAX_EXTENT {
            Err(self.limits(format!(
                "{field} = {value} is larger than the limit {MAX_EXTENT}"
            )))
        } else {
            Ok(value)
        }
    }

    fn limits(&self, problem: String) -> FrontendError {
        FrontendError::LayerLimits {
            path: self.ctx.path.to_path_buf(),
            node: self.name.to_string(),
            op: self.node.op_type.clone(),
            problems: vec![problem],
        }
    }

    fn weight_kind(&self, tensor: &str) -> WeightKind {
        if self.ctx.constant.contains(tensor) {
            WeightKind::Constant
        } else {
            WeightKind::Activation
        }
    }
}

fn conv(ctx: &Ctx, node: &pb::NodeProto, name: &str) -> Result<Lowered, FrontendError> {
    let n = NodeCtx { ctx, node, name };
    let x_name = n.required_input(0, "data input X")?;
    let w_name = n.required_input(1, "kernel W")?;
    let x = n.shape(x_name)?;
    let Some(w) = ctx.shapes.get(w_name).cloned() else {
        return Err(FrontendError::Unsupported {
            node: name.to_string(),
            reason: format!(
                "the shape of its kernel `{}` is not known (the kernel must be an initializer or a \
                 graph input with a concrete shape)",
                display_name(w_name)
            ),
        });
    };
    if x.len() != w.len() {
        return Err(n.invalid(format!(
            "input rank {} differs from kernel rank {}",
            x.len(),
            w.len()
        )));
    }
    let spatial = match x.len() {
        3 => 1,
        4 => 2,
        r if r > 4 => {
            return Err(FrontendError::Unsupported {
                node: name.to_string(),
                reason: format!(
                    "{}-D convolutions are not supported (only 1-D and 2-D)",
                    r - 2
                ),
            });
        }
        r => {
            return Err(n.invalid(format!(
                "its input has rank {r}; a Conv input needs rank 3 or 4"
            )));
        }
    };
    let (b, cin) = (x[0], x[1]);
    let (m, cpg) = (w[0], w[1]);
    let in_sp = &x[2..];
    let k_sp = &w[2..];
    // Every value that enters a product or a sum below is at most MAX_EXTENT (2^31 − 1), so
    // no window, padded extent or channel product can overflow 64 bits.
    let axis = |names: [&'static str; 2], i: usize| names[2 - spatial + i];
    for i in 0..spatial {
        n.within_limit(axis(["H", "W"], i), in_sp[i])?;
        n.within_limit(axis(["R", "S"], i), k_sp[i])?;
    }
    n.within_limit("C", cpg)?;
    if let Some(ks) = n.attr_ints("kernel_shape")
        && !ks.is_empty()
        && ks.iter().map(|&v| v as u64).ne(k_sp.iter().copied())
    {
        return Err(n.invalid(format!(
            "attribute kernel_shape {ks:?} disagrees with the kernel's shape {w:?}"
        )));
    }
    let group = n.attr_int("group", 1);
    if group < 1 {
        return Err(n.invalid(format!("attribute group is {group}")));
    }
    let group = n.within_limit("G", group as u64)?;
    if cpg == 0 || cpg * group != cin {
        return Err(n.invalid(format!(
            "input has {cin} channels but the kernel {w:?} with group {group} expects {}",
            cpg * group
        )));
    }
    if m % group != 0 {
        return Err(n.invalid(format!(
            "{m} output channels are not divisible by group {group}"
        )));
    }
    let strides = n.attr_list("strides", spatial, 1, 1)?;
    let dilations = n.attr_list("dilations", spatial, 1, 1)?;
    for i in 0..spatial {
        let at = 2 - spatial + i;
        n.within_limit(&format!("stride[{at}]"), strides[i])?;
        n.within_limit(&format!("dilation[{at}]"), dilations[i])?;
    }
    let auto_pad = n.attr_str("auto_pad").unwrap_or_default();
    let mut pads = vec![0u64; 2 * spatial]; // [begin..., end...]
    match auto_pad.as_str() {
        "" | "NOTSET" => pads = n.attr_list("pads", 2 * spatial, 0, 0)?,
        "VALID" => {}
        "SAME_UPPER" | "SAME_LOWER" => {
            for i in 0..spatial {
                let out = in_sp[i].div_ceil(strides[i]);
                let window = (k_sp[i].saturating_sub(1)) * dilations[i] + 1;
                let total =
                    ((out.saturating_sub(1)) * strides[i] + window).saturating_sub(in_sp[i]);
                let (begin, end) = if auto_pad == "SAME_UPPER" {
                    (total / 2, total - total / 2)
                } else {
                    (total - total / 2, total / 2)
                };
                pads[i] = begin;
                pads[spatial + i] = end;
            }
        }
        other => return Err(n.invalid(format!("unknown auto_pad `{}`", display_name(other)))),
    }
    for (i, &p) in pads.iter().enumerate() {
        n.within_limit(&format!("pads[{i}]"), p)?;
    }
    let mut out_sp = Vec::with_capacity(spatial);
    for i in 0..spatial {
        if k_sp[i] == 0 {
            return Err(n.invalid(format!("kernel {w:?} has a zero spatial dimension")));
        }
        let window = (k_sp[i] - 1) * dilations[i] + 1;
        let padded = in_sp[i] + pads[i] + pads[spatial + i];
        if padded < window {
            return Err(n.invalid(format!(
                "the kernel window {window} is larger than the padded input extent {padded} along spatial axis {i}"
            )));
        }
        out_sp.push((padded - window) / strides[i] + 1);
    }
    // Cross-check with tract's inferred output shape.
    if let Some(y) = node.output.first().and_then(|o| ctx.shapes.get(o)) {
        let expect: Vec<u64> = [b, m].into_iter().chain(out_sp.iter().copied()).collect();
        if *y != expect {
            return Err(n.invalid(format!(
                "tract infers the output shape {y:?} but its attributes give {expect:?}"
            )));
        }
    }
    let (h, wd, r, s, p, q, stride, pad, dilation) = if spatial == 1 {
        (
            1,
            in_sp[0],
            1,
            k_sp[0],
            1,
            out_sp[0],
            [1, strides[0]],
            [0, pads[0], 0, pads[1]],
            [1, dilations[0]],
        )
    } else {
        (
            in_sp[0],
            in_sp[1],
            k_sp[0],
            k_sp[1],
            out_sp[0],
            out_sp[1],
            [strides[0], strides[1]],
            [pads[0], pads[1], pads[2], pads[3]],
            [dilations[0], dilations[1]],
        )
    };
    let weight_kind = n.weight_kind(w_name);
    let mut data_slots = vec![0];
    if weight_kind == WeightKind::Activation {
        data_slots.push(1);
    }
    Ok(Lowered {
        workload: Workload {
            op: OpKind::Conv,
            weight_kind,
            r,
            s,
            p,
            q,
            c: cpg,
            k: m / group,
            g: group,
            b,
            h,
            w: wd,
            stride,
            pad,
            dilation,
        },
        has_bias: n.input(2).is_some(),
        data_slots,
    })
}

/// The workload of a matrix product: `P` rows, reduction `C`, `K` output features, `G` groups.
fn matrix_workload(
    op: OpKind,
    weight_kind: WeightKind,
    p: u64,
    c: u64,
    k: u64,
    g: u64,
) -> Workload {
    Workload {
        op,
        weight_kind,
        r: 1,
        s: 1,
        p,
        q: 1,
        c,
        k,
        g,
        b: 1,
        h: p,
        w: 1,
        stride: [1, 1],
        pad: [0; 4],
        dilation: [1, 1],
    }
}

fn gemm(ctx: &Ctx, node: &pb::NodeProto, name: &str) -> Result<Lowered, FrontendError> {
    let n = NodeCtx { ctx, node, name };
    let a_name = n.required_input(0, "input A")?;
    let b_name = n.required_input(1, "input B")?;
    let a = n.shape(a_name)?;
    let b = n.shape(b_name)?;
    if a.len() != 2 || b.len() != 2 {
        return Err(n.invalid(format!("Gemm needs 2-D inputs, got A {a:?} and B {b:?}")));
    }
    let (m, ka) = if n.attr_int("transA", 0) != 0 {
        (a[1], a[0])
    } else {
        (a[0], a[1])
    };
    let (kb, k) = if n.attr_int("transB", 0) != 0 {
        (b[1], b[0])
    } else {
        (b[0], b[1])
    };
    if ka != kb {
        return Err(n.invalid(format!(
            "A {a:?} and B {b:?} disagree on the reduction length ({ka} vs {kb})"
        )));
    }
    let weight_kind = n.weight_kind(b_name);
    let mut data_slots = vec![0];
    if weight_kind == WeightKind::Activation {
        data_slots.push(1);
    }
    Ok(Lowered {
        workload: matrix_workload(OpKind::Gemm, weight_kind, m, ka, k, 1),
        has_bias: n.input(2).is_some(),
        data_slots,
    })
}

fn matmul(ctx: &Ctx, node: &pb::NodeProto, name: &str) -> Result<Lowered, FrontendError> {
    let n = NodeCtx { ctx, node, name };
    let a_name = n.required_input(0, "input A")?;
    let b_name = n.required_input(1, "input B")?;
    let mut a = n.shape(a_name)?;
    let mut b = n.shape(b_name)?;
    if a.is_empty() || b.is_empty() {
        return Err(n.invalid(format!(
            "MatMul needs inputs of rank 1 or more, got A {a:?} and B {b:?}"
        )));
    }
    if a.len() == 1 {
        a.insert(0, 1);
    }
    if b.len() == 1 {
        b.push(1);
    }
    let (m, ka) = (a[a.len() - 2], a[a.len() - 1]);
    let (kb, k) = (b[b.len() - 2], b[b.len() - 1]);
    if ka != kb {
        return Err(n.invalid(format!(
            "A {a:?} and B {b:?} disagree on the reduction length ({ka} vs {kb})"
        )));
    }
    let a_batch = &a[..a.len() - 2];
    let b_batch = &b[..b.len() - 2];
    let rank = a_batch.len().max(b_batch.len());
    let (mut fold, mut g) = (1u64, 1u64);
    for i in 0..rank {
        let da = if i + a_batch.len() >= rank {
            a_batch[i + a_batch.len() - rank]
        } else {
            1
        };
        let db = if i + b_batch.len() >= rank {
            b_batch[i + b_batch.len() - rank]
        } else {
            1
        };
        if da != db && da != 1 && db != 1 {
            return Err(n.invalid(format!(
                "batch dims of A {a:?} and B {b:?} do not broadcast"
            )));
        }
        let too_large = |what: &str| {
            n.limits(format!(
                "{what}, the product of the batch dims of A {a:?} and B {b:?}, does not fit in 64 bits"
            ))
        };
        if db == 1 {
            // The same B matrix for every slice: more rows.
            fold = fold.checked_mul(da).ok_or_else(|| too_large("P"))?;
        } else {
            // A different B matrix per slice: a group.
            g = g.checked_mul(db).ok_or_else(|| too_large("G"))?;
        }
    }
    let weight_kind = n.weight_kind(b_name);
    let mut data_slots = vec![0];
    if weight_kind == WeightKind::Activation {
        data_slots.push(1);
    }
    Ok(Lowered {
        workload: matrix_workload(
            OpKind::MatMul,
            weight_kind,
            m.checked_mul(fold).ok_or_else(|| {
                n.limits(format!(
                    "P, the rows of A {a:?} times its batch dims, does not fit in 64 bits"
                ))
            })?,
            ka,
            k,
            g,
        ),
        has_bias: false,
        data_slots,
    })
}
