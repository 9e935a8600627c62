//! What a schedule achieves, per layer and in total, as a terminal table, JSON, CSV or a
//! self-contained HTML page with SVG charts (`cimopt report`).

use crate::plan_report::PlanSummary;
use crate::{Error, Result};
use cimopt_schedule::{Metrics, Schedule};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::str::FromStr;

/// The formats a report is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
    Html,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Table, Format::Json, Format::Csv, Format::Html];

    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!("unknown report format `{s}` (expected table, json, csv or html)")
            })
    }
}

/// `a / b` with `decimals`, or `-` when `b` is 0 (no ratio to speak of).
pub(crate) fn times(a: f64, b: f64, decimals: usize) -> String {
    let r = a / b;
    if b > 0.0 && r.is_finite() {
        format!("{:.*}", decimals, r + 0.0)
    } else {
        "-".into()
    }
}

/// `v` as a percentage of `total` (`-` of nothing).
pub(crate) fn percent(v: f64, total: f64) -> String {
    if total > 0.0 {
        format!("{:.1}%", 100.0 * v / total + 0.0)
    } else {
        "-".into()
    }
}

/// The MACs of the skipped nodes, when every one of them is known.
fn skipped_macs(s: &Schedule) -> Option<u64> {
    s.model
        .skipped_nodes
        .iter()
        .map(|n| n.macs)
        .try_fold(0u64, |acc, m| m.map(|m| acc.saturating_add(m)))
}

/// The latency causes shown.
const CAUSES: [&str; 5] = [
    "compute",
    "mode switch",
    "mismatch",
    "write-back",
    "bootstrap",
];

/// A prediction's latency by cause, in the order of [`CAUSES`] (0 where not known).
fn causes_of(m: Option<&Metrics>) -> [f64; 5] {
    match m.and_then(|m| m.breakdown.latency.as_ref()) {
        Some(l) => [
            l.compute,
            l.mode_switch,
            l.mismatch,
            l.writeback,
            l.bootstrap,
        ],
        None => [0.0; 5],
    }
}

struct Row {
    id: usize,
    name: String,
    op: String,
    dims: String,
    /// The input, weight and output bits the layer runs at.
    bits: [u64; 3],
    mapper: String,
    metrics: Metrics,
    utilisation: f64,
    bound: f64,
    gap: Option<f64>,
    error: Option<f64>,
    /// Latency by cause from the cost model, whose parts add up to its prediction.
    causes: [f64; 5],
}

struct Report {
    source: &'static str,
    rows: Vec<Row>,
    latency: f64,
    energy: f64,
    bound: f64,
    /// The lowest model EDP any schedule of this model on this target can have (cost model).
    edp_bound: f64,
    causes: Vec<(String, f64)>,
    energy_by: Vec<(String, f64)>,
    /// Per op type: nodes, output elements, and the vector unit's cycles when the target has
    /// `vector_lanes`.
    non_cim: BTreeMap<String, (u64, u64, Option<f64>)>,
    /// Σ vector cycles, when estimated.
    vector_cycles: Option<f64>,
    /// Whether `latency` includes `vector_cycles`.
    includes_vector: bool,
}

fn build(s: &Schedule, include_vector: bool) -> Result<Report> {
    let t = &s.inputs.target;
    let simulated = s.layers.iter().all(|l| l.simulated.is_some());
    let source = if simulated { "simulated" } else { "predicted" };
    // Bounds once per distinct layer (identical layers point at the first with `same_as`) and
    // homes. A row's bound is for the homes its mapping has; the model's EDP bound, for any
    // schedule, takes every home a tensor could have (DRAM, or a shared level that holds it).
    let mut row_bounds: BTreeMap<(usize, [usize; 3]), f64> = BTreeMap::new();
    let mut layer_cases: BTreeMap<(usize, [bool; 3]), (u64, Vec<_>)> = BTreeMap::new();
    let mut home_cases: BTreeMap<(usize, [usize; 3]), Vec<_>> = BTreeMap::new();
    // Per layer, its homes' bounds and its plan tensors, for the bound that makes homes agree.
    let mut coupled = Vec::new();
    for l in &s.layers {
        let first = l.same_as.unwrap_or(l.layer.index);
        let w = &l.layer.workload;
        // A layer too large to bound (a schedule written for a target whose spatial space the
        // tool cannot enumerate) is an error naming it, like an unmappable layer.
        let unbounded = |e: cimopt_space::spatial::TooManyUnrollings| Error::Unmappable {
            index: l.layer.index,
            name: l.layer.name.clone(),
            op: w.op.name().to_string(),
            reason: e.to_string(),
        };
        if let std::collections::btree_map::Entry::Vacant(v) =
            row_bounds.entry((first, l.mapping.home))
        {
            v.insert(
                cimopt_space::bounds::lower_bound_at(t, w, l.mapping.home)
                    .map_err(unbounded)?
                    .cycles,
            );
        }
        let fixed = in_dram(s, l);
        let mut homes = Vec::new();
        for home in possible_homes(t, w, fixed) {
            if let std::collections::btree_map::Entry::Vacant(v) = home_cases.entry((first, home)) {
                v.insert(
                    cimopt_space::bounds::layer_bounds_at(t, w, home)
                        .map_err(unbounded)?
                        .1,
                );
            }
            let points = home_cases[&(first, home)]
                .iter()
                .map(|b| (b.energy_nj, b.cycles))
                .collect();
            homes.push((home, points));
        }
        if let std::collections::btree_map::Entry::Vacant(v) = layer_cases.entry((first, fixed)) {
            let cases = possible_homes(t, w, fixed)
                .into_iter()
                .flat_map(|home| home_cases[&(first, home)].iter().cloned())
                .collect();
            v.insert((0, cases));
        }
        layer_cases
            .get_mut(&(first, fixed))
            .expect("inserted above")
            .0 += 1;
        if let Some(io) = s
            .plan
            .as_ref()
            .and_then(|p| p.layers.iter().find(|io| io.layer == l.layer.index))
        {
            coupled.push(crate::model_bound::LayerHomes {
                homes,
                tensors: [io.input, io.weight, io.output],
                bits: tensor_bits(t, w),
            });
        }
    }
    let mut rows = Vec::new();
    for l in &s.layers {
        let m = if simulated {
            l.simulated.clone()
        } else {
            l.predicted.clone()
        }
        .unwrap_or_default();
        let w = &l.layer.workload;
        let util = w.macs() as f64
            / (l.mapping.activations() as f64 * t.peak_macs_per_activation() as f64);
        let bound = row_bounds[&(l.same_as.unwrap_or(l.layer.index), l.mapping.home)];
        rows.push(Row {
            id: l.layer.index,
            name: l.layer.name.clone(),
            op: w.op.name().to_string(),
            dims: format!(
                "{}x{} {}x{} {}->{} G{} B{}",
                w.r, w.s, w.p, w.q, w.c, w.k, w.g, w.b
            ),
            bits: {
                let p = cimopt_ir::analysis::layer_precision(t, w);
                [p.input, p.weight, p.output]
            },
            mapper: l.solve.mapper.clone(),
            utilisation: util,
            bound,
            gap: l.solve.gap,
            error: l
                .simulated
                .as_ref()
                .and_then(|s| s.breakdown.prediction_error)
                .map(|e| e.latency),
            causes: causes_of(l.predicted.as_ref()),
            metrics: m,
        });
    }
    let latency: f64 = rows.iter().map(|r| r.metrics.latency_cycles).sum();
    let energy = rows.iter().map(|r| r.metrics.energy_nj).sum();
    let bound = rows.iter().map(|r| r.bound).sum();
    let cases: Vec<(u64, Vec<_>)> = layer_cases.into_values().collect();
    // Both bounds hold for every schedule with a memory plan; the coupled one needs every
    // layer's tensors from the plan.
    let alone = cimopt_space::bounds::model_edp_bound(t, &cases).edp;
    let edp_bound = match &s.plan {
        Some(plan) if coupled.len() == s.layers.len() => {
            crate::model_bound::coupled_edp_bound(t, plan, &coupled).map_or(alone, |c| c.max(alone))
        }
        _ => alone,
    };
    let sum = |part: &dyn Fn(&cimopt_schedule::Breakdown) -> f64| {
        rows.iter().map(|r| part(&r.metrics.breakdown)).sum::<f64>()
    };
    let causes = CAUSES
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), rows.iter().map(|r| r.causes[i]).sum()))
        .collect();
    let mut energy_by: Vec<(String, f64)> = t
        .levels
        .iter()
        .enumerate()
        .map(|(lv, l)| (l.name.clone(), sum(&|b| b.level_energy_nj(lv))))
        .collect();
    energy_by.push(("MAC".into(), sum(&|b| b.mac_nj.unwrap_or(0.0))));
    energy_by.push(("leakage".into(), sum(&|b| b.leakage_nj.unwrap_or(0.0))));
    // The vector unit processes `vector_lanes` elements per cycle on every core.
    let per_cycle = t.vector_lanes.map(|l| (l * t.cores) as f64);
    let mut non_cim: BTreeMap<String, (u64, u64, Option<f64>)> = BTreeMap::new();
    for o in &s.model.non_cim_ops {
        let e = non_cim.entry(o.op.clone()).or_default();
        e.0 += 1;
        // A schedule may give any u64 per node: the sum saturates instead of overflowing.
        e.1 = e.1.saturating_add(o.output_elements);
        e.2 = per_cycle.map(|p| e.2.unwrap_or(0.0) + (o.output_elements as f64 / p).ceil());
    }
    let vector_cycles = per_cycle.map(|_| non_cim.values().filter_map(|v| v.2).sum::<f64>());
    if include_vector && vector_cycles.is_none() {
        return Err(Error::Options(
            "--include-vector needs `vector_lanes` in the target (e.g. compile with --set vector_lanes=16)"
                .into(),
        ));
    }
    let latency = latency
        + if include_vector {
            vector_cycles.unwrap_or(0.0)
        } else {
            0.0
        };
    Ok(Report {
        source,
        rows,
        latency,
        energy,
        bound,
        edp_bound,
        causes,
        energy_by,
        non_cim,
        vector_cycles,
        includes_vector: include_vector,
    })
}

/// The operands of layer `l` that live in DRAM in any schedule: constant weights (they come
/// from DRAM at least once), and with a memory plan, the model's own inputs and outputs.
fn in_dram(s: &Schedule, l: &cimopt_schedule::ScheduledLayer) -> [bool; 3] {
    use cimopt_schedule::plan::TensorKind;
    let constant = l.layer.workload.weight_kind == cimopt_ir::WeightKind::Constant;
    let kind = |pick: fn(&cimopt_schedule::plan::PlannedIo) -> usize| {
        s.plan.as_ref().and_then(|p| {
            let io = p.layers.iter().find(|io| io.layer == l.layer.index)?;
            p.tensors.get(pick(io)).map(|x| x.kind)
        })
    };
    [
        kind(|io| io.input) == Some(TensorKind::Input),
        constant,
        kind(|io| io.output) == Some(TensorKind::Output),
    ]
}

/// The bits of a layer's input, weight and output tensors at the precisions it runs at.
fn tensor_bits(t: &cimopt_target::Target, w: &cimopt_ir::Workload) -> [u64; 3] {
    let p = cimopt_ir::analysis::layer_precision(t, w);
    cimopt_target::Operand::ALL.map(|o| w.operand_size(o).saturating_mul(p.bits(o, false)))
}

/// Every combination of homes a layer's tensors could have on `t`: DRAM, or (unless `in_dram`)
/// a shared level below it that holds the operand and has room for its whole tensor. A
/// superset of what a memory plan can give, so bounds over it hold for any schedule.
fn possible_homes(
    t: &cimopt_target::Target,
    w: &cimopt_ir::Workload,
    in_dram: [bool; 3],
) -> Vec<[usize; 3]> {
    use cimopt_target::{Operand, Replication};
    let bits = tensor_bits(t, w);
    let options = Operand::ALL.map(|o| {
        let mut at = vec![0];
        if in_dram[o.index()] {
            return at;
        }
        at.extend((1..t.num_levels()).filter(|&l| {
            let lv = &t.levels[l];
            lv.replication == Replication::Shared
                && lv.holds.contains(o)
                && lv.capacity_bits >= bits[o.index()]
        }));
        at
    });
    let mut homes = Vec::new();
    for &i in &options[0] {
        for &wt in &options[1] {
            for &o in &options[2] {
                let home = [i, wt, o];
                // The tensors a level is home to during the layer are all in it at once.
                let fits = (1..t.num_levels()).all(|l| {
                    let used: u64 = (0..3).filter(|&k| home[k] == l).map(|k| bits[k]).sum();
                    used <= t.levels[l].capacity_bits
                });
                if fits {
                    homes.push(home);
                }
            }
        }
    }
    homes
}

fn table(r: &Report, s: &Schedule) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} on target `{}` ({} numbers)",
        s.inputs.model_file, s.inputs.target.name, r.source
    );
    // A column of bit widths where some layer does not run at the target's precision.
    let own = &s.inputs.target.macro_.precision;
    let own = [own.input, own.weight, own.output];
    let widths = r.rows.iter().any(|x| x.bits != own);
    let bits = |b: [u64; 3]| {
        if widths {
            format!(" {:<8}", format!("{}/{}/{}", b[0], b[1], b[2]))
        } else {
            String::new()
        }
    };
    let _ = writeln!(
        o,
        "{:>3}  {:<30} {:<6} {:<24}{} {:>12} {:>11} {:>10} {:>6} {:>6} {:>6} {:>7}",
        "id",
        "layer",
        "op",
        "R×S P×Q C→K G B",
        if widths {
            format!(" {:<8}", "I/W/O bit")
        } else {
            String::new()
        },
        "latency",
        "energy nJ",
        "EDP",
        "util",
        "/bound",
        "gap",
        "err"
    );
    for x in &r.rows {
        let name = crate::output::tail(&x.name, 30);
        let _ = writeln!(
            o,
            "{:>3}  {:<30} {:<6} {:<24}{} {:>12.0} {:>11.1} {:>10.3e} {:>5.1}% {:>6} {:>6} {:>7}",
            x.id,
            name,
            x.op,
            x.dims,
            bits(x.bits),
            x.metrics.latency_cycles,
            x.metrics.energy_nj,
            x.metrics.edp,
            100.0 * x.utilisation,
            times(x.metrics.latency_cycles, x.bound, 2),
            x.gap.map_or("-".into(), |g| format!("{:.1}%", 100.0 * g)),
            x.error.map_or("-".into(), |e| format!("{:.2}%", 100.0 * e))
        );
    }
    let _ = writeln!(
        o,
        "\ntotal: latency {:.0} cycles, energy {:.1} nJ, EDP {:.4e} cycle·nJ",
        r.latency + 0.0,
        r.energy + 0.0,
        r.latency * r.energy + 0.0
    );
    let _ = writeln!(
        o,
        "lower bound {:.0} cycles: {}× above it; model EDP ≥ {:.4e} cycle·nJ for any schedule: {}× above it",
        r.bound + 0.0,
        times(r.latency, r.bound, 2),
        r.edp_bound + 0.0,
        times(r.latency * r.energy, r.edp_bound, 2)
    );
    if !s.model.skipped_nodes.is_empty() {
        let _ = writeln!(
            o,
            "NOT in these totals: {} skipped node(s){}:",
            s.model.skipped_nodes.len(),
            skipped_macs(s).map_or(String::new(), |m| format!(" with {m} MACs"))
        );
        for n in &s.model.skipped_nodes {
            let _ = writeln!(
                o,
                "  {} ({}){}: {}",
                crate::output::printable(&n.name),
                n.op,
                n.macs.map_or(String::new(), |m| format!(", {m} MACs")),
                crate::output::printable(&n.reason)
            );
        }
    }
    let predicted: f64 = r.causes.iter().map(|c| c.1).sum();
    let _ = writeln!(
        o,
        "\nlatency by cause (cost model, {predicted:.0} cycles; overlapped transfers are not counted):"
    );
    for (n, v) in &r.causes {
        let _ = writeln!(o, "  {n:<12} {v:>14.0}  {:>6}", percent(*v, predicted));
    }
    let _ = writeln!(o, "energy by part (nJ):");
    for (n, v) in &r.energy_by {
        let _ = writeln!(o, "  {n:<14} {v:>14.1}  {:>6}", percent(*v, r.energy));
    }
    let mut slow: Vec<&Row> = r.rows.iter().collect();
    slow.sort_by(|a, b| {
        b.metrics
            .latency_cycles
            .total_cmp(&a.metrics.latency_cycles)
    });
    let _ = writeln!(o, "slowest layers:");
    for x in slow.iter().take(5) {
        let _ = writeln!(
            o,
            "  #{:<3} {:<40} {:>12.0} cycles ({})",
            x.id,
            crate::output::printable(&x.name),
            x.metrics.latency_cycles,
            percent(x.metrics.latency_cycles, r.latency)
        );
    }
    if !r.non_cim.is_empty() {
        let place = if r.includes_vector {
            "included in the totals above"
        } else {
            "not in the CIM totals"
        };
        let _ = writeln!(o, "non-CIM operators (vector unit, {place}):");
        for (op, (n, e, c)) in &r.non_cim {
            let cycles = c.map_or(String::new(), |c| format!(" {c:>12.0} cycles"));
            let _ = writeln!(o, "  {op:<20} {n:>4} nodes {e:>12} output elements{cycles}");
        }
        match r.vector_cycles {
            Some(c) => {
                let _ = writeln!(
                    o,
                    "  vector unit total: {c:.0} cycles ({} lanes per core)",
                    s.inputs.target.vector_lanes.unwrap_or(0)
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "  (set `vector_lanes` in the target for a vector-unit time estimate)"
                );
            }
        }
    }
    match PlanSummary::of(s) {
        Some(p) => o.push_str(&p.text(s)),
        None => o.push_str("\nno memory plan in this schedule (format 1.0, or compiled with --keep-going when the tensors did not fit)\n"),
    }
    o
}

fn to_json(r: &Report, s: &Schedule) -> String {
    let layers: Vec<_> = r
        .rows
        .iter()
        .map(|x| {
            json!({"id": x.id, "name": x.name, "op": x.op, "dims": x.dims,
                   "precision": {"input_bits": x.bits[0], "weight_bits": x.bits[1], "output_bits": x.bits[2]},
                   "mapper": x.mapper,
                   "latency_cycles": x.metrics.latency_cycles, "energy_nj": x.metrics.energy_nj, "edp": x.metrics.edp,
                   "utilisation": x.utilisation, "lower_bound_cycles": x.bound, "latency_over_bound": x.metrics.latency_cycles / x.bound,
                   "solver_gap": x.gap, "prediction_error_latency": x.error, "breakdown": x.metrics.breakdown.to_keys(&s.inputs.target)})
        })
        .collect();
    let doc = json!({
        "model": s.inputs.model_file, "target": s.inputs.target.name, "source": r.source,
        "units": {"latency": "cycles", "energy": "nJ", "edp": "cycle·nJ"},
        "layers": layers,
        "total": {"latency_cycles": r.latency, "energy_nj": r.energy, "edp": r.latency * r.energy, "lower_bound_cycles": r.bound, "latency_over_bound": r.latency / r.bound, "edp_lower_bound": r.edp_bound, "edp_over_bound": r.latency * r.energy / r.edp_bound},
        "latency_by_cause": r.causes.iter().map(|(n, v)| json!({"cause": n, "cycles": v})).collect::<Vec<_>>(),
        "energy_by_part": r.energy_by.iter().map(|(n, v)| json!({"part": n, "nj": v})).collect::<Vec<_>>(),
        "non_cim_ops": r.non_cim.iter().map(|(op, (n, e, c))| json!({"op": op, "nodes": n, "output_elements": e, "vector_cycles": c})).collect::<Vec<_>>(),
        "vector_cycles": r.vector_cycles,
        "total_includes_vector": r.includes_vector,
        "skipped_nodes": s.model.skipped_nodes.iter().map(|n| json!({"name": n.name, "op": n.op, "reason": n.reason, "macs": n.macs})).collect::<Vec<_>>(),
        "skipped_macs_not_in_totals": skipped_macs(s),
        "memory_plan": PlanSummary::of(s).map(|p| p.json(s)),
    });
    serde_json::to_string_pretty(&doc).expect("a JSON value serialises") + "\n"
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(r: &Report) -> String {
    let mut o = String::from(
        "id,name,op,dims,mapper,latency_cycles,energy_nj,edp,utilisation,lower_bound_cycles,solver_gap,prediction_error_latency",
    );
    for n in CAUSES {
        let _ = write!(o, ",{}_cycles", n.replace([' ', '-'], "_"));
    }
    o.push('\n');
    for x in &r.rows {
        let _ = write!(
            o,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            x.id,
            csv_field(&x.name),
            x.op,
            csv_field(&x.dims),
            x.mapper,
            x.metrics.latency_cycles,
            x.metrics.energy_nj,
            x.metrics.edp,
            x.utilisation,
            x.bound,
            x.gap.map_or(String::new(), |g| g.to_string()),
            x.error.map_or(String::new(), |e| e.to_string())
        );
        for c in x.causes {
            let _ = write!(o, ",{c}");
        }
        o.push('\n');
    }
    o
}

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLOURS: [&str; 5] = ["#4878d0", "#ee854a", "#6acc64", "#d65f5f", "#956cb4"];

/// Activations the HTML report's timeline traces: enough to show the steady state after the
/// first fetches, few enough to read every bar.
pub const TIMELINE_ACTIVATIONS: usize = 24;

/// The layer the HTML report draws the timeline of: the one asked for, else the slowest (the
/// first of equals).
fn timeline_layer(r: &Report, asked: Option<usize>) -> Option<usize> {
    asked.or_else(|| {
        r.rows
            .iter()
            .enumerate()
            .fold(None, |best: Option<(usize, f64)>, (i, x)| match best {
                Some((_, l)) if l >= x.metrics.latency_cycles => best,
                _ => Some((i, x.metrics.latency_cycles)),
            })
            .map(|b| b.0)
    })
}

/// The timeline section: the simulator's Gantt chart of one layer's first activations.
fn timeline_html(r: &Report, s: &Schedule, layer: usize, asked: bool) -> String {
    let mut o = String::new();
    let x = &r.rows[layer];
    let why = if asked { "" } else { ", the slowest layer" };
    let _ = write!(
        o,
        "<h2>Timeline of layer {} `{}`{why} (simulator)</h2>",
        x.id,
        esc(&crate::output::printable(&x.name))
    );
    match cimopt_export::trace_layer(s, layer, TIMELINE_ACTIVATIONS) {
        Ok(tr) => {
            let _ = write!(
                o,
                "<p>Its first {} of {} activations as the simulator executes them: one row for the MAC array and one per level and operand (the transfers leaving that level), stalls coloured by cause. {} cycles in all; hover a bar for its span. <code>cimopt export --format perfetto --layer {layer}</code> gives the whole layer to a trace viewer.</p><div id=\"timeline\">",
                tr.recorded_activations,
                tr.report.activations,
                tr.report.latency_cycles.round(),
            );
            o.push_str(&cimopt_export::gantt_svg(&tr, u64::MAX));
            o.push_str("</div>");
        }
        Err(e) => {
            let _ = write!(
                o,
                "<p>The simulator cannot trace it: {}</p>",
                esc(&e.to_string())
            );
        }
    }
    o
}

fn html(r: &Report, s: &Schedule, timeline: Option<usize>) -> String {
    let mut o = String::new();
    let title = format!("{} on {}", s.inputs.model_file, s.inputs.target.name);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cimopt report: {}</title>",
        esc(&title)
    );
    o.push_str("<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:12px}td,th{padding:2px 6px;border-bottom:1px solid #ddd;text-align:right}td.l,th.l{text-align:left}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}</style></head><body>");
    let _ = write!(
        o,
        "<h1>{}</h1><p>{} numbers. Total latency {:.0} cycles, energy {:.1} nJ, EDP {:.4e} cycle·nJ; {}× the lower bound ({:.0} cycles); EDP {}× the lowest any schedule can have ({:.4e} cycle·nJ).</p>",
        esc(&title),
        r.source,
        r.latency,
        r.energy,
        r.latency * r.energy,
        times(r.latency, r.bound, 2),
        r.bound,
        times(r.latency * r.energy, r.edp_bound, 2),
        r.edp_bound,
    );
    if !s.model.skipped_nodes.is_empty() {
        let _ = write!(
            o,
            "<p class=\"skipped\"><b>Not in these totals:</b> {} skipped node(s){}: {}.</p>",
            s.model.skipped_nodes.len(),
            skipped_macs(s).map_or(String::new(), |m| format!(" with {m} MACs")),
            s.model
                .skipped_nodes
                .iter()
                .map(|n| format!("{} ({}): {}", esc(&n.name), esc(&n.op), esc(&n.reason)))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }

    // Per-layer latency, stacked by cause.
    let n = r.rows.len().max(1);
    let (w, h, left, bottom) = (1100.0, 320.0, 60.0, 30.0);
    let bw = (w - left) / n as f64;
    let max = r
        .rows
        .iter()
        .map(|x| x.causes.iter().sum::<f64>())
        .fold(1.0, f64::max);
    let _ = write!(
        o,
        "<h2>Latency per layer by cause (cost model)</h2><svg id=\"latency\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\">",
        h + bottom
    );
    for (i, x) in r.rows.iter().enumerate() {
        let mut y = h;
        for (c, name) in CAUSES.iter().enumerate() {
            let v = x.causes[c];
            let bh = v / max * (h - 10.0);
            y -= bh;
            let _ = write!(
                o,
                "<rect class=\"bar\" data-layer=\"{}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>#{} {}: {name} {v:.0} cycles</title></rect>",
                x.id,
                left + i as f64 * bw,
                (bw - 1.0).max(0.5),
                COLOURS[c],
                x.id,
                esc(&x.name)
            );
        }
    }
    let _ = write!(
        o,
        "<line x1=\"{left}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#333\"/><text x=\"0\" y=\"12\" font-size=\"11\">{max:.0}</text><text x=\"{left}\" y=\"{}\" font-size=\"11\">layers →</text></svg>",
        h + 20.0
    );
    o.push_str("<div class=\"legend\">");
    for (c, name) in CAUSES.iter().enumerate() {
        let _ = write!(o, "<span style=\"background:{}\"></span>{name}", COLOURS[c]);
    }
    o.push_str("</div>");

    // Energy by part.
    let _ = write!(
        o,
        "<h2>Energy by part</h2><svg id=\"energy\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\">",
        24.0 * r.energy_by.len() as f64
    );
    for (i, (name, v)) in r.energy_by.iter().enumerate() {
        let bwid = v / r.energy.max(1e-30) * (w - 260.0);
        let _ = write!(
            o,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect class=\"energy-bar\" x=\"140\" y=\"{}\" width=\"{bwid:.1}\" height=\"16\" fill=\"#4878d0\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{v:.1} nJ ({:.1}%)</text>",
            24 * i + 14,
            esc(name),
            24 * i + 2,
            145.0 + bwid,
            24 * i + 14,
            100.0 * v / r.energy
        );
    }
    o.push_str("</svg>");

    // Utilisation and distance to the bound.
    let _ = write!(
        o,
        "<h2>MAC utilisation and latency over the lower bound</h2><svg id=\"utilisation\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\">",
        h + bottom
    );
    for (i, x) in r.rows.iter().enumerate() {
        let uh = x.utilisation.min(1.0) * (h - 10.0);
        let _ = write!(
            o,
            "<rect class=\"util-bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{uh:.1}\" fill=\"#6acc64\"><title>#{} utilisation {:.1}%, {:.2}× the bound</title></rect>",
            left + i as f64 * bw,
            h - uh,
            (bw - 1.0).max(0.5),
            x.id,
            100.0 * x.utilisation,
            x.metrics.latency_cycles / x.bound
        );
        let ratio = (x.bound / x.metrics.latency_cycles).min(1.0) * (h - 10.0);
        let _ = write!(
            o,
            "<circle class=\"bound-dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#d65f5f\"/>",
            left + (i as f64 + 0.5) * bw,
            h - ratio
        );
    }
    let _ = write!(
        o,
        "<line x1=\"{left}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#333\"/><text x=\"0\" y=\"12\" font-size=\"11\">100%</text></svg><p>Bars: MAC utilisation. Dots: lower bound / latency (1 at the top = at the bound).</p>"
    );

    if let Some(l) = timeline_layer(r, timeline) {
        o.push_str(&timeline_html(r, s, l, timeline.is_some()));
    }

    // The table.
    o.push_str("<h2>Layers</h2><table><tr><th>id</th><th class=\"l\">layer</th><th class=\"l\">op</th><th class=\"l\">dims</th><th>latency (cycles)</th><th>energy (nJ)</th><th>EDP</th><th>utilisation</th><th>× bound</th><th>prediction error</th></tr>");
    for x in &r.rows {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{:.0}</td><td>{:.1}</td><td>{:.3e}</td><td>{:.1}%</td><td>{:.2}</td><td>{}</td></tr>",
            x.id,
            esc(&x.name),
            x.op,
            esc(&x.dims),
            x.metrics.latency_cycles,
            x.metrics.energy_nj,
            x.metrics.edp,
            100.0 * x.utilisation,
            x.metrics.latency_cycles / x.bound,
            x.error.map_or("-".into(), |e| format!("{:.2}%", 100.0 * e))
        );
    }
    o.push_str("</table>");
    match PlanSummary::of(s) {
        Some(p) => o.push_str(&p.html(s)),
        None => o.push_str("<h2>Memory plan</h2><p>None in this schedule (format 1.0, or compiled with --keep-going when the tensors did not fit).</p>"),
    }
    o.push_str("</body></html>\n");
    o
}

/// The JSON report of a schedule (what `report --format json` and `compile --json` print).
pub fn json_of(s: &Schedule) -> Result<String> {
    Ok(to_json(&build(s, false)?, s))
}

/// How a report is rendered besides its format.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Add the vector unit's estimate for the non-CIM operators to the latency totals (the
    /// target must set `vector_lanes`).
    pub include_vector: bool,
    /// HTML: the layer (its position in the schedule) whose simulated timeline is drawn; the
    /// slowest layer when `None`.
    pub timeline_layer: Option<usize>,
}

/// A schedule's report in one format; `include_vector` adds the vector unit's estimate for the
/// non-CIM operators to the latency totals (the target must set `vector_lanes`).
pub fn render(s: &Schedule, format: Format, include_vector: bool) -> Result<String> {
    render_with(
        s,
        format,
        &RenderOptions {
            include_vector,
            ..RenderOptions::default()
        },
    )
}

/// A schedule's report in one format, as `options` say.
pub fn render_with(s: &Schedule, format: Format, options: &RenderOptions) -> Result<String> {
    if let Some(l) = options.timeline_layer
        && l >= s.layers.len()
    {
        return Err(Error::Options(format!(
            "--timeline-layer {l}: the schedule has {} layers (0..{})",
            s.layers.len(),
            s.layers.len().saturating_sub(1)
        )));
    }
    let r = build(s, options.include_vector)?;
    Ok(match format {
        Format::Json => to_json(&r, s),
        Format::Csv => csv(&r),
        Format::Html => html(&r, s, options.timeline_layer),
        Format::Table => table(&r, s),
    })
}
