//! The per-layer optimiser (`--mapper mip`): an exact search on HiGHS over a defined space of
//! dataflows, and an exhaustive enumerator over the same space to check it (`--mapper
//! exhaustive`). The method is described in `docs/optimiser.md`.
//!
//! The space: every spatial unrolling (ranked by a lower bound on the objective, pruned
//! against the incumbent), each with loop skeletons (three stationarity orders over the
//! whole trip counts, plus the greedy mapper's hill-climbed skeleton), and for each skeleton
//! every placement of every operand on its memory levels with every double-buffer choice.
//! For each skeleton a MILP ([`model`]) picks the placements; its optimum is a proven lower
//! bound, each solution it returns is priced by the cost model and cut off, until the bound
//! meets the best true value. The greedy mapper's result is the warm-start incumbent, so the
//! result is never worse than greedy's.

pub mod model;
pub mod placement;
pub mod profile;

use cimopt_cost::{Cost, Objective, evaluate};
use cimopt_ir::analysis::layer_precision;
use cimopt_ir::{Mapping, Workload, check};
use cimopt_mappers::{GreedyOptions, MapError, greedy};
use cimopt_space::bounds::{Innermost, LowerBound, NestShape, OUTER_CASES, physical_bound_over};
use cimopt_space::{
    INPUT_STATIONARY, OUTPUT_STATIONARY, Skeleton, WEIGHT_STATIONARY, loops_in_order, spatial,
};
use cimopt_target::{Axis, Operand, Target};
use placement::{Placement, mapping_of, placements};
use profile::{Profile, profile};
use std::time::Instant;

/// Settings of the optimiser. Everything here goes into the cache key and the schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub objective: Objective,
    /// Relative optimality gap at which a solve stops.
    pub gap: f64,
    /// Wall-clock limit per layer, seconds: a safety net, solves normally end on the gap.
    pub time_limit_s: f64,
    /// Spatial candidates solved (best lower bound first); the rest only contribute their
    /// lower bound.
    pub spatial_candidates: usize,
    /// Solutions per skeleton priced by the cost model before the skeleton's bound is taken
    /// as it stands.
    pub max_rounds: usize,
    /// Placements per operand and skeleton above which a skeleton is skipped (its bound is
    /// then the spatial candidate's).
    pub placement_limit: usize,
    /// Branch-and-bound nodes per MILP solve: the deterministic work budget (the time limit
    /// is only a safety net).
    pub max_nodes: u64,
    /// A priced solution is accepted only if the simulator's latency and energy agree with the
    /// cost model's within this relative tolerance: the search must not win by landing where
    /// the model is wrong.
    pub agreement: f64,
    /// Where each operand's tensor lives (`cimopt_ir::Mapping::home`; DRAM by default): the
    /// layer's context in the model's memory plan.
    pub home: [usize; 3],
    /// Rounds of reorderings [`optimise_around`] and [`climb_from`] climb from their seeds
    /// while they improve the incumbent (the first always runs; each reordering gets one MILP
    /// proposal; a round after one that found nothing looks two reorderings away, and the
    /// climb stops if that finds nothing either); 0: the seeds' nests only.
    pub around_rounds: usize,
    /// Whether the climb's one-step rounds also try loop splits ([`cimopt_space::loop_splits`]:
    /// a prime factor of a loop split off to any position), priced with the reorderings. A
    /// climb with splits starts from a polished result, so [`climb_from`] then skips the
    /// polish's other candidates.
    pub around_splits: bool,
    /// Skeletons per layer searched after the search proper to bound spatial candidates over
    /// every mapping ([`certify`]); 0: none, the candidates' analytical bounds stand.
    pub certify_skeletons: u64,
}

impl Options {
    /// The gap each skeleton is searched to (HiGHS's `mip_rel_gap` and the bound–price–cut
    /// loop's stop), a tenth of [`Options::gap`]: a skeleton proven only within `gap` may hold a
    /// triple a little better than the result, which a layer then gives away for nothing (the
    /// tighter gap costs no measurable time on the bundled models). The layer's status still
    /// compares its bound with `gap`.
    pub fn skeleton_gap(&self) -> f64 {
        self.gap / 10.0
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            objective: Objective::Edp,
            gap: 1e-3,
            time_limit_s: 60.0,
            spatial_candidates: 8,
            max_rounds: 10,
            placement_limit: 3000,
            max_nodes: 500,
            agreement: 0.01,
            home: [0; 3],
            around_rounds: 0,
            around_splits: false,
            certify_skeletons: 0,
        }
    }
}

/// How a layer's search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The result is within `gap` of the best mapping in the space.
    Optimal,
    /// The search stopped with the bound below (see [`Stats::stop_reasons`] for why).
    Incomplete,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Optimal => "optimal",
            Status::Incomplete => "incomplete",
        }
    }
}

/// Why a layer's search stopped where it did. A proven result stops for [`StopReason::GapReached`]
/// alone; an incomplete one for every budget that left part of the space unproven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StopReason {
    /// The result is within the relative gap of the bound.
    GapReached,
    /// A MILP solve ran out of branch-and-bound nodes ([`Options::max_nodes`]).
    NodeBudget,
    /// A skeleton's bound–price–cut loop ran out of rounds ([`Options::max_rounds`]).
    RoundBudget,
    /// Spatial candidates whose bound is below the result were not solved
    /// ([`Options::spatial_candidates`]).
    CandidateBudget,
    /// A skeleton had more placements than [`Options::placement_limit`] and was not solved.
    PlacementLimit,
    /// The wall-clock limit ([`Options::time_limit_s`]) ended the search.
    TimeLimit,
    /// Skeletons (loop splits and orders) of a solved candidate outside the ones searched are
    /// bounded only analytically, below the result: the space searched may be proven, the
    /// whole space is not.
    UnsearchedSkeletons,
}

impl StopReason {
    pub const ALL: [StopReason; 7] = [
        StopReason::GapReached,
        StopReason::NodeBudget,
        StopReason::RoundBudget,
        StopReason::CandidateBudget,
        StopReason::PlacementLimit,
        StopReason::TimeLimit,
        StopReason::UnsearchedSkeletons,
    ];

    /// The name schedules record.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::GapReached => "gap_reached",
            StopReason::NodeBudget => "node_budget",
            StopReason::RoundBudget => "round_budget",
            StopReason::CandidateBudget => "candidate_budget",
            StopReason::PlacementLimit => "placement_limit",
            StopReason::TimeLimit => "time_limit",
            StopReason::UnsearchedSkeletons => "unsearched_skeletons",
        }
    }
}

/// The evidence of one layer's search.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub status: Status,
    /// Why the search stopped, sorted; `[GapReached]` exactly when `status` is optimal.
    pub stop_reasons: Vec<StopReason>,
    /// The result's objective (cost model, true units).
    pub objective: f64,
    /// A proven lower bound on the objective of every mapping of the layer: every spatial
    /// candidate, loop split and order, placement and double buffer.
    pub bound: f64,
    /// `(objective − bound) / objective`.
    pub gap: f64,
    /// A proven lower bound over the space searched: the skeletons enumerated for the solved
    /// candidates (every placement of each), the other candidates analytically. At least
    /// `bound`; the result is optimal in that space when within the gap of it.
    pub space_bound: f64,
    /// `(objective − space_bound) / objective`.
    pub space_gap: f64,
    pub candidates_enumerated: u64,
    pub candidates_pruned: u64,
    pub candidates_solved: u64,
    pub skeletons_solved: u64,
    pub milp_solves: u64,
    /// Priced solutions rejected because the simulator disagreed with the cost model.
    pub rejected_by_simulator: u64,
    /// Whether the greedy warm start was the final answer.
    pub warm_start_kept: bool,
    /// The greedy warm start's objective.
    pub warm_start_objective: f64,
    /// The skeleton search's objective at the returned solution when a skeleton search (the
    /// MILP or the triples priced from profiles) found it (true units).
    pub milp_objective: Option<f64>,
    pub wall_s: f64,
}

impl Stats {
    /// The evidence of a search that has not started: optimal until something stops it, no
    /// bound yet, nothing counted; `warm_start_objective` is the incumbent it starts from.
    fn starting(warm_start_objective: f64) -> Stats {
        Stats {
            status: Status::Optimal,
            stop_reasons: Vec::new(),
            objective: 0.0,
            bound: f64::INFINITY,
            gap: 0.0,
            space_bound: f64::INFINITY,
            space_gap: 0.0,
            candidates_enumerated: 0,
            candidates_pruned: 0,
            candidates_solved: 0,
            skeletons_solved: 0,
            milp_solves: 0,
            rejected_by_simulator: 0,
            warm_start_kept: true,
            warm_start_objective,
            milp_objective: None,
            wall_s: 0.0,
        }
    }
}

/// The optimiser's result.
#[derive(Clone, Debug)]
pub struct Optimised {
    pub mapping: Mapping,
    pub cost: Cost,
    pub stats: Stats,
}

/// Lower bound on the objective of any mapping with these spatial factors, whatever its loops,
/// levels and double buffering: the smallest over [`cimopt_space::bounds::candidate_bounds`]
/// (one per level weights may come from and kind of innermost loop) of its latency and its
/// energy plus leakage over that latency.
pub fn spatial_bound(
    t: &Target,
    w: &Workload,
    s: &[cimopt_ir::SpatialFactor],
    bounds: &LowerBound,
    o: Objective,
) -> f64 {
    least_objective(
        t,
        o,
        &cimopt_space::bounds::candidate_bounds(t, w, s, bounds),
    )
}

/// [`spatial_bound`] from [`cimopt_space::bounds::candidate_bounds_deep`]: never lower, and
/// dearer, so only the candidates that set a layer's bound are re-priced with it
/// ([`BoundedCandidates`]).
pub fn spatial_bound_deep(
    t: &Target,
    w: &Workload,
    s: &[cimopt_ir::SpatialFactor],
    bounds: &LowerBound,
    o: Objective,
) -> f64 {
    least_objective(
        t,
        o,
        &cimopt_space::bounds::candidate_bounds_deep(t, w, s, bounds),
    )
}

/// The least objective `o` over a candidate's bounds: every mapping of it is in one's case.
fn least_objective(
    t: &Target,
    o: Objective,
    bounds: &[cimopt_space::bounds::CandidateBound],
) -> f64 {
    bounds
        .iter()
        .map(|b| bound_objective(t, o, b))
        .fold(f64::INFINITY, f64::min)
}

/// Objective `o` of a candidate bound's latency and energy, leakage on its latency included.
fn bound_objective(t: &Target, o: Objective, b: &cimopt_space::bounds::CandidateBound) -> f64 {
    o.of_parts(b.cycles, b.energy_nj + t.leakage_nj_per_cycle * b.cycles)
}

/// [`spatial_bound`] per case of a mapping's loop nest: by kind of innermost loop of more than
/// one trip (`Innermost::ALL` order) and by case of outermost one
/// (`cimopt_space::bounds::outer_index`). Each holds for every mapping of the candidate in
/// that case, as each of the candidate's bounds does for its kind and its energy for each
/// outermost case (`crates/optimiser/tests/bounds.rs` checks them mapping by mapping). A kind
/// without a bound of its own gets the candidate's; a case no mapping is in, infinity.
pub fn spatial_bound_by_case(
    t: &Target,
    w: &Workload,
    s: &[cimopt_ir::SpatialFactor],
    bounds: &LowerBound,
    o: Objective,
) -> [[f64; OUTER_CASES]; 3] {
    let all = cimopt_space::bounds::candidate_bounds_by_outer_deep(t, w, s, bounds);
    bound_by_case(t, o, &all)
}

/// [`spatial_bound_by_case`] of the mappings whose loop nest has the shape `shape` (its weight
/// passes and runs, [`cimopt_space::bounds::nest_shape`]).
pub fn spatial_bound_by_case_of_nest(
    t: &Target,
    w: &Workload,
    s: &[cimopt_ir::SpatialFactor],
    bounds: &LowerBound,
    o: Objective,
    shape: &NestShape,
) -> [[f64; OUTER_CASES]; 3] {
    let all = cimopt_space::bounds::candidate_bounds_of_nest(t, w, s, bounds, shape);
    bound_by_case(t, o, &all)
}

/// Per kind of innermost loop and case of outermost one, the least objective `o` over the
/// bounds `all` of that kind, at that case's latency and energy.
fn bound_by_case(
    t: &Target,
    o: Objective,
    all: &[cimopt_space::bounds::CandidateBound],
) -> [[f64; OUTER_CASES]; 3] {
    let value = |b: &cimopt_space::bounds::CandidateBound, case: usize| {
        let cycles = b.cycles_by_outer[case];
        o.of_parts(
            cycles,
            b.energy_by_outer[case] + t.leakage_nj_per_cycle * cycles,
        )
    };
    let least = least_objective(t, o, all);
    Innermost::ALL.map(|kind| {
        let of_kind: Vec<_> = all.iter().filter(|b| b.innermost == kind).collect();
        if of_kind.is_empty() {
            return [least; OUTER_CASES];
        }
        std::array::from_fn(|case| {
            of_kind
                .iter()
                .map(|b| value(b, case))
                .fold(f64::INFINITY, f64::min)
        })
    })
}

/// The case of `loops` (outer to inner) in [`spatial_bound_by_case`]: the kind of its innermost
/// loop of more than one trip and the case of its outermost one; `None` for one activation
/// (every case's bound holds for it).
pub fn nest_case(loops: &[(cimopt_target::Dim, u64)]) -> Option<(usize, usize)> {
    let mut multi = loops.iter().filter(|l| l.1 > 1);
    let outer = multi.next()?;
    let inner = multi.next_back().unwrap_or(outer);
    Some((
        Innermost::of(inner.0).index(),
        cimopt_space::bounds::outer_index(Some(outer.0)),
    ))
}

/// The skeletons of one spatial candidate: the warm starts' skeletons (`extra`) that have these
/// spatial factors, the three stationarity orders over whole trip counts, then every loop move
/// ([`cimopt_space::loop_moves`]: a split, merge or swap) of each warm start's skeleton.
pub fn skeletons(
    w: &Workload,
    s: &[cimopt_ir::SpatialFactor],
    extra: &[Skeleton],
) -> Vec<Skeleton> {
    skeletons_at(w, s, extra, [0; 3])
}

/// [`skeletons`] of a layer whose operands' tensors live at `home`.
pub fn skeletons_at(
    w: &Workload,
    s: &[cimopt_ir::SpatialFactor],
    extra: &[Skeleton],
    home: [usize; 3],
) -> Vec<Skeleton> {
    let (trips, padded) = spatial::trips(w, s);
    let mut out: Vec<Skeleton> = Vec::new();
    let mut add = |sk: Skeleton| {
        if !out.contains(&sk) {
            out.push(sk);
        }
    };
    let warm: Vec<&Skeleton> = extra.iter().filter(|e| e.spatial == s).collect();
    for e in &warm {
        add((*e).clone());
    }
    for order in [&WEIGHT_STATIONARY, &OUTPUT_STATIONARY, &INPUT_STATIONARY] {
        add(Skeleton {
            spatial: s.to_vec(),
            loops: loops_in_order(order, &trips),
            padded,
            home,
        });
    }
    for e in &warm {
        for loops in cimopt_space::loop_moves(&e.loops) {
            add(Skeleton {
                loops,
                ..(*e).clone()
            });
        }
    }
    // A candidate with few loop nests gets all of them: its skeletons' bounds then hold for
    // every mapping of it, and no split or order of it is left unsearched.
    if cimopt_space::whole::loop_list_count(&trips) <= WHOLE_CANDIDATE_SKELETONS {
        for sk in cimopt_space::whole::skeletons_of(w, s, home) {
            add(sk);
        }
    }
    out
}

/// Candidates with at most this many skeletons (every split and order of their loops) are
/// searched whole ([`skeletons_at`]).
pub const WHOLE_CANDIDATE_SKELETONS: u64 = 16;

/// A skeleton's placements and their profiles, or `None` when a space is over the limit.
pub struct SkeletonSpace {
    pub skeleton: Skeleton,
    pub placements: [Vec<Placement>; 3],
    pub profiles: [Vec<Profile>; 3],
}

pub fn skeleton_space(
    t: &Target,
    w: &Workload,
    sk: &Skeleton,
    limit: usize,
) -> Option<SkeletonSpace> {
    // Every operand's placements first: a space over the limit builds no profile.
    let mut placed: [Vec<(Placement, Vec<u64>)>; 3] = Default::default();
    for o in Operand::ALL {
        placed[o.index()] = placements(t, w, sk, o, limit)?;
        if placed[o.index()].is_empty() {
            return None;
        }
    }
    let mut ps: [Vec<Placement>; 3] = Default::default();
    let mut profiles: [Vec<Profile>; 3] = Default::default();
    for (o, placed) in Operand::ALL.into_iter().zip(placed) {
        for (p, bits) in placed {
            profiles[o.index()].push(profile(t, w, sk, o, &p, bits));
            ps[o.index()].push(p);
        }
    }
    Some(SkeletonSpace {
        skeleton: sk.clone(),
        placements: ps,
        profiles,
    })
}

fn mac_energy(t: &Target, w: &Workload, sk: &Skeleton) -> f64 {
    let fill: u64 = sk
        .spatial
        .iter()
        .filter(|f| f.axis == Axis::Cores)
        .map(|f| f.factor)
        .product();
    t.activation_energy_nj_at(&layer_precision(t, w)) * sk.activations() as f64 * fill as f64
}

/// The best mapping found so far.
struct Incumbent {
    mapping: Mapping,
    cost: Cost,
    objective: f64,
    milp_objective: Option<f64>,
}

/// Result of one skeleton's search.
struct SkeletonOutcome {
    bound: f64,
    solves: u64,
    rejected: u64,
    complete: bool,
    /// What stopped an incomplete search.
    stopped_by: Option<StopReason>,
}

fn solve_skeleton(
    t: &Target,
    w: &Workload,
    space: &SkeletonSpace,
    opts: &Options,
    inc: &mut Incumbent,
    deadline: Instant,
    observe: &mut dyn FnMut(&Mapping),
) -> SkeletonOutcome {
    let mut excluded: Vec<[usize; 3]> = Vec::new();
    let mut separable = None;
    let mut out = SkeletonOutcome {
        bound: 0.0,
        solves: 0,
        rejected: 0,
        complete: false,
        stopped_by: None,
    };
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        if left <= 0.0 {
            out.stopped_by = Some(StopReason::TimeLimit);
            return out;
        }
        let input = model_input(t, w, space, opts, inc, &excluded, left);
        // Nothing in the skeleton beats the incumbent when even the profiles' cheapest terms
        // do not: the solve would only prove that.
        let floor = *separable.get_or_insert_with(|| model::separable_bound(&input));
        if floor >= inc.objective {
            log::debug!(
                target: "cimopt::milp",
                "milp {:?}: skipped, the profiles' bound {floor:.4e} ≥ incumbent {:.4e}",
                space.skeleton.loops,
                inc.objective
            );
            out.bound = inc.objective;
            out.complete = true;
            return out;
        }
        let t0 = Instant::now();
        let sol = model::solve(&input);
        log::debug!(
            target: "cimopt::milp",
            "milp {:?}: {:?} obj {:?} latency {:?} bound {:.4e} incumbent {:.4e} rows {} cols {} {:.3}s",
            space.skeleton.loops,
            sol.status,
            sol.objective,
            sol.latency,
            sol.bound,
            inc.objective,
            sol.rows,
            sol.columns,
            t0.elapsed().as_secs_f64()
        );
        out.solves += 1;
        out.bound = sol.bound.min(inc.objective);
        // A solve that stopped on a limit with time left ran out of nodes.
        let limited = || {
            if Instant::now() >= deadline {
                StopReason::TimeLimit
            } else {
                StopReason::NodeBudget
            }
        };
        let Some(choice) = sol.choice else {
            out.complete = sol.status == model::ModelStatus::Infeasible;
            if out.complete {
                out.bound = inc.objective;
            } else {
                out.stopped_by = Some(limited());
            }
            return out;
        };
        let m = mapping_of(
            &space.skeleton,
            Operand::ALL.map(|o| &space.placements[o.index()][choice[o.index()]]),
        );
        if check(t, w, &m).is_empty() {
            observe(&m);
            let c = evaluate(t, w, &m);
            let v = opts.objective.of(&c);
            log::debug!(
                target: "cimopt::milp",
                "  priced: objective {v:.4e} latency {:.1} energy {:.1} {:?}; mapping {m:?}",
                c.latency_cycles,
                c.energy_nj,
                c.latency
            );
            let better = v < inc.objective * (1.0 - 1e-12);
            if better && rejects(t, w, &m, &c, opts.agreement) {
                out.rejected += 1;
            } else if better {
                *inc = Incumbent {
                    mapping: m,
                    cost: c,
                    objective: v,
                    milp_objective: sol.objective,
                };
            }
        }
        excluded.push(choice);
        let proven = sol.status == model::ModelStatus::Optimal
            && sol.bound * (1.0 + opts.skeleton_gap()) >= inc.objective;
        if proven {
            out.complete = true;
            return out;
        }
        if sol.status != model::ModelStatus::Optimal {
            out.stopped_by = Some(limited());
            return out;
        }
        if out.solves as usize >= opts.max_rounds {
            out.stopped_by = Some(StopReason::RoundBudget);
            return out;
        }
    }
}

/// One skeleton's search against the incumbent: its optimum under the cost model, without a
/// solver where few enough triples can beat the incumbent. The placement triples below the
/// incumbent come cheapest first from their profiles ([`model::Triples`]: each priced as the
/// cost model prices it, only when its relaxed value could put it first), and the first valid
/// one decides: its objective is the skeleton's bound (none: the incumbent's), the skeleton's
/// optimum rather than a relaxation of it, and it becomes the incumbent when it is better and
/// the simulator agrees with the cost model on it (else the next valid one is tried). Where
/// more than [`TRIPLE_LIMIT`] triples have a relaxed value below the incumbent, the MILP
/// searches the skeleton ([`solve_skeleton`]).
///
/// Measured against the MILP alone (2026-12-06, golden models): the same or better schedules
/// with compiles up to 2.5× faster (`docs/optimiser.md`, "Pricing triples from profiles").
fn search_skeleton(
    t: &Target,
    w: &Workload,
    space: &SkeletonSpace,
    opts: &Options,
    inc: &mut Incumbent,
    deadline: Instant,
    observe: &mut dyn FnMut(&Mapping),
) -> SkeletonOutcome {
    let input = model_input(t, w, space, opts, inc, &[], opts.time_limit_s);
    let Some(below) = model::Triples::new(&input, TRIPLE_LIMIT) else {
        return solve_skeleton(t, w, space, opts, inc, deadline, observe);
    };
    let mut out = SkeletonOutcome {
        bound: inc.objective,
        solves: 0,
        rejected: 0,
        complete: true,
        stopped_by: None,
    };
    for (v, choice) in below {
        if v >= inc.objective {
            break;
        }
        let m = mapping_of(
            &space.skeleton,
            Operand::ALL.map(|o| &space.placements[o.index()][choice[o.index()]]),
        );
        if !check(t, w, &m).is_empty() {
            continue;
        }
        out.bound = out.bound.min(v);
        // As good as the incumbent, up to rounding: keep the incumbent (its mapping is the
        // one the caller knows).
        if v >= inc.objective * (1.0 - 1e-12) {
            break;
        }
        observe(&m);
        let c = evaluate(t, w, &m);
        if rejects(t, w, &m, &c, opts.agreement) {
            out.rejected += 1;
            continue;
        }
        *inc = Incumbent {
            objective: opts.objective.of(&c),
            mapping: m,
            cost: c,
            milp_objective: Some(v),
        };
        break;
    }
    out
}

/// The most triples [`search_skeleton`] lists by their relaxed value for a skeleton; past it,
/// the MILP searches the skeleton.
pub const TRIPLE_LIMIT: usize = 20_000;

/// Whether the agreement rule rejects `m`: `agreement` is finite and the simulator disagrees
/// with the cost model's `c` by more than it. A rejection is logged on `cimopt::agreement`: the
/// cost model is wrong on this mapping, worth a line for whoever tracks that.
fn rejects(t: &Target, w: &Workload, m: &Mapping, c: &Cost, agreement: f64) -> bool {
    let rejected = agreement.is_finite() && !agrees(t, w, m, c, agreement);
    if rejected {
        log::info!(
            target: "cimopt::agreement",
            "rejected: predicted {:.1} cycles {:.1} nJ, the simulator disagrees by more than {} %: {m:?}",
            c.latency_cycles,
            c.energy_nj,
            100.0 * agreement
        );
    }
    rejected
}

/// Whether the simulator's latency and energy of `m` are within `agreement` (relative) of the
/// cost model's `c`.
fn agrees(t: &Target, w: &Workload, m: &Mapping, c: &Cost, agreement: f64) -> bool {
    cimopt_sim::simulate(t, w, m).is_ok_and(|s| {
        let rel = |p: f64, q: f64| (p - q).abs() / q.max(1e-12);
        rel(c.latency_cycles, s.latency_cycles) <= agreement
            && rel(c.energy_nj, s.energy_nj) <= agreement
    })
}

/// The MILP search of one skeleton alone, from the all-outermost mapping: the best triple
/// found, its cost, and the proven bound on the skeleton's optimum. For cross-checks against
/// [`exhaustive_skeleton`].
pub fn optimise_skeleton(
    t: &Target,
    w: &Workload,
    space: &SkeletonSpace,
    opts: &Options,
) -> (Mapping, Cost, f64, bool) {
    let rest = placement::all_outermost(&space.skeleton);
    let m = mapping_of(&space.skeleton, [&rest[0], &rest[1], &rest[2]]);
    let c = evaluate(t, w, &m);
    let mut inc = Incumbent {
        objective: opts.objective.of(&c),
        mapping: m,
        cost: c,
        milp_objective: None,
    };
    let deadline = Instant::now() + std::time::Duration::from_secs_f64(opts.time_limit_s);
    let o = solve_skeleton(t, w, space, opts, &mut inc, deadline, &mut |_| {});
    (inc.mapping, inc.cost, o.bound, o.complete)
}

/// The MILP search of one skeleton against an incumbent mapping (its cost is the cut-off): the
/// better of the incumbent and the skeleton's best triple that the simulator agrees with, and
/// whether the skeleton was searched to the end (proven no better, or its optimum found).
pub fn improve_skeleton(
    t: &Target,
    w: &Workload,
    space: &SkeletonSpace,
    opts: &Options,
    incumbent: (Mapping, Cost),
) -> (Mapping, Cost, bool) {
    let mut inc = Incumbent {
        objective: opts.objective.of(&incumbent.1),
        mapping: incumbent.0,
        cost: incumbent.1,
        milp_objective: None,
    };
    let deadline = Instant::now() + std::time::Duration::from_secs_f64(opts.time_limit_s);
    let o = solve_skeleton(t, w, space, opts, &mut inc, deadline, &mut |_| {});
    (inc.mapping, inc.cost, o.complete)
}

/// The warm starts: the greedy mapper's result for the objective, and `hint` (a mapping the
/// caller already has, e.g. greedy's for another objective) when it is valid. The best of them
/// is the incumbent to beat; all their skeletons are searched first.
fn warm_start(
    t: &Target,
    w: &Workload,
    objective: Objective,
    home: [usize; 3],
    hint: Option<&Mapping>,
) -> Result<(Incumbent, Vec<Skeleton>), MapError> {
    let warm = greedy(
        t,
        w,
        &GreedyOptions {
            objective,
            home,
            ..GreedyOptions::default()
        },
    )?;
    let mut skeletons = vec![Skeleton::of(&warm.mapping)];
    let mut inc = Incumbent {
        objective: objective.of(&warm.cost),
        mapping: warm.mapping,
        cost: warm.cost,
        milp_objective: None,
    };
    if let Some(h) = hint.filter(|h| h.home == home && check(t, w, h).is_empty()) {
        let c = evaluate(t, w, h);
        if objective.of(&c) < inc.objective {
            inc = Incumbent {
                objective: objective.of(&c),
                mapping: h.clone(),
                cost: c,
                milp_objective: None,
            };
        }
        let sk = Skeleton::of(h);
        if !skeletons.contains(&sk) {
            skeletons.push(sk);
        }
    }
    Ok((inc, skeletons))
}

/// Optimises one layer.
pub fn optimise(t: &Target, w: &Workload, opts: &Options) -> Result<Optimised, MapError> {
    optimise_from(t, w, opts, None)
}

/// Optimises one layer, with `hint` as a further warm start (see [`warm_start`]): the result is
/// never worse than the hint on the objective.
pub fn optimise_from(
    t: &Target,
    w: &Workload,
    opts: &Options,
    hint: Option<&Mapping>,
) -> Result<Optimised, MapError> {
    optimise_observed(t, w, opts, hint, &mut |_| {})
}

/// [`optimise_from`], showing `observe` every valid mapping the MILP proposes before it is
/// priced, accepted or rejected: what the search looks at, for tests that hold the cost model
/// to the simulator there.
pub fn optimise_observed(
    t: &Target,
    w: &Workload,
    opts: &Options,
    hint: Option<&Mapping>,
    observe: &mut dyn FnMut(&Mapping),
) -> Result<Optimised, MapError> {
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(opts.time_limit_s);
    let (mut inc, warm_skeletons) = warm_start(t, w, opts.objective, opts.home, hint)?;
    let warm_objective = inc.objective;
    let (bounds, mut ranked) = bounded_candidates(t, w, opts)?;
    // The warm starts' spatial candidates first, then by bound; stable among ties.
    let warm_rank = |s: &Vec<cimopt_ir::SpatialFactor>| {
        warm_skeletons
            .iter()
            .position(|k| &k.spatial == s)
            .unwrap_or(usize::MAX)
    };
    ranked.sort_by(|a, b| {
        warm_rank(&a.1)
            .cmp(&warm_rank(&b.1))
            .then(a.0.total_cmp(&b.0))
    });
    let mut stats = Stats::starting(warm_objective);
    stats.candidates_enumerated = ranked.len() as u64;
    let mut solved = 0usize;
    // Two bounds: over the space searched (solved candidates' enumerated skeletons, the rest
    // of the candidates analytically), and over every mapping of the layer, where a solved
    // candidate's skeletons outside the searched ones count with its analytical bound until
    // [`certify`] has searched them all.
    let mut space_bound = f64::INFINITY;
    let mut open: Vec<OpenCandidate> = Vec::new();
    for (lb, s) in &ranked {
        if lb * (1.0 + opts.gap) >= inc.objective {
            stats.candidates_pruned += 1;
            space_bound = space_bound.min(*lb);
            stats.bound = stats.bound.min(*lb);
            continue;
        }
        if solved >= opts.spatial_candidates || Instant::now() >= deadline {
            space_bound = space_bound.min(*lb);
            open.push(OpenCandidate {
                spatial: s.clone(),
                analytical: *lb,
                searched: Vec::new(),
                unsearched: if solved >= opts.spatial_candidates {
                    StopReason::CandidateBudget
                } else {
                    StopReason::TimeLimit
                },
                rank: 0,
            });
            continue;
        }
        solved += 1;
        stats.candidates_solved += 1;
        let searched = skeletons_at(w, s, &warm_skeletons, opts.home);
        let mut candidate = f64::INFINITY;
        let mut bounds_of = Vec::new();
        for sk in &searched {
            let Some(space) = skeleton_space(t, w, sk, opts.placement_limit) else {
                candidate = candidate.min(*lb);
                stats.status = Status::Incomplete;
                stats.stop_reasons.push(StopReason::PlacementLimit);
                continue;
            };
            let o = search_skeleton(t, w, &space, opts, &mut inc, deadline, observe);
            stats.skeletons_solved += 1;
            stats.milp_solves += o.solves;
            stats.rejected_by_simulator += o.rejected;
            candidate = candidate.min(o.bound);
            bounds_of.push((sk.clone(), o.bound));
            if !o.complete {
                stats.status = Status::Incomplete;
                stats.stop_reasons.extend(o.stopped_by);
            }
        }
        // The analytical bound holds for every mapping of the candidate, searched or not.
        let candidate = candidate.max(*lb);
        space_bound = space_bound.min(candidate);
        if covers_every_skeleton(w, s, opts.home, &searched) {
            stats.bound = stats.bound.min(candidate);
        } else {
            open.push(OpenCandidate {
                spatial: s.clone(),
                analytical: *lb,
                searched: bounds_of,
                unsearched: StopReason::UnsearchedSkeletons,
                rank: 0,
            });
        }
    }
    let (certified, _) = certify(
        t,
        w,
        opts,
        &bounds,
        &mut inc,
        open,
        deadline,
        &mut stats,
        &mut Certification::default(),
        observe,
    );
    // A candidate searched whole here bounds the searched space as tightly as the whole.
    space_bound = space_bound.min(certified);
    Ok(conclude(stats, inc, space_bound, opts.gap, started))
}

/// A candidate's analytical bounds per case of loop nest ([`spatial_bound_by_case`]), for
/// every nest and, computed when first asked, per shape of a skeleton's nest (its weight passes
/// and runs, [`cimopt_space::bounds::nest_shape`]).
struct CaseBounds<'a> {
    t: &'a Target,
    w: &'a Workload,
    lower: &'a LowerBound,
    objective: Objective,
    spatial: Vec<cimopt_ir::SpatialFactor>,
    /// The weights a cell holds ([`cimopt_space::bounds::weights_per_cell`]).
    cell: u64,
    once: [[f64; OUTER_CASES]; 3],
    by_shape: std::collections::BTreeMap<NestShape, [[f64; OUTER_CASES]; 3]>,
}

impl<'a> CaseBounds<'a> {
    fn new(
        t: &'a Target,
        w: &'a Workload,
        lower: &'a LowerBound,
        objective: Objective,
        spatial: &[cimopt_ir::SpatialFactor],
    ) -> Self {
        CaseBounds {
            t,
            w,
            lower,
            objective,
            spatial: spatial.to_vec(),
            cell: cimopt_space::bounds::weights_per_cell(t, w),
            once: spatial_bound_by_case(t, w, spatial, lower, objective),
            by_shape: std::collections::BTreeMap::new(),
        }
    }

    /// The least bound of any case: every mapping of the candidate is in one.
    fn least(&self) -> f64 {
        self.once
            .iter()
            .flatten()
            .fold(f64::INFINITY, |m, &b| m.min(b))
    }

    /// Whether some case's bound, at least `floor`, `settles`.
    fn some_case_settles(&self, floor: f64, settles: impl Fn(f64) -> bool) -> bool {
        self.once.iter().flatten().any(|&b| settles(b.max(floor)))
    }

    /// The bound of the mappings with temporal loops `loops` (outer to inner) that load the
    /// weights once, at least `floor`: what the random nests are filtered by (see
    /// [`sample_open_candidates`]).
    fn once_of(&self, loops: &[(cimopt_target::Dim, u64)], floor: f64) -> f64 {
        nest_case(loops).map_or(floor, |(kind, outer)| self.once[kind][outer].max(floor))
    }

    /// The bound of the mappings with temporal loops `loops` (outer to inner), at least
    /// `floor` (the candidate's analytical bound).
    fn of(&mut self, loops: &[(cimopt_target::Dim, u64)], floor: f64) -> f64 {
        let Some((kind, outer)) = nest_case(loops) else {
            return floor;
        };
        let shape = cimopt_space::bounds::nest_shape_in(self.cell, loops);
        let (t, w, lower, o, s) = (self.t, self.w, self.lower, self.objective, &self.spatial);
        let cases = self
            .by_shape
            .entry(shape)
            .or_insert_with(|| spatial_bound_by_case_of_nest(t, w, s, lower, o, &shape));
        cases[kind][outer].max(floor)
    }
}

/// What the passes of one layer's certification share ([`certify_from`]): the candidates whose
/// random nests were drawn, the candidates' case bounds (which do not depend on the
/// incumbent), and the bounds of those searched whole.
#[derive(Default)]
struct Certification<'a> {
    drawn: Vec<Vec<cimopt_ir::SpatialFactor>>,
    cases: std::collections::HashMap<Vec<cimopt_ir::SpatialFactor>, CaseBounds<'a>>,
    /// The candidates searched whole, with their bounds over all their mappings: a later pass
    /// starts them there, and searches them again only if the better incumbent is still above.
    searched_whole: std::collections::HashMap<Vec<cimopt_ir::SpatialFactor>, f64>,
}

/// A spatial candidate whose bound over every mapping is still its analytical one: not solved
/// (the candidate budget or the time limit), or solved on part of its skeletons.
struct OpenCandidate {
    spatial: Vec<cimopt_ir::SpatialFactor>,
    analytical: f64,
    /// Skeletons already searched under the layer's options, with their bounds.
    searched: Vec<(Skeleton, f64)>,
    /// Why its other skeletons were not searched, if [`certify`] does not search them either.
    unsearched: StopReason,
    /// Its place among the open candidates by their analytical bounds, before certification
    /// pairs each case's latency with its energy ([`certify`] sets it): what seeds its random
    /// nests, so that they do not depend on which other candidates certification searched.
    rank: usize,
}

/// A candidate's skeletons that [`OpenCandidate::list_left`] leaves to search.
struct Listing {
    /// The skeletons neither searched before nor settled by their case and shape.
    left: Vec<Skeleton>,
    /// The least bound of the others.
    least_other: f64,
    /// Loop lists visited.
    visited: u64,
    /// Whether every loop list was visited.
    whole: bool,
}

impl OpenCandidate {
    /// Streams its loop lists, at most `visits` of them, and stops past `most` skeletons left
    /// to search: a skeleton searched before counts with its bound, one whose case and shape
    /// bound `settles` with that bound, and the rest are left.
    fn list_left(
        &self,
        w: &Workload,
        home: [usize; 3],
        cases: &mut CaseBounds,
        visits: u64,
        most: u64,
        settles: impl Fn(f64) -> bool,
    ) -> Listing {
        let (trips, padded) = spatial::trips(w, &self.spatial);
        let (mut left, mut least_other, mut visited) = (Vec::new(), f64::INFINITY, 0u64);
        let whole = cimopt_space::whole::for_each_loop_list(&trips, |loops| {
            if visited == visits {
                return false;
            }
            visited += 1;
            if let Some((_, b)) = self.searched.iter().find(|(known, _)| known.loops == loops) {
                least_other = least_other.min(*b);
                return true;
            }
            let b = cases.of(loops, self.analytical);
            if settles(b) {
                least_other = least_other.min(b);
                return true;
            }
            left.push(Skeleton {
                spatial: self.spatial.clone(),
                loops: loops.to_vec(),
                padded,
                home,
            });
            left.len() as u64 <= most
        });
        Listing {
            left,
            least_other,
            visited,
            whole,
        }
    }
}

/// Searches every skeleton of the open candidates, lowest analytical bound first, while their
/// skeletons fit in [`Options::certify_skeletons`] (it stops at the first that does not fit:
/// the layer's bound can rise no higher than that candidate's analytical bound). Each such
/// candidate is then bounded by its skeletons' bounds, a bound over all of its mappings, and a
/// better mapping found there becomes the incumbent. The skeletons of all of them are solved
/// best first, by their profiles' bound ([`model::separable_bound`]), so the incumbent falls
/// early and the profiles' bound settles most skeletons without a MILP. A skeleton whose case
/// (kind of innermost loop, outermost loop's dim) has an analytical bound reaching the
/// incumbent (within the gap) is settled by that bound before anything is built for it, and
/// does not count against the budget ([`spatial_bound_by_case`]); so is one whose shape settles
/// it ([`CaseBounds::of`]), the loop lists streamed up to [`LISTING_LIMIT`]. Adds each
/// candidate's bound to `stats.bound`, the reasons the open ones stay open to
/// `stats.stop_reasons`, records in `shared` what a second pass may reuse, and returns the
/// smallest bound of the candidates it searched whole and the budget it left.
#[allow(clippy::too_many_arguments)]
fn certify<'a>(
    t: &'a Target,
    w: &'a Workload,
    opts: &Options,
    lower: &'a LowerBound,
    inc: &mut Incumbent,
    mut open: Vec<OpenCandidate>,
    deadline: Instant,
    stats: &mut Stats,
    shared: &mut Certification<'a>,
    observe: &mut dyn FnMut(&Mapping),
) -> (f64, u64) {
    let needed = |c: &OpenCandidate, objective: f64| c.analytical * (1.0 + opts.gap) < objective;
    // Each candidate's analytical bound per kind of innermost loop and case of outermost one:
    // a skeleton whose case's bound reaches the incumbent (within the gap) is settled by it,
    // without a solve, and does not count against the budget. Every mapping is in some case,
    // so the least of them bounds the candidate too, and is above its analytical bound where
    // the cheapest case in energy is not the fastest (an outermost loop that reloads the
    // weights, or one that reads an operand again): with a budget, every candidate below the
    // incumbent gets its cases first, and is ranked by their least. Without one (the main
    // search and the climbs, many times) they are computed when needed.
    let searched_whole = std::mem::take(&mut shared.searched_whole);
    let mut by_case = |c: &OpenCandidate| {
        shared
            .cases
            .remove(&c.spatial)
            .unwrap_or_else(|| CaseBounds::new(t, w, lower, opts.objective, &c.spatial))
    };
    // Stable: equal bounds keep the candidates' ranking.
    open.sort_by(|a, b| a.analytical.total_cmp(&b.analytical));
    let mut cases: Vec<(OpenCandidate, Option<CaseBounds>)> = open
        .into_iter()
        .enumerate()
        .map(|(rank, mut c)| {
            c.rank = rank;
            // Searched whole by an earlier pass: bounded over all its mappings already.
            if let Some(&b) = searched_whole.get(&c.spatial) {
                c.analytical = c.analytical.max(b);
            }
            if opts.certify_skeletons == 0 || !needed(&c, inc.objective) {
                return (c, None);
            }
            let cases = by_case(&c);
            c.analytical = c.analytical.max(cases.least());
            (c, Some(cases))
        })
        .collect();
    cases.sort_by(|a, b| a.0.analytical.total_cmp(&b.0.analytical));
    let (open, mut kinds): (Vec<OpenCandidate>, Vec<_>) = cases.into_iter().unzip();
    let mut budget = opts.certify_skeletons;
    let mut whole = vec![false; open.len()];
    // Per candidate listed to count its skeletons: those left to search, and the least bound
    // of the others (settled by their case and shape, or searched before).
    let mut listed: Vec<Option<(Vec<Skeleton>, f64)>> = vec![None; open.len()];
    let mut listing_left = LISTING_LIMIT;
    let settles = |b: f64, objective: f64| b * (1.0 + opts.gap) >= objective;
    for (k, c) in open.iter().enumerate() {
        if !needed(c, inc.objective) {
            continue;
        }
        let cases = kinds[k].get_or_insert_with(|| by_case(c));
        let total = cimopt_space::whole::loop_list_count(&spatial::trips(w, &c.spatial).0);
        // With a budget a skeleton's shape (weight passes, runs) may settle it even where no
        // case does.
        let may_settle = opts.certify_skeletons > 0
            || cases.some_case_settles(c.analytical, |b| settles(b, inc.objective));
        let count = if may_settle && listing_left > 0 {
            // Streamed, not collected: a big 3×3 convolution's candidate has millions of loop
            // lists, of which its shapes leave a few thousand. The listing stops at the first
            // skeleton past the budget, or at the layer's listing limit.
            let l = c.list_left(w, opts.home, cases, listing_left, budget, |b| {
                settles(b, inc.objective)
            });
            listing_left -= l.visited;
            if l.whole {
                let count = l.left.len() as u64;
                listed[k] = Some((l.left, l.least_other));
                count
            } else if l.left.len() as u64 > budget {
                break;
            } else {
                // Stopped at the listing limit: counted whole.
                total
            }
        } else {
            total
        };
        if count > budget {
            break;
        }
        budget -= count;
        whole[k] = true;
    }
    // Per candidate, the smallest bound over its skeletons; the queue holds the skeletons
    // still to search with their profiles' bound.
    //
    // The MILP solves are the work: at most as many as the skeletons allowed, so that what is
    // certified depends on the budget, never on the machine's speed. Each skeleton whose
    // profiles' bound is below the incumbent needs at least one; the candidates whose such
    // skeletons do not fit are not started (lowest analytical bound first, as above), so no
    // solve is spent on a candidate the budget cannot finish. Their profiles are not built
    // past the skeleton that overflows the budget either: on ResNet-50 / `transformer` a
    // quarter of the profiles certification built were for candidates that then did not fit.
    let mut least = vec![f64::INFINITY; open.len()];
    let mut queue: Vec<(f64, usize, u64, Skeleton)> = Vec::new();
    let mut solves_left = opts.certify_skeletons;
    let (mut needs, mut out_of_budget) = (0u64, false);
    for (k, c) in open.iter().enumerate() {
        if !whole[k] {
            continue;
        }
        if out_of_budget {
            whole[k] = false;
            continue;
        }
        // Counted whole without being listed (at the listing limit, with no more skeletons than
        // the budget): listed now, whole.
        let (left, least_other) = listed[k].take().unwrap_or_else(|| {
            let cases = kinds[k]
                .as_mut()
                .expect("the cases of a candidate counted whole");
            let l = c.list_left(w, opts.home, cases, u64::MAX, u64::MAX, |b| {
                settles(b, inc.objective)
            });
            (l.left, l.least_other)
        });
        least[k] = least_other;
        let (mut must, mut entries) = (0u64, Vec::new());
        for sk in left {
            let Some(space) = skeleton_space(t, w, &sk, opts.placement_limit) else {
                stats.stop_reasons.push(StopReason::PlacementLimit);
                whole[k] = false;
                break;
            };
            let work = skeleton_work(&space);
            let floor = profiles_bound(t, w, &space, opts, inc);
            if floor < inc.objective {
                must += work;
                if needs + must > solves_left {
                    whole[k] = false;
                    out_of_budget = true;
                    break;
                }
            }
            entries.push((floor, k, work, sk));
        }
        if whole[k] {
            needs += must;
            stats.candidates_solved += u64::from(c.searched.is_empty());
            queue.extend(entries);
        }
    }
    queue.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (floor, k, work, sk) in queue {
        if !whole[k] {
            continue;
        }
        if floor >= inc.objective {
            least[k] = least[k].min(floor);
            continue;
        }
        if solves_left == 0 {
            whole[k] = false;
            continue;
        }
        if Instant::now() >= deadline {
            whole[k] = false;
            continue;
        }
        let space = skeleton_space(t, w, &sk, opts.placement_limit)
            .expect("a skeleton whose space was built before");
        let rounds = Options {
            max_rounds: opts
                .max_rounds
                .min(CERTIFY_ROUNDS)
                .min(solves_left as usize),
            ..opts.clone()
        };
        let o = search_skeleton(t, w, &space, &rounds, inc, deadline, observe);
        solves_left -= o.solves.max(work).min(solves_left);
        stats.skeletons_solved += 1;
        stats.milp_solves += o.solves;
        stats.rejected_by_simulator += o.rejected;
        if o.stopped_by == Some(StopReason::TimeLimit) {
            whole[k] = false;
            continue;
        }
        // A skeleton's search that stopped on a budget still bounds it: the layer's gap,
        // not each skeleton's, decides whether the result is proven.
        least[k] = least[k].min(o.bound);
        if !o.complete {
            stats.stop_reasons.extend(o.stopped_by);
        }
    }
    sample_open_candidates(
        t,
        w,
        opts,
        lower,
        &open,
        &whole,
        inc,
        &mut solves_left,
        deadline,
        stats,
        &mut shared.drawn,
        observe,
    );
    // Kept for a second pass: they do not depend on the incumbent.
    for (c, cases) in open.iter().zip(kinds) {
        if let Some(cases) = cases {
            shared.cases.insert(c.spatial.clone(), cases);
        }
    }
    shared.searched_whole = searched_whole;
    let mut whole_min = f64::INFINITY;
    for (k, c) in open.iter().enumerate() {
        if whole[k] {
            let b = least[k].max(c.analytical);
            whole_min = whole_min.min(b);
            stats.bound = stats.bound.min(b);
            shared.searched_whole.insert(c.spatial.clone(), b);
            continue;
        }
        stats.bound = stats.bound.min(c.analytical);
        if needed(c, inc.objective) {
            stats.status = Status::Incomplete;
            stats.stop_reasons.push(if Instant::now() >= deadline {
                StopReason::TimeLimit
            } else {
                c.unsearched
            });
        }
    }
    (whole_min, solves_left)
}

/// From above: the candidates [`certify`] could not search whole, searched at random. The
/// first [`SAMPLED_CANDIDATES`] whose analytical bound is still below the incumbent (lowest
/// first) each get [`SAMPLED_DRAWS`] random loop nests
/// ([`cimopt_space::random::random_loops`], seeded by the candidate's rank among the open
/// candidates, [`OpenCandidate::rank`], so a layer draws the same nests on every run). A nest
/// drawn twice or searched before, or whose case's analytical bound (for every nest, not its
/// shape's) reaches the incumbent, is dropped; the others are priced with the greedy
/// mapper's level assignment (the incumbent's double buffers, as the climb prices its
/// reorderings), and the [`SAMPLED_SEARCHED`] cheapest are searched for their best placements
/// against the incumbent, unless their profiles' bound reaches it. The searches spend what is
/// left of the budget, at [`skeleton_work`] each, and stop when it is spent. They prove nothing
/// (the candidates stay at their analytical bound), but find mappings that the search's local
/// moves around greedy's nest do not reach.
#[allow(clippy::too_many_arguments)]
fn sample_open_candidates(
    t: &Target,
    w: &Workload,
    opts: &Options,
    lower: &LowerBound,
    open: &[OpenCandidate],
    whole: &[bool],
    inc: &mut Incumbent,
    solves_left: &mut u64,
    deadline: Instant,
    stats: &mut Stats,
    drawn: &mut Vec<Vec<cimopt_ir::SpatialFactor>>,
    observe: &mut dyn FnMut(&Mapping),
) {
    // The searches and climbs that leave certification to the schedule's layers call
    // [`certify`] with no budget: nothing may be searched, so nothing is drawn or priced.
    if *solves_left == 0 {
        return;
    }
    let reaches = |bound: f64, objective: f64| bound * (1.0 + opts.gap) >= objective;
    let start = inc.objective;
    let sampled: Vec<&OpenCandidate> = open
        .iter()
        .zip(whole)
        .filter(|(c, whole)| {
            !**whole && !reaches(c.analytical, start) && !drawn.contains(&c.spatial)
        })
        .map(|(c, _)| c)
        .take(SAMPLED_CANDIDATES)
        .collect();
    drawn.extend(sampled.iter().map(|c| c.spatial.clone()));
    let double_buffer = inc.mapping.double_buffer.clone();
    let rounds = Options {
        max_rounds: opts.max_rounds.min(CERTIFY_ROUNDS),
        ..opts.clone()
    };
    for c in sampled {
        if reaches(c.analytical, inc.objective) {
            continue;
        }
        let cases = CaseBounds::new(t, w, lower, opts.objective, &c.spatial);
        let (trips, padded) = spatial::trips(w, &c.spatial);
        let mut rng = cimopt_space::random::Rng::new(c.rank as u64 + 1);
        let mut drawn: std::collections::HashSet<Vec<(cimopt_target::Dim, u64)>> =
            c.searched.iter().map(|(sk, _)| sk.loops.clone()).collect();
        let mut priced: Vec<(f64, Skeleton)> = Vec::new();
        for _ in 0..SAMPLED_DRAWS {
            let loops = cimopt_space::random::random_loops(&trips, &mut rng);
            if !drawn.insert(loops.clone()) {
                continue;
            }
            if reaches(cases.once_of(&loops, c.analytical), inc.objective) {
                continue;
            }
            let skeleton = Skeleton {
                spatial: c.spatial.clone(),
                loops,
                padded,
                home: opts.home,
            };
            priced.push(priced_by_greedy(
                t,
                w,
                opts.objective,
                &double_buffer,
                skeleton,
            ));
        }
        // Stable: equal prices keep the order they were drawn in.
        priced.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, sk) in priced.into_iter().take(SAMPLED_SEARCHED) {
            let Some(space) = skeleton_space(t, w, &sk, opts.placement_limit) else {
                continue;
            };
            if profiles_bound(t, w, &space, opts, inc) >= inc.objective {
                continue;
            }
            let work = skeleton_work(&space);
            if work > *solves_left || Instant::now() >= deadline {
                return;
            }
            let o = search_skeleton(t, w, &space, &rounds, inc, deadline, observe);
            *solves_left -= o.solves.max(work).min(*solves_left);
            stats.skeletons_solved += 1;
            stats.milp_solves += o.solves;
            stats.rejected_by_simulator += o.rejected;
        }
    }
}

/// Candidates [`sample_open_candidates`] draws random loop nests of.
pub const SAMPLED_CANDIDATES: usize = 4;

/// Random loop nests [`sample_open_candidates`] draws per candidate (pricing one with the
/// greedy level assignment takes microseconds).
pub const SAMPLED_DRAWS: usize = 2048;

/// Of those, the cheapest by the greedy level assignment that [`sample_open_candidates`]
/// searches for their best placements.
pub const SAMPLED_SEARCHED: usize = 16;

/// What searching a skeleton costs certification's budget: one unit per [`WORK_TRIPLES`]
/// placement triples, at least one. A skeleton with many placements is priced triple by triple
/// or goes to the MILP, each many times dearer than a small one: ResNet-18 / `default`'s
/// classifier has ~300 such skeletons, whose search took 6 s and proved nothing, so counted as
/// one each they decided the default budget.
fn skeleton_work(space: &SkeletonSpace) -> u64 {
    let triples = space
        .profiles
        .iter()
        .map(|p| p.len() as u64)
        .fold(1u64, u64::saturating_mul);
    triples.div_ceil(WORK_TRIPLES).max(1)
}

/// Placement triples per unit of [`skeleton_work`]: about what a small skeleton's search costs
/// (a skeleton of a few hundred triples takes ~0.5 ms, mostly building its placements, a
/// triple priced ~3 µs). Counted per [`TRIPLE_LIMIT`] (20 000) before, ResNet-18 / `default`'s
/// classifier fitted a budget of 2000 and took 7.6 s for nothing proven; per 2000, it does not.
pub const WORK_TRIPLES: u64 = 2_000;

/// The most loop lists [`certify`] visits per layer and pass to count the skeletons their
/// cases and shapes leave to search; a candidate it cannot list whole within it counts whole.
/// Visiting one takes a fraction of a microsecond; on the golden schedules (2026-12-07) 500 000
/// proved as much as 4 million, 100 000 one layer less (MobileNetV2 / `default`).
pub const LISTING_LIMIT: u64 = 1_000_000;

/// MILP solves per skeleton when certifying: the first solve's bound is the skeleton's; the
/// bound–price–cut loop's later rounds (which cut off triples the cost model prices above the
/// MILP) took ResNet-18 / `default`'s classifier two to ten 30 ms solves per skeleton and
/// certified nothing more.
pub const CERTIFY_ROUNDS: usize = 1;

/// The profiles' bound of a skeleton ([`model::separable_bound`]): below the objective of
/// every mapping of it, whatever the incumbent.
fn profiles_bound(
    t: &Target,
    w: &Workload,
    space: &SkeletonSpace,
    opts: &Options,
    inc: &Incumbent,
) -> f64 {
    model::separable_bound(&model_input(t, w, space, opts, inc, &[], opts.time_limit_s))
}

/// The MILP of a skeleton's placements against the incumbent, with `excluded` triples cut off
/// and `time_limit_s` left.
fn model_input<'a>(
    t: &'a Target,
    w: &Workload,
    space: &'a SkeletonSpace,
    opts: &Options,
    inc: &Incumbent,
    excluded: &'a [[usize; 3]],
    time_limit_s: f64,
) -> model::ModelInput<'a> {
    model::ModelInput {
        target: t,
        skeleton: &space.skeleton,
        profiles: [&space.profiles[0], &space.profiles[1], &space.profiles[2]],
        objective: opts.objective,
        t_mac_cycles: t.t_mac_at(&layer_precision(t, w)),
        mac_energy_nj: mac_energy(t, w, &space.skeleton),
        latency_ref: inc.cost.latency_cycles,
        energy_ref: inc.cost.energy_nj,
        cutoff: inc.objective,
        excluded,
        gap: opts.skeleton_gap(),
        time_limit_s,
        max_nodes: opts.max_nodes,
        fixed: None,
    }
}

/// Whether `searched` holds every skeleton of candidate `s` (split and order of every loop), so
/// that the bounds of its searched skeletons bound every mapping of the candidate. Only small
/// candidates can: most have thousands to millions of skeletons.
fn covers_every_skeleton(
    w: &Workload,
    s: &[cimopt_ir::SpatialFactor],
    home: [usize; 3],
    searched: &[Skeleton],
) -> bool {
    let (trips, _) = spatial::trips(w, s);
    cimopt_space::whole::loop_list_count(&trips) <= searched.len() as u64
        && cimopt_space::whole::skeletons_of(w, s, home)
            .iter()
            .all(|k| searched.contains(k))
}

/// `(objective − bound) / objective`, never negative; 0 for a zero objective.
pub fn relative_gap(objective: f64, bound: f64) -> f64 {
    if objective > 0.0 {
        ((objective - bound) / objective).max(0.0)
    } else {
        0.0
    }
}

/// A search's result from its incumbent: the objective, the gaps and the status from the
/// bounds (`stats.bound` over every mapping of the layer, `space` over the part searched, never
/// below the first, both capped by the result; optimal only when the whole space's gap is
/// within `gap`), and the timing.
fn conclude(mut stats: Stats, inc: Incumbent, space: f64, gap: f64, started: Instant) -> Optimised {
    let objective = inc.objective;
    stats.objective = objective;
    stats.bound = stats.bound.min(objective);
    stats.space_bound = space.max(stats.bound).min(objective);
    stats.gap = relative_gap(objective, stats.bound);
    stats.space_gap = relative_gap(objective, stats.space_bound);
    if stats.gap > gap {
        stats.status = Status::Incomplete;
        stats.stop_reasons.retain(|r| *r != StopReason::GapReached);
        if stats.stop_reasons.is_empty() {
            // Every solved candidate was searched to the end: the analytical bounds of the
            // others, or of skeletons outside the searched ones, leave the gap.
            stats.stop_reasons.push(StopReason::UnsearchedSkeletons);
        }
    }
    if stats.status == Status::Optimal {
        stats.stop_reasons = vec![StopReason::GapReached];
    } else {
        stats.stop_reasons.sort();
        stats.stop_reasons.dedup();
    }
    stats.warm_start_kept = inc.milp_objective.is_none();
    stats.milp_objective = inc.milp_objective;
    stats.wall_s = started.elapsed().as_secs_f64();
    Optimised {
        mapping: inc.mapping,
        cost: inc.cost,
        stats,
    }
}

/// A search around `seeds` (mappings of the same layer with other homes, e.g. the layer's
/// mapping with every tensor in DRAM): each seed's skeleton under `opts.home`, and greedy's,
/// re-placed by the MILP. What a residency variant of a layer needs: moving a tensor on chip
/// changes what each placement costs, rarely which unrolling and loop order are best. The
/// bound is the smallest analytical bound over every spatial candidate, valid for the whole
/// space; the search stops for [`StopReason::CandidateBudget`] (it searched few skeletons).
pub fn optimise_around(
    t: &Target,
    w: &Workload,
    opts: &Options,
    seeds: &[Mapping],
) -> Result<Optimised, MapError> {
    around(t, w, opts, seeds, false)
}

/// The hill climb of [`optimise_around`] (`opts.around_rounds` rounds of reorderings) started
/// from `start`, a result of `optimise_around` under the same options but `around_rounds`:
/// its own skeleton and greedy's are taken as searched already, and are not solved again.
/// Never worse than `start` on the objective. What the memory plan's polish needs: the climb
/// alone, from the variant it chose. Solving those two skeletons again, as the polish did
/// until 2026-12-05, gave the same mapping on every golden schedule.
pub fn climb_from(
    t: &Target,
    w: &Workload,
    opts: &Options,
    start: &Mapping,
) -> Result<Optimised, MapError> {
    around(t, w, opts, std::slice::from_ref(start), true)
}

/// Bounds the layer over every mapping with `start` (a result of the searches above, at
/// `opts.home`) as the incumbent: every spatial candidate whose analytical bound is below it
/// has all its skeletons searched, lowest bound first, while they fit in
/// [`Options::certify_skeletons`] ([`certify`]). A candidate searched whole is bounded by its
/// skeletons' bounds, so a layer whose candidates all fit is proven over its whole space, or
/// gets the better mapping the search finds there. Never worse than `start`.
pub fn certify_from(
    t: &Target,
    w: &Workload,
    opts: &Options,
    start: &Mapping,
) -> Result<Optimised, MapError> {
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(opts.time_limit_s);
    let (mut inc, _) = warm_start(t, w, opts.objective, opts.home, Some(start))?;
    let mut stats = Stats::starting(inc.objective);
    let before = inc.objective;
    let (lower, candidates) = bounded_candidates(t, w, opts)?;
    // The candidates whose random nests were drawn (the second pass draws others'), and their
    // case bounds.
    let mut shared = Certification::default();
    let left;
    (stats.candidates_pruned, left) = certify_every_candidate(
        t,
        w,
        opts,
        &lower,
        candidates.clone(),
        &mut inc,
        deadline,
        &mut stats,
        &mut shared,
    );
    // A better mapping found on the way (most often in the random nests, which come last)
    // settles skeletons the start did not: certify once more from it, with the budget left.
    // Random nests only for candidates the first pass did not draw (seeded as before, they
    // would draw the same nests).
    if left > 0
        && inc.objective * (1.0 + opts.gap) < before
        && relative_gap(inc.objective, stats.bound) > opts.gap
    {
        let rest = Options {
            certify_skeletons: left,
            ..opts.clone()
        };
        let mut again = Stats::starting(before);
        (again.candidates_pruned, _) = certify_every_candidate(
            t,
            w,
            &rest,
            &lower,
            candidates,
            &mut inc,
            deadline,
            &mut again,
            &mut shared,
        );
        // Both passes bound every mapping.
        again.bound = again.bound.max(stats.bound);
        again.skeletons_solved += stats.skeletons_solved;
        again.milp_solves += stats.milp_solves;
        again.rejected_by_simulator += stats.rejected_by_simulator;
        stats = again;
    }
    let space_bound = stats.bound;
    let r = conclude(stats, inc, space_bound, opts.gap, started);
    log::debug!(
        target: "cimopt::certify",
        "{} of {} MACs: {} skeletons, {} MILP solves, objective {before:.6e} -> {:.6e}, gap {:.2} %, {:.2} s",
        w.op.name(),
        w.macs(),
        r.stats.skeletons_solved,
        r.stats.milp_solves,
        r.stats.objective,
        100.0 * r.stats.gap,
        r.stats.wall_s
    );
    Ok(r)
}

/// [`optimise_around`]; `seeds_searched`: the seeds' skeletons and greedy's were searched
/// under these options already, so the climb starts at once. Each round of the climb gives a
/// MILP proposal to the reorderings one step from the incumbent; after a round that finds
/// nothing, once, to those two steps away.
fn around(
    t: &Target,
    w: &Workload,
    opts: &Options,
    seeds: &[Mapping],
    seeds_searched: bool,
) -> Result<Optimised, MapError> {
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(opts.time_limit_s);
    // A seed moved to this variant's homes, where valid, is a warm start too: the search never
    // returns worse than the seed's own nest with the tensors where they now live.
    let rehomed = seeds
        .iter()
        .map(|s| s.rehomed(opts.home))
        .filter(|m| check(t, w, m).is_empty())
        .map(|m| (opts.objective.of(&evaluate(t, w, &m)), m))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, m)| m);
    let (mut inc, mut skeletons) = warm_start(t, w, opts.objective, opts.home, rehomed.as_ref())?;
    let warm_objective = inc.objective;
    for seed in seeds {
        let sk = Skeleton {
            home: opts.home,
            ..Skeleton::of(seed)
        };
        if !skeletons.contains(&sk) {
            skeletons.push(sk);
        }
    }
    let mut stats = Stats::starting(warm_objective);
    let mut searched: Vec<Vec<cimopt_ir::SpatialFactor>> = Vec::new();
    let mut done: Vec<Skeleton> = Vec::new();
    if seeds_searched {
        for sk in skeletons.drain(..) {
            if !searched.contains(&sk.spatial) {
                searched.push(sk.spatial.clone());
            }
            done.push(sk);
        }
    }
    // The seeds' skeletons, then a hill climb over reorderings of the incumbent's loops: moving
    // a tensor on chip changes which order is best (measured on ResNet-18 / `default`, whose
    // plan keeps a tensor of nearly every layer on chip: re-placing the seed's nest alone left
    // 1.0 % of the layers' objective that another order of the same loops had).
    let mut batch = skeletons;
    let seeded = batch.clone();
    // A climb from a chosen variant (the memory plan's polish) also gets the variant's own
    // spatial candidate whole when it has few loop nests, one proposal each: the climb
    // reorders loops, and splits them only in the polish's second climb (`around_splits`),
    // never merges them. Measured on the tiny CNN /
    // `transformer`: `conv4`'s variant with its inputs and outputs on chip had one loop, P16;
    // P8 · P2 is 28 % better on the layer objective, the model's EDP 5.2 % lower, and no other
    // bundled model's schedule or compile time moved. It gets other spatial candidates too
    // ([`polish_skeletons`]): `--certify` found MobileNetV2 / `transformer`'s
    // `features.4/conv/conv.2`, inputs and outputs on chip, 7.1 % better on P4 · Q4 cores than
    // on the P14 its DRAM mapping had.
    // Every candidate's analytical bound: the polish's other candidates come from them, and
    // the search ends by certifying them.
    let (lower, candidates) = bounded_candidates(t, w, opts)?;
    // A climb with splits starts from a polished result, which has had them already.
    if seeds_searched && !opts.around_splits {
        for sk in polish_skeletons(w, opts, &inc, &candidates) {
            if !batch.contains(&sk) {
                batch.push(sk);
            }
        }
    }
    let mut steps = 1;
    for round in 0..=opts.around_rounds {
        let before = inc.objective;
        for sk in batch {
            if done.contains(&sk) {
                continue;
            }
            done.push(sk.clone());
            let Some(space) = skeleton_space(t, w, &sk, opts.placement_limit) else {
                stats.stop_reasons.push(StopReason::PlacementLimit);
                continue;
            };
            // A reordering met on the climb gets one MILP proposal, priced; the seeds their
            // full search. Measured on MobileNetV2 / `default`: the same schedule as with the
            // full search of every reordering, its residency 1.29× the residency-off compile
            // instead of 1.7×.
            let climb = Options {
                max_rounds: if round > 0 || !seeded.contains(&sk) {
                    1
                } else {
                    opts.max_rounds
                },
                ..opts.clone()
            };
            let o = search_skeleton(t, w, &space, &climb, &mut inc, deadline, &mut |_| {});
            stats.skeletons_solved += 1;
            stats.milp_solves += o.solves;
            stats.rejected_by_simulator += o.rejected;
            stats.stop_reasons.extend(o.stopped_by);
            if !searched.contains(&sk.spatial) {
                searched.push(sk.spatial.clone());
            }
        }
        // After the seeds, the climb goes on while it improves. Where a round finds nothing,
        // the next looks two reorderings away, once: an order whose step between is no
        // better (measured on ResNet-18 / `default`'s `layer1.0.conv1`, outputs in the global
        // buffer: 2.39 % better two steps away, nothing one step away).
        let stalled = round > 0 && inc.objective >= before;
        if stalled && steps == 2 {
            break;
        }
        steps = if stalled { 2 } else { 1 };
        let best = Skeleton {
            home: opts.home,
            ..Skeleton::of(&inc.mapping)
        };
        batch = promising_reorders(t, w, opts, &best, &inc.mapping.double_buffer, steps, &done);
    }
    stats.candidates_solved = searched.len() as u64;
    // Every candidate's analytical bound is valid for the whole space, hence for the part
    // searched too; the climb's skeletons had one proposal each, so they prove nothing, and
    // [`certify`] searches the candidates it can whole.
    certify_every_candidate(
        t,
        w,
        opts,
        &lower,
        candidates,
        &mut inc,
        deadline,
        &mut stats,
        &mut Certification::default(),
    );
    let space_bound = stats.bound;
    Ok(conclude(stats, inc, space_bound, opts.gap, started))
}

/// The skeletons the polish ([`climb_from`]) searches besides climbing: every one of the
/// incumbent's own spatial candidate when it has at most [`WHOLE_CANDIDATE_SKELETONS`], and of
/// up to [`POLISH_CANDIDATES`] other candidates whose analytical bound at these homes is below
/// the incumbent (lowest first), all of a small one, the stationarity orders of a large one
/// ([`skeletons_at`]). A variant is priced around the layer's mapping in DRAM, so its spatial
/// unrolling is the one that suited the tensors in DRAM.
fn polish_skeletons(
    w: &Workload,
    opts: &Options,
    inc: &Incumbent,
    candidates: &[(f64, Vec<cimopt_ir::SpatialFactor>)],
) -> Vec<Skeleton> {
    let small = |s: &[cimopt_ir::SpatialFactor]| {
        cimopt_space::whole::loop_list_count(&spatial::trips(w, s).0) <= WHOLE_CANDIDATE_SKELETONS
    };
    let own = &inc.mapping.spatial;
    let mut out: Vec<Skeleton> = Vec::new();
    if small(own) {
        out.extend(cimopt_space::whole::skeletons_of(w, own, opts.home));
    }
    let mut others: Vec<&(f64, Vec<cimopt_ir::SpatialFactor>)> = candidates
        .iter()
        .filter(|(b, s)| s != own && b * (1.0 + opts.gap) < inc.objective)
        .collect();
    // Stable: equal bounds keep the enumeration's order.
    others.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, s) in others.into_iter().take(POLISH_CANDIDATES) {
        if small(s) {
            out.extend(cimopt_space::whole::skeletons_of(w, s, opts.home));
        } else {
            out.extend(skeletons_at(w, s, &[], opts.home));
        }
    }
    out
}

/// Spatial candidates other than its own that the polish searches (see [`polish_skeletons`]).
/// Measured on the bundled models (model EDP against 0, the polish's cost within the noise of
/// the compile): 4: tiny CNN −0.71 % / −0.30 % (`default` / `transformer`), MobileNetV2
/// `transformer` −0.14 %, `default` +0.005 %; 8: MobileNetV2 −0.05 % / −0.17 %; 16: −0.08 % /
/// −0.68 %; 32: −0.08 % / −0.73 %; ResNet-18 / `default` unchanged throughout.
pub const POLISH_CANDIDATES: usize = 32;

/// Every spatial candidate of the layer with its analytical bound at `opts.home`, in the
/// enumeration's order.
#[allow(clippy::type_complexity)]
fn bounded_candidates(
    t: &Target,
    w: &Workload,
    opts: &Options,
) -> Result<(LowerBound, Vec<(f64, Vec<cimopt_ir::SpatialFactor>)>), MapError> {
    let memo = BoundedCandidates::of(t, w, opts.home, opts.objective)?;
    Ok((memo.lower.clone(), memo.bounded.clone()))
}

/// A layer's spatial candidates in enumeration order, each with its [`spatial_bound`] for one
/// objective, and the physical bound they were taken from: the same for every search of the
/// layer at the same homes and objective on the same target. A compile searches a layer
/// several times (the solve, the searches around the memory plan's variants, the polish, the
/// certification), and bounding every candidate again took a tenth of ResNet-50's compile.
struct BoundedCandidates {
    lower: LowerBound,
    bounded: Vec<(f64, Vec<cimopt_ir::SpatialFactor>)>,
}

/// Re-prices the candidates with `deep` (a bound never below theirs) from the least bound up,
/// until the next candidate's bound is no lower than the least re-priced one: then no other
/// candidate can set the least, so the layer's bound is what re-pricing every candidate would
/// give, at the price of a few. The others keep their bounds, which stay valid.
fn refine_least(
    bounded: &mut [(f64, Vec<cimopt_ir::SpatialFactor>)],
    deep: impl Fn(&[cimopt_ir::SpatialFactor]) -> f64,
) {
    let mut order: Vec<usize> = (0..bounded.len()).collect();
    order.sort_by(|&a, &b| bounded[a].0.total_cmp(&bounded[b].0).then(a.cmp(&b)));
    let mut least = f64::INFINITY;
    for i in order {
        if bounded[i].0 >= least {
            break;
        }
        let refined = deep(&bounded[i].1).max(bounded[i].0);
        bounded[i].0 = refined;
        least = least.min(refined);
    }
}

/// How many layers' [`BoundedCandidates`] are remembered (about 250 kB each for a layer of
/// 2 000 candidates): more than a stage of ResNet-50's compile visits.
const BOUNDED_CANDIDATES_KEPT: usize = 96;

type BoundedKey = (Target, Workload, [usize; 3], Objective);

impl BoundedCandidates {
    fn of(
        t: &Target,
        w: &Workload,
        home: [usize; 3],
        objective: Objective,
    ) -> Result<std::sync::Arc<BoundedCandidates>, MapError> {
        use std::sync::{Arc, Mutex, PoisonError};
        // Most recently used last. Values are computed from their key alone, so that what a
        // search reads does not depend on what ran before it.
        static MEMO: Mutex<Vec<(BoundedKey, Arc<BoundedCandidates>)>> = Mutex::new(Vec::new());
        let is = |k: &BoundedKey| k.2 == home && k.3 == objective && k.1 == *w && k.0 == *t;
        {
            let mut memo = MEMO.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(i) = memo.iter().position(|(k, _)| is(k)) {
                let hit = memo.remove(i);
                let found = hit.1.clone();
                memo.push(hit);
                return Ok(found);
            }
        }
        let candidates = spatial::enumerate(t, w)?;
        let lower = physical_bound_over(t, w, home, &candidates);
        let mut bounded: Vec<(f64, Vec<cimopt_ir::SpatialFactor>)> = candidates
            .into_iter()
            .map(|s| (spatial_bound(t, w, &s, &lower, objective), s))
            .collect();
        refine_least(&mut bounded, |s| {
            spatial_bound_deep(t, w, s, &lower, objective)
        });
        let found = Arc::new(BoundedCandidates { lower, bounded });
        let mut memo = MEMO.lock().unwrap_or_else(PoisonError::into_inner);
        if !memo.iter().any(|(k, _)| is(k)) {
            if memo.len() == BOUNDED_CANDIDATES_KEPT {
                memo.remove(0);
            }
            memo.push(((t.clone(), w.clone(), home, objective), found.clone()));
        }
        Ok(found)
    }
}

/// Every spatial candidate of the layer ([`bounded_candidates`]) open at its analytical bound,
/// then [`certify`]: how a search that bounded no candidate by its skeletons ends
/// ([`certify_from`], [`around`]). Records the candidates in `stats`; returns how many had an
/// analytical bound reaching the incumbent it started from (within the gap).
#[allow(clippy::too_many_arguments)]
fn certify_every_candidate<'a>(
    t: &'a Target,
    w: &'a Workload,
    opts: &Options,
    lower: &'a LowerBound,
    candidates: Vec<(f64, Vec<cimopt_ir::SpatialFactor>)>,
    inc: &mut Incumbent,
    deadline: Instant,
    stats: &mut Stats,
    shared: &mut Certification<'a>,
) -> (u64, u64) {
    stats.candidates_enumerated = candidates.len() as u64;
    let open: Vec<OpenCandidate> = candidates
        .into_iter()
        .map(|(analytical, s)| OpenCandidate {
            analytical,
            spatial: s,
            searched: Vec::new(),
            unsearched: StopReason::CandidateBudget,
            rank: 0,
        })
        .collect();
    let pruned = open
        .iter()
        .filter(|c| c.analytical * (1.0 + opts.gap) >= inc.objective)
        .count() as u64;
    let (_, left) = certify(
        t,
        w,
        opts,
        lower,
        inc,
        open,
        deadline,
        stats,
        shared,
        &mut |_| {},
    );
    (pruned, left)
}

/// The reorderings of `best`'s loops `steps` (1 or 2) steps away (`cimopt_space::loop_reorders`,
/// applied once or twice; one step away with [`Options::around_splits`], the loop splits too)
/// most worth a MILP: each not yet in `done` priced with the greedy mapper's level assignment
/// (loops as deep as capacity allows, the incumbent's double buffers), the [`AROUND_REORDERS`]
/// (two steps: [`AROUND_FAR_REORDERS`]) cheapest on `opts.objective` kept, cheapest first. A
/// MILP solve costs milliseconds and the assignment microseconds (ResNet-50 / `default`'s polish prices about 8 800 reorderings in 0.12 s), and
/// on ResNet-18 / `default` the MILP over the 8 the assignment ranks first found 86 % of what
/// it found over all of them (model EDP −1.10 % against −1.28 %) in a third of the time.
fn promising_reorders(
    t: &Target,
    w: &Workload,
    opts: &Options,
    best: &Skeleton,
    double_buffer: &[(usize, Operand)],
    steps: usize,
    done: &[Skeleton],
) -> Vec<Skeleton> {
    let objective = opts.objective;
    let mut reach = cimopt_space::loop_reorders(&best.loops);
    if steps == 1 && opts.around_splits {
        for s in cimopt_space::loop_splits(&best.loops) {
            if !reach.contains(&s) {
                reach.push(s);
            }
        }
    }
    if steps > 1 {
        // Sorted and deduplicated: the order the reorderings are priced in (and ties kept)
        // does not depend on the path that reached them.
        let mut seen: std::collections::BTreeSet<Vec<(cimopt_target::Dim, u64)>> =
            reach.iter().cloned().collect();
        for r in &reach {
            seen.extend(cimopt_space::loop_reorders(r));
        }
        seen.remove(&best.loops);
        reach = seen.into_iter().collect();
    }
    let mut priced: Vec<(f64, Skeleton)> = reach
        .into_iter()
        .map(|loops| Skeleton {
            loops,
            ..best.clone()
        })
        .filter(|sk| !done.contains(sk))
        .map(|skeleton| priced_by_greedy(t, w, objective, double_buffer, skeleton))
        .collect();
    // Stable: equal prices keep the reorderings' order.
    priced.sort_by(|a, b| a.0.total_cmp(&b.0));
    priced
        .into_iter()
        .take(if steps > 1 {
            AROUND_FAR_REORDERS
        } else {
            AROUND_REORDERS
        })
        .map(|(_, s)| s)
        .collect()
}

/// `skeleton` with its price on `objective` under the greedy mapper's level assignment (loops
/// as deep as capacity allows, with `double_buffer`): microseconds where a MILP takes
/// milliseconds, to rank nests before any is searched; infinite where the assignment is not
/// valid.
fn priced_by_greedy(
    t: &Target,
    w: &Workload,
    objective: Objective,
    double_buffer: &[(usize, Operand)],
    skeleton: Skeleton,
) -> (f64, Skeleton) {
    let draft = cimopt_mappers::levels::Draft {
        skeleton,
        double_buffer: double_buffer.to_vec(),
        shares: cimopt_mappers::levels::EVEN_SHARES,
    };
    let m = cimopt_mappers::levels::assign(t, w, &draft);
    let price = if check(t, w, &m).is_empty() {
        objective.of(&evaluate(t, w, &m))
    } else {
        f64::INFINITY
    };
    (price, draft.skeleton)
}

/// Reorderings per round of [`optimise_around`]'s climb given a MILP.
pub const AROUND_REORDERS: usize = 8;

/// Reorderings two steps away given a MILP when the climb stalls: fewer than one step away
/// (on ResNet-50 / `default`'s polish a stall has about 320 of them, against 30 one step away),
/// since the stall means the neighbours greedy prices cheapest were tried. On the bundled
/// models every improvement the two-step round found was the one greedy's assignment ranked
/// first (ResNet-18, ResNet-50 and VGG-16 on `default`, VGG-16 on `transformer`), while eight
/// proposals cost ResNet-50 / `default`'s polish a second.
pub const AROUND_FAR_REORDERS: usize = 2;

/// Every placement triple of every skeleton of every spatial candidate the optimiser would
/// solve, priced by the cost model: the optimum of the same space by brute force, and a lower
/// bound over every mapping of the layer (the analytical bound of each candidate whose
/// skeletons are not all in that space). Refuses (returns `None`) when the space holds more
/// than `max_triples` placement triples in all.
pub fn exhaustive(
    t: &Target,
    w: &Workload,
    opts: &Options,
    hint: Option<&Mapping>,
    max_triples: u64,
) -> Result<Option<(Mapping, Cost, f64)>, MapError> {
    let (warm, warm_skeletons) = warm_start(t, w, opts.objective, opts.home, hint)?;
    let candidates = spatial::enumerate(t, w)?;
    let bounds = physical_bound_over(t, w, opts.home, &candidates);
    let mut whole = f64::INFINITY;
    // Size the whole space first, so that a layer too large is refused at once.
    let mut spaces = Vec::new();
    let mut total: u64 = 0;
    for s in candidates {
        let searched = skeletons_at(w, &s, &warm_skeletons, opts.home);
        if !covers_every_skeleton(w, &s, opts.home, &searched) {
            whole = whole.min(spatial_bound(t, w, &s, &bounds, opts.objective));
        }
        for sk in searched {
            let Some(space) = skeleton_space(t, w, &sk, usize::MAX) else {
                continue;
            };
            total += space
                .placements
                .iter()
                .map(|p| p.len() as u64)
                .product::<u64>();
            if total > max_triples {
                return Ok(None);
            }
            spaces.push(space);
        }
    }
    let mut best = (warm.mapping, warm.cost);
    for space in &spaces {
        if let Some((m, c)) = exhaustive_skeleton(t, w, space, opts.objective)
            && opts.objective.of(&c) < opts.objective.of(&best.1)
        {
            best = (m, c);
        }
    }
    let bound = whole.min(opts.objective.of(&best.1));
    Ok(Some((best.0, best.1, bound)))
}

/// The best placement triple of one skeleton by brute force.
pub fn exhaustive_skeleton(
    t: &Target,
    w: &Workload,
    space: &SkeletonSpace,
    objective: Objective,
) -> Option<(Mapping, Cost)> {
    let mut best: Option<(Mapping, Cost)> = None;
    for a in &space.placements[0] {
        for b in &space.placements[1] {
            for c in &space.placements[2] {
                let m = mapping_of(&space.skeleton, [a, b, c]);
                if !check(t, w, &m).is_empty() {
                    continue;
                }
                let cost = evaluate(t, w, &m);
                if best
                    .as_ref()
                    .is_none_or(|b| objective.of(&cost) < objective.of(&b.1))
                {
                    best = Some((m, cost));
                }
            }
        }
    }
    best
}

/// The best mapping of the layer's **whole** space by brute force, for each objective: every
/// spatial candidate, every split of every trip count into loops, every loop order
/// ([`cimopt_space::whole::skeletons`]), every placement of every operand with every
/// double-buffer subset of the levels it uses ([`placements`]), priced by the cost model; ties
/// go to the first in that order. `None` when the space holds more than `max_triples`
/// placement triples, counted before anything is priced, or more spatial unrollings than
/// [`cimopt_space::spatial::MAX_UNROLLINGS`] (or when no mapping fits). Judges by
/// the cost model alone, like [`exhaustive`]: what it certifies is the cost model's optimum.
pub fn exhaustive_whole(
    t: &Target,
    w: &Workload,
    objectives: &[Objective],
    home: [usize; 3],
    max_triples: u64,
) -> Option<Vec<WholeSpace>> {
    let mut spaces = Vec::new();
    let mut triples: u64 = 0;
    for sk in cimopt_space::whole::skeletons(t, w, home).ok()? {
        let Some(space) = skeleton_space(t, w, &sk, usize::MAX) else {
            continue;
        };
        triples += space
            .placements
            .iter()
            .map(|p| p.len() as u64)
            .product::<u64>();
        if triples > max_triples {
            return None;
        }
        spaces.push(space);
    }
    let mut best: Vec<Option<(Mapping, Cost, f64)>> = vec![None; objectives.len()];
    let mut valid: u64 = 0;
    // Levels several operands share are checked jointly, as `check` does: each placement's
    // bits were computed on its own (they depend on that operand's levels alone).
    let shared: Vec<usize> = (1..t.num_levels())
        .filter(|&l| t.levels[l].holds.len() > 1)
        .collect();
    for space in &spaces {
        let [pi, pw, po] = &space.profiles;
        for (a, ia) in pi.iter().enumerate() {
            for (b, ib) in pw.iter().enumerate() {
                for (c, ic) in po.iter().enumerate() {
                    let fits = shared.iter().all(|&l| {
                        ia.bits[l] + ib.bits[l] + ic.bits[l] <= t.levels[l].capacity_bits
                    });
                    if !fits {
                        continue;
                    }
                    valid += 1;
                    let m = mapping_of(
                        &space.skeleton,
                        [
                            &space.placements[0][a],
                            &space.placements[1][b],
                            &space.placements[2][c],
                        ],
                    );
                    let cost = evaluate(t, w, &m);
                    for (slot, objective) in best.iter_mut().zip(objectives) {
                        let v = objective.of(&cost);
                        if slot.as_ref().is_none_or(|b| v < b.2) {
                            debug_assert!(check(t, w, &m).is_empty(), "{m:?}");
                            *slot = Some((m.clone(), cost.clone(), v));
                        }
                    }
                }
            }
        }
    }
    best.into_iter()
        .map(|b| {
            b.map(|(mapping, cost, objective)| WholeSpace {
                mapping,
                cost,
                objective,
                skeletons: spaces.len() as u64,
                mappings: valid,
            })
        })
        .collect()
}

/// The optimum of a layer's whole space for one objective ([`exhaustive_whole`]).
#[derive(Clone, Debug)]
pub struct WholeSpace {
    pub mapping: Mapping,
    pub cost: Cost,
    /// The objective of `mapping` (cost model, true units).
    pub objective: f64,
    /// Skeletons with at least one placement of each operand.
    pub skeletons: u64,
    /// Valid mappings priced.
    pub mappings: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Re-pricing from the least bound up gives the least that re-pricing every candidate
    /// would, re-prices no candidate whose bound is at or above that least already, and
    /// leaves the others as they were.
    #[test]
    fn re_pricing_the_least_bounds_gives_the_least_of_all_re_priced() {
        use cimopt_target::{Axis, Dim};
        let one = |f: u64| {
            vec![cimopt_ir::SpatialFactor {
                axis: Axis::Cores,
                dim: Dim::K,
                factor: f,
            }]
        };
        // Candidate `f`'s plain bound and the one re-pricing gives it.
        let cases = [
            (1, 10.0, 30.0),
            (2, 12.0, 25.0),
            (3, 20.0, 21.0),
            (4, 26.0, 40.0),
        ];
        let deep = |s: &[cimopt_ir::SpatialFactor]| {
            cases
                .iter()
                .find(|c| c.0 == s[0].factor)
                .map_or(0.0, |c| c.2)
        };
        let mut bounded: Vec<(f64, Vec<cimopt_ir::SpatialFactor>)> =
            cases.iter().rev().map(|c| (c.1, one(c.0))).collect();
        let asked = std::cell::RefCell::new(Vec::new());
        refine_least(&mut bounded, |s| {
            asked.borrow_mut().push(s[0].factor);
            deep(s)
        });
        let least = bounded.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
        assert_eq!(least, 21.0);
        // 26 is above 21, the least re-priced bound once the third candidate was: never asked.
        assert_eq!(*asked.borrow(), vec![1, 2, 3]);
        let by = |f: u64| bounded.iter().find(|b| b.1[0].factor == f).unwrap().0;
        assert_eq!((by(1), by(2), by(3), by(4)), (30.0, 25.0, 21.0, 26.0));
    }

    /// What [`bounded_candidates`] remembers is told apart by everything it depends on: the
    /// target, the workload, the homes and the objective. Each answer is the one a fresh
    /// computation gives, in whatever order the layers are asked for.
    #[test]
    fn remembered_candidate_bounds_are_those_of_the_layer_asked_for() {
        let load = |set: &[&str]| {
            let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
            cimopt_target::load("default", &set).unwrap().target
        };
        let (t, dearer) = (load(&[]), load(&["levels.0.read_energy_pj_per_bit=9.5"]));
        let gb = t.level_by_name("global_buffer").unwrap();
        let (a, b) = (
            Workload::square_conv(3, 7, 32, 64, 1, 1),
            Workload::square_conv(1, 7, 64, 32, 1, 1),
        );
        let lambda = Objective::Weighted { nj_per_cycle: 0.5 };
        let asks = [
            (&t, &a, [0; 3], Objective::Edp),
            (&dearer, &a, [0; 3], Objective::Edp),
            (&t, &b, [0; 3], Objective::Edp),
            (&t, &a, [gb, 0, gb], Objective::Edp),
            (&t, &a, [0; 3], lambda),
            (&t, &a, [0; 3], Objective::Latency),
        ];
        for round in 0..2 {
            for &(t, w, home, objective) in &asks {
                let opts = Options {
                    home,
                    objective,
                    ..Options::default()
                };
                let (lower, bounded) = bounded_candidates(t, w, &opts).unwrap();
                let candidates = spatial::enumerate(t, w).unwrap();
                let fresh = physical_bound_over(t, w, home, &candidates);
                assert_eq!(lower, fresh, "round {round}");
                assert_eq!(bounded.len(), candidates.len());
                for ((bound, s), c) in bounded.iter().zip(&candidates) {
                    assert_eq!(s, c);
                    assert_eq!(*bound, spatial_bound(t, w, c, &fresh, objective));
                }
            }
        }
    }
}
