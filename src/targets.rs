//! `cimopt targets [show NAME]`.

use crate::Outcome;
use anyhow::Context;
use cimopt_target::{PRESETS, load, show::to_commented_toml};

#[derive(clap::Args, Debug)]
pub struct TargetsArgs {
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Print a complete, commented TOML description of a preset or target file.
    Show {
        /// Preset name or TOML file.
        name: String,
        /// Override a field before printing, e.g. --set cores=16.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

pub fn run(args: &TargetsArgs) -> Outcome {
    match &args.action {
        None => {
            println!(
                "{:<12} {:>5} {:>9} {:>10} {:>12}  description",
                "preset", "cores", "macro", "glb", "dram bw"
            );
            for (name, _) in PRESETS {
                let t = load(name, &[])?.target;
                let glb = t
                    .levels
                    .iter()
                    .find(|l| l.holds.len() > 1 && l.name != t.levels[0].name)
                    .map_or(0, |l| l.capacity_bits);
                println!(
                    "{:<12} {:>5} {:>9} {:>10} {:>12}  {}",
                    name,
                    t.cores,
                    format!("{}x{}", t.macro_.rows, t.macro_.cols),
                    cimopt_target::units::format_capacity(glb),
                    format!("{} bit/cyc", t.levels[0].read_bw),
                    t.description.as_deref().unwrap_or("")
                );
            }
            println!("\n`cimopt targets show NAME` prints one as an editable TOML file.");
        }
        Some(Action::Show { name, set }) => {
            let t = load(name, set)
                .with_context(|| format!("target `{name}`"))?
                .target;
            print!("{}", to_commented_toml(&t));
        }
    }
    Ok(0)
}
