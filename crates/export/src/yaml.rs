//! The little YAML the Timeloop export writes: block mappings and sequences with flow
//! sequences and scalars. Strings are written double-quoted in JSON's escaping, which YAML
//! reads the same.

use std::fmt::Write;

/// A double-quoted YAML (and JSON) string.
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// A plain name when it is safe unquoted in YAML (letters, digits, `_`, `-`, `.` and not a
/// word YAML reads as something else), else quoted.
pub(crate) fn name(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain { s.to_string() } else { quote(s) }
}

/// A number the way YAML and JSON both read it: integers plainly, other values in Rust's
/// shortest round-trip form (with a fraction or exponent).
pub(crate) fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:?}");
        s
    }
}

/// A flow sequence of already formatted items.
pub(crate) fn flow(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// Comment lines, each prefixed with `# `.
pub(crate) fn comments(out: &mut String, indent: usize, lines: &[String]) {
    for line in lines {
        for l in line.lines() {
            let _ = writeln!(out, "{:indent$}# {l}", "");
        }
    }
}
