//! How well the cost model predicts the simulator, over every layer of every bundled model on
//! both presets, for the schedules of every mapper: mean ≤ 1 %, worst ≤ 3 % on latency and on
//! energy.

mod common;
use cimopt_cost::{Objective, evaluate};
use cimopt_mappers::{GreedyOptions, greedy, weight_stationary};

struct Errors {
    latency: Vec<(f64, String)>,
    energy: Vec<(f64, String)>,
}

fn rel(p: f64, s: f64) -> f64 {
    (p - s).abs() / s
}

fn collect() -> Errors {
    let mut e = Errors {
        latency: vec![],
        energy: vec![],
    };
    for model in common::bundled_models() {
        let m = cimopt_onnx::load(&model, &Default::default()).unwrap();
        for preset in ["default", "transformer"] {
            let t = cimopt_target::load(preset, &[]).unwrap().target;
            for layer in m.layers.iter().filter(|l| l.dedup_group == l.index) {
                let w = &layer.workload;
                let mappings = [
                    ("ws", weight_stationary(&t, w).unwrap().mapping),
                    (
                        "greedy",
                        greedy(
                            &t,
                            w,
                            &GreedyOptions {
                                objective: Objective::Edp,
                                ..Default::default()
                            },
                        )
                        .unwrap()
                        .mapping,
                    ),
                ];
                for (mapper, mapping) in mappings {
                    let c = evaluate(&t, w, &mapping);
                    // The latency by cause adds up to the latency.
                    let b = &c.latency;
                    let parts = b.compute + b.mode_switch + b.mismatch + b.writeback + b.bootstrap;
                    assert!(
                        (parts - c.latency_cycles).abs() <= 1e-6 * c.latency_cycles.max(1.0),
                        "{} #{}: causes add up to {parts}, latency {}",
                        model.display(),
                        layer.index,
                        c.latency_cycles
                    );
                    let s = cimopt_sim::simulate(&t, w, &mapping).unwrap();
                    let name = format!(
                        "{} {preset} {mapper} #{} {}",
                        model.file_stem().unwrap().to_string_lossy(),
                        layer.index,
                        layer.name
                    );
                    e.latency
                        .push((rel(c.latency_cycles, s.latency_cycles), name.clone()));
                    e.energy.push((rel(c.energy_nj, s.energy_nj), name));
                }
            }
        }
    }
    e
}

fn summary(what: &str, v: &mut [(f64, String)]) -> (f64, f64) {
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mean = v.iter().map(|x| x.0).sum::<f64>() / v.len() as f64;
    let worst = v[0].0;
    println!(
        "{what}: {} layers, mean {:.3}%, worst {:.3}%",
        v.len(),
        100.0 * mean,
        100.0 * worst
    );
    for (err, name) in v.iter().take(5) {
        println!("  {:.3}%  {name}", 100.0 * err);
    }
    (mean, worst)
}

#[test]
fn cost_model_predicts_the_simulator() {
    let mut e = collect();
    let (lat_mean, lat_worst) = summary("latency", &mut e.latency);
    let (en_mean, en_worst) = summary("energy", &mut e.energy);
    assert!(
        lat_mean <= 0.01,
        "mean latency error {:.3}% > 1%",
        100.0 * lat_mean
    );
    assert!(
        en_mean <= 0.01,
        "mean energy error {:.3}% > 1%",
        100.0 * en_mean
    );
    assert!(
        lat_worst <= 0.03,
        "worst latency error {:.3}% > 3%: {}",
        100.0 * lat_worst,
        e.latency[0].1
    );
    assert!(
        en_worst <= 0.03,
        "worst energy error {:.3}% > 3%: {}",
        100.0 * en_worst,
        e.energy[0].1
    );
}
