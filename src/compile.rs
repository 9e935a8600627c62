//! `cimopt compile`: lower a model, map every layer, write the schedule, print the table; and
//! the solver flags `compile` and `sweep` share.

use crate::Outcome;
use anyhow::{Context, Result, bail};
use cimopt_pipeline::compile::{ModelSource, compile};
use cimopt_pipeline::output::{OutputPolicy, write_output};
use cimopt_pipeline::{CompileOptions, Mapper, ModelObjective, PrecisionSource};
use cimopt_schedule::Schedule;
use std::path::{Path, PathBuf};

/// A switch given as `on` or `off`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}

/// The solver flags shared by `compile` and `sweep`.
#[derive(clap::Args, Debug, Clone)]
pub struct SolverArgs {
    /// Mapper: `mip` (the MILP optimiser on HiGHS, see docs/optimiser.md), `greedy` (heuristic
    /// search, seconds faster, the optimiser's warm start), `ws` (weight-stationary baseline), or
    /// `exhaustive` (brute force over the MILP's space; small layers only).
    #[arg(long, value_enum, default_value_t = Mapper::Mip)]
    pub mapper: Mapper,
    /// What the mapper minimises.
    #[arg(long, value_enum, default_value_t = ModelObjective::Edp)]
    pub objective: ModelObjective,
    /// Each layer's bit widths: the model's (its quantized tensors; float ones at the target's
    /// macro.precision), or the target's macro.precision for every layer.
    #[arg(long, value_enum, default_value_t = PrecisionSource::Model)]
    pub precision: PrecisionSource,
    /// Relative optimality gap at which the optimiser stops (mip).
    #[arg(long, default_value_t = 1e-3)]
    pub gap: f64,
    /// Wall-clock limit per layer in seconds (mip); a safety net: solves end on the gap.
    #[arg(long = "time-limit", default_value_t = 60.0)]
    pub time_limit: f64,
    /// Work per distinct layer that mip may spend once the schedule is chosen to bound each
    /// layer over every mapping (searching whole the spatial candidates that fit, then random
    /// loop nests of those that do not; a better mapping found there is kept), a skeleton
    /// counting one unit per 2 000 of its placement triples; 0: the analytical bounds stand
    /// and no nest is drawn (docs/optimiser.md, "Certifying a layer").
    #[arg(long, default_value_t = cimopt_pipeline::CERTIFY_SKELETONS)]
    pub certify: u64,
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
    /// The compile options these flags ask for (the solve cache from the environment).
    pub fn options(&self) -> Result<CompileOptions> {
        if self.threads == Some(0) {
            bail!("--threads 0: give at least one thread");
        }
        let opts = CompileOptions {
            mapper: self.mapper,
            objective: self.objective,
            gap: self.gap,
            time_limit_s: self.time_limit,
            certify_skeletons: self.certify,
            cache_dir: if self.no_cache { None } else { cache_dir() },
            timings: self.timings,
            precision: self.precision,
            ..CompileOptions::default()
        };
        opts.validate()?;
        Ok(opts)
    }
}

/// Where cached solves live: `$CIMOPT_CACHE_DIR`, else `$XDG_CACHE_HOME/cimopt`, else
/// `~/.cache/cimopt` (`cimopt_pipeline::cache::default_dir`, which the Python package uses too).
pub fn cache_dir() -> Option<PathBuf> {
    cimopt_pipeline::cache::default_dir(|name| std::env::var_os(name))
}

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
    /// Keep activations on chip between layers where the model's memory plan gains by it
    /// (`on`), or map every layer as if it ran alone with its tensors in DRAM (`off`).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    pub residency: OnOff,
    /// Print the schedule's summary as JSON on standard output instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Replace the output even when it is read-only.
    #[arg(long)]
    pub force: bool,
}

/// What an output of a command that reads `model` and `target` must not clobber.
pub fn protect(model: &Path, target: &str, force: bool) -> OutputPolicy {
    let mut inputs = vec![("the model being compiled", model)];
    let target_file = Path::new(target);
    if target_file.is_file() {
        inputs.push(("the target file", target_file));
    }
    OutputPolicy::protecting(&inputs, force)
}

pub fn parse_input_shapes(specs: &[String]) -> Result<Vec<(String, Vec<u64>)>> {
    let shapes: Vec<(String, Vec<u64>)> = specs
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
        .collect::<Result<_>>()?;
    for (i, (name, _)) in shapes.iter().enumerate() {
        if shapes[..i].iter().any(|(n, _)| n == name) {
            bail!("--input-shape {name}: given twice; give each input's shape once");
        }
    }
    Ok(shapes)
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

pub fn run(args: &CompileArgs) -> Outcome {
    let loaded = cimopt_target::load(&args.target, &args.set)
        .with_context(|| format!("target `{}`", args.target))?;
    let t = &loaded.target;
    let opts = cimopt_onnx::LoadOptions {
        input_shapes: parse_input_shapes(&args.input_shape)?,
        keep_going: args.keep_going,
    };
    let model = cimopt_onnx::load(&args.model, &opts)
        .with_context(|| format!("cannot compile {}", args.model.display()))?;
    let model_bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    let options = CompileOptions {
        keep_going: args.keep_going,
        simulate: !args.no_simulate,
        residency: args.residency == OnOff::On,
        ..args.solver.options()?
    };
    let source = ModelSource {
        model: &model,
        file: args.model.display().to_string(),
        bytes: &model_bytes,
    };
    let progress = crate::progress::Progress::new(args.quiet || args.json, "mapping");
    let schedule = match compile(&source, t, &args.target, &options, &progress) {
        Err(e @ cimopt_pipeline::Error::Unmappable { .. }) => {
            bail!("{e}\n(use --keep-going to map the other layers and list this one as skipped)")
        }
        other => other?,
    };
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.model, &args.target));
    let policy = protect(&args.model, &args.target, args.force);
    write_output(
        &out,
        cimopt_schedule::to_json(&schedule).as_bytes(),
        &policy,
    )?;
    if args.json {
        print!("{}", cimopt_pipeline::report::json_of(&schedule)?);
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
        let name = cimopt_pipeline::output::tail(&l.layer.name, 36);
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
    if !m.skipped_nodes.is_empty() {
        let macs: Option<u64> = m
            .skipped_nodes
            .iter()
            .map(|n| n.macs)
            .try_fold(0u64, |a, x| x.map(|x| a.saturating_add(x)));
        println!(
            "NOT in these totals: {} skipped node(s){}:",
            m.skipped_nodes.len(),
            macs.map_or(String::new(), |x| format!(" with {x} MACs"))
        );
        for sk in &m.skipped_nodes {
            println!(
                "skipped: {} ({}){}: {}",
                cimopt_pipeline::output::printable(&sk.name),
                sk.op,
                sk.macs.map_or(String::new(), |x| format!(", {x} MACs")),
                cimopt_pipeline::output::printable(&sk.reason)
            );
        }
    }
}
