//! Which nodes are compute: the operators the front end lowers to layers, those it knows
//! and refuses, and unknown operators that look like convolutions or matrix products.
//!
//! No node that performs a convolution or a matrix product may end up in the non-CIM list:
//! every one is lowered, or refused with an error naming it (or, with
//! [`LoadOptions::keep_going`](crate::LoadOptions::keep_going), listed in
//! [`Model::skipped`](crate::Model::skipped)).

use tract_onnx::pb;

/// The operator set a node belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Domain {
    /// `""` or `ai.onnx`.
    Standard,
    /// `com.microsoft` (ONNX Runtime's contrib operators).
    Microsoft,
    Other,
}

pub(crate) fn domain(node: &pb::NodeProto) -> Domain {
    match node.domain.as_str() {
        "" | "ai.onnx" => Domain::Standard,
        "com.microsoft" => Domain::Microsoft,
        _ => Domain::Other,
    }
}

/// A compute operator the front end lowers, with the input slots of its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Conv, ConvInteger, QLinearConv, FusedConv: data `x`, kernel `w`, optional bias.
    Conv {
        x: usize,
        w: usize,
        bias: Option<usize>,
    },
    /// Gemm, FusedGemm, QGemm (attributes transA, transB).
    Gemm {
        a: usize,
        b: usize,
        c: Option<usize>,
    },
    /// MatMul, MatMulInteger, QLinearMatMul, FusedMatMul (`fused`: attributes transA,
    /// transB, transBatchA, transBatchB), MatMulIntegerToFloat, DynamicQuantizeMatMul,
    /// GemmFastGelu.
    MatMul {
        a: usize,
        b: usize,
        bias: Option<usize>,
        fused: bool,
    },
    /// MatMulNBits (attributes K, N, bits, block_size) and MatMulBnb4 (K, N, block_size;
    /// always 4 bits): `A[.., K] × dequant(B)ᵀ`, B packed.
    MatMulNBits { fixed_bits: Option<u32> },
    /// A two-operand Einsum; lowered when it is a matrix product.
    Einsum,
}

impl Kind {
    /// The data operand's slot (the other operand slots are parameters for the data-input
    /// classification, as a MatMul's B is).
    pub(crate) fn data_slot(self) -> usize {
        match self {
            Kind::Conv { x, .. } => x,
            Kind::Gemm { a, .. } | Kind::MatMul { a, .. } => a,
            Kind::MatMulNBits { .. } | Kind::Einsum => 0,
        }
    }
}

/// How MACs are estimated for a compute node that is not lowered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Estimate {
    /// As an ONNX Conv of inputs 0 and 1 with the node's attributes.
    AsConv,
    /// As an ONNX MatMul of inputs 0 and 1.
    AsMatMul,
    /// As an ONNX Gemm of inputs 0 and 1 (transA, transB).
    AsGemm,
    /// ConvTranspose: every input element meets `M/group · kernel` weights.
    ConvTranspose,
    /// RNN, GRU, LSTM: every step multiplies the input and the hidden state by W and R.
    Recurrent,
    /// Not estimated.
    None,
}

/// What a compute node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compute {
    /// Lowered to a layer.
    Lower(Kind),
    /// A compute operator the front end knows and does not lower.
    Refuse {
        why: &'static str,
        estimate: Estimate,
    },
    /// An operator the front end does not know whose name says convolution, matrix product or
    /// attention.
    Lookalike(Estimate),
}

/// The compute class of `node`, `None` for every node that is not compute.
pub(crate) fn compute(node: &pb::NodeProto) -> Option<Compute> {
    use Compute::*;
    let op = node.op_type.as_str();
    let conv = |x, w, bias| Lower(Kind::Conv { x, w, bias });
    let matmul = |a, b, bias, fused| Lower(Kind::MatMul { a, b, bias, fused });
    let known = match domain(node) {
        Domain::Standard => match op {
            "Conv" => Some(conv(0, 1, Some(2))),
            "ConvInteger" => Some(conv(0, 1, None)),
            "QLinearConv" => Some(conv(0, 3, Some(8))),
            "Gemm" => Some(Lower(Kind::Gemm {
                a: 0,
                b: 1,
                c: Some(2),
            })),
            "MatMul" | "MatMulInteger" => Some(matmul(0, 1, None, false)),
            "QLinearMatMul" => Some(matmul(0, 3, None, false)),
            "Einsum" if node.input.len() == 2 => Some(Lower(Kind::Einsum)),
            // One operand: a transpose, trace or sum, no product. More than two: refused.
            "Einsum" if node.input.len() < 2 => return None,
            "Einsum" => Some(Refuse {
                why: "an Einsum of more than two operands is not a single matrix product",
                estimate: Estimate::None,
            }),
            "ConvTranspose" => Some(Refuse {
                why: "transposed convolutions are not lowered yet",
                estimate: Estimate::ConvTranspose,
            }),
            "DeformConv" => Some(Refuse {
                why: "deformable convolutions read input positions computed at run time",
                estimate: Estimate::AsConv,
            }),
            "RNN" | "GRU" | "LSTM" => Some(Refuse {
                why: "recurrent layers are not lowered (their matrix products run once per time step)",
                estimate: Estimate::Recurrent,
            }),
            "Attention" => Some(Refuse {
                why: "fused attention is not lowered; export Q·Kᵀ and scores·V as MatMuls",
                estimate: Estimate::None,
            }),
            _ => None,
        },
        Domain::Microsoft => match op {
            "FusedConv" => Some(conv(0, 1, Some(2))),
            "FusedGemm" => Some(Lower(Kind::Gemm {
                a: 0,
                b: 1,
                c: Some(2),
            })),
            "QGemm" => Some(Lower(Kind::Gemm {
                a: 0,
                b: 3,
                c: Some(6),
            })),
            "FusedMatMul" | "TransposeMatMul" => Some(matmul(0, 1, None, true)),
            "MatMulIntegerToFloat" => Some(matmul(0, 1, Some(6), false)),
            "DynamicQuantizeMatMul" => Some(matmul(0, 1, Some(4), false)),
            "GemmFastGelu" => Some(matmul(0, 1, Some(2), false)),
            "MatMulNBits" => Some(Lower(Kind::MatMulNBits { fixed_bits: None })),
            "MatMulBnb4" => Some(Lower(Kind::MatMulNBits {
                fixed_bits: Some(4),
            })),
            "Attention"
            | "QAttention"
            | "MultiHeadAttention"
            | "GroupQueryAttention"
            | "DecoderAttention"
            | "DecoderMaskedMultiHeadAttention"
            | "DecoderMaskedSelfAttention"
            | "PackedAttention"
            | "PackedMultiHeadAttention"
            | "SparseAttention"
            | "LongformerAttention"
            | "QOrderedAttention"
            | "QOrderedLongformerAttention" => Some(Refuse {
                why: "fused attention is not lowered; export the projections and Q·Kᵀ, scores·V as MatMuls",
                estimate: Estimate::None,
            }),
            "NhwcConv" | "NhwcFusedConv" | "QLinearConv" | "ConvTransposeWithDynamicPads" => {
                Some(Refuse {
                    why: "ONNX Runtime's channels-last and dynamic-pad convolutions are not lowered",
                    estimate: Estimate::None,
                })
            }
            "QOrderedMatMul" | "GemmFloat8" | "MatMulFpQ4" | "MoE" | "QMoE" => Some(Refuse {
                why: "this ONNX Runtime matrix-product operator is not lowered",
                estimate: Estimate::None,
            }),
            _ => None,
        },
        Domain::Other => None,
    };
    known.or_else(|| lookalike(op).map(Lookalike))
}

/// Whether an operator name says convolution, matrix product, attention or recurrence, and
/// how to estimate its MACs then.
fn lookalike(op: &str) -> Option<Estimate> {
    let lower = op.to_ascii_lowercase();
    let conv = lower
        .match_indices("conv")
        .any(|(i, _)| !lower[i + 4..].starts_with("ert"));
    if lower.contains("gemm") {
        Some(Estimate::AsGemm)
    } else if lower.contains("matmul")
        || lower.contains("einsum")
        || lower.contains("fullyconnected")
        || lower.contains("innerproduct")
    {
        Some(Estimate::AsMatMul)
    } else if conv {
        Some(Estimate::AsConv)
    } else if lower.contains("attention") || ["LSTM", "GRU", "RNN"].iter().any(|r| op.contains(r)) {
        Some(Estimate::None)
    } else {
        None
    }
}

/// Non-compute operators whose inputs past the first are parameters (scales, zero points,
/// normalisation weights), beyond the ones `parameter_slot` lists.
pub(crate) fn params_after_first(node: &pb::NodeProto) -> bool {
    let op = node.op_type.as_str();
    match domain(node) {
        Domain::Standard => matches!(
            op,
            "QuantizeLinear" | "DequantizeLinear" | "RMSNormalization"
        ),
        Domain::Microsoft => matches!(
            op,
            "QuantizeLinear"
                | "DequantizeLinear"
                | "QLinearGlobalAveragePool"
                | "QLinearAveragePool"
                | "QLinearSigmoid"
                | "QLinearLeakyRelu"
                | "QLinearSoftmax"
                | "QLinearReduceMean"
                | "SimplifiedLayerNormalization"
                | "SkipSimplifiedLayerNormalization"
                | "BiasGelu"
                | "FastGelu"
        ),
        Domain::Other => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes() {
        assert_eq!(lookalike("MyMatMul"), Some(Estimate::AsMatMul));
        assert_eq!(lookalike("FusedGemmRelu"), Some(Estimate::AsGemm));
        assert_eq!(lookalike("Conv2D"), Some(Estimate::AsConv));
        assert_eq!(lookalike("Convolution"), Some(Estimate::AsConv));
        assert_eq!(lookalike("ConvertLayout"), None);
        assert_eq!(lookalike("SelfAttention"), Some(Estimate::None));
        assert_eq!(lookalike("QLinearAdd"), None);
        assert_eq!(lookalike("Relu"), None);
    }
}
