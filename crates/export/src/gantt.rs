//! A layer's first cycles as an SVG Gantt chart: one row for the MAC array and one per
//! (level, operand) port, bars coloured by what they are (stalls by cause), a legend and a
//! time axis in cycles. Self-contained: no scripts, no external references.

use cimopt_sim::trace::{Cause, Kind, Trace};
use cimopt_target::Operand;
use std::collections::BTreeSet;
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const LABEL: f64 = 180.0;
const ROW: f64 = 22.0;
const TOP: f64 = 28.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The colour of each kind of bar, and its legend label.
const PALETTE: [(&str, &str); 6] = [
    ("#59a14f", "activation"),
    ("#4e79a7", "prefetch (overlapped)"),
    ("#e15759", "mode switch (fetch)"),
    ("#edc948", "mismatch (wait)"),
    ("#f28e2b", "write-back"),
    ("#9c755f", "bootstrap"),
];

fn fill(kind: &Kind) -> &'static str {
    match kind {
        Kind::Activation => PALETTE[0].0,
        Kind::Mismatch { .. } => PALETTE[3].0,
        Kind::Transfer { role, .. } => match role.stall() {
            None => PALETTE[1].0,
            Some(Cause::ModeSwitch) => PALETTE[2].0,
            Some(Cause::WriteBack) => PALETTE[4].0,
            Some(_) => PALETTE[5].0,
        },
    }
}

/// A step of about a tenth of `span` from 1, 2, 5 × 10^k.
fn nice_step(span: f64) -> f64 {
    let raw = (span / 8.0).max(1.0);
    let p = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= raw {
            return m * p;
        }
    }
    10.0 * p
}

/// Draws the trace's first `max_cycles` cycles (at most what it recorded).
pub fn gantt_svg(trace: &Trace, max_cycles: u64) -> String {
    let end_cycles = trace
        .cycles(trace.recorded_end())
        .min(max_cycles as f64)
        .max(1.0);
    let mac = trace.level_names.len();
    // Rows: the MAC array, then every (level, operand) with an event in the window.
    let mut rows: BTreeSet<(usize, usize)> = BTreeSet::new();
    rows.insert((mac, 0));
    let in_window = |s: u64| trace.cycles(s) < end_cycles;
    for e in &trace.events {
        if !in_window(e.start) && e.start != e.end {
            continue;
        }
        match e.kind {
            Kind::Transfer { operand, from, .. } => {
                rows.insert((from, operand.index()));
            }
            Kind::Mismatch { operand, level, .. } if level < mac => {
                rows.insert((level, operand.index()));
            }
            _ => {}
        }
    }
    // MAC first, then levels outer to inner.
    let mut order: Vec<(usize, usize)> = vec![(mac, 0)];
    order.extend(rows.iter().copied().filter(|r| r.0 != mac));
    let row_of = |l: usize, o: usize| -> usize {
        if l >= mac {
            return 0;
        }
        order.iter().position(|&r| r == (l, o)).unwrap_or(0)
    };
    let plot_w = WIDTH - LABEL - 20.0;
    let x = |c: f64| LABEL + plot_w * (c.min(end_cycles) / end_cycles);
    let plot_h = ROW * order.len() as f64;
    let legend_y = TOP + plot_h + 40.0;
    let height = legend_y + 30.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let title = if trace.complete {
        format!("simulated timeline, first {} cycles", end_cycles.round())
    } else {
        format!(
            "simulated timeline, first {} cycles ({} of {} activations traced)",
            end_cycles.round(),
            trace.recorded_activations,
            trace.report.activations
        )
    };
    let _ = writeln!(s, r#"<title>{}</title>"#, escape(&title));
    let _ = writeln!(
        s,
        r#"<text x="4" y="16" font-size="12">{}</text>"#,
        escape(&title)
    );
    // Rows and labels.
    for (i, &(l, o)) in order.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let label = if l >= mac {
            "MAC array".to_string()
        } else {
            format!("{} · {}", trace.level_names[l], Operand::ALL[o])
        };
        let shade = if i % 2 == 0 { "#f4f4f4" } else { "#ffffff" };
        let _ = writeln!(
            s,
            r#"<g class="row"><rect x="{LABEL}" y="{y}" width="{plot_w}" height="{ROW}" fill="{shade}"/><text x="{}" y="{}" text-anchor="end">{}</text></g>"#,
            LABEL - 6.0,
            y + ROW * 0.68,
            escape(&label)
        );
    }
    // Bars.
    for e in &trace.events {
        let (a, b) = (trace.cycles(e.start), trace.cycles(e.end));
        if a >= end_cycles {
            continue;
        }
        let (row, thin) = match e.kind {
            Kind::Activation => (0, false),
            Kind::Transfer { operand, from, .. } => (row_of(from, operand.index()), false),
            Kind::Mismatch { operand, level, .. } => (row_of(level, operand.index()), true),
        };
        let y = TOP + ROW * row as f64;
        let (y, h) = if thin {
            (y + ROW * 0.7, ROW * 0.25)
        } else {
            (y + 3.0, ROW - 6.0)
        };
        let w = (x(b) - x(a)).max(0.5);
        let what = match e.kind {
            Kind::Activation => "activation".to_string(),
            Kind::Transfer { operand, role, .. } => format!("{} {operand}", role.name()),
            Kind::Mismatch { operand, .. } => format!("mismatch {operand}"),
        };
        let _ = writeln!(
            s,
            r#"<rect x="{:.2}" y="{y:.2}" width="{w:.2}" height="{h:.2}" fill="{}"><title>{} {a}–{b}</title></rect>"#,
            x(a),
            fill(&e.kind),
            escape(&what)
        );
    }
    // Time axis.
    let axis_y = TOP + plot_h;
    let _ = writeln!(
        s,
        r##"<g class="axis"><line x1="{LABEL}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#333"/>"##,
        LABEL + plot_w
    );
    let step = nice_step(end_cycles);
    let mut c = 0.0;
    while c <= end_cycles + 1e-9 {
        let xx = x(c);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.2}" y1="{axis_y}" x2="{xx:.2}" y2="{}" stroke="#333"/><text x="{xx:.2}" y="{}" text-anchor="middle">{}</text>"##,
            axis_y + 4.0,
            axis_y + 15.0,
            c
        );
        c += step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">cycles</text></g>"#,
        LABEL + plot_w / 2.0,
        axis_y + 28.0
    );
    // Legend.
    let _ = writeln!(s, r#"<g class="legend">"#);
    let mut lx = LABEL;
    for (colour, label) in PALETTE {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}">{}</text>"#,
            legend_y - 10.0,
            lx + 16.0,
            legend_y,
            escape(label)
        );
        lx += 16.0 + 7.0 * label.len() as f64 + 14.0;
    }
    let _ = writeln!(s, "</g>\n</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> Trace {
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schedules/tiny_cnn.default.schedule.json"
        ))
        .unwrap();
        let s = cimopt_schedule::from_json(&text, None).unwrap();
        let l = &s.layers[1];
        cimopt_sim::trace::trace(&t, &l.layer.workload, &l.mapping, 200).unwrap()
    }

    #[test]
    fn the_chart_is_self_contained_svg_with_a_row_per_port() {
        let tr = trace();
        let svg = gantt_svg(&tr, 5_000);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("href"));
        // Tags balance (every element is closed or self-closed).
        let opens =
            svg.matches("<rect").count() + svg.matches("<text").count() + svg.matches("<g").count();
        let closes = svg.matches("/>").count()
            + svg.matches("</rect>").count()
            + svg.matches("</text>").count()
            + svg.matches("</g>").count();
        assert!(closes >= opens, "{opens} opened, {closes} closed");
        assert_eq!(svg.matches("<svg").count(), 1);
        // One row per port that moves data in the window, plus the MAC array.
        let mut ports: Vec<(usize, Operand)> = tr
            .events
            .iter()
            .filter(|e| tr.cycles(e.start) < 5_000.0)
            .filter_map(|e| match e.kind {
                Kind::Transfer { operand, from, .. } => Some((from, operand)),
                _ => None,
            })
            .collect();
        ports.sort();
        ports.dedup();
        assert!(svg.matches("class=\"row\"").count() > ports.len());
        assert!(svg.contains(">MAC array<"));
        for (l, o) in ports {
            assert!(
                svg.contains(&format!(">{} · {o}<", tr.level_names[l])),
                "row {l} {o}"
            );
        }
        for (_, label) in PALETTE {
            assert!(svg.contains(label), "legend {label}");
        }
        assert!(svg.contains(">cycles<"));
    }
}
