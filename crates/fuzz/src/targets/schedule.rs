//! Schedule JSON: `cimopt_schedule::from_json`, then everything that reads a schedule.
//!
//! Corpus: `models/tiny_cnn.onnx` compiled in-process with the greedy mapper on both presets,
//! and every committed golden schedule (`schedules/*.schedule.json`). A large schedule is cut
//! to a run of one to three of its layers first (`same_as` links to dropped layers removed),
//! so that an iteration stays fast.
//!
//! Mutations: values at random paths (anywhere, in a layer's dims, in its mapping, in the
//! embedded target), and structured ones that keep the document consistent enough to get past
//! the reader's checks: convolution geometry (dilation, stride, padding with the input extent
//! recomputed or left to be derived), a dim scaled together with its loops (and padding), a
//! target scaled to its limits, loops moved to other levels, factors moved onto spatial axes,
//! double buffers, homes (loops above a new home moved down to it), `same_as` and ids, the schema header; and raw text mutations.

use super::violated;
use crate::json::{self, Path, Step, get, paths_under};
use crate::rng::Rng;
use crate::{Fuzzer, Input, Outcome, Plan};
use cimopt_pipeline::report::Format;
use serde_json::{Value, json};
use std::path::Path as FsPath;

pub struct ScheduleFuzzer {
    /// (name, document without its layers, the layers).
    bases: Vec<(String, Value, Vec<Value>)>,
}

/// Compiles `model` on the preset `target` with the greedy mapper, as `cimopt compile
/// --mapper greedy` does, and returns the schedule.
pub fn compile_greedy(
    root: &FsPath,
    model: &str,
    target: &str,
) -> Result<cimopt_schedule::Schedule, String> {
    let path = root.join(model);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let m =
        cimopt_onnx::load_bytes(&path, &bytes, &Default::default()).map_err(|e| e.to_string())?;
    let t = cimopt_target::load(target, &[])
        .map_err(|e| e.to_string())?
        .target;
    let source = cimopt_pipeline::compile::ModelSource {
        model: &m,
        file: model.to_string(),
        bytes: &bytes,
    };
    let options = cimopt_pipeline::CompileOptions {
        mapper: cimopt_pipeline::Mapper::Greedy,
        cache_dir: None,
        ..Default::default()
    };
    cimopt_pipeline::compile(
        &source,
        &t,
        target,
        &options,
        &cimopt_pipeline::compile::Silent,
    )
    .map_err(|e| e.to_string())
}

impl ScheduleFuzzer {
    pub fn load(root: &FsPath) -> Result<ScheduleFuzzer, String> {
        let mut docs: Vec<(String, String)> = Vec::new();
        for preset in ["default", "transformer"] {
            let s = compile_greedy(root, "models/tiny_cnn.onnx", preset)?;
            docs.push((
                format!("tiny_cnn greedy {preset} (compiled in-process)"),
                cimopt_schedule::to_json(&s),
            ));
        }
        let dir = root.join("schedules");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".schedule.json"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            docs.push((
                format!(
                    "schedules/{}",
                    f.file_name().unwrap_or_default().to_string_lossy()
                ),
                text,
            ));
        }
        let mut bases = Vec::new();
        for (name, text) in docs {
            let mut v: Value = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
            let layers = match v.get_mut("layers") {
                Some(Value::Array(a)) => std::mem::take(a),
                _ => return Err(format!("{name}: no layers")),
            };
            bases.push((name, v, layers));
        }
        Ok(ScheduleFuzzer { bases })
    }
}

/// Step kinds, with their weights.
const STEPS: &[(&str, u32)] = &[
    ("anywhere", 8),
    ("dims", 10),
    ("mapping", 12),
    ("target spec", 10),
    ("geometry", 8),
    ("scale dim", 8),
    ("big target", 6),
    ("move loop", 6),
    ("double buffer", 4),
    ("home", 5),
    ("spatial", 5),
    ("ids", 4),
    ("header", 3),
    ("drop derived", 4),
    ("duplicate layer", 2),
    ("text", 4),
];
const TEXT: usize = 15;

impl Fuzzer for ScheduleFuzzer {
    fn plan(&self, rng: &mut Rng) -> Plan {
        let weights: Vec<u32> = STEPS.iter().map(|s| s.1).collect();
        let n = rng.weighted(&[0, 40, 30, 20, 10]);
        Plan {
            base: rng.below(self.bases.len()),
            shape: rng.next_u64(),
            steps: (0..n)
                .map(|_| (rng.weighted(&weights), rng.next_u64()))
                .collect(),
        }
    }

    fn build(&self, plan: &Plan) -> Input {
        let (name, skeleton, layers) = &self.bases[plan.base];
        let mut doc = skeleton.clone();
        let mut shape = Rng::new(plan.shape);
        let kept = cut(&mut shape, layers);
        let base = format!("{name}, layers {}", ids(&kept));
        // A cut schedule is no longer the model its memory plan places; a whole one keeps it,
        // so that the plan is fuzzed too.
        if kept.len() != layers.len()
            && let Some(o) = doc.as_object_mut()
        {
            o.remove("memory_plan");
        }
        doc["layers"] = Value::Array(kept);
        let mut mutations = Vec::new();
        for &(kind, seed) in plan.steps.iter().filter(|s| s.0 != TEXT) {
            let mut rng = Rng::new(seed);
            if let Some(m) = json::guarded_step(&mut doc, |doc| step(kind, &mut rng, doc)) {
                mutations.push(format!("{}: {m}", STEPS[kind].0));
            }
        }
        let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        for &(_, seed) in plan.steps.iter().filter(|s| s.0 == TEXT) {
            let mut rng = Rng::new(seed);
            mutations.push(format!("text: {}", json::mutate_text(&mut rng, &mut bytes)));
        }
        Input {
            bytes,
            base,
            mutations,
        }
    }

    fn reduce(
        &self,
        input: &[u8],
        budget: &mut usize,
        fails: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Vec<u8> {
        reduce_json(input, budget, fails)
    }
}

/// Structural reduction of a JSON input (unchanged when it is not JSON).
pub(crate) fn reduce_json(
    input: &[u8],
    budget: &mut usize,
    fails: &mut dyn FnMut(&[u8]) -> bool,
) -> Vec<u8> {
    let Ok(doc) = serde_json::from_slice::<Value>(input) else {
        return input.to_vec();
    };
    let pretty = |v: &Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    // The pretty form must fail too (whitespace does not matter to the readers).
    if !fails(&pretty(&doc)) {
        return input.to_vec();
    }
    let reduced = json::reduce(&doc, budget, &mut |v| fails(&pretty(v)));
    let mut out = pretty(&reduced);
    out.push(b'\n');
    out
}

fn ids(layers: &[Value]) -> String {
    let ids: Vec<String> = layers.iter().map(|l| l["id"].to_string()).collect();
    ids.join(", ")
}

/// One to three consecutive layers of a long schedule (all of a short one, often), with
/// `same_as` links to layers left out cleared.
fn cut(rng: &mut Rng, layers: &[Value]) -> Vec<Value> {
    if layers.len() <= 3 && rng.chance(7, 10) || layers.len() <= 6 && rng.chance(1, 2) {
        return layers.to_vec();
    }
    let start = rng.below(layers.len());
    let n = rng.range(1, 3) as usize;
    let mut kept: Vec<Value> = layers[start..(start + n).min(layers.len())].to_vec();
    let present: Vec<Value> = kept.iter().map(|l| l["id"].clone()).collect();
    for l in &mut kept {
        if !l["same_as"].is_null() && !present.contains(&l["same_as"]) {
            l["same_as"] = Value::Null;
        }
    }
    kept
}

/// The names a document uses: levels, axes, dims, operands.
fn names(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = [
        "cores", "rows", "cols", "R", "S", "P", "Q", "C", "K", "G", "B", "I", "W", "O",
    ]
    .map(String::from)
    .to_vec();
    if let Some(levels) = doc
        .pointer("/inputs/target/spec/levels")
        .and_then(Value::as_array)
    {
        out.extend(
            levels
                .iter()
                .filter_map(|l| l["name"].as_str().map(String::from)),
        );
    }
    out
}

fn level_names(doc: &Value) -> Vec<String> {
    doc.pointer("/inputs/target/spec/levels")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Paths under `prefix` (and `prefix` itself excluded).
fn under(doc: &Value, prefix: &[Step]) -> Vec<Path> {
    let mut out = Vec::new();
    if let Some(v) = get(doc, prefix) {
        paths_under(v, &prefix.to_vec(), &mut out);
    }
    out
}

fn key(k: &str) -> Step {
    Step::Key(k.to_string())
}

fn layer_count(doc: &Value) -> usize {
    doc["layers"].as_array().map_or(0, |a| a.len())
}

fn drop_target_hash(rng: &mut Rng, doc: &mut Value) -> &'static str {
    if rng.chance(9, 10)
        && let Some(t) = doc.pointer_mut("/inputs/target")
        && let Some(o) = t.as_object_mut()
    {
        o.shift_remove("sha256");
        return " (target hash removed)";
    }
    ""
}

fn step(kind: usize, rng: &mut Rng, doc: &mut Value) -> Option<String> {
    let names = names(doc);
    let nl = layer_count(doc);
    let li = rng.below(nl.max(1));
    match STEPS[kind].0 {
        "anywhere" => {
            let mut all = Vec::new();
            paths_under(doc, &Vec::new(), &mut all);
            json::mutate_at(rng, doc, &all, &names)
        }
        "dims" if nl > 0 => {
            let p = vec![key("layers"), Step::Index(li), key("dims")];
            let c = under(doc, &p);
            json::mutate_at(rng, doc, &c, &names)
        }
        "mapping" if nl > 0 => {
            let p = vec![key("layers"), Step::Index(li), key("mapping")];
            let c = under(doc, &p);
            json::mutate_at(rng, doc, &c, &names)
        }
        "target spec" => {
            let c = under(doc, &[key("inputs"), key("target"), key("spec")]);
            let m = json::mutate_at(rng, doc, &c, &names)?;
            Some(format!("{m}{}", drop_target_hash(rng, doc)))
        }
        "geometry" if nl > 0 => geometry(rng, doc, li),
        "scale dim" if nl > 0 => scale_dim(rng, doc, li),
        "big target" => big_target(rng, doc),
        "move loop" if nl > 0 => move_loop(rng, doc, li),
        "double buffer" if nl > 0 => double_buffer(rng, doc, li),
        "home" if nl > 0 => home(rng, doc, li),
        "spatial" if nl > 0 => spatial(rng, doc, li),
        "ids" if nl > 0 => ids_step(rng, doc, li),
        "header" => header(rng, doc),
        "drop derived" if nl > 0 => {
            let i = li;
            let l = doc["layers"][i].as_object_mut()?;
            let k = *rng.pick(&[
                "H",
                "W",
                "padded_dims",
                "predicted",
                "simulated",
                "solve",
                "name",
                "weight_kind",
                "dims.pad",
                "dims.stride",
            ]);
            match k.strip_prefix("dims.") {
                Some(d) => l.get_mut("dims")?.as_object_mut()?.shift_remove(d),
                None if k == "H" || k == "W" => l.get_mut("dims")?.as_object_mut()?.shift_remove(k),
                None => l.shift_remove(k),
            }?;
            Some(format!("layers[{i}]: {k} removed"))
        }
        "duplicate layer" if nl > 0 => {
            let i = li;
            let mut copy = doc["layers"][i].clone();
            let max_id = doc["layers"]
                .as_array()?
                .iter()
                .filter_map(|l| l["id"].as_u64())
                .max()
                .unwrap_or(0);
            let new_id = if rng.chance(1, 4) {
                copy["id"].clone()
            } else {
                json!(max_id.saturating_add(1))
            };
            let same = rng.chance(1, 2);
            if same {
                copy["same_as"] = copy["id"].clone();
            }
            copy["id"] = new_id.clone();
            doc["layers"].as_array_mut()?.push(copy);
            Some(format!(
                "layers[{i}] copied as id {new_id}{}",
                if same { " with same_as" } else { "" }
            ))
        }
        _ => None,
    }
}

const BIG_FACTORS: &[u64] = &[
    2,
    3,
    1 << 10,
    1 << 20,
    1 << 28,
    1 << 29,
    (1 << 30) - 1,
    1 << 30,
    (1 << 31) - 1,
    1 << 31,
];

/// Convolution geometry: dilation, stride or padding of one axis, with the input extent then
/// recomputed to match (or removed, to be derived by the reader).
fn geometry(rng: &mut Rng, doc: &mut Value, i: usize) -> Option<String> {
    let dims = doc["layers"][i].get_mut("dims")?;
    let mut changes = Vec::new();
    let axes: &[usize] = if rng.chance(1, 2) {
        &[0, 1]
    } else {
        if rng.chance(1, 2) {
            &[0usize][..]
        } else {
            &[1usize][..]
        }
    };
    // Mostly the same change on both axes: a large input needs both to be large.
    let same = rng.chance(2, 3);
    let (what0, v0) = (rng.below(4), *rng.pick(BIG_FACTORS));
    for &a in axes {
        let (kernel, out, input) = if a == 0 {
            ("R", "P", "H")
        } else {
            ("S", "Q", "W")
        };
        let (what, v) = if same {
            (what0, v0)
        } else {
            (rng.below(4), *rng.pick(BIG_FACTORS))
        };
        let arr = |dims: &mut Value, k: &str, len: usize, default: u64| {
            if !dims[k].is_array() {
                dims[k] = Value::Array(vec![json!(default); len]);
            }
        };
        match what {
            0 | 1 => {
                arr(dims, "dilation", 2, 1);
                dims["dilation"][a] = json!(v);
                changes.push(format!("dilation[{a}] = {v}"));
            }
            2 => {
                arr(dims, "stride", 2, 1);
                dims["stride"][a] = json!(v);
                changes.push(format!("stride[{a}] = {v}"));
            }
            _ => {
                arr(dims, "pad", 4, 0);
                let p = *rng.pick(&[0u64, 1, 1 << 20, 1 << 30, (1 << 31) - 1]);
                let j = a + 2 * rng.below(2);
                dims["pad"][j] = json!(p);
                changes.push(format!("pad[{j}] = {p}"));
            }
        }
        if rng.chance(1, 2) {
            if let Some(o) = dims.as_object_mut() {
                o.shift_remove(input);
            }
            changes.push(format!("{input} removed"));
        } else {
            let g = |k: &str| dims[k].as_u64().unwrap_or(1) as i128;
            let ga = |k: &str, j: usize, d: i128| dims[k][j].as_u64().map_or(d, |v| v as i128);
            let span =
                (g(out) - 1) * ga("stride", a, 1) + (g(kernel) - 1) * ga("dilation", a, 1) + 1;
            let h = span - ga("pad", a, 0) - ga("pad", a + 2, 0);
            let h = h.max(1);
            dims[input] = json::int_value(h);
            changes.push(format!("{input} = {h}"));
        }
    }
    Some(format!("layers[{i}]: {}", changes.join(", ")))
}

/// One dim scaled by a factor, its outermost loop (or a new outermost loop at the outermost
/// level) and its padded extent with it, so that the loops still cover it.
fn scale_dim(rng: &mut Rng, doc: &mut Value, i: usize) -> Option<String> {
    let level0 = level_names(doc)
        .first()
        .cloned()
        .unwrap_or_else(|| "dram".into());
    let l = doc["layers"].get_mut(i)?;
    let conv = l["op"] == "Conv";
    let dims_list: &[&str] = if conv {
        &["R", "S", "P", "Q", "C", "K", "G", "B"]
    } else {
        &["P", "C", "K", "G", "B"]
    };
    let d = *rng.pick(dims_list);
    let m = *rng.pick(&[
        2u64,
        3,
        7,
        16,
        255,
        1 << 10,
        1 << 16,
        1 << 20,
        (1 << 31) - 1,
    ]);
    let old = l["dims"][d].as_u64().unwrap_or(1);
    let new = old.saturating_mul(m);
    l["dims"][d] = json!(new);
    let mut notes = vec![format!("{d} {old} → {new}")];
    if conv && matches!(d, "R" | "P") {
        l["dims"].as_object_mut()?.shift_remove("H");
        notes.push("H removed".into());
    }
    if conv && matches!(d, "S" | "Q") {
        l["dims"].as_object_mut()?.shift_remove("W");
        notes.push("W removed".into());
    }
    if !conv && d == "P" {
        l["dims"]["H"] = json!(new);
    }
    let temporal = l["mapping"]["temporal"].as_array_mut()?;
    match temporal.iter_mut().find(|t| t["dim"] == d) {
        Some(t) => {
            let f = t["factor"].as_u64().unwrap_or(1).saturating_mul(m);
            t["factor"] = json!(f);
            notes.push(format!("its outermost loop to {f}"));
        }
        None => {
            temporal.insert(
                0,
                json!({"dim": d, "factor": m, "level": {"I": level0, "W": level0, "O": level0}}),
            );
            notes.push(format!("a {d} loop of {m} added outermost at `{level0}`"));
        }
    }
    if let Some(p) = l.get_mut("padded_dims").and_then(|p| p.get_mut(d)) {
        let v = p.as_u64().unwrap_or(1).saturating_mul(m);
        *p = json!(v);
        notes.push(format!("padded to {v}"));
    }
    Some(format!("layers[{i}]: {}", notes.join(", ")))
}

/// The embedded target scaled to (or past) its limits, consistently (the macro level's
/// capacity follows the weight precision), its hash removed.
fn big_target(rng: &mut Rng, doc: &mut Value) -> Option<String> {
    let spec = doc.pointer_mut("/inputs/target/spec")?;
    let mut notes = Vec::new();
    for _ in 0..rng.range(1, 3) {
        match rng.below(7) {
            0 => {
                let c = *rng.pick(&[
                    "4611686018427387904",
                    "4611686018427387905",
                    "512PiB",
                    "1024GiB",
                    "64",
                    "0",
                ]);
                spec["levels"][0]["capacity"] = json!(c);
                notes.push(format!("levels[0].capacity = {c}"));
            }
            1 => {
                let c = *rng.pick(&[1u64, 2, 65_536, 65_537]);
                spec["cores"] = json!(c);
                notes.push(format!("cores = {c}"));
            }
            2 => {
                let k = *rng.pick(&["rows", "cols"]);
                let c = *rng.pick(&[1u64, 65_536, 65_537]);
                spec["macro"][k] = json!(c);
                notes.push(format!("macro.{k} = {c}"));
            }
            3 => {
                let n = spec["levels"].as_array()?.len();
                let lv = rng.below(n);
                let b = *rng.pick(&[1u64, 3, 1 << 32, (1 << 32) + 1]);
                let l = spec["levels"][lv].as_object_mut()?;
                l.shift_remove("read_bandwidth_bits_per_cycle");
                l.shift_remove("write_bandwidth_bits_per_cycle");
                l.insert("bandwidth_bits_per_cycle".into(), json!(b));
                notes.push(format!("levels[{lv}].bandwidth = {b}"));
            }
            4 => {
                let k = *rng.pick(&["input_bits", "psum_bits", "output_bits"]);
                let b = *rng.pick(&[1u64, 64, 65]);
                spec["macro"]["precision"][k] = json!(b);
                notes.push(format!("precision.{k} = {b}"));
            }
            5 => {
                // Weight precision and compartment depth, with the macro level's capacity kept
                // equal to their product.
                let bits = *rng.pick(&[1u64, 8, 64]);
                let depth = *rng.pick(&[1u64, 8, 65_536]);
                spec["macro"]["precision"]["weight_bits"] = json!(bits);
                spec["macro"]["compartment_depth"] = json!(depth);
                let levels = spec["levels"].as_array_mut()?;
                if let Some(m) = levels.iter_mut().rev().find(|l| {
                    l["holds"]
                        .as_array()
                        .is_some_and(|h| h.contains(&json!("W")))
                }) {
                    m["capacity"] = json!(bits * depth);
                }
                notes.push(format!("weight_bits = {bits}, compartment_depth = {depth}"));
            }
            _ => {
                let e = *rng.pick(&[0.0f64, 1e300, 5e-324, 1.7976931348623157e308]);
                let k = *rng.pick(&[
                    "leakage_nj_per_cycle",
                    "levels.0.read_energy_pj_per_bit",
                    "macro.activation_energy.mult_1b_pj",
                ]);
                let p = format!("/{}", k.replace('.', "/"));
                *spec.pointer_mut(&p)? = json!(e);
                notes.push(format!("{k} = {e}"));
            }
        }
    }
    let h = drop_target_hash(rng, doc);
    Some(format!("{}{h}", notes.join(", ")))
}

/// A loop of one operand moved to another level that holds it.
fn move_loop(rng: &mut Rng, doc: &mut Value, i: usize) -> Option<String> {
    let levels = doc
        .pointer("/inputs/target/spec/levels")?
        .as_array()?
        .clone();
    let temporal = doc["layers"][i]["mapping"]["temporal"].as_array_mut()?;
    if temporal.is_empty() {
        return None;
    }
    let k = rng.below(temporal.len());
    let o = *rng.pick(&["I", "W", "O"]);
    let holding: Vec<String> = levels
        .iter()
        .filter(|l| l["holds"].as_array().is_some_and(|h| h.contains(&json!(o))))
        .filter_map(|l| l["name"].as_str().map(String::from))
        .collect();
    if holding.is_empty() {
        return None;
    }
    let to = rng.pick(&holding).clone();
    // Mostly this loop and every inner one, so that levels still go inwards.
    let all_inner = rng.chance(1, 2);
    let end = if all_inner { temporal.len() } else { k + 1 };
    for t in &mut temporal[k..end] {
        t["level"][o] = json!(to);
    }
    Some(format!(
        "layers[{i}].mapping.temporal[{k}{}].level.{o} = {to}",
        if all_inner { ".." } else { "" }
    ))
}

fn double_buffer(rng: &mut Rng, doc: &mut Value, i: usize) -> Option<String> {
    let levels = level_names(doc);
    let db = doc["layers"][i]["mapping"].get_mut("double_buffer")?;
    if !db.is_array() {
        *db = json!([]);
    }
    let db = db.as_array_mut()?;
    if !db.is_empty() && rng.chance(1, 3) {
        let k = rng.below(db.len());
        db.remove(k);
        return Some(format!("layers[{i}].mapping.double_buffer[{k}] removed"));
    }
    let level = if levels.is_empty() {
        "dram".to_string()
    } else {
        rng.pick(&levels).clone()
    };
    let o = *rng.pick(&["I", "W", "O"]);
    db.push(json!({"level": level, "operand": o}));
    Some(format!("layers[{i}]: double buffer {o} at `{level}`"))
}

/// An operand's home (format 1.1.0 `mapping.home`) moved to another level (any level holding
/// it, or any level at all), mostly with the loops above the new home moved down to it so that
/// the mapping can still be valid; or the key removed.
fn home(rng: &mut Rng, doc: &mut Value, i: usize) -> Option<String> {
    let levels = doc
        .pointer("/inputs/target/spec/levels")?
        .as_array()?
        .clone();
    let names: Vec<String> = levels
        .iter()
        .filter_map(|l| l["name"].as_str().map(String::from))
        .collect();
    let m = doc["layers"][i]["mapping"].as_object_mut()?;
    if rng.chance(1, 8) {
        m.shift_remove("home")?;
        return Some(format!("layers[{i}].mapping.home removed"));
    }
    let o = *rng.pick(&["I", "W", "O"]);
    let holding: Vec<usize> = (0..levels.len())
        .filter(|&k| {
            levels[k]["holds"]
                .as_array()
                .is_some_and(|h| h.contains(&json!(o)))
        })
        .collect();
    let to = if rng.chance(3, 4) && !holding.is_empty() {
        *rng.pick(&holding)
    } else {
        rng.below(names.len().max(1))
    };
    let name = names.get(to).cloned().unwrap_or_else(|| "dram".into());
    let home = m
        .entry("home")
        .or_insert_with(|| json!({"I": "dram", "W": "dram", "O": "dram"}));
    if !home.is_object() {
        *home = json!({"I": "dram", "W": "dram", "O": "dram"});
    }
    home[o] = json!(name);
    let mut moved = 0;
    if rng.chance(3, 4)
        && let Some(temporal) = m.get_mut("temporal").and_then(Value::as_array_mut)
    {
        for t in temporal {
            let above = t["level"][o]
                .as_str()
                .and_then(|l| names.iter().position(|n| n == l))
                .is_some_and(|k| k < to);
            if above {
                t["level"][o] = json!(name);
                moved += 1;
            }
        }
    }
    Some(format!(
        "layers[{i}].mapping.home.{o} = {name} ({moved} loop(s) above it moved down)"
    ))
}

/// A temporal factor split onto a spatial axis (coverage kept), or a spatial factor changed.
fn spatial(rng: &mut Rng, doc: &mut Value, i: usize) -> Option<String> {
    let m = &mut doc["layers"][i]["mapping"];
    let axis = *rng.pick(&["cores", "rows", "cols"]);
    if rng.chance(1, 3) {
        let sp = m.get_mut("spatial")?.as_array_mut()?;
        if sp.is_empty() {
            return None;
        }
        let k = rng.below(sp.len());
        sp[k]["axis"] = json!(axis);
        return Some(format!("layers[{i}].mapping.spatial[{k}].axis = {axis}"));
    }
    let temporal = m.get_mut("temporal")?.as_array_mut()?;
    let candidates: Vec<usize> = (0..temporal.len())
        .filter(|&k| temporal[k]["factor"].as_u64().is_some_and(|f| f > 1))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let k = *rng.pick(&candidates);
    let f = temporal[k]["factor"].as_u64()?;
    let divisors: Vec<u64> = (2..=f.min(1 << 16)).filter(|d| f % d == 0).collect();
    let d = if divisors.is_empty() {
        f
    } else {
        *rng.pick(&divisors)
    };
    temporal[k]["factor"] = json!(f / d);
    let dim = temporal[k]["dim"].clone();
    if !m["spatial"].is_array() {
        m["spatial"] = json!([]);
    }
    m["spatial"]
        .as_array_mut()?
        .push(json!({"axis": axis, "dim": dim, "factor": d}));
    Some(format!(
        "layers[{i}]: {d} of temporal[{k}] ({dim}) moved onto `{axis}`"
    ))
}

fn ids_step(rng: &mut Rng, doc: &mut Value, i: usize) -> Option<String> {
    let n = layer_count(doc);
    let other = doc["layers"][rng.below(n)]["id"].clone();
    let l = &mut doc["layers"][i];
    match rng.below(4) {
        0 => {
            l["same_as"] = other.clone();
            Some(format!("layers[{i}].same_as = {other}"))
        }
        1 => {
            l["id"] = other.clone();
            Some(format!("layers[{i}].id = {other}"))
        }
        2 => {
            let v = json::int_value(*rng.pick(json::BOUNDARY_INTS));
            l["same_as"] = v.clone();
            Some(format!("layers[{i}].same_as = {v}"))
        }
        _ => {
            let v = json::int_value(*rng.pick(json::BOUNDARY_INTS));
            l["id"] = v.clone();
            Some(format!("layers[{i}].id = {v}"))
        }
    }
}

fn header(rng: &mut Rng, doc: &mut Value) -> Option<String> {
    match rng.below(5) {
        0 => {
            let v = *rng.pick(&[
                "1.0.0",
                "1.1.0",
                "1.99.0",
                "2.0.0",
                "0.9.0",
                "1",
                "",
                "x.1.0",
                "01.0.0",
                "18446744073709551616.0.0",
            ]);
            doc["schema"]["version"] = json!(v);
            Some(format!("schema.version = {v:?}"))
        }
        1 => {
            let u = *rng.pick(&["latency", "energy", "capacity", "edp"]);
            let v = *rng.pick(&["ms", "", "cycles", "nJ", "bit"]);
            doc["units"][u] = json!(v);
            Some(format!("units.{u} = {v:?}"))
        }
        2 => {
            let k = *rng.pick(&["mapper", "objective", "tool", "version"]);
            let v = *rng.pick(json::ODD_STRINGS);
            doc["producer"][k] = json!(v);
            Some(format!("producer.{k} = {v:?}"))
        }
        3 => {
            let o = doc.as_object_mut()?;
            let k = *rng.pick(&["producer", "inputs", "units", "model"]);
            o.shift_remove(k);
            Some(format!("{k} removed"))
        }
        _ => {
            // Read with a target override instead of the embedded spec.
            let t = doc.pointer_mut("/inputs/target")?.as_object_mut()?;
            t.shift_remove("spec");
            Some("inputs.target.spec removed (read with its preset as the override)".into())
        }
    }
}

/// The target a document without an embedded spec is read with: the preset it names, else
/// `default`.
fn override_for(text: &str) -> Option<cimopt_target::Target> {
    let v: Value = serde_json::from_str(text).ok()?;
    let t = v.pointer("/inputs/target");
    if t.and_then(|t| t.get("spec")).is_some_and(|s| !s.is_null()) {
        return None;
    }
    let name = t.and_then(|t| t["name"].as_str()).unwrap_or("default");
    let preset = if cimopt_target::PRESETS.iter().any(|p| p.0 == name) {
        name
    } else {
        "default"
    };
    cimopt_target::load(preset, &[]).ok().map(|l| l.target)
}

/// `from_json`, then what `cimopt check`, `simulate`, `report` and `compare` do with a
/// schedule, and the writer: its output must read back to the same bytes.
pub fn exercise(bytes: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Outcome::Rejected("not UTF-8".into());
    };
    let target = override_for(text);
    if target.is_none() {
        // What `cimopt check --set` reads first.
        let _ = cimopt_schedule::embedded_target(text);
    }
    let s = match cimopt_schedule::from_json(text, target.as_ref()) {
        Ok(s) => s,
        Err(e) => return Outcome::Rejected(e.to_string()),
    };
    let violations = cimopt_pipeline::check::check_schedule(&s);
    if !violations.is_empty() {
        return violated(
            "from_json returned a schedule that check_schedule rejects",
            format!(
                "{} violations, first: {}",
                violations.len(),
                violations[0].violation
            ),
        );
    }
    match cimopt_pipeline::simulate::simulate_schedule(&s) {
        Ok(reports) => {
            let _ = cimopt_pipeline::simulate::simulation_json(&s, &reports);
        }
        Err(e) => {
            return violated(
                "simulate_schedule refuses a schedule from_json accepted",
                e.to_string(),
            );
        }
    }
    let mut simulated = s.clone();
    if cimopt_pipeline::simulate::record_simulation(&mut simulated).is_ok() {
        let text = cimopt_schedule::to_json(&simulated);
        if let Err(e) = cimopt_schedule::from_json(&text, target.as_ref()) {
            return violated(
                "a simulated schedule written by to_json does not read back",
                e.to_string(),
            );
        }
    }
    for format in Format::ALL {
        let _ = cimopt_pipeline::report::render(&s, format, false);
        if s.inputs.target.vector_lanes.is_some() {
            let _ = cimopt_pipeline::report::render(&s, format, true);
        }
    }
    if let Ok(c) = cimopt_pipeline::compare::compare(&s, &s, ["a", "b"], false) {
        let _ = (c.table(["a", "b"]), c.to_json(["a", "b"]));
    }
    let first = cimopt_schedule::to_json(&s);
    let again = match cimopt_schedule::from_json(&first, target.as_ref()) {
        Ok(again) => again,
        Err(e) => {
            return violated(
                "a schedule written by to_json does not read back",
                e.to_string(),
            );
        }
    };
    let second = cimopt_schedule::to_json(&again);
    if first != second {
        return violated(
            "to_json ∘ from_json ∘ to_json is not byte-identical",
            super::first_difference(&first, &second),
        );
    }
    Outcome::Accepted
}
