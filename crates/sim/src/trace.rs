//! The timeline of one layer: every transfer, activation and stall the walk executes, with its
//! start and end, for timeline viewers and Gantt charts.
//!
//! [`trace`] runs the plain walk ([`crate::simulate_walk`]) with a recorder attached. Times
//! are the walk's ticks (`den` ticks per cycle, [`Trace::den`]). What is recorded:
//!
//! * **Transfers**, on the port of the level they leave (`from`), per operand: a *fetch* into a
//!   single-buffered child (the whole transfer is a mode-switch stall), a *prefetch* into a
//!   double-buffered child (overlapped, no stall by itself), an output *write-back* (a
//!   write-back stall), the *bootstrap* copy of a whole operand from its home (DRAM, or the
//!   on-chip level the memory plan keeps it in) before the nest and the outputs' *copy-back*
//!   to their home after it (bootstrap stalls). An operand whose outermost loop sits at its
//!   home has neither.
//! * **Mismatch stalls**: a double-buffered child that waited for its next tile, from the time
//!   it was ready to the time the tile arrived, on the child's side.
//! * **Activations** of the MAC arrays, `t_MAC` cycles each.
//!
//! The durations of the stall events of each cause add up to the walk's stall counters, so
//! for a layer traced in full they are [`SimReport::stalls`] exactly.
//!
//! A layer with more activations than asked for is recorded up to the end of its `N`-th
//! activation (in execution order) and its walk stops there; [`Trace::rest`] then says what
//! was not recorded (per track, the transfers' count and cycles from the trip counts; per
//! stall cause, the cycles; the activations), and [`Trace::report`] is the whole layer's
//! simulation ([`crate::simulate`]).

use crate::prepare::{Move, Program};
use crate::{SimError, SimReport};
use cimopt_ir::{Mapping, Workload};
use cimopt_target::{Operand, Target};

/// A stall cause ([`crate::Stalls`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    ModeSwitch,
    Mismatch,
    WriteBack,
    Bootstrap,
}

impl Cause {
    pub const ALL: [Cause; 4] = [
        Cause::ModeSwitch,
        Cause::Mismatch,
        Cause::WriteBack,
        Cause::Bootstrap,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// `mode_switch`, `mismatch`, `writeback`, `bootstrap` (the names of [`crate::Stalls`]).
    pub fn name(self) -> &'static str {
        match self {
            Cause::ModeSwitch => "mode_switch",
            Cause::Mismatch => "mismatch",
            Cause::WriteBack => "writeback",
            Cause::Bootstrap => "bootstrap",
        }
    }

    /// Words for a person: `mode switch`, `mismatch`, `write-back`, `bootstrap`.
    pub fn label(self) -> &'static str {
        match self {
            Cause::ModeSwitch => "mode switch",
            Cause::Mismatch => "mismatch",
            Cause::WriteBack => "write-back",
            Cause::Bootstrap => "bootstrap",
        }
    }
}

/// What a transfer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Into a single-buffered child: fetch and compute serialise (a mode-switch stall).
    Fetch,
    /// Into a double-buffered child: overlaps the work on the current tile.
    Prefetch,
    /// Outputs back from the child (a write-back stall).
    WriteBack,
    /// The whole operand from its home before the nest (a bootstrap stall).
    Bootstrap,
    /// The whole outputs back to their home after the nest (a bootstrap stall).
    CopyBack,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Fetch => "fetch",
            Role::Prefetch => "prefetch",
            Role::WriteBack => "write-back",
            Role::Bootstrap => "bootstrap",
            Role::CopyBack => "copy-back",
        }
    }

    /// The stall this transfer is, if any (a prefetch is overlapped).
    pub fn stall(self) -> Option<Cause> {
        match self {
            Role::Fetch => Some(Cause::ModeSwitch),
            Role::Prefetch => None,
            Role::WriteBack => Some(Cause::WriteBack),
            Role::Bootstrap | Role::CopyBack => Some(Cause::Bootstrap),
        }
    }
}

/// One recorded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One activation of the MAC arrays.
    Activation,
    /// A tile moved between `from` (the level whose port it occupies: the parent, or the
    /// operand's home for the bootstrap and copy-back) and `to` (the child;
    /// [`Target::compute_level`] is the MAC array). For a write-back or a copy-back the data
    /// goes from `to` up to `from`.
    Transfer {
        operand: Operand,
        from: usize,
        to: usize,
        role: Role,
    },
    /// The double-buffered `level` (the MAC array when it is [`Target::compute_level`]) waited
    /// for its next tile of `operand` from `from`.
    Mismatch {
        operand: Operand,
        level: usize,
        from: usize,
    },
}

impl Kind {
    /// The stall this event is, if any.
    pub fn stall(&self) -> Option<Cause> {
        match self {
            Kind::Activation => None,
            Kind::Transfer { role, .. } => role.stall(),
            Kind::Mismatch { .. } => Some(Cause::Mismatch),
        }
    }
}

/// An event with its start and end, in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub start: u64,
    pub end: u64,
}

/// What a truncated trace did not record of one level's port for one operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackRest {
    pub level: usize,
    pub operand: Operand,
    pub transfers: u64,
    pub ticks: u64,
}

/// What a trace did not record (all zero for a complete trace).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Rest {
    pub activations: u64,
    /// Transfers per (level, operand) port, in level then operand order; only ports with any.
    pub transfers: Vec<TrackRest>,
    /// Stall cycles per [`Cause::index`]: the layer's stalls less the recorded ones.
    pub stall_cycles: [f64; 4],
}

/// The timeline of one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Ticks per cycle.
    pub den: u64,
    /// Cycles of one activation.
    pub t_mac: u64,
    /// The target's level names, outer to inner (the MAC array is index `level_names.len()`).
    pub level_names: Vec<String>,
    /// Recorded events, in the order the walk executed them.
    pub events: Vec<Event>,
    /// Whether every event of the layer was recorded.
    pub complete: bool,
    pub recorded_activations: u64,
    /// What was not recorded.
    pub rest: Rest,
    /// The simulation of the whole layer.
    pub report: SimReport,
}

impl Trace {
    /// Cycles of a tick count.
    pub fn cycles(&self, ticks: u64) -> f64 {
        ticks as f64 / self.den as f64
    }

    /// The recorded stall cycles per [`Cause::index`].
    pub fn recorded_stall_cycles(&self) -> [f64; 4] {
        let mut ticks = [0u64; 4];
        for e in &self.events {
            if let Some(c) = e.kind.stall() {
                ticks[c.index()] += e.end - e.start;
            }
        }
        ticks.map(|t| self.cycles(t))
    }

    /// The end of the last recorded event, in ticks.
    pub fn recorded_end(&self) -> u64 {
        self.events.iter().map(|e| e.end).max().unwrap_or(0)
    }
}

/// The recorder the walk calls when tracing.
pub(crate) struct Recorder {
    events: Vec<Event>,
    /// Stop after this many activations.
    limit: Option<u64>,
    activations: u64,
    levels: usize,
}

impl Recorder {
    fn new(levels: usize, limit: Option<u64>) -> Self {
        Recorder {
            events: Vec::new(),
            limit,
            activations: 0,
            levels,
        }
    }

    /// Whether the walk should stop: the recorder has all the activations it records.
    pub(crate) fn halted(&self) -> bool {
        self.limit.is_some_and(|n| self.activations >= n)
    }

    fn push(&mut self, kind: Kind, start: u64, end: u64) {
        self.events.push(Event { kind, start, end });
    }

    fn operand(coord: usize) -> Operand {
        Operand::ALL[coord % 3]
    }

    /// A pre-read of `o` by move `s`: timers `(cur, nxt)` before and after.
    pub(crate) fn pre_read(&mut self, o: usize, s: &Move, before: (u64, u64), after: (u64, u64)) {
        let operand = Operand::ALL[o];
        let (from, to) = (s.cur / 3, s.nxt / 3);
        if s.double {
            if s.ticks > 0 {
                let role = Role::Prefetch;
                let kind = Kind::Transfer {
                    operand,
                    from,
                    to,
                    role,
                };
                self.push(kind, before.0, after.0);
            }
            if after.1 > before.1 {
                let kind = Kind::Mismatch {
                    operand,
                    level: to,
                    from,
                };
                self.push(kind, before.1, after.1);
            }
        } else if s.ticks > 0 {
            let role = Role::Fetch;
            let kind = Kind::Transfer {
                operand,
                from,
                to,
                role,
            };
            self.push(kind, before.0.max(before.1), after.0);
        }
    }

    /// An output write-back by move `s` from `start` to `end`.
    pub(crate) fn write_back(&mut self, s: &Move, start: u64, end: u64) {
        if s.ticks == 0 {
            return;
        }
        let kind = Kind::Transfer {
            operand: Self::operand(s.cur),
            from: s.cur / 3,
            to: s.nxt / 3,
            role: Role::WriteBack,
        };
        self.push(kind, start, end);
    }

    pub(crate) fn activation(&mut self, start: u64, end: u64) {
        self.push(Kind::Activation, start, end);
        self.activations += 1;
        debug_assert!(self.levels > 0);
    }
}

/// Per (level, operand) port, the transfers a whole run makes and their ticks, from the trip
/// counts (the walk's own rules: a pre-read per iteration per operand, and per iteration an
/// output write-back, double-buffered ones only where the loop moves outputs).
fn port_totals(prog: &Program) -> Vec<[(u64, u64); 3]> {
    let mut totals = vec![[(0u64, 0u64); 3]; prog.levels];
    let mut runs: u64 = 1;
    for lp in &prog.loops {
        runs = runs.saturating_mul(lp.factor);
        for (o, s) in lp.step.iter().enumerate() {
            if s.ticks > 0 {
                let t = &mut totals[s.cur / 3][o];
                t.0 = t.0.saturating_add(runs);
                t.1 = t.1.saturating_add(runs.saturating_mul(s.ticks));
            }
        }
        let out = lp.step[2];
        if out.ticks > 0 {
            let t = &mut totals[out.cur / 3][2];
            t.0 = t.0.saturating_add(runs);
            t.1 = t.1.saturating_add(runs.saturating_mul(out.ticks));
        }
    }
    for (o, &b) in prog.bootstrap_ticks.iter().enumerate() {
        if b > 0 {
            let n = if o == 2 { 2 } else { 1 };
            let home = prog.home[o];
            totals[home][o].0 += n;
            totals[home][o].1 += n * b;
        }
    }
    totals
}

/// Traces one layer: the walk with a recorder, stopped after `max_activations` activations
/// when the layer has more. Refuses what [`cimopt_ir::check()`] rejects, as
/// [`crate::simulate`] does.
pub fn trace(
    t: &Target,
    w: &Workload,
    m: &Mapping,
    max_activations: u64,
) -> Result<Trace, SimError> {
    let prog = super::prepared(t, w, m)?;
    let total: u64 = prog.loops.iter().map(|l| l.factor).product();
    let limit = (total > max_activations).then_some(max_activations);
    let mut rec = Recorder::new(prog.levels, limit);
    for o in Operand::ALL {
        let b = prog.bootstrap_ticks[o.index()];
        if b > 0 {
            let kind = Kind::Transfer {
                operand: o,
                from: prog.home[o.index()],
                to: prog.first_level[o.index()],
                role: Role::Bootstrap,
            };
            rec.push(kind, 0, b);
        }
    }
    let mut walker = crate::walk::Walker::new(&prog, super::start_timers(&prog));
    walker.rec = Some(rec);
    walker.run(0);
    let mut rec = walker.rec.take().expect("attached above");
    let complete = limit.is_none();
    let report = if complete {
        let o = Operand::O.index();
        let b = prog.bootstrap_ticks[o];
        if b > 0 {
            let first = prog.first_level[o];
            let start = walker.timer[first * 3 + o];
            let kind = Kind::Transfer {
                operand: Operand::O,
                from: prog.home[o],
                to: first,
                role: Role::CopyBack,
            };
            rec.push(kind, start, start + b);
        }
        let timer = std::mem::take(&mut walker.timer);
        super::report(t, w, &prog, timer, &walker.c)
    } else {
        super::simulate(t, w, m)?
    };
    let mut trace = Trace {
        den: prog.den,
        t_mac: prog.t_mac,
        level_names: t.levels.iter().map(|l| l.name.clone()).collect(),
        recorded_activations: rec.activations,
        events: rec.events,
        complete,
        rest: Rest::default(),
        report,
    };
    if !complete {
        let mut recorded = vec![[(0u64, 0u64); 3]; prog.levels];
        for e in &trace.events {
            if let Kind::Transfer { operand, from, .. } = e.kind {
                let r = &mut recorded[from][operand.index()];
                r.0 += 1;
                r.1 += e.end - e.start;
            }
        }
        let totals = port_totals(&prog);
        for (level, (tot, rec)) in totals.iter().zip(&recorded).enumerate() {
            for o in Operand::ALL {
                let (n, ticks) = tot[o.index()];
                let (rn, rt) = rec[o.index()];
                if n > rn {
                    trace.rest.transfers.push(TrackRest {
                        level,
                        operand: o,
                        transfers: n - rn,
                        ticks: ticks.saturating_sub(rt),
                    });
                }
            }
        }
        let st = &trace.report.stalls;
        let whole = [st.mode_switch, st.mismatch, st.writeback, st.bootstrap];
        let got = trace.recorded_stall_cycles();
        trace.rest.stall_cycles = [0, 1, 2, 3].map(|i| (whole[i] - got[i]).max(0.0));
        trace.rest.activations = trace.report.activations - trace.recorded_activations;
    }
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cimopt_ir::{OpKind, SpatialFactor, TemporalLoop, WeightKind};
    use cimopt_target::{Axis, Dim};

    fn target() -> Target {
        cimopt_target::load("default", &[]).unwrap().target
    }

    /// The Gemm of the schedule format's example: K 7 at DRAM, P 4 at the buffers, C 2 inside.
    fn layer() -> (Workload, Mapping) {
        let w = Workload {
            op: OpKind::Gemm,
            weight_kind: WeightKind::Constant,
            r: 1,
            s: 1,
            p: 4,
            q: 1,
            c: 64,
            k: 100,
            g: 1,
            b: 1,
            h: 4,
            w: 1,
            stride: [1, 1],
            pad: [0; 4],
            dilation: [1, 1],
            bits: cimopt_ir::Bits::FLOAT,
        };
        let lp = |dim, factor, level| TemporalLoop { dim, factor, level };
        let mut padded = w.extents();
        padded[Dim::K.index()] = 112;
        let m = Mapping {
            spatial: vec![
                SpatialFactor {
                    axis: Axis::Rows,
                    dim: Dim::C,
                    factor: 32,
                },
                SpatialFactor {
                    axis: Axis::Cols,
                    dim: Dim::K,
                    factor: 16,
                },
            ],
            temporal: vec![
                lp(Dim::K, 7, [0, 0, 0]),
                lp(Dim::P, 4, [1, 1, 2]),
                lp(Dim::C, 2, [3, 6, 4]),
            ],
            double_buffer: vec![(1, Operand::W)],
            padded_dims: padded,
            home: [0; 3],
        };
        (w, m)
    }

    /// The stall and activation events add up to the simulation's numbers, per cause.
    fn assert_adds_up(tr: &Trace) {
        let acts: Vec<_> = tr
            .events
            .iter()
            .filter(|e| e.kind == Kind::Activation)
            .collect();
        assert_eq!(acts.len() as u64, tr.report.activations);
        let busy: u64 = acts.iter().map(|e| e.end - e.start).sum();
        assert_eq!(busy, tr.report.compute_cycles * tr.den);
        let st = &tr.report.stalls;
        let got = tr.recorded_stall_cycles();
        let want = [st.mode_switch, st.mismatch, st.writeback, st.bootstrap];
        for c in Cause::ALL {
            assert!(
                (got[c.index()] - want[c.index()]).abs() < 1e-9,
                "{}: {} vs {}",
                c.name(),
                got[c.index()],
                want[c.index()]
            );
        }
        assert!(tr.events.iter().all(|e| e.end >= e.start));
    }

    #[test]
    fn a_full_trace_adds_up_to_the_simulation() {
        let t = target();
        let (w, m) = layer();
        let tr = trace(&t, &w, &m, 1_000).unwrap();
        assert!(tr.complete);
        assert_eq!(tr.report, crate::simulate(&t, &w, &m).unwrap());
        assert_adds_up(&tr);
    }

    /// Inputs and outputs the memory plan keeps in the global buffer: their bootstrap and
    /// copy-back leave the global buffer (none from DRAM), and the trace still adds up.
    #[test]
    fn resident_operands_bootstrap_from_their_home() {
        let t = target();
        let gb = t
            .levels
            .iter()
            .position(|l| l.name == "global_buffer")
            .unwrap();
        let (w, mut m) = layer();
        // Nothing above the home: K's loop moves to the global buffer for I and O.
        m.temporal[0].level = [gb, 0, gb];
        m.home = [gb, 0, gb];
        let tr = trace(&t, &w, &m, 1_000).unwrap();
        assert!(tr.complete);
        assert_eq!(tr.report, crate::simulate(&t, &w, &m).unwrap());
        assert_adds_up(&tr);
        let boot: Vec<(Operand, usize, Role)> = tr
            .events
            .iter()
            .filter_map(|e| match e.kind {
                Kind::Transfer {
                    operand,
                    from,
                    role: role @ (Role::Bootstrap | Role::CopyBack),
                    ..
                } => Some((operand, from, role)),
                _ => None,
            })
            .collect();
        // The outermost loop of I and O sits at their home: nothing to copy in or back.
        assert!(
            boot.iter().all(|b| b.0 == Operand::W && b.1 == 0),
            "{boot:?}"
        );
        // A resident input whose outermost loop sits below its home is copied from the home.
        let ib = t
            .levels
            .iter()
            .position(|l| l.name == "input_buffer")
            .unwrap();
        let (w, mut m) = layer();
        m.temporal[0].level = [ib, 0, 0];
        m.temporal[1].level[0] = ib;
        m.home = [gb, 0, 0];
        let tr = trace(&t, &w, &m, 1_000).unwrap();
        assert_eq!(tr.report, crate::simulate(&t, &w, &m).unwrap());
        assert_adds_up(&tr);
        assert!(tr.events.iter().any(|e| matches!(
            e.kind,
            Kind::Transfer { operand: Operand::I, from, role: Role::Bootstrap, .. } if from == gb
        )));
        assert!(!tr.events.iter().any(|e| matches!(
            e.kind,
            Kind::Transfer {
                operand: Operand::I,
                from: 0,
                ..
            }
        )));
    }

    #[test]
    fn a_truncated_trace_says_what_it_left_out() {
        let t = target();
        let (w, m) = layer();
        let full = trace(&t, &w, &m, u64::MAX).unwrap();
        let part = trace(&t, &w, &m, 10).unwrap();
        assert!(!part.complete);
        assert_eq!(part.recorded_activations, 10);
        assert_eq!(part.rest.activations, full.report.activations - 10);
        assert_eq!(part.report, full.report);
        // The recorded prefix is the full trace's prefix.
        assert_eq!(part.events[..], full.events[..part.events.len()]);
        // Recorded plus rest is the whole, per port.
        let count = |tr: &Trace, level: usize, o: Operand| {
            tr.events
                .iter()
                .filter(|e| {
                    matches!(e.kind, Kind::Transfer { operand, from, .. }
                        if operand == o && from == level)
                })
                .count() as u64
        };
        for r in &part.rest.transfers {
            assert_eq!(
                count(&part, r.level, r.operand) + r.transfers,
                count(&full, r.level, r.operand)
            );
        }
        let got = part.recorded_stall_cycles();
        let whole = full.recorded_stall_cycles();
        for c in Cause::ALL {
            let i = c.index();
            assert!((got[i] + part.rest.stall_cycles[i] - whole[i]).abs() < 1e-9);
        }
    }
}
