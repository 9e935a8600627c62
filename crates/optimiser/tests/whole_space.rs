//! Brute force over the **whole** space of small layers (every spatial candidate, split, order,
//! level per loop and operand, double buffer: `cimopt_optimiser::exhaustive_whole`) against
//! what the rest of the project claims about it: every lower bound lies below the true
//! optimum, the optimiser's result above it (its reported bound below), on layers of varied
//! shapes, both presets and every objective. And the optimum itself is simulated as predicted,
//! so what brute force certifies is what the simulator will say.

mod common;
use common::{conv, matmul, target};

use cimopt_cost::Objective;
use cimopt_ir::{Workload, check};
use cimopt_optimiser::{Options, certify_from, exhaustive_whole, optimise};
use cimopt_space::bounds::{lower_bound, physical_bound};
use cimopt_space::spatial;
use cimopt_target::Target;

const OBJECTIVES: [Objective; 4] = [
    Objective::Latency,
    Objective::Energy,
    Objective::Edp,
    Objective::Weighted { nj_per_cycle: 0.25 },
];

/// A 2-row output strided along the rows only, to keep the space small.
fn strided(r: u64, k: u64) -> Workload {
    Workload {
        s: 1,
        q: 1,
        w: 1,
        stride: [2, 1],
        ..conv(r, 2, 1, k, 1, 2)
    }
}

/// Layers whose whole space brute force prices in about a second each (≤ 110 000 mappings).
fn small_layers() -> Vec<(&'static str, Workload)> {
    vec![
        (
            "1x1 c2 k3 1x2",
            Workload {
                q: 2,
                w: 2,
                ..conv(1, 1, 2, 3, 1, 1)
            },
        ),
        ("3x3 c1 k2 1x1", conv(3, 1, 1, 2, 1, 1)),
        ("depthwise 3x3 g3 1x1", conv(3, 1, 1, 1, 3, 1)),
        ("3x1 stride 2 k2 2x1", strided(3, 2)),
        ("matmul 7x2x13", matmul(7, 2, 13)),
        ("matmul 13x7x1", matmul(13, 7, 1)),
    ]
}

/// Larger spaces (1–30 million mappings, minutes in all).
fn larger_layers() -> Vec<(&'static str, Workload)> {
    vec![
        ("1x1 stride 2 c2 k2 2x2", conv(1, 2, 2, 2, 1, 2)),
        ("matmul 3x4x2", matmul(3, 4, 2)),
        ("depthwise 3x3 g2 2x2", conv(3, 2, 1, 1, 2, 1)),
        ("3x3 stride 2 c1 k2 2x2", conv(3, 2, 1, 2, 1, 2)),
    ]
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// Checks one layer on one target; returns the mappings brute force priced.
fn check_layer(t: &Target, name: &str, w: &Workload) -> u64 {
    let best = exhaustive_whole(t, w, &OBJECTIVES, [0; 3], 50_000_000)
        .unwrap_or_else(|| panic!("{} {name}: space too large or empty", t.name));
    let physical = physical_bound(t, w).unwrap();
    let candidates = spatial::enumerate(t, w).unwrap();
    for (objective, truth) in OBJECTIVES.iter().zip(&best) {
        let v = truth.objective;
        let what = format!("{} {name} {}", t.name, objective.name());
        assert!(check(t, w, &truth.mapping).is_empty(), "{what}: invalid");
        // The layer's latency bound (compile, report, `lower_bound_cycles`) and the smallest
        // candidate bound (what the optimiser prunes with and reports for unsolved candidates).
        if *objective == Objective::Latency {
            let lb = lower_bound(t, w).unwrap().cycles;
            assert!(
                lb <= v * (1.0 + 1e-9),
                "{what}: latency bound {lb} > optimum {v}"
            );
        }
        // The deep bound (with the first two loops' passes) is never below the plain one, so
        // checking it checks both.
        let candidate = candidates
            .iter()
            .map(|s| cimopt_optimiser::spatial_bound_deep(t, w, s, &physical, *objective))
            .fold(f64::INFINITY, f64::min);
        assert!(
            candidate <= v * (1.0 + 1e-9),
            "{what}: candidate bound {candidate} > optimum {v}"
        );
        // The optimiser as shipped: its reported bound below the optimum, its result above.
        let r = optimise(
            t,
            w,
            &Options {
                objective: *objective,
                ..Options::default()
            },
        )
        .unwrap();
        assert!(
            r.stats.bound <= v * (1.0 + 1e-9),
            "{what}: reported bound {} > optimum {v}",
            r.stats.bound
        );
        assert!(
            r.stats.objective >= v * (1.0 - 1e-9),
            "{what}: mip {} below the whole space's optimum {v}: brute force missed a mapping",
            r.stats.objective
        );
        // Where every candidate has few enough loop nests to be searched whole, mip proves its
        // result optimal over every mapping of the layer.
        let whole = candidates.iter().all(|s| {
            cimopt_space::whole::loop_list_count(&spatial::trips(w, s).0)
                <= cimopt_optimiser::WHOLE_CANDIDATE_SKELETONS
        });
        if whole {
            assert_eq!(
                r.stats.status,
                cimopt_optimiser::Status::Optimal,
                "{what}: not proven over the whole space: {:?}",
                r.stats
            );
        }
        // Certification from the weight-stationary baseline, with room for every skeleton of
        // the layer: it must find the optimum and prove it over the whole space.
        let ws = cimopt_mappers::weight_stationary(t, w).unwrap().mapping;
        let certified = certify_from(
            t,
            w,
            &Options {
                objective: *objective,
                certify_skeletons: u64::MAX,
                ..Options::default()
            },
            &ws,
        )
        .unwrap();
        let c = &certified.stats;
        assert!(
            c.bound <= v * (1.0 + 1e-9),
            "{what}: certified bound {} > optimum {v}",
            c.bound
        );
        assert!(
            c.objective <= v * (1.0 + 1e-3) && c.objective >= v * (1.0 - 1e-9),
            "{what}: certification from ws ended at {} against the optimum {v}",
            c.objective
        );
        assert_eq!(
            c.status,
            cimopt_optimiser::Status::Optimal,
            "{what}: certification with no budget limit did not prove its result: {c:?}"
        );
        // How far each side is from the truth (shown with `--nocapture`): which of bound and
        // search leaves a layer's gap open.
        eprintln!(
            "{what}: candidate bound / optimum {:.4}, reported bound / optimum {:.4}, mip / optimum {:.4}",
            candidate / v,
            r.stats.bound / v,
            r.stats.objective / v
        );
        // The simulator agrees on the optimum, so the certificate is the simulator's too.
        let s = cimopt_sim::simulate(t, w, &truth.mapping).unwrap();
        assert!(
            rel(truth.cost.latency_cycles, s.latency_cycles) <= 0.02
                && rel(truth.cost.energy_nj, s.energy_nj) <= 0.02,
            "{what}: optimum predicted {:?} simulated {} cycles {} nJ",
            (truth.cost.latency_cycles, truth.cost.energy_nj),
            s.latency_cycles,
            s.energy_nj
        );
    }
    best[0].mappings
}

fn check_target(t: &Target, layers: &[(&str, Workload)]) {
    let mut mappings = 0;
    for (name, w) in layers {
        mappings += check_layer(t, name, w);
    }
    eprintln!("{}: {mappings} mappings priced", t.name);
}

#[test]
fn bounds_below_and_mip_above_the_whole_space_optimum_on_default() {
    check_target(&target("default", &[]), &small_layers());
}

#[test]
fn bounds_below_and_mip_above_the_whole_space_optimum_on_transformer() {
    check_target(&target("transformer", &[]), &small_layers());
}

// One test per preset, so that the two run side by side (about 27 million mappings each).
#[test]
fn heavy_bounds_below_and_mip_above_the_whole_space_optimum_on_larger_layers_on_default() {
    check_target(&target("default", &[]), &larger_layers());
}

#[test]
fn heavy_bounds_below_and_mip_above_the_whole_space_optimum_on_larger_layers_on_transformer() {
    check_target(&target("transformer", &[]), &larger_layers());
}

/// The enumerator really is the whole space: on a small layer, the number of mappings it prices
/// equals an independent count over each skeleton: every assignment of a level to every loop
/// for every operand (monotone or not) with every set of double buffers the target allows,
/// kept when `cimopt_ir::check` accepts it.
#[test]
fn the_enumerator_covers_every_valid_mapping() {
    use cimopt_ir::{Mapping, TemporalLoop};
    use cimopt_target::Operand;
    let t = target("default", &[]);
    let w = matmul(13, 7, 1);
    let best = exhaustive_whole(&t, &w, &[Objective::Latency], [0; 3], u64::MAX).unwrap();
    // Per operand: every level of the target for each loop; every double-buffer pair.
    let levels: Vec<Vec<usize>> = Operand::ALL.iter().map(|&o| t.levels_of(o)).collect();
    let pairs: Vec<(usize, Operand)> = (1..t.num_levels())
        .flat_map(|l| Operand::ALL.map(|o| (l, o)))
        .filter(|&(l, o)| t.may_double_buffer(l, o))
        .collect();
    let mut count = 0u64;
    for s in spatial::enumerate(&t, &w).unwrap() {
        for sk in cimopt_space::whole::skeletons_of(&w, &s, [0; 3]) {
            let n = sk.loops.len();
            let per_operand: Vec<usize> = levels.iter().map(|l| l.len().pow(n as u32)).collect();
            for code in 0..per_operand.iter().product::<usize>() {
                let mut rest = code;
                let mut level = vec![[0usize; 3]; n];
                for o in Operand::ALL {
                    let ls = &levels[o.index()];
                    let mut c = rest % per_operand[o.index()];
                    rest /= per_operand[o.index()];
                    for l in level.iter_mut() {
                        l[o.index()] = ls[c % ls.len()];
                        c /= ls.len();
                    }
                }
                let used = |lv: usize, o: Operand| level.iter().any(|l| l[o.index()] == lv);
                // Double buffers of unused levels change nothing; count sets over used ones.
                let usable: Vec<(usize, Operand)> =
                    pairs.iter().copied().filter(|&(l, o)| used(l, o)).collect();
                for mask in 0..1u32 << usable.len() {
                    let m = Mapping {
                        spatial: sk.spatial.clone(),
                        temporal: sk
                            .loops
                            .iter()
                            .zip(&level)
                            .map(|(&(dim, factor), &level)| TemporalLoop { dim, factor, level })
                            .collect(),
                        double_buffer: (0..usable.len())
                            .filter(|b| mask & 1 << b != 0)
                            .map(|b| usable[b])
                            .collect(),
                        padded_dims: sk.padded,
                        home: [0; 3],
                    };
                    count += u64::from(check(&t, &w, &m).is_empty());
                }
            }
        }
    }
    assert_eq!(best[0].mappings, count);
    assert!(count > 1000, "{count}");
}
