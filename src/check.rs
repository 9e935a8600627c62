//! `cimopt check SCHEDULE.json`: verify every layer's mapping against its workload and target.

use crate::Outcome;
use anyhow::Context;
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
    let text = std::fs::read_to_string(&args.schedule)
        .with_context(|| format!("cannot read {}", args.schedule.display()))?;
    let override_target = match &args.target {
        Some(t) => Some(
            cimopt_target::load(t, &args.set)
                .with_context(|| format!("target `{t}`"))?
                .target,
        ),
        None => None,
    };
    let schedule = cimopt_schedule::from_json(&text, override_target.as_ref())
        .with_context(|| format!("{} is not a valid schedule", args.schedule.display()))?;
    let t = &schedule.inputs.target;
    let mut errors = 0usize;
    for l in &schedule.layers {
        for v in cimopt_ir::check(t, &l.layer.workload, &l.mapping) {
            println!("layer {} `{}`: {}", l.layer.index, l.layer.name, v.message);
            errors += 1;
        }
    }
    if errors == 0 {
        println!(
            "{}: {} layers valid on target `{}`",
            args.schedule.display(),
            schedule.layers.len(),
            t.name
        );
        Ok(0)
    } else {
        println!("{}: {errors} error(s)", args.schedule.display());
        Ok(1)
    }
}
