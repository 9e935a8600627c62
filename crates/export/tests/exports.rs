//! The exports on every committed schedule (`schedules/*.json`, every bundled model on both
//! presets): Timeloop round trips, MIREDO self-consistency, Perfetto validity and sums.

use cimopt_export::{gantt_svg, import_timeloop, miredo, perfetto, timeloop, trace_layer};
use cimopt_schedule::Schedule;
use cimopt_sim::trace::Cause;
use serde_json::Value;
use std::path::PathBuf;

fn schedules() -> Vec<(String, Schedule)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schedules");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "the committed schedules are there");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, cimopt_schedule::from_json(&text, None).unwrap())
        })
        .collect()
}

fn mapping_json(s: &Schedule) -> Vec<(u64, Value)> {
    let doc: Value = serde_json::from_str(&cimopt_schedule::to_json(s)).unwrap();
    doc["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].as_u64().unwrap(), l["mapping"].clone()))
        .collect()
}

#[test]
fn timeloop_round_trips_every_bundled_schedule() {
    let mut exact = 0;
    let mut native = 0;
    let mut total = 0;
    for (name, s) in schedules() {
        let docs = timeloop(&s, None).unwrap();
        assert_eq!(docs.len(), s.layers.len());
        let files: Vec<(String, String)> = docs
            .iter()
            .filter(|d| d.exact)
            .map(|d| (d.file_name.clone(), d.text.clone()))
            .collect();
        total += docs.len();
        exact += files.len();
        for d in docs.iter().filter(|d| !d.exact) {
            // Not exact: the document says so, and the import refuses it.
            assert!(
                d.text.contains("# WARNING (not exact)"),
                "{name} {}",
                d.file_name
            );
            let err = import_timeloop(&[(d.file_name.clone(), d.text.clone())]).unwrap_err();
            assert!(err.to_string().contains("not exact"), "{err}");
        }
        if files.is_empty() {
            continue;
        }
        let back = import_timeloop(&files).unwrap();
        let want: Vec<(u64, Value)> = mapping_json(&s)
            .into_iter()
            .filter(|(id, _)| docs.iter().any(|d| d.exact && d.layer as u64 == *id))
            .collect();
        let got = mapping_json(&back);
        assert_eq!(got.len(), want.len(), "{name}");
        for ((gi, g), (wi, w)) in got.iter().zip(&want) {
            assert_eq!(gi, wi);
            assert_eq!(
                serde_json::to_string_pretty(g).unwrap(),
                serde_json::to_string_pretty(w).unwrap(),
                "{name} layer {gi}: the mapping did not round-trip"
            );
        }
        // The Timeloop part alone says the same mapping wherever the schedule has nothing
        // Timeloop cannot see (a trip-1 loop, a DRAM double-buffer flag, spatial order).
        for d in docs
            .iter()
            .filter(|d| d.exact && !d.text.contains("ignore_cimopt.mapping keeps"))
        {
            let stripped: String = d
                .text
                .lines()
                .filter(|l| !l.starts_with("  mapping: "))
                .map(|l| format!("{l}\n"))
                .collect();
            let back = import_timeloop(&[(d.file_name.clone(), stripped)]).unwrap();
            let got = &mapping_json(&back)[0].1;
            let want = &mapping_json(&s)
                .into_iter()
                .find(|(id, _)| *id == d.layer as u64)
                .unwrap()
                .1;
            assert_eq!(got, want, "{name} {}: the Timeloop part alone", d.file_name);
            native += 1;
        }
    }
    eprintln!(
        "timeloop: {exact} of {total} layers exact, {native} read from the Timeloop part alone"
    );
    // Uneven mappings whose loop order Timeloop's single chain cannot follow are refused above;
    // more than half of the committed layers translate exactly.
    assert!(exact * 2 >= total, "{exact} of {total} exact");
    assert!(
        native * 2 >= exact,
        "{native} of {exact} from the Timeloop part alone"
    );
}

#[test]
fn timeloop_documents_have_the_v4_structure() {
    let (_, s) = schedules()
        .into_iter()
        .find(|(n, _)| n.starts_with("resnet18.default"))
        .unwrap();
    let d = &timeloop(&s, Some(1)).unwrap()[0];
    let v: serde_yaml::Value = serde_yaml::from_str(&d.text).unwrap();
    for key in ["problem", "architecture", "mapping", "ignore_cimopt"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert_eq!(v["architecture"]["version"].as_f64(), Some(0.4));
    let nodes = v["architecture"]["nodes"].as_sequence().unwrap();
    let tags: Vec<String> = nodes
        .iter()
        .map(|n| match n {
            serde_yaml::Value::Tagged(t) => t.tag.to_string(),
            _ => String::new(),
        })
        .collect();
    assert!(
        tags.iter().all(|t| t == "!Container" || t == "!Component"),
        "{tags:?}"
    );
    let dims = v["problem"]["shape"]["dimensions"].as_sequence().unwrap();
    assert_eq!(dims.len(), 8);
    for directive in v["mapping"].as_sequence().unwrap() {
        let ty = directive["type"].as_str().unwrap();
        assert!(["temporal", "spatial", "dataspace"].contains(&ty));
        if ty != "dataspace" {
            assert_eq!(directive["factors"].as_sequence().unwrap().len(), 8);
            assert_eq!(directive["permutation"].as_sequence().unwrap().len(), 8);
        }
    }
    assert!(
        timeloop(&s, Some(999))
            .unwrap_err()
            .to_string()
            .contains("no layer 999")
    );
}

#[test]
fn miredo_is_valid_and_self_consistent_on_every_bundled_schedule() {
    for (name, s) in schedules() {
        let v = miredo(&s, None).unwrap();
        let text = serde_json::to_string(&v).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let arch = &v["architecture"];
        let n_mem = arch["Num_mem"].as_u64().unwrap() as usize;
        assert_eq!(n_mem, s.inputs.target.num_levels() + 1);
        let holds = |op: usize, mem: usize| arch["mappingArray"][op][mem] == 1;
        for (l, sl) in v["layers"].as_array().unwrap().iter().zip(&s.layers) {
            let w = &sl.layer.workload;
            let bound = l["workload"]["dim2bound"].as_array().unwrap();
            let mut cover = [1u64; 8];
            let mut prev = [1u64; 3];
            for t in l["loopnest"]["tm"].as_array().unwrap() {
                let d = t["dim"].as_u64().unwrap() as usize;
                assert!((1..8).contains(&d), "{name}");
                cover[d] *= t["dimSize"].as_u64().unwrap();
                for op in 0..3 {
                    let mem = t["mem"][op].as_u64().unwrap();
                    assert!(
                        (1..n_mem as u64).contains(&mem),
                        "{name}: mem {mem} out of range"
                    );
                    assert!(holds(op, mem as usize), "{name}: operand {op} at mem {mem}");
                    assert!(mem >= prev[op], "{name}: levels go outwards");
                    prev[op] = mem;
                }
            }
            for t in l["loopnest"]["sm"].as_array().unwrap() {
                let d = t["dim"].as_u64().unwrap() as usize;
                cover[d] *= t["dimSize"].as_u64().unwrap();
                for op in 0..3 {
                    let mem = t["mem"][op].as_u64().unwrap() as usize;
                    assert!((1..n_mem).contains(&mem) && holds(op, mem));
                }
            }
            let su = l["loopnest"]["su"].as_array().unwrap();
            assert_eq!(su.len(), 3);
            for (d, b) in bound.iter().enumerate().skip(1) {
                let b = b.as_u64().unwrap();
                let padded = l["workload"]["padded_dims"][cimopt_export_dim(d)]
                    .as_u64()
                    .unwrap_or(b);
                assert_eq!(cover[d], padded, "{name} layer {}: dim {d}", sl.layer.index);
                assert!(cover[d] >= b);
            }
            assert_eq!(
                l["loopnest"]["usr_defined_double_flag"]
                    .as_array()
                    .unwrap()
                    .len(),
                n_mem + 1
            );
            assert_eq!(
                l["exact"],
                w.b == 1 && w.dilation == [1, 1] && l["warnings"].as_array().unwrap().is_empty()
            );
        }
    }
}

fn cimopt_export_dim(d: usize) -> &'static str {
    ["-", "R", "S", "P", "Q", "C", "K", "G"][d]
}

#[test]
fn perfetto_traces_are_valid_and_add_up() {
    let (_, s) = schedules()
        .into_iter()
        .find(|(n, _)| n.starts_with("tiny_cnn.default"))
        .unwrap();
    let mut full_layers = 0;
    for layer in 0..s.layers.len() {
        let v = perfetto(&s, layer, 1_000_000).unwrap();
        let text = serde_json::to_string(&v).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let events = v["traceEvents"].as_array().unwrap();
        assert!(!events.is_empty());
        for e in events {
            for k in ["ph", "ts", "pid", "tid", "name"] {
                assert!(e.get(k).is_some(), "event without {k}: {e}");
            }
            assert!(e["ts"].as_f64().unwrap() >= 0.0);
            if e["ph"] == "X" {
                assert!(e["dur"].as_f64().unwrap() >= 0.0);
            }
        }
        let tr = trace_layer(&s, layer, 1_000_000).unwrap();
        if !tr.complete {
            continue;
        }
        full_layers += 1;
        let r = &tr.report;
        let acts: Vec<&Value> = events.iter().filter(|e| e["cat"] == "compute").collect();
        assert_eq!(acts.len() as u64, r.activations);
        let busy: f64 = acts.iter().map(|e| e["dur"].as_f64().unwrap()).sum();
        assert!((busy - (r.activations * tr.t_mac) as f64).abs() < 1e-6);
        let want = [
            r.stalls.mode_switch,
            r.stalls.mismatch,
            r.stalls.writeback,
            r.stalls.bootstrap,
        ];
        for c in Cause::ALL {
            let got: f64 = events
                .iter()
                .filter(|e| e["cat"] == "stall" && e["args"]["cause"] == c.name())
                .map(|e| e["dur"].as_f64().unwrap())
                .sum();
            let w = want[c.index()];
            assert!(
                (got - w).abs() <= 1e-6 * w.max(1.0),
                "layer {layer} {}: {got} vs {w}",
                c.name()
            );
        }
        // Slices on one thread nest (here: never overlap).
        let mut by_tid: std::collections::BTreeMap<u64, Vec<(f64, f64)>> = Default::default();
        for e in events.iter().filter(|e| e["ph"] == "X") {
            let ts = e["ts"].as_f64().unwrap();
            by_tid
                .entry(e["tid"].as_u64().unwrap())
                .or_default()
                .push((ts, ts + e["dur"].as_f64().unwrap()));
        }
        for v in by_tid.values_mut() {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            for w in v.windows(2) {
                assert!(w[1].0 >= w[0].1 - 1e-9, "overlap {w:?}");
            }
        }
        let svg = gantt_svg(&tr, 10_000);
        assert!(svg.contains("</svg>"));
    }
    assert!(full_layers > 0);
    // A truncated trace summarises the rest.
    let v = perfetto(&s, 0, 10).unwrap();
    assert_eq!(v["otherData"]["complete"], false);
    assert!(
        v["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["cat"] == "summary")
    );
    assert!(
        perfetto(&s, 99, 10)
            .unwrap_err()
            .to_string()
            .contains("no layer 99")
    );
}
