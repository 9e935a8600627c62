//! `cimopt`: maps DNN layers onto multi-core SRAM computing-in-memory accelerators.
//!
//! A thin command line over `cimopt-pipeline`: each subcommand maps its flags onto the
//! library's options, calls it, and prints or writes what it returns.

mod check;
mod compare;
mod compile;
mod export;
mod inspect;
mod progress;
mod report;
mod simulate;
mod sweep;
mod targets;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::Path;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "cimopt", version, about = "Dataflow compiler for computing-in-memory accelerators", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the layers an ONNX model lowers to, and its non-CIM operators.
    Inspect(inspect::InspectArgs),
    /// List the built-in targets, or print one as a commented TOML file.
    Targets(targets::TargetsArgs),
    /// Map every layer of a model onto a target and write the schedule.
    Compile(compile::CompileArgs),
    /// Verify a schedule: coverage, levels, spatial factors, double buffering, capacity.
    Check(check::CheckArgs),
    /// Execute every layer's schedule loop by loop and report latency, energy and stalls.
    Simulate(simulate::SimulateArgs),
    /// Per-layer and total ratios of latency, energy and EDP between two schedules.
    Compare(compare::CompareArgs),
    /// Per-layer and total results of a schedule as a table, JSON, CSV or an HTML page.
    Report(report::ReportArgs),
    /// Compile the cartesian product of target variants and tabulate latency, energy and EDP.
    Sweep(sweep::SweepArgs),
    /// Write a schedule in another tool's terms: Timeloop v4, MIREDO's loop nest, a Perfetto trace.
    Export(export::ExportArgs),
    /// Read Timeloop documents written by `export` back into a schedule.
    Import(export::ImportArgs),
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`cimopt inspect M --json | head`): Rust ignores SIGPIPE, which turns a closed pipe into a
    // panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // The library crates log through `log`; `CIMOPT_LOG=cimopt::milp=debug` shows one line per
    // MILP solve, `CIMOPT_LOG=cimopt::highs=trace` HiGHS's own log.
    env_logger::Builder::from_env(env_logger::Env::new().filter("CIMOPT_LOG"))
        .format_timestamp(None)
        .init();
    let threads = match &cli.command {
        Command::Compile(a) => a.solver.threads,
        Command::Sweep(a) => a.solver.threads,
        _ => None,
    };
    if let Some(n) = threads.filter(|&n| n > 0) {
        let most = max_threads();
        if n > most {
            eprintln!(
                "error: --threads {n}: at most {most} on this machine (4 per core); each thread runs a solver"
            );
            return ExitCode::from(1);
        }
        // The first and only configuration of the global pool.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let result = match &cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Targets(a) => targets::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Check(a) => check::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Report(a) => report::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Export(a) => export::run_export(a),
        Command::Import(a) => export::run_import(a),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// What a command reports besides errors: 0 success, 1 a negative verdict (e.g. an invalid
/// schedule). Usage errors exit 2 through clap.
pub type Outcome = anyhow::Result<u8>;

/// The most worker threads a compile may ask for: four per core.
fn max_threads() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Reads a schedule file for `check` and `simulate`: on `target` (a preset or file, with the
/// `set` overrides) when given, else on the target the schedule embeds, with the `set`
/// overrides applied to it. A violation of the mappings is an `InvalidMappings` error.
pub fn read_schedule_on(
    path: &Path,
    target: Option<&str>,
    set: &[String],
) -> anyhow::Result<Result<cimopt_schedule::Schedule, cimopt_schedule::ScheduleError>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let not_valid = || format!("{} is not a valid schedule", path.display());
    let target = match target {
        Some(t) => Some(
            cimopt_target::load(t, set)
                .map(|l| l.target)
                .with_context(|| format!("target `{t}`"))?,
        ),
        None if !set.is_empty() => {
            let embedded = cimopt_schedule::embedded_target(&text).with_context(not_valid)?;
            Some(
                cimopt_target::with_overrides(&embedded, set)
                    .with_context(|| format!("the target of {}", path.display()))?,
            )
        }
        None => None,
    };
    warn_unknown_fields(path, &text);
    Ok(cimopt_schedule::from_json(&text, target.as_ref()))
}

/// Unknown fields are ignored on read (a later 1.x version may have added them), but said, so
/// that a misspelt field is not dropped without a word.
fn warn_unknown_fields(path: &Path, text: &str) {
    for f in cimopt_schedule::unknown_fields(text) {
        eprintln!("warning: {}: ignoring unknown field `{f}`", path.display());
    }
}

/// Says which compute nodes the schedule does not map, so that nobody reads its totals as the
/// whole model's.
pub fn warn_skipped(s: &cimopt_schedule::Schedule) {
    let skipped = &s.model.skipped_nodes;
    if skipped.is_empty() {
        return;
    }
    let macs: Option<u64> = skipped
        .iter()
        .map(|n| n.macs)
        .try_fold(0u64, |a, m| m.map(|m| a.saturating_add(m)));
    println!(
        "note: {} compute node(s) were skipped when compiling{} and are in no total:",
        skipped.len(),
        macs.map_or(String::new(), |m| format!(" ({m} MACs)"))
    );
    for n in skipped {
        println!(
            "  {} ({}): {}",
            cimopt_pipeline::output::printable(&n.name),
            n.op,
            cimopt_pipeline::output::printable(&n.reason)
        );
    }
}

/// Reads a schedule file on its own target.
pub fn read_schedule(path: &Path) -> anyhow::Result<cimopt_schedule::Schedule> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    warn_unknown_fields(path, &text);
    cimopt_schedule::from_json(&text, None)
        .with_context(|| format!("{} is not a valid schedule", path.display()))
}
