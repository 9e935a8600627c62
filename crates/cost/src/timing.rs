//! The terms of the latency recursion, stated once.
//!
//! The cost model ([`crate::evaluate`]) folds these terms into numbers for one mapping; the
//! optimiser's MILP (`cimopt-optimiser`) turns the same terms, computed for every placement
//! of an operand, into rows over placement binaries and body/gap variables. Both read each
//! operand's transfers from an [`OperandTiming`] and ask this module what each loop boundary
//! waits for:
//!
//! - [`refill_terms`]: an input or weight chain at a boundary of a loop is the largest of its
//!   refill terms, each `after − slack`, where `after` is the transfers from a single-buffered
//!   level down to the array and [`Slack`] is what that level's refill could overlap;
//! - [`output_chain`]: the output chain writes back and re-reads at every loop inside;
//! - [`stream_cycles`]: a double-buffered transfer slower than the body it overlaps;
//! - [`OperandTiming::ports`]: a double-buffered stream bounds the latency by its port time.
//!
//! # Positions
//!
//! Terms name places in the nest by *position*: loop `j` of the mapping is at `2j + 1`, a reuse
//! anchor the cost model inserts just outside loop `j` at `2j`. Positions do not depend on
//! which operands have anchors, so the terms of one operand computed on the nest of one
//! placement line up with the body variables of the skeleton. The body after position `p` is
//! the body of loop `⌈p/2⌉` (loop `n` being one activation).

use crate::nest::Nest;
use cimopt_ir::analysis::precision_at;
use cimopt_target::{Operand, Target};

/// One step of the executed nest as one operand sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepTiming {
    /// See the module docs.
    pub position: usize,
    pub factor: u64,
    /// Transfer cycles of one firing (0 when the step does not move this operand).
    pub cycles: f64,
    /// Whether the step's transfer overlaps the child's work on its previous tile (the child
    /// double-buffers the operand; into the array, the sending level too).
    pub double: bool,
    /// Whether the step feeds the MAC array directly.
    pub to_compute: bool,
    /// The level the step sits at for the operand.
    pub level: usize,
    /// Outputs: the cycles of this step's own transfers that each boundary of its loop waits
    /// for ([`output_chain`]); 0 for inputs and weights.
    pub own_chain: f64,
    /// The operand whose reuse anchor the step is (`None`: a mapping loop).
    pub anchor_for: Option<Operand>,
}

impl StepTiming {
    /// The cycles a transfer of `o` at this step occupies its port ([`ways`] crossings).
    pub fn stream_cycles(&self, o: Operand) -> f64 {
        ways(o) * self.cycles
    }
}

/// A double-buffered stream's port time: every transfer it makes back to back, plus what must
/// precede its first (inputs, weights: the bootstrap and the transfers above; outputs also the
/// final copy back). The body inside the stream's loop and the output drain follow an input or
/// weight stream; the latency recursion ([`crate::evaluate`]) and the MILP add them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Port {
    /// Index of the step in [`OperandTiming::steps`].
    pub step: usize,
    pub position: usize,
    pub cycles: f64,
    /// Outputs: the port time that must follow the first tile's work (one execution of the
    /// body inside the stream's loop, from the first activation), then the final copy back.
    /// An output stream reads at most two tiles ahead (the second right after the first); it
    /// writes the first back only once the activations that produced it ended and the output
    /// transfers below wrote it back up to the stream's level, and reads the next only after
    /// that: those write-backs below, then every port transfer but the first two reads. 0 for
    /// inputs and weights, which run ahead without bound.
    pub after_start: f64,
}

/// An operand's transfers along an executed nest.
#[derive(Clone, Debug, PartialEq)]
pub struct OperandTiming {
    pub steps: Vec<StepTiming>,
    /// Cycles to copy the operand whole from its home before the nest starts.
    pub boot: f64,
    /// One firing of every transfer: the pipeline fill (outputs: also the drain).
    pub fill: f64,
    /// Port times of the double-buffered streams, outer to inner.
    pub ports: Vec<Port>,
}

/// Cycles to copy operand `o` whole from its home (DRAM unless the memory plan keeps it on
/// chip) into its first level before the nest starts (0 when its outermost loop sits at its
/// home).
pub fn bootstrap_cycles(t: &Target, n: &Nest, o: Operand) -> f64 {
    let home = n.home[o.index()];
    if n.first_level[o.index()] == home {
        return 0.0;
    }
    let bits = n.workload.operand_size(o) * precision_at(t, &n.precision, &n.psum, home, o);
    bits as f64 / t.levels[home].read_bw as f64
}

impl OperandTiming {
    /// Operand `o`'s view of nest `n`.
    pub fn of(t: &Target, n: &Nest, o: Operand) -> OperandTiming {
        let mut steps = Vec::with_capacity(n.steps.len());
        let mut loops_before = 0usize;
        for (i, s) in n.steps.iter().enumerate() {
            let position = if s.anchor_for.is_some() {
                2 * loops_before
            } else {
                loops_before += 1;
                2 * loops_before - 1
            };
            let tr = &n.transfers[i][o.index()];
            let c = tr.cycles as f64;
            let own_chain = if o != Operand::O {
                0.0
            } else if !tr.delayed_writeback {
                // Written back right after the child, then the next tile read.
                2.0 * c
            } else {
                // The previous tile is written back after the next one is read. A step of the
                // operand at the same level inside this loop (a loop the tile does not depend
                // on, or an anchor) makes the child wait for that level, so for the write-back;
                // without one, the write-back overlaps the next tile's work.
                let level = s.level[o.index()];
                let synced = n.steps[i + 1..]
                    .iter()
                    .any(|inner| inner.level[o.index()] == level);
                let writeback = if synced { c } else { 0.0 };
                // A level the array releases only when an activation ends cannot read ahead.
                writeback + if tr.double { 0.0 } else { c }
            };
            steps.push(StepTiming {
                position,
                factor: s.factor,
                cycles: c,
                double: tr.double,
                to_compute: tr.to == t.compute_level(),
                level: s.level[o.index()],
                own_chain,
                anchor_for: s.anchor_for,
            });
        }
        let boot = bootstrap_cycles(t, n, o);
        let fill: f64 = steps.iter().map(|s| s.cycles).sum();
        let k = ways(o);
        let mut ports = Vec::new();
        let mut above = 0.0;
        let mut entries = 1.0;
        for (i, s) in steps.iter().enumerate() {
            if s.double && s.cycles > 0.0 {
                let port = k * s.cycles * entries * s.factor as f64;
                let (cycles, after_start) = if o == Operand::O {
                    let below: f64 = steps[i + 1..].iter().map(|s| s.cycles).sum();
                    (
                        boot + 2.0 * above + port + boot,
                        below + (port - 2.0 * s.cycles).max(0.0) + boot,
                    )
                } else {
                    (boot + above + port, 0.0)
                };
                ports.push(Port {
                    after_start,
                    step: i,
                    position: s.position,
                    cycles,
                });
            }
            above += s.cycles;
            entries *= s.factor as f64;
        }
        OperandTiming {
            steps,
            boot,
            fill,
            ports,
        }
    }
}

/// How many times one transfer of `o` crosses its port: outputs are read down and written back.
pub fn ways(o: Operand) -> f64 {
    if o == Operand::O { 2.0 } else { 1.0 }
}

/// What the refill of a single-buffered level overlaps, subtracted from its chain. A loop index
/// `j` names the body of loop `j` (`j = n`: one activation); positions are as in the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slack {
    /// Nothing: the level feeds the array, or nothing is sent after it.
    None,
    /// The body of loop `j`: the level's last send opened it.
    Body(usize),
    /// The body inside loop `j` plus the part of loop `j`'s boundary wait that another operand
    /// decides:
    /// `body(j + 1) + max(0, wait(j) − chain(j, o))`.
    BodyWait(usize),
    /// The body inside loop `j` plus loop `j`'s whole boundary wait: the level is last released
    /// at loop `j`'s last boundary, as that boundary starts (a loop of the operand at the
    /// level inside its send waits there for the child, which the last activation released):
    /// `body(j + 1) + wait(j)`.
    SyncWait(usize),
}

/// One refill term of an input or weight chain: `after − slack`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefillTerm {
    /// The transfers from the refilled level down to the array, cycles.
    pub after: f64,
    pub slack: Slack,
}

/// The refill terms of an input or weight chain at a boundary of the loop at step `from` (the
/// transfers of steps `from..`, outer to inner): one per single-buffered level that fires. A
/// refill waits only for that level's last send down, which happened one execution of the
/// sending loop's child before the last activation (a level whose sends feed the array
/// single-buffered is released by the activation itself); a double-buffered transfer waits for
/// nothing but data refilled above it.
pub fn refill_terms(steps: &[StepTiming], from: usize) -> Vec<RefillTerm> {
    let mut out = Vec::new();
    for_each_refill_term(steps, from, |term| out.push(term));
    out
}

/// [`refill_terms`] handed to `f` one by one, in the same order, without allocating: the
/// latency recursion asks for them at every loop of every triple it prices.
pub fn for_each_refill_term(steps: &[StepTiming], from: usize, mut f: impl FnMut(RefillTerm)) {
    let fired = |after: usize| (after..steps.len()).filter(|&j| steps[j].cycles > 0.0);
    for k in fired(from) {
        // A level sending into a double-buffered child never waits for it: the refills above
        // it wait only for its sends, not for the activations. They belong to that stream
        // (`stream_extra`), not to any boundary's chain.
        if steps[k].double || fired(k + 1).any(|j| steps[j].double) {
            continue;
        }
        let after: f64 = fired(k).map(|l| steps[l].cycles).sum();
        let slack = match fired(k + 1).next().map(|j| (j, &steps[j])) {
            None => Slack::None,
            Some((_, next)) if next.to_compute => Slack::None,
            // Every loop of the operand at the level waits, at each of its iterations, for the
            // child to be free, and the level is busy until then: with such a loop inside the
            // send, the level is released at that loop's last boundary (the innermost one
            // repeating), as the activation before it ends.
            Some((jn, _)) if synced_inside(steps, jn).is_some() => {
                let m = synced_inside(steps, jn).expect("just checked");
                Slack::SyncWait((steps[m].position - 1) / 2)
            }
            // Its last send opens the last iteration of `next`; when another operand decides
            // that boundary, the send happens early in it.
            Some((_, next)) if next.factor > 1 => Slack::BodyWait((next.position - 1) / 2),
            Some((_, next)) => Slack::Body(next.position.div_ceil(2)),
        };
        f(RefillTerm { after, slack });
    }
}

/// The part of the output chain at `position` inside it: every output transfer below is
/// written back and read again.
pub fn output_inner(steps: &[StepTiming], position: usize) -> f64 {
    steps
        .iter()
        .filter(|s| s.position > position)
        .map(|s| 2.0 * s.cycles)
        .sum()
}

/// The output stream's tail: how long the port of the double-buffered output stream at
/// `position` stays busy after the last activation of an execution of its loop, beyond the
/// output transfers below it, so that its flush, and what the next boundary outside waits for
/// after it, starts that much later. `inner` is the body inside the stream's loop and
/// `last_wait` the wait of the loop's last boundary (its first wait when the loop has two
/// iterations). 0 when no step streams outputs there, the loop has one iteration, or the
/// child waits for each write-back ([`StepTiming::own_chain`]: then the last tile's work
/// follows it).
///
/// The previous tile's write-back starts when the last tile's read has ended and the child is
/// done with the previous tile, and the flush follows it; a write-back longer than the last
/// tile's work, `inner + below` (`below`: the output transfers below the stream,
/// [`output_inner`]), delays the flush. At the last boundary the stream's own read ends
/// `own = r·c − inner` after the previous tile's last activation, `r = 1` when it is the
/// loop's second read (read right after the first), `r = 2` otherwise (the port decides: a
/// write-back and a read per tile); what the boundary waits beyond that, another operand or an
/// inner stream decides, and the last tile's work starts that much after the write-back. So
/// the tail is `max(0, c − inner − below − (last_wait − own))`, and the recursion's waits never
/// fall below `own` (a double-buffered output's first wait is at least `c − inner`, its wait at
/// least its deficit `2·c − inner`): `max(0, k − 2·inner − last_wait)` with the constant
/// [`output_tail_constant`] `k = (1 + r)·c − below`, which is how the MILP states it.
pub fn output_tail(steps: &[StepTiming], position: usize, inner: f64, last_wait: f64) -> f64 {
    output_tail_constant(steps, position).map_or(0.0, |k| (k - 2.0 * inner - last_wait).max(0.0))
}

/// The constant `k = (1 + r)·c − below` of the tail of the output stream at `position`
/// ([`output_tail`]); `None` when it has none.
pub fn output_tail_constant(steps: &[StepTiming], position: usize) -> Option<f64> {
    let s = steps.iter().find(|s| {
        s.position == position && s.double && s.cycles > 0.0 && s.factor > 1 && s.own_chain == 0.0
    })?;
    let reads = if s.factor > 2 { 2.0 } else { 1.0 };
    Some((1.0 + reads) * s.cycles - output_inner(steps, position))
}

/// What the output stream at `position` gains by reading ahead: the first boundary of an
/// execution of its loop waits for the stream's second read (it is read right after the
/// first, `c − inner` after the first tile's work), unless the port read it while a boundary
/// outside stalled the activations for an input or a weight. Then that boundary waits only
/// for `rest` (the chains and the inner streams; [`output_tail`] for `inner`), and the
/// execution is up to `max(0, c − inner − rest)` shorter, at most by how long the boundary
/// outside stalled beyond what the outputs wait for there. `None` when the stream has no
/// such first boundary (one iteration, or the child waits for each write-back).
pub fn output_read_ahead(
    steps: &[StepTiming],
    position: usize,
    inner: f64,
    rest: f64,
) -> Option<f64> {
    output_tail_constant(steps, position)?;
    let s = steps.iter().find(|s| s.position == position && s.double)?;
    Some((s.cycles - inner - rest).max(0.0))
}

/// How long the activations may stall at a boundary of a loop outside the double-buffered
/// output stream at step `j` before the stream's port sits idle; `None` when the stream's loop
/// has a single iteration or step `j` streams no output. `inner` is the body inside the
/// stream's loop (first to last activation of one tile), so one tile's work, with the output
/// transfers below the stream (`below`: [`output_inner`]) read before it and written back
/// after it, takes `b = inner + below`.
///
/// Between two executions of the stream's loop its port writes the last tile back once that
/// tile's work ends, reads the next execution's first two tiles, and then waits for the first
/// of them to be worked on before it writes it back. With the port busy until the last tile's
/// work (the port decides), that write-back starts at most `max(0, c − b)` after the work ends,
/// so the port is done with both reads `max(c, b) − b + 3·c` after it. The first tile's work
/// ends `wait − below + b` after it (a boundary's wait counts from the last activation to the
/// next, and the operand that stalls it overlaps the output transfers below). The port sits
/// idle for what the wait exceeds the lead returned, `3·c + max(c, b) − 2·b + below`, by.
pub fn output_port_lead(steps: &[StepTiming], j: usize, inner: f64) -> Option<f64> {
    let s = &steps[j];
    if !(s.double && s.cycles > 0.0 && s.factor > 1) {
        return None;
    }
    let c = s.cycles;
    let below = output_inner(steps, s.position);
    let b = inner + below;
    Some(3.0 * c + c.max(b) - 2.0 * b + below)
}

/// The largest [`output_port_lead`] of the output stream at `position` over every body inside
/// its loop, `3·c + max(c, below) − below` (the lead falls as the body grows): what the MILP
/// states, the body being a variable there; `None` when no step streams outputs there with
/// more than one iteration.
pub fn output_port_lead_bound(steps: &[StepTiming], position: usize) -> Option<f64> {
    steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.position == position)
        .filter_map(|(j, _)| output_port_lead(steps, j, 0.0))
        .reduce(f64::max)
}

/// The innermost loop with more than one iteration among the steps of the operand at the level
/// of step `send` that lie inside it, when that level sends single-buffered (into a level, not
/// the array); `None` when there is none.
fn synced_inside(steps: &[StepTiming], send: usize) -> Option<usize> {
    let level = steps[send].level;
    (send + 1..steps.len())
        .take_while(|&j| steps[j].level == level)
        .filter(|&j| steps[j].factor > 1)
        .last()
}

/// The output chain at a boundary of the loop at `position` (a loop's, `2i + 1`): the partial
/// sum is written back and the next read at every loop inside, and at this loop what its own
/// transfers expose ([`StepTiming::own_chain`]: both unless the child double-buffers).
pub fn output_chain(steps: &[StepTiming], position: usize) -> f64 {
    let inner = output_inner(steps, position);
    let own: f64 = steps
        .iter()
        .filter(|s| s.position == position)
        .map(|s| s.own_chain)
        .sum();
    inner + own
}

/// The loops (by index, outer to inner) whose boundaries an input or weight stream sending at
/// `position` delivers across: its own when it sits at a loop, and every loop outside it.
pub fn loops_outside(position: usize) -> std::ops::Range<usize> {
    0..position.div_ceil(2)
}

/// How far an input or weight stream falls behind the activations at most, cycles: the
/// largest, over its tiles, of the time it needs to deliver them minus the time the nest
/// takes to consume them without it. A stream sends one tile per iteration of its loop, each
/// in `cycles`, back to back from its start, and refills the level it sends from in between
/// (`extra` at a boundary, [`stream_extra`]); the nest consumes one in `inner` (the body
/// inside the stream's loop) plus, between two tiles, the wait of the boundary crossed
/// (`gaps`: per loop outer to inner, at and outside the stream's, its trip count, boundary
/// wait and the stream's extra cycles there). Outer
/// boundaries give a stream time to get ahead, which it keeps (it runs ahead without bound),
/// so what counts is the largest running sum: over one execution of loop `k`,
/// `S_k = F_k·S_{k+1} + (F_k − 1)·d_k` and `P_k = P_{k+1} + max(0, (F_k − 1)·(S_{k+1} + d_k))`,
/// with `d_k = cycles + extra_k − inner − wait_k`; the answer is `P_0`. The MILP states the same
/// recursion with one pair of variables per loop.
pub fn stream_lag(cycles: f64, inner: f64, gaps: &[(f64, f64, f64)]) -> f64 {
    let (mut sum, mut prefix) = (0.0f64, 0.0f64);
    for &(f, wait, extra) in gaps.iter().rev() {
        if f > 1.0 {
            let d = cycles + extra - inner - wait;
            prefix += ((f - 1.0) * (sum + d)).max(0.0);
            sum = f * sum + (f - 1.0) * d;
        }
    }
    prefix
}

/// The cycles the input or weight stream at `position` spends refilling the level it sends
/// from when the nest crosses a boundary of loop `k`: the single-buffered transfers directly
/// above it (up to a double-buffered one, a stream of its own) that sit at loop `k` or inside
/// it. They wait only for the stream's sends, so they add to its time, not to any boundary's
/// chain ([`refill_terms`]).
pub fn stream_extra(steps: &[StepTiming], position: usize, k: usize) -> f64 {
    let Some(stream) = steps
        .iter()
        .position(|s| s.position == position && s.double && s.cycles > 0.0)
    else {
        return 0.0;
    };
    steps[..stream]
        .iter()
        .rev()
        .filter(|s| s.cycles > 0.0)
        .take_while(|s| !s.double)
        .filter(|s| s.position > 2 * k)
        .map(|s| s.cycles)
        .sum()
}

/// The cycles a double-buffered stream of `o` at `position` spends on its port per iteration
/// (the largest when several steps share the position; 0 when none streams there).
pub fn stream_cycles(steps: &[StepTiming], o: Operand, position: usize) -> f64 {
    steps
        .iter()
        .filter(|s| s.position == position && s.double)
        .map(|s| s.stream_cycles(o))
        .fold(0.0, f64::max)
}

/// One nest's operand views, step for step, from views each built on a nest of its own (the
/// optimiser's profiles: one operand placed, the others outermost), with the factor of every
/// step: what [`crate::latency_of`] prices a placement triple from without building its nest.
///
/// Each operand's view of a nest depends on its own levels and double buffering alone: its
/// reuse anchors are placed by its own storage blocks, and another operand's anchor moves none
/// of its tiles. So the triple's nest has the mapping loops (the same in every view) and, just
/// outside each loop, every operand's own anchors there (other operands' anchors in a view
/// belong to the placements it was built with, and are dropped). In an operand's merged view
/// another operand's anchor is a step of one trip that moves nothing, at the level of the step
/// after it, as the cost model's nest has it. Anchors at one position are ordered inputs,
/// weights, outputs; the latency does not depend on their order (they have one trip and only
/// the operand owning one transfers at it). `crates/optimiser/tests/exhaustive.rs` checks the
/// latency of merged views against the cost model's on every triple of small skeletons.
pub fn merge(views: [&OperandTiming; 3]) -> (Vec<u64>, [OperandTiming; 3]) {
    // (position, owner: 0..3 an operand's anchor, 3 a loop, the view, its index there).
    let mut order: Vec<(usize, usize, usize, usize)> = Vec::new();
    for (v, view) in views.iter().enumerate() {
        let o = Operand::ALL[v];
        for (k, s) in view.steps.iter().enumerate() {
            match s.anchor_for {
                None if v == 0 => order.push((s.position, 3, v, k)),
                Some(a) if a == o => order.push((s.position, v, v, k)),
                _ => {}
            }
        }
    }
    // Stable: an operand's anchors at one position keep their order.
    order.sort_by_key(|e| (e.0, e.1));
    let factors: Vec<u64> = order
        .iter()
        .map(|&(_, _, v, k)| views[v].steps[k].factor)
        .collect();
    let merged = Operand::ALL.map(|o| {
        let view = views[o.index()];
        // The view's loop steps by position, and where each of its own steps lands.
        let mut at = vec![usize::MAX; view.steps.len()];
        let mut loops = view
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.anchor_for.is_none());
        let mut steps: Vec<Option<StepTiming>> = Vec::with_capacity(order.len());
        for (m, &(position, owner, v, k)) in order.iter().enumerate() {
            let own = if owner == 3 {
                let (k, s) = loops
                    .find(|(_, s)| s.position == position)
                    .expect("every view has every mapping loop");
                Some((k, *s))
            } else if v == o.index() {
                Some((k, view.steps[k]))
            } else {
                None
            };
            if let Some((k, _)) = own {
                at[k] = m;
            }
            steps.push(own.map(|(_, s)| s));
        }
        // Another operand's anchor: one trip, nothing moved, at the next step's level.
        let mut out: Vec<StepTiming> = Vec::with_capacity(steps.len());
        let mut next_level = view.steps.last().map_or(0, |s| s.level);
        for (m, s) in steps.iter().enumerate().rev() {
            let s = s.unwrap_or_else(|| StepTiming {
                position: order[m].0,
                factor: 1,
                cycles: 0.0,
                double: false,
                to_compute: false,
                level: next_level,
                own_chain: 0.0,
                anchor_for: Some(Operand::ALL[order[m].1]),
            });
            next_level = s.level;
            out.push(s);
        }
        out.reverse();
        OperandTiming {
            steps: out,
            boot: view.boot,
            fill: view.fill,
            ports: view
                .ports
                .iter()
                .map(|p| Port {
                    step: at[p.step],
                    ..*p
                })
                .collect(),
        }
    });
    (factors, merged)
}
