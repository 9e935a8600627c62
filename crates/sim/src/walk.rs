//! The plain walk: every iteration of every loop, every activation, every transfer, counted as
//! it happens.

use crate::prepare::{Move, Program};

/// What an execution accumulates besides the timers. Cycle counters are in cycles except
/// `mismatch_ticks`; `bits` is indexed by [`crate::prepare::counter`] (per instance).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub transfer: [u64; 3],
    pub mode_switch: u64,
    pub mismatch_ticks: u64,
    pub writeback: u64,
    pub activations: u64,
    pub bits: Vec<u64>,
}

pub(crate) struct Walker<'a> {
    prog: &'a Program,
    pub timer: Vec<u64>,
    pub c: Counters,
    /// The timeline recorder when tracing ([`crate::trace`]); `None` for a plain walk.
    pub rec: Option<crate::trace::Recorder>,
}

impl<'a> Walker<'a> {
    pub fn new(prog: &'a Program, timer: Vec<u64>) -> Self {
        let c = Counters {
            bits: vec![0; prog.counters()],
            ..Counters::default()
        };
        Walker {
            prog,
            timer,
            c,
            rec: None,
        }
    }

    /// Whether the recorder has seen all the activations it records (never for a plain walk).
    fn halted(&self) -> bool {
        self.rec.as_ref().is_some_and(|r| r.halted())
    }

    fn add_bits(&mut self, bits: &[(usize, u64)]) {
        for &(s, b) in bits {
            self.c.bits[s] += b;
        }
    }

    fn pre_read(&mut self, o: usize, s: &Move) {
        let before = (self.timer[s.cur], self.timer[s.nxt]);
        let t = &mut self.timer;
        if s.double {
            // The child has a free buffer: the transfer starts at once.
            t[s.cur] += s.ticks;
            if t[s.cur] > t[s.nxt] {
                self.c.mismatch_ticks += t[s.cur] - t[s.nxt];
                t[s.nxt] = t[s.cur];
            }
        } else {
            // The child's only buffer is busy until the child is done with it.
            t[s.cur] = t[s.cur].max(t[s.nxt]) + s.ticks;
            t[s.nxt] = t[s.cur];
            self.c.mode_switch += s.cons;
        }
        self.c.transfer[o] += s.cons;
        if let Some(r) = &mut self.rec {
            r.pre_read(o, s, before, (self.timer[s.cur], self.timer[s.nxt]));
        }
    }

    /// Double-buffered output write-back (delayed by one iteration, and the final flush).
    fn write_back_double(&mut self, s: &Move, bits: &[(usize, u64)]) {
        let t = &mut self.timer;
        let start = t[s.cur].max(t[s.nxt]);
        t[s.cur] = start + s.ticks;
        if let Some(r) = &mut self.rec {
            r.write_back(s, start, start + s.ticks);
        }
        self.c.transfer[2] += s.cons;
        self.c.writeback += s.cons;
        self.add_bits(bits);
    }

    /// Single-buffered output write-back, right after the child.
    fn write_back_single(&mut self, s: &Move, bits: &[(usize, u64)]) {
        let t = &mut self.timer;
        let start = t[s.cur].max(t[s.nxt]);
        t[s.nxt] = start + s.ticks;
        if let Some(r) = &mut self.rec {
            r.write_back(s, start, start + s.ticks);
        }
        t[s.cur] = t[s.nxt];
        self.c.transfer[2] += s.cons;
        self.c.writeback += s.cons;
        self.add_bits(bits);
    }

    fn activation(&mut self) {
        let prog = self.prog;
        let mac = prog.levels * 3;
        let t = &mut self.timer;
        let ready = t[mac].max(t[mac + 1]).max(t[mac + 2]);
        for o in 0..3 {
            t[mac + o] = ready + prog.t_mac * prog.den;
        }
        for o in 0..3 {
            if let Some(u) = prog.leaf_sync[o] {
                t[u] = t[mac + o];
            }
        }
        self.c.activations += 1;
        if let Some(r) = &mut self.rec {
            r.activation(ready, ready + prog.t_mac * prog.den);
        }
    }

    pub fn run(&mut self, i: usize) {
        let prog = self.prog;
        if i == prog.loops.len() {
            self.activation();
            return;
        }
        let lp = &prog.loops[i];
        let out = lp.step[2];
        for it in 0..lp.factor {
            if self.halted() {
                return;
            }
            for o in 0..3 {
                self.pre_read(o, &lp.step[o]);
            }
            self.add_bits(&lp.pre_bits);
            if it > 0 && out.cons > 0 && out.double {
                self.write_back_double(&out, &lp.wb_bits);
            }
            self.run(i + 1);
            if self.halted() {
                return;
            }
            if !out.double {
                self.write_back_single(&out, &lp.wb_bits);
            }
        }
        if lp.factor > 0 && out.cons > 0 && out.double {
            self.write_back_double(&out, &lp.wb_bits);
        }
    }
}
