//! Choosing a layer's mapping: the mapper flags shared by `compile` and `sweep`, the on-disk
//! solve cache, and the evidence each layer's solve leaves in the schedule.

use crate::output::write_atomic;
use anyhow::{Context, Result, bail};
use cimopt_cost::{Objective, evaluate};
use cimopt_ir::{Layer, Mapping, SpatialFactor, TemporalLoop, check};
use cimopt_mappers::{GreedyOptions, Mapped, greedy, weight_stationary};
use cimopt_optimiser::Options;
use cimopt_schedule::{Candidates, SolveInfo};
use cimopt_target::{Axis, Dim, Operand, Target};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The HiGHS release `highs-sys` builds (recorded in schedules and cache keys).
pub const HIGHS_VERSION: &str = "highs-sys 1.16.0";

#[derive(clap::Args, Debug, Clone)]
pub struct SolverArgs {
    /// Mapper: `mip` (the MILP optimiser on HiGHS, see docs/optimiser.md), `greedy` (heuristic
    /// search, seconds faster, the optimiser's warm start), `ws` (weight-stationary baseline), or
    /// `exhaustive` (brute force over the MILP's space; small layers only).
    #[arg(long, default_value = "mip", value_parser = ["mip", "greedy", "ws", "exhaustive"])]
    pub mapper: String,
    /// What the mapper minimises.
    #[arg(long, default_value = "edp", value_parser = ["latency", "energy", "edp"])]
    pub objective: String,
    /// Relative optimality gap at which the optimiser stops (mip).
    #[arg(long, default_value_t = 1e-3)]
    pub gap: f64,
    /// Wall-clock limit per layer in seconds (mip); a safety net: solves end on the gap.
    #[arg(long = "time-limit", default_value_t = 60.0)]
    pub time_limit: f64,
    /// Worker threads for mapping layers in parallel (default: all cores). Each HiGHS solve is
    /// single-threaded.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Do not read or write the solve cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Record wall-clock times and cache hits in the schedule (they make its bytes differ
    /// from run to run).
    #[arg(long)]
    pub timings: bool,
}

impl SolverArgs {
    pub fn objective(&self) -> Objective {
        Objective::parse(&self.objective).expect("clap checked")
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.gap >= 0.0 && self.gap < 1.0) {
            bail!("--gap {}: must be in [0, 1)", self.gap);
        }
        if !(self.time_limit > 0.0 && self.time_limit.is_finite()) {
            bail!(
                "--time-limit {}: must be a positive number of seconds",
                self.time_limit
            );
        }
        if self.threads == Some(0) {
            bail!("--threads 0: give at least one thread");
        }
        Ok(())
    }

    pub fn optimiser_options(&self) -> Options {
        Options {
            objective: self.objective(),
            gap: self.gap,
            time_limit_s: self.time_limit,
            ..Options::default()
        }
    }

    /// The solver options recorded in the schedule (and part of the cache key).
    pub fn recorded_options(&self) -> std::collections::BTreeMap<String, String> {
        let mut m = std::collections::BTreeMap::new();
        if matches!(self.mapper.as_str(), "mip" | "exhaustive") {
            let o = self.optimiser_options();
            m.insert("mip_rel_gap".into(), o.gap.to_string());
            m.insert("time_limit_s_per_layer".into(), o.time_limit_s.to_string());
            m.insert(
                "spatial_candidates".into(),
                o.spatial_candidates.to_string(),
            );
            m.insert("max_rounds_per_skeleton".into(), o.max_rounds.to_string());
            m.insert("placement_limit".into(), o.placement_limit.to_string());
            m.insert("mip_max_nodes".into(), o.max_nodes.to_string());
            m.insert("simulator_agreement".into(), o.agreement.to_string());
            m.insert("highs_threads".into(), "1".into());
            m.insert("highs_random_seed".into(), "0".into());
            m.insert("highs_mip_heuristic_effort".into(), "0.01".into());
            m.insert(
                "highs_submip_and_jump_heuristics".into(),
                "off (rins, rens, root_reduced_cost, feasibility_jump)".into(),
            );
            m.insert("highs_objective_bound".into(), "cut-off".into());
            m.insert("highs_version".into(), HIGHS_VERSION.into());
        }
        m
    }
}

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
    args: &SolverArgs,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> LayerObjective {
    let objective = args.objective();
    let mut out = LayerObjective {
        objective,
        hints: Default::default(),
    };
    if objective != Objective::Edp || !matches!(args.mapper.as_str(), "mip" | "exhaustive") {
        return out;
    }
    use rayon::prelude::*;
    let mapped: Vec<(usize, usize, Mapped)> = layers
        .par_iter()
        .filter_map(|&(layer, copies)| {
            if interrupted() {
                return None;
            }
            let opts = GreedyOptions {
                objective,
                ..GreedyOptions::default()
            };
            greedy(t, &layer.workload, &opts)
                .ok()
                .map(|m| (layer.index, copies, m))
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
pub struct Solved {
    pub mapped: Mapped,
    pub info: SolveInfo,
    /// Whether the mapping came from the solve cache.
    pub cache_hit: bool,
}

/// Where cached solves live: `$CIMOPT_CACHE_DIR`, else `$XDG_CACHE_HOME/cimopt`, else
/// `~/.cache/cimopt`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CIMOPT_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("cimopt"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("cimopt"))
}

/// The running executable's size and modification time (nanoseconds), once per process.
fn build_identity() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| {
                let modified = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}-{modified}", m.len())
            })
            .unwrap_or_default()
    })
}

/// The content address of a solve: everything its result depends on.
fn cache_key(t: &Target, layer: &Layer, args: &SolverArgs, objective: &LayerObjective) -> String {
    let w = &layer.workload;
    let mut options = args.recorded_options();
    objective.record(&mut options);
    let key = json!({
        "tool": env!("CARGO_PKG_VERSION"),
        // A rebuilt binary may solve differently under the same version: its identity keeps a
        // developer's cache from serving results of an older build.
        "build": build_identity(),
        "format": 2,
        "mapper": args.mapper,
        "objective": args.objective,
        "options": options,
        "target": cimopt_schedule::target_sha256(t),
        "workload": format!("{w:?}"),
    });
    cimopt_schedule::sha256_hex(key.to_string().as_bytes())
}

fn encode(m: &Mapping, info: &SolveInfo) -> Value {
    json!({
        "spatial": m.spatial.iter().map(|f| json!([f.axis.index(), f.dim.index(), f.factor])).collect::<Vec<_>>(),
        "temporal": m.temporal.iter().map(|l| json!([l.dim.index(), l.factor, l.level])).collect::<Vec<_>>(),
        "double_buffer": m.double_buffer.iter().map(|(lv, o)| json!([lv, o.index()])).collect::<Vec<_>>(),
        "padded": m.padded_dims,
        "status": info.status,
        "best_bound": info.best_bound,
        "gap": info.gap,
        "candidates": info.candidates.map(|c| json!([c.enumerated, c.pruned_by_bound, c.solved])),
        "warm_start": info.warm_start,
    })
}

fn decode(v: &Value) -> Option<(Mapping, SolveInfo)> {
    let u = |v: &Value| v.as_u64();
    let dim = |v: &Value| u(v).and_then(|i| Dim::ALL.get(i as usize).copied());
    let spatial = v["spatial"]
        .as_array()?
        .iter()
        .map(|f| {
            Some(SpatialFactor {
                axis: *Axis::ALL.get(u(&f[0])? as usize)?,
                dim: dim(&f[1])?,
                factor: u(&f[2])?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let temporal = v["temporal"]
        .as_array()?
        .iter()
        .map(|l| {
            let lv = l[2].as_array()?;
            Some(TemporalLoop {
                dim: dim(&l[0])?,
                factor: u(&l[1])?,
                level: [
                    u(&lv[0])? as usize,
                    u(&lv[1])? as usize,
                    u(&lv[2])? as usize,
                ],
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let double_buffer = v["double_buffer"]
        .as_array()?
        .iter()
        .map(|d| Some((u(&d[0])? as usize, *Operand::ALL.get(u(&d[1])? as usize)?)))
        .collect::<Option<Vec<_>>>()?;
    let padded: Vec<u64> = v["padded"]
        .as_array()?
        .iter()
        .map(u)
        .collect::<Option<_>>()?;
    let m = Mapping {
        spatial,
        temporal,
        double_buffer,
        padded_dims: padded.try_into().ok()?,
    };
    let cands = v["candidates"].as_array().map(|c| Candidates {
        enumerated: c[0].as_u64().unwrap_or(0),
        pruned_by_bound: c[1].as_u64().unwrap_or(0),
        solved: c[2].as_u64().unwrap_or(0),
    });
    let info = SolveInfo {
        status: v["status"].as_str()?.to_string(),
        best_bound: v["best_bound"].as_f64(),
        gap: v["gap"].as_f64(),
        candidates: cands,
        warm_start: v["warm_start"].as_bool(),
        ..SolveInfo::default()
    };
    Some((m, info))
}

fn layer_context(layer: &Layer) -> String {
    format!(
        "layer {} `{}` ({})",
        layer.index, layer.name, layer.workload.op
    )
}

/// Maps one layer with the chosen mapper, through the cache for the optimisers.
pub fn solve_layer(
    t: &Target,
    layer: &Layer,
    args: &SolverArgs,
    layer_objective: &LayerObjective,
) -> Result<Solved> {
    let objective = layer_objective.objective;
    let hint = layer_objective.hints.get(&layer.index);
    let w = &layer.workload;
    let started = std::time::Instant::now();
    let cached_mapper = matches!(args.mapper.as_str(), "mip" | "exhaustive");
    let cache = (!args.no_cache && cached_mapper)
        .then(cache_dir)
        .flatten()
        .map(|d| {
            d.join(format!(
                "{}.json",
                cache_key(t, layer, args, layer_objective)
            ))
        });
    if let Some(path) = &cache {
        let hit = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| decode(&v))
            // A cached mapping is trusted only if it is still valid for this target.
            .filter(|(m, _)| check(t, w, m).is_empty());
        if let Some((mapping, mut info)) = hit {
            let cost = evaluate(t, w, &mapping);
            info.mapper = args.mapper.clone();
            info.objective = Some(objective.of(&cost));
            if args.timings {
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
    let (mapped, mut info) = match args.mapper.as_str() {
        "ws" => {
            let m = weight_stationary(t, w).with_context(|| layer_context(layer))?;
            (m, heuristic_info("ws"))
        }
        "greedy" => {
            let m = greedy(
                t,
                w,
                &GreedyOptions {
                    objective,
                    ..GreedyOptions::default()
                },
            )
            .with_context(|| layer_context(layer))?;
            (m, heuristic_info("greedy"))
        }
        "mip" => {
            let opts = Options {
                objective,
                ..args.optimiser_options()
            };
            let r = cimopt_optimiser::optimise_from(t, w, &opts, hint)
                .with_context(|| layer_context(layer))?;
            let s = &r.stats;
            let info = SolveInfo {
                mapper: "mip".into(),
                status: s.status.name().into(),
                objective: Some(s.objective),
                best_bound: Some(s.bound),
                gap: Some(s.gap),
                wall_s: None,
                candidates: Some(Candidates {
                    enumerated: s.candidates_enumerated,
                    pruned_by_bound: s.candidates_pruned,
                    solved: s.candidates_solved,
                }),
                warm_start: Some(true),
                cache_hit: None,
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
        "exhaustive" => {
            let limit = 5_000_000;
            let opts = Options {
                objective,
                ..args.optimiser_options()
            };
            let r = cimopt_optimiser::exhaustive(t, w, &opts, hint, limit)
                .with_context(|| layer_context(layer))?;
            let Some((mapping, cost)) = r else {
                bail!(
                    "{}: too large for --mapper exhaustive (its space holds more than {limit} placement triples); use --mapper mip",
                    layer_context(layer)
                );
            };
            let info = SolveInfo {
                mapper: "exhaustive".into(),
                status: "optimal".into(),
                objective: Some(objective.of(&cost)),
                best_bound: Some(objective.of(&cost)),
                gap: Some(0.0),
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
        other => bail!("unknown mapper `{other}`"),
    };
    info.objective = Some(objective.of(&mapped.cost));
    if let Some(path) = &cache {
        if let Some(dir) = path.parent() {
            // The cache is an accelerator: failing to write it is not an error.
            if std::fs::create_dir_all(dir).is_ok() {
                let _ = write_atomic(path, encode(&mapped.mapping, &info).to_string().as_bytes());
            }
        }
    }
    if args.timings {
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
