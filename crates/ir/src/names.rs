//! Names taken from a model, made safe to print.

/// `name` with every character that could change what a terminal shows replaced by a
/// `\u{..}` escape (lower-case hex, as Rust writes them): control characters (C0 including
/// tab and newline, DEL, C1), the Unicode line and paragraph separators, and the
/// bidirectional-text controls (embeddings, overrides, isolates, marks). Everything else,
/// other non-ASCII text included, is kept as is, so ordinary names print unchanged.
///
/// Node, tensor and input names come from the model file; print them through this (every
/// front-end error and every table does). Backslashes are not escaped, so a
/// name that already contains the text `\u{1b}` prints like one holding an escape character.
pub fn display_name(name: &str) -> String {
    if !name.chars().any(needs_escape) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' // line and paragraph separators
                | '\u{061c}' | '\u{200e}' | '\u{200f}' // bidi marks
                | '\u{202a}'..='\u{202e}' // embeddings and overrides
                | '\u{2066}'..='\u{2069}' // isolates
        )
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn escapes() {
        assert_eq!(display_name("plain/name.0"), "plain/name.0");
        assert_eq!(display_name("a\u{1b}b"), "a\\u{1b}b");
        assert_eq!(display_name("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(display_name("é"), "é");
    }
}
