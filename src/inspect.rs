//! `cimopt inspect MODEL`: the layers an ONNX model lowers to, and its non-CIM operators.

use crate::Outcome;
use anyhow::Context;
use cimopt_onnx::LoadOptions;
use cimopt_pipeline::inspect::{InspectReport, table};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The ONNX model file.
    model: PathBuf,
    /// Print JSON instead of tables (for scripts).
    #[arg(long)]
    json: bool,
    /// Concrete shape for a graph input with symbolic dimensions (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=1x3x224x224")]
    input_shape: Vec<String>,
    /// List compute nodes the front end cannot lower as skipped, instead of failing.
    #[arg(long)]
    keep_going: bool,
}

pub fn run(args: &InspectArgs) -> Outcome {
    let opts = LoadOptions {
        input_shapes: crate::compile::parse_input_shapes(&args.input_shape)?,
        keep_going: args.keep_going,
    };
    let model = cimopt_onnx::load(&args.model, &opts)
        .with_context(|| format!("cannot inspect {}", args.model.display()))?;
    if args.json {
        let json = serde_json::to_string_pretty(&InspectReport::of(&model))
            .context("serialising the report")?;
        println!("{json}");
    } else {
        print!("{}", table(&model));
    }
    Ok(0)
}
