//! Field-level mutation of JSON documents (schedules, solve-cache entries): values at random
//! paths replaced by boundary numbers, wrong types, unknown names; arrays emptied, lengthened,
//! shuffled; keys removed or added. And the reducer that shrinks a crashing document.

use crate::rng::Rng;
use serde_json::{Map, Value, json};

/// One step of a path into a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

pub type Path = Vec<Step>;

/// `layers[0].dims.R`.
pub fn describe(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    if s.is_empty() { "(document)".into() } else { s }
}

/// Every path under `v` (not `v` itself), depth first, prefixed by `prefix`.
pub fn paths_under(v: &Value, prefix: &Path, out: &mut Vec<Path>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let mut p = prefix.clone();
                p.push(Step::Key(k.clone()));
                out.push(p.clone());
                paths_under(child, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(Step::Index(i));
                out.push(p.clone());
                paths_under(child, &p, out);
            }
        }
        _ => {}
    }
}

pub fn get<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

pub fn get_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// Removes the value at `path` (a key from its object, an element from its array).
pub fn remove(v: &mut Value, path: &[Step]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    match (get_mut(v, parent), last) {
        (Some(Value::Object(m)), Step::Key(k)) => m.shift_remove(k).is_some(),
        (Some(Value::Array(a)), Step::Index(i)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

/// Integers at the edges of every limit the readers enforce, and past them.
pub const BOUNDARY_INTS: &[i128] = &[
    0,
    1,
    -1,
    2,
    3,
    7,
    8,
    16,
    64,
    65,
    255,
    256,
    65_535,
    65_536,
    65_537,
    (1 << 31) - 2,
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    (1 << 32) + 1,
    1 << 47,
    1 << 48,
    (1 << 48) + 1,
    (1 << 53) + 1,
    1 << 62,
    (1 << 62) + 1,
    i64::MAX as i128,
    (i64::MAX as i128) + 1,
    u64::MAX as i128,
    i64::MIN as i128,
    -(1 << 31),
];

/// Floats that break arithmetic: huge, tiny, negative zero, past u64.
pub const BOUNDARY_FLOATS: &[f64] = &[
    0.5,
    1.5,
    -0.0,
    -1.0,
    1e300,
    -1e300,
    1.7976931348623157e308,
    5e-324,
    1.8446744073709552e19,
    9.223372036854776e18,
    3.0,
];

/// Strings a number or a name should never be.
pub const ODD_STRINGS: &[&str] = &[
    "",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1",
    "18446744073709551616",
    " ",
    "#1",
    "null",
    "\u{0}",
    "ü",
    "dram ",
    "DRAM",
    "I",
    "W",
    "O",
    "X",
    "R",
    "cores",
    "rows",
    "cols",
    "Conv",
    "MatMul",
    "Gemm",
    "activation",
    "constant",
    "reused",
    "1.0.0",
    "2.0.0",
    "1",
    "1.x",
];

pub fn int_value(v: i128) -> Value {
    if let Ok(u) = u64::try_from(v) {
        json!(u)
    } else if let Ok(i) = i64::try_from(v) {
        json!(i)
    } else {
        json!(v as f64)
    }
}

/// A boundary number, or one derived from `original` (±1, doubled, squared, as a float).
pub fn number_near(rng: &mut Rng, original: Option<&Value>) -> Value {
    let base = original.and_then(|v| {
        v.as_i64()
            .map(|i| i as i128)
            .or(v.as_u64().map(|u| u as i128))
    });
    match (rng.below(6), base) {
        (0, Some(b)) => int_value(b + 1),
        (1, Some(b)) => int_value(b - 1),
        (2, Some(b)) => int_value(b.saturating_mul(*rng.pick(&[2, 3, 1000, 1 << 16, 1 << 31]))),
        (3, Some(b)) => json!(b as f64 + 0.5),
        (4, _) => json!(*rng.pick(BOUNDARY_FLOATS)),
        _ => int_value(*rng.pick(BOUNDARY_INTS)),
    }
}

/// A replacement for `v`: mostly of the same kind, sometimes of another.
pub fn replacement(rng: &mut Rng, v: &Value, names: &[String]) -> (Value, &'static str) {
    let odd_type = rng.chance(1, 5);
    if odd_type {
        return match rng.below(7) {
            0 => (Value::Null, "null"),
            1 => (json!(rng.chance(1, 2)), "a bool"),
            2 => (json!(*rng.pick(ODD_STRINGS)), "a string"),
            3 => (json!([]), "an empty array"),
            4 => (json!({}), "an empty object"),
            5 => (number_near(rng, None), "a number"),
            _ => (
                match v {
                    Value::Number(n) => json!(n.to_string()),
                    other => json!([other.clone()]),
                },
                "the value quoted or wrapped",
            ),
        };
    }
    match v {
        Value::Number(_) => (number_near(rng, Some(v)), "a boundary number"),
        Value::String(_) => {
            if !names.is_empty() && rng.chance(1, 2) {
                (json!(rng.pick(names).clone()), "another name")
            } else {
                (json!(*rng.pick(ODD_STRINGS)), "an odd string")
            }
        }
        Value::Bool(b) => (json!(!b), "the other bool"),
        Value::Null => (number_near(rng, None), "a number"),
        Value::Array(a) => {
            let mut a = a.clone();
            let what = match rng.below(5) {
                0 => {
                    a.clear();
                    "emptied"
                }
                1 if !a.is_empty() => {
                    let e = a[rng.below(a.len())].clone();
                    let n = rng.range(1, 40) as usize;
                    for _ in 0..n {
                        a.push(e.clone());
                    }
                    "lengthened with copies"
                }
                2 if !a.is_empty() => {
                    let n = rng.below(a.len());
                    a.truncate(n);
                    "truncated"
                }
                3 if a.len() > 1 => {
                    let (i, j) = (rng.below(a.len()), rng.below(a.len()));
                    a.swap(i, j);
                    "two elements swapped"
                }
                _ => {
                    a.push(number_near(rng, None));
                    "a number appended"
                }
            };
            (Value::Array(a), what)
        }
        Value::Object(m) => {
            let mut m = m.clone();
            let what = if !m.is_empty() && rng.chance(1, 2) {
                let k = m
                    .keys()
                    .nth(rng.below(m.len()))
                    .cloned()
                    .unwrap_or_default();
                m.shift_remove(&k);
                "a key removed"
            } else if rng.chance(1, 3) {
                m.clear();
                "emptied"
            } else {
                m.insert(format!("fuzz_{}", rng.below(100)), number_near(rng, None));
                "an unknown key added"
            };
            (Value::Object(m), what)
        }
    }
}

/// Replaces, removes or rewrites the value at a random path among `candidates`; returns what
/// it did.
pub fn mutate_at(
    rng: &mut Rng,
    doc: &mut Value,
    candidates: &[Path],
    names: &[String],
) -> Option<String> {
    if candidates.is_empty() {
        return None;
    }
    let path = rng.pick(candidates).clone();
    let at = describe(&path);
    if rng.chance(1, 6) {
        return remove(doc, &path).then(|| format!("{at}: removed"));
    }
    let v = get_mut(doc, &path)?;
    let (new, what) = replacement(rng, v, names);
    let shown = short(&new);
    *v = new;
    Some(format!("{at} = {shown} ({what})"))
}

/// A value as compact JSON, cut to 80 characters.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// Raw-text mutations of a serialized document: what a truncated download, a bad editor or a
/// hostile producer gives.
pub fn mutate_text(rng: &mut Rng, text: &mut Vec<u8>) -> String {
    if text.is_empty() {
        text.push(b'{');
        return "an empty document made `{`".into();
    }
    match rng.below(7) {
        0 => {
            let n = rng.below(text.len());
            text.truncate(n);
            format!("truncated to {n} bytes")
        }
        1 => {
            let i = rng.below(text.len());
            text[i] ^= 1 << rng.below(8);
            format!("a bit flipped at byte {i}")
        }
        2 => {
            // Deep nesting: recursion limits of the parsers.
            let depth = *rng.pick(&[64usize, 127, 128, 129, 1000, 100_000]);
            let i = find_value_start(text, rng);
            let mut nested = Vec::with_capacity(depth * 2 + 1);
            nested.extend(std::iter::repeat_n(b'[', depth));
            nested.push(b'1');
            nested.extend(std::iter::repeat_n(b']', depth));
            splice_value(text, i, &nested);
            format!("a value at byte {i} nested {depth} arrays deep")
        }
        3 => {
            let lits: [&[u8]; 10] = [
                b"1e999",
                b"-1e999",
                b"18446744073709551616",
                b"-9223372036854775809",
                b"1.0e-400",
                b"NaN",
                b"0x10",
                b"\"\\ud800\"",
                b"00",
                b"-0",
            ];
            let lit: &[u8] = lits[rng.below(lits.len())];
            let i = find_value_start(text, rng);
            splice_value(text, i, lit);
            format!(
                "a value at byte {i} replaced by `{}`",
                String::from_utf8_lossy(lit)
            )
        }
        4 => {
            let i = rng.below(text.len());
            let b = *rng.pick(&[0xffu8, 0xc3, 0x00, b'"', b'\\', b'}', b',']);
            text.insert(i, b);
            format!("byte {b:#04x} inserted at {i}")
        }
        5 => {
            let i = rng.below(text.len());
            let j = (i + rng.range(1, 64) as usize).min(text.len());
            let chunk = text[i..j].to_vec();
            let k = rng.below(text.len());
            for (n, b) in chunk.iter().enumerate() {
                text.insert(k + n, *b);
            }
            format!("bytes {i}..{j} copied to {k}")
        }
        _ => {
            text.splice(0..0, [0xef, 0xbb, 0xbf]);
            "a byte-order mark prepended".into()
        }
    }
}

/// The position of a random number or string value (after a `:` ), or 0.
fn find_value_start(text: &[u8], rng: &mut Rng) -> usize {
    let colons: Vec<usize> = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b':')
        .map(|(i, _)| i + 1)
        .collect();
    if colons.is_empty() {
        0
    } else {
        *rng.pick(&colons)
    }
}

/// Replaces the scalar starting at `i` (after spaces) with `with`.
fn splice_value(text: &mut Vec<u8>, i: usize, with: &[u8]) {
    let mut start = i;
    while start < text.len() && text[start] == b' ' {
        start += 1;
    }
    let mut end = start;
    if end < text.len() && text[end] == b'"' {
        end += 1;
        while end < text.len() && text[end] != b'"' {
            end += if text[end] == b'\\' { 2 } else { 1 };
        }
        end = (end + 1).min(text.len());
    } else {
        while end < text.len() && !matches!(text[end], b',' | b'}' | b']' | b'\n') {
            end += 1;
        }
    }
    text.splice(start..end, with.iter().copied());
}

/// Shrinks `doc` while `fails` still holds: removes keys and array elements, outermost first
/// (a whole array's tail at once, then one element at a time), and replaces containers by
/// their single child. At most `budget` calls of `fails`.
pub fn reduce(doc: &Value, budget: &mut usize, fails: &mut dyn FnMut(&Value) -> bool) -> Value {
    let mut doc = doc.clone();
    let mut changed = true;
    while changed && *budget > 0 {
        changed = false;
        let mut all = Vec::new();
        paths_under(&doc, &Vec::new(), &mut all);
        // Shallow paths first: removing a big subtree saves the most.
        all.sort_by_key(|p| p.len());
        for path in all {
            if *budget == 0 {
                break;
            }
            if get(&doc, &path).is_none() {
                continue;
            }
            let mut candidate = doc.clone();
            if !remove(&mut candidate, &path) {
                continue;
            }
            *budget -= 1;
            if fails(&candidate) {
                doc = candidate;
                changed = true;
            }
        }
    }
    doc
}

/// An object of the given pairs (keeps order).
pub fn object(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// Runs a mutation step on `doc`. A step that trips over what an earlier step left (indexing
/// into a value that is no longer an object or an array panics in `serde_json`) is undone and
/// counts as not applied, so every plan still gives an input.
pub fn guarded_step(
    doc: &mut Value,
    step: impl FnOnce(&mut Value) -> Option<String>,
) -> Option<String> {
    let before = doc.clone();
    match crate::panics::catch(|| step(doc)) {
        Ok(m) => m,
        Err(_) => {
            *doc = before;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_reach_every_value() {
        let v = json!({"a": [1, {"b": 2}], "c": 3});
        let mut out = Vec::new();
        paths_under(&v, &Vec::new(), &mut out);
        let shown: Vec<String> = out.iter().map(|p| describe(p)).collect();
        assert_eq!(shown, ["a", "a[0]", "a[1]", "a[1].b", "c"]);
        let mut w = v.clone();
        assert!(remove(&mut w, &out[3]));
        assert_eq!(w, json!({"a": [1, {}], "c": 3}));
    }

    #[test]
    fn reduce_keeps_what_fails() {
        let v = json!({"keep": {"x": 1, "y": [1, 2, 3]}, "drop": [4, 5]});
        let mut budget = 1000;
        let r = reduce(&v, &mut budget, &mut |d| {
            get(d, &[Step::Key("keep".into()), Step::Key("x".into())]).is_some()
        });
        assert_eq!(r, json!({"keep": {"x": 1}}));
    }
}
