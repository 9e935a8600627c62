//! The worst latency errors of the cost model against the simulator on random mappings, drawn as
//! `tests/agreement.rs` draws them (`Sampler::many(1, 400)` per layer):
//! `cargo run --example agreement_worst -- [default|transformer|pingpong|registers] [layer substring] [draws] [top]`.
use cimopt_cost::evaluate;
use cimopt_ir::{OpKind, Workload};
use cimopt_space::random::Sampler;
use cimopt_target::{Target, load};

fn target(name: &str, set: &[&str]) -> Target {
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    load(name, &set).unwrap().target
}

fn layers() -> Vec<(&'static str, Workload)> {
    let conv = Workload::square_conv;
    let padded = |r: u64, p: u64, c: u64, k: u64, g: u64, stride: u64| {
        let pad = (r - 1) / 2;
        Workload {
            h: p * stride,
            w: p * stride,
            pad: [pad; 4],
            ..conv(r, p, c, k, g, stride)
        }
    };
    let attention = Workload {
        op: OpKind::MatMul,
        weight_kind: cimopt_ir::WeightKind::Activation,
        g: 12,
        ..Workload::matmul(128, 64, 128)
    };
    vec![
        ("1x1 c16 k32 7x7", conv(1, 7, 16, 32, 1, 1)),
        ("3x3 c8 k16 5x5", conv(3, 5, 8, 16, 1, 1)),
        ("depthwise 3x3 g16 7x7", conv(3, 7, 1, 1, 16, 1)),
        ("3x3 stride 2 c4 k13 3x3", conv(3, 3, 4, 13, 1, 2)),
        ("matmul 13x64x32", Workload::matmul(13, 64, 32)),
        (
            "resnet18 layer1 3x3 c64 k64 56x56",
            padded(3, 56, 64, 64, 1, 1),
        ),
        (
            "resnet18 layer3.0 3x3 s2 c128 k256",
            padded(3, 14, 128, 256, 1, 2),
        ),
        (
            "resnet18 layer4 3x3 c512 k512 7x7",
            padded(3, 7, 512, 512, 1, 1),
        ),
        (
            "mobilenet_v2 depthwise 3x3 s2 g144",
            padded(3, 28, 1, 1, 144, 2),
        ),
        (
            "mobilenet_v2 1x1 c960 k320 7x7",
            padded(1, 7, 960, 320, 1, 1),
        ),
        ("bert 128x768x3072", Workload::matmul(128, 768, 3072)),
        ("bert attention 12x128x64x128", attention),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("default");
    let filter = args.get(1).cloned().unwrap_or_default();
    let draws: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(400);
    let top: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(5);
    let t = match which {
        "default" => target("default", &[]),
        "transformer" => target("transformer", &[]),
        "registers" => target(
            "default",
            &["levels.4.capacity=64bit", "levels.5.capacity=64bit"],
        ),
        "pingpong" => target("default", &["macro.ping_pong=true"]),
        other => panic!("unknown target {other}"),
    };
    let mut all = Vec::new();
    let (mut n, mut sum) = (0usize, 0.0f64);
    for (name, w) in layers() {
        if !name.contains(filter.as_str()) {
            continue;
        }
        for (k, m) in Sampler::new(&t, &w)
            .unwrap()
            .many(1, draws)
            .into_iter()
            .enumerate()
        {
            let c = evaluate(&t, &w, &m);
            let s = cimopt_sim::simulate(&t, &w, &m).unwrap();
            let err = (c.latency_cycles - s.latency_cycles) / s.latency_cycles;
            n += 1;
            sum += err.abs();
            all.push((err, name, k, c.latency_cycles, s.latency_cycles, m));
        }
    }
    all.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    println!(
        "{which}: {n} mappings, latency mean {:.4} %",
        100.0 * sum / n.max(1) as f64
    );
    for (err, name, k, p, s, m) in all.iter().take(top) {
        println!(
            "{:+.3} % {name} draw {k}: predicted {p} simulated {s}\n  {m:?}",
            100.0 * err
        );
    }
}
