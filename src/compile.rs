//! `cimopt compile`: lower a model, map every layer, write the schedule, print the table.

use crate::Outcome;
use crate::output::write_atomic;
use crate::solve::{Solved, SolverArgs, solve_layer};
use anyhow::{Context, Result, bail};
use cimopt_cost::Cost;
use cimopt_ir::Layer;
use cimopt_mappers::bounds::lower_bound;
use cimopt_schedule::{
    Inputs, Metrics, ModelSummary, NonCimOp, Producer, Schedule, ScheduledLayer, SkippedNode,
    SolveInfo,
};
use cimopt_target::{Operand, Target};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    /// ONNX model.
    pub model: PathBuf,
    /// Preset name (`cimopt targets`) or target TOML file.
    #[arg(long, short)]
    pub target: String,
    /// Override a target field, e.g. --set cores=16 --set levels.global_buffer.capacity=512KiB.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub solver: SolverArgs,
    /// Output schedule (default: `<model>.<target>.schedule.json` in the current folder).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Shapes for symbolic graph inputs, e.g. --input-shape input=1x3x224x224.
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shape: Vec<String>,
    /// Map the layers that can be mapped and list the others as skipped.
    #[arg(long)]
    pub keep_going: bool,
    /// Skip simulating the schedule (the simulated numbers are then absent).
    #[arg(long)]
    pub no_simulate: bool,
    /// Print the schedule's summary as JSON on standard output instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn parse_input_shapes(specs: &[String]) -> Result<Vec<(String, Vec<u64>)>> {
    specs
        .iter()
        .map(|s| {
            let (name, dims) = s
                .split_once('=')
                .with_context(|| format!("--input-shape `{s}`: expected NAME=1x3x224x224"))?;
            let dims = dims
                .split(['x', 'X', ','])
                .map(|d| {
                    d.trim()
                        .parse::<u64>()
                        .with_context(|| format!("--input-shape `{s}`: `{d}` is not a dimension"))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((name.to_string(), dims))
        })
        .collect()
}

/// Default output name: `<model stem>.<target stem>.schedule.json`.
fn default_output(model: &Path, target: &str) -> PathBuf {
    let stem = model
        .file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().to_string());
    let target = Path::new(target)
        .file_stem()
        .map_or(target.to_string(), |s| s.to_string_lossy().to_string());
    PathBuf::from(format!("{stem}.{target}.schedule.json"))
}

pub fn metrics_of(t: &Target, c: &Cost) -> Metrics {
    let mut b = BTreeMap::new();
    let l = &c.latency;
    b.insert("latency.compute_cycles".into(), l.compute);
    b.insert("latency.mode_switch_cycles".into(), l.mode_switch);
    b.insert("latency.mismatch_cycles".into(), l.mismatch);
    b.insert("latency.writeback_cycles".into(), l.writeback);
    b.insert("latency.bootstrap_cycles".into(), l.bootstrap);
    for o in Operand::ALL {
        b.insert(
            format!("latency.transfer_{o}_cycles"),
            l.transfer_cycles[o.index()],
        );
    }
    for (lv, level) in t.levels.iter().enumerate() {
        b.insert(
            format!("energy.{}_nj", level.name),
            c.energy.level_total(lv),
        );
    }
    b.insert("energy.mac_nj".into(), c.energy.mac);
    b.insert("energy.leakage_nj".into(), c.energy.leakage);
    Metrics {
        latency_cycles: c.latency_cycles,
        energy_nj: c.energy_nj,
        edp: c.edp(),
        breakdown: b,
    }
}

pub fn run(args: &CompileArgs) -> Outcome {
    let loaded = cimopt_target::load(&args.target, &args.set)
        .with_context(|| format!("target `{}`", args.target))?;
    let t = &loaded.target;
    let opts = cimopt_onnx::LoadOptions {
        input_shapes: parse_input_shapes(&args.input_shape)?,
        ..Default::default()
    };
    let model = cimopt_onnx::load(&args.model, &opts)
        .with_context(|| format!("cannot compile {}", args.model.display()))?;
    let model_bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;

    let schedule = schedule_of(args, t, &model, &model_bytes)?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.model, &args.target));
    write_atomic(&out, cimopt_schedule::to_json(&schedule).as_bytes())?;
    if args.json {
        print!("{}", crate::report::json_of(&schedule)?);
    } else if !args.quiet {
        print_table(&schedule);
        println!("wrote {}", out.display());
    }
    Ok(0)
}

fn print_table(s: &Schedule) {
    println!(
        "{:>3}  {:<36} {:<6} {:>14} {:>14} {:>12} {:>6}",
        "id", "layer", "op", "latency (cyc)", "energy (nJ)", "EDP", "util"
    );
    for l in &s.layers {
        let p = l.predicted.as_ref().expect("compile predicts every layer");
        let t = &s.inputs.target;
        let util = l.layer.workload.macs() as f64
            / (l.mapping.activations() as f64 * t.peak_macs_per_activation() as f64);
        let name = crate::output::tail(&l.layer.name, 36);
        println!(
            "{:>3}  {:<36} {:<6} {:>14.0} {:>14.1} {:>12.3e} {:>5.1}%{}",
            l.layer.index,
            name,
            l.layer.workload.op.name(),
            p.latency_cycles,
            p.energy_nj,
            p.edp,
            util * 100.0,
            l.same_as.map_or(String::new(), |i| format!("  = #{i}"))
        );
    }
    let m = &s.model;
    println!(
        "total: latency {:.0} cycles, energy {:.1} nJ, EDP {:.4e} cycle·nJ; lower bound {:.0} cycles ({:.2}× above)",
        m.latency_cycles,
        m.energy_nj,
        m.edp,
        m.lower_bound_cycles,
        m.latency_cycles / m.lower_bound_cycles.max(1.0)
    );
    for sk in &m.skipped_nodes {
        println!("skipped: {} ({}): {}", sk.name, sk.op, sk.reason);
    }
}

/// Maps every layer of a loaded model onto a target (identical layers once, in parallel),
/// simulates unless told not to, and assembles the schedule.
pub fn schedule_of(
    args: &CompileArgs,
    t: &Target,
    model: &cimopt_onnx::Model,
    model_bytes: &[u8],
) -> Result<Schedule> {
    args.solver.validate()?;
    // Identical workloads are mapped once.
    let mut results: BTreeMap<usize, Result<Solved, String>> = BTreeMap::new();
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
    let layer_objective =
        crate::solve::layer_objective(t, &weighted, &args.solver, &crate::progress::interrupted);
    let objective = layer_objective.objective;
    let progress =
        crate::progress::Progress::new(distinct.len() as u64, args.quiet || args.json, "mapping");
    let done = std::sync::atomic::AtomicU64::new(0);
    let hits = std::sync::atomic::AtomicU64::new(0);
    let mapped: Vec<(usize, Result<Solved, String>)> = distinct
        .par_iter()
        .map(|layer| {
            if progress.interrupted() {
                return (layer.index, Err("interrupted".to_string()));
            }
            let r =
                solve_layer(t, layer, &args.solver, &layer_objective).map_err(|e| format!("{e:#}"));
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let copies = copies_of(layer.index);
            if r.as_ref().is_ok_and(|s| s.cache_hit) {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let hit = r.as_ref().is_ok_and(|s| s.cache_hit);
            let mut notes = Vec::new();
            if copies > 1 {
                notes.push(format!("used by {copies} identical layers"));
            }
            if hit {
                notes.push("cache hit".to_string());
            }
            let n_hits = hits.load(std::sync::atomic::Ordering::SeqCst);
            if n_hits > 0 {
                notes.push(format!("{n_hits} cache hits so far"));
            }
            let note = if notes.is_empty() {
                String::new()
            } else {
                format!("({})", notes.join(", "))
            };
            progress.done(n, &layer.name, &note);
            (layer.index, r)
        })
        .collect();
    progress.finish();
    if progress.interrupted() {
        bail!("interrupted: nothing was written");
    }
    results.extend(mapped);
    let mut layers = Vec::new();
    let mut skipped = Vec::new();
    let (mut latency, mut energy, mut bound) = (0.0, 0.0, 0.0);
    let mut bounds: BTreeMap<usize, f64> = BTreeMap::new();
    for layer in &model.layers {
        match &results[&layer.dedup_group] {
            Ok(solved) => {
                let mapped = &solved.mapped;
                let metrics = metrics_of(t, &mapped.cost);
                latency += metrics.latency_cycles;
                energy += metrics.energy_nj;
                // The bound enumerates spatial candidates: once per distinct workload.
                bound += *bounds
                    .entry(layer.dedup_group)
                    .or_insert_with(|| lower_bound(t, &layer.workload).cycles);
                let reused = layer.dedup_group != layer.index;
                layers.push(ScheduledLayer {
                    layer: layer.clone(),
                    same_as: reused.then_some(layer.dedup_group),
                    mapping: mapped.mapping.clone(),
                    predicted: Some(metrics),
                    simulated: None,
                    solve: if reused {
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
            Err(e) if args.keep_going => skipped.push(SkippedNode {
                name: layer.name.clone(),
                op: layer.workload.op.name().into(),
                reason: e.clone(),
            }),
            Err(e) => bail!(
                "{e}\n(use --keep-going to map the other layers and list this one as skipped)"
            ),
        }
    }
    let schedule = Schedule {
        producer: Producer {
            tool: "cimopt".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            mapper: args.solver.mapper.clone(),
            objective: args.solver.objective().name().into(),
            solver: matches!(args.solver.mapper.as_str(), "mip")
                .then(|| format!("HiGHS via good_lp ({})", crate::solve::HIGHS_VERSION)),
            solver_options: {
                let mut o = args.solver.recorded_options();
                layer_objective.record(&mut o);
                o
            },
        },
        inputs: Inputs {
            model_file: args.model.display().to_string(),
            model_sha256: cimopt_schedule::sha256_hex(model_bytes),
            target_name: args.target.clone(),
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
    let mut schedule = schedule;
    if !args.no_simulate {
        let reports = crate::simulate::simulate_schedule(&schedule)?;
        for (l, r) in schedule.layers.iter_mut().zip(&reports) {
            l.simulated = Some(crate::simulate::metrics_of(t, r, l.predicted.as_ref()));
        }
        schedule.model.simulated_latency_cycles =
            Some(reports.iter().map(|r| r.latency_cycles).sum());
        schedule.model.simulated_energy_nj = Some(reports.iter().map(|r| r.energy_nj).sum());
    }
    Ok(schedule)
}
