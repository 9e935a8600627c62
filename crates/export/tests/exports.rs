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

/// Whether a layer keeps an operand on chip (a home other than DRAM).
fn resident(s: &Schedule, layer: usize) -> bool {
    s.layers[layer].mapping.home.iter().any(|&h| h > 0)
}

/// The dataspace directive of storage `target` in a Timeloop document: (keep, bypass).
fn dataspace_of(doc: &serde_yaml::Value, target: &str) -> (Vec<String>, Vec<String>) {
    let d = doc["mapping"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|d| d["target"] == target && d["type"] == "dataspace")
        .unwrap_or_else(|| panic!("no dataspace directive for {target}"));
    let list = |k: &str| -> Vec<String> {
        d[k].as_sequence()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    (list("keep"), list("bypass"))
}

#[test]
fn timeloop_round_trips_every_bundled_schedule() {
    let mut exact = 0;
    let mut native = 0;
    let mut total = 0;
    let mut resident_exact = 0;
    let mut resident_native = 0;
    for (name, s) in schedules() {
        let docs = timeloop(&s, None).unwrap();
        // A resident operand: DRAM bypasses it, its home's storage keeps it, above every loop.
        let t = &s.inputs.target;
        for (i, d) in docs.iter().enumerate() {
            let m = &s.layers[i].mapping;
            let v: serde_yaml::Value = serde_yaml::from_str(&d.text).unwrap();
            let (keep, bypass) = dataspace_of(&v, &t.levels[0].name);
            for o in cimopt_target::Operand::ALL {
                let ds = ["Inputs", "Weights", "Outputs"][o.index()].to_string();
                let home = m.home_of(o);
                if home == 0 {
                    assert!(keep.contains(&ds), "{name} layer {i}: DRAM keeps {ds}");
                    continue;
                }
                assert!(bypass.contains(&ds), "{name} layer {i}: DRAM bypasses {ds}");
                let lv = &t.levels[home];
                let storage = if lv.holds.len() > 1 {
                    format!("{}_{o}", lv.name)
                } else {
                    lv.name.clone()
                };
                assert_eq!(dataspace_of(&v, &storage).0, vec![ds.clone()], "{name} {i}");
                // Above every loop: no temporal directive with a factor above 1 before it.
                let nodes = v["mapping"].as_sequence().unwrap();
                let at = nodes
                    .iter()
                    .position(|n| n["target"] == storage.as_str())
                    .unwrap();
                for n in &nodes[..at] {
                    if n["type"] == "temporal" {
                        let f = n["factors"].as_sequence().unwrap();
                        assert!(
                            f.iter().all(|x| x.as_str().unwrap().ends_with("=1")),
                            "{name} layer {i}: a loop above {storage}"
                        );
                    }
                }
                if d.exact {
                    resident_exact += 1;
                }
            }
        }
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
            if resident(&s, d.layer) {
                resident_native += 1;
            }
        }
        // Export, import, export: the same documents, byte for byte.
        let again = timeloop(&back, None).unwrap();
        let exact_docs: Vec<_> = docs.iter().filter(|d| d.exact).collect();
        assert_eq!(again.len(), exact_docs.len(), "{name}");
        for (a, d) in again.iter().zip(exact_docs) {
            assert_eq!(a.file_name, d.file_name, "{name}");
            assert!(
                a.text == d.text,
                "{name} {}: the re-export differs from the export",
                d.file_name
            );
        }
    }
    eprintln!(
        "timeloop: {exact} of {total} layers exact, {native} read from the Timeloop part alone; \
         {resident_exact} resident operands in exact layers, {resident_native} layers with one \
         read from the Timeloop part alone"
    );
    // The committed schedules keep tensors on chip (residency is on by default): the round
    // trips above covered resident homes, also from the Timeloop part alone.
    assert!(resident_exact > 0 && resident_native > 0);
    // Uneven mappings whose loop order Timeloop's single chain cannot follow are refused above;
    // of the committed layers (490, with the memory plan's homes) 235 translate exactly, and
    // homes cost none of them (every resident operand fits the chain above all loops).
    assert!(exact * 5 >= total * 2, "{exact} of {total} exact");
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
    let (mut dram_only, mut resident, mut exact) = (0, 0, 0);
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
            // Residency: the reference has none. A resident layer is exported with its homes
            // in `residency` and a warning, and is not exact; a DRAM-only layer has neither.
            let warns: Vec<&str> = l["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            let about = warns
                .iter()
                .filter(|w| w.contains("the reference has no residency"))
                .count();
            let m = &sl.mapping;
            let homes: Vec<_> = cimopt_target::Operand::ALL
                .into_iter()
                .filter(|&o| m.home_of(o) > 0)
                .collect();
            assert_eq!(about, homes.len(), "{name} layer {}", sl.layer.index);
            if homes.is_empty() {
                assert!(l["residency"].is_null());
                dram_only += 1;
            } else {
                assert_eq!(l["exact"], false);
                for o in homes {
                    let r = &l["residency"][o.name()];
                    let home = m.home_of(o);
                    assert_eq!(r["mem"], home + 1);
                    assert_eq!(r["level"], s.inputs.target.levels[home].name.as_str());
                    // Never at DRAM in the loop nest: the home is its outermost memory.
                    for t in l["loopnest"]["tm"].as_array().unwrap() {
                        assert!(t["mem"][o.index()].as_u64().unwrap() > 1);
                    }
                }
                resident += 1;
            }
            if l["exact"] == true {
                exact += 1;
            }
        }
    }
    assert!(
        dram_only > 0 && resident > 0 && exact > 0,
        "{dram_only} {resident} {exact}"
    );
}

fn cimopt_export_dim(d: usize) -> &'static str {
    ["-", "R", "S", "P", "Q", "C", "K", "G"][d]
}

/// Checks a Perfetto document of a layer against its trace: every event well formed, slices on
/// a thread never overlapping, and activations and stalls per cause (traced plus summarised)
/// adding up to the simulator's numbers.
fn check_perfetto(what: &str, v: &Value, tr: &cimopt_sim::trace::Trace) {
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
    let r = &tr.report;
    let summary = |key: &str, pick: &dyn Fn(&Value) -> bool| -> f64 {
        events
            .iter()
            .filter(|e| e["cat"] == "summary" && pick(e))
            .map(|e| e["args"][key].as_f64().unwrap())
            .sum()
    };
    let acts: Vec<&Value> = events.iter().filter(|e| e["cat"] == "compute").collect();
    let untraced = summary("activations", &|e| e["args"].get("activations").is_some());
    assert_eq!(acts.len() as f64 + untraced, r.activations as f64, "{what}");
    let busy: f64 = acts.iter().map(|e| e["dur"].as_f64().unwrap()).sum();
    assert!((busy - (acts.len() as u64 * tr.t_mac) as f64).abs() < 1e-6);
    let want = [
        r.stalls.mode_switch,
        r.stalls.mismatch,
        r.stalls.writeback,
        r.stalls.bootstrap,
    ];
    for c in Cause::ALL {
        let traced: f64 = events
            .iter()
            .filter(|e| e["cat"] == "stall" && e["args"]["cause"] == c.name())
            .map(|e| e["dur"].as_f64().unwrap())
            .sum();
        let rest = summary("cycles", &|e| e["args"]["cause"] == c.name());
        let w = want[c.index()];
        let got = traced + rest;
        assert!(
            (got - w).abs() <= 1e-6 * w.max(1.0),
            "{what} {}: {got} vs {w}",
            c.name()
        );
        if tr.complete {
            assert_eq!(rest, 0.0);
        }
    }
    // Slices on one thread never overlap.
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
            assert!(w[1].0 >= w[0].1 - 1e-9, "{what}: overlap {w:?}");
        }
    }
}

#[test]
fn perfetto_traces_are_valid_and_add_up() {
    let all = schedules();
    let (_, s) = all
        .iter()
        .find(|(n, _)| n.starts_with("tiny_cnn.default"))
        .unwrap();
    let mut full_layers = 0;
    for layer in 0..s.layers.len() {
        let v = perfetto(s, layer, 1_000_000).unwrap();
        let tr = trace_layer(s, layer, 1_000_000).unwrap();
        check_perfetto(&format!("tiny_cnn layer {layer}"), &v, &tr);
        if tr.complete {
            full_layers += 1;
        }
        let svg = gantt_svg(&tr, 10_000);
        assert!(svg.contains("</svg>"));
    }
    assert!(full_layers > 0);
    // A truncated trace summarises the rest.
    let v = perfetto(s, 0, 10).unwrap();
    assert_eq!(v["otherData"]["complete"], false);
    assert!(
        v["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["cat"] == "summary")
    );
    check_perfetto(
        "tiny_cnn layer 0, 10 activations",
        &v,
        &trace_layer(s, 0, 10).unwrap(),
    );
    assert!(
        perfetto(s, 99, 10)
            .unwrap_err()
            .to_string()
            .contains("no layer 99")
    );
}

/// Layers that keep operands on chip, in every committed schedule: their traces bootstrap
/// from the home (never DRAM for a resident operand) and add up to the simulator's numbers,
/// which are the committed schedule's simulated ones.
#[test]
fn perfetto_traces_of_resident_layers_add_up() {
    use cimopt_sim::trace::{Kind, Role};
    let (mut complete, mut truncated) = (0, 0);
    for (name, s) in schedules() {
        let picked: Vec<usize> = (0..s.layers.len())
            .filter(|&i| resident(&s, i) && s.layers[i].same_as.is_none())
            .take(4)
            .collect();
        for layer in picked {
            let sl = &s.layers[layer];
            let small = sl.mapping.activations() <= 20_000;
            let limit = if small { 20_000 } else { 200 };
            let tr = trace_layer(&s, layer, limit).unwrap();
            let what = format!("{name} layer {layer}");
            let v = perfetto(&s, layer, limit).unwrap();
            check_perfetto(&what, &v, &tr);
            if let Some(sim) = &sl.simulated {
                let l = tr.report.latency_cycles;
                assert!(
                    (l - sim.latency_cycles).abs() <= 1e-9 * l.max(1.0),
                    "{what}: {l} vs the schedule's {}",
                    sim.latency_cycles
                );
            }
            for e in &tr.events {
                if let Kind::Transfer {
                    operand,
                    from,
                    role,
                    ..
                } = e.kind
                    && matches!(role, Role::Bootstrap | Role::CopyBack)
                {
                    assert_eq!(from, sl.mapping.home_of(operand), "{what}");
                }
            }
            if tr.complete {
                complete += 1;
            } else {
                truncated += 1;
            }
        }
    }
    eprintln!("resident layers traced: {complete} in full, {truncated} truncated");
    assert!(complete > 0 && truncated > 0, "{complete} {truncated}");
}
