//! Validity of a mapping against its workload and target: what `cimopt check` reports and
//! what every mapper's output must satisfy.

use crate::analysis::{resident_bits, used_levels};
use crate::mapping::Mapping;
use crate::workload::{MAX_EXTENT, MAX_MACS, Workload, checked_product};
use cimopt_target::{Axis, Dim, Operand, Replication, Target};
use std::fmt;

/// One reason a mapping is invalid. The message names the loop or level and the numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// The workload itself is not a layer (see [`Workload::shape_errors`]).
    Workload,
    /// The macro cannot run the layer's precisions (see
    /// [`precision_errors`](crate::analysis::precision_errors)).
    Precision,
    /// An operand's home level cannot hold its tensor, or a loop sits above it.
    Home,
    Coverage,
    Level,
    LevelOrder,
    Spatial,
    DoubleBuffer,
    Capacity,
    Structure,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn push(out: &mut Vec<Violation>, kind: ViolationKind, message: String) {
    out.push(Violation { kind, message });
}

/// All violations of `m` (empty when valid).
pub fn check(t: &Target, w: &Workload, m: &Mapping) -> Vec<Violation> {
    let mut out = Vec::new();
    for e in w.shape_errors() {
        push(&mut out, ViolationKind::Workload, format!("workload: {e}"));
    }
    for e in crate::analysis::precision_errors(t, w) {
        push(
            &mut out,
            ViolationKind::Precision,
            format!("precision: {e}"),
        );
    }
    if !out.is_empty() {
        // Nothing about a mapping means anything for a workload that is not one, or that the
        // macro cannot run.
        return out;
    }
    let name = |lv: usize| {
        t.levels
            .get(lv)
            .map_or_else(|| format!("level #{lv}"), |l| format!("`{}`", l.name))
    };

    if m.temporal.is_empty() {
        push(
            &mut out,
            ViolationKind::Structure,
            "the temporal nest is empty: give at least one loop (a factor-1 loop is fine)".into(),
        );
    }
    for (i, l) in m.temporal.iter().enumerate() {
        if l.factor == 0 {
            push(
                &mut out,
                ViolationKind::Coverage,
                format!("temporal[{i}] ({}): factor must be ≥ 1", l.dim),
            );
        } else if l.factor > MAX_EXTENT {
            push(
                &mut out,
                ViolationKind::Coverage,
                format!(
                    "temporal[{i}] ({}): factor {} is larger than the limit {MAX_EXTENT}",
                    l.dim, l.factor
                ),
            );
        }
        for o in Operand::ALL {
            let lv = l.level_of(o);
            if lv >= t.num_levels() {
                push(
                    &mut out,
                    ViolationKind::Level,
                    format!(
                        "temporal[{i}] ({} {}): level #{lv} for {o} does not exist (the target has {})",
                        l.dim,
                        l.factor,
                        t.num_levels()
                    ),
                );
            } else if !t.levels[lv].holds.contains(o) {
                push(
                    &mut out,
                    ViolationKind::Level,
                    format!(
                        "temporal[{i}] ({} {}): level {} does not hold {o}",
                        l.dim,
                        l.factor,
                        name(lv)
                    ),
                );
            }
        }
    }
    for o in Operand::ALL {
        let home = m.home_of(o);
        if home >= t.num_levels() {
            push(
                &mut out,
                ViolationKind::Home,
                format!("home of {o}: level #{home} does not exist"),
            );
            continue;
        }
        if home > 0 {
            let level = &t.levels[home];
            if !level.holds.contains(o) {
                push(
                    &mut out,
                    ViolationKind::Home,
                    format!("home of {o}: level {} does not hold {o}", name(home)),
                );
            } else if level.replication != Replication::Shared {
                push(
                    &mut out,
                    ViolationKind::Home,
                    format!(
                        "home of {o}: level {} is per core; a tensor lives in one level shared by every core",
                        name(home)
                    ),
                );
            }
            for (i, l) in m.temporal.iter().enumerate() {
                if l.level_of(o) < home {
                    push(
                        &mut out,
                        ViolationKind::Home,
                        format!(
                            "temporal[{i}] ({} {}) puts {o} at {}, outside its home {}: the tensor lives there",
                            l.dim,
                            l.factor,
                            name(l.level_of(o)),
                            name(home)
                        ),
                    );
                }
            }
        }
    }
    for o in Operand::ALL {
        for (i, pair) in m.temporal.windows(2).enumerate() {
            let (a, b) = (pair[0].level_of(o), pair[1].level_of(o));
            if b < a {
                push(
                    &mut out,
                    ViolationKind::LevelOrder,
                    format!(
                        "temporal[{}] ({}) puts {o} at {}, outside temporal[{i}] at {}: levels must not go outwards from outer to inner loops",
                        i + 1,
                        pair[1].dim,
                        name(b),
                        name(a)
                    ),
                );
            }
        }
    }
    for (i, f) in m.spatial.iter().enumerate() {
        let axis = t.axis(f.axis);
        if f.factor == 0 {
            push(
                &mut out,
                ViolationKind::Spatial,
                format!(
                    "spatial[{i}] ({} on {}): factor must be ≥ 1",
                    f.dim, axis.name
                ),
            );
        } else if f.factor > MAX_EXTENT {
            push(
                &mut out,
                ViolationKind::Spatial,
                format!(
                    "spatial[{i}] ({} on {}): factor {} is larger than the limit {MAX_EXTENT}",
                    f.dim, axis.name, f.factor
                ),
            );
        }
        if !axis.dims.contains(&f.dim) && f.factor > 1 {
            let allowed: Vec<&str> = axis.dims.iter().map(|d| d.name()).collect();
            push(
                &mut out,
                ViolationKind::Spatial,
                format!(
                    "spatial[{i}]: {} may not be unrolled on `{}` (allowed: {})",
                    f.dim,
                    axis.name,
                    allowed.join(" ")
                ),
            );
        }
    }
    if !out.is_empty() {
        // Products of out-of-range factors mean nothing.
        return out;
    }
    for a in Axis::ALL {
        let axis = t.axis(a);
        let factors: Vec<u64> = m
            .spatial
            .iter()
            .filter(|f| f.axis == a)
            .map(|f| f.factor)
            .collect();
        match checked_product(&factors) {
            Some(fill) if fill <= axis.size => {}
            fill => push(
                &mut out,
                ViolationKind::Spatial,
                format!(
                    "axis `{}`: spatial factors multiply to {}, more than its size {}",
                    axis.name,
                    fill.map_or_else(|| "more than 2^64".to_string(), |f| f.to_string()),
                    axis.size
                ),
            ),
        }
    }
    for d in Dim::ALL {
        let factors: Vec<u64> = m
            .spatial
            .iter()
            .filter(|f| f.dim == d)
            .map(|f| f.factor)
            .chain(m.temporal.iter().filter(|l| l.dim == d).map(|l| l.factor))
            .collect();
        let (extent, padded) = (w.extent(d), m.padded_dims[d.index()]);
        let Some(cov) = checked_product(&factors).filter(|&c| c <= MAX_EXTENT) else {
            push(
                &mut out,
                ViolationKind::Coverage,
                format!(
                    "dim {d}: factors multiply to more than the limit {MAX_EXTENT} (the workload has {extent})"
                ),
            );
            continue;
        };
        if padded > MAX_EXTENT {
            push(
                &mut out,
                ViolationKind::Coverage,
                format!("dim {d}: padded extent {padded} is larger than the limit {MAX_EXTENT}"),
            );
        } else if padded < extent {
            push(
                &mut out,
                ViolationKind::Coverage,
                format!("dim {d}: padded extent {padded} is smaller than the workload's {extent}"),
            );
        } else if cov != padded {
            if cov < extent {
                push(
                    &mut out,
                    ViolationKind::Coverage,
                    format!(
                        "dim {d}: factors multiply to {cov}, fewer than the workload's {extent}: the loops must cover the dim"
                    ),
                );
            } else if padded == extent {
                push(
                    &mut out,
                    ViolationKind::Coverage,
                    format!(
                        "dim {d}: factors multiply to {cov}, but the workload has {extent} (declare padded_dims.{d} = {cov} to pad)"
                    ),
                );
            } else {
                push(
                    &mut out,
                    ViolationKind::Coverage,
                    format!(
                        "dim {d}: factors multiply to {cov}, but padded_dims.{d} declares {padded}"
                    ),
                );
            }
        }
    }
    for &(lv, o) in &m.double_buffer {
        if lv >= t.num_levels() {
            push(
                &mut out,
                ViolationKind::DoubleBuffer,
                format!("double_buffer: level #{lv} does not exist"),
            );
        } else if !t.may_double_buffer(lv, o) {
            push(
                &mut out,
                ViolationKind::DoubleBuffer,
                format!(
                    "double_buffer: level {} may not double-buffer {o}",
                    name(lv)
                ),
            );
        }
    }
    if !out.is_empty() {
        // Capacity needs a well-formed nest.
        return out;
    }
    if checked_product(&m.padded_dims).is_none_or(|macs| macs > MAX_MACS) {
        push(
            &mut out,
            ViolationKind::Coverage,
            format!(
                "padded_dims: the padded extents multiply to more than the limit of {MAX_MACS} MACs"
            ),
        );
        return out;
    }
    let home_o = m.home_of(Operand::O);
    if home_o > 0 && crate::analysis::psum_levels(t, m)[home_o] {
        push(
            &mut out,
            ViolationKind::Home,
            format!(
                "home of O: level {} would hold partial sums; a reduction loop over it must sit at a deeper level for O, so that the layer leaves final outputs there",
                name(home_o)
            ),
        );
        return out;
    }
    let used = used_levels(t, m);
    let bits = resident_bits(t, w, m);
    for (lv, level) in t.levels.iter().enumerate() {
        let total: u64 = bits[lv].iter().sum();
        if total > level.capacity_bits {
            let parts: Vec<String> = Operand::ALL
                .iter()
                .filter(|o| used[lv][o.index()] || bits[lv][o.index()] > 0)
                .map(|o| {
                    let db = if crate::analysis::double_buffered(t, m, lv, *o) {
                        " (double-buffered)"
                    } else {
                        ""
                    };
                    format!("{o} {} bit{db}", bits[lv][o.index()])
                })
                .collect();
            push(
                &mut out,
                ViolationKind::Capacity,
                format!(
                    "level `{}` overflows: needs {total} bit ({}) but holds {} bit",
                    level.name,
                    parts.join(" + "),
                    level.capacity_bits
                ),
            );
        }
    }
    out
}
