//! A layer's loop-nest workload (domain §2): the seven conv dimensions plus batch.

use cimopt_target::{Dim, Operand};
use std::fmt;

/// Which ONNX operator a layer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    Conv,
    Gemm,
    MatMul,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Conv => "Conv",
            OpKind::Gemm => "Gemm",
            OpKind::MatMul => "MatMul",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Conv" => Some(OpKind::Conv),
            "Gemm" => Some(OpKind::Gemm),
            "MatMul" => Some(OpKind::MatMul),
            _ => None,
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the "W" operand of a layer comes from. It changes the cost: a run-time operand has
/// to be written into the macros every time the layer runs, from data produced on chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightKind {
    /// A constant tensor (an initializer, or a graph input standing for one).
    Constant,
    /// A tensor computed at run time (attention's Q·Kᵀ and scores·V).
    Activation,
}

impl WeightKind {
    pub fn name(self) -> &'static str {
        match self {
            WeightKind::Constant => "constant",
            WeightKind::Activation => "activation",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "constant" => Some(WeightKind::Constant),
            "activation" => Some(WeightKind::Activation),
            _ => None,
        }
    }
}

/// Bits per element the model gives a layer's input, weights and output (an int8 or int4
/// tensor, `MatMulNBits`' `bits`); `None` for a float tensor, which runs at the target's
/// precision (`macro.precision`). What a layer runs at is
/// [`layer_precision`](crate::analysis::layer_precision).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bits {
    pub input: Option<u64>,
    pub weight: Option<u64>,
    pub output: Option<u64>,
}

impl Bits {
    /// A float layer: every operand at the target's precision.
    pub const FLOAT: Bits = Bits {
        input: None,
        weight: None,
        output: None,
    };
}

/// One compute layer as a loop nest.
///
/// Conv: output `[B, G·K, P, Q]` from input `[B, G·C, H, W]` and kernel `[G·K, C, R, S]`.
/// MatMul / Gemm are degenerate convs: `R = S = Q = 1`, `C` the reduction length, `K` the
/// output features, `P` the rows, `G` the broadcast batch when both operands are activations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Workload {
    pub op: OpKind,
    pub weight_kind: WeightKind,
    pub r: u64,
    pub s: u64,
    pub p: u64,
    pub q: u64,
    /// Input channels per group.
    pub c: u64,
    /// Output channels per group.
    pub k: u64,
    pub g: u64,
    pub b: u64,
    /// Unpadded input height and width.
    pub h: u64,
    pub w: u64,
    /// (height, width).
    pub stride: [u64; 2],
    /// (top, left, bottom, right), ONNX order `[x1_begin, x2_begin, x1_end, x2_end]`.
    pub pad: [u64; 4],
    /// (height, width).
    pub dilation: [u64; 2],
    /// The operands' bit widths as the model gives them.
    pub bits: Bits,
}

impl Workload {
    /// A float convolution of batch 1 with a square `r × r` kernel and a square `p × p`
    /// output, `c` input and `k` output channels per group, `g` groups, no padding or dilation;
    /// the input is as large as that needs. The shape tests, examples and probes build.
    pub fn square_conv(r: u64, p: u64, c: u64, k: u64, g: u64, stride: u64) -> Self {
        Workload {
            op: OpKind::Conv,
            weight_kind: WeightKind::Constant,
            r,
            s: r,
            p,
            q: p,
            c,
            k,
            g,
            b: 1,
            h: (p - 1) * stride + r,
            w: (p - 1) * stride + r,
            stride: [stride, stride],
            pad: [0; 4],
            dilation: [1, 1],
            bits: Bits::FLOAT,
        }
    }

    /// A float `m × kdim` times `kdim × n` product with constant weights.
    pub fn matmul(m: u64, kdim: u64, n: u64) -> Self {
        Workload {
            op: OpKind::MatMul,
            p: m,
            q: 1,
            h: m,
            w: 1,
            ..Workload::square_conv(1, 1, kdim, n, 1, 1)
        }
    }

    /// The trip count of one dimension.
    pub fn extent(&self, d: Dim) -> u64 {
        match d {
            Dim::R => self.r,
            Dim::S => self.s,
            Dim::P => self.p,
            Dim::Q => self.q,
            Dim::C => self.c,
            Dim::K => self.k,
            Dim::G => self.g,
            Dim::B => self.b,
        }
    }

    pub fn extents(&self) -> [u64; 8] {
        Dim::ALL.map(|d| self.extent(d))
    }

    pub fn macs(&self) -> u64 {
        self.extents().iter().product()
    }

    /// Number of weight elements (run-time ones included).
    pub fn weight_count(&self) -> u64 {
        self.r * self.s * self.c * self.k * self.g
    }

    /// Elements of `operand` touched by a tile with the given extent per dimension
    /// (indexed by [`Dim::index`]). Input rows follow the reference's rule: an `r`-row kernel
    /// tile and a `p`-row output tile read `min(win + (p−1)·min(stride, win), H)` rows, where
    /// `win = (r−1)·dilation + 1` is the rows the kernel tile spans.
    pub fn operand_elements(&self, extent: &[u64; 8], operand: Operand) -> u64 {
        let e = |d: Dim| extent[d.index()];
        match operand {
            Operand::I => {
                let h = input_extent(
                    e(Dim::P),
                    e(Dim::R),
                    self.stride[0],
                    self.dilation[0],
                    self.h,
                );
                let w = input_extent(
                    e(Dim::Q),
                    e(Dim::S),
                    self.stride[1],
                    self.dilation[1],
                    self.w,
                );
                h * w * e(Dim::C) * e(Dim::G) * e(Dim::B)
            }
            Operand::W => e(Dim::R) * e(Dim::S) * e(Dim::C) * e(Dim::K) * e(Dim::G),
            Operand::O => e(Dim::P) * e(Dim::Q) * e(Dim::K) * e(Dim::G) * e(Dim::B),
        }
    }

    /// Elements of the whole operand.
    pub fn operand_size(&self, operand: Operand) -> u64 {
        self.operand_elements(&self.extents(), operand)
    }
}

/// The largest extent of any loop dimension, input extent, stride, dilation or padding a
/// workload may have: `2^31 − 1`. Larger values come only from corrupt or hostile input, and
/// refusing them keeps every tile size and bit count inside 64-bit arithmetic.
pub const MAX_EXTENT: u64 = (1 << 31) - 1;

/// The most multiply-accumulates one layer may have: `2^48` (about 2.8·10^14, a thousand
/// times the largest layer of a GPT-3-sized model). With at most 64 bits per element, every
/// operand's size in bits then fits in 64 bits with room to spare.
pub const MAX_MACS: u64 = 1 << 48;

impl Workload {
    /// Why this workload cannot be a layer, if it cannot: dims and strides outside
    /// `1..=MAX_EXTENT`, more than [`MAX_MACS`] MACs or input elements, or dims that contradict each other (a
    /// convolution's output extent must follow from its input extent, kernel, stride, padding
    /// and dilation; a matrix product has `R = S = Q = 1`, `H = P`, `W = 1`, unit strides and
    /// no padding). Each message names the field.
    pub fn shape_errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        let named = [
            ("R", self.r),
            ("S", self.s),
            ("P", self.p),
            ("Q", self.q),
            ("C", self.c),
            ("K", self.k),
            ("G", self.g),
            ("B", self.b),
            ("H", self.h),
            ("W", self.w),
            ("stride[0]", self.stride[0]),
            ("stride[1]", self.stride[1]),
            ("dilation[0]", self.dilation[0]),
            ("dilation[1]", self.dilation[1]),
        ];
        for (name, v) in named {
            if v == 0 {
                out.push(format!(
                    "{name} is 0: every extent, stride and dilation must be ≥ 1"
                ));
            } else if v > MAX_EXTENT {
                out.push(format!(
                    "{name} = {v} is larger than the limit {MAX_EXTENT}"
                ));
            }
        }
        for (i, &p) in self.pad.iter().enumerate() {
            if p > MAX_EXTENT {
                out.push(format!(
                    "pad[{i}] = {p} is larger than the limit {MAX_EXTENT}"
                ));
            }
        }
        if !out.is_empty() {
            return out;
        }
        match checked_product(&self.extents()) {
            Some(m) if m <= MAX_MACS => {}
            _ => out.push(format!(
                "R·S·P·Q·C·K·G·B = {} MACs is more than the limit of {MAX_MACS} per layer",
                self.extents().iter().map(|&d| d as u128).product::<u128>()
            )),
        }
        // The weights and outputs are at most the MACs; the input can be larger (a dilated
        // kernel spans rows it does not multiply), so it has the same limit of its own.
        let rows = input_extent(self.p, self.r, self.stride[0], self.dilation[0], self.h);
        let cols = input_extent(self.q, self.s, self.stride[1], self.dilation[1], self.w);
        match checked_product(&[rows, cols, self.c, self.g, self.b]) {
            Some(n) if n <= MAX_MACS => {}
            _ => out.push(format!(
                "the input the kernel windows read, {rows}×{cols} × C·G·B = {} elements, is more than the limit of {MAX_MACS} per layer",
                [rows, cols, self.c, self.g, self.b].iter().map(|&d| d as u128).product::<u128>()
            )),
        }
        match self.op {
            OpKind::Conv => {
                for (axis, name, input, kernel, out_dim, kname, oname) in [
                    (0, "H", self.h, self.r, self.p, "R", "P"),
                    (1, "W", self.w, self.s, self.q, "S", "Q"),
                ] {
                    let window = (kernel - 1) * self.dilation[axis] + 1;
                    let padded = input + self.pad[axis] + self.pad[axis + 2];
                    let expected = if padded >= window {
                        Some((padded - window) / self.stride[axis] + 1)
                    } else {
                        None
                    };
                    if expected != Some(out_dim) {
                        out.push(format!(
                            "{oname} = {out_dim} does not follow from {name} = {input}, {kname} = {kernel}, stride {}, padding {} + {}, dilation {} (expected {})",
                            self.stride[axis],
                            self.pad[axis],
                            self.pad[axis + 2],
                            self.dilation[axis],
                            expected.map_or("no output: the kernel window is larger than the padded input".to_string(), |e| e.to_string())
                        ));
                    }
                }
            }
            OpKind::Gemm | OpKind::MatMul => {
                let op = self.op.name();
                if self.r != 1 || self.s != 1 || self.q != 1 {
                    out.push(format!(
                        "a {op} has R = S = Q = 1 (got R = {}, S = {}, Q = {})",
                        self.r, self.s, self.q
                    ));
                }
                if self.h != self.p || self.w != 1 {
                    out.push(format!(
                        "a {op} reads H = P rows and W = 1 column (got H = {}, W = {}, P = {})",
                        self.h, self.w, self.p
                    ));
                }
                if self.stride != [1, 1] || self.dilation != [1, 1] || self.pad != [0; 4] {
                    out.push(format!(
                        "a {op} has unit strides and dilations and no padding (got stride {:?}, dilation {:?}, pad {:?})",
                        self.stride, self.dilation, self.pad
                    ));
                }
            }
        }
        out
    }
}

/// The product of `values`, or `None` when it does not fit in 64 bits.
pub fn checked_product(values: &[u64]) -> Option<u64> {
    values.iter().try_fold(1u64, |acc, &v| acc.checked_mul(v))
}

fn input_extent(out: u64, kernel: u64, stride: u64, dilation: u64, input: u64) -> u64 {
    if out == 0 || kernel == 0 {
        return 0;
    }
    let window = (kernel - 1).saturating_mul(dilation).saturating_add(1);
    window
        .saturating_add((out - 1).saturating_mul(stride.min(window)))
        .min(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv3x3() -> Workload {
        Workload {
            op: OpKind::Conv,
            weight_kind: WeightKind::Constant,
            r: 3,
            s: 3,
            p: 56,
            q: 56,
            c: 64,
            k: 64,
            g: 1,
            b: 1,
            h: 56,
            w: 56,
            stride: [1, 1],
            pad: [1, 1, 1, 1],
            dilation: [1, 1],
            bits: Bits::FLOAT,
        }
    }

    #[test]
    fn whole_operand_sizes() {
        let w = conv3x3();
        // Input rows: 3 + 55·1 = 58, capped at H = 56 as in the reference.
        assert_eq!(w.operand_size(Operand::I), 56 * 56 * 64);
        assert_eq!(w.operand_size(Operand::W), 3 * 3 * 64 * 64);
        assert_eq!(w.operand_size(Operand::O), 56 * 56 * 64);
        assert_eq!(w.macs(), 3 * 3 * 56 * 56 * 64 * 64);
    }

    #[test]
    fn input_tile_rows_follow_the_reference_rule() {
        let w = conv3x3();
        let mut e = [1u64; 8];
        e[Dim::R.index()] = 3;
        e[Dim::P.index()] = 4;
        // 3 + 3·min(1,3) = 6 rows, 1 column.
        assert_eq!(w.operand_elements(&e, Operand::I), 6);
        // A stride larger than the kernel reads only the kernel rows: 1 + 3·min(2,1) = 4.
        let strided = Workload {
            stride: [2, 2],
            r: 1,
            s: 1,
            ..conv3x3()
        };
        e[Dim::R.index()] = 1;
        assert_eq!(strided.operand_elements(&e, Operand::I), 4);
        // Dilation 2 widens a 3-row kernel tile to 5 rows: 5 + 3·min(1,5) = 8.
        let dilated = Workload {
            dilation: [2, 2],
            ..conv3x3()
        };
        e[Dim::R.index()] = 3;
        assert_eq!(dilated.operand_elements(&e, Operand::I), 8);
    }
}
