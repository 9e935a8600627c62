//! Keeping activations on chip between layers (`--residency on`): which tensors live in the
//! global buffer instead of DRAM, decided for the whole model at once (docs/memory-plan.md).
//!
//! Every layer is first mapped as if it ran alone, its tensors in DRAM (the *baseline*). Then,
//! for each layer, *variants* are priced: its input, run-time weights and output each in DRAM
//! or in the on-chip level when their tensors may live there, with the whole level for its own
//! tiles or only what the other tensors that may be live at its step leave. With an optimiser
//! as the mapper, variants are first priced by the greedy mapper (*screened*), and only those
//! the MILP below picks are solved by the optimiser, then the MILP picks again, until every
//! chosen variant is the optimiser's: most variants are never chosen, and the optimiser's time
//! goes to those the plan uses. A MILP on
//! HiGHS picks one variant per layer and a home per tensor: a binary per tensor and per
//! (layer, variant), the variants' homes tied to their tensors', the level's capacity at every
//! step (the live tensors plus the running layer's own buffers), and the model's objective
//! (the model's EDP through `E + λ·L` with `λ` the baseline's `E/L`, as for the layers). The
//! baseline is one of the choices and the totals may not exceed it: residency never makes the
//! model's latency, energy or EDP worse.

use crate::compile::{Observer, Stage, StageProgress};
use crate::options::CompileOptions;
use crate::plan::{Groups, groups, lay_out, padded_sizes, resident_level};
use crate::solve::{
    Climb, LayerObjective, Solved, certify_layer, polish_layer_variant, screen_layer_variant,
    solve_layer_variant,
};
use crate::{Error, Result};
use cimopt_cost::Cost;
use cimopt_ir::analysis::resident_bits;
use cimopt_ir::{Layer, Mapping, check};
use cimopt_onnx::Model;
use cimopt_onnx::flow::FlowNodeKind;
use cimopt_schedule::SolveInfo;
use cimopt_schedule::plan::PlanBaseline;
use cimopt_target::{Operand, Target};
use good_lp::{Expression, ProblemVariables, SolverModel, Variable, variable};
use rayon::prelude::*;

/// One way to run a layer: where its tensors live, and the mapping that goes with it.
#[derive(Clone, Debug)]
pub struct Variant {
    pub home: [usize; 3],
    /// The capacity of the on-chip level the layer's mapping was given (bits).
    pub budget: u64,
    pub solved: Solved,
    /// Bits the layer keeps in the on-chip level during its step (its resident tensors and its
    /// tiles).
    pub on_chip_bits: u64,
    /// Priced by the greedy screen, not yet solved with the compile's mapper.
    pub screened: bool,
}

impl Variant {
    fn cost(&self) -> &Cost {
        &self.solved.mapped.cost
    }
}

/// What [`improve`] decided.
pub struct Decision {
    /// Per model layer: the chosen variant (`None` for layers the schedule leaves out).
    pub chosen: Vec<Option<Variant>>,
    /// The residency-off totals.
    pub baseline: PlanBaseline,
    /// Tensors kept on chip.
    pub resident_tensors: usize,
}

/// Picks laid out with their capacity cut where a layout found the level too fragmented (each
/// failure lowers it by the tensor that found no room). Past them, each failure sends the
/// largest tensor kept at the failing step back to DRAM ([`evict`]) until a pick lays out, so a
/// fragmented level costs the plan the tensors that do not fit, never the whole plan.
/// MobileNetV2 / `default` lays out at its 13th cut: its variants fill their room, and two
/// steps are each cut six times (cutting twice as much on each new failure at a step laid out
/// at the 7th, but kept 3 % more model EDP on the table).
const LAYOUT_ATTEMPTS: usize = 16;
/// Rounds of solving the screened variants a pick chose before the rest are dropped.
const REFINE_ROUNDS: usize = 6;

/// Bits of the tensors a layer keeps whole in level `lv` with these homes.
fn own_bits(g: &Groups, i: usize, home: [usize; 3], lv: usize) -> u64 {
    let (a, b, c) = g.layer_io[i];
    [(a, home[0]), (c, home[2])]
        .into_iter()
        .chain(b.map(|b| (b, home[1])))
        .filter(|&(_, h)| h == lv)
        .map(|(k, _)| g.groups[k].bits)
        .sum()
}

/// How a batch of variants is priced.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pricing {
    /// By the greedy mapper when the compile's mapper is an optimiser (`screen_layer_variant`).
    Screen,
    /// By the compile's mapper, around the layer's baseline mapping.
    Solve,
}

/// The context every batch of variants shares.
struct Jobs<'a> {
    model: &'a Model,
    t: &'a Target,
    off: &'a [Option<Variant>],
    lv: usize,
    opts: &'a CompileOptions,
    objective: &'a LayerObjective,
    observer: &'a dyn Observer,
}

/// Solves the variants `jobs` (layer, homes, room in the level), identical layers once, in
/// parallel; a variant no mapping fits is left out.
fn solve_jobs(
    ctx: &Jobs,
    jobs: &[(usize, [usize; 3], u64)],
    pricing: Pricing,
) -> Vec<Option<(usize, Variant)>> {
    let Jobs {
        model,
        t,
        off,
        lv,
        opts,
        objective,
        observer,
    } = *ctx;
    let screen = pricing == Pricing::Screen && opts.mapper.is_optimiser();
    let mut unique: Vec<(usize, [usize; 3], u64)> = Vec::new();
    for &(i, home, budget) in jobs {
        let key = (model.layers[i].dedup_group, home, budget);
        if !unique.contains(&key) {
            unique.push(key);
        }
    }
    let progress = StageProgress::start(observer, Stage::MemoryPlan, unique.len());
    let solved: Vec<Option<Variant>> = unique
        .par_iter()
        .map(|&(i, home, budget)| {
            if progress.interrupted() {
                return None;
            }
            let layer = &model.layers[i];
            let variant = || {
                let mut tv = t.clone();
                tv.levels[lv].capacity_bits = budget;
                let seed = &off[i].as_ref()?.solved.mapped.mapping;
                let s = if screen {
                    screen_layer_variant(&tv, layer, home, opts, objective, seed)
                } else {
                    solve_layer_variant(&tv, layer, home, opts, objective, seed)
                }
                .ok()?;
                // Valid on the real target too (more room), and what it keeps on chip.
                if !check(t, &layer.workload, &s.mapped.mapping).is_empty() {
                    return None;
                }
                let bits = on_chip_bits(t, layer, &s.mapped.mapping, lv);
                Some(Variant {
                    home,
                    budget,
                    solved: s,
                    on_chip_bits: bits,
                    screened: screen,
                })
            };
            let v = variant();
            let copies = jobs
                .iter()
                .filter(|&&(j, h, b)| {
                    (model.layers[j].dedup_group, h, b) == (layer.dedup_group, home, budget)
                })
                .count();
            let cache_hit = v.as_ref().is_some_and(|v| v.solved.cache_hit);
            let kept: Vec<&str> = Operand::ALL
                .iter()
                .filter(|o| home[o.index()] == lv)
                .map(|o| o.name())
                .collect();
            let place = if kept.is_empty() {
                "every tensor in DRAM".to_string()
            } else {
                format!("{} in {}", kept.join(", "), t.levels[lv].name)
            };
            let fits = if v.is_none() { ": no mapping fits" } else { "" };
            progress.done(layer, copies, cache_hit, &format!("{place}{fits}"));
            v
        })
        .collect();
    drop(progress);
    jobs.iter()
        .map(|&(i, home, budget)| {
            let key = (model.layers[i].dedup_group, home, budget);
            let k = unique.iter().position(|u| *u == key)?;
            solved[k].clone().map(|v| (i, v))
        })
        .collect()
}

/// The model's latency (cycles), energy (nJ) and DRAM traffic (bits) with these variants.
fn totals(c: &[Option<Variant>]) -> (f64, f64, f64) {
    c.iter().flatten().fold((0.0, 0.0, 0.0), |acc, v| {
        let k = v.cost();
        (
            acc.0 + k.latency_cycles,
            acc.1 + k.energy_nj,
            acc.2 + dram_bits(k),
        )
    })
}

/// A variant's mapping.
fn mapping_of(v: &Option<Variant>) -> Option<&Mapping> {
    v.as_ref().map(|v| &v.solved.mapped.mapping)
}

/// `before`, with the certificate of each layer whose certified mapping is the same.
fn unmoved(before: &[Option<Variant>], certified: &[Option<Variant>]) -> Vec<Option<Variant>> {
    before
        .iter()
        .zip(certified)
        .map(|(b, c)| {
            if mapping_of(b) == mapping_of(c) {
                c.clone()
            } else {
                b.clone()
            }
        })
        .collect()
}

/// DRAM bits a mapping reads and writes.
fn dram_bits(c: &Cost) -> f64 {
    c.energy.bits_read[0].iter().sum::<f64>() + c.energy.bits_written[0].iter().sum::<f64>()
}

fn on_chip_bits(t: &Target, layer: &Layer, m: &Mapping, lv: usize) -> u64 {
    resident_bits(t, &layer.workload, m)[lv].iter().sum()
}

/// Chooses where the model's tensors live, starting from `baseline`: one solved layer per
/// model layer (`None`: skipped), every tensor in DRAM; then bounds each chosen layer over
/// every mapping ([`certify`]). Returns the baseline (certified) as the decision when the
/// target has no on-chip level tensors may live in.
pub fn improve(
    model: &Model,
    t: &Target,
    baseline: Vec<Option<Solved>>,
    opts: &CompileOptions,
    objective: &LayerObjective,
    observer: &dyn Observer,
) -> Result<Decision> {
    let mut d = plan(model, t, baseline, opts, objective, observer)?;
    let l_off = d.baseline.latency_cycles;
    let e_off = d.baseline.energy_nj;
    let lv = resident_level(t);
    let certified = certify(model, t, lv, &d.chosen, opts, objective, observer);
    if observer.interrupted() {
        return Err(Error::Interrupted);
    }
    // A certified layer may have a better mapping; the plan still has to keep the latency and
    // energy it promised and lay out, or the mappings it chose stay (with their own bounds).
    let adopted = adopt(model, &d.chosen, certified.clone(), opts, l_off, e_off);
    let laid_out = match lv {
        Some(lv) => lay_out_or_go_back(model, t, lv, &d.chosen, adopted, |i| {
            // The certificate's bound holds for the chosen mapping too.
            d.chosen[i].clone().map(|mut v| {
                if let Some(c) = certified[i].as_ref() {
                    v.solved.info = bounded_by(&v.solved, &c.solved.info, opts.gap);
                }
                v
            })
        })
        .filter(|(c, _)| {
            let value = |c: &[Option<Variant>]| model_value(c, opts, l_off, e_off);
            value(c).is_some_and(|v| value(&d.chosen).is_none_or(|before| v <= before))
        }),
        None => Some((adopted, d.resident_tensors)),
    };
    match laid_out {
        Some((chosen, resident)) => {
            d.resident_tensors = resident;
            d.chosen = chosen;
        }
        None => d.chosen = unmoved(&d.chosen, &certified),
    }
    Ok(d)
}

/// `adopted` (the chosen variants with the polished or certified mappings [`adopt`] took)
/// laid out in the on-chip level `lv`, with the number of tensors that live there. A searched
/// mapping runs in its variant's room, but the room is a capacity, not an address range: its
/// buffers may find no place at its step beside the tensors the plan keeps there. Such a layer
/// goes back to `go_back(layer)` (its chosen variant), step by step, until the plan lays out;
/// `None` when it does not even then. Before certification used it, one such layer sent every
/// certified mapping back: on ResNet-50 / `default` that dropped five layers' better mappings,
/// 0.58 % of model EDP.
fn lay_out_or_go_back(
    model: &Model,
    t: &Target,
    lv: usize,
    chosen: &[Option<Variant>],
    mut adopted: Vec<Option<Variant>>,
    go_back: impl Fn(usize) -> Option<Variant>,
) -> Option<(Vec<Option<Variant>>, usize)> {
    let step_of = layer_steps(model);
    loop {
        match fits(model, t, lv, &adopted) {
            Ok(resident) => return Some((adopted, resident)),
            Err(no) => {
                let back = (0..adopted.len()).find(|&i| {
                    step_of[i] == no.step && mapping_of(&adopted[i]) != mapping_of(&chosen[i])
                })?;
                adopted[back] = go_back(back);
            }
        }
    }
}

/// The flow step of each model layer.
fn layer_steps(model: &Model) -> Vec<usize> {
    let mut step_of = vec![0usize; model.layers.len()];
    for (k, n) in model.flow.nodes.iter().enumerate() {
        if let FlowNodeKind::Layer(l) = n.kind {
            step_of[l] = k;
        }
    }
    step_of
}

/// What a search of the chosen layers found (`found`, per model layer: found, or
/// polished), taken where it leaves the model no worse: a layer whose mapping did not move
/// takes its new record (a certificate); one whose mapping moved is better on its layer
/// objective, but the model's objective is not the sum of those (EDP multiplies the totals,
/// and the layers' latency weight is fixed before the search), so each group of identical
/// layers moves in model order only if the model's objective does not get worse and its
/// latency and energy stay within `l_cap` and `e_cap`.
fn adopt(
    model: &Model,
    before: &[Option<Variant>],
    found: Vec<Option<Variant>>,
    opts: &CompileOptions,
    l_cap: f64,
    e_cap: f64,
) -> Vec<Option<Variant>> {
    let model_value = |c: &[Option<Variant>]| model_value(c, opts, l_cap, e_cap);
    let mut out = unmoved(before, &found);
    let mut decided = vec![false; before.len()];
    for i in 0..before.len() {
        if decided[i] || mapping_of(&before[i]) == mapping_of(&found[i]) {
            continue;
        }
        let group: Vec<usize> = (i..before.len())
            .filter(|&j| {
                model.layers[j].dedup_group == model.layers[i].dedup_group
                    && mapping_of(&before[j]) == mapping_of(&before[i])
                    && mapping_of(&found[j]) == mapping_of(&found[i])
            })
            .collect();
        let mut trial = out.clone();
        for &j in &group {
            decided[j] = true;
            trial[j] = found[j].clone();
        }
        let now = model_value(&out).unwrap_or(f64::INFINITY);
        if model_value(&trial).is_some_and(|v| v <= now) {
            out = trial;
        } else {
            // The search's bound holds for every mapping at these homes, the one kept too.
            for &j in &group {
                if let (Some(o), Some(c)) = (out[j].as_mut(), found[j].as_ref()) {
                    o.solved.info = bounded_by(&o.solved, &c.solved.info, opts.gap);
                }
            }
        }
    }
    out
}

/// The model's objective with these variants, if its latency and energy are within `l_cap`
/// and `e_cap`.
fn model_value(
    c: &[Option<Variant>],
    opts: &CompileOptions,
    l_cap: f64,
    e_cap: f64,
) -> Option<f64> {
    let (l, e, _) = totals(c);
    let within = l <= l_cap * (1.0 + 1e-12) && e <= e_cap * (1.0 + 1e-12);
    within.then(|| opts.objective.layer_objective().of_parts(l, e))
}

/// `s`'s solve record with `bound`'s bound over every mapping, where that is higher: the gap
/// and status follow from it, the rest of the record (its search) stays.
fn bounded_by(s: &Solved, bound: &SolveInfo, gap: f64) -> SolveInfo {
    let mut info = s.info.clone();
    let (Some(objective), Some(b)) = (info.objective, bound.best_bound) else {
        return info;
    };
    if info.best_bound.is_some_and(|old| old >= b) {
        return info;
    }
    let g = cimopt_optimiser::relative_gap(objective, b);
    info.best_bound = Some(b.min(objective));
    info.gap = Some(g);
    info.space_bound = info.space_bound.map(|sb| sb.max(b).min(objective));
    info.space_gap = info
        .space_bound
        .map(|sb| cimopt_optimiser::relative_gap(objective, sb));
    if g <= gap {
        info.status = "optimal".into();
        info.stop_reasons = vec!["gap_reached".into()];
    }
    info
}

/// Each distinct chosen layer (identical layers with the same variant once), bounded over every
/// mapping at its homes, in the room its variant was given ([`certify_layer`]), in parallel.
/// A certified layer replaces its variant when its mapping is the same (its bound is then the
/// certificate's) or better on the layer objective and valid on the target; otherwise, or when
/// certification is off or fails, the variant stays.
pub fn certify(
    model: &Model,
    t: &Target,
    lv: Option<usize>,
    chosen: &[Option<Variant>],
    opts: &CompileOptions,
    objective: &LayerObjective,
    observer: &dyn Observer,
) -> Vec<Option<Variant>> {
    if !opts.certifies() {
        // No stage to show either.
        return chosen.to_vec();
    }
    let same = |u: &Variant, v: &Variant| u.budget == v.budget;
    per_distinct(
        model,
        chosen,
        |_| true,
        same,
        observer,
        Stage::Certify,
        |i, v| {
            let layer = &model.layers[i];
            let m = &v.solved.mapped.mapping;
            let s = certify_layer(&room(t, lv, v), layer, opts, objective, m)?.ok()?;
            let of = |c: &Cost| objective.objective.of(c);
            let same = s.mapped.mapping == *m;
            let better = of(&s.mapped.cost) < of(v.cost())
                && check(t, &layer.workload, &s.mapped.mapping).is_empty();
            (same || better).then(|| Variant {
                on_chip_bits: lv.map_or(v.on_chip_bits, |lv| {
                    on_chip_bits(t, layer, &s.mapped.mapping, lv)
                }),
                solved: s,
                ..v.clone()
            })
        },
    )
}

/// [`certify`] for a schedule without a memory plan (`--residency off`): every layer alone,
/// every tensor in DRAM, the whole target's room.
pub fn certify_alone(
    model: &Model,
    t: &Target,
    baseline: Vec<Option<Solved>>,
    opts: &CompileOptions,
    objective: &LayerObjective,
    observer: &dyn Observer,
) -> Result<Vec<Option<Solved>>> {
    let alone: Vec<Option<Variant>> = baseline
        .into_iter()
        .map(|s| {
            s.map(|solved| Variant {
                home: solved.mapped.mapping.home,
                budget: 0,
                solved,
                on_chip_bits: 0,
                screened: false,
            })
        })
        .collect();
    let certified = certify(model, t, None, &alone, opts, objective, observer);
    if observer.interrupted() {
        return Err(Error::Interrupted);
    }
    let certified = adopt(model, &alone, certified, opts, f64::INFINITY, f64::INFINITY);
    Ok(certified.into_iter().map(|v| v.map(|v| v.solved)).collect())
}

/// [`improve`]'s plan, before certification.
fn plan(
    model: &Model,
    t: &Target,
    baseline: Vec<Option<Solved>>,
    opts: &CompileOptions,
    objective: &LayerObjective,
    observer: &dyn Observer,
) -> Result<Decision> {
    let off: Vec<Option<Variant>> = baseline
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.map(|solved| Variant {
                home: [0; 3],
                budget: t.levels[resident_level(t).unwrap_or(0)].capacity_bits,
                screened: false,
                on_chip_bits: resident_level(t).map_or(0, |lv| {
                    on_chip_bits(t, &model.layers[i], &solved.mapped.mapping, lv)
                }),
                solved,
            })
        })
        .collect();
    let (l_off, e_off, d_off) = totals(&off);
    let base = PlanBaseline {
        latency_cycles: l_off,
        energy_nj: e_off,
        dram_bits: d_off,
    };
    let unchanged = |off: Vec<Option<Variant>>| Decision {
        chosen: off,
        baseline: base,
        resident_tensors: 0,
    };
    let Some(lv) = resident_level(t) else {
        return Ok(unchanged(off));
    };
    let capacity = t.levels[lv].capacity_bits;
    let pairs = layer_mappings(model, &off);
    let g = groups(model, t, &padded_sizes(model, &pairs));
    let step_of = layer_steps(model);
    let candidate: Vec<bool> = g
        .groups
        .iter()
        .map(|grp| grp.may_stay_on_chip && grp.bits <= capacity)
        .collect();
    // A layer left out of the schedule runs on the host: its tensors stay in DRAM.
    let mut candidate = candidate;
    for (i, v) in off.iter().enumerate() {
        if v.is_none() {
            let (a, b, c) = g.layer_io[i];
            candidate[a] = false;
            candidate[c] = false;
            if let Some(b) = b {
                candidate[b] = false;
            }
        }
    }
    if !candidate.iter().any(|&c| c) {
        return Ok(unchanged(off));
    }
    // What the other candidates could occupy at a layer's step.
    let reserve = |i: usize| -> u64 {
        let (a, b, c) = g.layer_io[i];
        let s = step_of[i];
        g.groups
            .iter()
            .enumerate()
            .filter(|&(k, grp)| {
                candidate[k]
                    && grp.live[0] <= s
                    && s <= grp.live[1]
                    && k != a
                    && k != c
                    && Some(k) != b
            })
            .map(|(_, grp)| grp.bits)
            .sum()
    };
    // The variants to solve: (layer, home, capacity left for the layer in the level). First
    // with the whole level for the layer; then, where a variant's own bits and what the other
    // tensors may hold at its step exceed the level, again with only what they leave.
    let mut jobs: Vec<(usize, [usize; 3], u64)> = Vec::new();
    for (i, v) in off.iter().enumerate() {
        if v.is_none() {
            continue;
        }
        let (a, b, c) = g.layer_io[i];
        let opts_of = |grp: Option<usize>| -> Vec<usize> {
            match grp {
                Some(k) if candidate[k] => vec![0, lv],
                _ => vec![0],
            }
        };
        for hi in opts_of(Some(a)) {
            for hw in opts_of(b) {
                for ho in opts_of(Some(c)) {
                    let home = [hi, hw, ho];
                    if home != [0; 3] && own_bits(&g, i, home, lv) <= capacity {
                        jobs.push((i, home, capacity));
                    }
                }
            }
        }
    }
    let started = std::time::Instant::now();
    let ctx = Jobs {
        model,
        t,
        off: &off,
        lv,
        opts,
        objective,
        observer,
    };
    let mut solved = solve_jobs(&ctx, &jobs, Pricing::Screen);
    let mut tight: Vec<(usize, [usize; 3], u64)> = Vec::new();
    let full: Vec<(usize, &Variant)> = off
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_ref().map(|v| (i, v)))
        .chain(solved.iter().flatten().map(|(i, v)| (*i, v)))
        .collect();
    for (i, v) in full {
        let r = reserve(i);
        if r > 0
            && r < capacity
            && v.on_chip_bits + r > capacity
            && own_bits(&g, i, v.home, lv) <= capacity - r
        {
            tight.push((i, v.home, capacity - r));
        }
    }
    solved.extend(solve_jobs(&ctx, &tight, Pricing::Screen));
    log::debug!(
        target: "cimopt::residency",
        "{} + {} variants priced in {:.1} s, {} candidate tensors",
        jobs.len(),
        tight.len(),
        started.elapsed().as_secs_f64(),
        candidate.iter().filter(|&&c| c).count()
    );
    if observer.interrupted() {
        return Err(Error::Interrupted);
    }
    let mut variants: Vec<Vec<Variant>> = off.iter().map(|v| v.iter().cloned().collect()).collect();
    for (i, v) in solved.into_iter().flatten() {
        variants[i].push(v);
    }
    // Pick, solve what was picked on the screen's price alone, pick again; then lay the pick
    // out. Each refinement solves at least one more variant, so the rounds are bounded; past
    // them every variant still only screened is dropped, and the pick is among solved ones.
    let mut cut: Vec<(usize, u64)> = Vec::new();
    let (mut refinements, mut layouts, mut refined) = (0, 0, 0);
    // Why the plan keeps nothing on chip, should it end so: the user is told.
    let mut gave_up = String::from("no pick of tensors to keep laid out");
    // Each layout past the cuts evicts a tensor, so the candidates bound them.
    let attempts = LAYOUT_ATTEMPTS + candidate.iter().filter(|&&c| c).count();
    while layouts < attempts {
        let Some(pick) = choose(
            model, &g, &candidate, &variants, lv, capacity, &cut, l_off, e_off, opts,
        ) else {
            gave_up =
                "its MILP found no pick (`CIMOPT_LOG=cimopt::residency=debug` says more)".into();
            break;
        };
        let screened: Vec<(usize, [usize; 3], u64)> = pick
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let v = &variants[i][(*p)?];
                v.screened.then_some((i, v.home, v.budget))
            })
            .collect();
        if !screened.is_empty() {
            if refinements == REFINE_ROUNDS {
                for vs in &mut variants {
                    vs.retain(|v| !v.screened);
                }
                continue;
            }
            refinements += 1;
            refined += screened.len();
            let better = solve_jobs(&ctx, &screened, Pricing::Solve);
            if observer.interrupted() {
                return Err(Error::Interrupted);
            }
            // The solved variant takes its screened one's place (or, if it failed, the screened
            // one goes): the same layer, homes and budget.
            for (&(i, home, budget), b) in screened.iter().zip(better) {
                let at = variants[i]
                    .iter()
                    .position(|v| v.screened && v.home == home && v.budget == budget);
                if let Some(at) = at {
                    match b {
                        Some((_, v)) => variants[i][at] = v,
                        None => {
                            variants[i].remove(at);
                        }
                    }
                }
            }
            continue;
        }
        layouts += 1;
        let chosen: Vec<Option<Variant>> = pick
            .iter()
            .enumerate()
            .map(|(i, p)| p.map(|k| variants[i][k].clone()))
            .collect();
        match fits(model, t, lv, &chosen) {
            Ok(resident_tensors) => {
                log::debug!(
                    target: "cimopt::residency",
                    "{refined} variants solved in {refinements} refinements, {layouts} layouts, {:.1} s in all",
                    started.elapsed().as_secs_f64()
                );
                let polishing = std::time::Instant::now();
                let polished = polish(&ctx, &chosen, Climb::Reorders);
                log::debug!(
                    target: "cimopt::residency",
                    "{} variants polished in {:.1} s",
                    polished
                        .iter()
                        .zip(&chosen)
                        .filter(|(p, c)| p.as_ref().map(|v| &v.solved.mapped.mapping)
                            != c.as_ref().map(|v| &v.solved.mapped.mapping))
                        .count(),
                    polishing.elapsed().as_secs_f64()
                );
                if observer.interrupted() {
                    return Err(Error::Interrupted);
                }
                // Each polished layer is better on its objective and keeps no more on chip, but
                // the model's objective is not the sum of the layers' (see `adopt`) and the plan
                // promised the baseline's latency and energy: the polished variants are taken
                // all together, or group by group of identical layers where the model gains,
                // whichever is better, as long as the promises hold; and the result must lay
                // out.
                if polished
                    .iter()
                    .zip(&chosen)
                    .any(|(p, c)| p.is_some() != c.is_some())
                {
                    return Ok(Decision {
                        chosen,
                        baseline: base,
                        resident_tensors,
                    });
                }
                let value = |c: &[Option<Variant>]| {
                    model_value(c, opts, l_off, e_off).unwrap_or(f64::INFINITY)
                };
                let by_group = adopt(model, &chosen, polished.clone(), opts, l_off, e_off);
                let polished = if value(&polished) <= value(&by_group) {
                    polished
                } else {
                    by_group
                };
                // Then the climb again from the polished variants, with loop splits: a small
                // loop split off innermost (outputs kept in the registers while the rest of its
                // dim stays outside) is out of the reorderings' reach. Its results are taken
                // group by group, where the model gains.
                let split = polish(&ctx, &polished, Climb::Splits);
                if observer.interrupted() {
                    return Err(Error::Interrupted);
                }
                let polished = adopt(model, &polished, split, opts, l_off, e_off);
                // A polished layer whose buffers find no room at its step goes back to its
                // chosen variant, until the plan lays out.
                return Ok(
                    match lay_out_or_go_back(model, t, lv, &chosen, polished, |i| chosen[i].clone())
                    {
                        Some((polished, resident_tensors)) => Decision {
                            chosen: polished,
                            baseline: base,
                            resident_tensors,
                        },
                        None => Decision {
                            chosen,
                            baseline: base,
                            resident_tensors,
                        },
                    },
                );
            }
            Err(no) if no.level == lv && layouts < LAYOUT_ATTEMPTS => {
                log::debug!(
                    target: "cimopt::residency",
                    "no room for {} ({} bit) at {}: that step's capacity is cut while a tensor stays there",
                    no.what,
                    no.bits,
                    no.node
                );
                cut.push((no.step, no.bits))
            }
            Err(no) if no.level == lv => match evict(
                &g,
                &group_homes(&g, &layer_mappings(model, &chosen)),
                lv,
                no.step,
            ) {
                Some(k) => {
                    log::debug!(
                        target: "cimopt::residency",
                        "no room for {} ({} bit) at {} after {LAYOUT_ATTEMPTS} cuts: evicted a {} bit tensor kept there",
                        no.what,
                        no.bits,
                        no.node,
                        g.groups[k].bits
                    );
                    candidate[k] = false;
                }
                None => {
                    gave_up = format!(
                        "no room for {} ({} bit) at {} with no tensor kept there",
                        no.what, no.bits, no.node
                    );
                    break;
                }
            },
            Err(no) => {
                gave_up = format!(
                    "no room for {} ({} bit) in `{}` at {}",
                    no.what, no.bits, t.levels[no.level].name, no.node
                );
                break;
            }
        }
    }
    observer.warning(&format!(
        "the memory plan keeps every tensor in DRAM: {gave_up}"
    ));
    Ok(unchanged(off))
}

/// The tensor a pick that does not lay out gives up: the largest whose home is level `lv`
/// ([`group_homes`]) and live at `step`, where the layout found no room (the first such group
/// on a tie); `None` when none is.
fn evict(g: &Groups, home: &[usize], lv: usize, step: usize) -> Option<usize> {
    g.groups
        .iter()
        .enumerate()
        .filter(|&(k, grp)| home[k] == lv && grp.live[0] <= step && step <= grp.live[1])
        .max_by(|a, b| a.1.bits.cmp(&b.1.bits).then(b.0.cmp(&a.0)))
        .map(|(k, _)| k)
}

/// Each group's home, as the mappings of the layers that touch it give it.
fn group_homes(g: &Groups, pairs: &[(&Layer, &Mapping)]) -> Vec<usize> {
    let mut home = vec![0usize; g.groups.len()];
    for (layer, m) in pairs {
        let (a, b, c) = g.layer_io[layer.index];
        home[a] = m.home_of(Operand::I);
        if let Some(b) = b {
            home[b] = m.home_of(Operand::W);
        }
        home[c] = m.home_of(Operand::O);
    }
    home
}

/// Each scheduled layer with its variant's mapping.
fn layer_mappings<'a>(
    model: &'a Model,
    variants: &'a [Option<Variant>],
) -> Vec<(&'a Layer, &'a Mapping)> {
    variants
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.as_ref()
                .map(|v| (&model.layers[i], &v.solved.mapped.mapping))
        })
        .collect()
}

/// Lays the chosen variants out: the number of tensors kept in level `lv`, or where
/// fragmentation left no room at a step the capacity rows allowed.
fn fits(
    model: &Model,
    t: &Target,
    lv: usize,
    chosen: &[Option<Variant>],
) -> std::result::Result<usize, crate::plan::NoRoom> {
    let pairs = layer_mappings(model, chosen);
    let gp = groups(model, t, &padded_sizes(model, &pairs));
    let home = group_homes(&gp, &pairs);
    lay_out(model, t, &gp, &home, &pairs, true)?;
    Ok(home.iter().filter(|&&h| h == lv).count())
}

/// `t` with the room `v` was given in the on-chip level `lv` (the whole target without one).
fn room(t: &Target, lv: Option<usize>, v: &Variant) -> Target {
    let mut tv = t.clone();
    if let Some(lv) = lv {
        tv.levels[lv].capacity_bits = v.budget;
    }
    tv
}

/// `search(i, variant)` once per distinct chosen variant that `wanted` accepts (identical
/// layers with the same homes and mapping share one when `same` also holds for their
/// variants), in parallel; per model layer, its variant's result where the search returned
/// one, else its variant as chosen. Stops searching once `observer`.
fn per_distinct(
    model: &Model,
    chosen: &[Option<Variant>],
    wanted: impl Fn(&Variant) -> bool,
    same: impl Fn(&Variant, &Variant) -> bool,
    observer: &dyn Observer,
    stage: Stage,
    search: impl Fn(usize, &Variant) -> Option<Variant> + Sync,
) -> Vec<Option<Variant>> {
    // `of[i]`: the index into `unique` of layer i's search.
    let mut unique: Vec<usize> = Vec::new();
    let mut of: Vec<Option<usize>> = vec![None; chosen.len()];
    for (i, v) in chosen.iter().enumerate() {
        let Some(v) = v.as_ref().filter(|v| wanted(v)) else {
            continue;
        };
        let shared = |&j: &usize| {
            let u = chosen[j].as_ref().expect("a chosen variant");
            model.layers[j].dedup_group == model.layers[i].dedup_group
                && u.home == v.home
                && same(u, v)
                && u.solved.mapped.mapping == v.solved.mapped.mapping
        };
        of[i] = Some(unique.iter().position(shared).unwrap_or_else(|| {
            unique.push(i);
            unique.len() - 1
        }));
    }
    let progress = StageProgress::start(observer, stage, unique.len());
    let found: Vec<Option<Variant>> = unique
        .par_iter()
        .enumerate()
        .map(|(k, &i)| {
            if progress.interrupted() {
                return None;
            }
            let before = chosen[i].as_ref()?;
            let found = search(i, before);
            let copies = of.iter().filter(|&&o| o == Some(k)).count();
            let cache_hit = found.as_ref().is_some_and(|f| f.solved.cache_hit);
            let detail = what_moved(before, found.as_ref());
            progress.done(&model.layers[i], copies, cache_hit, &detail);
            found
        })
        .collect();
    drop(progress);
    chosen
        .iter()
        .zip(&of)
        .map(|(v, k)| match k.and_then(|k| found[k].as_ref()) {
            Some(f) => Some(f.clone()),
            None => v.clone(),
        })
        .collect()
}

/// What a search of [`per_distinct`] changed in a variant's solve record, for its progress: the
/// layer objective and the gap over every mapping, where they moved.
fn what_moved(before: &Variant, found: Option<&Variant>) -> String {
    let (b, f) = (&before.solved.info, found.map(|v| &v.solved.info));
    let mut notes = Vec::new();
    if let (Some(old), Some(new)) = (b.objective, f.and_then(|f| f.objective))
        && new < old
    {
        notes.push(format!(
            "found a mapping {:.2} % better on the layer objective",
            100.0 * (old - new) / old
        ));
    }
    let shown = |g: Option<f64>| g.map(|g| format!("{:.1} %", 100.0 * g));
    match (shown(b.gap), shown(f.and_then(|f| f.gap))) {
        (Some(old), Some(new)) if new != old => notes.push(format!("gap {old} -> {new}")),
        (Some(old), _) => notes.push(format!("gap {old}")),
        _ => {}
    }
    notes.join(", ")
}

/// The chosen variants that keep a tensor on chip, searched further by `mip`
/// ([`polish_layer_variant`]: a hill climb over reorderings of each one's loops, and other
/// spatial candidates, or with [`Climb::Splits`] reorderings and loop splits, in the room the
/// variant was given). Variants are priced around the layer's mapping in DRAM, whose loop
/// order and unrolling a tensor moved on chip often no longer suit; the climb is given only to
/// the variants the plan keeps. A polished mapping replaces its variant only if it is better
/// on the layer objective and valid; the caller decides which the model takes (`adopt`) and
/// lays the result out again.
fn polish(ctx: &Jobs, chosen: &[Option<Variant>], climb: Climb) -> Vec<Option<Variant>> {
    let Jobs {
        model,
        t,
        lv,
        opts,
        objective,
        observer,
        ..
    } = *ctx;
    if opts.mapper != crate::Mapper::Mip {
        return chosen.to_vec();
    }
    // Identical layers with the same variant are polished once.
    let on_chip = |v: &Variant| v.home != [0; 3];
    let same = |u: &Variant, v: &Variant| u.on_chip_bits == v.on_chip_bits;
    per_distinct(
        model,
        chosen,
        on_chip,
        same,
        observer,
        Stage::Polish,
        |i, v| {
            let layer = &model.layers[i];
            let m = &v.solved.mapped.mapping;
            let room = room(t, Some(lv), v);
            let s = polish_layer_variant(&room, layer, opts, objective, m, climb).ok()?;
            let of = |c: &Cost| objective.objective.of(c);
            let bits = on_chip_bits(t, layer, &s.mapped.mapping, lv);
            (of(&s.mapped.cost) < of(v.cost())
                && check(t, &layer.workload, &s.mapped.mapping).is_empty())
            .then(|| Variant {
                solved: s,
                on_chip_bits: bits,
                ..v.clone()
            })
        },
    )
}

/// The MILP: one variant per layer, a home per tensor, capacity at every step; `cut` lowers
/// the capacity at steps a layout found too fragmented, while some tensor stays resident there
/// (with none, the running layer's buffers lay out in an empty level, so the pick that keeps
/// nothing on chip always remains). Returns per layer the chosen variant's index into
/// `variants[i]`.
#[allow(clippy::too_many_arguments)]
fn choose(
    model: &Model,
    g: &Groups,
    candidate: &[bool],
    variants: &[Vec<Variant>],
    lv: usize,
    capacity: u64,
    cut: &[(usize, u64)],
    l_off: f64,
    e_off: f64,
    opts: &CompileOptions,
) -> Option<Vec<Option<usize>>> {
    let mut vars = ProblemVariables::new();
    let x: Vec<Option<Variable>> = candidate
        .iter()
        .map(|&c| c.then(|| vars.add(variable().binary())))
        .collect();
    let y: Vec<Vec<Variable>> = variants
        .iter()
        .map(|vs| vs.iter().map(|_| vars.add(variable().binary())).collect())
        .collect();
    // Per step a layout found too fragmented: whether any tensor stays resident there.
    let resident_at: Vec<Option<Variable>> = (0..g.steps)
        .map(|s| {
            cut.iter()
                .any(|c| c.0 == s)
                .then(|| vars.add(variable().binary()))
        })
        .collect();
    let scale_l = l_off.max(1.0);
    let scale_e = e_off.max(1e-9);
    let lambda = e_off / l_off.max(1.0);
    let mut objective = Expression::default();
    let mut total_l = Expression::default();
    let mut total_e = Expression::default();
    let mut rows: Vec<good_lp::Constraint> = Vec::new();
    for (i, vs) in variants.iter().enumerate() {
        if vs.is_empty() {
            continue;
        }
        let mut one = Expression::default();
        for (k, v) in vs.iter().enumerate() {
            let c = v.cost();
            one += y[i][k];
            total_l.add_mul(c.latency_cycles / scale_l, y[i][k]);
            total_e.add_mul(c.energy_nj / scale_e, y[i][k]);
            let value = match opts.objective {
                crate::ModelObjective::Latency => c.latency_cycles / scale_l,
                crate::ModelObjective::Energy => c.energy_nj / scale_e,
                crate::ModelObjective::Edp => {
                    (c.energy_nj + lambda * c.latency_cycles) / (scale_e + lambda * scale_l)
                }
            };
            objective.add_mul(value, y[i][k]);
        }
        rows.push(one.eq(1.0));
        // Each variant's homes agree with its tensors'.
        let (a, b, c) = g.layer_io[i];
        for (o, grp) in [
            (Operand::I, Some(a)),
            (Operand::W, b),
            (Operand::O, Some(c)),
        ] {
            let Some(grp) = grp else {
                continue;
            };
            let mut on = Expression::default();
            for (k, v) in vs.iter().enumerate() {
                if v.home[o.index()] == lv {
                    on += y[i][k];
                }
            }
            match x[grp] {
                Some(xg) => rows.push((on - xg).eq(0.0)),
                None => rows.push(on.eq(0.0)),
            }
        }
    }
    // The level's capacity at every step: live resident tensors, and the running layer's own
    // bits in place of its tensors.
    let cap = capacity as f64;
    for (s, resident) in resident_at.iter().enumerate() {
        let layer_here = match model.flow.nodes[s].kind {
            FlowNodeKind::Layer(l) if !variants[l].is_empty() => Some(l),
            _ => None,
        };
        let mut used = Expression::default();
        for (k, grp) in g.groups.iter().enumerate() {
            let Some(xk) = x[k] else {
                continue;
            };
            if grp.live[0] <= s && s <= grp.live[1] {
                if let Some(z) = *resident {
                    rows.push((z - xk).geq(0.0));
                }
                let own = layer_here.is_some_and(|l| {
                    let (a, b, c) = g.layer_io[l];
                    k == a || k == c || Some(k) == b
                });
                if !own {
                    used.add_mul(grp.bits as f64 / cap, xk);
                }
            }
        }
        if let Some(l) = layer_here {
            for (k, v) in variants[l].iter().enumerate() {
                used.add_mul(v.on_chip_bits as f64 / cap, y[l][k]);
            }
        }
        if let Some(z) = *resident {
            let lost: u64 = cut.iter().filter(|c| c.0 == s).map(|c| c.1).sum();
            used.add_mul(lost.min(capacity) as f64 / cap, z);
        }
        rows.push(used.leq(1.0));
    }
    // Never worse than the baseline on latency or energy.
    rows.push(total_l.leq(1.0 + 1e-9));
    rows.push(total_e.leq(1.0 + 1e-9));
    let mut m = highs_model(vars, objective, rows);
    m.set_option("mip_rel_gap", 1e-6);
    m.set_option("time_limit", 60.0);
    let solved = m.try_solve().ok()?;
    if solved.primal_solution_status() != highs::HighsSolutionStatus::Feasible {
        log::debug!(
            target: "cimopt::residency",
            "residency MILP: no feasible pick ({:?})",
            solved.status()
        );
        return None;
    }
    let cols = solved.get_solution();
    let cols = cols.columns();
    // Columns are numbered in the order they were added: x first, then y.
    let base = x.iter().flatten().count();
    let mut at = base;
    let mut pick = Vec::with_capacity(variants.len());
    for vs in variants {
        if vs.is_empty() {
            pick.push(None);
            continue;
        }
        let best = (0..vs.len())
            .max_by(|&a, &b| cols[at + a].total_cmp(&cols[at + b]).then(b.cmp(&a)))
            .expect("a variant");
        pick.push(Some(best));
        at += vs.len();
    }
    log::debug!(
        target: "cimopt::residency",
        "residency MILP: {} tensors, {} variants",
        base,
        at - base
    );
    Some(pick)
}

/// A HiGHS model minimising `objective` under `rows`, solved as every solve of the pipeline is:
/// one thread and a fixed seed (the same inputs give the same answer), quiet unless the
/// `cimopt::highs` log is at trace.
pub(crate) fn highs_model(
    vars: ProblemVariables,
    objective: Expression,
    rows: Vec<good_lp::Constraint>,
) -> highs::Model {
    let mut problem = vars
        .minimise(objective)
        .using(good_lp::solvers::highs::highs);
    for r in rows {
        problem.add_constraint(r);
    }
    let mut m = problem.into_inner();
    m.make_quiet();
    m.set_option("threads", 1);
    m.set_option("random_seed", 0);
    let verbose = log::log_enabled!(target: "cimopt::highs", log::Level::Trace);
    m.set_option("output_flag", verbose);
    m
}
