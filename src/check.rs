//! `cimopt check SCHEDULE.json`: verify every layer's mapping against its workload and target.

use crate::Outcome;
use cimopt_schedule::ScheduleError;
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
    let read = crate::read_schedule_on(&args.schedule, args.target.as_deref(), &args.set)?;
    match read {
        Ok(schedule) => {
            crate::warn_skipped(&schedule);
            let plan = match &schedule.plan {
                Some(p) => format!(
                    "; memory plan valid: {} tensors ({} on chip) and {} layer buffers over {} steps",
                    p.tensors.len(),
                    p.tensors.iter().filter(|x| x.home != 0).count(),
                    p.buffers.len(),
                    p.steps.len()
                ),
                None => "; no memory plan".to_string(),
            };
            println!(
                "{}: {} layers valid on target `{}`{plan}",
                args.schedule.display(),
                schedule.layers.len(),
                schedule.inputs.target.name
            );
            Ok(0)
        }
        Err(ScheduleError::InvalidMappings(violations)) => {
            for v in &violations {
                println!("{v}");
            }
            println!("{}: {} error(s)", args.schedule.display(), violations.len());
            Ok(1)
        }
        Err(ScheduleError::InvalidPlan(violations)) => {
            for v in &violations {
                println!("memory plan: {v}");
            }
            println!(
                "{}: {} error(s) in the memory plan",
                args.schedule.display(),
                violations.len()
            );
            Ok(1)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "{} is not a valid schedule",
            args.schedule.display()
        ))),
    }
}
