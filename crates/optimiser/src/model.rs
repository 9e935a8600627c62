//! The MILP of one skeleton: choose one placement per operand (one-hot binaries) to minimise
//! the objective under the shared-level capacities.
//!
//! Energy is exact and linear: each placement's memory energy is a constant, MAC energy is
//! fixed by the skeleton, leakage is linear in latency. Latency is the cost model's recursion
//! (`crates/cost/src/lib.rs`) stated over continuous variables — one body time per loop, one
//! boundary wait, first wait and serial wait per loop, one refill chain per (loop, operand), one
//! stream deficit per nest position, two running sums per loop and input or weight stream
//! position (an input or weight stream's lag, `cimopt_cost::timing::stream_lag`), one row per
//! output stream position for its port after the first tile's work, one tail and two
//! read-ahead gains per loop (`cimopt_cost::timing::output_tail`, `output_read_ahead`) — with
//! every term the cost model takes a maximum of as an epigraph row, and the read-ahead gains it
//! subtracts bounded from above. So for every placement triple the cost model's
//! own values satisfy every row: the MILP's optimum is a lower bound on the true optimum of the
//! skeleton, and the two are equal on each skeleton's fastest triple (tested in
//! `tests/exhaustive.rs`; `docs/optimiser.md`). The caller evaluates each MILP solution with the cost model and
//! cuts it off until the bound meets the best true value (see `crate::solve_skeleton`).

use crate::profile::Profile;
use cimopt_cost::Objective;
use cimopt_cost::timing::{
    Slack, output_chain, output_inner, output_port_lead_bound, output_tail_constant, refill_terms,
    stream_cycles, stream_extra,
};
use cimopt_space::Skeleton;
use cimopt_target::{Operand, Target};
use good_lp::{
    Expression, IntoAffineExpression, ProblemVariables, SolverModel, Variable, variable,
};
use std::collections::BTreeMap;

/// What the caller knows when it builds the model.
pub struct ModelInput<'a> {
    pub target: &'a Target,
    pub skeleton: &'a Skeleton,
    /// Profiles of each operand's placements, `profiles[o.index()][p]`.
    pub profiles: [&'a [Profile]; 3],
    pub objective: Objective,
    /// Cycles of one activation at the layer's input precision.
    pub t_mac_cycles: u64,
    /// MAC energy of the skeleton, nJ (fixed by its activations and core fill).
    pub mac_energy_nj: f64,
    /// Latency and energy the model's units are scaled by (the incumbent's), so that values
    /// are O(1) for the solver.
    pub latency_ref: f64,
    pub energy_ref: f64,
    /// Only solutions whose objective (true units) is at most this are of interest.
    pub cutoff: f64,
    /// Placement triples already evaluated, excluded.
    pub excluded: &'a [[usize; 3]],
    pub gap: f64,
    pub time_limit_s: f64,
    pub max_nodes: u64,
    /// Fixes the placement triple (to read the model's value of one triple).
    pub fixed: Option<[usize; 3]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelStatus {
    /// Solved to the requested gap.
    Optimal,
    /// No triple can reach the cutoff.
    Infeasible,
    /// A work or time limit ended the solve.
    Limit,
}

#[derive(Clone, Debug)]
pub struct ModelSolution {
    pub status: ModelStatus,
    /// The chosen placement of each operand, when a solution was found.
    pub choice: Option<[usize; 3]>,
    /// The MILP's objective at the choice, true units.
    pub objective: Option<f64>,
    /// A proven lower bound on the objective of every triple not excluded, true units.
    pub bound: f64,
    /// The model's latency at the choice, cycles (a lower bound on the cost model's).
    pub latency: Option<f64>,
    pub rows: usize,
    pub columns: usize,
}

struct Builder {
    vars: ProblemVariables,
    rows: Vec<good_lp::Constraint>,
}

impl Builder {
    /// Adds a column and returns it with its index (good_lp numbers columns in order).
    fn add(&mut self, def: good_lp::VariableDefinition) -> (Variable, usize) {
        let index = self.vars.len();
        (self.vars.add(def), index)
    }
}

/// What an input or weight placement charges in [`separable_bound`]: per loop, its refill
/// terms that nothing overlaps (the largest), its start (`boot + fill`), its energy, nJ.
struct Charge {
    bare_chains: Vec<f64>,
    start: f64,
    energy_nj: f64,
    /// Its double-buffered streams' port times, by position.
    ports: Vec<(usize, f64)>,
}

impl Charge {
    fn of(p: &Profile, loops: usize) -> Charge {
        let steps = &p.timing.steps;
        let bare_chains = (0..loops)
            .map(|i| {
                // The transfers inside loop `i`: from its own step on, past its anchors.
                let from = steps
                    .iter()
                    .position(|s| s.position > 2 * i)
                    .unwrap_or(steps.len());
                refill_terms(steps, from)
                    .iter()
                    .filter(|t| t.slack == Slack::None)
                    .map(|t| t.after)
                    .fold(0.0, f64::max)
            })
            .collect();
        Charge {
            bare_chains,
            start: p.timing.boot + p.timing.fill,
            energy_nj: p.energy_nj,
            ports: p
                .timing
                .ports
                .iter()
                .map(|q| (q.position, q.cycles))
                .collect(),
        }
    }

    /// The smallest of every charge, term by term (a charge no placement need make).
    fn least(charges: &[Charge], loops: usize) -> Charge {
        let min = |f: &dyn Fn(&Charge) -> f64| charges.iter().map(f).fold(f64::INFINITY, f64::min);
        Charge {
            bare_chains: (0..loops).map(|i| min(&|c| c.bare_chains[i])).collect(),
            start: min(&|c| c.start),
            energy_nj: min(&|c| c.energy_nj),
            // Most placements stream nothing.
            ports: Vec::new(),
        }
    }
}

/// A lower bound on the cost model's objective over every placement triple of the skeleton,
/// read off the placements' profiles without a solve. When it is at least the incumbent, a
/// solve could only prove that nothing in the skeleton beats it, so the search skips the
/// solve: on the bundled models, a fifth to a half of the skeletons that reach the MILP
/// (ResNet-18 / `default`: 246 of 698; `docs/optimiser.md`, "Bound, price, cut").
///
/// Each output placement is taken exactly, with every input placement exactly and the
/// weights' terms at their smallest over the weight placements, and the other way round;
/// every triple with that output placement costs at least the larger of the two, and the
/// bound is the smallest over the output placements. For one triple (the cost model's crate
/// docs):
/// - energy: the memory energy is `Σ_o e_o(p_o)` (each operand's depends on its own
///   placement alone), the MAC energy is fixed, the leakage is linear in the latency;
/// - a loop's body with `F > 1` is `F·body(inner) + (F − 2)·(wait − gain) + first wait −
///   gain`, where the first wait is at least the serial wait (the chains' largest) and each
///   gain, what an output stream inside reads ahead, at most the wait less the output chain.
///   So the body is at least `F·body(inner) + (F − 1)·chain_O`. An output placement that
///   cannot read ahead (no double-buffered output stream with a tail,
///   `timing::output_tail_constant`) gains nothing, and then the body is at least `F·body(inner)
///   + (F − 1)·max_o chain_o`, an input or weight chain being at least its refill terms that
///   nothing overlaps (`timing::Slack::None`);
/// - around the outermost body come the start and the outputs' drain and copy back, each at
///   least the outputs' `boot + fill`; without read-ahead the start is also at least the
///   inputs' and the weights';
/// - a double-buffered stream's port time bounds the latency as the cost model states it: an
///   input or weight stream's, followed by the body inside its loop and the outputs' drain;
///   an output stream's whole, or from the start its part after the first tile's work
///   (`timing::Port`).
///
/// Checked against the cost model by brute force on small skeletons and against sampled
/// triples and each skeleton's best on real-sized layers (`tests/exhaustive.rs`).
pub fn separable_bound(inp: &ModelInput) -> f64 {
    let r = Relaxation::new(inp);
    let mut body = vec![0.0; inp.skeleton.loops.len() + 1];
    let mut bound = f64::INFINITY;
    for o in &r.outputs {
        let mut by_inputs = f64::INFINITY;
        for i in &r.inputs {
            by_inputs = by_inputs.min(r.value(&mut body, o, i, &r.least_w));
        }
        // The pair's value is at least `by_inputs`: no weight placement can lower the bound.
        if by_inputs >= bound {
            continue;
        }
        let mut by_weights = f64::INFINITY;
        for w in &r.weights {
            by_weights = by_weights.min(r.value(&mut body, o, &r.least_i, w));
        }
        bound = bound.min(by_inputs.max(by_weights));
    }
    bound
}

/// One output placement's terms in [`separable_bound`], each computed once.
struct Outputs<'p> {
    chains: Vec<f64>,
    /// Per loop, the most an output stream inside it reads ahead across one of its boundaries
    /// (`timing::output_read_ahead`: at most the stream's transfer cycles; 0 without one).
    ahead_inside: Vec<f64>,
    /// The most any of its output streams reads ahead (at the start, too).
    ahead: f64,
    own: f64,
    profile: &'p Profile,
}

/// The terms [`separable_bound`] reads off the profiles, per placement, and the value of the
/// relaxed recursion for one output placement with input and weight charges.
struct Relaxation<'a> {
    inp: &'a ModelInput<'a>,
    inputs: Vec<Charge>,
    weights: Vec<Charge>,
    least_i: Charge,
    least_w: Charge,
    outputs: Vec<Outputs<'a>>,
}

impl<'a> Relaxation<'a> {
    fn new(inp: &'a ModelInput<'a>) -> Relaxation<'a> {
        let loops = inp.skeleton.loops.len();
        let charges = |o: Operand| -> Vec<Charge> {
            inp.profiles[o.index()]
                .iter()
                .map(|p| Charge::of(p, loops))
                .collect()
        };
        let (inputs, weights) = (charges(Operand::I), charges(Operand::W));
        let (least_i, least_w) = (
            Charge::least(&inputs, loops),
            Charge::least(&weights, loops),
        );
        let outputs = inp.profiles[Operand::O.index()]
            .iter()
            .map(|p| {
                let steps = &p.timing.steps;
                // Each stream that reads ahead, by position, with what it can gain at most.
                let reads_ahead: Vec<(usize, f64)> = steps
                    .iter()
                    .filter(|s| s.double && output_tail_constant(steps, s.position).is_some())
                    .map(|s| (s.position, s.cycles))
                    .collect();
                let ahead_after = |position: usize| {
                    reads_ahead
                        .iter()
                        .filter(|r| r.0 > position)
                        .map(|r| r.1)
                        .fold(0.0, f64::max)
                };
                Outputs {
                    chains: (0..loops).map(|l| output_chain(steps, 2 * l + 1)).collect(),
                    ahead_inside: (0..loops).map(|l| ahead_after(2 * l + 1)).collect(),
                    ahead: ahead_after(0),
                    own: p.timing.boot + p.timing.fill,
                    profile: p,
                }
            })
            .collect();
        Relaxation {
            inp,
            inputs,
            weights,
            least_i,
            least_w,
            outputs,
        }
    }

    /// The relaxed recursion's objective for output placement `o` with the input and weight
    /// charges `i` and `w` (`body`: room for one body per loop and one activation).
    fn value(&self, body: &mut [f64], o: &Outputs, i: &Charge, w: &Charge) -> f64 {
        let inp = self.inp;
        let loops = &inp.skeleton.loops;
        body[loops.len()] = inp.t_mac_cycles as f64;
        for (l, &(_, factor)) in loops.iter().enumerate().rev() {
            body[l] = body[l + 1];
            if factor > 1 {
                let f = factor as f64;
                // A boundary an input or weight decides is shorter by what an output stream
                // inside reads ahead, but never below the outputs' own chain.
                let serial = o.chains[l].max(i.bare_chains[l]).max(w.bare_chains[l]);
                let wait = o.chains[l].max(serial - o.ahead_inside[l]);
                body[l] = f * body[l + 1] + (f - 1.0) * wait;
            }
        }
        let after = |position: usize| body[position.div_ceil(2)];
        // The outermost output stream reads ahead while an input or a weight decides the start.
        let start = o.own.max(i.start.max(w.start) - o.ahead);
        let mut latency = start + body[0] + o.own;
        // A stream's port: an input or weight stream's, then the body inside its loop and the
        // outputs' drain; an output stream's, or its part after the first tile's work.
        for &(position, cycles) in i.ports.iter().chain(&w.ports) {
            latency = latency.max(cycles + after(position) + o.own);
        }
        for q in &o.profile.timing.ports {
            latency = latency
                .max(q.cycles)
                .max(o.own + after(q.position) + q.after_start);
        }
        let energy = i.energy_nj
            + w.energy_nj
            + o.profile.energy_nj
            + inp.mac_energy_nj
            + inp.target.leakage_nj_per_cycle * latency;
        inp.objective.of_parts(latency, energy)
    }
}

/// The relaxed value of placement triples ([`separable_bound`]'s recursion for one triple, by
/// which [`Triples`] sorts them): below the cost model's objective of each triple, which
/// `tests/exhaustive.rs` checks on sampled triples of small and real-sized layers.
pub struct TripleFloors<'a> {
    relaxation: Relaxation<'a>,
    body: Vec<f64>,
}

impl<'a> TripleFloors<'a> {
    pub fn new(inp: &'a ModelInput<'a>) -> TripleFloors<'a> {
        TripleFloors {
            relaxation: Relaxation::new(inp),
            body: vec![0.0; inp.skeleton.loops.len() + 1],
        }
    }

    /// The relaxed value of `triple` (input, weight, output placement).
    pub fn of(&mut self, triple: [usize; 3]) -> f64 {
        let r = &self.relaxation;
        r.value(
            &mut self.body,
            &r.outputs[triple[2]],
            &r.inputs[triple[0]],
            &r.weights[triple[1]],
        )
    }
}

/// The cost model's objective of a placement triple, from the placements' profiles
/// ([`cimopt_cost::timing::merge`], [`cimopt_cost::latency_of`]): the same number
/// `cimopt_cost::evaluate` gives the triple's mapping, without building its nest.
pub fn triple_objective(inp: &ModelInput, triple: [usize; 3]) -> f64 {
    let views = Operand::ALL.map(|o| &inp.profiles[o.index()][triple[o.index()]].timing);
    let (factors, merged) = cimopt_cost::timing::merge(views);
    let (latency, _) = cimopt_cost::latency_of(inp.t_mac_cycles as f64, &factors, &merged);
    let memory: f64 = Operand::ALL
        .iter()
        .map(|&o| inp.profiles[o.index()][triple[o.index()]].energy_nj)
        .sum();
    let energy = memory + inp.mac_energy_nj + inp.target.leakage_nj_per_cycle * latency;
    inp.objective.of_parts(latency, energy)
}

/// The placement triples of a skeleton that fit the shared levels and whose cost model
/// objective is below `inp.cutoff`, cheapest first (ties by triple), each with that objective
/// ([`triple_objective`]): the skeleton's optimum under the cost model without a solver.
///
/// Best first, lazily: every such triple's relaxed value (the recursion of
/// [`separable_bound`] for that triple, a lower bound of its objective, checked by
/// `tests/exhaustive.rs`) is computed and sorted, after pairs of an output and an input
/// placement whose relaxed value with the cheapest weight terms already reaches the cut-off
/// are dropped. A triple is priced exactly only when its relaxed value is below every exact
/// objective still waiting to be returned, so a search that stops at the first valid triple
/// prices only those whose relaxed value is below its objective.
pub struct Triples<'a> {
    inp: &'a ModelInput<'a>,
    /// (relaxed value, triple), cheapest last: the next to price is popped.
    relaxed: Vec<(f64, [usize; 3])>,
    /// Priced, waiting to be returned.
    priced: std::collections::BinaryHeap<Priced>,
}

/// A priced triple in [`Triples`]'s heap: the cheapest (then the smallest triple) on top.
#[derive(PartialEq)]
struct Priced(f64, [usize; 3]);

impl Eq for Priced {}

impl Ord for Priced {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

impl PartialOrd for Priced {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> Triples<'a> {
    /// The triples to search, or `None` when more than `limit` have a relaxed value below the
    /// cut-off (the caller then solves the MILP instead).
    pub fn new(inp: &'a ModelInput<'a>, limit: usize) -> Option<Triples<'a>> {
        let r = Relaxation::new(inp);
        let t = inp.target;
        let shared: Vec<usize> = (1..t.num_levels())
            .filter(|&lv| t.levels[lv].holds.len() >= 2)
            .collect();
        let bits = |o: Operand, p: usize, lv: usize| inp.profiles[o.index()][p].bits[lv];
        let mut body = vec![0.0; inp.skeleton.loops.len() + 1];
        let mut relaxed = Vec::new();
        for (po, o) in r.outputs.iter().enumerate() {
            for (pi, i) in r.inputs.iter().enumerate() {
                if r.value(&mut body, o, i, &r.least_w) >= inp.cutoff {
                    continue;
                }
                for (pw, w) in r.weights.iter().enumerate() {
                    let fits = shared.iter().all(|&lv| {
                        bits(Operand::I, pi, lv)
                            + bits(Operand::W, pw, lv)
                            + bits(Operand::O, po, lv)
                            <= t.levels[lv].capacity_bits
                    });
                    if !fits {
                        continue;
                    }
                    let v = r.value(&mut body, o, i, w);
                    if v < inp.cutoff {
                        if relaxed.len() == limit {
                            return None;
                        }
                        relaxed.push((v, [pi, pw, po]));
                    }
                }
            }
        }
        relaxed.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        Some(Triples {
            inp,
            relaxed,
            priced: std::collections::BinaryHeap::new(),
        })
    }
}

impl Iterator for Triples<'_> {
    type Item = (f64, [usize; 3]);

    fn next(&mut self) -> Option<(f64, [usize; 3])> {
        // Price every triple whose relaxed value is below the cheapest priced one: none of the
        // others can come first.
        while let Some(&(floor, triple)) = self.relaxed.last() {
            if self.priced.peek().is_some_and(|p| p.0 <= floor) {
                break;
            }
            self.relaxed.pop();
            let v = triple_objective(self.inp, triple);
            if v < self.inp.cutoff {
                self.priced.push(Priced(v, triple));
            }
        }
        self.priced.pop().map(|p| (p.0, p.1))
    }
}

/// Builds and solves the model.
pub fn solve(inp: &ModelInput) -> ModelSolution {
    let t = inp.target;
    let sk = inp.skeleton;
    let n = sk.loops.len();
    let tau = inp.latency_ref.max(1.0);
    let eref = inp.energy_ref.max(1e-12);
    let t_mac = inp.t_mac_cycles as f64;
    let factor: Vec<f64> = sk.loops.iter().map(|l| l.1 as f64).collect();
    // compute_after[j]: activations inside and including loop j × t_MAC.
    let mut compute_after = vec![t_mac; n + 1];
    for j in (0..n).rev() {
        compute_after[j] = compute_after[j + 1] * factor[j];
    }
    let multi: Vec<bool> = factor.iter().map(|&f| f > 1.0).collect();

    let mut b = Builder {
        vars: ProblemVariables::new(),
        rows: Vec::new(),
    };
    let x: Vec<Vec<(Variable, usize)>> = Operand::ALL
        .iter()
        .map(|&o| {
            (0..inp.profiles[o.index()].len())
                .map(|_| b.add(variable().binary()))
                .collect()
        })
        .collect();
    let body: Vec<Variable> = (0..n)
        .map(|j| b.add(variable().min(compute_after[j] / tau)).0)
        .collect();
    let body_at = |j: usize| -> Expression {
        if j == n {
            Expression::from(t_mac / tau)
        } else {
            Expression::from(body[j])
        }
    };
    let body_after = |position: usize| body_at(position.div_ceil(2));
    let per_loop = |b: &mut Builder| {
        (0..n)
            .map(|_| b.add(variable().min(0.0)).0)
            .collect::<Vec<_>>()
    };
    let wait = per_loop(&mut b);
    let first_wait = per_loop(&mut b);
    let wait_in = per_loop(&mut b);
    let serial_wait = per_loop(&mut b);
    let chain: Vec<Vec<Variable>> = (0..3).map(|_| per_loop(&mut b)).collect();
    // tail[j]: an output stream's tail at loop j (`cimopt_cost::timing::output_tail`).
    let tail = per_loop(&mut b);
    // rest[j]: what loop j's first boundary waits for besides its output stream's read (the
    // chains and the streams inside), so that `first_wait[j] − rest[j]` is at least what the
    // stream gains by reading ahead (`cimopt_cost::timing::output_read_ahead`); ahead_rest[i],
    // ahead_first[i]: what the output stream inside loop i gains at a boundary of loop i after
    // the first and at the first.
    let rest = per_loop(&mut b);
    let ahead_rest = per_loop(&mut b);
    let ahead_first = per_loop(&mut b);
    // At most the sum of what the loops from `i` inward may gain.
    let ahead_from = |i: usize| -> Expression {
        let mut e = Expression::default();
        for j in (i..n).filter(|&j| multi[j]) {
            e += first_wait[j];
            e -= rest[j];
        }
        e
    };
    // The tails of the loops from `i` inward.
    let tails_from = |i: usize| -> Expression {
        let mut e = Expression::default();
        for j in (i..n).filter(|&j| multi[j]) {
            e += tail[j];
        }
        e
    };
    let deficit: Vec<Variable> = (0..2 * n).map(|_| b.add(variable().min(0.0)).0).collect();
    let deficit_at = |s: usize| -> Expression {
        if s >= 2 * n {
            Expression::from(0.0)
        } else {
            Expression::from(deficit[s])
        }
    };
    let start = b.add(variable().min(0.0)).0;
    let (latency, latency_col) = b.add(variable().min(0.0));

    let sum_over = |o: Operand, f: &dyn Fn(&Profile) -> f64| -> Expression {
        let mut e = Expression::with_capacity(x[o.index()].len());
        for (p, prof) in inp.profiles[o.index()].iter().enumerate() {
            let c = f(prof);
            if c != 0.0 {
                e.add_mul(c, x[o.index()][p].0);
            }
        }
        e
    };
    let (oi, ow, oo) = (Operand::I, Operand::W, Operand::O);

    // One placement per operand.
    for o in Operand::ALL {
        let mut e = Expression::default();
        for &(v, _) in &x[o.index()] {
            e += v;
        }
        b.rows.push(e.eq(1.0));
    }
    // Shared levels: the operands' resident bits add up.
    for lv in 1..t.num_levels() {
        if t.levels[lv].holds.len() < 2 {
            continue;
        }
        let cap = t.levels[lv].capacity_bits as f64;
        let mut e = Expression::default();
        for o in Operand::ALL {
            e += sum_over(o, &|p| p.bits[lv] as f64 / cap);
        }
        b.rows.push(e.leq(1.0));
    }
    if let Some(f) = inp.fixed {
        for o in Operand::ALL {
            b.rows
                .push(Expression::from(x[o.index()][f[o.index()]].0).eq(1.0));
        }
    }
    // Excluded triples.
    for ex in inp.excluded {
        let mut e = Expression::default();
        for o in Operand::ALL {
            e += x[o.index()][ex[o.index()]].0;
        }
        b.rows.push(e.leq(2.0));
    }

    // Refill chains of inputs and weights at each loop boundary, grouped by what they wait
    // for: chain[i][o] ≥ Σ_p after_p·x_p − slack.
    for o in [oi, ow] {
        // Per group and placement: the largest `after`, scaled.
        let mut groups: BTreeMap<(usize, Slack), BTreeMap<usize, f64>> = BTreeMap::new();
        for (p, prof) in inp.profiles[o.index()].iter().enumerate() {
            let steps = &prof.timing.steps;
            for i in (0..n).filter(|&i| multi[i]) {
                // The terms of the transfers inside loop i (positions after its anchors).
                let from = steps
                    .iter()
                    .position(|s| s.position > 2 * i)
                    .unwrap_or(steps.len());
                for term in refill_terms(steps, from) {
                    let a = groups
                        .entry((i, term.slack))
                        .or_default()
                        .entry(p)
                        .or_insert(0.0);
                    *a = a.max(term.after / tau);
                }
            }
        }
        for ((i, slack), coefs) in groups {
            let mut e = Expression::default();
            for (&p, &a) in &coefs {
                e.add_mul(a, x[o.index()][p].0);
            }
            match slack {
                Slack::None => {}
                Slack::Body(j) => e -= body_at(j),
                Slack::BodyWait(j) => {
                    e -= body_at(j + 1);
                    e -= wait[j];
                    e += chain[o.index()][j];
                }
                Slack::SyncWait(j) => {
                    e -= body_at(j + 1);
                    e -= wait[j];
                }
            }
            b.rows.push(Expression::from(chain[o.index()][i]).geq(e));
        }
    }
    // The output chain: write back and re-read at every loop inside, and at this loop unless
    // it is double-buffered, after the tails of the output streams inside.
    for i in (0..n).filter(|&i| multi[i]) {
        let e = sum_over(oo, &|p| output_chain(&p.timing.steps, 2 * i + 1) / tau);
        b.rows
            .push(Expression::from(chain[oo.index()][i]).geq(e + tails_from(i + 1)));
    }
    // Output stream deficits: a double-buffered output transfer slower than the body it
    // overlaps stalls every boundary at or outside it (input and weight streams run ahead:
    // their lag is stated below).
    let stream = |o: Operand, position: usize, p: &Profile| {
        stream_cycles(&p.timing.steps, o, position) / tau
    };
    for s in 0..2 * n {
        if s + 1 < 2 * n {
            b.rows
                .push(Expression::from(deficit[s]).geq(Expression::from(deficit[s + 1])));
        }
        for o in [oo] {
            let e = sum_over(o, &|p| stream(o, s, p));
            if (&e).linear_coefficients().next().is_none() {
                continue;
            }
            b.rows
                .push(Expression::from(deficit[s]).geq(e - body_after(s)));
        }
    }
    // Gaps and bodies. `max_wait` is above every wait: a chain is at most the operand's
    // transfers there and back plus the output streams' tails (each below one transfer).
    let max_wait: f64 = Operand::ALL
        .iter()
        .map(|&o| {
            inp.profiles[o.index()]
                .iter()
                .map(|p| 3.0 * p.timing.fill)
                .fold(0.0, f64::max)
        })
        .sum::<f64>()
        / tau;
    for i in 0..n {
        if !multi[i] {
            b.rows.push(Expression::from(body[i]).eq(body_at(i + 1)));
            continue;
        }
        for o in Operand::ALL {
            b.rows
                .push(Expression::from(serial_wait[i]).geq(chain[o.index()][i]));
        }
        // wait_in: the boundary wait without loop i's own output stream; wait: with it.
        b.rows
            .push(Expression::from(wait_in[i]).geq(serial_wait[i]));
        b.rows
            .push(Expression::from(wait_in[i]).geq(deficit_at(2 * i + 2)));
        b.rows.push(Expression::from(wait[i]).geq(wait_in[i]));
        b.rows
            .push(Expression::from(wait[i]).geq(deficit_at(2 * i + 1)));
        b.rows
            .push(Expression::from(first_wait[i]).geq(serial_wait[i]));
        b.rows
            .push(Expression::from(first_wait[i]).geq(deficit_at(2 * i + 2)));
        // A double-buffered output loop: its first boundary needs one output transfer;
        // otherwise the first wait is the wait.
        let o_double = |p: &Profile| {
            p.timing
                .steps
                .iter()
                .any(|s| s.position == 2 * i + 1 && s.double)
        };
        // Its read, and the write-back the child waits for when a loop of outputs at the same
        // level lies inside (`own_chain`, 0 otherwise): at the first boundary, and when the
        // child waits for the write-back, at every boundary.
        let read_and_wait = |synced_only: bool| {
            sum_over(oo, &|p| {
                if o_double(p) {
                    p.timing
                        .steps
                        .iter()
                        .filter(|s| s.position == 2 * i + 1 && (!synced_only || s.own_chain > 0.0))
                        .map(|s| s.cycles + s.own_chain)
                        .sum::<f64>()
                        / tau
                } else {
                    0.0
                }
            })
        };
        let own_o = read_and_wait(false);
        if (&own_o).linear_coefficients().next().is_some() {
            b.rows
                .push(Expression::from(first_wait[i]).geq(own_o - body_at(i + 1)));
        }
        let synced_o = read_and_wait(true);
        if (&synced_o).linear_coefficients().next().is_some() {
            b.rows
                .push(Expression::from(wait_in[i]).geq(synced_o - body_at(i + 1)));
        }
        // The output stream's tail: `max(0, k − 2·body(i + 1) − last wait)`, the last wait
        // being the first with two iterations.
        let k = sum_over(oo, &|p| {
            output_tail_constant(&p.timing.steps, 2 * i + 1).map_or(0.0, |k| k / tau)
        });
        if (&k).linear_coefficients().next().is_some() {
            let last = if factor[i] > 2.0 {
                wait[i]
            } else {
                first_wait[i]
            };
            b.rows
                .push(Expression::from(tail[i]).geq(k - 2.0 * body_at(i + 1) - last));
        }
        let y = sum_over(oo, &|p| if o_double(p) { 1.0 } else { 0.0 });
        b.rows
            .push(Expression::from(first_wait[i]).geq(Expression::from(wait[i]) - max_wait * y));
        b.rows.push(Expression::from(rest[i]).geq(serial_wait[i]));
        b.rows
            .push(Expression::from(rest[i]).geq(deficit_at(2 * i + 2)));
        // An output stream inside reads ahead across a boundary an input or weight decides:
        // the gain is at most what the streams inside may gain and what the boundary waits
        // beyond the output chain (the cost model takes the outermost stream's gain and the
        // excess of the input and weight chains over every output term, no more).
        for (a, w) in [(ahead_rest[i], wait_in[i]), (ahead_first[i], first_wait[i])] {
            b.rows.push(Expression::from(a).leq(ahead_from(i + 1)));
            b.rows
                .push(Expression::from(a).leq(Expression::from(w) - chain[oo.index()][i]));
        }
        // The body: every boundary waits for the chains and inner streams (the first as
        // above) less what an output stream inside gains by reading ahead, or a
        // double-buffered output stream's port decides from the end of the first tile's work
        // (`cimopt_cost`'s latency): the larger.
        let f = factor[i];
        b.rows.push(Expression::from(body[i]).geq(
            f * body_at(i + 1) + (f - 2.0) * (wait_in[i] - ahead_rest[i]) + first_wait[i]
                - ahead_first[i],
        ));
        let port = sum_over(oo, &|p| (f - 2.0) * stream(oo, 2 * i + 1, p));
        let inner = sum_over(oo, &|p| {
            if stream(oo, 2 * i + 1, p) > 0.0 {
                output_inner(&p.timing.steps, 2 * i + 1) / tau
            } else {
                0.0
            }
        });
        // The port's end behind the last activation: the larger of the transfers below and
        // one transfer less the last tile's work.
        let own = sum_over(oo, &|p| stream(oo, 2 * i + 1, p) / 2.0);
        b.rows
            .push(Expression::from(body[i]).geq(2.0 * body_at(i + 1) + port.clone() + inner));
        b.rows
            .push(Expression::from(body[i]).geq(body_at(i + 1) + port + own));
    }
    // Start, drain and the total.
    let ready = |o: Operand| sum_over(o, &|p| (p.timing.boot + p.timing.fill) / tau);
    for o in Operand::ALL {
        b.rows.push(Expression::from(start).geq(ready(o)));
    }
    // The output drain: every output transfer once and the streams' tails.
    let drain = ready(oo) + tails_from(0);
    // The outermost output stream reads ahead while another operand decides the start (the
    // cost model: unless an input or weight stream falls behind; those rows below).
    let ahead_start = b.add(variable().min(0.0)).0;
    b.rows
        .push(Expression::from(ahead_start).leq(ahead_from(0)));
    b.rows
        .push(Expression::from(ahead_start).leq(Expression::from(start) - ready(oo)));
    b.rows.push(
        Expression::from(latency)
            .geq(Expression::from(start) + body_at(0) + drain.clone() - ahead_start),
    );
    // Input and weight streams: the most a stream falls behind the activations
    // (`cimopt_cost::timing::stream_lag`), after its operand's start, delays the nest. Per
    // operand and position a stream may send from: its per-iteration cycles (0 for placements
    // without a stream there), and over each loop at or outside it, outer to inner, the sum
    // `S` and largest prefix `P` of what it falls behind, stated as the recursion.
    for o in [oi, ow] {
        let positions: std::collections::BTreeSet<usize> = inp.profiles[o.index()]
            .iter()
            .flat_map(|p| {
                p.timing
                    .steps
                    .iter()
                    .filter(|s| s.double && s.cycles > 0.0)
                    .map(|s| s.position)
            })
            .collect();
        for position in positions {
            let cycles = sum_over(o, &|p| stream(o, position, p));
            let inner = body_after(position);
            let mut sum = Expression::from(0.0);
            let mut prefix = Expression::from(0.0);
            for k in cimopt_cost::timing::loops_outside(position).rev() {
                if !multi[k] {
                    continue;
                }
                let f = factor[k];
                let extra = sum_over(o, &|p| stream_extra(&p.timing.steps, position, k) / tau);
                let d = cycles.clone() + extra - inner.clone() - wait[k];
                let p_k = b.add(variable().min(0.0)).0;
                let s_k = b.add(variable()).0;
                b.rows.push(Expression::from(p_k).geq(prefix.clone()));
                b.rows.push(
                    Expression::from(p_k)
                        .geq(prefix.clone() + (f - 1.0) * (sum.clone() + d.clone())),
                );
                b.rows
                    .push(Expression::from(s_k).eq(f * sum.clone() + (f - 1.0) * d));
                sum = Expression::from(s_k);
                prefix = Expression::from(p_k);
            }
            b.rows.push(
                Expression::from(latency).geq(ready(o) + prefix + body_at(0) + drain.clone()),
            );
        }
    }
    // Stream port bounds. For inputs and weights the body inside the stream's loop follows
    // its last transfer: a placement without a stream at that position gets −M, M bounding
    // body + drain − latency (the body never exceeds latency + 2·start).
    let start_max: f64 = Operand::ALL
        .iter()
        .map(|&o| {
            inp.profiles[o.index()]
                .iter()
                .map(|p| p.timing.boot + p.timing.fill)
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max)
        / tau;
    let big_m = 2.0 * start_max + 1.0;
    for o in [oi, ow] {
        let positions: std::collections::BTreeSet<usize> = inp.profiles[o.index()]
            .iter()
            .flat_map(|p| p.timing.ports.iter().map(|q| q.position))
            .collect();
        for position in positions {
            let e = sum_over(o, &|p| {
                p.ports_by_position()
                    .iter()
                    .find(|q| q.0 == position)
                    .map_or(-big_m, |q| q.1 / tau)
            });
            b.rows
                .push(Expression::from(latency).geq(e + body_after(position) + drain.clone()));
        }
    }
    b.rows
        .push(Expression::from(latency).geq(sum_over(oo, &|p| {
            p.timing.ports.iter().map(|q| q.cycles).fold(0.0, f64::max) / tau
        })));
    // An output stream's port after the first tile's work (`cimopt_cost::timing::Port`): one
    // row per position, a placement without an output stream there getting −M (as above).
    let positions: std::collections::BTreeSet<usize> = inp.profiles[oo.index()]
        .iter()
        .flat_map(|p| p.timing.ports.iter().map(|q| q.position))
        .collect();
    for position in positions {
        let e = sum_over(oo, &|p| {
            p.timing
                .ports
                .iter()
                .filter(|q| q.position == position)
                .map(|q| q.after_start / tau)
                .fold(-big_m, f64::max)
        });
        // The port sits idle at each boundary outside the stream's loop whose wait exceeds its
        // lead (`cimopt_cost::timing::output_port_lead`): per loop, the first boundary of an
        // execution and the others. The lead is stated at its largest over the body inside
        // (`output_port_lead_bound`), so the MILP may fall short of the cost model here, never
        // exceed it; a placement without the stream gets `max_wait`, above every wait.
        let mut idle = Expression::from(0.0);
        if position % 2 == 1 {
            let lead = sum_over(oo, &|p| {
                output_port_lead_bound(&p.timing.steps, position).map_or(max_wait, |l| l / tau)
            });
            let mut entries = 1.0;
            for k in 0..(position - 1) / 2 {
                let f = factor[k];
                if multi[k] {
                    let first = b.add(variable().min(0.0)).0;
                    b.rows.push(
                        Expression::from(first).geq(Expression::from(first_wait[k]) - lead.clone()),
                    );
                    idle.add_mul(entries, first);
                    if f > 2.0 {
                        let rest = b.add(variable().min(0.0)).0;
                        b.rows.push(
                            Expression::from(rest).geq(Expression::from(wait[k]) - lead.clone()),
                        );
                        idle.add_mul(entries * (f - 2.0), rest);
                    }
                }
                entries *= f;
            }
        }
        b.rows.push(
            Expression::from(latency)
                .geq(Expression::from(start) + body_after(position) + e + idle),
        );
    }

    // Energy, in units of the reference: memory (exact per placement) + MAC + leakage.
    let mut mem = Expression::default();
    for o in Operand::ALL {
        mem += sum_over(o, &|p| p.energy_nj / eref);
    }
    let leak = t.leakage_nj_per_cycle * tau / eref;
    let mac = inp.mac_energy_nj / eref;
    let energy = mem.clone() + mac + leak * latency;

    let objective = match inp.objective {
        Objective::Latency => {
            b.rows.push(Expression::from(latency).leq(inp.cutoff / tau));
            Expression::from(latency)
        }
        Objective::Energy => {
            b.rows.push(energy.clone().leq(inp.cutoff / eref));
            energy
        }
        Objective::Weighted { nj_per_cycle } => {
            // Linear in the placement binaries and the latency: no products, so the LP
            // relaxation is as tight as the latency rows make it.
            let weighted = energy.clone() + (nj_per_cycle * tau / eref) * latency;
            b.rows.push(weighted.clone().leq(inp.cutoff / eref));
            weighted
        }
        Objective::Edp => {
            // L·E = Σ_p e_p·(x_p·L) + mac·L + leak·L²: each x_p·L is a product of a binary
            // and a bounded continuous variable (exact with big-M), L² is convex (tangents).
            let min_mem: f64 = Operand::ALL
                .iter()
                .map(|&o| {
                    inp.profiles[o.index()]
                        .iter()
                        .map(|p| p.energy_nj)
                        .fold(f64::INFINITY, f64::min)
                })
                .sum::<f64>()
                / eref;
            let min_latency = compute_after[0] / tau;
            let cap = (inp.cutoff / (tau * eref)) / (min_mem + mac + leak * min_latency);
            b.rows.push(Expression::from(latency).leq(cap));
            let mut obj = Expression::default();
            for o in Operand::ALL {
                for (p, prof) in inp.profiles[o.index()].iter().enumerate() {
                    let e = prof.energy_nj / eref;
                    if e <= 0.0 {
                        continue;
                    }
                    let z = b.add(variable().min(0.0)).0;
                    b.rows
                        .push((Expression::from(z) - latency - cap * x[o.index()][p].0).geq(-cap));
                    obj.add_mul(e, z);
                }
            }
            let q = b.add(variable().min(0.0)).0;
            let lo = min_latency.max(1e-9);
            let steps = 12;
            for k in 0..=steps {
                let a = lo * (cap / lo).max(1.0).powf(k as f64 / steps as f64);
                b.rows
                    .push(Expression::from(q).geq(2.0 * a * latency - a * a));
            }
            obj += mac * latency;
            obj.add_mul(leak, q);
            b.rows.push(obj.clone().leq(inp.cutoff / (tau * eref)));
            // The McCormick under-estimators of L·E from L ≥ L_min, E ≥ E_min: valid for every
            // triple, and what keeps the LP relaxation's bound away from zero when the
            // placement binaries are fractional.
            let edp = b.add(variable().min(0.0)).0;
            let e_min = min_mem + mac + leak * min_latency;
            b.rows.push(Expression::from(edp).geq(obj));
            b.rows.push(
                Expression::from(edp)
                    .geq(min_latency * energy.clone() + e_min * latency - min_latency * e_min),
            );
            Expression::from(edp)
        }
    };
    let unit = match inp.objective {
        Objective::Latency => tau,
        Objective::Energy | Objective::Weighted { .. } => eref,
        Objective::Edp => tau * eref,
    };

    // good_lp hands HiGHS the objective's coefficients only (its offset is 0): the constant
    // (the MAC energy of an energy or weighted objective) is added back to every objective
    // value and bound HiGHS reports, and taken off the cut-off it is given.
    let offset = objective.constant();
    let rows = b.rows.len();
    let columns = b.vars.len();
    let mut problem = b
        .vars
        .minimise(objective)
        .using(good_lp::solvers::highs::highs);
    for r in b.rows {
        problem.add_constraint(r);
    }
    let mut model = problem.into_inner();
    model.make_quiet();
    model.set_option("threads", 1);
    model.set_option("mip_rel_gap", inp.gap);
    model.set_option("mip_abs_gap", 0.0);
    model.set_option("random_seed", 0);
    // The caller holds a good incumbent: spend the time on the bound, not on heuristics.
    model.set_option("mip_heuristic_effort", 0.01);
    // Sub-MIP heuristics (RINS, RENS, root reduced cost) took ~90 % of the time of these small
    // models, re-solving what branching settles in a few nodes.
    model.set_option("mip_heuristic_run_rins", false);
    model.set_option("mip_heuristic_run_rens", false);
    model.set_option("mip_heuristic_run_root_reduced_cost", false);
    model.set_option("mip_heuristic_run_feasibility_jump", false);
    // The cut-off as HiGHS's upper limit too (a hair looser than the cut-off row): nodes are
    // pruned against it from the root, and the root feasibility pump, which only runs without
    // an upper limit, is skipped.
    model.set_option("objective_bound", inp.cutoff / unit * (1.0 + 1e-6) - offset);
    model.set_option("time_limit", inp.time_limit_s.max(0.01));
    model.set_option("mip_max_nodes", inp.max_nodes.min(i32::MAX as u64) as i32);
    // HiGHS writes its own log to the console, at trace level of `cimopt::highs`.
    let verbose = log::log_enabled!(target: "cimopt::highs", log::Level::Trace);
    model.set_option("output_flag", verbose);
    model.set_option("log_to_console", verbose);
    let solved = match model.try_solve() {
        Ok(s) => s,
        Err(_) => {
            return ModelSolution {
                status: ModelStatus::Limit,
                choice: None,
                objective: None,
                bound: 0.0,
                latency: None,
                rows,
                columns,
            };
        }
    };
    use highs::HighsModelStatus as S;
    let status = match solved.status() {
        S::Infeasible | S::UnboundedOrInfeasible => ModelStatus::Infeasible,
        S::Optimal | S::ObjectiveBound | S::ObjectiveTarget => ModelStatus::Optimal,
        // Time, node or iteration limits: the incumbent and bound stand as they are.
        _ => ModelStatus::Limit,
    };
    if status == ModelStatus::Infeasible {
        return ModelSolution {
            status,
            choice: None,
            objective: None,
            bound: inp.cutoff,
            latency: None,
            rows,
            columns,
        };
    }
    let has_solution = solved.primal_solution_status() == highs::HighsSolutionStatus::Feasible;
    let bound = solved
        .double_info_value(c"mip_dual_bound")
        .ok()
        .filter(|b| b.is_finite())
        .map_or(0.0, |b| (b + offset).max(0.0) * unit);
    if !has_solution {
        return ModelSolution {
            status: if status == ModelStatus::Optimal {
                ModelStatus::Infeasible
            } else {
                status
            },
            choice: None,
            objective: None,
            bound: if status == ModelStatus::Optimal {
                inp.cutoff
            } else {
                bound
            },
            latency: None,
            rows,
            columns,
        };
    }
    let sol = solved.get_solution();
    let cols = sol.columns();
    let choice = Operand::ALL.map(|o| {
        x[o.index()]
            .iter()
            .enumerate()
            .max_by(|a, b| cols[a.1.1].total_cmp(&cols[b.1.1]))
            .map(|(p, _)| p)
            .expect("every operand has a placement")
    });
    ModelSolution {
        status,
        choice: Some(choice),
        objective: Some((solved.objective_value() + offset) * unit),
        bound,
        latency: Some(cols[latency_col] * tau),
        rows,
        columns,
    }
}
