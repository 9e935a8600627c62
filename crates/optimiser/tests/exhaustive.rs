//! The optimiser against brute force over the same space, on small layers of varied shapes,
//! and its MILP against the cost model triple by triple.

mod common;
use common::{conv, matmul, small_layers, target, test_targets};

use cimopt_cost::{Objective, evaluate};
use cimopt_ir::analysis::layer_precision;
use cimopt_ir::{Mapping, Workload, check};
use cimopt_optimiser::placement::mapping_of;
use cimopt_optimiser::{
    Options, SkeletonSpace, exhaustive_skeleton, model, optimise, optimise_skeleton,
    skeleton_space, skeletons, skeletons_at,
};
use cimopt_space::spatial;
use cimopt_target::{Axis, Operand};

/// Layers whose whole space (every spatial candidate) brute force covers in seconds.
fn tiny_layers() -> Vec<(&'static str, Workload)> {
    vec![
        ("1x1 c2 k3 2x2", conv(1, 2, 2, 3, 1, 1)),
        ("3x3 c1 k2 2x2", conv(3, 2, 1, 2, 1, 1)),
        ("depthwise 3x3 g2 2x2", conv(3, 2, 1, 1, 2, 1)),
        ("3x3 stride 2 c2 k2 2x2", conv(3, 2, 2, 2, 1, 2)),
        ("matmul 3x4x2", matmul(3, 4, 2)),
    ]
}

/// Every objective, with a latency weight of the order of a ResNet's energy per cycle for the
/// model-EDP objective.
const OBJECTIVES: [Objective; 4] = [
    Objective::Edp,
    Objective::Latency,
    Objective::Energy,
    Objective::Weighted { nj_per_cycle: 0.25 },
];

fn opts(objective: Objective) -> Options {
    Options {
        home: [0; 3],
        objective,
        gap: 1e-6,
        time_limit_s: 600.0,
        spatial_candidates: usize::MAX,
        max_rounds: 10_000,
        placement_limit: usize::MAX,
        max_nodes: 1_000_000,
        // Brute force judges by the cost model alone; so does the search it is checked against.
        agreement: f64::INFINITY,
        around_rounds: 0,
        around_splits: false,
        certify_skeletons: 0,
    }
}

/// On every skeleton of the best-utilised spatial candidates, the MILP search (bound, price,
/// cut, repeat) ends at the brute-force optimum of the skeleton, and its bound is below it.
#[test]
fn heavy_the_milp_reaches_the_brute_force_optimum_of_each_skeleton() {
    let t = target("default", &[]);
    let mut checked = 0;
    for (name, w) in small_layers() {
        let mut cands = spatial::enumerate(&t, &w).unwrap();
        cands.sort_by(|a, b| {
            spatial::utilisation(&t, &w, b).total_cmp(&spatial::utilisation(&t, &w, a))
        });
        for s in cands.iter().take(1) {
            for sk in skeletons(&w, s, &[]) {
                let space = skeleton_space(&t, &w, &sk, usize::MAX).unwrap();
                for objective in OBJECTIVES {
                    let (_, brute) = exhaustive_skeleton(&t, &w, &space, objective)
                        .unwrap_or_else(|| panic!("{name}: nothing fits"));
                    let (m, cost, bound, complete) =
                        optimise_skeleton(&t, &w, &space, &opts(objective));
                    assert!(check(&t, &w, &m).is_empty(), "{name}: invalid mapping");
                    let (b, v) = (objective.of(&brute), objective.of(&cost));
                    assert!(
                        complete,
                        "{name} {:?} {}: search incomplete",
                        sk.loops,
                        objective.name()
                    );
                    assert!(
                        (v - b).abs() <= b * 1e-6,
                        "{name} {:?} {}: MILP search {v} vs brute force {b}",
                        sk.loops,
                        objective.name()
                    );
                    assert!(
                        bound <= b * (1.0 + 1e-6),
                        "{name}: bound {bound} above the optimum {b}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 40, "{checked} skeleton searches");
}

/// The layer-level search never returns worse than its greedy warm start, and its mapping is
/// valid; its reported bound is below its objective.
#[test]
fn the_layer_search_is_never_worse_than_greedy() {
    let t = target("default", &[]);
    for (name, w) in small_layers() {
        let o = Options::default();
        let r = optimise(&t, &w, &o).unwrap();
        assert!(
            check(&t, &w, &r.mapping).is_empty(),
            "{name}: invalid mapping"
        );
        assert!(
            r.stats.objective <= r.stats.warm_start_objective * (1.0 + 1e-12),
            "{name}"
        );
        assert!(
            r.stats.bound <= r.stats.objective * (1.0 + 1e-9),
            "{name}: {:?}",
            r.stats
        );
        assert!((o.objective.of(&r.cost) - r.stats.objective).abs() <= 1e-9 * r.stats.objective);
    }
}

/// The cost model and the MILP state the latency recursion from the same terms
/// (`cimopt_cost::timing`): for every placement triple the cost model's values satisfy the
/// MILP, so the MILP's value of a triple never exceeds the cost model's (what makes its
/// optimum a bound), and on the triples that matter, each skeleton's fastest, the two are
/// equal. Checked on both presets and the test targets.
#[test]
fn heavy_the_milp_and_the_cost_model_agree_triple_by_triple() {
    for t in test_targets() {
        the_milp_never_overestimates_a_triple(&t);
        the_milp_is_exact_on_the_fastest_triples(&t);
    }
}

/// The MILP's latency of a fixed triple.
fn milp_latency(
    t: &cimopt_target::Target,
    w: &Workload,
    space: &cimopt_optimiser::SkeletonSpace,
    triple: [usize; 3],
    c: &cimopt_cost::Cost,
) -> f64 {
    let sol = model::solve(&model::ModelInput {
        latency_ref: c.latency_cycles,
        energy_ref: c.energy_nj,
        cutoff: c.latency_cycles * 1.5,
        fixed: Some(triple),
        ..model_input(t, w, space, Objective::Latency)
    });
    sol.latency.expect("a fixed triple is feasible")
}

/// Each skeleton's fastest valid triple (by the cost model): the MILP's latency equals it on
/// nearly every skeleton, so a term the two sides state differently fails here.
fn the_milp_is_exact_on_the_fastest_triples(t: &cimopt_target::Target) {
    let (mut exact, mut total) = (0, 0);
    for (name, w) in tiny_layers() {
        for s in spatial::enumerate(t, &w).unwrap().iter().step_by(3) {
            for sk in skeletons(&w, s, &[]) {
                let space = skeleton_space(t, &w, &sk, usize::MAX).unwrap();
                let n: Vec<usize> = space.placements.iter().map(|p| p.len()).collect();
                // Brute force on the small spaces only, to stay quick.
                if n.iter().product::<usize>() > 20_000 {
                    continue;
                }
                let best = priced_triples(t, &w, &space)
                    .into_iter()
                    .min_by(|a, b| a.1.latency_cycles.total_cmp(&b.1.latency_cycles));
                let Some((triple, cost)) = best else {
                    continue;
                };
                let v = milp_latency(t, &w, &space, triple, &cost);
                total += 1;
                if v >= cost.latency_cycles * (1.0 - 1e-6) {
                    exact += 1;
                } else {
                    eprintln!(
                        "{} {name} {:?}: MILP {v} below the cost model's {}",
                        t.name, sk.loops, cost.latency_cycles
                    );
                }
            }
        }
    }
    eprintln!(
        "{}: MILP exact on {exact} of {total} fastest triples",
        t.name
    );
    assert!(total >= 20, "{}: {total} skeletons", t.name);
    assert!(
        exact * 10 >= total * 9,
        "{}: the MILP is exact on only {exact} of {total} fastest triples",
        t.name
    );
}

fn the_milp_never_overestimates_a_triple(t: &cimopt_target::Target) {
    let t = t.clone();
    let mut exact = 0;
    let mut total = 0;
    for (name, w) in small_layers() {
        let cands = spatial::enumerate(&t, &w).unwrap();
        for s in cands.iter().take(3) {
            for sk in skeletons(&w, s, &[]) {
                let space = skeleton_space(&t, &w, &sk, usize::MAX).unwrap();
                for (f, m) in valid_sample(&t, &w, &space, 40) {
                    let c = evaluate(&t, &w, &m);
                    for objective in OBJECTIVES {
                        let truth = objective.of(&c);
                        let sol = model::solve(&model::ModelInput {
                            latency_ref: c.latency_cycles,
                            energy_ref: c.energy_nj,
                            cutoff: truth * 1.5,
                            fixed: Some(f),
                            ..model_input(&t, &w, &space, objective)
                        });
                        let v = sol
                            .objective
                            .unwrap_or_else(|| panic!("{name}: {f:?} infeasible in the MILP"));
                        assert!(
                            v <= truth * (1.0 + 1e-6),
                            "{name} {f:?} {}: MILP {v} > cost model {truth}",
                            objective.name()
                        );
                        total += 1;
                        if v >= truth * (1.0 - 1e-6) {
                            exact += 1;
                        }
                    }
                }
            }
        }
    }
    eprintln!("{}: MILP exact on {exact} of {total} triples", t.name);
    assert!(total > 100);
}

/// The objective of a placement triple priced from its placements' profiles
/// (`model::triple_objective`: the operands' views merged into the triple's nest) is the cost
/// model's, on every valid triple of small skeletons and a sample of larger ones, on every test
/// target, every objective, tensors at DRAM and kept on chip; and `model::Triples` lists
/// exactly the valid triples below its cut-off, in order. Certification takes a skeleton's
/// optimum from these, so a step the merge places wrongly fails here.
#[test]
fn heavy_a_triple_priced_from_its_profiles_is_the_cost_models() {
    let mut checked = 0u64;
    for t in test_targets() {
        let mut layers = tiny_layers();
        layers.extend(small_layers());
        for (name, w) in layers {
            for home in [[0; 3], [1, 0, 1]] {
                for s in spatial::enumerate(&t, &w)
                    .unwrap()
                    .iter()
                    .step_by(5)
                    .take(6)
                {
                    for sk in skeletons_at(&w, s, &[], home) {
                        let Some(space) = skeleton_space(&t, &w, &sk, 20_000) else {
                            continue;
                        };
                        let inputs = OBJECTIVES.map(|o| model_input(&t, &w, &space, o));
                        let mut floors: Vec<model::TripleFloors> =
                            inputs.iter().map(model::TripleFloors::new).collect();
                        for (f, m) in valid_sample(&t, &w, &space, 400) {
                            let c = evaluate(&t, &w, &m);
                            for (k, objective) in OBJECTIVES.into_iter().enumerate() {
                                let truth = objective.of(&c);
                                let v = model::triple_objective(&inputs[k], f);
                                let floor = floors[k].of(f);
                                assert!(
                                    floor <= truth * (1.0 + 1e-9),
                                    "{} {name} {:?} {f:?} {}: the triple's relaxed value \
                                     {floor} is above the cost model's {truth}: {m:?}",
                                    t.name,
                                    sk.loops,
                                    objective.name()
                                );
                                assert!(
                                    (v - truth).abs() <= truth.abs() * 1e-9,
                                    "{} {name} {:?} {f:?} {}: from the profiles {v}, the cost \
                                     model {truth}: {m:?}",
                                    t.name,
                                    sk.loops,
                                    objective.name()
                                );
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    eprintln!("{checked} triples priced from their profiles");
    assert!(checked > 5_000, "{checked} triples");
}

/// `model::Triples` against brute force: exactly the valid triples below the cut-off,
/// cheapest first, on the tiny layers (every skeleton of every third candidate).
#[test]
fn heavy_the_triples_below_a_cutoff_are_the_brute_forces() {
    for t in test_targets() {
        for (name, w) in tiny_layers() {
            for s in spatial::enumerate(&t, &w).unwrap().iter().step_by(3) {
                for sk in skeletons(&w, s, &[]) {
                    let space = skeleton_space(&t, &w, &sk, usize::MAX).unwrap();
                    let n: Vec<usize> = space.placements.iter().map(|p| p.len()).collect();
                    if n.iter().product::<usize>() > 20_000 {
                        continue;
                    }
                    let priced = priced_triples(&t, &w, &space);
                    for objective in OBJECTIVES {
                        let mut values: Vec<f64> =
                            priced.iter().map(|(_, c)| objective.of(c)).collect();
                        values.sort_by(f64::total_cmp);
                        // A cut-off in the middle of the triples' objectives, halfway between
                        // two distinct ones: many triples tie, and a tie at the cut-off is
                        // above or below it by rounding alone.
                        let Some(cutoff) = values
                            .windows(2)
                            .skip(values.len() / 2)
                            .find(|p| p[1] > p[0] * (1.0 + 1e-6))
                            .map(|p| (p[0] + p[1]) / 2.0)
                        else {
                            continue;
                        };
                        let input = model::ModelInput {
                            cutoff,
                            ..model_input(&t, &w, &space, objective)
                        };
                        let below: Vec<(f64, [usize; 3])> = model::Triples::new(&input, usize::MAX)
                            .expect("no limit")
                            .collect();
                        let mut expected: Vec<(f64, [usize; 3])> = priced
                            .iter()
                            .map(|(f, c)| (objective.of(c), *f))
                            .filter(|(v, _)| *v < cutoff)
                            .collect();
                        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                        // The listed triples fit the shared levels; the valid ones among
                        // them, in the listed order, are the brute force's, value for value.
                        let valid: std::collections::HashSet<[usize; 3]> =
                            priced.iter().map(|(f, _)| *f).collect();
                        let listed: Vec<&(f64, [usize; 3])> =
                            below.iter().filter(|b| valid.contains(&b.1)).collect();
                        let at = |v: f64| {
                            format!("{} {name} {:?} {}: {v}", t.name, sk.loops, objective.name())
                        };
                        assert_eq!(listed.len(), expected.len(), "{}", at(cutoff));
                        for (l, e) in listed.iter().zip(&expected) {
                            assert!(
                                (l.0 - e.0).abs() <= e.0.abs() * 1e-9,
                                "{}: listed {l:?}, brute force {e:?}",
                                at(cutoff)
                            );
                        }
                        let mut by_triple: Vec<[usize; 3]> = listed.iter().map(|l| l.1).collect();
                        by_triple.sort();
                        let mut expected_triples: Vec<[usize; 3]> =
                            expected.iter().map(|e| e.1).collect();
                        expected_triples.sort();
                        assert_eq!(by_triple, expected_triples, "{}", at(cutoff));
                        assert!(below.windows(2).all(|p| p[0].0 <= p[1].0));
                    }
                }
            }
        }
    }
}

/// Up to `count` valid placement triples of a skeleton with their mappings: every triple when
/// there are no more than `count`, else a deterministic spread over them.
fn valid_sample(
    t: &cimopt_target::Target,
    w: &Workload,
    space: &SkeletonSpace,
    count: usize,
) -> Vec<([usize; 3], Mapping)> {
    let n: Vec<usize> = space.placements.iter().map(|p| p.len()).collect();
    let all = n.iter().product::<usize>();
    (0..all.min(count))
        .map(|k| if all <= count { k } else { k * 7919 % all })
        .map(|k| [k % n[0], k / n[0] % n[1], k / (n[0] * n[1])])
        .filter_map(|f| {
            let m = mapping_of(
                &space.skeleton,
                Operand::ALL.map(|o| &space.placements[o.index()][f[o.index()]]),
            );
            check(t, w, &m).is_empty().then_some((f, m))
        })
        .collect()
}

/// Every valid placement triple of a skeleton with its cost, in enumeration order (what
/// `exhaustive_skeleton` searches, with the triples kept for the tests to index the MILP by).
fn priced_triples(
    t: &cimopt_target::Target,
    w: &Workload,
    space: &SkeletonSpace,
) -> Vec<([usize; 3], cimopt_cost::Cost)> {
    let [pi, pw, po] = &space.placements;
    let mut out = Vec::new();
    for (a, i) in pi.iter().enumerate() {
        for (b, wt) in pw.iter().enumerate() {
            for (c, o) in po.iter().enumerate() {
                let m = mapping_of(&space.skeleton, [i, wt, o]);
                if check(t, w, &m).is_empty() {
                    out.push(([a, b, c], evaluate(t, w, &m)));
                }
            }
        }
    }
    out
}

/// What the MILP of a skeleton is given, with no incumbent to speak of.
fn model_input<'a>(
    t: &'a cimopt_target::Target,
    w: &Workload,
    space: &'a SkeletonSpace,
    objective: Objective,
) -> model::ModelInput<'a> {
    let sk = &space.skeleton;
    model::ModelInput {
        target: t,
        skeleton: sk,
        profiles: [&space.profiles[0], &space.profiles[1], &space.profiles[2]],
        objective,
        t_mac_cycles: t.t_mac_at(&layer_precision(t, w)),
        mac_energy_nj: t.activation_energy_nj_at(&layer_precision(t, w))
            * sk.activations() as f64
            * sk.spatial
                .iter()
                .filter(|f| f.axis == Axis::Cores)
                .map(|f| f.factor)
                .product::<u64>() as f64,
        latency_ref: 1.0,
        energy_ref: 1.0,
        cutoff: f64::INFINITY,
        excluded: &[],
        gap: 1e-9,
        time_limit_s: 60.0,
        max_nodes: 1_000_000,
        fixed: None,
    }
}

/// The bound the search reads off the profiles before it solves a skeleton
/// (`model::separable_bound`; a skeleton it puts at or above the incumbent is never solved) is
/// below the cost model's objective of every valid triple of the skeleton: on every test
/// target, every objective, tensors at DRAM and kept on chip, by brute force. It is also
/// close to the skeleton's optimum on a good share of them, so a bound weakened to something
/// vacuous fails here as well as one that overshoots.
#[test]
fn the_profiles_bound_is_below_every_triple_of_a_skeleton() {
    for t in test_targets() {
        let (mut checked, mut close) = (0, 0);
        let mut worst: f64 = 0.0;
        for (name, w) in tiny_layers().into_iter().chain(small_layers()) {
            for home in [[0, 0, 0], [1, 0, 1]] {
                for s in spatial::enumerate(&t, &w).unwrap().iter().step_by(3) {
                    for sk in skeletons_at(&w, s, &[], home).iter().step_by(2) {
                        let Some(space) = skeleton_space(&t, &w, sk, usize::MAX) else {
                            continue;
                        };
                        let n: Vec<usize> = space.placements.iter().map(|p| p.len()).collect();
                        if n.iter().product::<usize>() > 5_000 {
                            continue;
                        }
                        let mut best = [f64::INFINITY; OBJECTIVES.len()];
                        for (_, cost) in priced_triples(&t, &w, &space) {
                            for (k, o) in OBJECTIVES.iter().enumerate() {
                                best[k] = best[k].min(o.of(&cost));
                            }
                        }
                        for (k, &objective) in OBJECTIVES.iter().enumerate() {
                            if !best[k].is_finite() {
                                continue;
                            }
                            let floor =
                                model::separable_bound(&model_input(&t, &w, &space, objective));
                            assert!(
                                floor <= best[k] * (1.0 + 1e-9),
                                "{} {name} at {home:?} {:?} {}: the profiles' bound {floor} is \
                                 above the skeleton's optimum {}",
                                t.name,
                                sk.loops,
                                objective.name(),
                                best[k]
                            );
                            checked += 1;
                            worst = worst.max(floor / best[k]);
                            if floor >= 0.9 * best[k] {
                                close += 1;
                            }
                        }
                    }
                }
            }
        }
        eprintln!(
            "{}: the profiles' bound within 10 % of the skeleton's optimum on {close} of {checked} (skeleton, objective) pairs; closest {worst:.4}",
            t.name
        );
        assert!(checked >= 200, "{}: {checked} checked", t.name);
        assert!(
            close * 5 >= checked,
            "{}: close on {close} of {checked}",
            t.name
        );
    }
}

/// The profiles' bound on real-sized layers, where streams, ports and long chains matter: below
/// the cost model's objective of every triple sampled from greedy's skeleton and its loop
/// moves, on every test target and objective.
#[test]
fn the_profiles_bound_is_below_sampled_triples_of_real_layers() {
    let layers = [
        ("3x3 c64 k64 56x56", conv(3, 56, 64, 64, 1, 1)),
        ("1x1 c64 k128 28x28 stride 2", conv(1, 28, 64, 128, 1, 2)),
        ("matmul 128x768x768", matmul(128, 768, 768)),
    ];
    for t in test_targets() {
        let (mut checked, mut searched, mut close) = (0, 0, 0);
        for (name, w) in &layers {
            let g = cimopt_mappers::greedy(
                &t,
                w,
                &cimopt_mappers::GreedyOptions {
                    objective: Objective::Weighted { nj_per_cycle: 0.25 },
                    ..Default::default()
                },
            )
            .unwrap();
            let seed = cimopt_space::Skeleton::of(&g.mapping);
            for sk in skeletons(w, &g.mapping.spatial, &[seed]).iter().step_by(3) {
                let Some(space) = skeleton_space(&t, w, sk, 20_000) else {
                    continue;
                };
                let n: Vec<usize> = space.placements.iter().map(|p| p.len()).collect();
                let floors =
                    OBJECTIVES.map(|o| model::separable_bound(&model_input(&t, w, &space, o)));
                // The skeleton's best triple for the compile's objective, by the MILP search.
                let weighted = OBJECTIVES[3];
                let (_, best, _, _) = optimise_skeleton(
                    &t,
                    w,
                    &space,
                    &Options {
                        max_rounds: 20,
                        ..opts(weighted)
                    },
                );
                let v = weighted.of(&best);
                assert!(
                    floors[3] <= v * (1.0 + 1e-9),
                    "{} {name} {:?}: the profiles' bound {} is above the skeleton's best {v}",
                    t.name,
                    sk.loops,
                    floors[3]
                );
                searched += 1;
                if floors[3] >= 0.9 * v {
                    close += 1;
                }
                let inputs = OBJECTIVES.map(|o| model_input(&t, w, &space, o));
                let mut relaxations: Vec<model::TripleFloors> =
                    inputs.iter().map(model::TripleFloors::new).collect();
                for (f, m) in valid_sample(&t, w, &space, 60) {
                    let c = evaluate(&t, w, &m);
                    for (k, (objective, floor)) in OBJECTIVES.iter().zip(floors).enumerate() {
                        let v = objective.of(&c);
                        assert!(
                            floor <= v * (1.0 + 1e-9),
                            "{} {name} {:?} {f:?} {}: the profiles' bound {floor} is above a \
                             triple's {v}",
                            t.name,
                            sk.loops,
                            objective.name()
                        );
                        let relaxed = relaxations[k].of(f);
                        assert!(
                            floor <= relaxed * (1.0 + 1e-9) && relaxed <= v * (1.0 + 1e-9),
                            "{} {name} {:?} {f:?} {}: the triple's relaxed value {relaxed} is \
                             not between the profiles' bound {floor} and the cost model's {v}",
                            t.name,
                            sk.loops,
                            objective.name()
                        );
                        checked += 1;
                    }
                }
            }
        }
        eprintln!(
            "{}: {checked} sampled triples above the profiles' bound; the skeleton's best \
             triple above it on {searched}, within 10 % on {close}",
            t.name
        );
        assert!(checked >= 400, "{}: {checked} checked", t.name);
        assert!(
            searched >= 10 && close * 4 >= searched,
            "{}: close on {close} of {searched}",
            t.name
        );
    }
}

/// The bound a layer search reports holds over the whole space: it is never above the optimum
/// brute force finds (on every small layer small enough to enumerate, for every objective).
#[test]
fn the_reported_bound_is_below_the_brute_force_optimum() {
    let t = target("default", &[]);
    let mut checked = 0;
    for (name, w) in tiny_layers() {
        for objective in OBJECTIVES {
            let o = opts(objective);
            let Some((_, best, _)) =
                cimopt_optimiser::exhaustive(&t, &w, &o, None, 700_000).unwrap()
            else {
                continue;
            };
            let r = optimise(
                &t,
                &w,
                // One candidate solved: the others' analytical bounds make up the layer bound.
                &Options {
                    objective,
                    spatial_candidates: 1,
                    ..Options::default()
                },
            )
            .unwrap();
            let truth = objective.of(&best);
            assert!(
                r.stats.bound <= truth * (1.0 + 1e-9),
                "{name} {}: bound {} above the optimum {truth}",
                objective.name(),
                r.stats.bound
            );
            checked += 1;
        }
    }
    eprintln!("{checked} layer searches checked against brute force");
    assert!(checked >= 8, "{checked} layers enumerated");
}

/// A spatial candidate's analytical bound is below every mapping with those spatial factors:
/// checked on the greedy and weight-stationary mappings of ResNet-sized layers, where the
/// bound is within a small factor of them (so an inflated bound fails here).
#[test]
fn the_spatial_bound_is_below_real_mappings() {
    let t = target("default", &[]);
    let layers = [
        ("3x3 c512 k512 7x7", conv(3, 7, 512, 512, 1, 1)),
        ("3x3 c64 k64 56x56", conv(3, 56, 64, 64, 1, 1)),
        ("1x1 c64 k128 28x28 stride 2", conv(1, 28, 64, 128, 1, 2)),
        ("matmul 128x768x768", matmul(128, 768, 768)),
    ];
    let mut tightest: f64 = 0.0;
    for (name, w) in layers {
        let bounds = cimopt_space::bounds::lower_bound(&t, &w).unwrap();
        for objective in OBJECTIVES {
            let g = cimopt_mappers::greedy(
                &t,
                &w,
                &cimopt_mappers::GreedyOptions {
                    objective,
                    ..Default::default()
                },
            )
            .unwrap();
            let ws = cimopt_mappers::weight_stationary(&t, &w).unwrap();
            for m in [g, ws] {
                let lb =
                    cimopt_optimiser::spatial_bound(&t, &w, &m.mapping.spatial, &bounds, objective);
                let v = objective.of(&m.cost);
                assert!(
                    lb <= v * (1.0 + 1e-9),
                    "{name} {}: bound {lb} above a mapping's {v}",
                    objective.name()
                );
                tightest = tightest.max(lb / v);
            }
        }
    }
    // The check has teeth only if the bound is close to some mapping.
    assert!(tightest > 0.5, "tightest bound / mapping ratio {tightest}");
}
