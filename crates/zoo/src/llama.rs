//! A small Llama-style decoder (two blocks), in float and with 4-bit weights
//! (`com.microsoft` `MatMulNBits`, as ONNX Runtime's 4-bit weight quantizer writes it).
//!
//! 16 tokens, hidden 128, 4 heads of 32, SwiGLU MLP of 256, vocabulary 512; the input is the
//! token embeddings `[1, 16, 128]` (the lookup is a gather, not CIM work). Per block: RMSNorm,
//! the Q/K/V projections, Q·Kᵀ and scores·V (activation × activation MatMuls over
//! `[1, heads, tokens, 32]` tensors), the output projection and residual, RMSNorm, the gate,
//! up and down projections of the MLP (SiLU as `x · sigmoid(x)`) and residual; then a final
//! RMSNorm and the LM head. Rotary embeddings and the causal mask are left out (element-wise
//! work that does not change any layer).
//!
//! The float model's projections are MatMuls by shape-only `[in, out]` weights. The 4-bit one
//! replaces each by `MatMulNBits(x, B, scales)` with `K = in`, `N = out`, `bits = 4`,
//! `block_size = 32`: B is a uint8 initializer of zeros `[N, K / 32, 16]`, the scales a float
//! initializer `[N · K / 32]`, no zero points (symmetric).

use crate::nets::hf_name;
use crate::{Builder, attr_int, attr_ints};
use tract_onnx::pb::ModelProto;
use tract_onnx::pb::tensor_proto::DataType;

const T: i64 = 16;
const D: i64 = 128;
const HEADS: i64 = 4;
const DH: i64 = 32;
const FF: i64 = 256;
const VOCAB: i64 = 512;
const BLOCKS: usize = 2;
const BITS: i64 = 4;
const BLOCK_SIZE: i64 = 32;

/// A projection `x[.., cin] → [.., cout]` of `module`.
fn proj(b: &mut Builder, q4: bool, module: &str, x: &str, cin: i64, cout: i64) -> String {
    if !q4 {
        let w = b.weight(&format!("{module}.weight"), &[cin, cout]);
        return b.node("MatMul", &hf_name(module, "MatMul"), &[x, &w], vec![]);
    }
    let blocks = (cin + BLOCK_SIZE - 1) / BLOCK_SIZE;
    let blob = BLOCK_SIZE * BITS / 8;
    let w = b.zeros(
        &format!("{module}.weight_Q4"),
        &[cout, blocks, blob],
        DataType::Uint8,
    );
    let scales = b.filled_f32(&format!("{module}.weight_scales"), &[cout * blocks], 0.01);
    let attrs = vec![
        attr_int("K", cin),
        attr_int("N", cout),
        attr_int("bits", BITS),
        attr_int("block_size", BLOCK_SIZE),
    ];
    b.node_in(
        "com.microsoft",
        "MatMulNBits",
        &hf_name(module, "MatMul_Q4"),
        &[x, &w, &scales],
        attrs,
        1,
    )[0]
    .clone()
}

/// RMSNorm over the last axis: `x / sqrt(mean(x²) + ε) · g`.
fn rms_norm(b: &mut Builder, module: &str, x: &str) -> String {
    let g = b.weight(&format!("{module}.weight"), &[D]);
    let sq = b.node("Mul", &hf_name(module, "Mul"), &[x, x], vec![]);
    let attrs = vec![attr_ints("axes", &[-1]), attr_int("keepdims", 1)];
    let mean = b.node("ReduceMean", &hf_name(module, "ReduceMean"), &[&sq], attrs);
    let eps = format!("{module}.epsilon");
    let eps = b.const_f32(&eps, 1e-6);
    let var = b.node("Add", &hf_name(module, "Add"), &[&mean, &eps], vec![]);
    let rms = b.node("Sqrt", &hf_name(module, "Sqrt"), &[&var], vec![]);
    let normed = b.node("Div", &hf_name(module, "Div"), &[x, &rms], vec![]);
    b.node("Mul", &hf_name(module, "Mul_1"), &[&normed, &g], vec![])
}

/// The decoder; `q4` gives the MatMulNBits variant.
pub(crate) fn llama(q4: bool) -> ModelProto {
    let mut b = Builder::new(if q4 { "llama_tiny_q4" } else { "llama_tiny" });
    let mut x = b.input("inputs_embeds", &[1, T, D]);
    let heads_shape = b.const_i64("shape_heads", &[1, T, HEADS, DH]);
    let hidden_shape = b.const_i64("shape_hidden", &[1, T, D]);
    let scale = b.const_f32("attention_scale", (DH as f32).sqrt());
    for l in 0..BLOCKS {
        let p = format!("model.layers.{l}");
        let att = format!("{p}.self_attn");
        let n = |op: &str| hf_name(&att, op);
        let h = rms_norm(&mut b, &format!("{p}.input_layernorm"), &x);
        let q = proj(&mut b, q4, &format!("{att}.q_proj"), &h, D, D);
        let k = proj(&mut b, q4, &format!("{att}.k_proj"), &h, D, D);
        let v = proj(&mut b, q4, &format!("{att}.v_proj"), &h, D, D);
        let perm = |p: &[i64]| vec![attr_ints("perm", p)];
        let q = b.node("Reshape", &n("Reshape"), &[&q, &heads_shape], vec![]);
        let q = b.node("Transpose", &n("Transpose"), &[&q], perm(&[0, 2, 1, 3]));
        let k = b.node("Reshape", &n("Reshape_1"), &[&k, &heads_shape], vec![]);
        let kt = b.node("Transpose", &n("Transpose_1"), &[&k], perm(&[0, 2, 3, 1]));
        let v = b.node("Reshape", &n("Reshape_2"), &[&v, &heads_shape], vec![]);
        let v = b.node("Transpose", &n("Transpose_2"), &[&v], perm(&[0, 2, 1, 3]));
        let s = b.node("MatMul", &n("MatMul"), &[&q, &kt], vec![]);
        let s = b.node("Div", &n("Div"), &[&s, &scale], vec![]);
        let s = b.node("Softmax", &n("Softmax"), &[&s], vec![attr_int("axis", -1)]);
        let c = b.node("MatMul", &n("MatMul_1"), &[&s, &v], vec![]);
        let c = b.node("Transpose", &n("Transpose_3"), &[&c], perm(&[0, 2, 1, 3]));
        let c = b.node("Reshape", &n("Reshape_3"), &[&c, &hidden_shape], vec![]);
        let o = proj(&mut b, q4, &format!("{att}.o_proj"), &c, D, D);
        x = b.node("Add", &hf_name(&p, "Add"), &[&x, &o], vec![]);

        let mlp = format!("{p}.mlp");
        let h = rms_norm(&mut b, &format!("{p}.post_attention_layernorm"), &x);
        let g = proj(&mut b, q4, &format!("{mlp}.gate_proj"), &h, D, FF);
        let u = proj(&mut b, q4, &format!("{mlp}.up_proj"), &h, D, FF);
        let act = format!("{mlp}.act_fn");
        let sg = b.node("Sigmoid", &hf_name(&act, "Sigmoid"), &[&g], vec![]);
        let a = b.node("Mul", &hf_name(&act, "Mul"), &[&g, &sg], vec![]);
        let m = b.node("Mul", &hf_name(&mlp, "Mul"), &[&a, &u], vec![]);
        let d = proj(&mut b, q4, &format!("{mlp}.down_proj"), &m, FF, D);
        x = b.node("Add", &hf_name(&p, "Add_1"), &[&x, &d], vec![]);
    }
    let h = rms_norm(&mut b, "model.norm", &x);
    let logits = proj(&mut b, q4, "lm_head", &h, D, VOCAB);
    b.output(&logits, &[1, T, VOCAB]);
    b.finish()
}
