//! The fast path: the same timer semantics as [`crate::walk`], but a loop stops iterating as
//! soon as one iteration provably repeats until its end, and the remaining iterations are
//! added at once. Exact, never approximate; see the crate documentation for the argument.
//!
//! Only the timers and the mismatch stall depend on the timing state. Every other counter
//! (transfers, bits, activations, mode-switch and write-back cycles) is a fixed amount per
//! loop iteration, so [`counted`] computes those directly from the trip counts.

use crate::prepare::{Move, Program};
use crate::walk::Counters;

/// Per coordinate, a mask of coordinates (`1 << coord`).
type Masks = Vec<u128>;

fn bits(mut m: u128) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if m == 0 {
            return None;
        }
        let b = m.trailing_zeros() as usize;
        m &= m - 1;
        Some(b)
    })
}

/// The value-dependent facts recorded while executing a stretch of the nest: which
/// argument decided each `max`.
#[derive(Clone, Debug)]
struct Facts {
    /// `eqs[x]` has `a` when some update of `x` took its value from `a` alone (`a` was the
    /// only maximum, and `x` itself was not one).
    eqs: Masks,
    /// `(x, winners)`: an update of `x` whose maximum was reached by several arguments, `x`
    /// not among them.
    sets: Vec<(usize, u128)>,
}

impl Facts {
    fn new(coords: usize) -> Self {
        Facts {
            eqs: vec![0; coords],
            sets: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.eqs.fill(0);
        self.sets.clear();
    }

    fn add_set(&mut self, x: usize, winners: u128) {
        if winners.count_ones() == 1 {
            self.eqs[x] |= winners;
        } else if !self.sets.contains(&(x, winners)) {
            self.sets.push((x, winners));
        }
    }

    fn merge(&mut self, other: &Facts) {
        for (a, b) in self.eqs.iter_mut().zip(&other.eqs) {
            *a |= *b;
        }
        for &(x, w) in &other.sets {
            self.add_set(x, w);
        }
    }

    /// The facts of the iterations skipped after `other` repeated with shifts `delta`: a
    /// tied maximum stays a maximum only if it advances with the updated coordinate.
    fn merge_skipped(&mut self, other: &Facts, delta: &[u64]) {
        for &(x, w) in &other.sets {
            let kept = bits(w)
                .filter(|&a| delta[a] == delta[x])
                .fold(0u128, |m, a| m | 1 << a);
            self.add_set(x, kept);
        }
    }
}

pub(crate) struct Fast<'a> {
    prog: &'a Program,
    pub timer: Vec<u64>,
    pub mismatch_ticks: u64,
    /// Iterations skipped by extrapolation (for tests and curiosity).
    pub skipped: u64,
    /// Activations executed one by one.
    pub executed: u64,
    /// Per loop `i` (and `n` = the activation), over one iteration of loop `i` and everything
    /// it runs: `reads[x]` has `a` when some update of `x` reads `a`; `assigns[x]` has `a`
    /// when some update sets `x` to `a` unconditionally.
    reads: Vec<Masks>,
    assigns: Vec<Masks>,
    /// `facts[0]` collects everything; `facts[i + 1]` one observed iteration of loop `i`.
    facts: Vec<Facts>,
    open: usize,
    snaps: Vec<Vec<u64>>,
    delta: Vec<u64>,
}

/// Largest number of timer coordinates the fast path can track (`u128` masks).
pub(crate) const MAX_COORDS: usize = 128;

impl<'a> Fast<'a> {
    pub fn new(prog: &'a Program, timer: Vec<u64>) -> Self {
        assert!(prog.coords <= MAX_COORDS);
        let n = prog.loops.len();
        let c = prog.coords;
        let bit = |a: usize| 1u128 << a;
        let mut reads = vec![vec![0u128; c]; n + 1];
        let mut assigns = vec![vec![0u128; c]; n + 1];
        let mac = prog.levels * 3;
        for o in 0..3 {
            for q in 0..3 {
                if q != o {
                    reads[n][mac + o] |= bit(mac + q);
                }
            }
            if let Some(u) = prog.leaf_sync[o] {
                reads[n][u] |= bit(mac + o);
                assigns[n][u] |= bit(mac + o);
            }
        }
        for i in (0..n).rev() {
            let (r, a) = (reads[i + 1].clone(), assigns[i + 1].clone());
            reads[i] = r;
            assigns[i] = a;
            let lp = &prog.loops[i];
            for (o, s) in lp.step.iter().enumerate() {
                // Pre-read: double `nxt = max(nxt, cur)`; single `cur = max(cur, nxt) + c`
                // then `nxt = cur`.
                reads[i][s.nxt] |= bit(s.cur);
                if !s.double {
                    reads[i][s.cur] |= bit(s.nxt);
                    assigns[i][s.nxt] |= bit(s.cur);
                }
                // Output write-back: double `cur = max(cur, nxt) + c`; single
                // `nxt = max(cur, nxt) + c` then `cur = nxt`.
                if o == 2 && (!s.double || s.cons > 0) {
                    reads[i][s.cur] |= bit(s.nxt);
                    if !s.double {
                        assigns[i][s.cur] |= bit(s.nxt);
                    }
                }
            }
        }
        Fast {
            prog,
            timer,
            mismatch_ticks: 0,
            skipped: 0,
            executed: 0,
            reads,
            assigns,
            facts: vec![Facts::new(c); n + 1],
            open: 0,
            snaps: vec![vec![0; c]; n],
            delta: vec![0; c],
        }
    }

    fn won(&mut self, x: usize, a: usize) {
        self.facts[self.open].eqs[x] |= 1u128 << a;
    }

    fn pre_read(&mut self, s: &Move) {
        if s.double {
            self.timer[s.cur] += s.ticks;
            let (c, n) = (self.timer[s.cur], self.timer[s.nxt]);
            if c > n {
                self.mismatch_ticks += c - n;
                self.timer[s.nxt] = c;
                self.won(s.nxt, s.cur);
            }
        } else {
            let (c, n) = (self.timer[s.cur], self.timer[s.nxt]);
            if n > c {
                self.won(s.cur, s.nxt);
            }
            let v = c.max(n) + s.ticks;
            self.timer[s.cur] = v;
            self.timer[s.nxt] = v;
        }
    }

    fn write_back_double(&mut self, s: &Move) {
        let (c, n) = (self.timer[s.cur], self.timer[s.nxt]);
        if n > c {
            self.won(s.cur, s.nxt);
        }
        self.timer[s.cur] = c.max(n) + s.ticks;
    }

    fn write_back_single(&mut self, s: &Move) {
        let (c, n) = (self.timer[s.cur], self.timer[s.nxt]);
        if c > n {
            self.won(s.nxt, s.cur);
        }
        let v = c.max(n) + s.ticks;
        self.timer[s.nxt] = v;
        self.timer[s.cur] = v;
    }

    fn activation(&mut self) {
        self.executed += 1;
        let prog = self.prog;
        let mac = prog.levels * 3;
        let v = [self.timer[mac], self.timer[mac + 1], self.timer[mac + 2]];
        let ready = v[0].max(v[1]).max(v[2]);
        let winners = (0..3)
            .filter(|&o| v[o] == ready)
            .fold(0u128, |m, o| m | 1 << (mac + o));
        for o in 0..3 {
            if winners & (1 << (mac + o)) == 0 {
                self.facts[self.open].add_set(mac + o, winners);
            }
            self.timer[mac + o] = ready + prog.t_mac * prog.den;
        }
        for o in 0..3 {
            if let Some(u) = prog.leaf_sync[o] {
                self.timer[u] = self.timer[mac + o];
            }
        }
    }

    fn iteration(&mut self, i: usize, later: bool) {
        let lp = &self.prog.loops[i];
        for s in &lp.step {
            self.pre_read(s);
        }
        let out = lp.step[2];
        if later && out.cons > 0 && out.double {
            self.write_back_double(&out);
        }
        self.run(i + 1);
        if !out.double {
            self.write_back_single(&out);
        }
    }

    /// Whether the iteration just observed (from `snaps[i]` to now, facts in `facts[i + 1]`)
    /// repeats unchanged, shifted by `delta`, in every later iteration.
    fn repeats(&mut self, i: usize) -> bool {
        let snap = &self.snaps[i];
        for (d, (now, before)) in self.delta.iter_mut().zip(self.timer.iter().zip(snap)) {
            *d = now - before;
        }
        let d = &self.delta;
        let facts = &self.facts[i + 1];
        for x in 0..self.prog.coords {
            if bits(self.reads[i][x]).any(|a| d[a] > d[x]) {
                return false;
            }
            if bits(self.assigns[i][x] | facts.eqs[x]).any(|a| d[a] != d[x]) {
                return false;
            }
        }
        facts
            .sets
            .iter()
            .all(|&(x, w)| bits(w).any(|a| d[a] == d[x]))
    }

    pub fn run(&mut self, i: usize) {
        let prog = self.prog;
        if i == prog.loops.len() {
            self.activation();
            return;
        }
        let n = prog.loops[i].factor;
        if n > 0 {
            self.iteration(i, false);
        }
        let mut k = 1;
        while k < n {
            if k + 1 == n {
                self.iteration(i, true);
                break;
            }
            let parent = self.open;
            self.snaps[i].copy_from_slice(&self.timer);
            let mismatch_before = self.mismatch_ticks;
            self.facts[i + 1].clear();
            self.open = i + 1;
            self.iteration(i, true);
            self.open = parent;
            let repeats = self.repeats(i);
            let (outer, inner) = self.facts.split_at_mut(i + 1);
            outer[parent].merge(&inner[0]);
            if repeats {
                let rest = n - 1 - k;
                self.skipped += rest;
                for (t, d) in self.timer.iter_mut().zip(&self.delta) {
                    *t += rest * d;
                }
                self.mismatch_ticks += rest * (self.mismatch_ticks - mismatch_before);
                outer[parent].merge_skipped(&inner[0], &self.delta);
                break;
            }
            k += 1;
        }
        let out = prog.loops[i].step[2];
        if n > 0 && out.cons > 0 && out.double {
            self.write_back_double(&out);
        }
    }
}

/// The state-independent counters of a whole run, from the trip counts: loop `i`'s body runs
/// `Π_{j ≤ i} F_j` times; each run pre-reads every operand once and writes the output back
/// once (single-buffered: after the child; double-buffered: `F_i − 1` delayed write-backs
/// plus the flush, per entry of the loop, when the loop moves outputs at all).
pub(crate) fn counted(prog: &Program) -> Counters {
    let mut c = Counters {
        bits: vec![0; prog.counters()],
        ..Counters::default()
    };
    let mut runs: u64 = 1;
    for lp in &prog.loops {
        runs *= lp.factor;
        for (o, s) in lp.step.iter().enumerate() {
            c.transfer[o] += runs * s.cons;
            if !s.double {
                c.mode_switch += runs * s.cons;
            }
        }
        let out = lp.step[2];
        let write_backs = if out.double && out.cons == 0 { 0 } else { runs };
        c.transfer[2] += write_backs * out.cons;
        c.writeback += write_backs * out.cons;
        for &(s, b) in &lp.pre_bits {
            c.bits[s] += runs * b;
        }
        for &(s, b) in &lp.wb_bits {
            c.bits[s] += write_backs * b;
        }
    }
    c.activations = runs;
    c
}
