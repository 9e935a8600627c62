//! `cimopt check SCHEDULE.json`: verify every layer's mapping against its workload and target.

use crate::Outcome;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Schedule JSON.
    pub schedule: PathBuf,
    /// Check against this target (preset or file) instead of the one embedded in the schedule.
    #[arg(long, short)]
    pub target: Option<String>,
    /// Override a field of that target, e.g. --set cores=4.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

pub fn run(args: &CheckArgs) -> Outcome {
    let target = crate::override_target(args.target.as_deref(), &args.set)?;
    let schedule = crate::read_schedule(&args.schedule, target.as_ref())?;
    let violations = cimopt_pipeline::check::check_schedule(&schedule);
    for v in &violations {
        println!("{v}");
    }
    if violations.is_empty() {
        println!(
            "{}: {} layers valid on target `{}`",
            args.schedule.display(),
            schedule.layers.len(),
            schedule.inputs.target.name
        );
        Ok(0)
    } else {
        println!("{}: {} error(s)", args.schedule.display(), violations.len());
        Ok(1)
    }
}
