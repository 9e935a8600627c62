//! From a checked mapping to the executable program: the reuse-anchor rewrite of the nest, the
//! transfer flags, the tile sizes, and per loop and operand the transfer cost, the buffering
//! mode and the bits each transfer moves.

use cimopt_ir::{Mapping, Workload, analysis};
use cimopt_target::{Axis, Dim, Operand, Target};

/// One loop of the nest as executed: a loop of the mapping, or a factor-1 reuse anchor the
/// rewrite inserted for one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NestLoop {
    pub dim: Dim,
    pub factor: u64,
    pub level: [usize; 3],
    /// `Some(o)`: an anchor; it counts as relevant (and tile-changing) for `o` only.
    pub anchor: Option<Operand>,
}

impl NestLoop {
    fn relevant(&self, o: Operand) -> bool {
        match self.anchor {
            Some(a) => a == o,
            None => self.dim.relevant_to(o),
        }
    }

    fn changes_tile(&self, o: Operand) -> bool {
        match self.anchor {
            Some(a) => a == o,
            None => self.dim.relevant_to(o) && self.factor > 1,
        }
    }
}

/// For each level, the next deeper level holding a loop of `o` (`mac` after the innermost
/// used one); `None` for levels `o` bypasses.
fn next_levels(nest: &[NestLoop], o: Operand, mac: usize) -> Vec<Option<usize>> {
    let mut nxt = vec![None; mac];
    let oi = o.index();
    for (i, l) in nest.iter().enumerate() {
        let here = l.level[oi];
        let deeper = nest[i + 1..]
            .iter()
            .map(|n| n.level[oi])
            .find(|&lv| lv > here);
        nxt[here] = Some(deeper.unwrap_or(mac));
    }
    nxt
}

fn monotone(nest: &[NestLoop], o: Operand) -> bool {
    nest.windows(2)
        .all(|p| p[0].level[o.index()] <= p[1].level[o.index()])
}

/// Maximal runs `(start, end, level)` of loops of `o` at one level whose transfers go to
/// another storage level (not to the MAC array, and not weights at the macro). Empty when
/// the levels of `o` are not monotone.
fn storage_blocks(nest: &[NestLoop], o: Operand, t: &Target) -> Vec<(usize, usize, usize)> {
    if !monotone(nest, o) {
        return Vec::new();
    }
    let mac = t.compute_level();
    let nxt = next_levels(nest, o, mac);
    let mut blocks = Vec::new();
    let mut start = 0;
    for i in 1..=nest.len() {
        if i == nest.len() || nest[i].level[o.index()] != nest[start].level[o.index()] {
            let lv = nest[start].level[o.index()];
            let to_storage = nxt[lv].is_some_and(|n| n < mac);
            if to_storage && !(o == Operand::W && lv == t.macro_level()) {
                blocks.push((start, i - 1, lv));
            }
            start = i;
        }
    }
    blocks
}

/// The reference's reuse-anchor rewrite: while some storage block of some operand has no
/// loop that changes the operand's tile, move the operand's loops between the last
/// tile-changing loop above the block and the block into the block's level, and insert a
/// factor-1 anchor loop for that operand where they started. Tile sizes do not change (the
/// moved loops do not change the tile); only where the transfer fires does.
pub(crate) fn anchor_rewrite(nest: &mut Vec<NestLoop>, t: &Target) -> usize {
    let mut inserted = 0;
    'again: loop {
        for o in Operand::ALL {
            for (s, e, lv) in storage_blocks(nest, o, t) {
                let f = (0..=e).rev().find(|&j| nest[j].changes_tile(o));
                if f.is_some_and(|f| f >= s) {
                    continue;
                }
                let start = f.map_or(0, |f| f + 1);
                for l in &mut nest[start..s] {
                    l.level[o.index()] = lv;
                }
                let mut level = nest[start].level;
                level[o.index()] = lv;
                let dim = if o == Operand::I { Dim::C } else { Dim::K };
                nest.insert(
                    start,
                    NestLoop {
                        dim,
                        factor: 1,
                        level,
                        anchor: Some(o),
                    },
                );
                inserted += 1;
                continue 'again;
            }
        }
        return inserted;
    }
}

/// Whether loop `i` transfers `o`'s tile to the next level, per loop (outer to inner).
pub(crate) fn transfer_flags(nest: &[NestLoop], o: Operand, t: &Target) -> Vec<bool> {
    let n = nest.len();
    let oi = o.index();
    let lv = |i: usize| nest[i].level[oi];
    let nxt = next_levels(nest, o, t.compute_level());
    let mut x = vec![false; n];
    // The last loop of each level run hands its tile down.
    for i in 0..n.saturating_sub(1) {
        x[i] = Some(lv(i + 1)) == nxt[lv(i)];
    }
    x[n - 1] = true;
    // Irrelevant loops at the bottom of a run reuse the tile: the transfer moves up to the
    // innermost relevant loop of the run (or the run's first loop when none is relevant).
    for i in (0..n).rev() {
        if !x[i] {
            continue;
        }
        let mut j = i;
        let fire = loop {
            if lv(j) != lv(i) {
                break j + 1;
            }
            if nest[j].relevant(o) {
                break j;
            }
            x[j] = false;
            if j == 0 {
                break 0;
            }
            j -= 1;
        };
        x[fire] = true;
    }
    // Storage-to-storage runs fire at their innermost tile-changing loop.
    for (s, e, _) in storage_blocks(nest, o, t) {
        for f in &mut x[s..=e] {
            *f = false;
        }
        let fire = (s..=e)
            .rev()
            .find(|&j| nest[j].changes_tile(o))
            .expect("anchored");
        x[fire] = true;
    }
    // Weights at the macro are computed on, never moved.
    if o == Operand::W {
        for (f, l) in x.iter_mut().zip(nest) {
            if l.level[oi] == t.macro_level() {
                *f = false;
            }
        }
    }
    x
}

/// One operand's part of one loop.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Move {
    /// Timer coordinates (`level * 3 + operand`) of the loop's level and of the child level.
    pub cur: usize,
    pub nxt: usize,
    /// Transfer cost in cycles and in ticks.
    pub cons: u64,
    pub ticks: u64,
    /// Whether the child level double-buffers the operand.
    pub double: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct LoopProgram {
    pub factor: u64,
    pub step: [Move; 3],
    /// Bits moved by one pre-read of all operands: `(counter, bits)`, see [`counter`].
    pub pre_bits: Vec<(usize, u64)>,
    /// Bits moved by one output write-back.
    pub wb_bits: Vec<(usize, u64)>,
}

/// The bit counter of reads (`write = false`) or writes at `(level, o)`.
pub(crate) fn counter(level: usize, o: usize, write: bool) -> usize {
    (level * 3 + o) * 2 + write as usize
}

#[derive(Clone, Debug)]
pub(crate) struct Program {
    pub loops: Vec<LoopProgram>,
    /// Number of memory levels; the MAC pseudo-level is `levels`.
    pub levels: usize,
    /// Timer coordinates: `(levels + 1) * 3`.
    pub coords: usize,
    /// One cycle is `den` ticks (the outermost level's bandwidth), so the fractional
    /// bootstrap copies stay integers.
    pub den: u64,
    pub t_mac: u64,
    /// The precisions the layer runs at.
    pub precision: cimopt_target::Precision,
    /// Per operand, the coordinate of its innermost used level when that level is
    /// single-buffered: it waits for every activation.
    pub leaf_sync: [Option<usize>; 3],
    /// Where each operand's tensor lives (its bootstrap copies from there).
    pub home: [usize; 3],
    /// Per operand, bootstrap copy in ticks (0 when its outermost loop sits at its home), and
    /// the level it lands at.
    pub bootstrap_ticks: [u64; 3],
    pub first_level: [usize; 3],
    /// Bits moved by the bootstrap copies.
    pub bootstrap_bits: Vec<(usize, u64)>,
    /// Instances of `(level, o)` used: product of the spatial factors fanned out above it
    /// (0 when the level cannot hold `o`).
    pub instances: Vec<[u64; 3]>,
    /// Spatial factors on the cores axis (cores used).
    pub cores_used: u64,
    /// Number of anchors the rewrite inserted.
    pub anchors: usize,
}

impl Program {
    pub fn counters(&self) -> usize {
        self.levels * 3 * 2
    }
}

fn add_bits(
    v: &mut Vec<(usize, u64)>,
    level: usize,
    o: usize,
    write: bool,
    bits: u64,
    levels: usize,
) {
    if level < levels && bits > 0 {
        v.push((counter(level, o, write), bits));
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    let gcd = |mut x: u64, mut y: u64| {
        while y != 0 {
            (x, y) = (y, x % y);
        }
        x
    };
    a / gcd(a, b) * b
}

/// Builds the program of a mapping `cimopt_ir::check` accepted.
pub(crate) fn program(t: &Target, w: &Workload, m: &Mapping) -> Program {
    let ew = analysis::executed_workload(w, m);
    let psum = analysis::psum_levels(t, m); // on the nest as given, before the rewrite
    let precision = analysis::layer_precision(t, &ew);
    let levels = t.num_levels();
    let mac = t.compute_level();
    let prec = |lv: usize, o: Operand| analysis::precision_at(t, &precision, &psum, lv, o);

    let mut nest: Vec<NestLoop> = m
        .temporal
        .iter()
        .map(|l| NestLoop {
            dim: l.dim,
            factor: l.factor,
            level: l.level,
            anchor: None,
        })
        .collect();
    let anchors = anchor_rewrite(&mut nest, t);

    let mut used = vec![[false; 3]; levels];
    for l in &nest {
        for o in 0..3 {
            used[l.level[o]][o] = true;
        }
    }
    // Elements of `o` over the temporal loops `keep` selects and the spatial factors fanned out
    // at `level` or deeper.
    let elements = |o: Operand, level: usize, strict: bool| -> u64 {
        if !used[level][o.index()] {
            return 0;
        }
        let mut ext = [1u64; 8];
        for l in &nest {
            let lv = l.level[o.index()];
            if (strict && lv > level) || (!strict && lv >= level) {
                ext[l.dim.index()] *= l.factor;
            }
        }
        for f in &m.spatial {
            if t.axis(f.axis).source[o.index()] >= level {
                ext[f.dim.index()] *= f.factor;
            }
        }
        ew.operand_elements(&ext, o)
    };
    let data_size = |o: Operand, level: usize| {
        if level == mac {
            1
        } else {
            elements(o, level, false)
        }
    };
    let tile_size = |o: Operand, level: usize| elements(o, level, true);

    // One cycle is `den` ticks: a multiple of the bandwidth of every level a bootstrap copies
    // from (DRAM, and the home of a tensor the memory plan keeps on chip), so that every
    // copy takes a whole number of ticks.
    let den = Operand::ALL
        .iter()
        .map(|&o| t.levels[m.home_of(o)].read_bw)
        .fold(t.levels[0].read_bw, lcm);
    let flags: Vec<Vec<bool>> = Operand::ALL
        .iter()
        .map(|&o| transfer_flags(&nest, o, t))
        .collect();
    let nxt: Vec<Vec<Option<usize>>> = Operand::ALL
        .iter()
        .map(|&o| next_levels(&nest, o, mac))
        .collect();
    let last_used = Operand::ALL.map(|o| nest.last().expect("non-empty nest").level[o.index()]);
    let first_level = Operand::ALL.map(|o| nest[0].level[o.index()]);

    let mut loops = Vec::with_capacity(nest.len());
    for (i, l) in nest.iter().enumerate() {
        let mut step = [Move::default(); 3];
        let mut pre_bits = Vec::new();
        let mut wb_bits = Vec::new();
        for o in Operand::ALL {
            let oi = o.index();
            let cur = l.level[oi];
            let nx = nxt[oi][cur].expect("used level");
            let fires = flags[oi][i];
            let tile = if fires { tile_size(o, cur) } else { 0 };
            let next_size = if fires { data_size(o, nx) } else { 0 };
            let reg = t.innermost(o);
            let via_reg = cur == last_used[oi] && cur != reg;
            let mut cons = 0;
            if fires {
                cons = (tile * prec(cur, o)).div_ceil(t.levels[cur].read_bw) + via_reg as u64;
                if o == Operand::W && cur == t.macro_level() {
                    cons = 0;
                }
            }
            let double = analysis::double_buffered(t, m, nx, o);
            step[oi] = Move {
                cur: cur * 3 + oi,
                nxt: nx * 3 + oi,
                cons,
                ticks: cons * den,
                double,
            };

            let nx_bits = |size: u64| if nx < levels { size * prec(nx, o) } else { 0 };
            let reg_bits = next_size * prec(reg, o);
            // Pre-read: read the tile here, write it below (through the register when this is
            // the innermost used level and not the register itself).
            add_bits(&mut pre_bits, cur, oi, false, tile * prec(cur, o), levels);
            if via_reg {
                add_bits(&mut pre_bits, reg, oi, true, reg_bits, levels);
                add_bits(&mut pre_bits, reg, oi, false, reg_bits, levels);
            }
            add_bits(&mut pre_bits, nx, oi, true, nx_bits(next_size), levels);
            if o == Operand::O {
                // Write-back: read below, write here.
                add_bits(&mut wb_bits, nx, oi, false, nx_bits(next_size), levels);
                if via_reg {
                    add_bits(&mut wb_bits, reg, oi, true, reg_bits, levels);
                    add_bits(&mut wb_bits, reg, oi, false, reg_bits, levels);
                }
                add_bits(&mut wb_bits, cur, oi, true, tile * prec(cur, o), levels);
            }
        }
        loops.push(LoopProgram {
            factor: l.factor,
            step,
            pre_bits,
            wb_bits,
        });
    }

    let mut leaf_sync = [None; 3];
    let mut bootstrap_ticks = [0; 3];
    let mut bootstrap_bits = Vec::new();
    for o in Operand::ALL {
        let oi = o.index();
        if !analysis::double_buffered(t, m, last_used[oi], o) {
            leaf_sync[oi] = Some(last_used[oi] * 3 + oi);
        }
        let (first, home) = (first_level[oi], m.home_of(o));
        if first != home {
            let bits = ew.operand_size(o) * prec(home, o);
            // bits / bandwidth cycles of `den` ticks each.
            bootstrap_ticks[oi] = bits * (den / t.levels[home].read_bw);
            add_bits(&mut bootstrap_bits, home, oi, false, bits, levels);
            add_bits(
                &mut bootstrap_bits,
                first,
                oi,
                true,
                data_size(o, first) * prec(first, o),
                levels,
            );
        }
    }

    let instances = (0..levels)
        .map(|lv| {
            Operand::ALL.map(|o| {
                if !t.levels[lv].holds.contains(o) {
                    return 0;
                }
                m.spatial
                    .iter()
                    .filter(|f| t.axis(f.axis).source[o.index()] < lv)
                    .map(|f| f.factor)
                    .product()
            })
        })
        .collect();

    Program {
        home: m.home,
        loops,
        levels,
        coords: (levels + 1) * 3,
        den,
        t_mac: t.t_mac_at(&precision),
        precision,
        leaf_sync,
        bootstrap_ticks,
        first_level,
        bootstrap_bits,
        instances,
        cores_used: m.unrolling_on(Axis::Cores),
        anchors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        cimopt_target::load("default", &[]).unwrap().target
    }

    fn lp(dim: Dim, factor: u64, level: [usize; 3]) -> NestLoop {
        NestLoop {
            dim,
            factor,
            level,
            anchor: None,
        }
    }

    #[test]
    fn bottom_irrelevant_loops_reuse_the_tile() {
        let t = target();
        // W at the global buffer then the macro; the loop above the macro run is irrelevant
        // to W (P) below a relevant one (C). Levels: I dram→ireg, O dram→oreg.
        let nest = vec![
            lp(Dim::C, 2, [0, 1, 0]),
            lp(Dim::P, 3, [0, 1, 0]),
            lp(Dim::K, 2, [5, 6, 4]),
        ];
        let x = transfer_flags(&nest, Operand::W, &t);
        // GB run (loops 0..=1) feeds the macro: a storage block; its innermost tile-changing
        // loop is C (loop 0). The macro loop never transfers W.
        assert_eq!(x, vec![true, false, false]);
        let x = transfer_flags(&nest, Operand::O, &t);
        // O: dram run feeds oreg (storage): innermost tile-changing loop is P (loop 1);
        // last run (oreg) fires at its innermost relevant loop K.
        assert_eq!(x, vec![false, true, true]);
    }

    #[test]
    fn anchor_inserted_when_a_storage_run_has_no_tile_change() {
        let t = target();
        // I: dram run [K] (irrelevant) then IB run [C 2], then ireg [P 2].
        // The dram run lacks a tile-changing loop for I: the rewrite inserts an I anchor.
        let mut nest = vec![
            lp(Dim::K, 2, [0, 0, 0]),
            lp(Dim::C, 2, [3, 1, 1]),
            lp(Dim::P, 2, [5, 6, 4]),
        ];
        let n = anchor_rewrite(&mut nest, &t);
        assert!(n >= 1);
        assert_eq!(nest[0].anchor, Some(Operand::I));
        assert_eq!(nest[0].level[0], 0);
        let x = transfer_flags(&nest, Operand::I, &t);
        assert!(x[0]);
        assert!(!x[1]);
    }
}
