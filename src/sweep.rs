//! `cimopt sweep MODEL --target T --set KEY=V1,V2 ...`: compiles the cartesian product of
//! target variants and tabulates latency, energy and EDP per variant (CSV, HTML chart).

use crate::Outcome;
use crate::compile::{CompileArgs, parse_input_shapes, schedule_of};
use anyhow::{Context, bail};
use std::fmt::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// ONNX model.
    pub model: PathBuf,
    /// The base target (preset or file).
    #[arg(long, short)]
    pub target: String,
    /// A swept field with its values, e.g. --set cores=4,8,16 (a single value fixes the field).
    #[arg(long = "set", value_name = "KEY=V1,V2,...")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub solver: crate::solve::SolverArgs,
    /// Shapes for symbolic graph inputs.
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shape: Vec<String>,
    /// CSV output (default `<model>.<target>.sweep.csv`).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Also write an HTML chart of latency, energy and EDP per variant.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Keep each variant's schedule in this folder.
    #[arg(long)]
    pub schedules: Option<PathBuf>,
    /// Skip simulating each variant.
    #[arg(long)]
    pub no_simulate: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Splits `a,b,[c,d],"e,f"` at the commas outside brackets and quotes.
pub fn split_values(v: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for ch in v.chars() {
        match ch {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

struct Variant {
    sets: Vec<(String, String)>,
    latency: f64,
    energy: f64,
    bound: f64,
    simulated: Option<f64>,
}

pub fn run(args: &SweepArgs) -> Outcome {
    let mut axes: Vec<(String, Vec<String>)> = Vec::new();
    for s in &args.set {
        let (k, v) = s
            .split_once('=')
            .with_context(|| format!("--set `{s}`: expected KEY=V1,V2,..."))?;
        let values = split_values(v);
        if values.iter().any(|x| x.is_empty()) {
            bail!("--set `{s}`: an empty value");
        }
        axes.push((k.trim().to_string(), values));
    }
    let total: usize = axes.iter().map(|a| a.1.len()).product();
    if total > 1000 {
        bail!("{total} variants: narrow the sweep (at most 1000)");
    }
    let opts = cimopt_onnx::LoadOptions {
        input_shapes: parse_input_shapes(&args.input_shape)?,
        ..Default::default()
    };
    let model = cimopt_onnx::load(&args.model, &opts)
        .with_context(|| format!("cannot sweep {}", args.model.display()))?;
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    if let Some(dir) = &args.schedules {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut variants = Vec::new();
    for idx in 0..total {
        if crate::progress::interrupted() {
            bail!("interrupted after {idx} of {total} variants: the CSV and HTML were not written");
        }
        // Mixed radix over the axes, the first --set outermost.
        let mut rest = idx;
        let mut sets = vec![(String::new(), String::new()); axes.len()];
        for (a, (k, vals)) in axes.iter().enumerate().rev() {
            sets[a] = (k.clone(), vals[rest % vals.len()].clone());
            rest /= vals.len();
        }
        let set_args: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let loaded = cimopt_target::load(&args.target, &set_args)
            .with_context(|| format!("variant {}", set_args.join(" ")))?;
        let cargs = CompileArgs {
            model: args.model.clone(),
            target: args.target.clone(),
            set: set_args.clone(),
            solver: args.solver.clone(),
            output: None,
            input_shape: args.input_shape.clone(),
            keep_going: false,
            no_simulate: args.no_simulate,
            json: false,
            quiet: true,
        };
        let s = schedule_of(&cargs, &loaded.target, &model, &bytes)
            .with_context(|| format!("variant {}", set_args.join(" ")))?;
        if let Some(dir) = &args.schedules {
            let name: String = set_args
                .join("_")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            crate::output::write_atomic(
                &dir.join(format!("{name}.schedule.json")),
                cimopt_schedule::to_json(&s).as_bytes(),
            )?;
        }
        let v = Variant {
            sets,
            latency: s.model.latency_cycles,
            energy: s.model.energy_nj,
            bound: s.model.lower_bound_cycles,
            simulated: s.model.simulated_latency_cycles,
        };
        if !args.quiet {
            eprintln!(
                "[{}/{total}] {}: latency {:.0} cycles, energy {:.1} nJ, EDP {:.4e}",
                idx + 1,
                set_args.join(" "),
                v.latency,
                v.energy,
                v.latency * v.energy
            );
        }
        variants.push(v);
    }

    let mut csv = String::new();
    for (k, _) in &axes {
        let _ = write!(csv, "{k},");
    }
    csv.push_str("latency_cycles,energy_nj,edp,lower_bound_cycles,simulated_latency_cycles\n");
    for v in &variants {
        for (_, val) in &v.sets {
            let _ = write!(
                csv,
                "{},",
                if val.contains(',') {
                    format!("\"{}\"", val.replace('"', "\"\""))
                } else {
                    val.clone()
                }
            );
        }
        let _ = writeln!(
            csv,
            "{},{},{},{},{}",
            v.latency,
            v.energy,
            v.latency * v.energy,
            v.bound,
            v.simulated.map_or(String::new(), |x| x.to_string())
        );
    }
    let csv_path = args.csv.clone().unwrap_or_else(|| {
        let stem = args
            .model
            .file_stem()
            .map_or("model".into(), |s| s.to_string_lossy().to_string());
        let t = std::path::Path::new(&args.target)
            .file_stem()
            .map_or(args.target.clone(), |s| s.to_string_lossy().to_string());
        PathBuf::from(format!("{stem}.{t}.sweep.csv"))
    });
    crate::output::write_atomic(&csv_path, csv.as_bytes())?;
    if let Some(h) = &args.html {
        crate::output::write_atomic(h, html(args, &variants).as_bytes())?;
    }
    if !args.quiet {
        let best = variants
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1.latency * a.1.energy).total_cmp(&(b.1.latency * b.1.energy)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        println!(
            "{:<48} {:>14} {:>14} {:>12}",
            "variant", "latency (cyc)", "energy (nJ)", "EDP"
        );
        for (i, v) in variants.iter().enumerate() {
            let name: Vec<String> = v.sets.iter().map(|(k, x)| format!("{k}={x}")).collect();
            println!(
                "{:<48} {:>14.0} {:>14.1} {:>12.4e}{}",
                name.join(" "),
                v.latency,
                v.energy,
                v.latency * v.energy,
                if i == best { "  ← lowest EDP" } else { "" }
            );
        }
        println!("wrote {}", csv_path.display());
    }
    Ok(0)
}

fn html(args: &SweepArgs, vs: &[Variant]) -> String {
    use crate::report::esc;
    let mut o = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cimopt sweep</title><style>body{{font-family:sans-serif;margin:2em}}</style></head><body><h1>Sweep of {} on {}</h1>",
        esc(&args.model.display().to_string()),
        esc(&args.target)
    );
    let metrics: [(&str, Box<dyn Fn(&Variant) -> f64>); 3] = [
        ("latency (cycles)", Box::new(|v: &Variant| v.latency)),
        ("energy (nJ)", Box::new(|v: &Variant| v.energy)),
        (
            "EDP (cycle·nJ)",
            Box::new(|v: &Variant| v.latency * v.energy),
        ),
    ];
    let (w, row) = (900.0, 22.0);
    for (title, f) in &metrics {
        let max = vs.iter().map(|v| f(v)).fold(1e-300, f64::max);
        let _ = write!(
            o,
            "<h2>{title}</h2><svg class=\"metric\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">",
            w + 400.0,
            row * vs.len() as f64 + 4.0
        );
        for (i, v) in vs.iter().enumerate() {
            let name: Vec<String> = v.sets.iter().map(|(k, x)| format!("{k}={x}")).collect();
            let bw = f(v) / max * (w - 20.0);
            let y = i as f64 * row;
            let _ = write!(
                o,
                "<text x=\"0\" y=\"{:.0}\" font-size=\"12\">{}</text><rect class=\"bar\" x=\"380\" y=\"{y:.0}\" width=\"{bw:.1}\" height=\"{:.0}\" fill=\"#4878d0\"/><text x=\"{:.1}\" y=\"{:.0}\" font-size=\"11\">{:.4e}</text>",
                y + 15.0,
                esc(&name.join(" ")),
                row - 4.0,
                385.0 + bw,
                y + 15.0,
                f(v)
            );
        }
        o.push_str("</svg>");
    }
    o.push_str("</body></html>\n");
    o
}
