//! Quantities with units in target files: capacities are bits unless a unit says otherwise.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A capacity as written in a target file: a plain integer (bits) or a string with a unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Capacity {
    Bits(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for Capacity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Capacity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a capacity: a whole number of bits (2097152) or a string with a unit (\"256KiB\", \"16Kibit\")",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Capacity, E> {
                Ok(Capacity::Bits(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Capacity, E> {
                u64::try_from(v)
                    .map(Capacity::Bits)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Capacity, E> {
                Ok(Capacity::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Capacity {
    /// The capacity in bits. Accepted units: `bit`/`bits`, `Kibit`/`Mibit`/`Gibit`,
    /// `B`/`bytes`, `KiB`/`MiB`/`GiB`. Decimal-prefixed and ambiguous spellings (`kb`, `MB`)
    /// are refused rather than guessed.
    pub fn bits(&self) -> Result<u64, String> {
        match self {
            Capacity::Bits(b) => Ok(*b),
            Capacity::Text(t) => parse_capacity(t),
        }
    }
}

pub fn parse_capacity(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: u64 = num.replace('_', "").parse().map_err(|_| {
        format!("`{text}` is not a capacity (write e.g. 2097152, \"256KiB\" or \"16Kibit\")")
    })?;
    let factor: u64 = match unit.trim() {
        "" | "bit" | "bits" | "b" => 1,
        "Kibit" => 1 << 10,
        "Mibit" => 1 << 20,
        "Gibit" => 1 << 30,
        "B" | "byte" | "bytes" => 8,
        "KiB" => 8 << 10,
        "MiB" => 8 << 20,
        "GiB" => 8 << 30,
        other => {
            return Err(format!(
                "unknown or ambiguous capacity unit `{other}` in `{text}` (use bits, Kibit, Mibit, Gibit, B, KiB, MiB or GiB)"
            ));
        }
    };
    num.checked_mul(factor)
        .ok_or_else(|| format!("`{text}` overflows 64 bits"))
}

/// The most readable exact spelling of a bit count, for printing target files.
pub fn format_capacity(bits: u64) -> String {
    if bits.is_multiple_of(8) {
        let bytes = bits / 8;
        for (unit, scale) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if bytes >= scale && bytes.is_multiple_of(scale) {
                return format!("{}{unit}", bytes / scale);
            }
        }
    }
    format!("{bits}bit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_parse_with_units() {
        assert_eq!(parse_capacity("256KiB").unwrap(), 2_097_152);
        assert_eq!(parse_capacity("16Kibit").unwrap(), 16_384);
        assert_eq!(parse_capacity("64").unwrap(), 64);
        assert_eq!(parse_capacity("8 bits").unwrap(), 8);
        assert_eq!(parse_capacity("1GiB").unwrap(), 8_589_934_592);
        assert!(parse_capacity("256KB").is_err());
        assert!(parse_capacity("lots").is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for bits in [
            64u64,
            16,
            8,
            65_536,
            131_072,
            2_097_152,
            8_589_934_592,
            12_345,
        ] {
            assert_eq!(parse_capacity(&format_capacity(bits)).unwrap(), bits);
        }
        assert_eq!(format_capacity(2_097_152), "256KiB");
    }
}
