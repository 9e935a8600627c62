//! Loop moves: the local changes of a loop list that both the greedy search and the
//! optimiser's neighbourhood use.

use cimopt_target::Dim;

fn smallest_prime_factor(n: u64) -> u64 {
    (2..)
        .take_while(|p| p * p <= n)
        .find(|p| n.is_multiple_of(*p))
        .unwrap_or(n)
}

/// Moves of a temporal loop list (outer to inner): split off the smallest prime factor of a
/// loop into a new loop outermost or just outside it, move the rest of a loop outermost, merge
/// two loops of one dim, swap neighbours. Trip counts per dim are preserved.
pub fn loop_moves(loops: &[(Dim, u64)]) -> Vec<Vec<(Dim, u64)>> {
    let mut out = Vec::new();
    let n = loops.len();
    for i in 0..n {
        let (d, f) = loops[i];
        if f < 2 {
            continue;
        }
        let q = smallest_prime_factor(f);
        for pos in [0, i] {
            let mut nl = loops.to_vec();
            nl[i].1 = f / q;
            nl.insert(pos, (d, q));
            nl.retain(|l| l.1 > 1);
            out.push(nl);
        }
        if f / q > 1 {
            let mut nl = loops.to_vec();
            nl[i].1 = q;
            nl.insert(0, (d, f / q));
            out.push(nl);
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            if loops[i].0 == loops[j].0 {
                let mut nl = loops.to_vec();
                nl[j].1 *= nl[i].1;
                nl.remove(i);
                out.push(nl);
            }
        }
    }
    for i in 0..n.saturating_sub(1) {
        let mut nl = loops.to_vec();
        nl.swap(i, i + 1);
        out.push(nl);
    }
    out
}

/// The reorderings of a loop list (outer to inner) one step away: every loop moved to every
/// other position, the others kept in order, and every two loops swapped. Unlike
/// [`loop_moves`], which swaps only neighbours, these reach an order several neighbour swaps
/// away at once, without passing through the orders in between.
pub fn loop_reorders(loops: &[(Dim, u64)]) -> Vec<Vec<(Dim, u64)>> {
    let n = loops.len();
    let mut out: Vec<Vec<(Dim, u64)>> = Vec::new();
    let mut add = |nl: Vec<(Dim, u64)>| {
        if nl.as_slice() != loops && !out.contains(&nl) {
            out.push(nl);
        }
    };
    for i in 0..n {
        for j in 0..n {
            if j != i {
                let mut nl = loops.to_vec();
                let l = nl.remove(i);
                nl.insert(j, l);
                add(nl);
            }
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let mut nl = loops.to_vec();
            nl.swap(i, j);
            add(nl);
        }
    }
    out
}

/// The splits of a loop list (outer to inner) one step away: a prime factor of a loop split off
/// into a new loop of its dim, at every position (the rest of the loop where it was). What a
/// climb over [`loop_reorders`] cannot reach: a small loop innermost that keeps the outputs in
/// the registers while the rest of its dim stays outside.
pub fn loop_splits(loops: &[(Dim, u64)]) -> Vec<Vec<(Dim, u64)>> {
    let mut out: Vec<Vec<(Dim, u64)>> = Vec::new();
    for (i, &(d, f)) in loops.iter().enumerate() {
        let mut rest = f;
        let mut primes = Vec::new();
        while rest > 1 {
            let p = smallest_prime_factor(rest);
            primes.push(p);
            while rest.is_multiple_of(p) {
                rest /= p;
            }
        }
        for p in primes.into_iter().filter(|&p| p < f) {
            let mut kept = loops.to_vec();
            kept[i].1 = f / p;
            for j in 0..=kept.len() {
                let mut nl = kept.clone();
                nl.insert(j, (d, p));
                if !out.contains(&nl) {
                    out.push(nl);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_put_each_prime_factor_of_a_loop_anywhere() {
        let loops = [(Dim::G, 36), (Dim::P, 7)];
        let s = loop_splits(&loops);
        // G36 splits off 2 or 3 (two primes, three places each); P7 is prime.
        assert_eq!(s.len(), 6);
        assert!(s.contains(&vec![(Dim::G, 18), (Dim::P, 7), (Dim::G, 2)]));
        assert!(s.contains(&vec![(Dim::G, 3), (Dim::G, 12), (Dim::P, 7)]));
        for l in &s {
            let g: u64 = l.iter().filter(|x| x.0 == Dim::G).map(|x| x.1).product();
            assert_eq!((g, l.len()), (36, 3));
        }
    }

    #[test]
    fn reorders_are_the_moves_and_swaps_of_single_loops() {
        let loops = [(Dim::Q, 7), (Dim::C, 2), (Dim::K, 4), (Dim::R, 3)];
        let r = loop_reorders(&loops);
        // Moves of one loop: 4 loops × 3 places, less the 3 neighbour swaps reached twice (9);
        // swaps of two loops not already a move: (Q, K), (Q, R), (C, R) (3).
        assert_eq!(r.len(), 12);
        // A loop moved outermost; the outermost and innermost swapped.
        assert!(r.contains(&vec![(Dim::R, 3), (Dim::Q, 7), (Dim::C, 2), (Dim::K, 4)]));
        assert!(r.contains(&vec![(Dim::R, 3), (Dim::C, 2), (Dim::K, 4), (Dim::Q, 7)]));
        for l in &r {
            assert_ne!(l.as_slice(), loops.as_slice());
            let mut a = l.clone();
            let mut b = loops.to_vec();
            a.sort();
            b.sort();
            assert_eq!(a, b, "a reorder keeps every loop");
        }
    }
}
