//! Operand placements, the part of the search space the MILP and the exhaustive enumerator
//! decide for a skeleton ([`cimopt_space::Skeleton`]): for each operand, the level of each loop
//! and its double-buffer flags.

use cimopt_ir::analysis::{hardware_buffered, resident_bits_of};
use cimopt_ir::{Mapping, TemporalLoop, Workload};
use cimopt_space::Skeleton;
use cimopt_target::{Operand, Target};

/// One operand's placement in a skeleton: the level of each loop (outer to inner, never going
/// outwards) and the levels it double-buffers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    pub levels: Vec<usize>,
    pub double: Vec<usize>,
}

/// The mapping of a skeleton with one placement per operand (`placements[o.index()]`).
pub fn mapping_of(sk: &Skeleton, placements: [&Placement; 3]) -> Mapping {
    let temporal = sk
        .loops
        .iter()
        .enumerate()
        .map(|(i, &(dim, factor))| TemporalLoop {
            dim,
            factor,
            level: Operand::ALL.map(|o| placements[o.index()].levels[i]),
        })
        .collect();
    let mut double_buffer: Vec<(usize, Operand)> = Operand::ALL
        .iter()
        .flat_map(|&o| placements[o.index()].double.iter().map(move |&lv| (lv, o)))
        .collect();
    double_buffer.sort();
    Mapping {
        spatial: sk.spatial.clone(),
        temporal,
        double_buffer,
        padded_dims: sk.padded,
        home: sk.home,
    }
}

/// The placement that keeps every loop of operand `o` at its home (the outermost level it may
/// use: DRAM unless the memory plan keeps it on chip).
pub fn outermost(sk: &Skeleton, o: Operand) -> Placement {
    Placement {
        levels: vec![sk.home[o.index()]; sk.loops.len()],
        double: vec![],
    }
}

/// Every operand at its home: the mapping the other operands take while one is priced.
pub fn all_outermost(sk: &Skeleton) -> [Placement; 3] {
    Operand::ALL.map(|o| outermost(sk, o))
}

/// Levels at which double buffering `o` means something: not DRAM (never a child), not the
/// macro's weight store (fixed by the hardware).
fn double_candidates(t: &Target, o: Operand) -> Vec<usize> {
    t.levels_of(o)
        .into_iter()
        .filter(|&lv| {
            lv != 0 && !(o == Operand::W && lv == t.macro_level()) && t.may_double_buffer(lv, o)
        })
        .collect()
}

/// Every placement of `o` in `sk` whose own resident data fits every level it uses on its own
/// (levels shared with other operands are checked jointly by the caller), with the bits that
/// data takes at each level (`cimopt_ir::analysis::resident_bits_of`). `limit` bounds the
/// count; `None` when the space is larger.
pub fn placements(
    t: &Target,
    w: &Workload,
    sk: &Skeleton,
    o: Operand,
    limit: usize,
) -> Option<Vec<(Placement, Vec<u64>)>> {
    let home = sk.home[o.index()];
    let levels: Vec<usize> = t.levels_of(o).into_iter().filter(|&l| l >= home).collect();
    let db_levels: Vec<usize> = double_candidates(t, o)
        .into_iter()
        .filter(|&l| l > home)
        .collect();
    let n = sk.loops.len();
    let mut out = Vec::new();
    let mut current = vec![0usize; n];
    // Non-decreasing level sequences over the loops, outer to inner.
    fn walk(
        pos: usize,
        min_idx: usize,
        levels: &[usize],
        current: &mut Vec<usize>,
        f: &mut dyn FnMut(&[usize]) -> bool,
    ) -> bool {
        if pos == current.len() {
            return f(current);
        }
        for idx in min_idx..levels.len() {
            current[pos] = levels[idx];
            if !walk(pos + 1, idx, levels, current, f) {
                return false;
            }
        }
        true
    }
    let others = all_outermost(sk);
    let mut overflow = false;
    walk(0, 0, &levels, &mut current, &mut |lv: &[usize]| {
        let used: Vec<usize> = db_levels
            .iter()
            .copied()
            .filter(|d| lv.contains(d))
            .collect();
        // The level sequence's resident bits single-buffered; a double buffer only doubles
        // its own level's (`cimopt_ir::analysis::double_buffered`), so every mask is derived
        // from these instead of being worked out again.
        let single = {
            let p = Placement {
                levels: lv.to_vec(),
                double: Vec::new(),
            };
            let mut ps = [&others[0], &others[1], &others[2]];
            ps[o.index()] = &p;
            resident_bits_of(t, w, &mapping_of(sk, ps), o)
        };
        for mask in 0..(1u32 << used.len()) {
            let p = Placement {
                levels: lv.to_vec(),
                double: (0..used.len())
                    .filter(|b| mask & (1 << b) != 0)
                    .map(|b| used[b])
                    .collect(),
            };
            let mut bits = single.clone();
            for &l in &p.double {
                if !hardware_buffered(t, l, o) {
                    bits[l] *= 2;
                }
            }
            let fits = (1..t.num_levels()).all(|l| {
                let shared = t.levels[l].holds.len() > 1;
                shared || bits[l] <= t.levels[l].capacity_bits
            });
            if fits {
                if out.len() == limit {
                    overflow = true;
                    return false;
                }
                out.push((p, bits));
            }
        }
        true
    });
    (!overflow).then_some(out)
}
