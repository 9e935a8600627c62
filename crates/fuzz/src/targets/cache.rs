//! Solve-cache entries: `cimopt_pipeline::cache::read`, then what `solve_layer` does with a
//! hit: `cimopt_ir::check` against the layer, and for a valid mapping the cost model — and
//! the simulator, which every valid mapping must satisfy.
//!
//! An entry is the JSON object `cache::write` stores; the harness adds one key the reader
//! ignores, `fuzz_context`: the preset (with `--set` overrides) and the workload the entry is
//! read for, so that an input file is self-contained.
//!
//! Corpus: `models/tiny_cnn.onnx` compiled in-process with the greedy mapper on both presets,
//! every distinct layer's mapping written with `cache::write` (one with the optimiser's
//! evidence filled in). Mutations: values at random paths of the entry (indices out of range,
//! factors at and past the limits, floats, negative numbers, strings, nulls, short and long
//! arrays), structured ones that keep the entry valid while making its numbers large (a
//! factor scaled together with its padded extent, loops moved between levels, an operand's home
//! moved with the loops above it), the context's
//! target enlarged, and raw text.

use super::violated;
use crate::json::{self, Path, Step, paths_under};
use crate::rng::Rng;
use crate::{Fuzzer, Input, Outcome, Plan};
use cimopt_ir::{OpKind, WeightKind, Workload};
use cimopt_schedule::{Candidates, SolveInfo};
use serde_json::{Value, json};
use std::path::{Path as FsPath, PathBuf};

pub struct CacheFuzzer {
    bases: Vec<(String, Value)>,
}

fn workload_json(w: &Workload) -> Value {
    json!({
        "op": w.op.name(), "weight_kind": w.weight_kind.name(),
        "r": w.r, "s": w.s, "p": w.p, "q": w.q, "c": w.c, "k": w.k, "g": w.g, "b": w.b,
        "h": w.h, "w": w.w, "stride": w.stride, "pad": w.pad, "dilation": w.dilation,
    })
}

fn workload_of(v: &Value) -> Option<Workload> {
    let u = |k: &str| v[k].as_u64();
    let arr =
        |k: &str| -> Option<Vec<u64>> { v[k].as_array()?.iter().map(Value::as_u64).collect() };
    let stride = arr("stride")?;
    let pad = arr("pad")?;
    let dilation = arr("dilation")?;
    Some(Workload {
        op: OpKind::parse(v["op"].as_str()?)?,
        weight_kind: WeightKind::parse(v["weight_kind"].as_str()?)?,
        r: u("r")?,
        s: u("s")?,
        p: u("p")?,
        q: u("q")?,
        c: u("c")?,
        k: u("k")?,
        g: u("g")?,
        b: u("b")?,
        h: u("h")?,
        w: u("w")?,
        stride: stride.try_into().ok()?,
        pad: pad.try_into().ok()?,
        dilation: dilation.try_into().ok()?,
        bits: cimopt_ir::Bits::FLOAT,
    })
}

/// The current thread's id as a file name.
fn thread_tag() -> String {
    format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "")
}

/// The calling thread's scratch folder. Not shared between threads: tests load corpora and
/// exercise inputs in parallel in one process, and each thread removes its own folder when done
/// (a shared parent could be removed by one thread while another creates its folder in it).
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!(
        "cimopt-fuzz-{}-{}",
        std::process::id(),
        thread_tag()
    ))
}

impl CacheFuzzer {
    pub fn load(root: &FsPath) -> Result<CacheFuzzer, String> {
        let mut bases = Vec::new();
        let dir = scratch().join("corpus");
        for preset in ["default", "transformer"] {
            let s = super::schedule::compile_greedy(root, "models/tiny_cnn.onnx", preset)?;
            for (n, l) in s.layers.iter().filter(|l| l.same_as.is_none()).enumerate() {
                let mut info = l.solve.clone();
                if n == 0 {
                    // The evidence the optimisers record.
                    info = SolveInfo {
                        status: "optimal".into(),
                        best_bound: Some(1234.5),
                        gap: Some(0.001),
                        space_bound: Some(1235.0),
                        space_gap: Some(0.0006),
                        candidates: Some(Candidates {
                            enumerated: 12,
                            pruned_by_bound: 3,
                            solved: 9,
                        }),
                        warm_start: Some(true),
                        stop_reasons: vec!["gap_reached".into()],
                        ..info
                    };
                }
                let path = dir.join(format!("{preset}-{n}.json"));
                cimopt_pipeline::cache::write(&path, &l.mapping, &info);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let mut v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                v["fuzz_context"] = json!({
                    "target": preset,
                    "set": [],
                    "workload": workload_json(&l.layer.workload),
                });
                bases.push((
                    format!(
                        "tiny_cnn greedy {preset}, layer {} `{}`",
                        l.layer.index, l.layer.name
                    ),
                    v,
                ));
            }
        }
        let _ = std::fs::remove_dir_all(scratch());
        Ok(CacheFuzzer { bases })
    }
}

const STEPS: &[(&str, u32)] = &[
    ("value", 30),
    ("scale factor", 10),
    ("move loop", 6),
    ("move home", 5),
    ("context target", 6),
    ("text", 4),
];
const TEXT: usize = 5;

impl Fuzzer for CacheFuzzer {
    fn plan(&self, rng: &mut Rng) -> Plan {
        let weights: Vec<u32> = STEPS.iter().map(|s| s.1).collect();
        let n = rng.weighted(&[0, 40, 30, 20, 10]);
        Plan {
            base: rng.below(self.bases.len()),
            shape: 0,
            steps: (0..n)
                .map(|_| (rng.weighted(&weights), rng.next_u64()))
                .collect(),
        }
    }

    fn build(&self, plan: &Plan) -> Input {
        let (name, base) = &self.bases[plan.base];
        let mut doc = base.clone();
        let mut mutations = Vec::new();
        for &(kind, seed) in plan.steps.iter().filter(|s| s.0 != TEXT) {
            let mut rng = Rng::new(seed);
            if let Some(m) = json::guarded_step(&mut doc, |doc| step(kind, &mut rng, doc)) {
                mutations.push(format!("{}: {m}", STEPS[kind].0));
            }
        }
        let mut bytes = serde_json::to_vec(&doc).unwrap_or_default();
        for &(_, seed) in plan.steps.iter().filter(|s| s.0 == TEXT) {
            let mut rng = Rng::new(seed);
            mutations.push(format!("text: {}", json::mutate_text(&mut rng, &mut bytes)));
        }
        Input {
            bytes,
            base: name.clone(),
            mutations,
        }
    }

    fn reduce(
        &self,
        input: &[u8],
        budget: &mut usize,
        fails: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Vec<u8> {
        super::schedule::reduce_json(input, budget, fails)
    }
}

fn entry_paths(doc: &Value) -> Vec<Path> {
    let mut all = Vec::new();
    paths_under(doc, &Vec::new(), &mut all);
    all.retain(|p| p.first() != Some(&Step::Key("fuzz_context".into())));
    all
}

fn step(kind: usize, rng: &mut Rng, doc: &mut Value) -> Option<String> {
    match STEPS[kind].0 {
        "value" => {
            let names: Vec<String> = ["optimal", "heuristic", "gap_reached", "", "x"]
                .map(String::from)
                .to_vec();
            let c = entry_paths(doc);
            json::mutate_at(rng, doc, &c, &names)
        }
        "scale factor" => {
            // temporal = [[dim, factor, [lI, lW, lO]], ...], padded = [8 extents]
            let temporal = doc.get_mut("temporal")?.as_array_mut()?;
            if temporal.is_empty() {
                return None;
            }
            let k = rng.below(temporal.len());
            let dim = temporal[k].get(0)?.as_u64()? as usize;
            let m = *rng.pick(&[2u64, 3, 1 << 10, 1 << 16, 1 << 20, (1 << 31) - 1, 1 << 31]);
            let f = temporal[k].get(1)?.as_u64()?.saturating_mul(m);
            temporal[k][1] = json!(f);
            let padded = doc.get_mut("padded")?.as_array_mut()?;
            let p = padded.get(dim)?.as_u64()?.saturating_mul(m);
            padded[dim] = json!(p);
            Some(format!(
                "temporal[{k}] factor × {m} = {f}, padded[{dim}] = {p}"
            ))
        }
        "move loop" => {
            let temporal = doc.get_mut("temporal")?.as_array_mut()?;
            if temporal.is_empty() {
                return None;
            }
            let k = rng.below(temporal.len());
            let o = rng.below(3);
            let lv = *rng.pick(&[0u64, 1, 2, 3, 4, 5, 6, 7, 8, 31, 32, 1 << 32, u64::MAX]);
            let end = if rng.chance(1, 2) {
                temporal.len()
            } else {
                k + 1
            };
            for t in &mut temporal[k..end] {
                if let Some(levels) = t.get_mut(2).and_then(Value::as_array_mut)
                    && o < levels.len()
                {
                    levels[o] = json!(lv);
                }
            }
            Some(format!("temporal[{k}..{end}] level of operand {o} = {lv}"))
        }
        "move home" => {
            // home = [hI, hW, hO]: one operand's home moved, mostly with the loops above it.
            let o = rng.below(3);
            let lv = *rng.pick(&[0u64, 1, 1, 2, 3, 4, 7, 32, 1 << 32]);
            doc.get_mut("home")?
                .as_array_mut()?
                .get_mut(o)
                .map(|h| *h = json!(lv))?;
            let mut moved = 0;
            if rng.chance(3, 4) {
                for t in doc.get_mut("temporal")?.as_array_mut()? {
                    if let Some(l) = t.get_mut(2).and_then(|l| l.get_mut(o))
                        && l.as_u64().is_some_and(|x| x < lv)
                    {
                        *l = json!(lv);
                        moved += 1;
                    }
                }
            }
            Some(format!(
                "home[{o}] = {lv} ({moved} loop(s) above it moved down)"
            ))
        }
        "context target" => {
            let set = *rng.pick(&[
                "levels[0].capacity=4611686018427387904",
                "cores=65536",
                "macro.rows=65536",
                "macro.cols=65536",
                "macro.precision.psum_bits=64",
                "macro.precision.input_bits=64",
                "levels[1].bandwidth_bits_per_cycle=1",
                "levels[1].bandwidth_bits_per_cycle=4294967296",
                "macro.ping_pong=true",
                "leakage_nj_per_cycle=1e300",
            ]);
            doc["fuzz_context"]["set"].as_array_mut()?.push(json!(set));
            Some(format!("read on the target with --set {set}"))
        }
        _ => None,
    }
}

/// The thread's scratch folder, removed again after each input (nothing is left in the
/// temporary folder).
fn scratch_files() -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch();
    (dir.join("entry.json"), dir.join("again.json"), dir)
}

struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cache::read` of the entry, then `check` against the context's layer on the context's
/// target; a valid mapping is priced and simulated, and written back with `cache::write`,
/// which must read back to the same mapping and evidence.
pub fn exercise(bytes: &[u8]) -> Outcome {
    let context = serde_json::from_slice::<Value>(bytes)
        .ok()
        .map(|v| v["fuzz_context"].clone())
        .unwrap_or(Value::Null);
    let preset = context["target"].as_str().unwrap_or("default");
    let preset = if cimopt_target::PRESETS.iter().any(|p| p.0 == preset) {
        preset
    } else {
        "default"
    };
    let set: Vec<String> = context["set"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let Ok(t) = cimopt_target::load(preset, &set) else {
        return Outcome::Rejected("the context's target does not load".into());
    };
    let t = t.target;
    let w = workload_of(&context["workload"])
        .unwrap_or_else(|| super::toml::probe_layers()[0].workload.clone());
    let (path, again, dir) = scratch_files();
    let _cleanup = Cleanup(dir.clone());
    if std::fs::create_dir_all(&dir).is_err() || std::fs::write(&path, bytes).is_err() {
        return Outcome::Rejected("cannot write the scratch file".into());
    }
    let Some((m, info)) = cimopt_pipeline::cache::read(&path) else {
        return Outcome::Rejected("not a readable entry".into());
    };
    cimopt_pipeline::cache::write(&again, &m, &info);
    match cimopt_pipeline::cache::read(&again) {
        Some((m2, info2)) if m2 == m && info2 == info => {}
        Some(_) => {
            return violated(
                "cache::read ∘ cache::write changes an entry",
                format!("{m:?} / {info:?}"),
            );
        }
        None => {
            return violated(
                "an entry written by cache::write does not read back",
                format!("{m:?} / {info:?}"),
            );
        }
    }
    match super::price_and_simulate(&t, &w, &m) {
        Ok(true) => Outcome::Accepted,
        Ok(false) => Outcome::Rejected("the mapping does not check".into()),
        Err(o) => o,
    }
}
