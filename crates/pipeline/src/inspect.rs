//! What a lowered model holds (`cimopt inspect`): its CIM layers and non-CIM operators, as a
//! table or as JSON.

use cimopt_ir::Layer;
use cimopt_onnx::Model;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The JSON report (`cimopt inspect --json`). Field order is part of the format.
#[derive(Serialize)]
pub struct InspectReport {
    model: String,
    inputs: Vec<InputJson>,
    summary: Summary,
    layers: Vec<LayerJson>,
    other_ops: Vec<OtherJson>,
    other_op_summary: Vec<OtherSummary>,
    /// `[producer, consumer]` layer indices.
    edges: Vec<[usize; 2]>,
    /// Compute nodes the front end did not lower (loaded with `keep_going`).
    skipped: Vec<SkippedJson>,
}

#[derive(Serialize)]
struct SkippedJson {
    name: String,
    op_type: String,
    domain: String,
    macs: Option<u64>,
    reason: String,
}

/// Bits per element the model gives a layer's tensors (`null`: a float tensor, the target's
/// precision applies).
#[derive(Serialize)]
struct BitsJson {
    input: Option<u64>,
    weight: Option<u64>,
    output: Option<u64>,
}

#[derive(Serialize)]
struct InputJson {
    name: String,
    shape: Vec<u64>,
}

#[derive(Serialize)]
struct Summary {
    layers: usize,
    unique_workloads: usize,
    total_macs: u64,
    total_weights: u64,
    other_ops: usize,
}

#[derive(Serialize)]
struct LayerJson {
    index: usize,
    name: String,
    op: &'static str,
    weight_kind: &'static str,
    r: u64,
    s: u64,
    p: u64,
    q: u64,
    c: u64,
    k: u64,
    g: u64,
    b: u64,
    h: u64,
    w: u64,
    stride: [u64; 2],
    pad: [u64; 4],
    dilation: [u64; 2],
    macs: u64,
    weights: u64,
    dedup_group: usize,
    has_bias: bool,
    onnx_nodes: Vec<String>,
    bits: BitsJson,
}

#[derive(Serialize)]
struct OtherJson {
    name: String,
    op_type: String,
    output_elements: u64,
}

#[derive(Serialize)]
struct OtherSummary {
    op_type: String,
    count: usize,
    output_elements: u64,
}

impl InspectReport {
    pub fn of(m: &Model) -> Self {
        InspectReport {
            model: m.path.display().to_string(),
            inputs: m
                .inputs
                .iter()
                .map(|(name, shape)| InputJson {
                    name: name.clone(),
                    shape: shape.clone(),
                })
                .collect(),
            summary: summary(m),
            layers: m.layers.iter().map(layer_json).collect(),
            other_ops: m
                .other_ops
                .iter()
                .map(|o| OtherJson {
                    name: o.name.clone(),
                    op_type: o.op_type.clone(),
                    output_elements: o.output_elements,
                })
                .collect(),
            other_op_summary: other_summary(m),
            edges: edges(m),
            skipped: m
                .skipped
                .iter()
                .map(|s| SkippedJson {
                    name: s.name.clone(),
                    op_type: s.op_type.clone(),
                    domain: s.domain.clone(),
                    macs: s.macs,
                    reason: s.reason.clone(),
                })
                .collect(),
        }
    }
}

fn summary(m: &Model) -> Summary {
    Summary {
        layers: m.layers.len(),
        unique_workloads: m.layers.iter().filter(|l| l.dedup_group == l.index).count(),
        total_macs: m.layers.iter().map(|l| l.workload.macs()).sum(),
        total_weights: m.layers.iter().map(|l| l.workload.weight_count()).sum(),
        other_ops: m.other_ops.len(),
    }
}

/// The bits the model gives a layer's input, weights and output, as `8/4/8` (`-` for float).
fn bits_of(l: &Layer) -> (Option<u64>, Option<u64>, Option<u64>) {
    let b = &l.workload.bits;
    (b.input, b.weight, b.output)
}

fn layer_json(l: &Layer) -> LayerJson {
    let (input, weight, output) = bits_of(l);
    let w = &l.workload;
    LayerJson {
        index: l.index,
        name: l.name.clone(),
        op: w.op.name(),
        weight_kind: w.weight_kind.name(),
        r: w.r,
        s: w.s,
        p: w.p,
        q: w.q,
        c: w.c,
        k: w.k,
        g: w.g,
        b: w.b,
        h: w.h,
        w: w.w,
        stride: w.stride,
        pad: w.pad,
        dilation: w.dilation,
        macs: w.macs(),
        weights: w.weight_count(),
        dedup_group: l.dedup_group,
        has_bias: l.has_bias,
        onnx_nodes: l.onnx_nodes.clone(),
        bits: BitsJson {
            input,
            weight,
            output,
        },
    }
}

/// Non-CIM operators grouped by type, in order of first appearance.
fn other_summary(m: &Model) -> Vec<OtherSummary> {
    let mut out: Vec<OtherSummary> = Vec::new();
    let mut at: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &m.other_ops {
        let i = *at.entry(o.op_type.as_str()).or_insert_with(|| {
            out.push(OtherSummary {
                op_type: o.op_type.clone(),
                count: 0,
                output_elements: 0,
            });
            out.len() - 1
        });
        out[i].count += 1;
        // Each tensor is at most 2^63 − 1 elements; their sum saturates instead of overflowing.
        out[i].output_elements = out[i].output_elements.saturating_add(o.output_elements);
    }
    out
}

fn edges(m: &Model) -> Vec<[usize; 2]> {
    let mut e: Vec<[usize; 2]> = m
        .graph
        .raw_edges()
        .iter()
        .map(|e| [m.graph[e.source()], m.graph[e.target()]])
        .collect();
    e.sort_unstable();
    e
}

/// Left- or right-aligned columns, widths from the content.
fn render(header: &[&str], rows: &[Vec<String>], left: &[bool]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let last = i + 1 == cells.len();
            if left[i] {
                if last {
                    s.push_str(c);
                } else {
                    let _ = write!(s, "{c:<w$}", w = width[i]);
                }
            } else {
                let _ = write!(s, "{c:>w$}", w = width[i]);
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(|s| s.as_str()).collect()));
    }
    out
}

/// The tables `cimopt inspect` prints.
pub fn table(m: &Model) -> String {
    let mut out = String::new();
    let s = summary(m);
    let _ = writeln!(
        out,
        "model   {}",
        crate::output::printable(&m.path.display().to_string())
    );
    for (name, shape) in &m.inputs {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let _ = writeln!(
            out,
            "input   {}: {}",
            crate::output::printable(name),
            dims.join("x")
        );
    }
    let _ = writeln!(
        out,
        "{} layers ({} unique workloads), {} MACs, {} weights, {} non-CIM ops\n",
        s.layers, s.unique_workloads, s.total_macs, s.total_weights, s.other_ops
    );

    let header = [
        "#",
        "op",
        "R",
        "S",
        "P",
        "Q",
        "C",
        "K",
        "G",
        "B",
        "stride",
        "pad",
        "dil",
        "W kind",
        "MACs",
        "W count",
        "bits I/W/O",
        "dedup",
        "node",
    ];
    let mut left = vec![false; header.len()];
    left[1] = true;
    left[10] = true;
    left[11] = true;
    left[12] = true;
    left[13] = true;
    left[18] = true;
    let rows: Vec<Vec<String>> = m
        .layers
        .iter()
        .map(|l| {
            let w = &l.workload;
            vec![
                l.index.to_string(),
                w.op.name().to_string(),
                w.r.to_string(),
                w.s.to_string(),
                w.p.to_string(),
                w.q.to_string(),
                w.c.to_string(),
                w.k.to_string(),
                w.g.to_string(),
                w.b.to_string(),
                format!("{}x{}", w.stride[0], w.stride[1]),
                format!("{},{},{},{}", w.pad[0], w.pad[1], w.pad[2], w.pad[3]),
                format!("{}x{}", w.dilation[0], w.dilation[1]),
                w.weight_kind.name().to_string(),
                w.macs().to_string(),
                w.weight_count().to_string(),
                {
                    let (i, w, o) = bits_of(l);
                    let b = |x: Option<u64>| x.map_or("-".to_string(), |x| x.to_string());
                    format!("{}/{}/{}", b(i), b(w), b(o))
                },
                if l.dedup_group == l.index {
                    "-".to_string()
                } else {
                    format!("={}", l.dedup_group)
                },
                crate::output::printable(&l.name),
            ]
        })
        .collect();
    out.push_str(&render(&header, &rows, &left));

    let groups = other_summary(m);
    if groups.is_empty() {
        out.push_str("\nno non-CIM operators\n");
    } else {
        let _ = writeln!(out, "\nnon-CIM operators (run outside the macros):");
        let rows: Vec<Vec<String>> = groups
            .iter()
            .map(|g| {
                vec![
                    crate::output::printable(&g.op_type),
                    g.count.to_string(),
                    g.output_elements.to_string(),
                ]
            })
            .collect();
        out.push_str(&render(
            &["op", "count", "output elements"],
            &rows,
            &[true, false, false],
        ));
    }
    if !m.skipped.is_empty() {
        let _ = writeln!(
            out,
            "\nskipped compute nodes (not lowered; their MACs are in no total):"
        );
        for s in &m.skipped {
            let _ = writeln!(
                out,
                "  {} ({}){}: {}",
                crate::output::printable(&s.name),
                crate::output::printable(&s.op_type),
                s.macs.map_or(String::new(), |m| format!(", {m} MACs")),
                crate::output::printable(&s.reason)
            );
        }
    }
    out
}
