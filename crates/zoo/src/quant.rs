//! Quantized variants of the CNNs, written as ONNX Runtime's quantizer writes them, with the
//! same layers as the float definitions (the architecture code is shared through
//! [`Net`](crate::nets::Net)).
//!
//! Weights stay shape-only graph inputs (typed INT8 / INT32) where ONNX allows it; scales and
//! zero points are real initializers of their full shape (one activation scale and zero point
//! shared by every tensor, per-output-channel weight scales and zero points); INT4 weights are
//! initializers of zeros (packed two to a byte).
//!
//! - [`Style::Qdq`]: every activation goes through QuantizeLinear → DequantizeLinear (uint8),
//!   weights through DequantizeLinear (int8, or int4 at opset 21, per output channel), biases
//!   are int32 through DequantizeLinear; the compute nodes stay float Conv / Gemm with the float
//!   model's names.
//! - [`Style::QOperator`]: the input is quantized once; convs are `QLinearConv` with the ReLU
//!   folded into their output range (no Relu node), residual sums `com.microsoft` `QLinearAdd`,
//!   the pooling `com.microsoft` `QLinearGlobalAveragePool`, the classifier `com.microsoft`
//!   `QGemm`; MaxPool and Flatten run on uint8; the output is dequantized. Compute nodes are
//!   named `<float name>_quant`.
//! - [`Style::Dynamic`]: convs are `DynamicQuantizeLinear` → `ConvInteger` → Cast → Mul by the
//!   scales → Add of the bias (`[1, K, 1, 1]`), as dynamic quantization writes them; Gemm stays
//!   float (dynamic quantization does not quantize Gemm).

use crate::nets::{Net, name};
use crate::{Builder, attr_float, attr_int, conv_attrs};
use tract_onnx::pb::tensor_proto::DataType;

/// How a network is quantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// QDQ with weights of this type (`Int8` or `Int4`) and uint8 activations.
    Qdq(DataType),
    QOperator,
    Dynamic,
}

pub(crate) struct Quant {
    pub(crate) b: Builder,
    style: Style,
    /// The activation scale and zero point every quantized tensor shares.
    scale: String,
    zero_point: String,
}

impl Quant {
    pub(crate) fn new(model: &str, style: Style) -> Self {
        let mut b = Builder::new(model);
        if style == Style::Qdq(DataType::Int4) {
            b.opset(21);
        }
        let (scale, zero_point) = if style == Style::Dynamic {
            (String::new(), String::new())
        } else {
            (
                b.filled_f32("activation_scale", &[], 0.05),
                b.zeros("activation_zero_point", &[], DataType::Uint8),
            )
        };
        Quant {
            b,
            style,
            scale,
            zero_point,
        }
    }

    /// QuantizeLinear → DequantizeLinear on `x` (QDQ style).
    fn qdq(&mut self, x: &str) -> String {
        let (s, z) = (self.scale.clone(), self.zero_point.clone());
        let q = self.b.node(
            "QuantizeLinear",
            &format!("{x}_QuantizeLinear"),
            &[x, &s, &z],
            vec![],
        );
        self.b.node(
            "DequantizeLinear",
            &format!("{x}_DequantizeLinear"),
            &[&q, &s, &z],
            vec![],
        )
    }

    /// The quantized weight `<module>.weight_quantized` of `dims` with its per-output-channel
    /// scale and zero point: an initializer of zeros for INT4, a shape-only graph input else.
    fn weight(&mut self, module: &str, dims: &[i64], ty: DataType) -> (String, String, String) {
        let w = format!("{module}.weight_quantized");
        let w = if ty == DataType::Int4 {
            self.b.zeros(&w, dims, ty)
        } else {
            self.b.weight_typed(&w, dims, ty)
        };
        let scale = self
            .b
            .filled_f32(&format!("{module}.weight_scale"), &[dims[0]], 0.01);
        let zp = self
            .b
            .zeros(&format!("{module}.weight_zero_point"), &[dims[0]], ty);
        (w, scale, zp)
    }

    /// The int32 bias `<module>.bias_quantized` `[n]` (a shape-only graph input).
    fn bias(&mut self, module: &str, n: i64) -> String {
        self.b
            .weight_typed(&format!("{module}.bias_quantized"), &[n], DataType::Int32)
    }

    /// DequantizeLinear of a weight (per output channel) and of a bias, for QDQ.
    fn qdq_params(&mut self, module: &str, dims: &[i64], ty: DataType) -> (String, String) {
        let (w, s, z) = self.weight(module, dims, ty);
        let w = self.b.node(
            "DequantizeLinear",
            &format!("{module}.weight_DequantizeLinear"),
            &[&w, &s, &z],
            vec![attr_int("axis", 0)],
        );
        let bq = self.bias(module, dims[0]);
        let bs = self
            .b
            .filled_f32(&format!("{module}.bias_scale"), &[dims[0]], 0.0005);
        let bias = self.b.node(
            "DequantizeLinear",
            &format!("{module}.bias_DequantizeLinear"),
            &[&bq, &bs],
            vec![attr_int("axis", 0)],
        );
        (w, bias)
    }
}

impl Net for Quant {
    fn builder(&mut self) -> &mut Builder {
        &mut self.b
    }

    fn input(&mut self, name: &str, dims: &[i64]) -> String {
        let x = self.b.input(name, dims);
        match self.style {
            Style::Qdq(_) => self.qdq(&x),
            Style::QOperator => {
                let (s, z) = (self.scale.clone(), self.zero_point.clone());
                self.b.node(
                    "QuantizeLinear",
                    &format!("{x}_QuantizeLinear"),
                    &[&x, &s, &z],
                    vec![],
                )
            }
            Style::Dynamic => x,
        }
    }

    fn conv(
        &mut self,
        module: &str,
        x: &str,
        cin: i64,
        cout: i64,
        k: i64,
        stride: i64,
        pad: i64,
        group: i64,
    ) -> String {
        let dims = [cout, cin / group, k, k];
        let node = name(module, "Conv");
        let attrs = conv_attrs(k, stride, pad, group);
        match self.style {
            Style::Qdq(ty) => {
                let (w, bias) = self.qdq_params(module, &dims, ty);
                let y = self.b.node("Conv", &node, &[x, &w, &bias], attrs);
                self.qdq(&y)
            }
            Style::QOperator => {
                let (w, ws, wz) = self.weight(module, &dims, DataType::Int8);
                let bias = self.bias(module, cout);
                let (s, z) = (self.scale.clone(), self.zero_point.clone());
                self.b.node(
                    "QLinearConv",
                    &format!("{node}_quant"),
                    &[x, &s, &z, &w, &ws, &wz, &s, &z, &bias],
                    attrs,
                )
            }
            Style::Dynamic => {
                let q = self.b.node_in(
                    "",
                    "DynamicQuantizeLinear",
                    &format!("{node}_DynamicQuantizeLinear"),
                    &[x],
                    vec![],
                    3,
                );
                let w = self.b.weight_typed(
                    &format!("{module}.weight_quantized"),
                    &dims,
                    DataType::Int8,
                );
                let wz = self
                    .b
                    .zeros(&format!("{module}.weight_zero_point"), &[], DataType::Int8);
                let ws = self
                    .b
                    .filled_f32(&format!("{module}.weight_scale"), &[], 0.01);
                let y = self.b.node(
                    "ConvInteger",
                    &format!("{node}_quant"),
                    &[&q[0], &w, &q[2], &wz],
                    attrs,
                );
                let y = self.b.node(
                    "Cast",
                    &format!("{node}_output_quantized_cast"),
                    &[&y],
                    vec![attr_int("to", DataType::Float as i64)],
                );
                let scale =
                    self.b
                        .node("Mul", &format!("{node}_scales_mul"), &[&q[1], &ws], vec![]);
                let y = self.b.node(
                    "Mul",
                    &format!("{node}_output_scale_mul"),
                    &[&y, &scale],
                    vec![],
                );
                let bias = self
                    .b
                    .weight(&format!("{module}.bias_reshaped"), &[1, cout, 1, 1]);
                self.b
                    .node("Add", &format!("{node}_bias_add"), &[&y, &bias], vec![])
            }
        }
    }

    fn relu(&mut self, module: &str, x: &str) -> String {
        match self.style {
            Style::Qdq(_) => {
                let y = self.b.node("Relu", &name(module, "Relu"), &[x], vec![]);
                self.qdq(&y)
            }
            // Folded into the QLinearConv's output range, as the quantizer does.
            Style::QOperator => x.to_string(),
            Style::Dynamic => self.b.node("Relu", &name(module, "Relu"), &[x], vec![]),
        }
    }

    fn max_pool(&mut self, module: &str, x: &str, k: i64, stride: i64, pad: i64) -> String {
        let y = crate::nets::max_pool(&mut self.b, module, x, k, stride, pad);
        match self.style {
            Style::Qdq(_) => self.qdq(&y),
            _ => y,
        }
    }

    fn add(&mut self, node: &str, a: &str, b: &str) -> String {
        match self.style {
            Style::Qdq(_) => {
                let y = self.b.node("Add", node, &[a, b], vec![]);
                self.qdq(&y)
            }
            Style::QOperator => {
                let (s, z) = (self.scale.clone(), self.zero_point.clone());
                self.b.node_in(
                    "com.microsoft",
                    "QLinearAdd",
                    &format!("{node}_quant"),
                    &[a, &s, &z, b, &s, &z, &s, &z],
                    vec![],
                    1,
                )[0]
                .clone()
            }
            Style::Dynamic => self.b.node("Add", node, &[a, b], vec![]),
        }
    }

    fn global_average_pool(&mut self, node: &str, x: &str) -> String {
        match self.style {
            Style::Qdq(_) => {
                let y = self.b.node("GlobalAveragePool", node, &[x], vec![]);
                self.qdq(&y)
            }
            Style::QOperator => {
                let (s, z) = (self.scale.clone(), self.zero_point.clone());
                self.b.node_in(
                    "com.microsoft",
                    "QLinearGlobalAveragePool",
                    &format!("{node}_quant"),
                    &[x, &s, &z, &s, &z],
                    vec![attr_int("channels_last", 0)],
                    1,
                )[0]
                .clone()
            }
            Style::Dynamic => self.b.node("GlobalAveragePool", node, &[x], vec![]),
        }
    }

    fn flatten(&mut self, x: &str) -> String {
        let y = crate::nets::flatten(&mut self.b, x);
        match self.style {
            Style::Qdq(_) => self.qdq(&y),
            _ => y,
        }
    }

    fn linear(&mut self, module: &str, x: &str, cin: i64, cout: i64) -> String {
        let node = name(module, "Gemm");
        match self.style {
            Style::Qdq(ty) => {
                let (w, bias) = self.qdq_params(module, &[cout, cin], ty);
                let attrs = vec![
                    attr_float("alpha", 1.0),
                    attr_float("beta", 1.0),
                    attr_int("transB", 1),
                ];
                let y = self.b.node("Gemm", &node, &[x, &w, &bias], attrs);
                self.qdq(&y)
            }
            Style::QOperator => {
                let (w, ws, wz) = self.weight(module, &[cout, cin], DataType::Int8);
                let bias = self.bias(module, cout);
                let (s, z) = (self.scale.clone(), self.zero_point.clone());
                let attrs = vec![attr_float("alpha", 1.0), attr_int("transB", 1)];
                self.b.node_in(
                    "com.microsoft",
                    "QGemm",
                    &format!("{node}_quant"),
                    &[x, &s, &z, &w, &ws, &wz, &bias, &s, &z],
                    attrs,
                    1,
                )[0]
                .clone()
            }
            Style::Dynamic => crate::nets::linear(&mut self.b, module, x, cin, cout),
        }
    }

    fn output(&mut self, y: &str, dims: &[i64]) {
        let y = if self.style == Style::QOperator {
            let (s, z) = (self.scale.clone(), self.zero_point.clone());
            self.b.node(
                "DequantizeLinear",
                &format!("{y}_DequantizeLinear"),
                &[y, &s, &z],
                vec![],
            )
        } else {
            y.to_string()
        };
        self.b.output(&y, dims);
    }
}
