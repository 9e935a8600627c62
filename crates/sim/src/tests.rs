//! The fast path against the walk on random valid schedules: 4000 by default; set
//! `SIM_CASES` and `SIM_SEED` to run more (`SIM_CASES=100000 cargo test -p cimopt-sim random`).

use crate::{SimReport, prepare, simulate, simulate_walk};
use cimopt_ir::{Mapping, OpKind, SpatialFactor, TemporalLoop, WeightKind, Workload};
use cimopt_target::{Dim, Operand, Target};

/// xorshift64*: a tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
}

fn divisors(n: u64) -> Vec<u64> {
    (1..=n).filter(|&d| n.is_multiple_of(d)).collect()
}

fn targets() -> Vec<Target> {
    let load = |name: &str, set: &[&str]| {
        let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        cimopt_target::load(name, &set).unwrap().target
    };
    vec![
        load("default", &[]),
        load("default", &["macro.ping_pong=true"]),
        // Slow on-chip links so transfers, not compute, often bound the loops.
        load(
            "default",
            &[
                "levels.global_buffer.bandwidth_bits_per_cycle=16",
                "levels.input_buffer.bandwidth_bits_per_cycle=8",
            ],
        ),
        // Slow DRAM and output links, ping-pong macro.
        load(
            "default",
            &[
                "levels.dram.bandwidth_bits_per_cycle=8",
                "levels.output_buffer.bandwidth_bits_per_cycle=16",
                "macro.ping_pong=true",
            ],
        ),
        load("transformer", &[]),
    ]
}

fn workload(rng: &mut Rng) -> Workload {
    let r = rng.range(1, 3);
    let s = rng.range(1, 3);
    let p = rng.range(1, 6);
    let q = rng.range(1, 6);
    let stride = [rng.range(1, 2), rng.range(1, 2)];
    let dilation = if rng.chance(15) { [2, 2] } else { [1, 1] };
    Workload {
        op: OpKind::Conv,
        weight_kind: WeightKind::Constant,
        r,
        s,
        p,
        q,
        c: rng.range(1, 8),
        k: rng.range(1, 12),
        g: rng.range(1, 2),
        b: if rng.chance(20) { 2 } else { 1 },
        h: (p - 1) * stride[0] + (r - 1) * dilation[0] + 1,
        w: (q - 1) * stride[1] + (s - 1) * dilation[1] + 1,
        stride,
        pad: [0; 4],
        dilation,
        bits: cimopt_ir::Bits::FLOAT,
    }
}

/// Splits `n` into `parts` factors (some may be 1).
fn split(rng: &mut Rng, mut n: u64, parts: usize) -> Vec<u64> {
    let mut out = vec![1; parts];
    while n > 1 {
        let d = divisors(n)[1]; // smallest prime factor
        n /= d;
        let i = rng.below(parts as u64) as usize;
        out[i] *= d;
    }
    out
}

fn mapping(rng: &mut Rng, t: &Target, w: &Workload) -> Option<Mapping> {
    let mut padded = w.extents();
    if rng.chance(15) {
        let d = rng.pick(&Dim::ALL);
        padded[d.index()] += rng.range(1, 2);
    }
    // Spatial: each allowed (axis, dim) gets a divisor of what is left, within the axis size.
    let mut left = padded;
    let mut spatial = Vec::new();
    for (a, axis) in t.axes.iter().enumerate() {
        let mut room = axis.size;
        for &d in &axis.dims {
            if !rng.chance(50) {
                continue;
            }
            let options: Vec<u64> = divisors(left[d.index()])
                .into_iter()
                .filter(|&f| f <= room)
                .collect();
            let f = rng.pick(&options);
            if f > 1 {
                spatial.push(SpatialFactor {
                    axis: cimopt_target::Axis::ALL[a],
                    dim: d,
                    factor: f,
                });
                left[d.index()] /= f;
                room /= f;
            }
        }
    }
    // Temporal: split what is left into 2..=6 loops.
    let mut loops: Vec<(Dim, u64)> = Vec::new();
    for d in Dim::ALL {
        let n = left[d.index()];
        if n > 1 {
            let parts = rng.range(1, 2) as usize;
            for f in split(rng, n, parts) {
                if f > 1 || rng.chance(20) {
                    loops.push((d, f));
                }
            }
        }
    }
    let target_len = rng.range(2, 6) as usize;
    while loops.len() < target_len {
        loops.push((rng.pick(&Dim::ALL), 1));
    }
    while loops.len() > 6 {
        // Merge two loops of one dim, or drop a factor-1 loop.
        if let Some(i) = loops.iter().position(|l| l.1 == 1) {
            loops.remove(i);
            continue;
        }
        let (i, j) = (0..loops.len())
            .flat_map(|i| (i + 1..loops.len()).map(move |j| (i, j)))
            .find(|&(i, j)| loops[i].0 == loops[j].0)?;
        loops[i].1 *= loops[j].1;
        loops.remove(j);
    }
    // Shuffle.
    for i in (1..loops.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        loops.swap(i, j);
    }
    // Monotone levels per operand.
    let n = loops.len();
    let mut levels = vec![[0usize; 3]; n];
    for o in Operand::ALL {
        let admissible = t.levels_of(o);
        let mut picks: Vec<usize> = (0..n).map(|_| rng.pick(&admissible)).collect();
        // Bias towards the outer levels: inner ones overflow quickly.
        if rng.chance(50) {
            for p in &mut picks {
                if rng.chance(50) {
                    *p = admissible[0];
                }
            }
        }
        picks.sort();
        for (i, lv) in picks.into_iter().enumerate() {
            levels[i][o.index()] = lv;
        }
    }
    let temporal = loops
        .iter()
        .zip(&levels)
        .map(|(&(dim, factor), &level)| TemporalLoop { dim, factor, level })
        .collect();
    let mut double_buffer = Vec::new();
    for lv in 0..t.num_levels() {
        for o in Operand::ALL {
            if t.may_double_buffer(lv, o) && rng.chance(50) {
                double_buffer.push((lv, o));
            }
        }
    }
    let mut m = Mapping {
        home: [0; 3],
        spatial,
        temporal,
        double_buffer,
        padded_dims: padded,
    };
    m.normalise();
    Some(m)
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn assert_same(fast: &SimReport, walk: &SimReport, what: &str) {
    let f = |name: &str, a: f64, b: f64| assert!(close(a, b), "{what}: {name} fast {a} walk {b}");
    f("latency", fast.latency_cycles, walk.latency_cycles);
    f("energy", fast.energy_nj, walk.energy_nj);
    f("edp", fast.edp, walk.edp);
    f("mac energy", fast.mac_energy_nj, walk.mac_energy_nj);
    f("leakage", fast.leakage_energy_nj, walk.leakage_energy_nj);
    f("utilisation", fast.mac_utilisation, walk.mac_utilisation);
    f(
        "mode switch",
        fast.stalls.mode_switch,
        walk.stalls.mode_switch,
    );
    f("mismatch", fast.stalls.mismatch, walk.stalls.mismatch);
    f("writeback", fast.stalls.writeback, walk.stalls.writeback);
    f("bootstrap", fast.stalls.bootstrap, walk.stalls.bootstrap);
    f("idle", fast.stalls.idle, walk.stalls.idle);
    assert_eq!(fast.activations, walk.activations, "{what}: activations");
    assert_eq!(
        fast.compute_cycles, walk.compute_cycles,
        "{what}: compute cycles"
    );
    assert_eq!(
        fast.transfer_cycles, walk.transfer_cycles,
        "{what}: transfer cycles"
    );
    assert_eq!(fast.levels.len(), walk.levels.len());
    for (a, b) in fast.levels.iter().zip(&walk.levels) {
        assert_eq!(
            a.operand_bits_read, b.operand_bits_read,
            "{what}: bits read at {}",
            a.name
        );
        assert_eq!(
            a.operand_bits_written, b.operand_bits_written,
            "{what}: bits written at {}",
            a.name
        );
        f("read energy", a.read_energy_nj, b.read_energy_nj);
        f("write energy", a.write_energy_nj, b.write_energy_nj);
    }
    assert_eq!(fast, walk, "{what}: reports differ");
}

#[test]
fn fast_path_equals_the_walk_on_random_schedules() {
    let targets = targets();
    let mut rng = Rng(std::env::var("SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15));
    let (mut accepted, mut attempts) = (0, 0);
    let mut skipped_total = 0u64;
    let mut with_anchor = 0;
    let mut with_bootstrap = 0;
    let mut with_mismatch = 0;
    let want: usize = std::env::var("SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    while accepted < want {
        attempts += 1;
        assert!(
            attempts < 400_000 * (want / 600 + 1),
            "the generator produces too few valid schedules"
        );
        let t = &targets[rng.below(targets.len() as u64) as usize];
        let w = workload(&mut rng);
        let Some(m) = mapping(&mut rng, t, &w) else {
            continue;
        };
        if !cimopt_ir::check(t, &w, &m).is_empty() {
            continue;
        }
        accepted += 1;
        let fast = simulate(t, &w, &m).unwrap();
        let walk = simulate_walk(t, &w, &m).unwrap();
        assert_same(
            &fast,
            &walk,
            &format!("case {accepted} on {}: {m:?}", t.name),
        );
        let prog = prepare::program(t, &w, &m);
        let mut f = crate::fast::Fast::new(&prog, crate::start_timers(&prog));
        f.run(0);
        skipped_total += f.skipped;
        assert!(f.executed <= fast.activations);
        with_anchor += (fast.anchors > 0) as usize;
        with_bootstrap += (fast.stalls.bootstrap > 0.0) as usize;
        with_mismatch += (fast.stalls.mismatch > 0.0) as usize;
    }
    eprintln!(
        "{accepted} cases of {attempts} attempts; skipped {skipped_total}; anchors {with_anchor}; bootstrap {with_bootstrap}; mismatch {with_mismatch}"
    );
    // The cases exercise what they are meant to.
    assert!(
        skipped_total > 1000,
        "the fast path skipped only {skipped_total} iterations"
    );
    assert!(
        with_anchor > 20,
        "only {with_anchor} cases with reuse anchors"
    );
    assert!(
        with_bootstrap > 20,
        "only {with_bootstrap} cases with a bootstrap"
    );
    assert!(
        with_mismatch > 20,
        "only {with_mismatch} cases with mismatch stalls"
    );
}
