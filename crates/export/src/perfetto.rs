//! The simulator's timeline of one layer as Chrome trace-event JSON (the `traceEvents` object
//! format that ui.perfetto.dev and chrome://tracing open).
//!
//! One process (the layer); threads (tracks): the MAC array's activations, one per (level,
//! operand) port for the transfers leaving that level, and one per stall cause. Events that
//! overlap on a track go to a second lane (`… #2`), so every thread's slices nest. Time is in
//! cycles, written as the format's microseconds (1 µs in the viewer = 1 cycle). A layer with
//! more activations than asked for is traced up to its `N`-th activation; each track then ends
//! with one `summary` event from its last traced event to the layer's end whose `args` give
//! what was left out (count and cycles), and `otherData` the layer's totals.

use crate::ExportError;
use cimopt_schedule::Schedule;
use cimopt_sim::trace::{Cause, Kind, Role, Trace};
use cimopt_target::Operand;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Activations traced in full when not told otherwise.
pub const DEFAULT_MAX_ACTIVATIONS: usize = 2000;

/// Traces layer `layer` of `s` (its first `max_activations` activations in full).
pub fn trace_layer(
    s: &Schedule,
    layer: usize,
    max_activations: usize,
) -> Result<Trace, ExportError> {
    let sl = s.layers.get(layer).ok_or(ExportError::NoSuchLayer {
        layer,
        count: s.layers.len(),
    })?;
    cimopt_sim::trace::trace(
        &s.inputs.target,
        &sl.layer.workload,
        &sl.mapping,
        max_activations as u64,
    )
    .map_err(|error| ExportError::Sim {
        layer: sl.layer.index,
        error,
    })
}

/// The trace-event document of layer `layer`: the first `max_activations` activations in
/// full, the rest summarised.
pub fn perfetto(s: &Schedule, layer: usize, max_activations: usize) -> Result<Value, ExportError> {
    let tr = trace_layer(s, layer, max_activations)?;
    Ok(perfetto_of_trace(s, layer, &tr))
}

/// Chrome's reserved colour names, per kind of event (chrome://tracing uses them; Perfetto
/// colours by name, and every cause has its own name).
fn colour(cause: Option<Cause>, activation: bool) -> &'static str {
    if activation {
        return "good";
    }
    match cause {
        None => "rail_response",
        Some(Cause::ModeSwitch) => "terrible",
        Some(Cause::Mismatch) => "yellow",
        Some(Cause::WriteBack) => "olive",
        Some(Cause::Bootstrap) => "grey",
    }
}

/// A track: a name and lanes (the end of each lane's last slice, in ticks).
struct Track {
    name: String,
    sort: usize,
    lanes: Vec<u64>,
    tids: Vec<u64>,
}

struct Tracks {
    tracks: BTreeMap<(usize, usize, usize), Track>,
    next_tid: u64,
}

impl Tracks {
    /// The thread id for an event on track `key` from `start` to `end`.
    fn place(
        &mut self,
        key: (usize, usize, usize),
        name: &dyn Fn() -> String,
        start: u64,
        end: u64,
    ) -> u64 {
        let next_tid = &mut self.next_tid;
        let tr = self.tracks.entry(key).or_insert_with(|| Track {
            name: name(),
            sort: 0,
            lanes: vec![],
            tids: vec![],
        });
        let lane = match tr.lanes.iter().position(|&e| e <= start) {
            Some(l) => l,
            None => {
                tr.lanes.push(0);
                tr.tids.push(*next_tid);
                *next_tid += 1;
                tr.lanes.len() - 1
            }
        };
        tr.lanes[lane] = end.max(tr.lanes[lane]);
        tr.tids[lane]
    }

    fn end(&self, key: (usize, usize, usize)) -> u64 {
        self.tracks
            .get(&key)
            .map_or(0, |t| t.lanes.iter().copied().max().unwrap_or(0))
    }
}

/// The trace-event document of a trace of layer `layer` of `s`.
pub fn perfetto_of_trace(s: &Schedule, layer: usize, tr: &Trace) -> Value {
    let sl = &s.layers[layer];
    let names = &tr.level_names;
    let level_name = |l: usize| -> String {
        names
            .get(l)
            .cloned()
            .unwrap_or_else(|| "MAC array".to_string())
    };
    let cyc = |ticks: u64| tr.cycles(ticks);
    // Track keys sort the threads: (group, level, operand); group 0 MAC, 1 ports, 2 stalls.
    let mac_key = (0, 0, 0);
    let port_key = |l: usize, o: Operand| (1, l, o.index());
    let stall_key = |c: Cause| (2, c.index(), 0);
    let port_name = |l: usize, o: Operand| format!("{} · {o}", level_name(l));
    let mut tracks = Tracks {
        tracks: BTreeMap::new(),
        next_tid: 1,
    };
    let mut events: Vec<Value> = Vec::new();
    let slice =
        |name: String, cat: &str, start: u64, end: u64, tid: u64, cname: &str, args: Value| {
            json!({
                "name": name, "cat": cat, "ph": "X", "ts": cyc(start), "dur": cyc(end - start),
                "pid": 1, "tid": tid, "cname": cname, "args": args,
            })
        };
    for e in &tr.events {
        match e.kind {
            Kind::Activation => {
                let tid = tracks.place(
                    mac_key,
                    &|| "MAC array · activations".into(),
                    e.start,
                    e.end,
                );
                events.push(slice(
                    "activation".into(),
                    "compute",
                    e.start,
                    e.end,
                    tid,
                    colour(None, true),
                    json!({}),
                ));
            }
            Kind::Transfer {
                operand,
                from,
                to,
                role,
            } => {
                let key = port_key(from, operand);
                let tid = tracks.place(key, &|| port_name(from, operand), e.start, e.end);
                let arrow = match role {
                    Role::WriteBack | Role::CopyBack => "←",
                    _ => "→",
                };
                let args = json!({
                    "operand": operand.name(), "from": level_name(from), "to": level_name(to),
                    "role": role.name(), "cycles": cyc(e.end - e.start),
                });
                events.push(slice(
                    format!("{} {operand} {arrow} {}", role.name(), level_name(to)),
                    "transfer",
                    e.start,
                    e.end,
                    tid,
                    colour(role.stall(), false),
                    args.clone(),
                ));
                if let Some(c) = role.stall() {
                    let tid = tracks.place(
                        stall_key(c),
                        &|| format!("stalls · {}", c.label()),
                        e.start,
                        e.end,
                    );
                    let mut a = args;
                    a["cause"] = json!(c.name());
                    events.push(slice(
                        c.label().into(),
                        "stall",
                        e.start,
                        e.end,
                        tid,
                        colour(Some(c), false),
                        a,
                    ));
                }
            }
            Kind::Mismatch {
                operand,
                level,
                from,
            } => {
                let c = Cause::Mismatch;
                let tid = tracks.place(
                    stall_key(c),
                    &|| format!("stalls · {}", c.label()),
                    e.start,
                    e.end,
                );
                let args = json!({
                    "cause": c.name(), "operand": operand.name(), "waiting": level_name(level),
                    "from": level_name(from), "cycles": cyc(e.end - e.start),
                });
                events.push(slice(
                    c.label().into(),
                    "stall",
                    e.start,
                    e.end,
                    tid,
                    colour(Some(c), false),
                    args,
                ));
            }
        }
    }
    let latency_ticks = (tr.report.latency_cycles * tr.den as f64).round() as u64;
    if !tr.complete {
        let rest = &tr.rest;
        let mut summary = |key, name: &dyn Fn() -> String, what: String, args: Value| {
            let start = tracks.end(key);
            let end = latency_ticks.max(start);
            let tid = tracks.place(key, name, start, end);
            events.push(slice(
                what,
                "summary",
                start,
                end,
                tid,
                "generic_work",
                args,
            ));
        };
        if rest.activations > 0 {
            summary(
                mac_key,
                &|| "MAC array · activations".into(),
                format!("{} activations not traced", rest.activations),
                json!({"activations": rest.activations, "cycles": rest.activations * tr.t_mac}),
            );
        }
        for r in &rest.transfers {
            summary(
                port_key(r.level, r.operand),
                &|| port_name(r.level, r.operand),
                format!("{} transfers not traced", r.transfers),
                json!({"transfers": r.transfers, "cycles": cyc(r.ticks)}),
            );
        }
        for c in Cause::ALL {
            let cycles = rest.stall_cycles[c.index()];
            if cycles > 0.0 {
                summary(
                    stall_key(c),
                    &|| format!("stalls · {}", c.label()),
                    format!("{} not traced: {cycles} cycles", c.label()),
                    json!({"cause": c.name(), "cycles": cycles}),
                );
            }
        }
    }
    // Metadata: the process, each thread's name and order.
    let mut meta = vec![json!({
        "name": "process_name", "ph": "M", "ts": 0, "pid": 1, "tid": 0,
        "args": {"name": format!("layer {} {}", sl.layer.index, sl.layer.name)},
    })];
    for (sort, tr_) in tracks.tracks.values_mut().enumerate() {
        tr_.sort = sort;
    }
    let mut threads: Vec<(&Track, usize)> = Vec::new();
    for t in tracks.tracks.values() {
        for k in 0..t.tids.len() {
            threads.push((t, k));
        }
    }
    for (i, (t, k)) in threads.iter().enumerate() {
        let name = if *k == 0 {
            t.name.clone()
        } else {
            format!("{} #{}", t.name, k + 1)
        };
        meta.push(json!({"name": "thread_name", "ph": "M", "ts": 0, "pid": 1, "tid": t.tids[*k], "args": {"name": name}}));
        meta.push(json!({"name": "thread_sort_index", "ph": "M", "ts": 0, "pid": 1, "tid": t.tids[*k], "args": {"sort_index": i}}));
    }
    meta.extend(events);
    let st = &tr.report.stalls;
    json!({
        "traceEvents": meta,
        "displayTimeUnit": "ns",
        "otherData": {
            "producer": "cimopt export --format perfetto",
            "time_unit": "1 µs in the viewer is 1 cycle",
            "layer": sl.layer.index,
            "name": sl.layer.name,
            "op": sl.layer.workload.op.name(),
            "target": s.inputs.target_name,
            "complete": tr.complete,
            "traced_activations": tr.recorded_activations,
            "activations": tr.report.activations,
            "t_mac_cycles": tr.t_mac,
            "ticks_per_cycle": tr.den,
            "latency_cycles": tr.report.latency_cycles,
            "energy_nj": tr.report.energy_nj,
            "compute_cycles": tr.report.compute_cycles,
            "stall_cycles": {
                "mode_switch": st.mode_switch,
                "mismatch": st.mismatch,
                "writeback": st.writeback,
                "bootstrap": st.bootstrap,
                "idle": st.idle,
            },
        },
    })
}
