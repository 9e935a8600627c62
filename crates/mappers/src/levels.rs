//! Level assignment: given a draft (a skeleton with double-buffer flags and capacity shares),
//! place each operand's loops on its memory levels, innermost level first, as deep as
//! capacity allows.

use cimopt_ir::analysis::{executed_workload, layer_precision, precision_at};
use cimopt_ir::{Mapping, TemporalLoop, Workload};
use cimopt_space::Skeleton;
use cimopt_target::{Operand, Replication, Target};

/// What the heuristic mappers decide besides the level of each loop: a skeleton, the
/// double-buffered levels, and how a shared level's capacity is split between operands.
/// [`assign`] turns it into a mapping.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Draft {
    pub skeleton: Skeleton,
    /// Double-buffered (level, operand) pairs, among those the target allows.
    pub double_buffer: Vec<(usize, Operand)>,
    /// Share of each shared level's capacity each operand may fill, in 1/12ths.
    pub shares: [u64; 3],
}

/// The shares the greedy mapper starts from ([`Draft::shares`]): a third each.
pub const EVEN_SHARES: [u64; 3] = [4, 4, 4];

/// Resident elements of `o` if loops `from..` sit at `level` or deeper.
fn resident(t: &Target, w: &Workload, p: &Draft, o: Operand, level: usize, from: usize) -> u64 {
    let mut e = [1u64; 8];
    for &(d, f) in &p.skeleton.loops[from..] {
        e[d.index()] *= f;
    }
    for s in &p.skeleton.spatial {
        if t.axis(s.axis).source[o.index()] >= level {
            e[s.dim.index()] *= s.factor;
        }
    }
    w.operand_elements(&e, o)
}

/// Builds the mapping: for each operand, walks its levels from the innermost outwards and gives
/// each level the longest suffix of the remaining loops that fits its capacity (its share of a
/// shared level). Output precision is taken as partial-sum precision wherever a reduction loop
/// could sit above, which is conservative, so the result always passes `check`'s capacity test.
pub fn assign(t: &Target, w: &Workload, p: &Draft) -> Mapping {
    let sk = &p.skeleton;
    let n = sk.loops.len();
    let pw = executed_workload(
        w,
        &Mapping {
            spatial: vec![],
            temporal: vec![],
            double_buffer: vec![],
            padded_dims: sk.padded,
            home: sk.home,
        },
    );
    let precision = layer_precision(t, &pw);
    // A shared level that is an operand's home holds that tensor whole: the others share what
    // is left.
    let home_bits = |lv: usize| -> u64 {
        Operand::ALL
            .iter()
            .filter(|&&o| sk.home[o.index()] == lv && lv > 0)
            .map(|&o| pw.operand_size(o) * precision.bits(o, false))
            .sum()
    };
    let mut level_of = vec![sk.home; n];
    for o in Operand::ALL {
        let levels = t.levels_of(o);
        // `bound`: loops at index >= bound are already placed deeper.
        let mut bound = n;
        for &lv in levels.iter().rev() {
            if lv <= sk.home[o.index()] {
                break;
            }
            let level = &t.levels[lv];
            let copies = if p.double_buffer.contains(&(lv, o))
                || (lv == t.macro_level() && o == Operand::W && t.macro_.ping_pong)
            {
                2
            } else {
                1
            };
            let free = level.capacity_bits.saturating_sub(home_bits(lv));
            let budget = match level.replication {
                Replication::Shared if level.holds.len() > 1 => {
                    // In 128 bits: a capacity near the limit times a share does not fit in 64.
                    (u128::from(free) * u128::from(p.shares[o.index()]) / 12) as u64
                }
                _ => free,
            };
            let prec = match o {
                Operand::O => precision.psum.max(precision.output),
                _ => precision_at(t, &precision, &[], lv, o),
            };
            let fits = |from: usize| copies * resident(t, &pw, p, o, lv, from) * prec <= budget;
            let mut start = bound;
            while start > 0 && fits(start - 1) {
                start -= 1;
            }
            if start < bound && fits(start) {
                for l in &mut level_of[start..bound] {
                    l[o.index()] = lv;
                }
                bound = start;
            }
        }
        // Whatever is left stays at the operand's home (DRAM unless the plan says otherwise).
    }
    let temporal = sk
        .loops
        .iter()
        .zip(&level_of)
        .map(|(&(dim, factor), &level)| TemporalLoop { dim, factor, level })
        .collect();
    let mut m = Mapping {
        spatial: sk.spatial.clone(),
        temporal,
        double_buffer: p.double_buffer.clone(),
        padded_dims: sk.padded,
        home: sk.home,
    };
    // A double-buffer flag on a level the operand bypasses means nothing: drop it.
    let used = cimopt_ir::analysis::used_levels(t, &m);
    m.double_buffer.retain(|&(lv, o)| used[lv][o.index()]);
    m.normalise();
    m
}
