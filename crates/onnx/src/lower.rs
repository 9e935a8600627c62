//! Lowering of one compute node (see [`ops::Kind`]) to a workload.

use crate::ops::{Estimate, Kind};
use crate::{FrontendError, Shapes, display_name, element_count};
use cimopt_ir::workload::{MAX_EXTENT, checked_product};
use cimopt_ir::{OpKind, WeightKind, Workload};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use tract_onnx::pb;

/// What the lowering needs from the model.
pub(crate) struct Ctx<'a> {
    pub path: &'a Path,
    pub shapes: &'a Shapes,
    pub constant: &'a HashSet<String>,
    /// Weight inputs whose declared shape is not concrete, with what is wrong
    /// ([`crate::weight_shape_reason`]).
    pub weight_problems: &'a HashMap<String, String>,
}

pub(crate) struct Lowered {
    pub workload: Workload,
    pub has_bias: bool,
    /// Input slots that carry run-time data (for the layer graph).
    pub data_slots: Vec<usize>,
}

/// Lowers a compute node of kind `kind`.
pub(crate) fn lower(
    ctx: &Ctx,
    node: &pb::NodeProto,
    name: &str,
    kind: Kind,
) -> Result<Lowered, FrontendError> {
    let n = NodeCtx { ctx, node, name };
    match kind {
        Kind::Conv { x, w, bias } => conv(&n, x, w, bias),
        Kind::Gemm { a, b, c } => gemm(&n, a, b, c),
        Kind::MatMul { a, b, bias, fused } => matmul(&n, a, b, bias, fused),
        Kind::MatMulNBits { fixed_bits } => matmul_nbits(&n, fixed_bits),
        Kind::Einsum => einsum(&n).and_then(|e| e.lowered(&n)),
    }
}

/// The MACs of a compute node that is not lowered, when its shapes tell.
pub(crate) fn estimate_macs(
    ctx: &Ctx,
    node: &pb::NodeProto,
    name: &str,
    estimate: Estimate,
) -> Option<u64> {
    let n = NodeCtx { ctx, node, name };
    let macs = |l: Result<Lowered, FrontendError>| {
        l.ok().and_then(|l| checked_product(&l.workload.extents()))
    };
    match estimate {
        Estimate::AsConv => macs(conv(&n, 0, 1, Some(2))),
        Estimate::AsMatMul => macs(matmul(&n, 0, 1, None, false)),
        Estimate::AsGemm => macs(gemm(&n, 0, 1, Some(2))),
        Estimate::ConvTranspose => {
            // X [N, C, spatial...], W [C, M/group, kernel...]: each input element meets
            // M/group · kernel weights.
            let x = ctx.shapes.get(n.input(0)?)?;
            let w = ctx.shapes.get(n.input(1)?)?;
            let per_input = element_count(w)?.checked_div(*w.first()?)?;
            element_count(x)?.checked_mul(per_input)
        }
        Estimate::Recurrent => {
            // X [seq, batch, input] (or [batch, seq, input]), W [dirs, gates·hidden, input],
            // R [dirs, gates·hidden, hidden]: every step multiplies by W and R.
            let x = ctx.shapes.get(n.input(0)?)?;
            let w = ctx.shapes.get(n.input(1)?)?;
            let r = ctx.shapes.get(n.input(2)?)?;
            let steps = x.first()?.checked_mul(*x.get(1)?)?;
            steps.checked_mul(element_count(w)?.checked_add(element_count(r)?)?)
        }
        Estimate::None => None,
    }
}

/// The MACs of an Einsum that is not a matrix product: one multiply-accumulate per
/// combination of its indices.
pub(crate) fn einsum_macs(ctx: &Ctx, node: &pb::NodeProto, name: &str) -> Option<u64> {
    let n = NodeCtx { ctx, node, name };
    let e = einsum(&n).ok()?;
    checked_product(&e.extents.values().copied().collect::<Vec<_>>())
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

    fn unsupported(&self, reason: impl Into<String>) -> FrontendError {
        FrontendError::Unsupported {
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
        // A weight input declared with a bad shape is refused even where tract inferred one.
        if let Some(reason) = self.ctx.weight_problems.get(tensor) {
            return Err(FrontendError::WeightShape {
                path: self.ctx.path.to_path_buf(),
                weight: tensor.to_string(),
                node: self.name.to_string(),
                reason: reason.clone(),
            });
        }
        if let Some(s) = self.ctx.shapes.get(tensor) {
            return Ok(s.clone());
        }
        Err(FrontendError::ShapeInference {
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

    /// The data slot, plus the weight slot when the weight is computed at run time.
    fn data_slots(&self, data: usize, weight: usize, kind: WeightKind) -> Vec<usize> {
        if kind == WeightKind::Activation {
            vec![data, weight]
        } else {
            vec![data]
        }
    }
}

/// A convolution: `x` `[B, C, (H,) W]`, kernel `w` `[K, C/group, (R,) S]`, with ONNX Conv's
/// attributes (QLinearConv, ConvInteger and FusedConv have the same ones).
fn conv(
    n: &NodeCtx,
    x_slot: usize,
    w_slot: usize,
    bias_slot: Option<usize>,
) -> Result<Lowered, FrontendError> {
    let (ctx, node) = (n.ctx, n.node);
    let op = node.op_type.as_str();
    let x_name = n.required_input(x_slot, "data input X")?;
    let w_name = n.required_input(w_slot, "kernel W")?;
    let x = n.shape(x_name)?;
    let w = match n.shape(w_name) {
        Ok(w) => w,
        Err(e @ FrontendError::WeightShape { .. }) => return Err(e),
        Err(_) => {
            return Err(n.unsupported(format!(
                "the shape of its kernel `{}` is not known (the kernel must be an initializer or a \
                 graph input with a concrete shape)",
                display_name(w_name)
            )));
        }
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
            return Err(n.unsupported(format!(
                "{}-D convolutions are not supported (only 1-D and 2-D)",
                r - 2
            )));
        }
        r => {
            return Err(n.invalid(format!(
                "its input has rank {r}; a {} input needs rank 3 or 4",
                display_name(op)
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
            bits: cimopt_ir::Bits::FLOAT,
        },
        has_bias: bias_slot.and_then(|b| n.input(b)).is_some(),
        data_slots: n.data_slots(x_slot, w_slot, weight_kind),
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
        bits: cimopt_ir::Bits::FLOAT,
    }
}

/// A Gemm (FusedGemm, QGemm): 2-D `A × B` with transA / transB.
fn gemm(
    n: &NodeCtx,
    a_slot: usize,
    b_slot: usize,
    c_slot: Option<usize>,
) -> Result<Lowered, FrontendError> {
    let a_name = n.required_input(a_slot, "input A")?;
    let b_name = n.required_input(b_slot, "input B")?;
    let a = n.shape(a_name)?;
    let b = n.shape(b_name)?;
    if a.len() != 2 || b.len() != 2 {
        return Err(n.invalid(format!(
            "{} needs 2-D inputs, got A {a:?} and B {b:?}",
            display_name(&n.node.op_type)
        )));
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
    Ok(Lowered {
        workload: matrix_workload(OpKind::Gemm, weight_kind, m, ka, k, 1),
        has_bias: c_slot.and_then(|c| n.input(c)).is_some(),
        data_slots: n.data_slots(a_slot, b_slot, weight_kind),
    })
}

/// `A[.., M, K] × B[.., K, N]` with batch dims broadcast (see the crate docs); `fused` reads
/// FusedMatMul's transA / transB (transBatchA / transBatchB are refused).
fn matmul(
    n: &NodeCtx,
    a_slot: usize,
    b_slot: usize,
    bias_slot: Option<usize>,
    fused: bool,
) -> Result<Lowered, FrontendError> {
    let a_name = n.required_input(a_slot, "input A")?;
    let b_name = n.required_input(b_slot, "input B")?;
    let mut a = n.shape(a_name)?;
    let mut b = n.shape(b_name)?;
    if a.is_empty() || b.is_empty() {
        return Err(n.invalid(format!(
            "{} needs inputs of rank 1 or more, got A {a:?} and B {b:?}",
            display_name(&n.node.op_type)
        )));
    }
    let (mut trans_a, mut trans_b) = (false, false);
    if fused {
        for attr in ["transBatchA", "transBatchB"] {
            if n.attr_int(attr, 0) != 0 {
                return Err(n.unsupported(format!(
                    "attribute `{attr}` (a transposition of the batch dimensions) is not supported"
                )));
            }
        }
        trans_a = n.attr_int("transA", 0) != 0;
        trans_b = n.attr_int("transB", 0) != 0;
    }
    if a.len() == 1 {
        a.insert(0, 1);
    } else if trans_a {
        let r = a.len();
        a.swap(r - 2, r - 1);
    }
    if b.len() == 1 {
        b.push(1);
    } else if trans_b {
        let r = b.len();
        b.swap(r - 2, r - 1);
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
    let p = m.checked_mul(fold).ok_or_else(|| {
        n.limits(format!(
            "P, the rows of A {a:?} times its batch dims, does not fit in 64 bits"
        ))
    })?;
    let weight_kind = n.weight_kind(b_name);
    Ok(Lowered {
        workload: matrix_workload(OpKind::MatMul, weight_kind, p, ka, k, g),
        has_bias: bias_slot.and_then(|s| n.input(s)).is_some(),
        data_slots: n.data_slots(a_slot, b_slot, weight_kind),
    })
}

/// `com.microsoft` MatMulNBits (and MatMulBnb4): `A[.., K] × W` with `W` the `K × N` matrix
/// packed in B. Every batch dim of A folds into `P` (the weight is one 2-D matrix), as for a
/// MatMul by a `[K, N]` weight.
fn matmul_nbits(n: &NodeCtx, fixed_bits: Option<u32>) -> Result<Lowered, FrontendError> {
    let a_name = n.required_input(0, "input A")?;
    let b_name = n.required_input(1, "packed weight B")?;
    let positive = |attr: &str| -> Result<u64, FrontendError> {
        match n.attr(attr) {
            Some(a) if a.i >= 1 => n.within_limit(attr, a.i as u64),
            Some(a) => Err(n.invalid(format!(
                "attribute `{attr}` is {} (it must be at least 1)",
                a.i
            ))),
            None => Err(n.invalid(format!("attribute `{attr}` is missing"))),
        }
    };
    let (k, nn, block) = (positive("K")?, positive("N")?, positive("block_size")?);
    let bits = match fixed_bits {
        Some(b) => b as u64,
        None => match n.attr_int("bits", 4) {
            b @ 1..=8 => b as u64,
            b => {
                return Err(n.invalid(format!(
                    "attribute `bits` is {b} (it must be between 1 and 8)"
                )));
            }
        },
    };
    let a = n.shape(a_name)?;
    let Some((&ka, rows)) = a.split_last() else {
        return Err(n.invalid("input A is a scalar"));
    };
    if ka != k {
        return Err(n.invalid(format!(
            "input A {a:?} has {ka} columns but attribute K is {k}"
        )));
    }
    if fixed_bits.is_none()
        && let Some(packed) = n.ctx.shapes.get(b_name)
    {
        let expect = vec![nn, k.div_ceil(block), (block * bits).div_ceil(8)];
        if *packed != expect {
            return Err(n.invalid(format!(
                "its packed weight B {packed:?} does not hold a {k}×{nn} matrix of {bits}-bit \
                 values in blocks of {block} ([N, ⌈K / block_size⌉, ⌈block_size · bits / 8⌉] = {expect:?})"
            )));
        }
    }
    let p = checked_product(rows).ok_or_else(|| {
        n.limits(format!(
            "P, the product of the leading dims of A {a:?}, does not fit in 64 bits"
        ))
    })?;
    let weight_kind = n.weight_kind(b_name);
    Ok(Lowered {
        workload: matrix_workload(OpKind::MatMul, weight_kind, p, k, nn, 1),
        has_bias: fixed_bits.is_none() && n.input(5).is_some(),
        data_slots: n.data_slots(0, 1, weight_kind),
    })
}

/// An index of an Einsum: a letter, or a position of the ellipsis (counted from the right).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Index {
    Letter(char),
    Ellipsis(usize),
}

/// A parsed two-operand Einsum.
struct Einsum {
    /// The indices of each operand, in order.
    terms: [Vec<Index>; 2],
    output: Vec<Index>,
    /// The extent of every index (broadcast ellipsis dims: the larger).
    extents: BTreeMap<Index, u64>,
    /// Each operand's extent of each of its indices.
    operand_extents: [BTreeMap<Index, u64>; 2],
}

fn einsum(n: &NodeCtx) -> Result<Einsum, FrontendError> {
    let eq: String = n
        .attr_str("equation")
        .ok_or_else(|| n.invalid("attribute `equation` is missing"))?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bad = |why: &str| n.invalid(format!("equation `{}` {why}", display_name(&eq)));
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let operands: Vec<&str> = lhs.split(',').collect();
    if operands.len() != 2 {
        return Err(bad("does not have two operands"));
    }
    let letters = |term: &str| -> Result<(Vec<char>, Option<usize>), FrontendError> {
        // The letters of a term and where its ellipsis sits among them.
        let mut out = Vec::new();
        let mut ellipsis = None;
        let mut rest = term;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("...") {
                if ellipsis.is_some() {
                    return Err(bad("has two ellipses in one term"));
                }
                ellipsis = Some(out.len());
                rest = r;
            } else {
                let c = rest.chars().next().expect("non-empty");
                if !c.is_ascii_alphabetic() {
                    return Err(bad("has a character that is neither a letter nor `...`"));
                }
                out.push(c);
                rest = &rest[1..];
            }
        }
        Ok((out, ellipsis))
    };
    let mut terms: [Vec<Index>; 2] = [Vec::new(), Vec::new()];
    let mut operand_extents: [BTreeMap<Index, u64>; 2] = [BTreeMap::new(), BTreeMap::new()];
    for (i, term) in operands.iter().enumerate() {
        let name = n.required_input(i, "operand")?;
        let shape = n.shape(name)?;
        let (chars, ellipsis) = letters(term)?;
        let ell_rank = match ellipsis {
            Some(_) => shape
                .len()
                .checked_sub(chars.len())
                .ok_or_else(|| bad("has more letters than an operand has dims"))?,
            None if shape.len() == chars.len() => 0,
            None => return Err(bad("does not match the rank of its operands")),
        };
        let mut indices: Vec<Index> = chars.iter().map(|&c| Index::Letter(c)).collect();
        if let Some(at) = ellipsis {
            let ell = (0..ell_rank).rev().map(Index::Ellipsis);
            indices.splice(at..at, ell);
        }
        for (index, &extent) in indices.iter().zip(&shape) {
            if operand_extents[i].insert(*index, extent).is_some() {
                return Err(n.unsupported(format!(
                    "equation `{}` repeats an index in one operand (a diagonal), not a matrix product",
                    display_name(&eq)
                )));
            }
        }
        terms[i] = indices;
    }
    let output: Vec<Index> = match rhs {
        Some(r) => {
            let (chars, ellipsis) = letters(r)?;
            let ell_rank = (0..2)
                .map(|i| {
                    terms[i]
                        .iter()
                        .filter(|x| matches!(x, Index::Ellipsis(_)))
                        .count()
                })
                .max()
                .unwrap_or(0);
            let mut out: Vec<Index> = chars.iter().map(|&c| Index::Letter(c)).collect();
            if let Some(at) = ellipsis {
                out.splice(at..at, (0..ell_rank).rev().map(Index::Ellipsis));
            }
            out
        }
        None => {
            // Implicit output: the ellipsis, then the letters used once, in alphabetical order.
            let mut once: Vec<char> = Vec::new();
            for c in ('A'..='Z').chain('a'..='z') {
                let uses = terms
                    .iter()
                    .flatten()
                    .filter(|x| **x == Index::Letter(c))
                    .count();
                if uses == 1 {
                    once.push(c);
                }
            }
            let ell_rank = terms
                .iter()
                .map(|t| t.iter().filter(|x| matches!(x, Index::Ellipsis(_))).count())
                .max()
                .unwrap_or(0);
            (0..ell_rank)
                .rev()
                .map(Index::Ellipsis)
                .chain(once.into_iter().map(Index::Letter))
                .collect()
        }
    };
    let mut extents: BTreeMap<Index, u64> = BTreeMap::new();
    for operand in &operand_extents {
        for (&index, &e) in operand {
            let entry = extents.entry(index).or_insert(e);
            if *entry != e {
                let broadcast = matches!(index, Index::Ellipsis(_)) && (*entry == 1 || e == 1);
                if !broadcast {
                    return Err(bad("gives an index two different extents"));
                }
                *entry = (*entry).max(e);
            }
        }
    }
    for index in &output {
        if !extents.contains_key(index) {
            return Err(bad("has an output index no operand has"));
        }
    }
    Ok(Einsum {
        terms,
        output,
        extents,
        operand_extents,
    })
}

impl Einsum {
    /// The matrix product this Einsum is, with the constant operand (if exactly one is) as
    /// the weight: indices in both operands and the output are batch dims (folded into `P`
    /// where the weight has extent 1, else groups, as for MatMul), indices of the data operand
    /// and the output are rows, of the weight and the output columns, of both operands only the
    /// reduction. Refused otherwise (an index of one operand only that the output lacks, no
    /// reduction at all).
    fn lowered(&self, n: &NodeCtx) -> Result<Lowered, FrontendError> {
        let names = [
            n.required_input(0, "operand")?,
            n.required_input(1, "operand")?,
        ];
        let constant = [0, 1].map(|i| n.weight_kind(names[i]) == WeightKind::Constant);
        // The weight is the second operand unless only the first is constant.
        let (data, weight) = if constant[0] && !constant[1] {
            (1, 0)
        } else {
            (0, 1)
        };
        let not_matmul = |why: &str| {
            n.unsupported(format!(
                "this Einsum is not a matrix product: {why} (MACs {})",
                checked_product(&self.extents.values().copied().collect::<Vec<_>>())
                    .map_or("beyond 64 bits".to_string(), |m| m.to_string())
            ))
        };
        let (mut p, mut c, mut k, mut g) = (1u64, 1u64, 1u64, 1u64);
        let mut reductions = 0;
        let mul = |acc: &mut u64, v: u64| -> Result<(), FrontendError> {
            *acc = acc.checked_mul(v).ok_or_else(|| {
                n.limits("the product of its index extents does not fit in 64 bits".to_string())
            })?;
            Ok(())
        };
        for (&index, &extent) in &self.extents {
            let in_d = self.terms[data].contains(&index);
            let in_w = self.terms[weight].contains(&index);
            let in_out = self.output.contains(&index);
            match (in_d, in_w, in_out) {
                (true, true, true) => {
                    if self.operand_extents[weight][&index] == 1 {
                        mul(&mut p, extent)?;
                    } else {
                        mul(&mut g, extent)?;
                    }
                }
                (true, false, true) => mul(&mut p, extent)?,
                (false, true, true) => mul(&mut k, extent)?,
                (true, true, false) => {
                    reductions += 1;
                    mul(&mut c, extent)?;
                }
                _ => {
                    return Err(not_matmul(
                        "an index of one operand is summed over without meeting the other",
                    ));
                }
            }
        }
        if reductions == 0 {
            return Err(not_matmul(
                "no index is summed over (an outer or element-wise product)",
            ));
        }
        let weight_kind = n.weight_kind(names[weight]);
        Ok(Lowered {
            workload: matrix_workload(OpKind::MatMul, weight_kind, p, c, k, g),
            has_bias: false,
            data_slots: n.data_slots(data, weight, weight_kind),
        })
    }
}
