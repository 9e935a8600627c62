//! The networks. Module paths follow torchvision (`layer1.0.conv1`); node names follow
//! torch's ONNX export scopes (`/layer1/layer1.0/conv1/Conv`).

use crate::{Builder, attr_float, attr_int, attr_ints, conv_attrs};
use tract_onnx::pb::ModelProto;

/// torch's export scope of a module path: `features.2.conv.0.0` →
/// `/features/features.2/conv/conv.0/conv.0.0`. A numeric component is prefixed by its
/// parent's scope name, a named one stands alone.
fn scope(module: &str) -> String {
    let mut out = String::new();
    let mut current = String::new();
    for part in module.split('.').filter(|p| !p.is_empty()) {
        if part.chars().all(|c| c.is_ascii_digit()) && !current.is_empty() {
            current = format!("{current}.{part}");
        } else {
            current = part.to_string();
        }
        out.push('/');
        out.push_str(&current);
    }
    out
}

/// Node name for op `op` in `module` (`""` for the top level).
pub(crate) fn name(module: &str, op: &str) -> String {
    format!("{}/{op}", scope(module))
}

/// Node name for a transformer module, as Hugging Face models export: a `ModuleList` entry
/// keeps its dotted name (`encoder.layer.0.attention` → `/encoder/layer.0/attention`).
pub(crate) fn hf_name(module: &str, op: &str) -> String {
    let mut out = String::new();
    let parts: Vec<&str> = module.split('.').filter(|p| !p.is_empty()).collect();
    let mut i = 0;
    while i < parts.len() {
        out.push('/');
        out.push_str(parts[i]);
        if i + 1 < parts.len() && parts[i + 1].chars().all(|c| c.is_ascii_digit()) {
            out.push('.');
            out.push_str(parts[i + 1]);
            i += 1;
        }
        i += 1;
    }
    format!("{out}/{op}")
}

/// A Conv with bias (batch norm folded in), weights `<module>.weight` / `<module>.bias`.
#[allow(clippy::too_many_arguments)]
fn conv(
    b: &mut Builder,
    module: &str,
    x: &str,
    cin: i64,
    cout: i64,
    k: i64,
    stride: i64,
    pad: i64,
    group: i64,
) -> String {
    let w = b.weight(&format!("{module}.weight"), &[cout, cin / group, k, k]);
    let bias = b.weight(&format!("{module}.bias"), &[cout]);
    b.node(
        "Conv",
        &name(module, "Conv"),
        &[x, &w, &bias],
        conv_attrs(k, stride, pad, group),
    )
}

fn relu(b: &mut Builder, module: &str, x: &str) -> String {
    b.node("Relu", &name(module, "Relu"), &[x], vec![])
}

/// ReLU6 as torch exports it: Clip with two Constant bounds.
fn relu6(b: &mut Builder, module: &str, x: &str) -> String {
    let lo = b.constant_f32(&name(module, "Constant"), 0.0);
    let hi = b.constant_f32(&name(module, "Constant_1"), 6.0);
    b.node("Clip", &name(module, "Clip"), &[x, &lo, &hi], vec![])
}

pub(crate) fn max_pool(
    b: &mut Builder,
    module: &str,
    x: &str,
    k: i64,
    stride: i64,
    pad: i64,
) -> String {
    let attrs = vec![
        attr_int("ceil_mode", 0),
        attr_ints("dilations", &[1, 1]),
        attr_ints("kernel_shape", &[k, k]),
        attr_ints("pads", &[pad, pad, pad, pad]),
        attr_ints("strides", &[stride, stride]),
    ];
    b.node("MaxPool", &name(module, "MaxPool"), &[x], attrs)
}

pub(crate) fn flatten(b: &mut Builder, x: &str) -> String {
    b.node(
        "Flatten",
        &name("", "Flatten"),
        &[x],
        vec![attr_int("axis", 1)],
    )
}

/// A Linear layer as torch exports it: Gemm with transB, weight `[out, in]`.
pub(crate) fn linear(b: &mut Builder, module: &str, x: &str, cin: i64, cout: i64) -> String {
    let w = b.weight(&format!("{module}.weight"), &[cout, cin]);
    let bias = b.weight(&format!("{module}.bias"), &[cout]);
    let attrs = vec![
        attr_float("alpha", 1.0),
        attr_float("beta", 1.0),
        attr_int("transB", 1),
    ];
    b.node("Gemm", &name(module, "Gemm"), &[x, &w, &bias], attrs)
}

/// The operators the CNN definitions are written in, so that one definition gives the float
/// model and its quantized variants (`crate::quant`) with the same layers. [`Float`] writes
/// exactly what the float definitions always wrote.
pub(crate) trait Net {
    fn builder(&mut self) -> &mut Builder;
    fn input(&mut self, name: &str, dims: &[i64]) -> String {
        self.builder().input(name, dims)
    }
    /// A Conv with bias (batch norm folded in).
    #[allow(clippy::too_many_arguments)]
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
    ) -> String;
    fn relu(&mut self, module: &str, x: &str) -> String;
    fn max_pool(&mut self, module: &str, x: &str, k: i64, stride: i64, pad: i64) -> String;
    /// A residual sum, node `node`.
    fn add(&mut self, node: &str, a: &str, b: &str) -> String;
    fn global_average_pool(&mut self, node: &str, x: &str) -> String;
    fn flatten(&mut self, x: &str) -> String;
    /// A Linear layer (Gemm with transB, weight `[out, in]`).
    fn linear(&mut self, module: &str, x: &str, cin: i64, cout: i64) -> String;
    fn output(&mut self, y: &str, dims: &[i64]) {
        self.builder().output(y, dims)
    }
}

/// The float networks: weights as shape-only graph inputs.
pub(crate) struct Float(pub(crate) Builder);

impl Net for Float {
    fn builder(&mut self) -> &mut Builder {
        &mut self.0
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
        conv(&mut self.0, module, x, cin, cout, k, stride, pad, group)
    }
    fn relu(&mut self, module: &str, x: &str) -> String {
        relu(&mut self.0, module, x)
    }
    fn max_pool(&mut self, module: &str, x: &str, k: i64, stride: i64, pad: i64) -> String {
        max_pool(&mut self.0, module, x, k, stride, pad)
    }
    fn add(&mut self, node: &str, a: &str, b: &str) -> String {
        self.0.node("Add", node, &[a, b], vec![])
    }
    fn global_average_pool(&mut self, node: &str, x: &str) -> String {
        self.0.node("GlobalAveragePool", node, &[x], vec![])
    }
    fn flatten(&mut self, x: &str) -> String {
        flatten(&mut self.0, x)
    }
    fn linear(&mut self, module: &str, x: &str, cin: i64, cout: i64) -> String {
        linear(&mut self.0, module, x, cin, cout)
    }
}

/// A small CNN for fast tests: four convs (one depthwise) and a Gemm on a 3×32×32 input.
pub fn tiny_cnn() -> ModelProto {
    let mut n = Float(Builder::new("tiny_cnn"));
    tiny_cnn_in(&mut n);
    n.0.finish()
}

/// [`tiny_cnn`] in the operators of `n`.
pub(crate) fn tiny_cnn_in(n: &mut impl Net) {
    let x = n.input("input", &[1, 3, 32, 32]);
    let x = n.conv("conv1", &x, 3, 8, 3, 1, 1, 1);
    let x = n.relu("relu1", &x);
    let x = n.conv("conv2", &x, 8, 16, 3, 2, 1, 1);
    let x = n.relu("relu2", &x);
    let x = n.conv("conv3", &x, 16, 16, 3, 1, 1, 16);
    let x = n.relu("relu3", &x);
    let x = n.conv("conv4", &x, 16, 32, 1, 1, 0, 1);
    let x = n.relu("relu4", &x);
    let x = n.global_average_pool(&name("avgpool", "GlobalAveragePool"), &x);
    let x = n.flatten(&x);
    let y = n.linear("fc", &x, 32, 10);
    n.output(&y, &[1, 10]);
}

/// torchvision ResNet: BasicBlock (ResNet-18/34) or Bottleneck with the stride on the 3×3
/// (v1.5, ResNet-50/101/152).
fn resnet(model: &str, bottleneck: bool, blocks: [usize; 4]) -> ModelProto {
    let mut n = Float(Builder::new(model));
    resnet_in(&mut n, bottleneck, blocks);
    n.0.finish()
}

/// [`resnet`] in the operators of `n`.
pub(crate) fn resnet_in(b: &mut impl Net, bottleneck: bool, blocks: [usize; 4]) {
    let x = b.input("input", &[1, 3, 224, 224]);
    let x = b.conv("conv1", &x, 3, 64, 7, 2, 3, 1);
    let x = b.relu("relu", &x);
    let mut x = b.max_pool("maxpool", &x, 3, 2, 1);
    let mut inplanes = 64;
    for (li, (&n, (planes, stride))) in blocks
        .iter()
        .zip([(64, 1), (128, 2), (256, 2), (512, 2)])
        .enumerate()
    {
        for bi in 0..n {
            let s = if bi == 0 { stride } else { 1 };
            let m = format!("layer{}.{bi}", li + 1);
            let sub = |s: &str| format!("{m}.{s}");
            let (out, outc, last_relu) = if bottleneck {
                let width = planes;
                let o = b.conv(&sub("conv1"), &x, inplanes, width, 1, 1, 0, 1);
                let o = b.relu(&sub("relu"), &o);
                let o = b.conv(&sub("conv2"), &o, width, width, 3, s, 1, 1);
                let o = b.relu(&sub("relu_1"), &o);
                let o = b.conv(&sub("conv3"), &o, width, planes * 4, 1, 1, 0, 1);
                (o, planes * 4, "relu_2")
            } else {
                let o = b.conv(&sub("conv1"), &x, inplanes, planes, 3, s, 1, 1);
                let o = b.relu(&sub("relu"), &o);
                let o = b.conv(&sub("conv2"), &o, planes, planes, 3, 1, 1, 1);
                (o, planes, "relu_1")
            };
            let identity = if s != 1 || inplanes != outc {
                b.conv(&sub("downsample.0"), &x, inplanes, outc, 1, s, 0, 1)
            } else {
                x.clone()
            };
            let sum = b.add(&name(&m, "Add"), &out, &identity);
            x = b.relu(&sub(last_relu), &sum);
            inplanes = outc;
        }
    }
    let x = b.global_average_pool(&name("avgpool", "GlobalAveragePool"), &x);
    let x = b.flatten(&x);
    let y = b.linear("fc", &x, inplanes, 1000);
    b.output(&y, &[1, 1000]);
}

/// torchvision `resnet18`: 20 Conv + 1 Gemm.
pub fn resnet18() -> ModelProto {
    resnet("resnet18", false, [2, 2, 2, 2])
}

/// torchvision `resnet50` (v1.5): 53 Conv + 1 Gemm.
pub fn resnet50() -> ModelProto {
    resnet("resnet50", true, [3, 4, 6, 3])
}

/// torchvision `vgg16` (configuration D, no batch norm): 13 Conv + 3 Gemm.
pub fn vgg16() -> ModelProto {
    const CFG: [i64; 18] = [
        64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
    ];
    let mut b = Builder::new("vgg16");
    let mut x = b.input("input", &[1, 3, 224, 224]);
    let (mut c, mut idx) = (3, 0);
    for v in CFG {
        if v == 0 {
            x = max_pool(&mut b, &format!("features.{idx}"), &x, 2, 2, 0);
            idx += 1;
        } else {
            x = conv(&mut b, &format!("features.{idx}"), &x, c, v, 3, 1, 1, 1);
            x = relu(&mut b, &format!("features.{}", idx + 1), &x);
            c = v;
            idx += 2;
        }
    }
    // AdaptiveAvgPool2d((7, 7)) on a 7×7 map: torch exports a 1×1 AveragePool.
    let attrs = vec![
        attr_int("ceil_mode", 0),
        attr_ints("kernel_shape", &[1, 1]),
        attr_ints("pads", &[0, 0, 0, 0]),
        attr_ints("strides", &[1, 1]),
    ];
    let x = b.node("AveragePool", &name("avgpool", "AveragePool"), &[&x], attrs);
    let x = flatten(&mut b, &x);
    let x = linear(&mut b, "classifier.0", &x, 512 * 7 * 7, 4096);
    let x = relu(&mut b, "classifier.1", &x);
    let x = linear(&mut b, "classifier.3", &x, 4096, 4096);
    let x = relu(&mut b, "classifier.4", &x);
    let y = linear(&mut b, "classifier.6", &x, 4096, 1000);
    b.output(&y, &[1, 1000]);
    b.finish()
}

/// torchvision `mobilenet_v2` (width 1.0): 52 Conv (17 depthwise) + 1 Gemm.
pub fn mobilenet_v2() -> ModelProto {
    // (expansion t, output channels c, repeats n, first stride s)
    const SETTINGS: [(i64, i64, usize, i64); 7] = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];
    let mut b = Builder::new("mobilenet_v2");
    let x = b.input("input", &[1, 3, 224, 224]);
    let x = conv(&mut b, "features.0.0", &x, 3, 32, 3, 2, 1, 1);
    let mut x = relu6(&mut b, "features.0.2", &x);
    let mut inp = 32;
    let mut idx = 1;
    for (t, c, n, s) in SETTINGS {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let hidden = inp * t;
            let m = format!("features.{idx}");
            let mut j = 0;
            let mut o = x.clone();
            if t != 1 {
                o = conv(
                    &mut b,
                    &format!("{m}.conv.0.0"),
                    &o,
                    inp,
                    hidden,
                    1,
                    1,
                    0,
                    1,
                );
                o = relu6(&mut b, &format!("{m}.conv.0.2"), &o);
                j = 1;
            }
            o = conv(
                &mut b,
                &format!("{m}.conv.{j}.0"),
                &o,
                hidden,
                hidden,
                3,
                stride,
                1,
                hidden,
            );
            o = relu6(&mut b, &format!("{m}.conv.{j}.2"), &o);
            o = conv(
                &mut b,
                &format!("{m}.conv.{}", j + 1),
                &o,
                hidden,
                c,
                1,
                1,
                0,
                1,
            );
            x = if stride == 1 && inp == c {
                b.node("Add", &name(&m, "Add"), &[&x, &o], vec![])
            } else {
                o
            };
            inp = c;
            idx += 1;
        }
    }
    let x = conv(&mut b, "features.18.0", &x, inp, 1280, 1, 1, 0, 1);
    let x = relu6(&mut b, "features.18.2", &x);
    let x = b.node(
        "GlobalAveragePool",
        &name("", "GlobalAveragePool"),
        &[&x],
        vec![],
    );
    let x = flatten(&mut b, &x);
    let y = linear(&mut b, "classifier.1", &x, 1280, 1000);
    b.output(&y, &[1, 1000]);
    b.finish()
}

/// BERT-base encoder: 12 layers, 128 tokens, hidden 768, 12 heads of 64, FFN 3072.
///
/// The input is the embedding sum `[1, 128, 768]` (the embedding lookups are gathers, not
/// CIM work), followed by the embedding LayerNorm. Per layer: Q/K/V/output projections and
/// the two FFN matrices are MatMuls with constant `[in, out]` weights (8 layers with the
/// attention products); Q·Kᵀ (`[12,128,64] × [12,64,128]`) and scores·V
/// (`[12,128,128] × [12,128,64]`) are activation × activation MatMuls. GELU is the exact
/// erf form, as torch exports it at opset 17. No pooler.
pub fn bert_base() -> ModelProto {
    const T: i64 = 128;
    const D: i64 = 768;
    const HEADS: i64 = 12;
    const DH: i64 = 64;
    const FF: i64 = 3072;
    let mut b = Builder::new("bert_base");
    let x = b.input("embeddings", &[1, T, D]);
    let heads_shape = b.const_i64("shape_heads", &[T, HEADS, DH]);
    let hidden_shape = b.const_i64("shape_hidden", &[1, T, D]);
    let scale = b.const_f32("attention_scale", (DH as f32).sqrt());
    let sqrt2 = b.const_f32("gelu_sqrt2", std::f32::consts::SQRT_2);
    let one = b.const_f32("gelu_one", 1.0);
    let half = b.const_f32("gelu_half", 0.5);

    let layer_norm = |b: &mut Builder, module: &str, x: &str| {
        let g = b.weight(&format!("{module}.weight"), &[D]);
        let beta = b.weight(&format!("{module}.bias"), &[D]);
        let attrs = vec![attr_int("axis", -1), attr_float("epsilon", 1e-12)];
        b.node(
            "LayerNormalization",
            &hf_name(module, "LayerNormalization"),
            &[x, &g, &beta],
            attrs,
        )
    };
    // A dense layer as torch exports nn.Linear on a 3-D input: MatMul by `[in, out]`, then Add.
    let dense = |b: &mut Builder, module: &str, x: &str, cin: i64, cout: i64| {
        let w = b.weight(&format!("{module}.weight"), &[cin, cout]);
        let bias = b.weight(&format!("{module}.bias"), &[cout]);
        let y = b.node("MatMul", &hf_name(module, "MatMul"), &[x, &w], vec![]);
        b.node("Add", &hf_name(module, "Add"), &[&bias, &y], vec![])
    };

    let mut x = layer_norm(&mut b, "embeddings.LayerNorm", &x);
    for l in 0..12 {
        let p = format!("encoder.layer.{l}");
        let att = format!("{p}.attention.self");
        let n = |op: &str| hf_name(&att, op);
        let q = dense(&mut b, &format!("{att}.query"), &x, D, D);
        let k = dense(&mut b, &format!("{att}.key"), &x, D, D);
        let v = dense(&mut b, &format!("{att}.value"), &x, D, D);
        let q = b.node("Reshape", &n("Reshape"), &[&q, &heads_shape], vec![]);
        let q = b.node(
            "Transpose",
            &n("Transpose"),
            &[&q],
            vec![attr_ints("perm", &[1, 0, 2])],
        );
        let k = b.node("Reshape", &n("Reshape_1"), &[&k, &heads_shape], vec![]);
        let kt = b.node(
            "Transpose",
            &n("Transpose_1"),
            &[&k],
            vec![attr_ints("perm", &[1, 2, 0])],
        );
        let v = b.node("Reshape", &n("Reshape_2"), &[&v, &heads_shape], vec![]);
        let v = b.node(
            "Transpose",
            &n("Transpose_2"),
            &[&v],
            vec![attr_ints("perm", &[1, 0, 2])],
        );
        let scores = b.node("MatMul", &n("MatMul"), &[&q, &kt], vec![]);
        let scores = b.node("Div", &n("Div"), &[&scores, &scale], vec![]);
        let probs = b.node(
            "Softmax",
            &n("Softmax"),
            &[&scores],
            vec![attr_int("axis", -1)],
        );
        let ctx = b.node("MatMul", &n("MatMul_1"), &[&probs, &v], vec![]);
        let ctx = b.node(
            "Transpose",
            &n("Transpose_3"),
            &[&ctx],
            vec![attr_ints("perm", &[1, 0, 2])],
        );
        let ctx = b.node("Reshape", &n("Reshape_3"), &[&ctx, &hidden_shape], vec![]);

        let out = format!("{p}.attention.output");
        let o = dense(&mut b, &format!("{out}.dense"), &ctx, D, D);
        let o = b.node("Add", &hf_name(&out, "Add"), &[&o, &x], vec![]);
        let attn = layer_norm(&mut b, &format!("{out}.LayerNorm"), &o);

        let inter = format!("{p}.intermediate");
        let h = dense(&mut b, &format!("{inter}.dense"), &attn, D, FF);
        let act = format!("{inter}.intermediate_act_fn");
        let g = b.node("Div", &hf_name(&act, "Div"), &[&h, &sqrt2], vec![]);
        let g = b.node("Erf", &hf_name(&act, "Erf"), &[&g], vec![]);
        let g = b.node("Add", &hf_name(&act, "Add"), &[&g, &one], vec![]);
        let g = b.node("Mul", &hf_name(&act, "Mul"), &[&h, &g], vec![]);
        let g = b.node("Mul", &hf_name(&act, "Mul_1"), &[&g, &half], vec![]);

        let outp = format!("{p}.output");
        let o = dense(&mut b, &format!("{outp}.dense"), &g, FF, D);
        let o = b.node("Add", &hf_name(&outp, "Add"), &[&o, &attn], vec![]);
        x = layer_norm(&mut b, &format!("{outp}.LayerNorm"), &o);
    }
    b.output(&x, &[1, T, D]);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::scope;

    #[test]
    fn scopes_follow_torch_export() {
        assert_eq!(scope("layer1.0.conv1"), "/layer1/layer1.0/conv1");
        assert_eq!(
            scope("layer2.0.downsample.0"),
            "/layer2/layer2.0/downsample/downsample.0"
        );
        assert_eq!(
            scope("features.2.conv.0.0"),
            "/features/features.2/conv/conv.0/conv.0.0"
        );
        assert_eq!(scope("features.0.0"), "/features/features.0/features.0.0");
        assert_eq!(scope("classifier.1"), "/classifier/classifier.1");
        assert_eq!(scope(""), "");
        assert_eq!(
            super::hf_name("encoder.layer.11.attention.self.query", "MatMul"),
            "/encoder/layer.11/attention/self/query/MatMul"
        );
    }
}
