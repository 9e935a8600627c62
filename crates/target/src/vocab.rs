//! The words every stage shares: loop dimensions and operands.

use std::fmt;
use std::str::FromStr;

/// A loop dimension of a layer's loop nest.
///
/// `B` (batch) is a loop of its own rather than folded into `P`, so that a batch-2 model keeps
/// its weights reusable across images; with `B = 1` it disappears from every mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    R,
    S,
    P,
    Q,
    C,
    K,
    G,
    B,
}

impl Dim {
    pub const ALL: [Dim; 8] = [
        Dim::R,
        Dim::S,
        Dim::P,
        Dim::Q,
        Dim::C,
        Dim::K,
        Dim::G,
        Dim::B,
    ];

    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Dim::R => "R",
            Dim::S => "S",
            Dim::P => "P",
            Dim::Q => "Q",
            Dim::C => "C",
            Dim::K => "K",
            Dim::G => "G",
            Dim::B => "B",
        }
    }

    /// Whether the data of `operand` depends on this dimension (domain §2).
    pub fn relevant_to(self, operand: Operand) -> bool {
        use Dim::*;
        match operand {
            Operand::I => matches!(self, R | S | P | Q | C | G | B),
            Operand::W => matches!(self, R | S | C | K | G),
            Operand::O => matches!(self, P | Q | K | G | B),
        }
    }

    /// Reduction dimensions: a loop over one of these accumulates into the same output.
    pub fn is_reduction(self) -> bool {
        !self.relevant_to(Operand::O)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dim {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dim::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown loop dimension `{s}` (expected one of R S P Q C K G B)")
            })
    }
}

/// One of the three spatial axes a mapping unrolls dims onto: the cores, the macro's rows (the
/// reduction axis, word lines) and the macro's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Axis {
    Cores,
    Rows,
    Cols,
}

impl Axis {
    pub const ALL: [Axis; 3] = [Axis::Cores, Axis::Rows, Axis::Cols];

    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The axis's name in target files and schedules.
    pub fn name(self) -> &'static str {
        match self {
            Axis::Cores => "cores",
            Axis::Rows => "rows",
            Axis::Cols => "cols",
        }
    }
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One of the three tensors of a layer: input activations, weights, outputs (partial sums).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operand {
    I,
    W,
    O,
}

impl Operand {
    pub const ALL: [Operand; 3] = [Operand::I, Operand::W, Operand::O];

    // The indices are inlined across crates: our crates build at opt-level 1, which does not
    // inline them unasked, and the calls took 15 % of a certifying compile (ResNet-18 /
    // `default`, `--certify 2000`: 13.0 → 10.9 s).
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Operand::I => "I",
            Operand::W => "W",
            Operand::O => "O",
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Operand {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "I" | "i" => Ok(Operand::I),
            "W" | "w" => Ok(Operand::W),
            "O" | "o" => Ok(Operand::O),
            _ => Err(format!("unknown operand `{s}` (expected I, W or O)")),
        }
    }
}

/// A set of operands, e.g. the operands a memory level may hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OperandSet(pub [bool; 3]);

impl OperandSet {
    pub const NONE: OperandSet = OperandSet([false; 3]);
    pub const ALL: OperandSet = OperandSet([true; 3]);

    pub fn of(ops: &[Operand]) -> Self {
        let mut s = Self::NONE;
        for &o in ops {
            s.0[o.index()] = true;
        }
        s
    }
    pub fn contains(self, o: Operand) -> bool {
        self.0[o.index()]
    }
    pub fn iter(self) -> impl Iterator<Item = Operand> {
        Operand::ALL.into_iter().filter(move |&o| self.contains(o))
    }
    pub fn is_empty(self) -> bool {
        self.0.iter().all(|b| !b)
    }
    pub fn len(self) -> usize {
        self.0.iter().filter(|b| **b).count()
    }
}

impl fmt::Display for OperandSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Operand::name).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevance_matches_the_spec() {
        let rel = |o| {
            Dim::ALL
                .iter()
                .filter(|d| d.relevant_to(o))
                .map(|d| d.name())
                .collect::<String>()
        };
        assert_eq!(rel(Operand::I), "RSPQCGB");
        assert_eq!(rel(Operand::W), "RSCKG");
        assert_eq!(rel(Operand::O), "PQKGB");
    }

    #[test]
    fn names_round_trip() {
        for d in Dim::ALL {
            assert_eq!(d.name().parse::<Dim>().unwrap(), d);
        }
        for o in Operand::ALL {
            assert_eq!(o.name().parse::<Operand>().unwrap(), o);
        }
        assert!("X".parse::<Dim>().is_err());
    }
}
