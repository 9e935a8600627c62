//! Random valid mappings over the whole space of a layer, seeded and deterministic.
//!
//! The searches only ever look at part of the space (templates, loop moves, the placements the
//! optimiser enumerates), and a model checked only where a search looks can be wrong everywhere
//! else, which is where the next search will land. [`Sampler`] draws from all of it:
//!
//! - a spatial candidate of [`crate::spatial::enumerate`] (every divisor fill of each axis, a
//!   full axis with padding), uniformly;
//! - each dim's temporal trip count split into loops: its prime factors shuffled and grouped
//!   at random cut points (every ordered factorisation can come out), now and then with an
//!   extra trip-1 loop (valid, and a case the nest rewrite must handle);
//! - the loops in a uniformly random order;
//! - per operand, a level for every loop, never going outwards from outer to inner, drawn
//!   from the innermost loop outwards: each loop stays at the level of the loop inside it or
//!   jumps to a random outer level, and moves out further while its operand's data would not
//!   fit there, so the levels an operand uses, the levels it bypasses and how deep it goes all
//!   vary;
//! - a random subset of the (level, operand) pairs the target may double-buffer.
//!
//! A draw is kept only if `cimopt_ir::check` accepts it (levels shared by several operands are
//! checked jointly only there), and redrawn otherwise. The same seed gives the same mappings
//! on every machine: the generator is SplitMix64 and every choice walks lists in a fixed order.

use crate::spatial;
use cimopt_ir::analysis::resident_bits;
use cimopt_ir::{Mapping, SpatialFactor, TemporalLoop, Workload, check};
use cimopt_target::{Dim, Operand, Target};

/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit state, one multiply-xorshift output; small,
/// fast and the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is below 2⁻³² for the small `n` used here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent / 100`.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

fn prime_factors(mut n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut p = 2;
    while p * p <= n {
        while n.is_multiple_of(p) {
            out.push(p);
            n /= p;
        }
        p += 1;
    }
    if n > 1 {
        out.push(n);
    }
    out
}

/// A random ordered factorisation of `trips` (every factor above 1; empty for 1).
fn random_split(trips: u64, rng: &mut Rng) -> Vec<u64> {
    let mut primes = prime_factors(trips);
    rng.shuffle(&mut primes);
    let mut out: Vec<u64> = Vec::new();
    for (i, p) in primes.into_iter().enumerate() {
        // A new loop at each prime with probability one half, so one loop per dim and one
        // loop per prime are both common.
        if i == 0 || rng.chance(50) {
            out.push(p);
        } else {
            *out.last_mut().expect("non-empty") *= p;
        }
    }
    out
}

/// Every dim's trips split at random ([`random_split`]), dim by dim, unordered.
fn random_splits(trips: &[u64; 8], rng: &mut Rng) -> Vec<(Dim, u64)> {
    Dim::ALL
        .into_iter()
        .flat_map(|d| {
            random_split(trips[d.index()], &mut *rng)
                .into_iter()
                .map(move |f| (d, f))
        })
        .collect()
}

/// A random loop nest (a skeleton's loops, outer to inner) over the temporal trip counts
/// `trips`: each dim's trips split into loops at random cut points of its shuffled prime
/// factors, the loops in a uniformly random order; a single loop of one trip when every trip
/// count is 1, as [`crate::whole::loop_lists`] gives. Every loop list of `loop_lists` can come
/// out.
pub fn random_loops(trips: &[u64; 8], rng: &mut Rng) -> Vec<(Dim, u64)> {
    let mut loops = random_splits(trips, rng);
    if loops.is_empty() {
        return vec![(Dim::B, 1)];
    }
    rng.shuffle(&mut loops);
    loops
}

/// Draws valid mappings of one layer on one target from the whole space (module docs).
pub struct Sampler<'a> {
    t: &'a Target,
    w: &'a Workload,
    home: [usize; 3],
    candidates: Vec<Vec<SpatialFactor>>,
    /// Draws per [`Sampler::sample`] before it gives up (the space may hold no valid mapping
    /// at all, e.g. a home that cannot hold its tensor).
    pub attempts: usize,
}

impl<'a> Sampler<'a> {
    /// A sampler of `w` on `t` with every tensor in DRAM; an error when the layer has more
    /// spatial unrollings than [`spatial::MAX_UNROLLINGS`] (it is unmappable).
    pub fn new(t: &'a Target, w: &'a Workload) -> Result<Self, spatial::TooManyUnrollings> {
        Self::at(t, w, [0; 3])
    }

    /// A sampler of `w` on `t` with each operand's tensor at `home` (`Mapping::home`).
    pub fn at(
        t: &'a Target,
        w: &'a Workload,
        home: [usize; 3],
    ) -> Result<Self, spatial::TooManyUnrollings> {
        Ok(Sampler {
            t,
            w,
            home,
            candidates: spatial::enumerate(t, w)?,
            attempts: 200,
        })
    }

    /// The spatial candidates drawn from.
    pub fn candidates(&self) -> &[Vec<SpatialFactor>] {
        &self.candidates
    }

    /// A valid mapping, or `None` when [`Sampler::attempts`] draws found none.
    pub fn sample(&self, rng: &mut Rng) -> Option<Mapping> {
        for _ in 0..self.attempts {
            let spatial = self.candidates[rng.below(self.candidates.len())].clone();
            let m = self.draw(spatial, rng);
            if check(self.t, self.w, &m).is_empty() {
                return Some(m);
            }
        }
        None
    }

    /// A valid mapping with the given spatial factors, or `None` after [`Sampler::attempts`].
    pub fn sample_with(&self, spatial: &[SpatialFactor], rng: &mut Rng) -> Option<Mapping> {
        (0..self.attempts)
            .map(|_| self.draw(spatial.to_vec(), rng))
            .find(|m| check(self.t, self.w, m).is_empty())
    }

    /// `n` draws from a generator seeded with `seed` (fewer when some draws find nothing).
    pub fn many(&self, seed: u64, n: usize) -> Vec<Mapping> {
        let mut rng = Rng::new(seed);
        (0..n).filter_map(|_| self.sample(&mut rng)).collect()
    }

    fn draw(&self, spatial: Vec<SpatialFactor>, rng: &mut Rng) -> Mapping {
        let (t, w) = (self.t, self.w);
        let (trips, padded) = spatial::trips(w, &spatial);
        let mut loops = random_splits(&trips, rng);
        if loops.is_empty() || rng.chance(5) {
            loops.push((Dim::ALL[rng.below(Dim::ALL.len())], 1));
        }
        rng.shuffle(&mut loops);
        let n = loops.len();
        let mut m = Mapping {
            spatial,
            temporal: loops
                .iter()
                .map(|&(dim, factor)| TemporalLoop {
                    dim,
                    factor,
                    level: self.home,
                })
                .collect(),
            double_buffer: Vec::new(),
            padded_dims: padded,
            home: self.home,
        };
        for o in Operand::ALL {
            let levels: Vec<usize> = t
                .levels_of(o)
                .into_iter()
                .filter(|&l| l >= self.home[o.index()])
                .collect();
            // How often a loop jumps outwards instead of staying with the loop inside it.
            let jump = [10, 30, 60][rng.below(3)];
            let mut cur = rng.below(levels.len());
            for j in (0..n).rev() {
                if j + 1 < n && rng.chance(jump) {
                    cur = rng.below(cur + 1);
                }
                // Out until the operand's own data fits at its levels (levels it shares
                // are checked jointly by `check`).
                loop {
                    m.temporal[j].level[o.index()] = levels[cur];
                    if cur == 0 || self.fits(&m, o, false) {
                        break;
                    }
                    cur -= 1;
                }
            }
        }
        for lv in 1..t.num_levels() {
            for o in Operand::ALL {
                if t.may_double_buffer(lv, o) && rng.chance(50) {
                    m.double_buffer.push((lv, o));
                    if !self.fits(&m, o, true) {
                        m.double_buffer.pop();
                    }
                }
            }
        }
        m.normalise();
        m
    }

    /// Whether operand `o`'s data fits every level that holds only `o` (all of them when
    /// `shared` is set).
    fn fits(&self, m: &Mapping, o: Operand, shared: bool) -> bool {
        let bits = resident_bits(self.t, self.w, m);
        (1..self.t.num_levels()).all(|l| {
            let level = &self.t.levels[l];
            if level.holds.len() > 1 {
                !shared || bits[l].iter().sum::<u64>() <= level.capacity_bits
            } else {
                bits[l][o.index()] <= level.capacity_bits
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(set: &[&str]) -> Target {
        let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        cimopt_target::load("default", &set).unwrap().target
    }

    #[test]
    fn splits_multiply_back_and_cover_every_factorisation() {
        let mut rng = Rng::new(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let s = random_split(12, &mut rng);
            assert_eq!(s.iter().product::<u64>(), 12);
            assert!(s.iter().all(|&f| f > 1));
            seen.insert(s);
        }
        // The ordered factorisations of 12: 12, 2·6, 6·2, 3·4, 4·3, 2·2·3, 2·3·2, 3·2·2.
        assert_eq!(seen.len(), 8, "{seen:?}");
        assert!(random_split(1, &mut rng).is_empty());
        assert_eq!(random_split(13, &mut rng), vec![13]);
    }

    /// The random nests are loop lists of the trips, and every one of them comes out.
    #[test]
    fn random_loops_reach_every_loop_list() {
        let trips = [1, 1, 4, 1, 3, 2, 1, 1];
        let all: std::collections::BTreeSet<Vec<(Dim, u64)>> =
            crate::whole::loop_lists(&trips).into_iter().collect();
        let mut rng = Rng::new(3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20_000 {
            let loops = random_loops(&trips, &mut rng);
            assert!(
                all.contains(&loops),
                "{loops:?} is no loop list of {trips:?}"
            );
            seen.insert(loops);
        }
        assert_eq!(seen.len(), all.len());
        assert_eq!(random_loops(&[1; 8], &mut rng), vec![(Dim::B, 1)]);
    }

    /// Every draw is valid, the same seed gives the same draws, and the draws reach every part
    /// of the space: every spatial candidate of a small layer, every level of every operand,
    /// split dims, bypassed levels and every double buffer the target allows.
    #[test]
    fn draws_are_valid_deterministic_and_cover_the_space() {
        let t = target(&[]);
        let w = Workload::square_conv(3, 4, 4, 8, 1, 1);
        let s = Sampler::new(&t, &w).unwrap();
        let a = s.many(42, 3000);
        assert_eq!(a.len(), 3000, "every draw found a valid mapping");
        assert_eq!(a, s.many(42, 3000), "same seed, same mappings");
        assert_ne!(a, s.many(43, 3000));
        for m in &a {
            assert!(check(&t, &w, m).is_empty(), "{m:?}");
        }
        let spatial: std::collections::BTreeSet<String> =
            a.iter().map(|m| format!("{:?}", m.spatial)).collect();
        assert!(
            spatial.len() * 10 >= s.candidates().len() * 9,
            "{} of {} spatial candidates drawn",
            spatial.len(),
            s.candidates().len()
        );
        for o in Operand::ALL {
            for lv in t.levels_of(o) {
                assert!(
                    a.iter()
                        .any(|m| m.temporal.iter().any(|l| l.level_of(o) == lv)),
                    "{o} never at level {lv}"
                );
            }
            // Some draw skips a level between two it uses.
            assert!(a.iter().any(|m| {
                let used: Vec<usize> = m.temporal.iter().map(|l| l.level_of(o)).collect();
                used.windows(2)
                    .any(|p| t.levels_of(o).iter().any(|&lv| lv > p[0] && lv < p[1]))
            }));
        }
        for lv in 1..t.num_levels() {
            for o in Operand::ALL {
                if t.may_double_buffer(lv, o) {
                    assert!(a.iter().any(|m| m.is_double_buffered(lv, o)));
                }
            }
        }
        // A dim split into several loops, and loops of one dim apart from each other.
        assert!(a.iter().any(|m| {
            Dim::ALL
                .iter()
                .any(|&d| m.temporal.iter().filter(|l| l.dim == d).count() >= 2)
        }));
    }

    /// A ping-pong macro's weight store may be double-buffered, and the draws do it; homes on
    /// chip are respected.
    #[test]
    fn draws_follow_the_target_and_the_homes() {
        let t = target(&["macro.ping_pong=true"]);
        let w = Workload::square_conv(1, 4, 8, 8, 1, 1);
        let a = Sampler::new(&t, &w).unwrap().many(1, 300);
        assert!(
            a.iter()
                .any(|m| m.is_double_buffered(t.macro_level(), Operand::W))
        );
        let t = target(&[]);
        let s = Sampler::at(&t, &w, [1, 0, 0]).unwrap();
        let a = s.many(2, 300);
        assert_eq!(a.len(), 300);
        assert!(
            a.iter()
                .all(|m| check(&t, &w, m).is_empty() && m.home == [1, 0, 0])
        );
    }
}
