//! Content hashes recorded in `inputs`.

use cimopt_target::Target;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    out
}

/// SHA-256 of the canonical JSON of the target's file form ([`Target::to_file`]): object keys
/// sorted, no whitespace, numbers in serde_json's shortest round-trip form. Two targets hash
/// equal exactly when they resolve to the same model, however their files were spelled.
pub fn target_sha256(t: &Target) -> String {
    let value = serde_json::to_value(t.to_file()).unwrap_or(Value::Null);
    sha256_hex(canonical_json(&value).as_bytes())
}

/// Compact JSON with every object's keys sorted (byte order of their UTF-8).
pub(crate) fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_inputs() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_recursively() {
        let v: Value =
            serde_json::from_str(r#"{"b": [1, {"z": 1.5, "a": "x"}], "a": null}"#).unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"{"a":null,"b":[1,{"a":"x","z":1.5}]}"#
        );
    }

    #[test]
    fn target_hash_ignores_spelling_but_not_content() {
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let respelled = cimopt_target::load(
            "default",
            &["levels.oreg.capacity=16".to_string()], // "16bit" spelled as a plain integer
        )
        .unwrap()
        .target;
        assert_eq!(target_sha256(&t), target_sha256(&respelled));
        let changed = cimopt_target::load("default", &["cores=16".to_string()])
            .unwrap()
            .target;
        assert_ne!(target_sha256(&t), target_sha256(&changed));
        assert_eq!(target_sha256(&t).len(), 64);
    }
}
