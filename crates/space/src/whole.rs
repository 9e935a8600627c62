//! Every skeleton of a layer's whole space, for brute force on small layers.
//!
//! The searches look at part of the space (templates, greedy's skeleton and its loop moves);
//! what they prove or bound is only checked if something looks at all of it. A skeleton here
//! is any spatial candidate of [`crate::spatial::enumerate`] with any split of each dim's
//! temporal trip count into loops (every multiset of factors above 1 whose product is the trip
//! count) in any order (every distinct permutation of those loops). Loops of trip count 1 are
//! left out (one such loop stands in when every trip count is 1), as everywhere in the space:
//! adding one never changes what is computed or moved, only where a level may wait.
//! With each operand's placements (every level per loop, every double-buffer subset of the
//! levels used, `cimopt_optimiser::placement`), that is every mapping of the layer.

use crate::skeleton::Skeleton;
use crate::spatial;
use cimopt_ir::{SpatialFactor, Workload};
use cimopt_target::{Dim, Target};

/// Every multiset of factors above 1 whose product is `n`, each in non-increasing order
/// (`[[]]` for 1).
pub fn factorisations(n: u64) -> Vec<Vec<u64>> {
    fn walk(n: u64, max: u64, current: &mut Vec<u64>, out: &mut Vec<Vec<u64>>) {
        if n == 1 {
            out.push(current.clone());
            return;
        }
        for f in (2..=n.min(max)).rev() {
            if n.is_multiple_of(f) {
                current.push(f);
                walk(n / f, f, current, out);
                current.pop();
            }
        }
    }
    let mut out = Vec::new();
    walk(n, n, &mut Vec::new(), &mut out);
    out
}

/// The next distinct permutation in lexicographic order; false after the last.
fn next_permutation<T: Ord>(v: &mut [T]) -> bool {
    let Some(i) = (1..v.len()).rev().find(|&i| v[i - 1] < v[i]) else {
        return false;
    };
    let j = (i..v.len())
        .rev()
        .find(|&j| v[j] > v[i - 1])
        .expect("v[i] qualifies");
    v.swap(i - 1, j);
    v[i..].reverse();
    true
}

/// Every distinct order of a multiset of loops.
pub fn orders(loops: &[(Dim, u64)]) -> Vec<Vec<(Dim, u64)>> {
    let mut v: Vec<(usize, u64)> = loops.iter().map(|&(d, f)| (d.index(), f)).collect();
    v.sort();
    let mut out = Vec::new();
    loop {
        out.push(v.iter().map(|&(d, f)| (Dim::ALL[d], f)).collect());
        if !next_permutation(&mut v) {
            return out;
        }
    }
}

/// Every loop list (split and order) over the temporal trip counts `trips`.
pub fn loop_lists(trips: &[u64; 8]) -> Vec<Vec<(Dim, u64)>> {
    let mut out = Vec::new();
    for_each_loop_list(trips, |l| {
        out.push(l.to_vec());
        true
    });
    out
}

/// Calls `visit` on every loop list (split and order) over the temporal trip counts `trips`,
/// without holding them: a candidate's millions of loop lists take no memory. Stops, and
/// returns false, as soon as `visit` returns false; true when every list was visited.
pub fn for_each_loop_list<F: FnMut(&[(Dim, u64)]) -> bool>(trips: &[u64; 8], mut visit: F) -> bool {
    let splits: Vec<Vec<Vec<u64>>> = Dim::ALL
        .iter()
        .map(|d| factorisations(trips[d.index()]))
        .collect();
    // Each dim's split in turn (the first dim's the slowest to change), then every distinct
    // order of the multiset they make.
    fn walk<F: FnMut(&[(Dim, u64)]) -> bool>(
        splits: &[Vec<Vec<u64>>],
        d: usize,
        chosen: &mut Vec<(usize, u64)>,
        list: &mut Vec<(Dim, u64)>,
        visit: &mut F,
    ) -> bool {
        if d == splits.len() {
            if chosen.is_empty() {
                // The nest needs a loop: one of trip count 1, as the templates give.
                return visit(&[(Dim::B, 1)]);
            }
            let mut v = chosen.clone();
            v.sort();
            loop {
                list.clear();
                list.extend(v.iter().map(|&(d, f)| (Dim::ALL[d], f)));
                if !visit(list) {
                    return false;
                }
                if !next_permutation(&mut v) {
                    return true;
                }
            }
        }
        for split in &splits[d] {
            let before = chosen.len();
            chosen.extend(split.iter().map(|&f| (d, f)));
            let more = walk(splits, d + 1, chosen, list, visit);
            chosen.truncate(before);
            if !more {
                return false;
            }
        }
        true
    }
    walk(&splits, 0, &mut Vec::new(), &mut Vec::new(), &mut visit)
}

/// How many loop lists [`loop_lists`] gives for `trips`, without listing them (saturating):
/// for each choice of splits, the distinct orders of that multiset of loops.
pub fn loop_list_count(trips: &[u64; 8]) -> u64 {
    // Each dim's splits, as the multiplicities of its equal loops and its number of loops.
    let mut lists: Vec<(u32, f64)> = vec![(0, 1.0)];
    for d in Dim::ALL {
        let splits = factorisations(trips[d.index()]);
        lists = lists
            .iter()
            .flat_map(|&(n, denominator)| {
                splits.iter().map(move |s| {
                    let mut den = denominator;
                    let mut i = 0;
                    while i < s.len() {
                        let run = s[i..].iter().take_while(|&&f| f == s[i]).count();
                        den *= (1..=run).map(|x| x as f64).product::<f64>();
                        i += run;
                    }
                    (n + s.len() as u32, den)
                })
            })
            .collect();
    }
    let total: f64 = lists
        .iter()
        .map(|&(n, den)| (1..=n).map(|x| x as f64).product::<f64>() / den)
        .sum();
    // Every trip count 1: the one list with a single loop of trip count 1.
    if total <= 1.0 {
        1
    } else if total >= u64::MAX as f64 {
        u64::MAX
    } else {
        total.round() as u64
    }
}

/// Every skeleton of one spatial candidate.
pub fn skeletons_of(w: &Workload, s: &[SpatialFactor], home: [usize; 3]) -> Vec<Skeleton> {
    let (trips, padded) = spatial::trips(w, s);
    loop_lists(&trips)
        .into_iter()
        .map(|loops| Skeleton {
            spatial: s.to_vec(),
            loops,
            padded,
            home,
        })
        .collect()
}

/// How many skeletons [`skeletons`] gives (to refuse a space too large before pricing it);
/// an error when the layer has more spatial unrollings than [`spatial::MAX_UNROLLINGS`].
pub fn count(t: &Target, w: &Workload) -> Result<u64, spatial::TooManyUnrollings> {
    Ok(spatial::enumerate(t, w)?
        .iter()
        .map(|s| loop_lists(&spatial::trips(w, s).0).len() as u64)
        .sum())
}

/// Every skeleton of the layer's whole space, spatial candidates in enumeration order; an
/// error when the layer has more spatial unrollings than [`spatial::MAX_UNROLLINGS`].
pub fn skeletons(
    t: &Target,
    w: &Workload,
    home: [usize; 3],
) -> Result<Vec<Skeleton>, spatial::TooManyUnrollings> {
    Ok(spatial::enumerate(t, w)?
        .iter()
        .flat_map(|s| skeletons_of(w, s, home))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factorisations_are_every_multiset() {
        assert_eq!(factorisations(1), vec![Vec::<u64>::new()]);
        assert_eq!(factorisations(13), vec![vec![13]]);
        assert_eq!(
            factorisations(12),
            vec![vec![12], vec![6, 2], vec![4, 3], vec![3, 2, 2]]
        );
        // 2⁴ has as many factorisations as 4 has partitions.
        assert_eq!(factorisations(16).len(), 5);
    }

    #[test]
    fn orders_are_distinct_and_complete() {
        let l = [(Dim::K, 2), (Dim::K, 2), (Dim::C, 3)];
        let o = orders(&l);
        // 3! / 2! distinct orders.
        assert_eq!(o.len(), 3);
        let set: std::collections::BTreeSet<Vec<(usize, u64)>> = o
            .iter()
            .map(|v| v.iter().map(|&(d, f)| (d.index(), f)).collect())
            .collect();
        assert_eq!(set.len(), 3);
        // Splits of 12 (12; 6·2; 4·3; 3·2·2) in every order: 1 + 2 + 2 + 3.
        let mut trips = [1u64; 8];
        trips[Dim::K.index()] = 12;
        assert_eq!(loop_lists(&trips).len(), 8);
        // Two dims: splits of 4 (4; 2·2) and 3, ordered: (4,3): 2, (2,2,3): 3.
        trips[Dim::K.index()] = 4;
        trips[Dim::C.index()] = 3;
        assert_eq!(loop_lists(&trips).len(), 5);
        assert_eq!(loop_lists(&[1; 8]), vec![vec![(Dim::B, 1)]]);
    }

    #[test]
    fn every_loop_list_is_streamed_once_and_the_stream_stops_when_asked() {
        let mut trips = [1u64; 8];
        for (k, c, p) in [(1, 1, 1), (12, 1, 1), (4, 3, 1), (8, 6, 7), (2, 2, 2)] {
            trips[Dim::K.index()] = k;
            trips[Dim::C.index()] = c;
            trips[Dim::P.index()] = p;
            let lists = loop_lists(&trips);
            assert_eq!(lists.len() as u64, loop_list_count(&trips), "{trips:?}");
            let distinct: std::collections::BTreeSet<Vec<(usize, u64)>> = lists
                .iter()
                .map(|l| l.iter().map(|&(d, f)| (d.index(), f)).collect())
                .collect();
            assert_eq!(distinct.len(), lists.len(), "{trips:?}");
            for l in &lists {
                for d in Dim::ALL {
                    let product: u64 = l.iter().filter(|x| x.0 == d).map(|x| x.1).product();
                    assert_eq!(product, trips[d.index()], "{l:?}");
                }
            }
            // Stopped after the third list: three visited, false returned.
            let mut seen = 0;
            let whole = for_each_loop_list(&trips, |_| {
                seen += 1;
                seen < 3
            });
            assert_eq!((whole, seen), (lists.len() < 3, lists.len().min(3)));
        }
    }

    #[test]
    fn loop_list_count_counts_without_listing() {
        let mut trips = [1u64; 8];
        assert_eq!(loop_list_count(&trips), 1);
        for (k, c, p) in [(12, 1, 1), (4, 3, 1), (8, 6, 7), (16, 9, 14), (2, 2, 2)] {
            trips[Dim::K.index()] = k;
            trips[Dim::C.index()] = c;
            trips[Dim::P.index()] = p;
            assert_eq!(
                loop_list_count(&trips),
                loop_lists(&trips).len() as u64,
                "{trips:?}"
            );
        }
    }
}
