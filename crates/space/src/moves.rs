//! Loop moves: the local changes of a loop list that both the greedy search and the
//! optimiser's neighbourhood use.

use cimopt_target::Dim;

fn smallest_prime_factor(n: u64) -> u64 {
    (2..)
        .take_while(|p| p * p <= n)
        .find(|p| n % p == 0)
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
