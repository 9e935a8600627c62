//! `cimopt compare A.json B.json`: per-layer and total ratios of latency, energy and EDP.

use crate::Outcome;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The baseline schedule.
    pub a: PathBuf,
    /// The schedule compared with it.
    pub b: PathBuf,
    /// Compare the cost model's predictions instead of the simulated numbers.
    #[arg(long)]
    pub predicted: bool,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &CompareArgs) -> Outcome {
    let (a, b) = (
        crate::read_schedule(&args.a)?,
        crate::read_schedule(&args.b)?,
    );
    let (na, nb) = (args.a.display().to_string(), args.b.display().to_string());
    let names = [na.as_str(), nb.as_str()];
    let c = cimopt_pipeline::compare::compare(&a, &b, names, args.predicted)?;
    if c.different_models {
        eprintln!("note: the two schedules were compiled from different model files");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c.to_json(names))?);
    } else {
        print!("{}", c.table(names));
    }
    Ok(0)
}
