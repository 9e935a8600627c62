//! `cimopt report SCHEDULE.json`: what a schedule achieves, as a terminal table, JSON, CSV or a
//! self-contained HTML page with SVG charts.

use crate::Outcome;
use cimopt_pipeline::output::{OutputPolicy, write_output};
use cimopt_pipeline::report::{Format, render};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Schedule JSON.
    pub schedule: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Add the vector unit's estimated cycles for non-CIM operators to the latency totals
    /// (needs `vector_lanes` in the target).
    #[arg(long)]
    pub include_vector: bool,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Replace the output even when it is read-only.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &ReportArgs) -> Outcome {
    let s = crate::read_schedule(&args.schedule)?;
    let out = render(&s, args.format, args.include_vector)?;
    match &args.output {
        Some(p) => {
            let policy = OutputPolicy::protecting(
                &[("the schedule being reported", &args.schedule)],
                args.force,
            );
            write_output(p, out.as_bytes(), &policy)?
        }
        None => print!("{out}"),
    }
    Ok(0)
}
