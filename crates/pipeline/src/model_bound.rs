//! The model's EDP bound when the layers' homes must agree: every tensor a memory plan holds
//! has one home over its whole life, which both the layer that writes it and the layers that
//! read it use (`cimopt check` refuses a plan where they differ), and the tensors live at one
//! step must fit together in an on-chip level. The bound that lets each layer pick its homes
//! alone (`cimopt_space::bounds::model_edp_bound`) may keep a tensor on chip for its producer
//! and in DRAM for its consumer; on ResNet-18 / `default`, whose activations fit in the global
//! buffer only one at a time, it is 3.4 % below the same bound at the schedule's own homes.
//!
//! For a weight `λ`, the least `Σ E₀ + λ·L` over the layers (`E₀` energy without leakage) is
//! bounded below by a linear programme: per layer a share of each combination of homes it may
//! have, per tensor its share on chip, the layers' shares agreeing with their tensors', the
//! tensors live at each step within each level's capacity, each layer's cost at a combination
//! the least of its candidate bounds there. Its relaxation holds for every plan, so each `λ`
//! gives a line `E₀ + λ·L ≥ m(λ)` that every schedule's totals lie on or above. The model EDP
//! `(E₀ + leakage·L)·L` grows with both, so its least over the lines' intersection is at a
//! vertex; `λ` is refined around the best vertex.

use cimopt_schedule::plan::MemoryPlan;
use cimopt_target::{Operand, Target};
use good_lp::{Expression, ProblemVariables, Variable, variable};
use std::collections::BTreeMap;

/// (energy without leakage nJ, latency cycles) points of a layer's candidate bounds at some
/// homes.
pub type Points = Vec<(f64, f64)>;

/// One layer of the schedule: the combinations of homes it may have, each with the points of
/// its candidate bounds there, and its tensors.
pub struct LayerHomes {
    pub homes: Vec<([usize; 3], Points)>,
    /// Plan tensor ids of its input, weight and output.
    pub tensors: [usize; 3],
    /// The bits of its input, weight and output at the precisions it runs at (unpadded).
    pub bits: [u64; 3],
}

/// A line `a·E₀ + b·L ≥ m` every schedule's totals satisfy.
#[derive(Clone, Copy, Debug)]
struct Line {
    a: f64,
    b: f64,
    m: f64,
}

/// Refinement rounds around the best vertex, after the first grid of weights.
const REFINE_ROUNDS: usize = 6;

/// The least model EDP over every schedule whose memory plan has the tensors, live ranges and
/// steps of `plan`, with each layer's candidate bounds at each of its possible homes (`layers`,
/// one per layer of the plan, in its order). `None` when a programme cannot be solved (the
/// caller keeps the uncoupled bound).
pub fn coupled_edp_bound(t: &Target, plan: &MemoryPlan, layers: &[LayerHomes]) -> Option<f64> {
    if layers.is_empty() {
        return None;
    }
    let leak = t.leakage_nj_per_cycle;
    // Each tensor's least size over its roles (the plan's may be larger: a wider precision,
    // padded extents), so the capacity rows hold for every plan.
    let mut size: BTreeMap<usize, u64> = BTreeMap::new();
    for lh in layers {
        for o in Operand::ALL {
            let e = size
                .entry(lh.tensors[o.index()])
                .or_insert(lh.bits[o.index()]);
            *e = (*e).min(lh.bits[o.index()]);
        }
    }
    let steps = plan.steps.len();
    let solve = |a: f64, b: f64| -> Option<Line> {
        let m = least_weighted(t, plan, layers, &size, steps, a, b)?;
        Some(Line { a, b, m })
    };
    // Scale λ by the layers' own ratio of energy to latency at their cheapest points.
    let (e_min, l_min) = layers.iter().fold((0.0, 0.0), |acc, lh| {
        let pts = lh.homes.iter().flat_map(|h| h.1.iter());
        let e = pts.clone().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let l = pts.map(|p| p.1).fold(f64::INFINITY, f64::min);
        (acc.0 + e, acc.1 + l)
    });
    if !(e_min > 0.0 && l_min > 0.0 && e_min.is_finite() && l_min.is_finite()) {
        return None;
    }
    let scale = e_min / l_min;
    let mut lines = vec![solve(1.0, 0.0)?, solve(0.0, 1.0)?];
    let mut weights: Vec<f64> = (-12..=12)
        .map(|k| scale * 2f64.powf(k as f64 / 2.0))
        .collect();
    for _ in 0..=REFINE_ROUNDS {
        for &lambda in &weights {
            lines.push(solve(1.0, lambda)?);
        }
        let (_, best) = least_edp(&lines, leak)?;
        // Refine between the weights of the two lines meeting at the best vertex and their
        // neighbours.
        let slope = |l: &Line| if l.a == 0.0 { f64::INFINITY } else { l.b / l.a };
        let (x, y) = (slope(&lines[best.0]), slope(&lines[best.1]));
        let (lo, hi) = (x.min(y), x.max(y));
        let lo = if lo == 0.0 { hi / 4.0 } else { lo };
        let hi = if hi.is_infinite() { lo * 4.0 } else { hi };
        if !(lo > 0.0 && hi.is_finite()) || hi / lo < 1.0 + 1e-6 {
            break;
        }
        weights = (1..4)
            .map(|k| lo * (hi / lo).powf(k as f64 / 4.0))
            .collect();
    }
    least_edp(&lines, leak).map(|(edp, _)| edp)
}

/// The least `a·ΣE₀ + b·ΣL` of the relaxed programme, a little lowered for the solver's
/// tolerances.
fn least_weighted(
    t: &Target,
    plan: &MemoryPlan,
    layers: &[LayerHomes],
    size: &BTreeMap<usize, u64>,
    steps: usize,
    a: f64,
    b: f64,
) -> Option<f64> {
    let cost = |pts: &[(f64, f64)]| {
        pts.iter()
            .map(|p| a * p.0 + b * p.1)
            .fold(f64::INFINITY, f64::min)
    };
    let mut vars = ProblemVariables::new();
    let mut objective = Expression::default();
    let mut rows: Vec<good_lp::Constraint> = Vec::new();
    // The tensors' shares on chip, per level: one wherever a layer may keep the tensor there.
    let mut on_chip: BTreeMap<(usize, usize), Variable> = BTreeMap::new();
    for lh in layers {
        for o in Operand::ALL {
            for h in &lh.homes {
                let lv = h.0[o.index()];
                if lv > 0 {
                    on_chip
                        .entry((lh.tensors[o.index()], lv))
                        .or_insert_with(|| vars.add(variable().min(0.0).max(1.0)));
                }
            }
        }
    }
    let mut constant = 0.0;
    for lh in layers {
        let costs: Vec<f64> = lh.homes.iter().map(|h| cost(&h.1)).collect();
        let least = costs.iter().cloned().fold(f64::INFINITY, f64::min);
        if !least.is_finite() {
            return None;
        }
        // Costs relative to the layer's least keep the programme's numbers small.
        constant += least;
        // A combination without a finite bound (no candidate there) is never picked.
        let z: Vec<Variable> = costs
            .iter()
            .map(|c| {
                vars.add(
                    variable()
                        .min(0.0)
                        .max(if c.is_finite() { 1.0 } else { 0.0 }),
                )
            })
            .collect();
        let mut one = Expression::default();
        for (k, &v) in z.iter().enumerate() {
            one += v;
            if costs[k].is_finite() {
                objective.add_mul(costs[k] - least, v);
            }
        }
        rows.push(one.eq(1.0));
        // The layer keeps each of its tensors where the tensor lives (its share of every
        // combination with the tensor at a level is the tensor's share there).
        for o in Operand::ALL {
            let tensor = lh.tensors[o.index()];
            for (&(_, lv), &x) in on_chip.range((tensor, 1)..=(tensor, usize::MAX)) {
                let mut share = Expression::default();
                for (k, h) in lh.homes.iter().enumerate() {
                    if h.0[o.index()] == lv {
                        share += z[k];
                    }
                }
                rows.push(share.eq(x));
            }
        }
    }
    // The tensors live at each step fit in each level.
    for step in 0..steps {
        let mut by_level: BTreeMap<usize, Expression> = BTreeMap::new();
        for (&(tensor, lv), &x) in &on_chip {
            let tt = plan.tensors.get(tensor)?;
            if tt.live[0] <= step && step <= tt.live[1] {
                let bits = size.get(&tensor).copied().unwrap_or(0) as f64;
                by_level
                    .entry(lv)
                    .or_default()
                    .add_mul(bits / t.levels[lv].capacity_bits.max(1) as f64, x);
            }
        }
        for (_, used) in by_level {
            rows.push(used.leq(1.0));
        }
    }
    let solved = crate::residency::highs_model(vars, objective, rows)
        .try_solve()
        .ok()?;
    if solved.status() != highs::HighsModelStatus::Optimal {
        return None;
    }
    let extra = solved.objective_value().max(0.0);
    Some(constant + extra * (1.0 - 1e-6))
}

/// The least `(E₀ + leak·L)·L` over the points on or above every line, and the two lines whose
/// vertex gives it.
fn least_edp(lines: &[Line], leak: f64) -> Option<(f64, (usize, usize))> {
    let holds = |e: f64, l: f64| {
        lines
            .iter()
            .all(|x| x.a * e + x.b * l >= x.m - 1e-9 * x.m.abs().max(1.0))
    };
    let mut best: Option<(f64, (usize, usize))> = None;
    for i in 0..lines.len() {
        for j in i + 1..lines.len() {
            let (p, q) = (lines[i], lines[j]);
            let det = p.a * q.b - p.b * q.a;
            if det.abs() < 1e-12 * (p.a.abs() + p.b.abs()) * (q.a.abs() + q.b.abs()) {
                continue;
            }
            let e = (p.m * q.b - p.b * q.m) / det;
            let l = (p.a * q.m - p.m * q.a) / det;
            if !(e >= 0.0 && l >= 0.0 && holds(e, l)) {
                continue;
            }
            let edp = (e + leak * l) * l;
            if best.is_none_or(|b| edp < b.0) {
                best = Some((edp, (i, j)));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use cimopt_schedule::plan::{PlanStep, PlannedTensor, TensorKind};

    /// A plan tensor `T<id>` of `bits`, live over the steps `live`, in DRAM.
    fn planned(id: usize, kind: TensorKind, bits: u64, live: [usize; 2]) -> PlannedTensor {
        PlannedTensor {
            id,
            name: format!("T{id}"),
            aliases: vec![],
            kind,
            bits,
            home: 0,
            offset: 0,
            live,
        }
    }

    /// Three layers in a chain, `T0 → L0 → T1 → L1 → T2 → L2 → T3`, whose activations `T1` and
    /// `T2` each fit in the global buffer but not together. Each layer is cheapest with every
    /// activation it touches on chip: alone, `L1` picks one and its neighbours the others, so
    /// both would be on chip; a plan keeps at most one of them there during `L1`.
    #[test]
    fn homes_that_must_agree_raise_the_bound_and_never_pass_the_best_plan() {
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let gb = t.level_by_name("global_buffer").unwrap();
        let cap = t.levels[gb].capacity_bits;
        let act = cap * 6 / 10;
        let tensor = |id: usize, kind: TensorKind, live: [usize; 2]| planned(id, kind, act, live);
        let plan = MemoryPlan {
            residency: true,
            steps: (0..3).map(PlanStep::Layer).collect(),
            tensors: vec![
                tensor(0, TensorKind::Input, [0, 0]),
                tensor(1, TensorKind::Activation, [0, 1]),
                tensor(2, TensorKind::Activation, [1, 2]),
                tensor(3, TensorKind::Output, [2, 2]),
                tensor(4, TensorKind::Weight, [0, 2]),
            ],
            buffers: vec![],
            layers: vec![],
            baseline: None,
        };
        // (energy without leakage, latency) per combination of homes; on chip is cheaper in
        // both, by different amounts per layer.
        let point = |e: f64, l: f64| vec![(e, l), (e * 1.3, l * 0.8)];
        let layers = vec![
            LayerHomes {
                homes: vec![
                    ([0; 3], point(100.0, 1000.0)),
                    ([0, 0, gb], point(70.0, 800.0)),
                ],
                tensors: [0, 4, 1],
                bits: [act; 3],
            },
            LayerHomes {
                homes: vec![
                    ([0; 3], point(100.0, 1000.0)),
                    ([gb, 0, 0], point(60.0, 850.0)),
                    ([0, 0, gb], point(80.0, 700.0)),
                ],
                tensors: [1, 4, 2],
                bits: [act; 3],
            },
            LayerHomes {
                homes: vec![
                    ([0; 3], point(100.0, 1000.0)),
                    ([gb, 0, 0], point(65.0, 750.0)),
                ],
                tensors: [2, 4, 3],
                bits: [act; 3],
            },
        ];
        let leak = t.leakage_nj_per_cycle;
        let edp = |e: f64, l: f64| (e + leak * l) * l;
        // Every plan: T1 and T2 each in DRAM or on chip, not both; every layer any point of its
        // homes'.
        let mut best_plan = f64::INFINITY;
        for (t1, t2) in [(0, 0), (gb, 0), (0, gb)] {
            let pick = |lh: &LayerHomes, i: usize, o: usize| {
                lh.homes
                    .iter()
                    .find(|h| h.0[0] == i && h.0[2] == o)
                    .map(|h| h.1.clone())
                    .unwrap()
            };
            let options = [
                pick(&layers[0], 0, t1),
                pick(&layers[1], t1, t2),
                pick(&layers[2], t2, 0),
            ];
            for a in &options[0] {
                for b in &options[1] {
                    for c in &options[2] {
                        best_plan = best_plan.min(edp(a.0 + b.0 + c.0, a.1 + b.1 + c.1));
                    }
                }
            }
        }
        // Each layer alone: its homes' points pooled, as `model_edp_bound` takes them.
        let mut alone = f64::INFINITY;
        let pooled: Vec<Vec<(f64, f64)>> = layers
            .iter()
            .map(|lh| lh.homes.iter().flat_map(|h| h.1.clone()).collect())
            .collect();
        for a in &pooled[0] {
            for b in &pooled[1] {
                for c in &pooled[2] {
                    alone = alone.min(edp(a.0 + b.0 + c.0, a.1 + b.1 + c.1));
                }
            }
        }
        let coupled = coupled_edp_bound(&t, &plan, &layers).unwrap();
        assert!(
            coupled <= best_plan,
            "{coupled} above the best plan's {best_plan}"
        );
        assert!(
            coupled > alone * 1.01,
            "{coupled} not above the uncoupled {alone} (best plan {best_plan})"
        );
    }

    /// A skip tensor `S`, read at step 0 and live to step 2, and an activation `A` written at
    /// step 1 and read at step 2, each fitting in the global buffer but not together: no layer
    /// touches both, so only the capacity at the steps they share keeps them apart.
    #[test]
    fn tensors_live_together_share_the_room_of_their_level() {
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let gb = t.level_by_name("global_buffer").unwrap();
        let act = t.levels[gb].capacity_bits * 6 / 10;
        let tensor = |id: usize, live: [usize; 2]| planned(id, TensorKind::Activation, act, live);
        // S = 0, X = 1, A = 2, Y = 3, weights = 4.
        let plan = MemoryPlan {
            residency: true,
            steps: (0..3).map(PlanStep::Layer).collect(),
            tensors: vec![
                tensor(0, [0, 2]),
                tensor(1, [0, 1]),
                tensor(2, [1, 2]),
                tensor(3, [2, 2]),
                tensor(4, [0, 2]),
            ],
            buffers: vec![],
            layers: vec![],
            baseline: None,
        };
        let dram = ([0; 3], vec![(100.0, 1000.0)]);
        let layers = vec![
            LayerHomes {
                homes: vec![dram.clone(), ([gb, 0, 0], vec![(60.0, 700.0)])],
                tensors: [0, 4, 1],
                bits: [act; 3],
            },
            LayerHomes {
                homes: vec![dram.clone(), ([0, 0, gb], vec![(60.0, 700.0)])],
                tensors: [1, 4, 2],
                bits: [act; 3],
            },
            LayerHomes {
                homes: vec![dram.clone(), ([gb, 0, 0], vec![(60.0, 700.0)])],
                tensors: [2, 4, 3],
                bits: [act; 3],
            },
        ];
        let leak = t.leakage_nj_per_cycle;
        let edp = |e: f64, l: f64| (e + leak * l) * l;
        // Both on chip would give every layer its cheap point; a plan keeps one of S and A.
        let alone = edp(180.0, 2100.0);
        let best_plan = edp(60.0 + 60.0 + 60.0 + 40.0, 700.0 * 2.0 + 1000.0);
        let coupled = coupled_edp_bound(&t, &plan, &layers).unwrap();
        assert!(
            coupled <= best_plan,
            "{coupled} above the best plan's {best_plan}"
        );
        assert!(coupled > alone * 1.01, "{coupled} not above {alone}");
    }

    /// The least EDP over lines is at their best vertex: two lines through a known point.
    #[test]
    fn the_least_edp_of_two_lines_is_at_their_vertex_or_an_end() {
        let lines = [
            Line {
                a: 1.0,
                b: 0.0,
                m: 10.0,
            },
            Line {
                a: 0.0,
                b: 1.0,
                m: 100.0,
            },
            Line {
                a: 1.0,
                b: 0.1,
                m: 25.0,
            },
        ];
        // Vertices: (E, L) = (10, 150) and (15, 100); EDP 1500 and 1500 without leakage, and
        // the first pair's (10, 100) is cut off by the third line.
        let (edp, _) = least_edp(&lines, 0.0).unwrap();
        assert!((edp - 1500.0).abs() < 1e-6, "{edp}");
        let (edp, pair) = least_edp(&lines, 0.01).unwrap();
        assert!((edp - (15.0 + 1.0) * 100.0).abs() < 1e-6, "{edp}");
        assert_eq!(pair, (1, 2));
    }
}
