//! Choosing one layer's mapping: the per-layer objective a model objective becomes, the
//! mapper dispatch, and the evidence each solve leaves in the schedule.

use crate::cache;
use crate::options::{CompileOptions, Mapper};
use cimopt_cost::{Objective, evaluate};
use cimopt_ir::{Layer, Mapping, check};
use cimopt_mappers::{GreedyOptions, Mapped, greedy, weight_stationary_at};
use cimopt_optimiser::{Options, StopReason};
use cimopt_schedule::{Candidates, SolveInfo};
use cimopt_target::Target;

/// What each layer minimises, derived from the model-level objective, and the warm starts
/// that derivation produced.
pub struct LayerObjective {
    pub objective: Objective,
    /// Greedy's mapping of each distinct layer for the per-layer EDP (by layer index): further
    /// warm starts for the optimiser when the model's EDP is the goal.
    pub hints: std::collections::BTreeMap<usize, Mapping>,
}

impl LayerObjective {
    /// The options this adds to the schedule's record (and to the cache key).
    pub fn record(&self, options: &mut std::collections::BTreeMap<String, String>) {
        if let Objective::Weighted { nj_per_cycle } = self.objective {
            options.insert(
                "edp_latency_weight_nj_per_cycle".into(),
                nj_per_cycle.to_string(),
            );
        }
    }
}

/// The per-layer objective of a model. Latency and energy add up over layers, so each layer
/// minimises the model's objective. The model's EDP `(Σ E_i)·(Σ L_i)` does not split that way:
/// for the optimisers each layer minimises `E_i + λ·L_i` with `λ = E/L` of the greedy
/// mapper's schedule (mapped here first, layers in parallel), which can only lower the model's
/// EDP below greedy's (see `Objective::Weighted`). `layers` are the distinct layers, each with
/// the number of layers it stands for. Layers greedy cannot map are left out of `λ` (their
/// error is reported when they are mapped).
pub fn layer_objective(
    t: &Target,
    layers: &[(&Layer, usize)],
    opts: &CompileOptions,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> LayerObjective {
    let objective = opts.objective.layer_objective();
    let mut out = LayerObjective {
        objective,
        hints: Default::default(),
    };
    if objective != Objective::Edp || !opts.mapper.is_optimiser() {
        return out;
    }
    use rayon::prelude::*;
    // Through the solve cache, like the solves it weights: a warm recompile would otherwise
    // spend most of its time here.
    let greedy_opts = CompileOptions {
        mapper: Mapper::Greedy,
        ..opts.clone()
    };
    let own_edp = LayerObjective {
        objective,
        hints: Default::default(),
    };
    let mapped: Vec<(usize, usize, Mapped)> = layers
        .par_iter()
        .filter_map(|&(layer, copies)| {
            if interrupted() {
                return None;
            }
            // The layer's precision is checked first, as for every solve.
            solve(t, layer, [0; 3], &greedy_opts, &own_edp, None, true)
                .ok()
                .map(|s| (layer.index, copies, s.mapped))
        })
        .collect();
    let (mut latency, mut energy) = (0.0, 0.0);
    for (index, copies, m) in mapped {
        latency += copies as f64 * m.cost.latency_cycles;
        energy += copies as f64 * m.cost.energy_nj;
        out.hints.insert(index, m.mapping);
    }
    if latency > 0.0 && energy > 0.0 {
        out.objective = Objective::Weighted {
            nj_per_cycle: energy / latency,
        };
    }
    out
}

/// One layer's mapping and the evidence of how it was found.
#[derive(Clone, Debug)]
pub struct Solved {
    pub mapped: Mapped,
    pub info: SolveInfo,
    /// Whether the mapping came from the solve cache.
    pub cache_hit: bool,
}

/// A layer at widths the macro cannot run is unmappable, with what would run it.
fn refuse_precision(t: &Target, layer: &Layer) -> crate::Result<()> {
    let errors = cimopt_ir::analysis::precision_errors(t, &layer.workload);
    if errors.is_empty() {
        return Ok(());
    }
    let mut help = Vec::new();
    let w = layer.workload.bits.weight;
    if let Some(b) = w.filter(|&b| !t.macro_.weight_bits_supported.contains(&b))
        && let Some(up) = t.macro_.weight_bits_supported.iter().find(|&&s| s > b)
    {
        help.push(format!(
            "macro.pad_unsupported_weights = true runs its weights at {up} bits"
        ));
    }
    help.push("--precision target runs every layer at the target's precisions".into());
    Err(unmappable(
        layer,
        format!(
            "the macro cannot run its precisions: {}; {}",
            errors.join("; "),
            help.join(", ")
        ),
    ))
}

fn unmappable(layer: &Layer, reason: impl std::fmt::Display) -> crate::Error {
    crate::Error::Unmappable {
        index: layer.index,
        name: layer.name.clone(),
        op: layer.workload.op.name().to_string(),
        reason: reason.to_string(),
    }
}

/// Maps one layer with the chosen mapper, through the cache for the optimisers.
pub fn solve_layer(
    t: &Target,
    layer: &Layer,
    opts: &CompileOptions,
    layer_objective: &LayerObjective,
) -> crate::Result<Solved> {
    solve_layer_at(t, layer, [0; 3], opts, layer_objective)
}

/// A residency variant of a layer: its tensors at `home`, searched around `seed` (its mapping
/// with every tensor in DRAM): see `cimopt_optimiser::optimise_around`. The heuristic mappers
/// map it afresh.
pub fn solve_layer_variant(
    t: &Target,
    layer: &Layer,
    home: [usize; 3],
    opts: &CompileOptions,
    layer_objective: &LayerObjective,
    seed: &Mapping,
) -> crate::Result<Solved> {
    let cached = opts.mapper.is_optimiser();
    solve(
        t,
        layer,
        home,
        opts,
        layer_objective,
        Some(Around::Seed(seed)),
        cached,
    )
}

/// Rounds of the hill climb over loop moves and reorderings that [`polish_layer_variant`] gives
/// each variant the memory plan keeps (`cimopt_optimiser::Options::around_rounds`).
pub const POLISH_ROUNDS: usize = 3;

/// A variant the memory plan chose, searched further: a hill climb over the reorderings (and,
/// with [`Climb::Splits`], loop splits) of its mapping's nest, each re-placed by the MILP
/// ([`POLISH_ROUNDS`]). Never worse than `chosen` on the layer objective. With the `mip` mapper only; the others return
/// `chosen`'s own price.
pub fn polish_layer_variant(
    t: &Target,
    layer: &Layer,
    opts: &CompileOptions,
    layer_objective: &LayerObjective,
    chosen: &Mapping,
    climb: Climb,
) -> crate::Result<Solved> {
    solve(
        t,
        layer,
        chosen.home,
        opts,
        layer_objective,
        Some(Around::Climb(chosen, POLISH_ROUNDS, climb == Climb::Splits)),
        true,
    )
}

/// The moves of a polish's climb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Climb {
    /// Reorderings of the variant's loops, from the variant as the plan chose it (with its own
    /// small spatial candidate whole, and other candidates).
    Reorders,
    /// Reorderings and loop splits, from a polished variant.
    Splits,
}

/// A layer of the chosen schedule, its tensors where `chosen` keeps them, bounded over every
/// mapping by searching whole the spatial candidates whose skeletons fit in
/// [`CompileOptions::certify_skeletons`] (`cimopt_optimiser::certify_from`): its bound, gap and
/// status, and a better mapping where that search finds one. With the `mip` mapper and a
/// budget only; otherwise `None`.
pub fn certify_layer(
    t: &Target,
    layer: &Layer,
    opts: &CompileOptions,
    layer_objective: &LayerObjective,
    chosen: &Mapping,
) -> Option<crate::Result<Solved>> {
    opts.certifies().then(|| {
        solve(
            t,
            layer,
            chosen.home,
            opts,
            layer_objective,
            Some(Around::Certify(chosen)),
            true,
        )
    })
}

/// A quick price of a residency variant: the better of the greedy mapper's mapping of the layer
/// with its tensors at `home` (cached like the optimisers' solves, so that a warm recompile does
/// not map every variant again) and `seed` (its mapping with every tensor in DRAM) moved to
/// those homes, when valid. The residency MILP chooses among such prices, and only the variants
/// it picks are then solved with the compile's mapper ([`solve_layer_variant`]), which starts
/// from both and can only improve on them.
pub fn screen_layer_variant(
    t: &Target,
    layer: &Layer,
    home: [usize; 3],
    opts: &CompileOptions,
    layer_objective: &LayerObjective,
    seed: &Mapping,
) -> crate::Result<Solved> {
    let greedy = CompileOptions {
        mapper: Mapper::Greedy,
        ..opts.clone()
    };
    let screened = solve(t, layer, home, &greedy, layer_objective, None, true);
    let w = &layer.workload;
    let moved = seed.rehomed(home);
    if !check(t, w, &moved).is_empty() {
        return screened;
    }
    let cost = evaluate(t, w, &moved);
    let of = |c: &cimopt_cost::Cost| layer_objective.objective.of(c);
    match screened {
        Ok(s) if of(&s.mapped.cost) <= of(&cost) => Ok(s),
        _ => Ok(Solved {
            info: SolveInfo {
                objective: Some(of(&cost)),
                ..heuristic_info("seed")
            },
            mapped: Mapped {
                mapping: moved,
                cost,
                evaluated: 1,
            },
            cache_hit: false,
        }),
    }
}

/// [`solve_layer`] for a layer whose operands' tensors live at `home` (a variant of the memory
/// plan: an input read from, or an output left in, an on-chip level).
pub fn solve_layer_at(
    t: &Target,
    layer: &Layer,
    home: [usize; 3],
    opts: &CompileOptions,
    layer_objective: &LayerObjective,
) -> crate::Result<Solved> {
    let cached = opts.mapper.is_optimiser();
    solve(t, layer, home, opts, layer_objective, None, cached)
}

/// Where a residency variant's search starts (`mip`; the other mappers map the layer afresh).
#[derive(Clone, Copy)]
pub enum Around<'a> {
    /// The layer's mapping with every tensor in DRAM: its nest re-placed at the variant's homes.
    Seed(&'a Mapping),
    /// A variant's own result, climbed from for this many rounds of reorderings (and loop
    /// splits: `true`).
    Climb(&'a Mapping, usize, bool),
    /// A layer's result in the chosen schedule, bounded over every mapping (and improved
    /// where that search finds better).
    Certify(&'a Mapping),
}

/// Maps one layer; `cached`: through the solve cache (when the options name its folder).
fn solve(
    t: &Target,
    layer: &Layer,
    home: [usize; 3],
    opts: &CompileOptions,
    layer_objective: &LayerObjective,
    around: Option<Around>,
    cached: bool,
) -> crate::Result<Solved> {
    let objective = layer_objective.objective;
    let hint = layer_objective.hints.get(&layer.index);
    let w = &layer.workload;
    refuse_precision(t, layer)?;
    // Every mapper, and the bounds every schedule records, enumerate the spatial unrollings:
    // a layer with too many is refused before any search starts.
    cimopt_space::spatial::check_enumerable(t, w).map_err(|e| unmappable(layer, e))?;
    let started = std::time::Instant::now();
    let cache = opts
        .cache_dir
        .as_deref()
        .filter(|_| cached)
        .map(|d| cache::entry(d, t, layer, home, around, opts, layer_objective));
    if let Some(path) = &cache {
        // A cached mapping is trusted only if it is still valid for this target and context.
        let hit = cache::read(path).filter(|(m, _)| m.home == home && check(t, w, m).is_empty());
        if let Some((mapping, mut info)) = hit {
            let cost = evaluate(t, w, &mapping);
            info.mapper = opts.mapper.name().to_string();
            info.objective = Some(objective.of(&cost));
            if opts.timings {
                info.wall_s = Some(started.elapsed().as_secs_f64());
                info.cache_hit = Some(true);
            }
            return Ok(Solved {
                mapped: Mapped {
                    mapping,
                    cost,
                    evaluated: 0,
                },
                info,
                cache_hit: true,
            });
        }
    }
    let (mapped, mut info) = match opts.mapper {
        Mapper::Ws => {
            let m = weight_stationary_at(t, w, home).map_err(|e| unmappable(layer, e))?;
            (m, heuristic_info("ws"))
        }
        Mapper::Greedy => {
            let m = greedy(
                t,
                w,
                &GreedyOptions {
                    objective,
                    home,
                    ..GreedyOptions::default()
                },
            )
            .map_err(|e| unmappable(layer, e))?;
            (m, heuristic_info("greedy"))
        }
        Mapper::Mip => {
            let o = Options {
                objective,
                home,
                ..opts.optimiser_options()
            };
            // The searches leave certification to the schedule's own layers.
            let search = Options {
                certify_skeletons: 0,
                ..o.clone()
            };
            let r = match around {
                Some(Around::Seed(seed)) => {
                    cimopt_optimiser::optimise_around(t, w, &search, std::slice::from_ref(seed))
                }
                Some(Around::Climb(start, around_rounds, around_splits)) => {
                    cimopt_optimiser::climb_from(
                        t,
                        w,
                        &Options {
                            around_rounds,
                            around_splits,
                            ..search
                        },
                        start,
                    )
                }
                Some(Around::Certify(start)) => cimopt_optimiser::certify_from(t, w, &o, start),
                None => cimopt_optimiser::optimise_from(t, w, &search, hint),
            }
            .map_err(|e| unmappable(layer, e))?;
            let s = &r.stats;
            let info = SolveInfo {
                mapper: "mip".into(),
                status: s.status.name().into(),
                objective: Some(s.objective),
                best_bound: Some(s.bound),
                gap: Some(s.gap),
                space_bound: Some(s.space_bound),
                space_gap: Some(s.space_gap),
                wall_s: None,
                candidates: Some(Candidates {
                    enumerated: s.candidates_enumerated,
                    pruned_by_bound: s.candidates_pruned,
                    solved: s.candidates_solved,
                }),
                warm_start: Some(true),
                cache_hit: None,
                stop_reasons: s
                    .stop_reasons
                    .iter()
                    .map(|r| r.name().to_string())
                    .collect(),
            };
            (
                Mapped {
                    mapping: r.mapping,
                    cost: r.cost,
                    evaluated: s.milp_solves,
                },
                info,
            )
        }
        Mapper::Exhaustive => {
            let limit = 6_000_000;
            let o = Options {
                objective,
                home,
                ..opts.optimiser_options()
            };
            let r = cimopt_optimiser::exhaustive(t, w, &o, hint, limit)
                .map_err(|e| unmappable(layer, e))?;
            let Some((mapping, cost, bound)) = r else {
                return Err(unmappable(
                    layer,
                    format!(
                        "too large for --mapper exhaustive (its space holds more than {limit} placement triples); use --mapper mip"
                    ),
                ));
            };
            // Exact over the space it searched; over the whole space only where that space holds
            // every skeleton of the candidates.
            let value = objective.of(&cost);
            let gap = cimopt_optimiser::relative_gap(value, bound);
            let proven = gap <= opts.gap;
            let info = SolveInfo {
                mapper: "exhaustive".into(),
                status: if proven { "optimal" } else { "incomplete" }.into(),
                objective: Some(value),
                best_bound: Some(bound),
                gap: Some(gap),
                space_bound: Some(value),
                space_gap: Some(0.0),
                stop_reasons: vec![
                    if proven {
                        StopReason::GapReached
                    } else {
                        StopReason::UnsearchedSkeletons
                    }
                    .name()
                    .to_string(),
                ],
                ..SolveInfo::default()
            };
            (
                Mapped {
                    mapping,
                    cost,
                    evaluated: 0,
                },
                info,
            )
        }
    };
    info.objective = Some(objective.of(&mapped.cost));
    if let Some(path) = &cache {
        cache::write(path, &mapped.mapping, &info);
    }
    if opts.timings {
        info.wall_s = Some(started.elapsed().as_secs_f64());
        info.cache_hit = cache.as_ref().map(|_| false);
    }
    Ok(Solved {
        mapped,
        info,
        cache_hit: false,
    })
}

fn heuristic_info(mapper: &str) -> SolveInfo {
    SolveInfo {
        mapper: mapper.into(),
        status: "heuristic".into(),
        ..SolveInfo::default()
    }
}
