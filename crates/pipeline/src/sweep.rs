//! Compiling the cartesian product of target variants (`cimopt sweep`) and tabulating latency,
//! energy and EDP per variant as CSV and an HTML chart.

use crate::compile::{ModelSource, Observer, compile};
use crate::options::CompileOptions;
use crate::{Error, Result};
use cimopt_schedule::Schedule;
use std::fmt::Write;

/// One swept target field and the values it takes (`--set cores=4,8,16`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepAxis {
    pub key: String,
    pub values: Vec<String>,
}

/// The most variants one sweep compiles.
pub const MAX_VARIANTS: usize = 1000;

/// Parses `KEY=V1,V2,...` specifications (values split at commas outside brackets and quotes).
pub fn parse_axes(specs: &[String]) -> Result<Vec<SweepAxis>> {
    let mut axes = Vec::new();
    for s in specs {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| Error::Options(format!("--set `{s}`: expected KEY=V1,V2,...")))?;
        let values = split_values(v);
        if values.iter().any(|x| x.is_empty()) {
            return Err(Error::Options(format!("--set `{s}`: an empty value")));
        }
        axes.push(SweepAxis {
            key: k.trim().to_string(),
            values,
        });
    }
    let total: usize = axes.iter().map(|a| a.values.len()).product();
    if total > MAX_VARIANTS {
        return Err(Error::Options(format!(
            "{total} variants: narrow the sweep (at most {MAX_VARIANTS})"
        )));
    }
    Ok(axes)
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

/// The results of one target variant.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// The `(key, value)` of each axis.
    pub sets: Vec<(String, String)>,
    pub latency: f64,
    pub energy: f64,
    pub bound: f64,
    pub simulated: Option<f64>,
}

impl Variant {
    /// `cores=8 levels.global_buffer.capacity=512KiB`.
    pub fn name(&self) -> String {
        let name: Vec<String> = self.sets.iter().map(|(k, x)| format!("{k}={x}")).collect();
        name.join(" ")
    }
}

/// Every combination of the axes' values, the first axis outermost.
pub fn combinations(axes: &[SweepAxis]) -> Vec<Vec<(String, String)>> {
    let total: usize = axes.iter().map(|a| a.values.len()).product();
    (0..total)
        .map(|idx| {
            // Mixed radix over the axes, the first axis outermost.
            let mut rest = idx;
            let mut sets = vec![(String::new(), String::new()); axes.len()];
            for (a, axis) in axes.iter().enumerate().rev() {
                sets[a] = (
                    axis.key.clone(),
                    axis.values[rest % axis.values.len()].clone(),
                );
                rest /= axis.values.len();
            }
            sets
        })
        .collect()
}

/// Compiles the model on every variant of `base_target` (a preset or a TOML file) the axes
/// make, one after another; `on_variant` sees each variant's schedule as it is done.
pub fn sweep(
    source: &ModelSource,
    base_target: &str,
    axes: &[SweepAxis],
    opts: &CompileOptions,
    observer: &dyn Observer,
    on_variant: &mut dyn FnMut(usize, usize, &Variant, &Schedule) -> Result<()>,
) -> Result<Vec<Variant>> {
    let all = combinations(axes);
    let total = all.len();
    let mut variants = Vec::new();
    for (idx, sets) in all.into_iter().enumerate() {
        if observer.interrupted() {
            return Err(Error::SweepInterrupted { done: idx, total });
        }
        let set_args: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let variant = || set_args.join(" ");
        let loaded =
            cimopt_target::load(base_target, &set_args).map_err(|error| Error::Target {
                variant: variant(),
                error,
            })?;
        let s = compile(source, &loaded.target, base_target, opts, observer).map_err(|e| {
            Error::Variant {
                variant: variant(),
                error: Box::new(e),
            }
        })?;
        let v = Variant {
            sets,
            latency: s.model.latency_cycles,
            energy: s.model.energy_nj,
            bound: s.model.lower_bound_cycles,
            simulated: s.model.simulated_latency_cycles,
        };
        on_variant(idx, total, &v, &s)?;
        variants.push(v);
    }
    Ok(variants)
}

/// The CSV of a sweep: one column per axis, then the totals.
pub fn csv(axes: &[SweepAxis], variants: &[Variant]) -> String {
    let mut csv = String::new();
    for a in axes {
        let _ = write!(csv, "{},", a.key);
    }
    csv.push_str("latency_cycles,energy_nj,edp,lower_bound_cycles,simulated_latency_cycles\n");
    for v in variants {
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
    csv
}

/// The index of the variant with the lowest EDP (the first among equals).
pub fn best(variants: &[Variant]) -> usize {
    variants
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1.latency * a.1.energy).total_cmp(&(b.1.latency * b.1.energy)))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

/// The HTML chart of a sweep: latency, energy and EDP per variant.
pub fn html(model: &str, target: &str, vs: &[Variant]) -> String {
    use crate::report::esc;
    let mut o = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cimopt sweep</title><style>body{{font-family:sans-serif;margin:2em}}</style></head><body><h1>Sweep of {} on {}</h1>",
        esc(model),
        esc(target)
    );
    type Metric = (&'static str, Box<dyn Fn(&Variant) -> f64>);
    let metrics: [Metric; 3] = [
        ("latency (cycles)", Box::new(|v: &Variant| v.latency)),
        ("energy (nJ)", Box::new(|v: &Variant| v.energy)),
        (
            "EDP (cycle·nJ)",
            Box::new(|v: &Variant| v.latency * v.energy),
        ),
    ];
    let (w, row) = (900.0, 22.0);
    for (title, f) in &metrics {
        let max = vs.iter().map(f).fold(1e-300, f64::max);
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
