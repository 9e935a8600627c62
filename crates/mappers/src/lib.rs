//! Baseline mappers, judged by the cost model: `ws`, the canonical weight-stationary mapping
//! CIM compilers use, and `greedy`, a heuristic search. Both stay as baselines and as warm
//! starts for the optimiser.

pub mod levels;

use cimopt_cost::{Cost, Objective, evaluate};
use cimopt_ir::{Mapping, SpatialFactor, Violation, Workload, check};
use cimopt_space::{
    INPUT_STATIONARY, OUTPUT_STATIONARY, Skeleton, WEIGHT_STATIONARY, loop_moves, loops_in_order,
    spatial,
};
use cimopt_target::{Axis, Dim, Operand, Target};
use levels::{Draft, assign};

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// Even the mapping that keeps everything in the outermost level does not fit.
    #[error("no mapping fits: {}", .0.iter().map(|v| v.message.clone()).collect::<Vec<_>>().join("; "))]
    Infeasible(Vec<Violation>),
    /// The layer's spatial space is too large to search on this target.
    #[error("{0}")]
    TooManyUnrollings(#[from] spatial::TooManyUnrollings),
}

/// A mapping and its predicted cost.
#[derive(Clone, Debug)]
pub struct Mapped {
    pub mapping: Mapping,
    pub cost: Cost,
    /// Mappings evaluated by the search.
    pub evaluated: u64,
}

fn allowed_double(t: &Target) -> Vec<(usize, Operand)> {
    let mut v = Vec::new();
    for lv in 0..t.num_levels() {
        for o in Operand::ALL {
            if t.levels[lv].holds.contains(o) && t.may_double_buffer(lv, o) && lv != t.macro_level()
            {
                v.push((lv, o));
            }
        }
    }
    v
}

fn finish(t: &Target, w: &Workload, p: &Draft) -> Option<(Mapping, Cost)> {
    let m = assign(t, w, p);
    if !check(t, w, &m).is_empty() {
        return None;
    }
    let c = evaluate(t, w, &m);
    Some((m, c))
}

fn infeasible(t: &Target, w: &Workload, p: &Draft) -> MapError {
    MapError::Infeasible(check(t, w, &assign(t, w, p)))
}

/// The canonical weight-stationary mapping: macro rows take as much of R·S·C as fits, columns
/// and then cores take K (cores fall back to G, then P, when K is used up); each weight tile is
/// written into the macros once (weight loops outermost) while inputs stream through.
pub fn weight_stationary(t: &Target, w: &Workload) -> Result<Mapped, MapError> {
    weight_stationary_at(t, w, [0; 3])
}

/// [`weight_stationary`] for a layer whose operands' tensors live at `home` (see
/// `cimopt_ir::Mapping::home`).
pub fn weight_stationary_at(
    t: &Target,
    w: &Workload,
    home: [usize; 3],
) -> Result<Mapped, MapError> {
    let mut spatial = Vec::new();
    // Rows: the (r, s, c) with the largest product that fits, preferring C.
    let rows = t.axis(Axis::Rows).size;
    let mut best = (0u64, 0u64, 1u64, 1u64, 1u64);
    for c in spatial::axis_factors(w.c, rows)
        .into_iter()
        .filter(|c| w.c.is_multiple_of(*c))
    {
        for s in spatial::axis_factors(w.s, rows / c)
            .into_iter()
            .filter(|s| w.s.is_multiple_of(*s))
        {
            for r in spatial::axis_factors(w.r, rows / (c * s))
                .into_iter()
                .filter(|r| w.r.is_multiple_of(*r))
            {
                let key = (r * s * c, c, r, s, c);
                if (key.0, key.1) > (best.0, best.1) {
                    best = key;
                }
            }
        }
    }
    let (_, _, r, s, c) = best;
    for (d, f) in [(Dim::R, r), (Dim::S, s), (Dim::C, c)] {
        if f > 1 && t.axis(Axis::Rows).dims.contains(&d) {
            spatial.push(cimopt_ir::SpatialFactor {
                axis: Axis::Rows,
                dim: d,
                factor: f,
            });
        }
    }
    let mut left = w.extents();
    let largest_divisor = |n: u64, cap: u64| {
        (1..=cap.min(n))
            .rev()
            .find(|d| n.is_multiple_of(*d))
            .unwrap_or(1)
    };
    if t.axis(Axis::Cols).dims.contains(&Dim::K) {
        let kc = largest_divisor(w.k, t.axis(Axis::Cols).size);
        if kc > 1 {
            spatial.push(cimopt_ir::SpatialFactor {
                axis: Axis::Cols,
                dim: Dim::K,
                factor: kc,
            });
            left[Dim::K.index()] /= kc;
        }
    }
    let mut cores_left = t.axis(Axis::Cores).size;
    for d in [Dim::K, Dim::G, Dim::P] {
        if !t.axis(Axis::Cores).dims.contains(&d) || cores_left < 2 {
            continue;
        }
        let f = largest_divisor(left[d.index()], cores_left);
        if f > 1 {
            spatial.push(cimopt_ir::SpatialFactor {
                axis: Axis::Cores,
                dim: d,
                factor: f,
            });
            left[d.index()] /= f;
            cores_left /= f;
        }
    }
    let (trips, padded) = spatial::trips(w, &spatial);
    let plan = Draft {
        skeleton: Skeleton {
            spatial,
            loops: loops_in_order(&WEIGHT_STATIONARY, &trips),
            padded,
            home,
        },
        double_buffer: vec![],
        shares: levels::EVEN_SHARES,
    };
    let (mapping, cost) = finish(t, w, &plan).ok_or_else(|| infeasible(t, w, &plan))?;
    Ok(Mapped {
        mapping,
        cost,
        evaluated: 1,
    })
}

/// Settings of the greedy search.
#[derive(Clone, Copy, Debug)]
pub struct GreedyOptions {
    pub objective: Objective,
    /// Spatial candidates (best utilisation first) explored.
    pub spatial_candidates: usize,
    /// Rounds of local improvement.
    pub max_rounds: usize,
    /// Where each operand's tensor lives (`cimopt_ir::Mapping::home`; DRAM by default).
    pub home: [usize; 3],
}

impl Default for GreedyOptions {
    fn default() -> Self {
        GreedyOptions {
            objective: Objective::Edp,
            spatial_candidates: 6,
            max_rounds: 40,
            home: [0; 3],
        }
    }
}

/// Local moves around a draft.
fn neighbours(p: &Draft, allowed_db: &[(usize, Operand)]) -> Vec<Draft> {
    let mut out: Vec<Draft> = loop_moves(&p.skeleton.loops)
        .into_iter()
        .map(|loops| Draft {
            skeleton: Skeleton {
                loops,
                ..p.skeleton.clone()
            },
            ..p.clone()
        })
        .collect();
    // Toggle a double-buffer flag.
    for &db in allowed_db {
        let mut np = p.clone();
        if let Some(k) = np.double_buffer.iter().position(|&x| x == db) {
            np.double_buffer.remove(k);
        } else {
            np.double_buffer.push(db);
            np.double_buffer.sort();
        }
        out.push(np);
    }
    // Rebalance shared capacity.
    for from in 0..3 {
        for to in 0..3 {
            if from != to && p.shares[from] > 1 {
                let mut np = p.clone();
                np.shares[from] -= 1;
                np.shares[to] += 1;
                out.push(np);
            }
        }
    }
    out
}

/// Heuristic search: the best-utilised spatial candidates, three loop-order templates, with and
/// without double buffering, then hill climbing over loop splits, merges, swaps, double-buffer
/// flags and shared-capacity splits. Deterministic, so each result is computed once per process
/// ([`memo`]).
pub fn greedy(t: &Target, w: &Workload, opts: &GreedyOptions) -> Result<Mapped, MapError> {
    let key = memo::Key::new(t, w, opts);
    if let Some(m) = memo::get(&key) {
        return Ok(m);
    }
    let m = search(t, w, opts)?;
    memo::put(key, &m);
    Ok(m)
}

/// Greedy results of this process. A compile asks for the same greedy mapping several times:
/// the memory plan screens a variant (a layer with a tensor kept on chip) with it, the
/// variant's search starts from it, and its polish again. Measured on ResNet-18 / `default`:
/// 88 greedy searches, 52 of them distinct. The search is deterministic, so a remembered
/// result is the one it would compute. Bounded: the oldest entries go first.
mod memo {
    use super::{GreedyOptions, Mapped};
    use cimopt_ir::Workload;
    use cimopt_target::Target;
    use std::collections::{HashMap, VecDeque};
    use std::sync::{LazyLock, Mutex, MutexGuard};

    /// Entries kept: a model's distinct layers at every home the memory plan tries, with room.
    const CAPACITY: usize = 1024;

    /// The target and options by their full `Debug` text: every field, every float to the bit.
    #[derive(Clone, PartialEq, Eq, Hash)]
    pub struct Key {
        target: String,
        workload: Workload,
        options: String,
    }

    impl Key {
        pub fn new(t: &Target, w: &Workload, opts: &GreedyOptions) -> Key {
            Key {
                target: format!("{t:?}"),
                workload: w.clone(),
                options: format!("{opts:?}"),
            }
        }
    }

    #[derive(Default)]
    struct Memo {
        results: HashMap<Key, Mapped>,
        order: VecDeque<Key>,
    }

    static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(Mutex::default);

    fn memo() -> MutexGuard<'static, Memo> {
        // A panic elsewhere while holding the lock leaves the map consistent (every update is
        // a single insert or remove), so a poisoned lock is still usable.
        MEMO.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(key: &Key) -> Option<Mapped> {
        memo().results.get(key).cloned()
    }

    pub fn put(key: Key, m: &Mapped) {
        let mut memo = memo();
        if memo.results.contains_key(&key) {
            return;
        }
        if memo.order.len() == CAPACITY
            && let Some(oldest) = memo.order.pop_front()
        {
            memo.results.remove(&oldest);
        }
        memo.order.push_back(key.clone());
        memo.results.insert(key, m.clone());
    }
}

/// The greedy search itself ([`greedy`]).
fn search(t: &Target, w: &Workload, opts: &GreedyOptions) -> Result<Mapped, MapError> {
    // Rank by utilisation, best first; the stable sort keeps enumeration order among ties.
    let mut ranked: Vec<(f64, Vec<SpatialFactor>)> = spatial::enumerate(t, w)?
        .into_iter()
        .map(|s| (spatial::utilisation(t, w, &s), s))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.truncate(opts.spatial_candidates.max(1));
    let candidates: Vec<Vec<SpatialFactor>> = ranked.into_iter().map(|(_, s)| s).collect();
    let allowed_db = allowed_double(t);
    let score = |c: &Cost| opts.objective.of(c);
    let mut evaluated = 0u64;
    let mut best: Option<(Draft, Mapping, Cost)> = None;
    let ws = weight_stationary_at(t, w, opts.home).ok();
    let mut first_plan = None;
    for spatial in &candidates {
        let (trips, padded) = spatial::trips(w, spatial);
        for order in [&WEIGHT_STATIONARY, &OUTPUT_STATIONARY, &INPUT_STATIONARY] {
            for db in [vec![], allowed_db.clone()] {
                let plan = Draft {
                    skeleton: Skeleton {
                        spatial: spatial.clone(),
                        loops: loops_in_order(order, &trips),
                        padded,
                        home: opts.home,
                    },
                    double_buffer: db,
                    shares: levels::EVEN_SHARES,
                };
                first_plan.get_or_insert_with(|| plan.clone());
                let Some((mut m, mut c)) = finish(t, w, &plan) else {
                    continue;
                };
                evaluated += 1;
                let mut plan = plan;
                // Hill climb from this start.
                for _ in 0..opts.max_rounds {
                    let mut improved = false;
                    for np in neighbours(&plan, &allowed_db) {
                        evaluated += 1;
                        if let Some((nm, nc)) = finish(t, w, &np)
                            && score(&nc) < score(&c) * (1.0 - 1e-12)
                        {
                            (plan, m, c) = (np, nm, nc);
                            improved = true;
                        }
                    }
                    if !improved {
                        break;
                    }
                }
                if best.as_ref().is_none_or(|b| score(&c) < score(&b.2)) {
                    best = Some((plan, m, c));
                }
            }
        }
    }
    // Never worse than the weight-stationary baseline.
    if let Some(ws) = ws
        && best.as_ref().is_none_or(|b| score(&ws.cost) < score(&b.2))
    {
        return Ok(Mapped {
            mapping: ws.mapping,
            cost: ws.cost,
            evaluated: evaluated + 1,
        });
    }
    match best {
        Some((_, mapping, cost)) => Ok(Mapped {
            mapping,
            cost,
            evaluated,
        }),
        None => Err(infeasible(
            t,
            w,
            first_plan.as_ref().expect("at least one candidate"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo answers for the target and options it was asked with, never for another's:
    /// two targets that differ only in the global buffer's size, asked in turn.
    #[test]
    fn a_remembered_greedy_result_is_the_one_its_own_target_gives() {
        let w = Workload::square_conv(3, 14, 64, 128, 1, 1);
        let load = |set: &[&str]| {
            let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
            cimopt_target::load("default", &set).unwrap().target
        };
        let roomy = load(&[]);
        let tight = load(&["levels.global_buffer.capacity=16KiB"]);
        for t in [&roomy, &tight, &roomy, &tight] {
            for objective in [Objective::Edp, Objective::Latency] {
                let opts = GreedyOptions {
                    objective,
                    ..Default::default()
                };
                let remembered = greedy(t, &w, &opts).unwrap();
                let fresh = search(t, &w, &opts).unwrap();
                assert_eq!(remembered.mapping, fresh.mapping);
                assert_eq!(remembered.cost, fresh.cost);
            }
        }
        // The targets' answers differ, so a memo that ignored the target would fail above.
        let opts = GreedyOptions::default();
        assert_ne!(
            search(&roomy, &w, &opts).unwrap().cost,
            search(&tight, &w, &opts).unwrap().cost
        );
    }
}
