//! Quantities every consumer of a mapping derives the same way: resident data per level,
//! partial-sum precision, capacity use (domain §3).

use crate::mapping::Mapping;
use crate::workload::Workload;
use cimopt_target::{Dim, Operand, Precision, Target};

/// The workload as the mapping executes it: dims replaced by the padded extents.
pub fn executed_workload(w: &Workload, m: &Mapping) -> Workload {
    let p = m.padded_dims;
    Workload {
        r: p[Dim::R.index()],
        s: p[Dim::S.index()],
        p: p[Dim::P.index()],
        q: p[Dim::Q.index()],
        c: p[Dim::C.index()],
        k: p[Dim::K.index()],
        g: p[Dim::G.index()],
        b: p[Dim::B.index()],
        ..w.clone()
    }
}

/// Whether each operand has a loop at each level (`used[level][op]`); a level without one is
/// bypassed by that operand.
pub fn used_levels(t: &Target, m: &Mapping) -> Vec<[bool; 3]> {
    let mut used = vec![[false; 3]; t.num_levels()];
    for l in &m.temporal {
        for o in Operand::ALL {
            used[l.level_of(o)][o.index()] = true;
        }
    }
    used
}

/// Partial-sum flags per level: an O level at or below the first O level that holds a
/// reduction loop with more than one iteration stores partial sums.
pub fn psum_levels(t: &Target, m: &Mapping) -> Vec<bool> {
    let mut first: Option<usize> = None;
    for l in &m.temporal {
        if l.dim.is_reduction() && l.factor > 1 {
            let lv = l.level_of(Operand::O);
            first = Some(first.map_or(lv, |f: usize| f.min(lv)));
        }
    }
    (0..t.num_levels())
        .map(|lv| t.levels[lv].holds.contains(Operand::O) && first.is_some_and(|f| lv >= f))
        .collect()
}

/// The precisions layer `w` runs at on `t`: the model's bits where it gives them, the
/// target's (`macro.precision`) for float tensors; partial sums at the target's.
pub fn layer_precision(t: &Target, w: &Workload) -> Precision {
    let own = &t.macro_.precision;
    Precision {
        input: w.bits.input.unwrap_or(own.input),
        weight: w.bits.weight.unwrap_or(own.weight),
        psum: own.psum,
        output: w.bits.output.unwrap_or(own.output),
    }
}

/// Why the macro cannot run layer `w` at the precisions it carries, if it cannot: inputs
/// wider than the target's (the registers hold `macro.precision.input_bits`), a weight width
/// the array does not compute at (`macro.weight_bits_supported`), outputs wider than the
/// accumulators (`macro.precision.psum_bits`). Each message names the width and the key.
pub fn precision_errors(t: &Target, w: &Workload) -> Vec<String> {
    let own = &t.macro_.precision;
    let mut out = Vec::new();
    for (what, bits) in [
        ("inputs", w.bits.input),
        ("weights", w.bits.weight),
        ("outputs", w.bits.output),
    ] {
        if let Some(b) = bits.filter(|&b| b == 0 || b > cimopt_target::limits::MAX_PRECISION_BITS) {
            out.push(format!(
                "{what} of {b} bits: a width is 1 to {} bits",
                cimopt_target::limits::MAX_PRECISION_BITS
            ));
        }
    }
    if !out.is_empty() {
        return out;
    }
    let p = layer_precision(t, w);
    if p.input > own.input {
        out.push(format!(
            "{}-bit inputs are wider than the macro's {}-bit inputs (macro.precision.input_bits)",
            p.input, own.input
        ));
    }
    if !t.macro_.weight_bits_supported.contains(&p.weight) {
        out.push(format!(
            "the array computes weights of {} bits (macro.weight_bits_supported), not {}",
            widths(&t.macro_.weight_bits_supported),
            p.weight
        ));
    }
    if p.output > own.psum {
        out.push(format!(
            "{}-bit outputs are wider than the macro's {}-bit accumulators (macro.precision.psum_bits)",
            p.output, own.psum
        ));
    }
    out
}

/// `4 or 8`, `2, 4 or 8`.
fn widths(bits: &[u64]) -> String {
    match bits {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!(
            "{} or {last}",
            rest.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Bits per element of `o` stored at `level` for a layer at precisions `p`
/// ([`layer_precision`]). Weights in the macro's cells take [`Target::weight_cell_bits`]
/// (padded to the native width, or packed).
pub fn precision_at(t: &Target, p: &Precision, psum: &[bool], level: usize, o: Operand) -> u64 {
    if o == Operand::W && level == t.macro_level() {
        return t.weight_cell_bits(p.weight);
    }
    p.bits(
        o,
        o == Operand::O && psum.get(level).copied().unwrap_or(false),
    )
}

/// Elements of `o` resident at `level` (per instance): the extent of every temporal loop at
/// that level or deeper for `o`, times the spatial factors fanned out from that level or
/// deeper. Zero when `o` bypasses the level.
pub fn resident_elements(
    t: &Target,
    w: &Workload,
    m: &Mapping,
    used: &[[bool; 3]],
    level: usize,
    o: Operand,
) -> u64 {
    if !used[level][o.index()] {
        return 0;
    }
    let mut extent = [1u64; 8];
    for l in &m.temporal {
        if l.level_of(o) >= level {
            extent[l.dim.index()] *= l.factor;
        }
    }
    for f in &m.spatial {
        if t.axis(f.axis).source[o.index()] >= level {
            extent[f.dim.index()] *= f.factor;
        }
    }
    w.operand_elements(&extent, o)
}

/// Bits each operand occupies at each level, double buffering counted (`[level][op]`). An
/// operand's home level ([`Mapping::home`], DRAM unless the memory plan says otherwise) holds
/// its tensor whole; the levels above it hold nothing of it.
pub fn resident_bits(t: &Target, w: &Workload, m: &Mapping) -> Vec<[u64; 3]> {
    let r = Residency::of(t, w, m);
    (0..t.num_levels())
        .map(|lv| Operand::ALL.map(|o| r.bits(lv, o)))
        .collect()
}

/// [`resident_bits`] of one operand: what a placement's capacity check and profile read, at a
/// third of the work.
pub fn resident_bits_of(t: &Target, w: &Workload, m: &Mapping, o: Operand) -> Vec<u64> {
    let r = Residency::of(t, w, m);
    (0..t.num_levels()).map(|lv| r.bits(lv, o)).collect()
}

/// What [`resident_bits`] reads of a mapping, worked out once for every level and operand.
struct Residency<'a> {
    t: &'a Target,
    m: &'a Mapping,
    w: Workload,
    used: Vec<[bool; 3]>,
    psum: Vec<bool>,
    p: Precision,
}

impl<'a> Residency<'a> {
    fn of(t: &'a Target, w: &Workload, m: &'a Mapping) -> Self {
        let w = executed_workload(w, m);
        let p = layer_precision(t, &w);
        Residency {
            t,
            m,
            used: used_levels(t, m),
            psum: psum_levels(t, m),
            p,
            w,
        }
    }

    fn bits(&self, lv: usize, o: Operand) -> u64 {
        let (t, m) = (self.t, self.m);
        let home = m.home_of(o);
        if lv < home {
            return 0;
        }
        let precision = precision_at(t, &self.p, &self.psum, lv, o);
        // The home is where the tensor lives: it holds it whole, whether or not a loop
        // of the operand sits there.
        if lv == home {
            return self.w.operand_size(o) * precision;
        }
        let copies = if double_buffered(t, m, lv, o) { 2 } else { 1 };
        copies * resident_elements(t, &self.w, m, &self.used, lv, o) * precision
    }
}

/// Whether `(level, o)` is double-buffered as executed. The macro's weight store and the
/// compute pseudo-level ([`Target::compute_level`]) follow the hardware: double-buffered
/// exactly when the macro is ping-pong, whatever the schedule lists.
pub fn double_buffered(t: &Target, m: &Mapping, level: usize, o: Operand) -> bool {
    if hardware_buffered(t, level, o) {
        return t.macro_.ping_pong;
    }
    m.is_double_buffered(level, o)
}

/// Whether the hardware, not the schedule, decides if `(level, o)` is double-buffered
/// ([`double_buffered`]): the compute pseudo-level and the macro's weight store.
pub fn hardware_buffered(t: &Target, level: usize, o: Operand) -> bool {
    level == t.compute_level() || (level == t.macro_level() && o == Operand::W)
}
