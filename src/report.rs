//! `cimopt report SCHEDULE.json`: what a schedule achieves, as a terminal table, JSON, CSV or a
//! self-contained HTML page with SVG charts.

use crate::Outcome;
use cimopt_pipeline::output::{OutputPolicy, write_output};
use cimopt_pipeline::report::{Format, RenderOptions, render_with};
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
    /// HTML: draw the simulated timeline (Gantt chart) of this layer (its id) instead of the
    /// slowest layer's.
    #[arg(long, value_name = "N")]
    pub timeline_layer: Option<usize>,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Replace the output even when it is read-only.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &ReportArgs) -> Outcome {
    let s = crate::read_schedule(&args.schedule)?;
    let options = RenderOptions {
        include_vector: args.include_vector,
        timeline_layer: args.timeline_layer,
    };
    let out = render_with(&s, args.format, &options)?;
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
