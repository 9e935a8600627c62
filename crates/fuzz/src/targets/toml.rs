//! Target TOML: `cimopt_target::parse`, `--set` overrides through `cimopt_target::load`, then
//! what the rest of the pipeline does with a target.
//!
//! An input is a TOML text whose leading comment lines may carry overrides (`#set KEY=VALUE`,
//! passed to `parse`) or name a preset (`#preset default`: the text is then ignored and
//! `load(preset, overrides)` is called, as `cimopt compile --target default --set ...` does).
//! Comments are TOML comments, so the file is still a target file.
//!
//! Corpus: the presets (`cimopt_target::PRESETS`). Mutations: values at random keys (strings,
//! bools, floats, NaN, ±inf, negative and huge integers), keys removed or unknown keys added,
//! levels renamed (to another level's name, another case, empty), `source` references broken,
//! levels removed, duplicated or reordered, operand and dim lists, capacities with odd units,
//! a consistent target scaled to its limits, overrides with odd keys and values, raw text.
//!
//! A target that parses is printed with `show::to_commented_toml` (which must parse back to the
//! same target), re-read with `with_overrides` (same), hashed, and used: five layers mapped
//! with the ws mapper, bounded, priced and simulated, and written to a schedule that must
//! read back byte for byte.

use super::violated;
use crate::json::short;
use crate::rng::Rng;
use crate::{Fuzzer, Input, Outcome, Plan};
use cimopt_ir::{Layer, OpKind, WeightKind, Workload};
use toml::{Table, Value};

pub struct TargetFuzzer {
    bases: Vec<(String, Table)>,
}

impl TargetFuzzer {
    pub fn load() -> Result<TargetFuzzer, String> {
        let mut bases = Vec::new();
        for (name, text) in cimopt_target::PRESETS {
            let t: Table = toml::from_str(text).map_err(|e| format!("preset {name}: {e}"))?;
            bases.push((format!("preset {name}"), t));
        }
        Ok(TargetFuzzer { bases })
    }
}

const STEPS: &[(&str, u32)] = &[
    ("value", 20),
    ("delete key", 8),
    ("unknown key", 4),
    ("rename level", 6),
    ("source", 6),
    ("levels", 6),
    ("operands", 5),
    ("dims", 4),
    ("capacity", 6),
    ("extreme", 10),
    ("override", 10),
    ("preset load", 3),
    ("text", 4),
];
const OVERRIDE: usize = 10;
const PRESET: usize = 11;
const TEXT: usize = 12;

impl Fuzzer for TargetFuzzer {
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
        let (name, table) = &self.bases[plan.base];
        let mut table = table.clone();
        let mut mutations = Vec::new();
        let mut overrides = Vec::new();
        let mut preset = None;
        for &(kind, seed) in &plan.steps {
            let mut rng = Rng::new(seed);
            match kind {
                OVERRIDE => {
                    let o = override_line(&mut rng);
                    mutations.push(format!("override: --set {o}"));
                    overrides.push(o);
                }
                PRESET => {
                    let p = cimopt_target::PRESETS[rng.below(cimopt_target::PRESETS.len())].0;
                    mutations.push(format!("preset load: load(\"{p}\", overrides)"));
                    preset = Some(p);
                }
                TEXT => {}
                _ => {
                    if let Some(m) = step(kind, &mut rng, &mut table) {
                        mutations.push(format!("{}: {m}", STEPS[kind].0));
                    }
                }
            }
        }
        let mut text = String::new();
        if let Some(p) = preset {
            text.push_str(&format!("#preset {p}\n"));
        }
        for o in &overrides {
            text.push_str(&format!("#set {o}\n"));
        }
        if preset.is_none() {
            text.push_str(
                &toml::to_string(&table).unwrap_or_else(|e| format!("# not serialisable: {e}\n")),
            );
        }
        let mut bytes = text.into_bytes();
        for &(_, seed) in plan.steps.iter().filter(|s| s.0 == TEXT) {
            let mut rng = Rng::new(seed);
            mutations.push(format!("text: {}", mutate_text(&mut rng, &mut bytes)));
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
        // Drop whole lines (overrides and keys) while it still fails.
        let Ok(text) = std::str::from_utf8(input) else {
            return input.to_vec();
        };
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let mut i = 0;
        while i < lines.len() && *budget > 0 {
            let mut candidate = lines.clone();
            candidate.remove(i);
            *budget -= 1;
            let joined = candidate.join("\n") + "\n";
            if fails(joined.as_bytes()) {
                lines = candidate;
            } else {
                i += 1;
            }
        }
        (lines.join("\n") + "\n").into_bytes()
    }
}

/// Every path to a value in the table (dotted keys, array indices).
fn paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Table(t) => {
            for (k, child) in t {
                prefix.push(k.clone());
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(i.to_string());
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn all_paths(t: &Table) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    paths(&Value::Table(t.clone()), &mut Vec::new(), &mut out);
    out
}

fn get_mut<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, seg| match v {
        Value::Table(t) => t.get_mut(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

fn with_root<R>(t: &mut Table, f: impl FnOnce(&mut Value) -> R) -> R {
    let mut root = Value::Table(std::mem::take(t));
    let r = f(&mut root);
    if let Value::Table(back) = root {
        *t = back;
    }
    r
}

const INTS: &[i64] = &[
    0,
    1,
    -1,
    2,
    63,
    64,
    65,
    65_535,
    65_536,
    65_537,
    (1 << 31) - 1,
    1 << 32,
    (1 << 32) + 1,
    1 << 48,
    1 << 62,
    (1 << 62) + 1,
    i64::MAX,
    i64::MIN,
];

fn odd_value(rng: &mut Rng, like: Option<&Value>) -> Value {
    let same_kind = rng.chance(3, 5);
    match (same_kind, like) {
        (true, Some(Value::Integer(i))) => Value::Integer(match rng.below(3) {
            0 => *rng.pick(INTS),
            1 => i.saturating_mul(*rng.pick(&[2, 1000, 1 << 16, 1 << 31])),
            _ => i.saturating_add(*rng.pick(&[1, -1])),
        }),
        (true, Some(Value::Float(_))) => Value::Float(*rng.pick(&[
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            -0.0,
            1e300,
            1.7976931348623157e308,
            5e-324,
        ])),
        (true, Some(Value::String(_))) => Value::String((*rng.pick(ODD_STRINGS)).into()),
        (true, Some(Value::Boolean(b))) => Value::Boolean(!b),
        (true, Some(Value::Array(a))) => {
            let mut a = a.clone();
            match rng.below(3) {
                0 => a.clear(),
                1 if !a.is_empty() => {
                    let e = a[rng.below(a.len())].clone();
                    a.push(e);
                }
                _ => a.push(Value::String((*rng.pick(ODD_STRINGS)).into())),
            }
            Value::Array(a)
        }
        _ => match rng.below(7) {
            0 => Value::Integer(*rng.pick(INTS)),
            1 => Value::Float(*rng.pick(&[f64::NAN, f64::INFINITY, -1.5, 0.5, 1e300])),
            2 => Value::String((*rng.pick(ODD_STRINGS)).into()),
            3 => Value::Boolean(rng.chance(1, 2)),
            4 => Value::Array(Vec::new()),
            5 => Value::Table(Table::new()),
            _ => {
                // Deep nesting.
                let mut v = Value::Integer(1);
                for _ in 0..*rng.pick(&[10usize, 100, 200]) {
                    v = Value::Array(vec![v]);
                }
                v
            }
        },
    }
}

const ODD_STRINGS: &[&str] = &[
    "",
    " ",
    "NaN",
    "inf",
    "-1",
    "0",
    "1e999",
    "0bit",
    "64",
    "8bit",
    "1GiB",
    "512PiB",
    "16EiB",
    "18446744073709551616",
    "4611686018427387904",
    "4611686018427387905bit",
    "2305843009213693952B",
    "576460752303423488KiB",
    "17179869184GiB",
    "256 KiB",
    "256kib",
    "256KB",
    "1_0",
    "_",
    "KiB",
    "8bit8",
    "shared",
    "per_core",
    "PER_CORE",
    "I",
    "i",
    "W",
    "O",
    "X",
    "R",
    "k",
    "dram",
    "DRAM",
    "macro",
    "global_buffer",
    "a\"b",
    "a\\b",
    "line\nbreak",
    "ü",
    "\u{0}",
];

fn step(kind: usize, rng: &mut Rng, t: &mut Table) -> Option<String> {
    match STEPS[kind].0 {
        "value" => {
            let ps = all_paths(t);
            if ps.is_empty() {
                return None;
            }
            let p = rng.pick(&ps).clone();
            with_root(t, |root| {
                let v = get_mut(root, &p)?;
                let new = odd_value(rng, Some(v));
                let shown = show_value(&new);
                *v = new;
                Some(format!("{} = {shown}", p.join(".")))
            })
        }
        "delete key" => {
            let ps: Vec<Vec<String>> = all_paths(t)
                .into_iter()
                .filter(|p| p.last().is_some_and(|s| s.parse::<usize>().is_err()))
                .collect();
            if ps.is_empty() {
                return None;
            }
            let p = rng.pick(&ps).clone();
            let (last, parent) = p.split_last()?;
            with_root(t, |root| {
                let parent = get_mut(root, parent)?;
                parent.as_table_mut()?.remove(last)?;
                Some(format!("{} removed", p.join(".")))
            })
        }
        "unknown key" => {
            let where_ = *rng.pick(&[
                "",
                "macro",
                "macro.precision",
                "levels.0",
                "spatial",
                "spatial.cores",
            ]);
            let key = *rng.pick(&[
                "capacity_bits",
                "Cores",
                "fuzz",
                "bandwidth",
                "name ",
                "ping-pong",
            ]);
            let path: Vec<String> = where_
                .split('.')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            with_root(t, |root| {
                let v = get_mut(root, &path)?;
                v.as_table_mut()?.insert(key.into(), Value::Integer(1));
                Some(format!("unknown key `{key}` in [{where_}]"))
            })
        }
        "rename level" => {
            let levels = t.get_mut("levels")?.as_array_mut()?;
            if levels.is_empty() {
                return None;
            }
            let i = rng.below(levels.len());
            let other = levels[rng.below(levels.len())]
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("dram")
                .to_string();
            let new = match rng.below(5) {
                0 => other.clone(),
                1 => other.to_uppercase(),
                2 => String::new(),
                3 => format!("{other}_renamed"),
                _ => (*rng.pick(&[
                    "a\"b",
                    "line\nbreak",
                    " ",
                    "levels",
                    "#0",
                    "0",
                    "cores",
                    "mac",
                    "leakage",
                ]))
                .into(),
            };
            levels[i]
                .as_table_mut()?
                .insert("name".into(), Value::String(new.clone()));
            Some(format!("levels[{i}].name = {new:?}"))
        }
        "source" => {
            let axis = *rng.pick(&["cores", "rows", "cols"]);
            let names: Vec<String> = t
                .get("levels")
                .and_then(|l| l.as_array())
                .map(|ls| {
                    ls.iter()
                        .filter_map(|l| l.get("name")?.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let src = t
                .get_mut("spatial")?
                .get_mut(axis)?
                .get_mut("source")?
                .as_table_mut()?;
            let o = *rng.pick(&["I", "W", "O"]);
            match rng.below(4) {
                0 => {
                    src.remove(o);
                    Some(format!("spatial.{axis}.source.{o} removed"))
                }
                1 => {
                    src.insert(
                        (*rng.pick(&["Z", "i", ""])).into(),
                        Value::String("dram".into()),
                    );
                    Some(format!("spatial.{axis}.source: an unknown operand added"))
                }
                2 if !names.is_empty() => {
                    let n = rng.pick(&names).clone();
                    src.insert(o.into(), Value::String(n.clone()));
                    Some(format!("spatial.{axis}.source.{o} = {n:?}"))
                }
                _ => {
                    src.insert(o.into(), Value::String("nowhere".into()));
                    Some(format!("spatial.{axis}.source.{o} = \"nowhere\""))
                }
            }
        }
        "levels" => {
            let levels = t.get_mut("levels")?.as_array_mut()?;
            if levels.is_empty() {
                return None;
            }
            let i = rng.below(levels.len());
            match rng.below(5) {
                0 => {
                    levels.remove(i);
                    Some(format!("levels[{i}] removed"))
                }
                1 => {
                    let l = levels[i].clone();
                    levels.insert(i, l);
                    Some(format!("levels[{i}] duplicated"))
                }
                2 => {
                    let j = rng.below(levels.len());
                    levels.swap(i, j);
                    Some(format!("levels[{i}] and levels[{j}] swapped"))
                }
                3 => {
                    let mut l = levels[i].clone();
                    if let Some(tt) = l.as_table_mut() {
                        tt.insert("name".into(), Value::String(format!("extra{i}")));
                    }
                    for _ in 0..*rng.pick(&[1usize, 30]) {
                        levels.push(l.clone());
                    }
                    Some(format!("copies of levels[{i}] appended"))
                }
                _ => {
                    levels.clear();
                    Some("every level removed".into())
                }
            }
        }
        "operands" => {
            let levels = t.get_mut("levels")?.as_array_mut()?;
            if levels.is_empty() {
                return None;
            }
            let i = rng.below(levels.len());
            let k = *rng.pick(&["holds", "double_buffer"]);
            let v: Vec<Value> = match rng.below(5) {
                0 => vec![],
                1 => vec!["I".into(), "I".into()],
                2 => vec!["i".into(), "w".into(), "o".into()],
                3 => vec!["X".into()],
                _ => vec!["I".into(), "W".into(), "O".into()],
            };
            let shown = show_value(&Value::Array(v.clone()));
            levels[i].as_table_mut()?.insert(k.into(), Value::Array(v));
            Some(format!("levels[{i}].{k} = {shown}"))
        }
        "dims" => {
            let axis = *rng.pick(&["cores", "rows", "cols"]);
            let v: Vec<Value> = match rng.below(5) {
                0 => vec![],
                1 => vec!["P".into(), "P".into()],
                2 => vec!["p".into(), "k".into()],
                3 => vec!["H".into()],
                _ => ["R", "S", "P", "Q", "C", "K", "G", "B"]
                    .iter()
                    .map(|d| Value::String((*d).into()))
                    .collect(),
            };
            let shown = show_value(&Value::Array(v.clone()));
            t.get_mut("spatial")?
                .get_mut(axis)?
                .as_table_mut()?
                .insert("dims".into(), Value::Array(v));
            Some(format!("spatial.{axis}.dims = {shown}"))
        }
        "capacity" => {
            let levels = t.get_mut("levels")?.as_array_mut()?;
            if levels.is_empty() {
                return None;
            }
            let i = rng.below(levels.len());
            let v = if rng.chance(1, 3) {
                Value::Integer(*rng.pick(INTS))
            } else {
                Value::String((*rng.pick(&ODD_STRINGS[..26])).into())
            };
            let shown = show_value(&v);
            levels[i].as_table_mut()?.insert("capacity".into(), v);
            Some(format!("levels[{i}].capacity = {shown}"))
        }
        "extreme" => extreme(rng, t),
        _ => None,
    }
}

/// A valid target pushed to its limits, consistently (the macro level's capacity follows
/// compartment depth × weight bits).
fn extreme(rng: &mut Rng, t: &mut Table) -> Option<String> {
    let mut notes = Vec::new();
    for _ in 0..rng.range(1, 4) {
        match rng.below(8) {
            0 => {
                let c = *rng.pick(&[1i64, 65_536]);
                t.insert("cores".into(), Value::Integer(c));
                notes.push(format!("cores = {c}"));
            }
            1 => {
                let k = *rng.pick(&["rows", "cols"]);
                let c = *rng.pick(&[1i64, 65_536]);
                t.get_mut("macro")?
                    .as_table_mut()?
                    .insert(k.into(), Value::Integer(c));
                notes.push(format!("macro.{k} = {c}"));
            }
            2 => {
                let bits = *rng.pick(&[1i64, 64]);
                let depth = *rng.pick(&[1i64, 65_536]);
                let m = t.get_mut("macro")?.as_table_mut()?;
                m.insert("compartment_depth".into(), Value::Integer(depth));
                // The extreme widths the array may also compute at: 1 bit, packed or padded.
                let widths: Vec<Value> = if bits == 1 { vec![1] } else { vec![1, bits] }
                    .into_iter()
                    .map(Value::Integer)
                    .collect();
                m.insert("weight_bits_supported".into(), Value::Array(widths));
                let storage = *rng.pick(&["packed", "padded"]);
                m.insert("weight_storage".into(), Value::String(storage.into()));
                m.get_mut("precision")?
                    .as_table_mut()?
                    .insert("weight_bits".into(), Value::Integer(bits));
                let levels = t.get_mut("levels")?.as_array_mut()?;
                if let Some(l) = levels.iter_mut().rev().find(|l| {
                    l.get("holds")
                        .and_then(|h| h.as_array())
                        .is_some_and(|h| h.iter().any(|o| o.as_str() == Some("W")))
                }) {
                    l.as_table_mut()?
                        .insert("capacity".into(), Value::Integer(bits * depth));
                }
                notes.push(format!("weight_bits = {bits}, compartment_depth = {depth}"));
            }
            3 => {
                let k = *rng.pick(&["input_bits", "psum_bits", "output_bits"]);
                let b = *rng.pick(&[1i64, 64]);
                t.get_mut("macro")?
                    .get_mut("precision")?
                    .as_table_mut()?
                    .insert(k.into(), Value::Integer(b));
                if k == "input_bits" && rng.chance(1, 2) {
                    t.get_mut("macro")?
                        .as_table_mut()?
                        .insert("input_bits_per_cycle".into(), Value::Integer(b));
                }
                notes.push(format!("precision.{k} = {b}"));
            }
            4 => {
                let levels = t.get_mut("levels")?.as_array_mut()?;
                if levels.is_empty() {
                    return None;
                }
                let i = rng.below(levels.len());
                let c = *rng.pick(&["4611686018427387904", "1bit", "64"]);
                levels[i]
                    .as_table_mut()?
                    .insert("capacity".into(), Value::String(c.into()));
                notes.push(format!("levels[{i}].capacity = {c}"));
            }
            5 => {
                let levels = t.get_mut("levels")?.as_array_mut()?;
                if levels.is_empty() {
                    return None;
                }
                let i = rng.below(levels.len());
                let b = *rng.pick(&[1i64, 1 << 32]);
                let l = levels[i].as_table_mut()?;
                l.remove("read_bandwidth_bits_per_cycle");
                l.remove("write_bandwidth_bits_per_cycle");
                l.insert("bandwidth_bits_per_cycle".into(), Value::Integer(b));
                notes.push(format!("levels[{i}].bandwidth = {b}"));
            }
            6 => {
                let v = *rng.pick(&[1i64, 65_536]);
                t.insert("vector_lanes".into(), Value::Integer(v));
                notes.push(format!("vector_lanes = {v}"));
            }
            _ => {
                let e = *rng.pick(&[0.0f64, 1e300, 1.7976931348623157e308, 5e-324]);
                t.insert("leakage_nj_per_cycle".into(), Value::Float(e));
                if rng.chance(1, 2) {
                    let a = t
                        .get_mut("macro")?
                        .get_mut("activation_energy")?
                        .as_table_mut()?;
                    a.clear();
                    a.insert("nj".into(), Value::Float(e));
                }
                notes.push(format!("energies = {e}"));
            }
        }
    }
    Some(notes.join(", "))
}

fn show_value(v: &Value) -> String {
    let s = v.to_string();
    short(&serde_json::Value::String(s))
        .trim_matches('"')
        .to_string()
}

/// A `KEY=VALUE` override: a real key (by level name or index) or an odd one, with a value
/// that is valid TOML, or not.
fn override_line(rng: &mut Rng) -> String {
    let keys = [
        "cores",
        "leakage_nj_per_cycle",
        "vector_lanes",
        "description",
        "name",
        "macro.rows",
        "macro.cols",
        "macro.compartment_depth",
        "macro.ping_pong",
        "macro.input_bits_per_cycle",
        "macro.weight_bits_supported",
        "macro.weight_storage",
        "macro.pad_unsupported_weights",
        "macro.precision.input_bits",
        "macro.precision.weight_bits",
        "macro.activation_energy.nj",
        "macro.activation_energy.mult_1b_pj",
        "levels.dram.capacity",
        "levels.DRAM.capacity",
        "levels.global_buffer.capacity",
        "levels[1].capacity",
        "levels.1.bandwidth_bits_per_cycle",
        "levels[2].read_bandwidth_bits_per_cycle",
        "levels.macro.capacity",
        "levels.ireg.double_buffer",
        "levels[0].holds",
        "levels[0].replication",
        "levels[6].name",
        "levels[99].capacity",
        "levels[-1].capacity",
        "levels[].capacity",
        "levels[1",
        "levels.1.2",
        "levels",
        "levels[0]",
        "spatial.cores.dims",
        "spatial.rows.source.I",
        "spatial.cols.source",
        "spatial.x.dims",
        "macro.rows.x",
        "cores.x",
        "",
        ".",
        "a..b",
        " cores ",
        "ü",
    ];
    let values = [
        "16",
        "0",
        "-1",
        "65537",
        "9223372036854775807",
        "9223372036854775808",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "0.5",
        "true",
        "\"str\"",
        "512KiB",
        "4611686018427387904",
        "4611686018427387905",
        "[1, 2]",
        "[\"P\", \"P\"]",
        "[\"I\", \"W\", \"O\"]",
        "{ I = \"dram\", W = \"dram\", O = \"dram\" }",
        "{}",
        "[",
        "\"unterminated",
        "1979-05-27",
        "",
        "1\nother = 2",
        "dram",
        "nowhere",
        "per_core",
    ];
    let key = *rng.pick(&keys);
    let value = *rng.pick(&values);
    if rng.chance(1, 20) {
        return key.to_string();
    }
    format!("{key}={value}")
}

fn mutate_text(rng: &mut Rng, bytes: &mut Vec<u8>) -> String {
    if bytes.is_empty() {
        bytes.extend_from_slice(b"[");
        return "an empty text made `[`".into();
    }
    match rng.below(6) {
        0 => {
            let n = rng.below(bytes.len());
            bytes.truncate(n);
            format!("truncated to {n} bytes")
        }
        1 => {
            let i = rng.below(bytes.len());
            bytes[i] ^= 1 << rng.below(8);
            format!("a bit flipped at byte {i}")
        }
        2 => {
            let depth = *rng.pick(&[128usize, 1000, 50_000]);
            let mut s = format!(
                "\nfuzz_nested = {}1{}\n",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            if rng.chance(1, 2) {
                s = format!(
                    "\nfuzz_inline = {}1{}\n",
                    "{a = ".repeat(depth),
                    "}".repeat(depth)
                );
            }
            bytes.extend_from_slice(s.as_bytes());
            format!("a value nested {depth} deep appended")
        }
        3 => {
            let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
            let i = rng.below(lines.len());
            let line = lines[i].to_vec();
            bytes.extend_from_slice(b"\n");
            bytes.extend_from_slice(&line);
            bytes.extend_from_slice(b"\n");
            format!("line {i} repeated at the end")
        }
        4 => {
            let i = rng.below(bytes.len());
            let b = *rng.pick(&[0xffu8, 0x00, b'"', b'\'', b'[', b'=', b'\\', b'\r']);
            bytes.insert(i, b);
            format!("byte {b:#04x} inserted at {i}")
        }
        _ => {
            let lit = *rng.pick(&[
                "99999999999999999999",
                "1e400",
                "nan",
                "-0",
                "0x7fffffffffffffff",
                "1979-05-27T07:32:00Z",
                "'''",
            ]);
            bytes.extend_from_slice(format!("\nfuzz_lit = {lit}\n").as_bytes());
            format!("`fuzz_lit = {lit}` appended")
        }
    }
}

/// Layers that exercise a target: convolutions (strided, depthwise), matrix products (one
/// with a run-time weight).
pub fn probe_layers() -> Vec<Layer> {
    let conv = |r: u64, p: u64, c: u64, k: u64, g: u64, stride: u64| Workload {
        op: OpKind::Conv,
        weight_kind: WeightKind::Constant,
        r,
        s: r,
        p,
        q: p,
        c,
        k,
        g,
        b: 1,
        h: (p - 1) * stride + r - 2 * (r / 2),
        w: (p - 1) * stride + r - 2 * (r / 2),
        stride: [stride, stride],
        pad: [r / 2; 4],
        dilation: [1, 1],
        bits: cimopt_ir::Bits::FLOAT,
    };
    let matmul = |p: u64, c: u64, k: u64, g: u64, kind: WeightKind| Workload {
        op: OpKind::MatMul,
        weight_kind: kind,
        r: 1,
        s: 1,
        p,
        q: 1,
        c,
        k,
        g,
        b: 1,
        h: p,
        w: 1,
        stride: [1, 1],
        pad: [0; 4],
        dilation: [1, 1],
        bits: cimopt_ir::Bits::FLOAT,
    };
    let workloads = [
        conv(3, 56, 64, 64, 1, 1),
        conv(7, 112, 3, 64, 1, 2),
        conv(3, 14, 1, 1, 96, 1),
        matmul(128, 768, 3072, 1, WeightKind::Constant),
        matmul(128, 64, 128, 12, WeightKind::Activation),
    ];
    workloads
        .into_iter()
        .enumerate()
        .map(|(index, workload)| Layer {
            index,
            name: format!("probe_{index}"),
            onnx_nodes: vec![format!("probe_{index}")],
            workload,
            dedup_group: index,
            has_bias: false,
        })
        .collect()
}

fn parse_input(text: &str) -> Result<cimopt_target::Target, String> {
    let mut overrides = Vec::new();
    let mut preset = None;
    for line in text.lines() {
        if let Some(o) = line.strip_prefix("#set ") {
            overrides.push(o.to_string());
        } else if let Some(p) = line.strip_prefix("#preset ") {
            preset = Some(p.trim().to_string());
        }
    }
    match preset {
        // Only presets: `load` would read any file a path names.
        Some(p) if cimopt_target::PRESETS.iter().any(|x| x.0 == p) => {
            cimopt_target::load(&p, &overrides)
                .map(|l| l.target)
                .map_err(|e| e.to_string())
        }
        Some(p) => Err(format!("not a preset: {p}")),
        None => cimopt_target::parse("fuzz input", text, &overrides).map_err(|e| e.to_string()),
    }
}

/// `parse` (or `load`), then printing, re-reading, hashing, and five layers mapped with the
/// ws mapper, bounded, priced, simulated and written to a schedule that must read back.
pub fn exercise(bytes: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Outcome::Rejected("not UTF-8".into());
    };
    let t = match parse_input(text) {
        Ok(t) => t,
        Err(e) => return Outcome::Rejected(e),
    };
    let shown = cimopt_target::show::to_commented_toml(&t);
    match cimopt_target::parse("shown", &shown, &[]) {
        Ok(back) if back == t => {}
        Ok(back) => {
            return violated(
                "to_commented_toml does not parse back to the same target",
                format!("printed {t:?}\nread back {back:?}"),
            );
        }
        Err(e) => {
            return violated(
                "to_commented_toml prints a target that does not parse",
                e.to_string(),
            );
        }
    }
    match cimopt_target::with_overrides(&t, &[]) {
        Ok(back) if back == t => {}
        Ok(_) => {
            return violated(
                "with_overrides(t, []) is not t",
                "another target".to_string(),
            );
        }
        Err(e) => {
            return violated(
                "with_overrides(t, []) refuses a valid target",
                e.to_string(),
            );
        }
    }
    let _ = cimopt_schedule::target_sha256(&t);
    let mut layers = Vec::new();
    for l in probe_layers() {
        if let Err(o) = super::map_ws(&t, &l.workload) {
            return o;
        }
        if let Ok(m) = cimopt_mappers::weight_stationary(&t, &l.workload) {
            layers.push((l, m));
        }
    }
    if !layers.is_empty() {
        let s = schedule_of(&t, layers);
        let first = cimopt_schedule::to_json(&s);
        match cimopt_schedule::from_json(&first, None) {
            Ok(back) => {
                let second = cimopt_schedule::to_json(&back);
                if second != first {
                    return violated(
                        "a schedule on this target does not round-trip byte for byte",
                        super::first_difference(&first, &second),
                    );
                }
            }
            Err(e) => {
                return violated(
                    "a schedule on this target written by to_json does not read back",
                    e.to_string(),
                );
            }
        }
    }
    Outcome::Accepted
}

fn schedule_of(
    t: &cimopt_target::Target,
    layers: Vec<(Layer, cimopt_mappers::Mapped)>,
) -> cimopt_schedule::Schedule {
    use cimopt_schedule::*;
    let metrics: Vec<Metrics> = layers
        .iter()
        .map(|(_, m)| cimopt_pipeline::compile::metrics_of(&m.cost))
        .collect();
    let latency: f64 = metrics.iter().map(|m| m.latency_cycles).sum();
    let energy: f64 = metrics.iter().map(|m| m.energy_nj).sum();
    Schedule {
        // Probe layers are not a model: they have no execution order to plan.
        plan: None,
        producer: Producer {
            tool: "cimopt-fuzz".into(),
            version: "0".into(),
            mapper: "ws".into(),
            objective: "edp".into(),
            solver: None,
            solver_options: Default::default(),
        },
        inputs: Inputs {
            model_file: "probe".into(),
            model_sha256: String::new(),
            target_name: t.name.clone(),
            target_sha256: target_sha256(t),
            target: t.clone(),
        },
        layers: layers
            .into_iter()
            .zip(metrics)
            .map(|((layer, m), predicted)| ScheduledLayer {
                layer,
                same_as: None,
                mapping: m.mapping,
                predicted: Some(predicted),
                simulated: None,
                solve: SolveInfo {
                    mapper: "ws".into(),
                    status: "heuristic".into(),
                    ..Default::default()
                },
            })
            .collect(),
        model: ModelSummary {
            latency_cycles: latency,
            energy_nj: energy,
            edp: latency * energy,
            ..Default::default()
        },
    }
}
