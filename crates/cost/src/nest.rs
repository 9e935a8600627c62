//! The loop nest as data moves through it: which loop moves which operand's tile, from where
//! to where, how big, and how often (domain §4, the reference's loop-nest preprocessing).

use cimopt_ir::analysis::{
    double_buffered, executed_workload, layer_precision, precision_at, psum_levels,
};
use cimopt_ir::{Mapping, Workload};
use cimopt_target::{Axis, Dim, Operand, Precision, Target};

/// A loop of the executed nest: a mapping loop, or a factor-1 "anchor" inserted so that a
/// storage level whose block has no tile-changing loop sends its tile once per change rather
/// than once per iteration of an unrelated loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    pub dim: Dim,
    pub factor: u64,
    pub level: [usize; 3],
    pub anchor_for: Option<Operand>,
}

impl Step {
    fn relevant(&self, o: Operand) -> bool {
        match self.anchor_for {
            Some(a) => a == o,
            None => self.dim.relevant_to(o),
        }
    }
    fn changes_tile(&self, o: Operand) -> bool {
        match self.anchor_for {
            Some(a) => a == o,
            None => self.dim.relevant_to(o) && self.factor > 1,
        }
    }
}

/// What loop `step` does for one operand.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Transfer {
    /// Whether an iteration of this loop moves a tile of the operand to its child level.
    pub fires: bool,
    /// The level the tile comes from (the loop's level for the operand).
    pub from: usize,
    /// The child level (`Target::compute_level()` for the MAC array).
    pub to: usize,
    /// Elements read at `from` per transfer (all fan-out instances together).
    pub tile_elems: u64,
    /// Elements written into one instance of `to` per transfer.
    pub child_elems: u64,
    /// Cycles per transfer: ⌈tile·precision / bandwidth⌉, +1 register rule; 0 when not firing.
    pub cycles: u64,
    /// Whether the transfer overlaps the child's work on its previous tile (see `overlaps`).
    pub double: bool,
    /// Whether the child double-buffers the operand in the simulator's sense: an output's
    /// previous tile is written back after the next one is read, not before. Differs from
    /// [`Transfer::double`] only into the array of a ping-pong macro from a level that holds
    /// one copy.
    pub delayed_writeback: bool,
    /// Whether the tile passes through the operand's register on its way to the MAC array
    /// (the innermost used level is not the register).
    pub via_register: bool,
}

/// The executed nest with everything the cost model needs.
#[derive(Clone, Debug)]
pub struct Nest {
    pub steps: Vec<Step>,
    /// `transfers[step][op]`.
    pub transfers: Vec<[Transfer; 3]>,
    pub workload: Workload,
    /// The precisions the layer runs at.
    pub precision: Precision,
    pub psum: Vec<bool>,
    /// Resident elements per instance, `[level][op]` (0 when bypassed); index
    /// `compute_level()` holds 1.
    pub resident: Vec<[u64; 3]>,
    /// Instances of each level used by each operand, `[level][op]`.
    pub instances: Vec<[u64; 3]>,
    /// The first (outermost) used level of each operand.
    pub first_level: [usize; 3],
    /// Where each operand's tensor lives (`Mapping::home`): its bootstrap copies from there.
    pub home: [usize; 3],
    /// The last (innermost) used level of each operand.
    pub last_level: [usize; 3],
}

fn next_used(steps: &[Step], t: &Target, o: Operand, level: usize) -> usize {
    steps
        .iter()
        .map(|s| s.level[o.index()])
        .filter(|&l| l > level)
        .min()
        .unwrap_or(t.compute_level())
}

/// Storage blocks of `o`: `(start, end, level)` runs whose child is another memory level
/// (weights at the macro excluded).
fn storage_blocks(steps: &[Step], t: &Target, o: Operand) -> Vec<(usize, usize, usize)> {
    let mut blocks = Vec::new();
    let mut s = 0;
    for i in 1..=steps.len() {
        if i == steps.len() || steps[i].level[o.index()] != steps[s].level[o.index()] {
            let lv = steps[s].level[o.index()];
            let storage_child = next_used(steps, t, o, lv) < t.compute_level();
            if storage_child && !(o == Operand::W && lv == t.macro_level()) {
                blocks.push((s, i - 1, lv));
            }
            s = i;
        }
    }
    blocks
}

/// Inserts one reuse anchor where needed; returns whether the nest changed.
fn anchor_once(steps: &mut Vec<Step>, t: &Target) -> bool {
    for o in Operand::ALL {
        for (s, e, lv) in storage_blocks(steps, t, o) {
            let f = (0..=e).rev().find(|&j| steps[j].changes_tile(o));
            if f.is_some_and(|f| f >= s) {
                continue;
            }
            let first_moved = f.map_or(0, |f| f + 1);
            for step in &mut steps[first_moved..s] {
                step.level[o.index()] = lv;
            }
            let mut level = steps[first_moved].level;
            level[o.index()] = lv;
            steps.insert(
                first_moved,
                Step {
                    dim: if o == Operand::I { Dim::C } else { Dim::K },
                    factor: 1,
                    level,
                    anchor_for: Some(o),
                },
            );
            return true;
        }
    }
    false
}

/// Whether a transfer of `o` from `from` into `to` overlaps the work on the child's previous
/// tile: the child double-buffers `o`. Into the MAC array (double-buffered exactly when the
/// macro is ping-pong) the sending level must also double-buffer `o`: a level that holds one
/// copy is released only when the activation that reads it ends (the simulator's leaf sync),
/// so its next send waits for that activation as a single-buffered one does.
fn overlaps(t: &Target, m: &Mapping, from: usize, to: usize, o: Operand) -> bool {
    double_buffered(t, m, to, o) && (to < t.compute_level() || double_buffered(t, m, from, o))
}

impl Nest {
    /// Builds the executed nest of a mapping that `cimopt_ir::check` accepts.
    pub fn new(t: &Target, w: &Workload, m: &Mapping) -> Nest {
        Nest::build(t, w, m, Operand::ALL.map(|_| true))
    }

    /// The nest of [`Nest::new`] with the transfers of operand `o` only: the others' are left
    /// empty (never firing), so only `o`'s energy and timing may be read from it. What a
    /// placement's profile needs, at a third of the transfers' work.
    pub fn of_operand(t: &Target, w: &Workload, m: &Mapping, o: Operand) -> Nest {
        Nest::build(t, w, m, Operand::ALL.map(|x| x == o))
    }

    fn build(t: &Target, w: &Workload, m: &Mapping, wanted: [bool; 3]) -> Nest {
        let workload = executed_workload(w, m);
        let precision = layer_precision(t, &workload);
        let psum = psum_levels(t, m);
        let mut steps: Vec<Step> = m
            .temporal
            .iter()
            .map(|l| Step {
                dim: l.dim,
                factor: l.factor,
                level: l.level,
                anchor_for: None,
            })
            .collect();
        // Each pass inserts one anchor; a nest needs at most one per (operand, level).
        while anchor_once(&mut steps, t) {}

        let nl = t.num_levels();
        let compute = t.compute_level();
        let mut used = vec![[false; 3]; nl + 1];
        for s in &steps {
            for o in Operand::ALL {
                used[s.level[o.index()]][o.index()] = true;
            }
        }
        // The level each one's tiles go down to ([`next_used`]), found once per level rather
        // than once per step and operand.
        let next: Vec<[usize; 3]> = (0..=nl)
            .map(|lv| Operand::ALL.map(|o| next_used(&steps, t, o, lv)))
            .collect();
        let extent_at = |o: Operand, level: usize, strict: bool| -> u64 {
            let mut e = [1u64; 8];
            for s in &steps {
                let l = s.level[o.index()];
                if (strict && l > level) || (!strict && l >= level) {
                    e[s.dim.index()] *= s.factor;
                }
            }
            for f in &m.spatial {
                if t.axis(f.axis).source[o.index()] >= level {
                    e[f.dim.index()] *= f.factor;
                }
            }
            workload.operand_elements(&e, o)
        };
        let mut resident = vec![[0u64; 3]; nl + 1];
        let mut instances = vec![[1u64; 3]; nl + 1];
        for lv in 0..nl {
            for o in Operand::ALL {
                if used[lv][o.index()] {
                    resident[lv][o.index()] = extent_at(o, lv, false);
                }
                instances[lv][o.index()] = m
                    .spatial
                    .iter()
                    .filter(|f| t.axis(f.axis).source[o.index()] < lv)
                    .map(|f| f.factor)
                    .product();
            }
        }
        resident[compute] = [1; 3];
        instances[compute] = [m.unrolling_on(Axis::Cores); 3];

        let first_level = Operand::ALL.map(|o| steps[0].level[o.index()]);
        let last_level = Operand::ALL.map(|o| steps[steps.len() - 1].level[o.index()]);

        let mut fires = vec![[false; 3]; steps.len()];
        for o in Operand::ALL.into_iter().filter(|o| wanted[o.index()]) {
            for (s, e, _) in storage_blocks(&steps, t, o) {
                let f = (s..=e)
                    .rev()
                    .find(|&j| steps[j].changes_tile(o))
                    .expect("anchored");
                fires[f][o.index()] = true;
            }
            // The block feeding the MAC array: the innermost relevant loop, else the block's
            // outermost loop (the reference re-sends the tile every iteration there).
            let last = last_level[o.index()];
            if !(o == Operand::W && last == t.macro_level()) {
                let start = steps
                    .iter()
                    .position(|s| s.level[o.index()] == last)
                    .expect("last level is used");
                let f = (start..steps.len())
                    .rev()
                    .find(|&j| steps[j].relevant(o))
                    .unwrap_or(start);
                fires[f][o.index()] = true;
            }
        }

        let transfers = steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Operand::ALL.map(|o| {
                    if !wanted[o.index()] {
                        return Transfer::default();
                    }
                    let from = s.level[o.index()];
                    let to = next[from][o.index()];
                    let fire = fires[i][o.index()];
                    let via_register = from == last_level[o.index()] && from != t.innermost(o);
                    let tile_elems = if fire { extent_at(o, from, true) } else { 0 };
                    let child_elems = if fire { resident[to][o.index()] } else { 0 };
                    let mut cycles = if fire {
                        (tile_elems * precision_at(t, &precision, &psum, from, o))
                            .div_ceil(t.levels[from].read_bw)
                            + u64::from(via_register)
                    } else {
                        0
                    };
                    if o == Operand::W && from == t.macro_level() {
                        cycles = 0;
                    }
                    Transfer {
                        fires: fire,
                        from,
                        to,
                        tile_elems,
                        child_elems,
                        cycles,
                        double: overlaps(t, m, from, to, o),
                        delayed_writeback: double_buffered(t, m, to, o),
                        via_register,
                    }
                })
            })
            .collect();
        Nest {
            steps,
            transfers,
            workload,
            precision,
            psum,
            resident,
            instances,
            first_level,
            home: m.home,
            last_level,
        }
    }

    /// Iterations of everything outside step `i` (how many times the loop is entered).
    pub fn entries(&self, i: usize) -> u64 {
        self.steps[..i].iter().map(|s| s.factor).product()
    }
}
