//! The passes over each operand at its home that the first two loops of a nest force, where the
//! operands do not fit below their homes beside each other: a bound on the energy of the
//! nest's outer tiling, deeper than the outermost loop alone ([`super::Outermost`]).
//!
//! Number the nest's loops of more than one trip from the outermost: 1, 2, …. At loop `j` an
//! operand is either still at its home (its level for that loop is the home) or held below it:
//! then its tile under the loops above `j` stays resident at some level below the home, beside
//! the tiles held there with it and the tensors that live there (the capacity check), so the
//! operands held at loop `j` form a set whose tiles fit together. Levels only deepen inward,
//! so an operand at its home for loop `j` was at its home for every loop before, and one held
//! at loop `j` is held at every loop after, with the tile it was first held with.
//!
//! The cost model reads an operand's tile at its home once per iteration of its innermost
//! home loop over a dim the operand depends on, and of every loop above it
//! (`cimopt_cost::nest`: trailing home loops over other dims re-send nothing). So an operand
//! whose last home loop over its own dims is loop `f` is read there `t₁·…·t_f` times, a tile
//! each time no smaller than its extents under those loops: this module's count of its passes.
//! Splitting a loop never lowers `t·tile`, so any operand held earlier than in the mapping, or
//! any loop count of the mapping's reached by fewer loops, counts no more than the mapping.
//!
//! The bound walks the first loop (the outermost case's dim, with at least its trips) and one
//! more. It takes every set held at the first loop, and the greatest sets it grows into at the
//! second beside its whole tiles. After the second loop an operand still at its home either
//! meets a loop over one of its dims there later (its passes count both loops with the tile
//! they leave: forced where that tile fits nowhere below alone) or, where the walk's last loops
//! are over other dims, keeps that tile resident below the home beside the held ones. The
//! least over every such walk holds for every mapping of the case. Each walk also counts the
//! weight loads into the macros its loops over P, Q and B force ([`Walked::weight_loads`]), so
//! that the bounds can pair that latency with the walks' energy (`LoadClass`).

use super::{instance_extents, narrowest_output_bits, pinned_bits, share_bits};
use cimopt_ir::analysis::precision_at;
use cimopt_ir::{SpatialFactor, Workload};
use cimopt_target::{Dim, Operand, Precision, Target};
use std::cell::RefCell;
use std::rc::Rc;

/// A candidate's operands, levels and capacities, worked out once for every walk.
#[derive(Clone)]
struct Nesting<'a> {
    w: &'a Workload,
    /// Per operand, each level below its home that may hold it.
    below: [Vec<Below>; 3],
    /// Per operand, the extents one instance of its home holds.
    home_share: [[u64; 8]; 3],
    /// Per operand, the spatial fan-out below its home per dim, which every tile spans.
    home_fanout: [[u64; 8]; 3],
    /// Per operand, instances of its home.
    home_instances: [f64; 3],
    /// Elements of each operand: one pass at its home.
    size: [f64; 3],
    /// Whether the inputs' tile counts may be read from the window rule: not under dilation,
    /// where splitting the kernel can shrink `trips · tile` below the whole.
    windows: bool,
    /// The levels any operand may be held at, for the joint capacity check: (level, bits left
    /// per instance beside the tensors that live there).
    rooms: Vec<(usize, f64)>,
    /// Weights one macro cell holds (`super::per_cell`): the most weight trips the loops at
    /// the macro can multiply to.
    cells: u64,
    /// The operands the walks hold below their homes (a bit each): all three, or the inputs
    /// and weights beside outputs copied whole.
    all: u8,
    /// The same nesting with the outputs' home (on chip) holding them as partial sums: where
    /// the first loop is a reduction loop at their home, so is the home a partial-sum level
    /// (`psum_levels`), and they take that room there for the whole nest.
    partial_home: Option<Box<Nesting<'a>>>,
}

/// One operand's count in a walk ([`Nesting::walk`]).
#[derive(Clone, Copy, Debug)]
struct Count {
    passes: f64,
    sweeps: f64,
    /// (passes, sweeps) where a loop over the operand's dims follows the walk at its home.
    followed: Option<(f64, f64)>,
}

/// One walk's result: the passes it forces over each operand at its home, and how many times
/// at least it loads every weight into the macros.
#[derive(Clone, Copy, Debug)]
pub(super) struct Walked {
    pub(super) passes: [f64; 3],
    /// The sweeps over the outputs' tiles at their home ([`Nesting::walk`]): each sweep
    /// visits every output tile of the nest, so where the outputs are fed from their home it
    /// multiplies their fewest changes there.
    pub(super) output_sweeps: f64,
    pub(super) weight_loads: f64,
}

#[derive(Clone)]
struct Below {
    /// Index into [`Nesting::rooms`].
    room: usize,
    /// Bits per element: the narrowest it may be held at, and for outputs held as partial
    /// sums, theirs.
    bits: [f64; 2],
    /// The extents one instance of the level holds with no loop above it.
    share: [u64; 8],
    /// The spatial fan-out below the level per dim.
    fanout: [u64; 8],
}

/// The most levels below the homes a candidate's walks weigh: a target with more gets no
/// nested bound (the outermost loop's still holds).
const ROOMS: usize = 8;

/// One loop of a walk: its dim and trips.
type Loop = (Dim, u64);

impl<'a> Nesting<'a> {
    /// With `copy`, the level the outputs are copied into whole (`OutputRoute::Copied`): they
    /// take their share of its room for the whole nest, and are never read again at their
    /// home, so they hold no tile in the walks.
    fn new(
        t: &Target,
        w: &'a Workload,
        p: &Precision,
        s: &[SpatialFactor],
        home: [usize; 3],
        copy: Option<usize>,
    ) -> Nesting<'a> {
        let fanout = |o: Operand, level: usize| {
            let mut f = [1u64; 8];
            for x in s {
                if t.axis(x.axis).source[o.index()] >= level {
                    f[x.dim.index()] = f[x.dim.index()].saturating_mul(x.factor);
                }
            }
            f
        };
        let mut rooms: Vec<(usize, f64)> = Vec::new();
        let below = Operand::ALL.map(|o| {
            t.levels_of(o)
                .into_iter()
                .filter(|&l| l > home[o.index()] && !(o == Operand::O && copy.is_some()))
                .map(|l| {
                    let room = rooms.iter().position(|r| r.0 == l).unwrap_or_else(|| {
                        let copied = if copy == Some(l) {
                            share_bits(t, w, p, s, Operand::O, l)
                        } else {
                            0.0
                        };
                        let left = t.levels[l].capacity_bits as f64
                            - pinned_bits(t, w, p, s, home, l, None)
                            - copied;
                        rooms.push((l, left));
                        rooms.len() - 1
                    });
                    let bits = if o == Operand::O {
                        [narrowest_output_bits(p), p.bits(o, true) as f64]
                    } else {
                        [precision_at(t, p, &[], l, o) as f64; 2]
                    };
                    Below {
                        room,
                        bits,
                        share: instance_extents(t, w, s, o, l),
                        fanout: fanout(o, l),
                    }
                })
                .collect()
        });
        let instances = |o: Operand| {
            s.iter()
                .filter(|f| t.axis(f.axis).source[o.index()] < home[o.index()])
                .map(|f| f.factor as f64)
                .product()
        };
        let mut nesting = Nesting {
            w,
            below,
            home_share: Operand::ALL.map(|o| instance_extents(t, w, s, o, home[o.index()])),
            home_fanout: Operand::ALL.map(|o| fanout(o, home[o.index()])),
            home_instances: Operand::ALL.map(instances),
            size: Operand::ALL.map(|o| w.operand_size(o) as f64),
            windows: w.dilation == [1, 1],
            rooms,
            cells: super::per_cell(t, p),
            all: if copy.is_some() { 0b011 } else { 0b111 },
            partial_home: None,
        };
        // The outputs' home on chip, where it is a room of the walks: the partial sums' extra
        // bits over the narrowest the home is counted at (`pinned_bits`).
        let o_home = home[Operand::O.index()];
        let (narrowest, partial) = (narrowest_output_bits(p), p.bits(Operand::O, true) as f64);
        if copy.is_none()
            && o_home > 0
            && partial > narrowest
            && let Some(at) = nesting.rooms.iter().position(|r| r.0 == o_home)
        {
            let extra =
                share_bits(t, w, p, s, Operand::O, o_home) / narrowest * (partial - narrowest);
            let mut other = nesting.clone();
            other.rooms[at].1 -= extra;
            nesting.partial_home = Some(Box::new(other));
        }
        nesting
    }

    /// Elements of `o`'s tile in a share of extents `share` (fan-out `fanout` below it) under
    /// home loops multiplying to `split` per dim: each dim at least its share over its loops,
    /// and at least the fan-out below, which every tile spans.
    fn tile(&self, o: Operand, share: &[u64; 8], fanout: &[u64; 8], split: &[u64; 8]) -> u64 {
        let mut e = [1u64; 8];
        for d in 0..8 {
            e[d] = share[d]
                .div_ceil(split[d].max(1))
                .max(fanout[d])
                .min(share[d]);
        }
        self.w.operand_elements(&e, o)
    }

    /// Which sets of operands fit below their homes together under home loops `split`: bit `h`
    /// for the set `h` (a bit per operand), when some level for each keeps the tiles at every
    /// level within its room. With `partial`, a reduction loop lies at or above the loop they
    /// are held from, so the outputs' level holds partial sums
    /// (`cimopt_ir::analysis::psum_levels`). Every subset of a set that fits fits, and every set
    /// that fits under some loops fits under more.
    fn family(&self, split: &[u64; 8], partial: bool) -> u8 {
        // Per operand, the levels its tile fits in alone, with its bits there.
        let mut alone = [[(0usize, 0.0f64); ROOMS]; 3];
        let mut count = [0usize; 3];
        for i in 0..3 {
            for b in &self.below[i] {
                let bits = self.tile(Operand::ALL[i], &b.share, &b.fanout, split) as f64
                    * b.bits[usize::from(partial)];
                if bits <= self.rooms[b.room].1 {
                    alone[i][count[i]] = (b.room, bits);
                    count[i] += 1;
                }
            }
        }
        // A level choice per operand, `count[i]` leaving it at its home.
        let mut family = 1u8;
        for a in 0..=count[0] {
            for b in 0..=count[1] {
                for c in 0..=count[2] {
                    let picks = [a, b, c];
                    let held = (0..3)
                        .filter(|&i| picks[i] < count[i])
                        .fold(0u8, |h, i| h | 1 << i);
                    if family & (1 << held) != 0 {
                        continue;
                    }
                    let mut used = [0.0f64; ROOMS];
                    let mut fits = true;
                    for i in 0..3 {
                        if picks[i] < count[i] {
                            let (room, bits) = alone[i][picks[i]];
                            used[room] += bits;
                            fits &= used[room] <= self.rooms[room].1;
                        }
                    }
                    if fits {
                        family |= 1 << held;
                    }
                }
            }
        }
        family
    }

    /// The sets (bitmasks) of operands the walks may hold: bit `h` for the set `h`, each a
    /// subset of [`Nesting::all`].
    fn all_sets(&self) -> u8 {
        (0u8..8)
            .filter(|&h| h & !self.all == 0)
            .fold(0u8, |f, h| f | 1 << h)
    }

    /// The greatest sets that grow `old` (held from the first loop, its whole tiles resident
    /// at `partial_old` width) by operands held from the second, whose tiles under the first
    /// loop (`split`, at `partial` width) fit beside them.
    fn grown(&self, old: u8, split: &[u64; 8], partial_old: bool, partial: bool) -> Vec<u8> {
        let whole = [1u64; 8];
        let fits: Vec<u8> = (0u8..8)
            .filter(|&h| h & old == old && h & !self.all == 0)
            .filter(|&h| {
                let tiles = std::array::from_fn(|i| {
                    if old & (1 << i) != 0 {
                        Some((&whole, partial_old))
                    } else if h & (1 << i) != 0 {
                        Some((split, partial))
                    } else {
                        None
                    }
                });
                self.fit_tiles(tiles)
            })
            .collect();
        fits.iter()
            .copied()
            .filter(|&h| !fits.iter().any(|&g| g != h && g & h == h))
            .collect()
    }

    /// Whether the operands given a tile (under home loops multiplying to its split, at
    /// partial-sum width where flagged) fit below their homes together: some level for each
    /// keeps every level within its room.
    fn fit_tiles(&self, tiles: [Option<(&[u64; 8], bool)>; 3]) -> bool {
        let mut options: [Vec<(usize, f64)>; 3] = Default::default();
        for i in 0..3 {
            let Some((split, partial)) = tiles[i] else {
                continue;
            };
            for b in &self.below[i] {
                let bits = self.tile(Operand::ALL[i], &b.share, &b.fanout, split) as f64
                    * b.bits[usize::from(partial)];
                if bits <= self.rooms[b.room].1 {
                    options[i].push((b.room, bits));
                }
            }
            if options[i].is_empty() {
                return false;
            }
        }
        let pick = |i: usize| -> Vec<Option<(usize, f64)>> {
            if tiles[i].is_none() {
                vec![None]
            } else {
                options[i].iter().copied().map(Some).collect()
            }
        };
        for a in pick(0) {
            for b in pick(1) {
                for c in pick(2) {
                    let mut used = [0.0f64; ROOMS];
                    let fits = [a, b, c].into_iter().flatten().all(|(room, bits)| {
                        used[room] += bits;
                        used[room] <= self.rooms[room].1
                    });
                    if fits {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Whether the set `held` fits below the homes together ([`Nesting::family`]).
    fn fit(&self, held: u8, split: &[u64; 8], partial: bool) -> bool {
        self.family(split, partial) & (1 << held) != 0
    }

    /// The greatest sets of operands whose tiles fit below their homes together.
    fn greatest_held(&self, split: &[u64; 8], partial: bool) -> Vec<u8> {
        let family = self.family(split, partial);
        let fits: Vec<u8> = (0u8..8).filter(|&h| family & (1 << h) != 0).collect();
        fits.iter()
            .copied()
            .filter(|&h| !fits.iter().any(|&g| g != h && g & h == h))
            .collect()
    }

    /// Passes over `o` at its home when its last home loop over its own dims leaves it the
    /// tile of `split`, after loops multiplying to `trips`.
    fn passes(&self, o: Operand, split: &[u64; 8], trips: f64, irrelevant: f64) -> f64 {
        let i = o.index();
        if o == Operand::I && !self.windows {
            return irrelevant;
        }
        let tile = self.tile(o, &self.home_share[i], &self.home_fanout[i], split) as f64;
        (trips * tile * self.home_instances[i] / self.size[i]).max(irrelevant)
    }

    /// Per operand, the passes at its home a walk of `loops` forces, where `held[j]` is the set
    /// held at loop `j`, and `after` is the [`Nesting::family`] under every loop of the walk
    /// where the nest may have more loops below the last.
    /// With each count, the trips of the loops over other dims above the operand's last home
    /// loop over its own (what the count is made of beyond the tiles' padding): the sweeps over
    /// its tiles. And where an operand still at its home after the walk ends it with loops over
    /// other dims that its count leaves out, what it counts if a loop over its dims follows at
    /// the home (else its tile stays resident below the home through them: [`Nesting::walks`]
    /// checks the room).
    fn walk(&self, loops: &[Loop], held: &[u8], after: Option<u8>) -> [Count; 3] {
        Operand::ALL.map(|o| {
            let bit = 1u8 << o.index();
            let mut split = [1u64; 8];
            let mut trips = 1.0;
            let mut irrelevant = 1.0;
            let mut best = 1.0f64;
            let mut sweeps = 1.0f64;
            let mut home_to_end = true;
            for (j, &(d, n)) in loops.iter().enumerate() {
                if held[j] & bit != 0 {
                    home_to_end = false;
                    break;
                }
                split[d.index()] = split[d.index()].saturating_mul(n);
                trips *= n as f64;
                if d.relevant_to(o) {
                    best = self.passes(o, &split, trips, irrelevant);
                    sweeps = irrelevant;
                } else {
                    irrelevant *= n as f64;
                }
            }
            // Still at its home after the walk, and fitting nowhere below it alone: a loop over
            // one of its dims follows there, below every loop of the walk.
            let followed = (
                best.max(self.passes(o, &split, trips, irrelevant)),
                irrelevant,
            );
            if home_to_end && after.is_some_and(|f| f & (1 << bit) == 0) {
                return Count {
                    passes: followed.0,
                    sweeps: followed.1,
                    followed: None,
                };
            }
            Count {
                passes: best,
                sweeps,
                followed: (home_to_end && after.is_some() && irrelevant > sweeps)
                    .then_some(followed),
            }
        })
    }

    /// How many times at least a nest whose first loops are `loops` loads every weight into
    /// the macros, the first loop having at most `widest` trips. A loop over a dim the weights
    /// do not depend on (P, Q, B) that lies above a weight loop above the macros loads every
    /// weight once per trip (`cimopt_cost::nest`: the macros' transfer fires once per iteration
    /// of the weights' innermost loop above them and of every loop above that). Such a weight
    /// loop lies below the walk's loops wherever the weight trips left under them exceed what a
    /// cell holds, since the loops at the macro are the innermost and hold no more. The first
    /// loop counts its least trips; the weight trips it leaves are read at its widest.
    fn weight_loads(&self, loops: &[Loop], widest: u64, trips: &[u64; 8]) -> f64 {
        let cells = self.cells as f64;
        let mut left: f64 = Dim::ALL
            .iter()
            .filter(|d| d.relevant_to(Operand::W))
            .map(|d| trips[d.index()] as f64)
            .product();
        let mut loads = 1.0;
        for (j, &(d, n)) in loops.iter().enumerate() {
            if d.relevant_to(Operand::W) {
                // A later loop's count is only its least (two): any count may follow.
                let most = if j == 0 { widest } else { u64::MAX };
                let own = trips[d.index()] as f64;
                // A count past the dim's trips pads it: one trip of it is left.
                left = left / own * (own / most as f64).ceil().max(1.0);
            } else if left > cells {
                loads *= n as f64;
            }
        }
        loads
    }

    /// Every walk's passes per operand for the mappings whose outermost loop is over `first`
    /// with at least `least` trips (any dim from two trips where `first` is `None`), and the
    /// trips per dim of the candidate (`trips`) bound the second loop's dims. Each entry holds
    /// for the mappings of that walk; the least of any weighted sum over them holds for all.
    fn walks(&self, first: Option<Dim>, least: u64, trips: &[u64; 8]) -> Vec<Walked> {
        let start = [1u64; 8];
        if self.rooms.len() > ROOMS || self.fit(self.all, &start, false) {
            return vec![Walked {
                passes: [1.0; 3],
                output_sweeps: 1.0,
                weight_loads: 1.0,
            }];
        }
        let one = |each: [Count; 3], loads: f64| Walked {
            passes: each.map(|x| x.passes),
            output_sweeps: each[Operand::O.index()].sweeps,
            weight_loads: loads,
        };
        let walked = |loops: &[Loop], widest: u64, held: &[u8], after: Option<u8>| {
            one(
                self.walk(loops, held, after),
                self.weight_loads(loops, widest, trips),
            )
        };
        // Every dim, padded or not: a loop of two trips over a dim of one pads it.
        let firsts: Vec<Dim> = match first {
            Some(d) => vec![d],
            None => Dim::ALL.to_vec(),
        };
        let least = least.max(2);
        let mut out = Vec::new();
        for d1 in firsts {
            let held0 = self.greatest_held(&start, d1.is_reduction());
            // Under a first reduction loop the outputs left at their home make it a
            // partial-sum level: the walks that do not hold them from the first loop have the
            // room left beside their partial sums there.
            let o_bit = 1u8 << Operand::O.index();
            let with_o = (0u8..8)
                .filter(|h| h & o_bit != 0)
                .fold(0u8, |f, h| f | 1 << h);
            let nest_of = |h0: u8| match &self.partial_home {
                Some(other) if d1.is_reduction() && h0 & o_bit == 0 => other.as_ref(),
                _ => self,
            };
            let first_family = (self.family(&start, d1.is_reduction()) & with_o
                | nest_of(0).family(&start, d1.is_reduction()) & !with_o)
                & self.all_sets();
            for (n1, f1) in first_trips(least, trips[d1.index()]) {
                // The families at `f1` trips hold for the first loop's counts up to it, each
                // read with the least count `n1`.
                let mut wide = start;
                wide[d1.index()] = f1;
                let all_fit = self.fit(self.all, &wide, d1.is_reduction());
                if all_fit && self.fit(self.all, &wide, true) {
                    // Every operand fits below its home after the first loop, whatever loops
                    // follow: the second loop holds them all.
                    for &h0 in &held0 {
                        out.push(walked(&[(d1, n1)], f1, &[h0], None));
                    }
                    continue;
                }
                // Each second loop, and the family under both loops.
                let seconds: Vec<(Dim, u8)> = Dim::ALL
                    .into_iter()
                    .map(|d2| {
                        let mut under = wide;
                        under[d2.index()] = under[d2.index()].saturating_mul(2);
                        let partial = d1.is_reduction() || d2.is_reduction();
                        (d2, self.family(&under, partial))
                    })
                    .collect();
                // A nest of one loop: every operand fits below its home after it.
                if all_fit {
                    for &h0 in &held0 {
                        out.push(walked(&[(d1, n1)], f1, &[h0], None));
                    }
                }
                // Held sets only grow, and an operand held from the first loop keeps its whole
                // tile resident: every set held there, with the greatest sets it grows into at
                // the second loop beside it.
                for h0 in (0u8..8).filter(|&h| first_family & (1 << h) != 0) {
                    for &(d2, after) in &seconds {
                        let partial = d1.is_reduction() || d2.is_reduction();
                        let loops = [(d1, n1), (d2, 2)];
                        let loads = self.weight_loads(&loops, f1, trips);
                        // The smallest tiles under both loops: the second's count is open.
                        let mut under = wide;
                        under[d2.index()] = u64::MAX;
                        let nest = nest_of(h0);
                        for h1 in nest.grown(h0, &wide, d1.is_reduction(), partial) {
                            let each = self.walk(&loops, &[h0, h1], Some(after));
                            // An operand whose count leaves out the walk's last loops either
                            // meets a loop over its dims at its home later (its followed count)
                            // or keeps its tile under the walk below the home, beside the held
                            // ones: one walk per choice that fits.
                            let open: u8 = (0..3)
                                .filter(|&i| each[i].followed.is_some())
                                .fold(0, |m, i| m | 1 << i);
                            for resident in (0u8..8).filter(|&r| r & open == r) {
                                let mut counts = each;
                                for (i, c) in counts.iter_mut().enumerate() {
                                    if resident & (1 << i) == 0
                                        && let Some((passes, sweeps)) = c.followed
                                    {
                                        c.passes = passes;
                                        c.sweeps = sweeps;
                                    }
                                }
                                if resident != 0 {
                                    let whole = [1u64; 8];
                                    let tiles = std::array::from_fn(|i| {
                                        if h0 & (1 << i) != 0 {
                                            Some((&whole, d1.is_reduction()))
                                        } else if h1 & (1 << i) != 0 {
                                            Some((&wide, partial))
                                        } else if resident & (1 << i) != 0 {
                                            Some((&under, partial))
                                        } else {
                                            None
                                        }
                                    });
                                    if !nest.fit_tiles(tiles) {
                                        continue;
                                    }
                                }
                                out.push(one(counts, loads));
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// The first loop's trip counts a walk takes, each as (the count its passes are read at, the
/// count its families are read at), covering every count from `least` up: each count that
/// divides the candidate's `trips` exactly, and each run between two of them (and above the
/// last, where a mapping pads the dim) read at its least count with the families of its
/// greatest. Passes only grow with the count and families only widen, so each entry holds for
/// every count it covers.
fn first_trips(least: u64, trips: u64) -> Vec<(u64, u64)> {
    let mut exact: Vec<u64> = (least..=trips)
        .filter(|n| trips.is_multiple_of(*n))
        .collect();
    if exact.first() != Some(&least) {
        exact.insert(0, least);
    }
    let mut out = Vec::new();
    for (i, &n) in exact.iter().enumerate() {
        out.push((n, n));
        match exact.get(i + 1) {
            Some(&next) if next > n + 1 => out.push((n + 1, next - 1)),
            Some(_) => {}
            None => out.push((n + 1, u64::MAX)),
        }
    }
    out
}

/// The mappings whose walk loads every weight into the macros at least `least` and fewer than
/// `below` times ([`Walked::weight_loads`]): each mapping's walk falls in one class of
/// [`LoadClass::ladder`], so a bound per class, each with its class's latency and the least
/// energy of its walks, bounds every mapping, and the latency of many loads no longer meets the
/// energy of the walks that spare them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct LoadClass {
    pub(super) least: f64,
    below: f64,
}

impl LoadClass {
    /// Every walk.
    pub(super) const ALL: LoadClass = LoadClass {
        least: 1.0,
        below: f64::INFINITY,
    };

    /// Classes that cover every count of loads from one, doubling.
    pub(super) fn ladder() -> Vec<LoadClass> {
        let mut out: Vec<LoadClass> = [1.0, 2.0, 4.0, 8.0, 16.0]
            .windows(2)
            .map(|x| LoadClass {
                least: x[0],
                below: x[1],
            })
            .collect();
        out.push(LoadClass {
            least: 16.0,
            below: f64::INFINITY,
        });
        out
    }

    pub(super) fn holds(&self, walked: &Walked) -> bool {
        walked.weight_loads >= self.least && walked.weight_loads < self.below
    }

    /// Whether the class holds the mappings of a case with no walks, whose loads are unknown:
    /// the class from one load.
    pub(super) fn holds_unwalked(&self) -> bool {
        self.least <= 1.0
    }
}

/// One outermost case's walks: its first dim, its least trips, and every walk's passes.
type Memo = (Option<Dim>, u64, Rc<[Walked]>);

/// A candidate's walks per outermost case, each worked out once however many bounds ask.
pub(super) struct Walks<'a> {
    /// Empty where the walks are not wanted: every case then has none. Several where the
    /// mappings may choose among them (the level the outputs are copied into): a case's walks
    /// are all of theirs.
    nestings: Vec<Nesting<'a>>,
    trips: [u64; 8],
    memo: RefCell<Vec<Memo>>,
}

impl<'a> Walks<'a> {
    pub(super) fn new(
        t: &Target,
        w: &'a Workload,
        p: &Precision,
        s: &[SpatialFactor],
        home: [usize; 3],
        trips: [u64; 8],
    ) -> Walks<'a> {
        Walks {
            nestings: vec![Nesting::new(t, w, p, s, home, None)],
            trips,
            memo: RefCell::new(Vec::new()),
        }
    }

    /// The walks of the mappings that copy their outputs whole into a level below their home,
    /// one nesting per level the copy fits in beside the tensors that live there.
    pub(super) fn copied(
        t: &Target,
        w: &'a Workload,
        p: &Precision,
        s: &[SpatialFactor],
        home: [usize; 3],
        trips: [u64; 8],
    ) -> Walks<'a> {
        let o = Operand::O;
        let nestings = t
            .levels_of(o)
            .into_iter()
            .filter(|&l| l > home[o.index()])
            .filter(|&l| {
                share_bits(t, w, p, s, o, l) + pinned_bits(t, w, p, s, home, l, Some(o))
                    <= t.levels[l].capacity_bits as f64
            })
            .map(|l| Nesting::new(t, w, p, s, home, Some(l)))
            .collect();
        Walks {
            nestings,
            trips,
            memo: RefCell::new(Vec::new()),
        }
    }

    /// No walks: the plain bounds, where every case has none.
    pub(super) fn none() -> Walks<'a> {
        Walks {
            nestings: Vec::new(),
            trips: [1; 8],
            memo: RefCell::new(Vec::new()),
        }
    }

    /// Whether any case has walks: the deep bounds.
    pub(super) fn deep(&self) -> bool {
        !self.nestings.is_empty()
    }

    /// [`Nesting::walks`] of the case.
    pub(super) fn of(&self, first: Option<Dim>, least: u64) -> Rc<[Walked]> {
        if self.nestings.is_empty() {
            return Rc::new([]);
        }
        if let Some(hit) = self
            .memo
            .borrow()
            .iter()
            .find(|m| m.0 == first && m.1 == least)
        {
            return hit.2.clone();
        }
        let walks: Rc<[Walked]> = self
            .nestings
            .iter()
            .flat_map(|n| n.walks(first, least, &self.trips))
            .collect();
        self.memo.borrow_mut().push((first, least, walks.clone()));
        walks
    }
}
