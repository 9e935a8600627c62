//! The cost model against the simulator, on mappings of every source: random draws from the
//! whole space (`cimopt_space::random`), the `ws` and `greedy` mappers, the optimiser's result
//! and every mapping its MILP proposed on the way (with the agreement rule off, so it shows
//! what it would have accepted), over layers of varied shapes and real layers of the bundled
//! models, on both presets and the optimiser's test targets.
//!
//! `cargo run --example agreement -- [random draws per layer] [mip: yes|no] [worst-cases file]`
//! prints mean and worst relative error of latency and energy per target and source, and writes
//! the worst mappings (with both numbers) to the file for study. Minutes on 2 cores with the
//! optimiser, seconds without.

use cimopt_cost::{Objective, evaluate};
use cimopt_ir::{Mapping, Workload};
use cimopt_mappers::{GreedyOptions, greedy, weight_stationary};
use cimopt_optimiser::{Options, optimise_observed};
use cimopt_space::random::Sampler;
use cimopt_target::Target;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

fn target(name: &str, set: &[&str]) -> (String, Target) {
    let set_s: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    let label = if set.is_empty() {
        name.to_string()
    } else {
        format!("{name}+{}", set.join(","))
    };
    (label, cimopt_target::load(name, &set_s).unwrap().target)
}

/// Hand-written shapes, then the distinct layers of some bundled models (every `every`-th).
fn layers() -> Vec<(String, Workload)> {
    let mut v: Vec<(String, Workload)> = vec![
        (
            "1x1 c16 k32 7x7".into(),
            Workload::square_conv(1, 7, 16, 32, 1, 1),
        ),
        (
            "3x3 c8 k16 5x5".into(),
            Workload::square_conv(3, 5, 8, 16, 1, 1),
        ),
        (
            "depthwise 3x3 g16 7x7".into(),
            Workload::square_conv(3, 7, 1, 1, 16, 1),
        ),
        (
            "3x3 stride 2 c4 k13 3x3".into(),
            Workload::square_conv(3, 3, 4, 13, 1, 2),
        ),
        ("matmul 13x64x32".into(), Workload::matmul(13, 64, 32)),
        ("matmul 24x32x256".into(), Workload::matmul(24, 32, 256)),
        (
            "3x3 c64 k64 14x14".into(),
            Workload::square_conv(3, 14, 64, 64, 1, 1),
        ),
        (
            "1x1 c256 k64 7x7".into(),
            Workload::square_conv(1, 7, 256, 64, 1, 1),
        ),
    ];
    for (model, every) in [("resnet18", 1), ("mobilenet_v2", 4), ("bert_base", 1)] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(format!("{model}.onnx"));
        let m = cimopt_onnx::load(&path, &Default::default()).unwrap();
        for l in m
            .layers
            .iter()
            .filter(|l| l.dedup_group == l.index)
            .step_by(every)
        {
            v.push((
                format!("{model} #{} {}", l.index, l.name),
                l.workload.clone(),
            ));
        }
    }
    v
}

#[derive(Default)]
struct Stat {
    n: usize,
    lat_sum: f64,
    lat_worst: f64,
    en_sum: f64,
    en_worst: f64,
    over_2: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let draws: usize = args.first().map_or(50, |a| a.parse().unwrap());
    let with_mip = args.get(1).is_none_or(|a| a == "yes");
    let worst_file = args.get(2).cloned();
    let targets = [
        target("default", &[]),
        target("transformer", &[]),
        target(
            "default",
            &["levels.4.capacity=64bit", "levels.5.capacity=64bit"],
        ),
        target("default", &["macro.ping_pong=true"]),
    ];
    let layers = layers();
    let mut stats: BTreeMap<(String, &str), Stat> = BTreeMap::new();
    let mut worst: Vec<(f64, String)> = Vec::new();
    for (tname, t) in &targets {
        for (lname, w) in &layers {
            let mut maps: Vec<(&str, Mapping)> = Vec::new();
            for m in Sampler::new(t, w).expect("enumerable").many(1, draws) {
                maps.push(("random", m));
            }
            if let Ok(m) = weight_stationary(t, w) {
                maps.push(("ws", m.mapping));
            }
            for objective in [Objective::Edp, Objective::Latency, Objective::Energy] {
                if let Ok(g) = greedy(
                    t,
                    w,
                    &GreedyOptions {
                        objective,
                        ..Default::default()
                    },
                ) {
                    maps.push(("greedy", g.mapping));
                }
            }
            if with_mip {
                let mut seen: Vec<Mapping> = Vec::new();
                let opts = Options {
                    agreement: f64::INFINITY,
                    ..Options::default()
                };
                if let Ok(r) = optimise_observed(t, w, &opts, None, &mut |m| seen.push(m.clone())) {
                    maps.push(("mip", r.mapping));
                }
                for m in seen {
                    maps.push(("milp", m));
                }
            }
            for (source, m) in maps {
                let c = evaluate(t, w, &m);
                let s = cimopt_sim::simulate(t, w, &m).unwrap();
                let rel = |p: f64, q: f64| (p - q).abs() / q.max(1e-12);
                let (el, ee) = (
                    rel(c.latency_cycles, s.latency_cycles),
                    rel(c.energy_nj, s.energy_nj),
                );
                for key in [(tname.clone(), source), (tname.clone(), "all")] {
                    let st = stats.entry(key).or_default();
                    st.n += 1;
                    st.lat_sum += el;
                    st.en_sum += ee;
                    st.lat_worst = st.lat_worst.max(el);
                    st.en_worst = st.en_worst.max(ee);
                    st.over_2 += usize::from(el > 0.02 || ee > 0.02);
                }
                if el > 0.02 || ee > 0.02 {
                    worst.push((
                        el.max(ee),
                        format!(
                            "{tname} | {lname} | {source} | predicted {:.1} cycles {:.3} nJ | simulated {:.1} cycles {:.3} nJ | {w:?} | {m:?}",
                            c.latency_cycles, c.energy_nj, s.latency_cycles, s.energy_nj
                        ),
                    ));
                }
            }
            eprintln!("{tname} {lname} done");
        }
    }
    println!(
        "| target | source | mappings | latency mean | latency worst | energy mean | energy worst | > 2 % |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for ((tname, source), s) in &stats {
        println!(
            "| {tname} | {source} | {} | {:.3} % | {:.2} % | {:.4} % | {:.3} % | {} |",
            s.n,
            100.0 * s.lat_sum / s.n as f64,
            100.0 * s.lat_worst,
            100.0 * s.en_sum / s.n as f64,
            100.0 * s.en_worst,
            s.over_2
        );
    }
    if let Some(f) = worst_file {
        worst.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut out = String::new();
        for (e, line) in &worst {
            writeln!(out, "{:.2}% | {line}", 100.0 * e).unwrap();
        }
        std::fs::write(f, out).unwrap();
    }
}
