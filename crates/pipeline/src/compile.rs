//! Compiling a model: every distinct layer mapped once (in parallel), the schedule assembled,
//! and simulated unless told not to.

use crate::options::CompileOptions;
use crate::solve::{Solved, layer_objective, solve_layer};
use crate::{Error, Result};
use cimopt_cost::Cost;
use cimopt_ir::Layer;
use cimopt_schedule::{
    Breakdown, Inputs, LatencyParts, LevelParts, Metrics, ModelSummary, NonCimOp, Producer,
    Schedule, ScheduledLayer, SkippedNode, SolveInfo,
};
use cimopt_space::bounds::lower_bound_at;
use cimopt_target::Target;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a compile tells its caller as it goes, and how the caller stops it. Every method has a
/// default that does nothing, so an observer implements only what it shows.
pub trait Observer: Sync {
    /// Checked between layers: `true` stops the compile with [`Error::Interrupted`].
    fn interrupted(&self) -> bool {
        false
    }
    /// Called once before the first layer, with the number of distinct layers to map.
    fn started(&self, _distinct_layers: usize) {}
    /// Called as each distinct layer is mapped (from worker threads, in completion order).
    fn layer_mapped(&self, _done: usize, _layer: &Layer, _note: &LayerNote) {}
    /// Called after the last layer.
    fn finished(&self) {}
    /// Called when a stage after the layers' mapping starts to work through `items` (the memory
    /// plan's variants, the distinct layers it polishes or certifies). A stage may run more
    /// than once (the memory plan prices its variants in batches).
    fn stage_started(&self, _stage: Stage, _items: usize) {}
    /// Called as a stage is done with an item of `layer` (from worker threads, in completion
    /// order): `note` as for a mapped layer, `detail` what the stage found (or empty).
    fn stage_progress(
        &self,
        _stage: Stage,
        _done: usize,
        _layer: &Layer,
        _note: &LayerNote,
        _detail: &str,
    ) {
    }
    /// Called when a stage has worked through its items, or stopped on an interrupt.
    fn stage_finished(&self, _stage: Stage) {}
    /// Something the caller should know that does not stop the compile (e.g. with
    /// `keep_going`, why the schedule has no memory plan).
    fn warning(&self, _message: &str) {}
}

/// The work a compile does after mapping each layer, which can take as long as the mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The memory plan prices its variants: layers with tensors kept on chip.
    MemoryPlan,
    /// The memory plan's polish searches further the variants it keeps.
    Polish,
    /// `--certify`: each chosen layer bounded over every mapping.
    Certify,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::MemoryPlan => "memory plan",
            Stage::Polish => "polish",
            Stage::Certify => "certify",
        }
    }
}

/// Tells `observer` about a stage's items as they are done (from worker threads): started on
/// creation, finished on drop, so an early return finishes it too.
pub(crate) struct StageProgress<'a> {
    observer: &'a dyn Observer,
    stage: Stage,
    done: AtomicU64,
    hits: AtomicU64,
}

impl<'a> StageProgress<'a> {
    pub(crate) fn start(observer: &'a dyn Observer, stage: Stage, items: usize) -> Self {
        observer.stage_started(stage, items);
        StageProgress {
            observer,
            stage,
            done: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    pub(crate) fn interrupted(&self) -> bool {
        self.observer.interrupted()
    }

    /// An item of `layer` done, standing for `copies` model layers, its solve from the cache or
    /// not.
    pub(crate) fn done(&self, layer: &Layer, copies: usize, cache_hit: bool, detail: &str) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let hits = self.hits.fetch_add(u64::from(cache_hit), Ordering::SeqCst);
        let note = LayerNote {
            copies,
            cache_hit,
            cache_hits_so_far: hits + u64::from(cache_hit),
        };
        self.observer
            .stage_progress(self.stage, n as usize, layer, &note, detail);
    }
}

impl Drop for StageProgress<'_> {
    fn drop(&mut self) {
        self.observer.stage_finished(self.stage);
    }
}

/// An observer that shows nothing and never interrupts.
pub struct Silent;

impl Observer for Silent {}

/// What is worth saying about a mapped layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerNote {
    /// Layers of the model that share this mapping (identical workloads).
    pub copies: usize,
    /// Whether the mapping came from the solve cache.
    pub cache_hit: bool,
    /// Cache hits among the layers mapped so far.
    pub cache_hits_so_far: u64,
}

impl LayerNote {
    /// `used by 3 identical layers`, `cache hit`: what is worth saying about this item alone.
    pub fn item_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.copies > 1 {
            notes.push(format!("used by {} identical layers", self.copies));
        }
        if self.cache_hit {
            notes.push("cache hit".to_string());
        }
        notes
    }

    /// `(used by 3 identical layers, cache hit, 2 cache hits so far)`, or nothing.
    pub fn describe(&self) -> String {
        let mut notes = self.item_notes();
        if self.cache_hits_so_far > 0 {
            notes.push(format!("{} cache hits so far", self.cache_hits_so_far));
        }
        if notes.is_empty() {
            String::new()
        } else {
            format!("({})", notes.join(", "))
        }
    }
}

/// Where the model came from, as the schedule records it.
#[derive(Clone, Debug)]
pub struct ModelSource<'a> {
    pub model: &'a cimopt_onnx::Model,
    /// The model file as the user named it.
    pub file: String,
    /// The file's bytes (hashed into the schedule).
    pub bytes: &'a [u8],
}

/// The predicted metrics of a layer.
pub fn metrics_of(c: &Cost) -> Metrics {
    let l = &c.latency;
    let e = &c.energy;
    Metrics {
        latency_cycles: c.latency_cycles,
        energy_nj: c.energy_nj,
        edp: c.edp(),
        breakdown: Breakdown {
            latency: Some(LatencyParts {
                compute: l.compute,
                mode_switch: l.mode_switch,
                mismatch: l.mismatch,
                writeback: l.writeback,
                bootstrap: l.bootstrap,
                idle: None,
                transfer: l.transfer_cycles,
            }),
            levels: (0..e.read.len())
                .map(|lv| LevelParts {
                    energy_nj: Some(e.level_total(lv)),
                    ..LevelParts::default()
                })
                .collect(),
            mac_nj: Some(e.mac),
            leakage_nj: Some(e.leakage),
            ..Breakdown::default()
        },
    }
}

/// The memory plan of these scheduled layers, every tensor where their mappings' homes say.
fn memory_plan(
    model: &cimopt_onnx::Model,
    t: &Target,
    layers: &[ScheduledLayer],
) -> Result<cimopt_schedule::MemoryPlan> {
    let pairs: Vec<(&Layer, &cimopt_ir::Mapping)> =
        layers.iter().map(|l| (&l.layer, &l.mapping)).collect();
    let groups = crate::plan::groups(model, t, &crate::plan::padded_sizes(model, &pairs));
    let mut home = vec![0usize; groups.groups.len()];
    for (layer, m) in &pairs {
        let (i, w, o) = groups.layer_io[layer.index];
        home[i] = m.home_of(cimopt_target::Operand::I);
        if let Some(w) = w {
            home[w] = m.home_of(cimopt_target::Operand::W);
        }
        home[o] = m.home_of(cimopt_target::Operand::O);
    }
    let residency = home.iter().any(|&h| h != 0);
    crate::plan::lay_out(model, t, &groups, &home, &pairs, residency).map_err(|e| Error::NoRoom {
        level: t.levels[e.level].name.clone(),
        step: e.step,
        node: e.node,
        bits: e.bits,
        what: e.what,
    })
}

/// Maps every layer of a lowered model onto a target and assembles the schedule: identical
/// layers are mapped once (in parallel), then simulated unless `opts.simulate` is off.
/// `target_name` is the target as the user named it (a preset or a file).
pub fn compile(
    source: &ModelSource,
    t: &Target,
    target_name: &str,
    opts: &CompileOptions,
    observer: &dyn Observer,
) -> Result<Schedule> {
    opts.validate()?;
    // Every layer at the widths it runs at; identical layers are identical at those widths.
    let resolved = crate::precision::resolve(source.model, t, opts.precision);
    for note in crate::precision::notes(source.model, &resolved) {
        observer.warning(&note);
    }
    let model = &resolved;
    let distinct: Vec<&Layer> = model
        .layers
        .iter()
        .filter(|l| l.dedup_group == l.index)
        .collect();
    let copies_of = |index: usize| {
        model
            .layers
            .iter()
            .filter(|l| l.dedup_group == index)
            .count()
    };
    let weighted: Vec<(&Layer, usize)> =
        distinct.iter().map(|&l| (l, copies_of(l.index))).collect();
    let layer_objective = layer_objective(t, &weighted, opts, &|| observer.interrupted());
    let objective = layer_objective.objective;
    observer.started(distinct.len());
    let done = AtomicU64::new(0);
    let hits = AtomicU64::new(0);
    let mapped: Vec<(usize, Result<Solved>)> = distinct
        .par_iter()
        .map(|layer| {
            if observer.interrupted() {
                return (layer.index, Err(Error::Interrupted));
            }
            let r = solve_layer(t, layer, opts, &layer_objective);
            let n = done.fetch_add(1, Ordering::SeqCst) + 1;
            let cache_hit = r.as_ref().is_ok_and(|s| s.cache_hit);
            if cache_hit {
                hits.fetch_add(1, Ordering::SeqCst);
            }
            let note = LayerNote {
                copies: copies_of(layer.index),
                cache_hit,
                cache_hits_so_far: hits.load(Ordering::SeqCst),
            };
            observer.layer_mapped(n as usize, layer, &note);
            (layer.index, r)
        })
        .collect();
    observer.finished();
    if observer.interrupted() {
        return Err(Error::Interrupted);
    }
    let mut results: BTreeMap<usize, Result<Solved>> = mapped.into_iter().collect();
    // Every model layer's solve (its group's), or why it has none.
    let mut skipped = Vec::new();
    let mut baseline: Vec<Option<Solved>> = Vec::with_capacity(model.layers.len());
    for layer in &model.layers {
        match &results[&layer.dedup_group] {
            Ok(solved) => baseline.push(Some(solved.clone())),
            Err(e) if opts.keep_going => {
                skipped.push(SkippedNode {
                    name: layer.name.clone(),
                    op: layer.workload.op.name().into(),
                    reason: e.to_string(),
                    macs: Some(layer.workload.macs()),
                });
                baseline.push(None);
            }
            Err(_) => {
                let Some(Err(e)) = results.remove(&layer.dedup_group) else {
                    unreachable!("the arm above matched an error");
                };
                return Err(e);
            }
        }
    }
    // Where the tensors live: every one in DRAM, or what the residency optimiser chose.
    let decision = if opts.residency {
        Some(crate::residency::improve(
            model,
            t,
            baseline.clone(),
            opts,
            &layer_objective,
            observer,
        )?)
    } else {
        None
    };
    let chosen: Vec<Option<Solved>> = match &decision {
        Some(d) => d
            .chosen
            .iter()
            .map(|v| v.as_ref().map(|v| v.solved.clone()))
            .collect(),
        None => {
            crate::residency::certify_alone(model, t, baseline, opts, &layer_objective, observer)?
        }
    };
    let mut layers: Vec<ScheduledLayer> = Vec::new();
    let (mut latency, mut energy, mut bound) = (0.0, 0.0, 0.0);
    let mut bounds: BTreeMap<(usize, [usize; 3]), f64> = BTreeMap::new();
    for (layer, solved) in model.layers.iter().zip(&chosen) {
        let Some(solved) = solved else {
            continue;
        };
        let mapped = &solved.mapped;
        let metrics = metrics_of(&mapped.cost);
        latency += metrics.latency_cycles;
        energy += metrics.energy_nj;
        // The bound enumerates spatial candidates: once per distinct workload and homes.
        bound += match bounds.entry((layer.dedup_group, mapped.mapping.home)) {
            Entry::Occupied(e) => *e.get(),
            // Cannot fail: the layer's unrollings were enumerable when it was solved.
            Entry::Vacant(v) => {
                let home = mapped.mapping.home;
                let cycles = crate::cache::lower_bound_cycles(
                    opts.cache_dir
                        .as_deref()
                        .filter(|_| opts.mapper.is_optimiser()),
                    t,
                    &layer.workload,
                    home,
                    || {
                        lower_bound_at(t, &layer.workload, home)
                            .map(|lb| lb.cycles)
                            .map_err(|e| Error::Unmappable {
                                index: layer.index,
                                name: layer.name.clone(),
                                op: layer.workload.op.name().to_string(),
                                reason: e.to_string(),
                            })
                    },
                )?;
                *v.insert(cycles)
            }
        };
        // The same solution as an earlier identical layer (the same mapping: residency may map
        // identical layers differently).
        let same_as = layers
            .iter()
            .find(|l| {
                l.layer.workload == layer.workload
                    && l.mapping == mapped.mapping
                    && l.same_as.is_none()
            })
            .map(|l| l.layer.index);
        layers.push(ScheduledLayer {
            layer: Layer {
                dedup_group: same_as.unwrap_or(layer.index),
                ..layer.clone()
            },
            same_as,
            mapping: mapped.mapping.clone(),
            predicted: Some(metrics),
            simulated: None,
            solve: if same_as.is_some() {
                SolveInfo {
                    mapper: solved.info.mapper.clone(),
                    status: "reused".into(),
                    objective: Some(objective.of(&mapped.cost)),
                    ..SolveInfo::default()
                }
            } else {
                solved.info.clone()
            },
        });
    }
    // The compute nodes the front end could not lower (loaded with `keep_going`) are skipped
    // too, after the layers, in model order.
    skipped.extend(model.skipped.iter().map(|s| SkippedNode {
        name: s.name.clone(),
        op: s.op_type.clone(),
        reason: s.reason.clone(),
        macs: s.macs,
    }));
    if layers.is_empty() {
        return Err(Error::NothingMapped {
            skipped: skipped.len(),
        });
    }
    let mut schedule = Schedule {
        plan: None,
        producer: Producer {
            tool: "cimopt".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            mapper: opts.mapper.name().into(),
            objective: opts.objective.name().into(),
            solver: (opts.mapper == crate::Mapper::Mip)
                .then(|| format!("HiGHS via good_lp ({})", crate::options::HIGHS_VERSION)),
            solver_options: {
                let mut o = opts.recorded_options();
                layer_objective.record(&mut o);
                o
            },
        },
        inputs: Inputs {
            model_file: source.file.clone(),
            model_sha256: cimopt_schedule::sha256_hex(source.bytes),
            target_name: target_name.to_string(),
            target_sha256: cimopt_schedule::target_sha256(t),
            target: t.clone(),
        },
        layers,
        model: ModelSummary {
            latency_cycles: latency,
            energy_nj: energy,
            edp: latency * energy,
            lower_bound_cycles: bound,
            simulated_latency_cycles: None,
            simulated_energy_nj: None,
            skipped_nodes: skipped,
            non_cim_ops: model
                .other_ops
                .iter()
                .map(|o| NonCimOp {
                    name: o.name.clone(),
                    op: o.op_type.clone(),
                    output_elements: o.output_elements,
                })
                .collect(),
        },
    };
    // A model whose tensors do not all fit its levels has no plan: with `keep_going` the
    // schedule goes without one (its layers still map, each alone), else that is an error.
    schedule.plan = match memory_plan(model, t, &schedule.layers) {
        Ok(mut plan) => {
            plan.residency = opts.residency;
            plan.baseline = decision.as_ref().map(|d| d.baseline);
            Some(plan)
        }
        Err(e) if opts.keep_going => {
            observer.warning(&format!("the schedule has no memory plan: {e}"));
            None
        }
        Err(e) => return Err(e),
    };
    if opts.simulate {
        crate::simulate::record_simulation(&mut schedule)?;
    }
    Ok(schedule)
}
