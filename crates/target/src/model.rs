//! The validated accelerator model every later stage reads.

use crate::TargetError;
use crate::vocab::{Axis, Operand, OperandSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    /// One instance shared by all cores.
    Shared,
    /// One instance per core (and per fan-out instance below it).
    PerCore,
}

/// One memory level. Level 0 is the outermost (DRAM); indices grow inwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    pub name: String,
    pub holds: OperandSet,
    pub capacity_bits: u64,
    /// bits/cycle
    pub read_bw: u64,
    /// bits/cycle
    pub write_bw: u64,
    pub read_pj_per_bit: f64,
    pub write_pj_per_bit: f64,
    pub replication: Replication,
    /// Operands this level may double-buffer.
    pub double_buffer: OperandSet,
}

/// Bits per element of each operand: the target's own (`macro.precision`), or the ones one
/// layer runs at (`cimopt_ir::analysis::layer_precision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precision {
    pub input: u64,
    pub weight: u64,
    pub psum: u64,
    pub output: u64,
}

impl Precision {
    /// Bits per element of `o`; `psum` selects partial-sum precision for O.
    pub fn bits(&self, o: Operand, psum: bool) -> u64 {
        match o {
            Operand::I => self.input,
            Operand::W => self.weight,
            Operand::O if psum => self.psum,
            Operand::O => self.output,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActivationEnergy {
    Explicit {
        nj: f64,
    },
    /// Derived from 1-bit logic energies with the reference's formula.
    FromLogic {
        mult_1b_pj: f64,
        adder_1b_pj: f64,
        reg_1b_pj: f64,
    },
}

/// How the macro's cells store a weight narrower than the native width
/// (`macro.precision.weight_bits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightStorage {
    /// `⌊native / bits⌋` weights share one native-width slot of a cell.
    Packed,
    /// One weight per native-width slot, the unused bits left empty.
    Padded,
}

impl WeightStorage {
    pub fn name(self) -> &'static str {
        match self {
            WeightStorage::Packed => "packed",
            WeightStorage::Padded => "padded",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Macro {
    /// Reduction axis (word lines), the reference's `dimX`.
    pub rows: u64,
    /// Output columns, the reference's `dimY`.
    pub cols: u64,
    /// Weights stored per cell (storage : compute).
    pub compartment_depth: u64,
    /// Whether weights can be loaded while the macro computes.
    pub ping_pong: bool,
    pub input_bits_per_cycle: u64,
    /// The target's precisions: what float layers run at; `weight` is the native width of a
    /// cell's weight slot, `input` the widest input the registers take, `psum` the
    /// accumulators'.
    pub precision: Precision,
    /// Weight widths the array computes at, ascending; the native width is one of them.
    pub weight_bits_supported: Vec<u64>,
    /// How a supported width below the native one is stored.
    pub weight_storage: WeightStorage,
    /// Whether a layer whose weight width the array does not compute at runs at the next
    /// wider supported width (its weights padded up) instead of being refused.
    pub pad_unsupported_weights: bool,
    pub activation: ActivationEnergy,
}

/// What a target says of one spatial axis ([`Axis`]): its size and which dims may be unrolled
/// on it, and where each operand fans out from.
#[derive(Clone, Debug, PartialEq)]
pub struct SpatialAxis {
    pub name: String,
    /// Derived from `cores`, `macro.rows` or `macro.cols`.
    pub size: u64,
    pub dims: Vec<crate::Dim>,
    /// Level index each operand fans out from, by [`Operand::index`].
    pub source: [usize; 3],
}

#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub name: String,
    pub description: Option<String>,
    pub cores: u64,
    pub leakage_nj_per_cycle: f64,
    /// Elements per cycle per core of the vector unit (non-CIM operators), when modelled.
    pub vector_lanes: Option<u64>,
    pub macro_: Macro,
    pub levels: Vec<Level>,
    /// `cores`, `rows`, `cols`, in that order.
    /// By [`Axis::index`].
    pub axes: [SpatialAxis; 3],
}

impl Target {
    pub fn axis(&self, a: Axis) -> &SpatialAxis {
        &self.axes[a.index()]
    }

    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }

    /// The pseudo-level index of the MAC array (one past the innermost memory level).
    pub fn compute_level(&self) -> usize {
        self.levels.len()
    }

    /// Levels that may hold `o`, outer to inner.
    pub fn levels_of(&self, o: Operand) -> Vec<usize> {
        (0..self.levels.len())
            .filter(|&l| self.levels[l].holds.contains(o))
            .collect()
    }

    /// The innermost level holding `o`: the input register, the macro, the output register.
    pub fn innermost(&self, o: Operand) -> usize {
        // The cost model asks this for every transfer it prices: no list built.
        (0..self.levels.len())
            .rev()
            .find(|&l| self.levels[l].holds.contains(o))
            .expect("validated: every operand has a level")
    }

    pub fn macro_level(&self) -> usize {
        self.innermost(Operand::W)
    }

    pub fn level_by_name(&self, name: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.name == name)
    }

    /// Cycles of one macro activation at the target's own precisions (what the presets'
    /// reference numbers are for); a layer's is [`Target::t_mac_at`] its precision.
    pub fn t_mac(&self) -> u64 {
        self.t_mac_at(&self.macro_.precision)
    }

    /// Cycles of one macro activation of a layer at precisions `p`: inputs are bit-serial,
    /// `input_bits_per_cycle` at a time.
    pub fn t_mac_at(&self, p: &Precision) -> u64 {
        p.input.div_ceil(self.macro_.input_bits_per_cycle)
    }

    /// Energy of one macro activation of one core at the target's own precisions, nJ; a
    /// layer's is [`Target::activation_energy_nj_at`] its precision.
    pub fn activation_energy_nj(&self) -> f64 {
        self.activation_energy_nj_at(&self.macro_.precision)
    }

    /// Energy of one macro activation of one core of a layer at precisions `p`, nJ (domain
    /// §1): the reference's formula at the layer's input and weight bits. An explicit `nj`
    /// is for the target's own precisions; bit-serial, it scales with the activation's cycles.
    pub fn activation_energy_nj_at(&self, p: &Precision) -> f64 {
        match self.macro_.activation {
            ActivationEnergy::Explicit { nj } => match self.t_mac_at(p) {
                t if t == self.t_mac() => nj,
                t => nj * t as f64 / self.t_mac() as f64,
            },
            ActivationEnergy::FromLogic {
                mult_1b_pj,
                adder_1b_pj,
                reg_1b_pj,
            } => {
                let (i, w) = (p.input as f64, p.weight as f64);
                let (x, y) = (self.macro_.rows as f64, self.macro_.cols as f64);
                let t = self.t_mac_at(p) as f64;
                let ib = self.macro_.input_bits_per_cycle as f64;
                let log2_ceil = |v: f64| v.log2().ceil();
                let array = mult_1b_pj * w * ib * x * y * t;
                let adder_tree = adder_1b_pj * (x * (i + 1.0) - (i + log2_ceil(i) + 1.0) * y) * t;
                let merge = (adder_1b_pj + reg_1b_pj) * (i + w + log2_ceil(x)) * t * y;
                (array + adder_tree + merge) * 1e-3
            }
        }
    }

    /// The width `bits`-bit weights run at on this macro: `bits` when the array computes at
    /// it, else (when `macro.pad_unsupported_weights`) the narrowest wider supported width;
    /// `None` when the macro cannot run them.
    pub fn weight_bits_run(&self, bits: u64) -> Option<u64> {
        let m = &self.macro_;
        if m.weight_bits_supported.contains(&bits) {
            return Some(bits);
        }
        if !m.pad_unsupported_weights {
            return None;
        }
        m.weight_bits_supported.iter().copied().find(|&s| s > bits)
    }

    /// Bits one `bits`-bit weight occupies in the macro's cells (domain §1): the native width
    /// when padded; packed, the share of a native slot it gets (`native / ⌊native / bits⌋`:
    /// 4 bits of an 8-bit slot, but 8 for a 5-bit weight, which has a slot to itself).
    pub fn weight_cell_bits(&self, bits: u64) -> u64 {
        let native = self.macro_.precision.weight;
        // A width of 0 is no width (cimopt_ir::check refuses it); it must not divide by zero.
        if bits == 0 || bits >= native {
            return bits;
        }
        match self.macro_.weight_storage {
            WeightStorage::Padded => native,
            WeightStorage::Packed => native / (native / bits),
        }
    }

    /// Whether `(level, o)` may be double-buffered. The macro's weight store is double-buffered
    /// exactly when the macro is ping-pong.
    pub fn may_double_buffer(&self, level: usize, o: Operand) -> bool {
        if level == self.macro_level() && o == Operand::W {
            return self.macro_.ping_pong;
        }
        self.levels[level].double_buffer.contains(o)
    }

    /// Peak MACs per activation over all cores.
    pub fn peak_macs_per_activation(&self) -> u64 {
        self.cores * self.macro_.rows * self.macro_.cols
    }

    pub(crate) fn check_consistency(&self) -> Result<(), TargetError> {
        let err = |key: String, reason: String| Err(TargetError::Invalid { key, reason });
        let outer = &self.levels[0];
        for o in Operand::ALL {
            if !outer.holds.contains(o) {
                return err(
                    "levels[0].holds".into(),
                    format!(
                        "the outermost level `{}` must hold every operand; it lacks {o}",
                        outer.name
                    ),
                );
            }
            if self.levels_of(o).len() < 2 {
                return err(
                    "levels".into(),
                    format!(
                        "operand {o} needs a path of at least two levels (outermost level to the macro)"
                    ),
                );
            }
        }
        let macro_level = self.macro_level();
        let expected = self
            .macro_
            .compartment_depth
            .saturating_mul(self.macro_.precision.weight);
        if self.levels[macro_level].capacity_bits != expected {
            return err(
                format!("levels[{macro_level}].capacity"),
                format!(
                    "the macro level `{}` holds {} bits per cell, but compartment_depth × weight bits = {} × {} = {expected}",
                    self.levels[macro_level].name,
                    self.levels[macro_level].capacity_bits,
                    self.macro_.compartment_depth,
                    self.macro_.precision.weight
                ),
            );
        }
        if self.levels[macro_level].double_buffer.contains(Operand::W) && !self.macro_.ping_pong {
            return err(
                format!("levels[{macro_level}].double_buffer"),
                "the macro can double-buffer weights only when macro.ping_pong = true".into(),
            );
        }
        for (l, level) in self.levels.iter().enumerate() {
            if l > 0
                && level.replication == Replication::Shared
                && self.levels[..l]
                    .iter()
                    .any(|p| p.replication == Replication::PerCore)
            {
                return err(
                    format!("levels[{l}].replication"),
                    format!(
                        "a shared level (`{}`) cannot sit inside a per-core level",
                        level.name
                    ),
                );
            }
        }
        Ok(())
    }
}
