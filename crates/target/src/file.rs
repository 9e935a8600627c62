//! The on-disk target format (TOML) and its conversion to a validated [`Target`].

use crate::TargetError;
use crate::limits;
use crate::model::{
    ActivationEnergy, Level, Macro, Precision, Replication, SpatialAxis, Target, WeightStorage,
};
use crate::units::Capacity;
use crate::vocab::{Dim, Operand, OperandSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub cores: u64,
    pub leakage_nj_per_cycle: f64,
    /// Elements per cycle per core of the vector unit that runs non-CIM operators; absent: no
    /// vector-unit estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_lanes: Option<u64>,
    #[serde(rename = "macro")]
    pub macro_: MacroFile,
    pub levels: Vec<LevelFile>,
    pub spatial: SpatialFile,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacroFile {
    pub rows: u64,
    pub cols: u64,
    pub compartment_depth: u64,
    #[serde(default)]
    pub ping_pong: bool,
    #[serde(default = "one")]
    pub input_bits_per_cycle: u64,
    /// Absent: only `precision.weight_bits`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_bits_supported: Option<Vec<u64>>,
    /// `"packed"` or `"padded"`; absent: packed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_storage: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pad_unsupported_weights: bool,
    pub precision: PrecisionFile,
    pub activation_energy: ActivationFile,
}

fn one() -> u64 {
    1
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrecisionFile {
    pub input_bits: u64,
    pub weight_bits: u64,
    pub psum_bits: u64,
    pub output_bits: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nj: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mult_1b_pj: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adder_1b_pj: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reg_1b_pj: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelFile {
    pub name: String,
    pub holds: Vec<String>,
    pub capacity: Capacity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_bits_per_cycle: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_bandwidth_bits_per_cycle: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_bandwidth_bits_per_cycle: Option<u64>,
    pub read_energy_pj_per_bit: f64,
    pub write_energy_pj_per_bit: f64,
    pub replication: String,
    #[serde(default)]
    pub double_buffer: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpatialFile {
    pub cores: AxisFile,
    pub rows: AxisFile,
    pub cols: AxisFile,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisFile {
    pub dims: Vec<String>,
    /// Level each operand fans out from, by operand name.
    pub source: BTreeMap<String, String>,
}

fn err(key: impl Into<String>, reason: impl Into<String>) -> TargetError {
    TargetError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

fn operands(key: &str, names: &[String]) -> Result<OperandSet, TargetError> {
    let mut set = OperandSet::NONE;
    for n in names {
        let o: Operand = n.parse().map_err(|e: String| err(key, e))?;
        if set.contains(o) {
            return Err(err(key, format!("operand {o} listed twice")));
        }
        set.0[o.index()] = true;
    }
    Ok(set)
}

fn positive(key: &str, v: u64) -> Result<u64, TargetError> {
    if v == 0 {
        Err(err(key, "must be > 0"))
    } else {
        Ok(v)
    }
}

/// `v` in `1..=max`, or an error naming the key and the limit.
fn within(key: &str, v: u64, max: u64) -> Result<u64, TargetError> {
    positive(key, v)?;
    if v > max {
        Err(err(key, format!("{v} is more than the limit {max}")))
    } else {
        Ok(v)
    }
}

fn energy(key: &str, v: f64) -> Result<f64, TargetError> {
    if !(v.is_finite() && v >= 0.0) {
        Err(err(key, format!("must be a finite energy >= 0, got {v}")))
    } else if v > limits::MAX_ENERGY {
        Err(err(
            key,
            format!("{v:e} is more than the limit {:e}", limits::MAX_ENERGY),
        ))
    } else {
        Ok(v)
    }
}

impl TargetFile {
    /// Converts and validates; every error names the key and the reason.
    pub fn resolve(&self) -> Result<Target, TargetError> {
        if self.name.trim().is_empty() {
            return Err(err("name", "must not be empty"));
        }
        let cores = within("cores", self.cores, limits::MAX_AXIS_SIZE)?;
        let leakage = energy("leakage_nj_per_cycle", self.leakage_nj_per_cycle)?;
        let m = &self.macro_;
        let precision = Precision {
            input: within(
                "macro.precision.input_bits",
                m.precision.input_bits,
                limits::MAX_PRECISION_BITS,
            )?,
            weight: within(
                "macro.precision.weight_bits",
                m.precision.weight_bits,
                limits::MAX_PRECISION_BITS,
            )?,
            psum: within(
                "macro.precision.psum_bits",
                m.precision.psum_bits,
                limits::MAX_PRECISION_BITS,
            )?,
            output: within(
                "macro.precision.output_bits",
                m.precision.output_bits,
                limits::MAX_PRECISION_BITS,
            )?,
        };
        let a = &m.activation_energy;
        let activation = match (a.nj, a.mult_1b_pj, a.adder_1b_pj, a.reg_1b_pj) {
            (Some(nj), None, None, None) => ActivationEnergy::Explicit {
                nj: energy("macro.activation_energy.nj", nj)?,
            },
            (None, Some(mult), Some(adder), Some(reg)) => ActivationEnergy::FromLogic {
                mult_1b_pj: energy("macro.activation_energy.mult_1b_pj", mult)?,
                adder_1b_pj: energy("macro.activation_energy.adder_1b_pj", adder)?,
                reg_1b_pj: energy("macro.activation_energy.reg_1b_pj", reg)?,
            },
            _ => {
                return Err(err(
                    "macro.activation_energy",
                    "give either `nj` alone, or all of `mult_1b_pj`, `adder_1b_pj` and `reg_1b_pj`",
                ));
            }
        };
        let native = precision.weight;
        let mut weight_bits_supported = m.weight_bits_supported.clone().unwrap_or(vec![native]);
        weight_bits_supported.sort_unstable();
        let key = "macro.weight_bits_supported";
        if let Some(w) = weight_bits_supported.windows(2).find(|w| w[0] == w[1]) {
            return Err(err(key, format!("{} listed twice", w[0])));
        }
        if let Some(&b) = weight_bits_supported
            .iter()
            .find(|&&b| b == 0 || b > native)
        {
            return Err(err(
                key,
                format!(
                    "{b} is not a width in 1..={native}: the cells hold at most macro.precision.weight_bits = {native} bits per weight"
                ),
            ));
        }
        if !weight_bits_supported.contains(&native) {
            return Err(err(
                key,
                format!(
                    "must include the native width macro.precision.weight_bits = {native} (got {weight_bits_supported:?})"
                ),
            ));
        }
        let weight_storage = match m.weight_storage.as_deref() {
            None | Some("packed") => WeightStorage::Packed,
            Some("padded") => WeightStorage::Padded,
            Some(other) => {
                return Err(err(
                    "macro.weight_storage",
                    format!("`{other}`: expected \"packed\" or \"padded\""),
                ));
            }
        };
        let macro_ = Macro {
            rows: within("macro.rows", m.rows, limits::MAX_AXIS_SIZE)?,
            cols: within("macro.cols", m.cols, limits::MAX_AXIS_SIZE)?,
            compartment_depth: within(
                "macro.compartment_depth",
                m.compartment_depth,
                limits::MAX_COMPARTMENT_DEPTH,
            )?,
            ping_pong: m.ping_pong,
            input_bits_per_cycle: positive("macro.input_bits_per_cycle", m.input_bits_per_cycle)?,
            precision,
            weight_bits_supported,
            weight_storage,
            pad_unsupported_weights: m.pad_unsupported_weights,
            activation,
        };
        if macro_.input_bits_per_cycle > precision.input {
            return Err(err(
                "macro.input_bits_per_cycle",
                "must not exceed macro.precision.input_bits",
            ));
        }

        if self.levels.is_empty() {
            return Err(err("levels", "at least one memory level is needed"));
        }
        if self.levels.len() > limits::MAX_LEVELS {
            return Err(err(
                "levels",
                format!(
                    "{} levels are more than the limit {}",
                    self.levels.len(),
                    limits::MAX_LEVELS
                ),
            ));
        }
        let mut levels = Vec::new();
        for (i, l) in self.levels.iter().enumerate() {
            let key = |f: &str| format!("levels[{i}].{f}");
            if l.name.trim().is_empty() {
                return Err(err(key("name"), "must not be empty"));
            }
            if levels
                .iter()
                .any(|x: &Level| x.name.eq_ignore_ascii_case(&l.name))
            {
                return Err(err(key("name"), format!("`{}` names two levels", l.name)));
            }
            let holds = operands(&key("holds"), &l.holds)?;
            if holds.is_empty() {
                return Err(err(key("holds"), "a level must hold at least one operand"));
            }
            let double_buffer = operands(&key("double_buffer"), &l.double_buffer)?;
            if let Some(o) = double_buffer.iter().find(|&o| !holds.contains(o)) {
                return Err(err(
                    key("double_buffer"),
                    format!("operand {o} is not held by this level"),
                ));
            }
            let capacity_bits = l.capacity.bits().map_err(|e| err(key("capacity"), e))?;
            within(&key("capacity"), capacity_bits, limits::MAX_CAPACITY_BITS)?;
            let (read_bw, write_bw) = match (
                l.bandwidth_bits_per_cycle,
                l.read_bandwidth_bits_per_cycle,
                l.write_bandwidth_bits_per_cycle,
            ) {
                (Some(b), None, None) => (b, b),
                (None, Some(r), Some(w)) => (r, w),
                (Some(b), Some(r), None) => (r, b),
                (Some(b), None, Some(w)) => (b, w),
                (None, Some(_), None) | (None, None, Some(_)) => {
                    return Err(err(
                        key("bandwidth_bits_per_cycle"),
                        "give both read and write bandwidths, or `bandwidth_bits_per_cycle`",
                    ));
                }
                (None, None, None) => return Err(err(key("bandwidth_bits_per_cycle"), "missing")),
                (Some(_), Some(_), Some(_)) => {
                    return Err(err(
                        key("bandwidth_bits_per_cycle"),
                        "give it, or the read and write bandwidths, not all three",
                    ));
                }
            };
            let replication = match l.replication.as_str() {
                "shared" => Replication::Shared,
                "per_core" => Replication::PerCore,
                other => {
                    return Err(err(
                        key("replication"),
                        format!("`{other}`: expected \"shared\" or \"per_core\""),
                    ));
                }
            };
            levels.push(Level {
                name: l.name.clone(),
                holds,
                capacity_bits,
                read_bw: within(
                    &key("read_bandwidth_bits_per_cycle"),
                    read_bw,
                    limits::MAX_BANDWIDTH,
                )?,
                write_bw: within(
                    &key("write_bandwidth_bits_per_cycle"),
                    write_bw,
                    limits::MAX_BANDWIDTH,
                )?,
                read_pj_per_bit: energy(&key("read_energy_pj_per_bit"), l.read_energy_pj_per_bit)?,
                write_pj_per_bit: energy(
                    &key("write_energy_pj_per_bit"),
                    l.write_energy_pj_per_bit,
                )?,
                replication,
                double_buffer,
            });
        }

        let level_index = |key: &str, name: &str| -> Result<usize, TargetError> {
            levels
                .iter()
                .position(|l| l.name == name)
                .ok_or_else(|| err(key, format!("no level named `{name}`")))
        };
        let mut axes = Vec::new();
        for (axis_name, a, size) in [
            ("cores", &self.spatial.cores, cores),
            ("rows", &self.spatial.rows, macro_.rows),
            ("cols", &self.spatial.cols, macro_.cols),
        ] {
            let key = |f: &str| format!("spatial.{axis_name}.{f}");
            let mut dims = Vec::new();
            for d in &a.dims {
                let d: Dim = d.parse().map_err(|e: String| err(key("dims"), e))?;
                if dims.contains(&d) {
                    return Err(err(key("dims"), format!("{d} listed twice")));
                }
                dims.push(d);
            }
            let mut source = [0usize; 3];
            for o in Operand::ALL {
                let name = a.source.get(o.name()).ok_or_else(|| {
                    err(
                        key("source"),
                        format!("missing the level operand {o} fans out from"),
                    )
                })?;
                let k = format!("spatial.{axis_name}.source.{o}");
                let l = level_index(&k, name)?;
                if !levels[l].holds.contains(o) {
                    return Err(err(k, format!("level `{name}` does not hold {o}")));
                }
                source[o.index()] = l;
            }
            if let Some(extra) = a.source.keys().find(|k| k.parse::<Operand>().is_err()) {
                return Err(err(key("source"), format!("`{extra}` is not an operand")));
            }
            axes.push(SpatialAxis {
                name: axis_name.to_string(),
                size,
                dims,
                source,
            });
        }

        let target = Target {
            name: self.name.clone(),
            description: self.description.clone(),
            cores,
            leakage_nj_per_cycle: leakage,
            vector_lanes: match self.vector_lanes {
                Some(v) => Some(within("vector_lanes", v, limits::MAX_VECTOR_LANES)?),
                None => None,
            },
            macro_,
            levels,
            axes: axes.try_into().expect("three axes"),
        };
        target.check_consistency()?;
        Ok(target)
    }
}

impl Target {
    /// The file form of this target (inverse of [`TargetFile::resolve`]).
    pub fn to_file(&self) -> TargetFile {
        let names = |s: OperandSet| s.iter().map(|o| o.name().to_string()).collect::<Vec<_>>();
        let axis = |a: &SpatialAxis| AxisFile {
            dims: a.dims.iter().map(|d| d.name().to_string()).collect(),
            source: Operand::ALL
                .iter()
                .map(|o| {
                    (
                        o.name().to_string(),
                        self.levels[a.source[o.index()]].name.clone(),
                    )
                })
                .collect(),
        };
        let m = &self.macro_;
        TargetFile {
            name: self.name.clone(),
            description: self.description.clone(),
            cores: self.cores,
            leakage_nj_per_cycle: self.leakage_nj_per_cycle,
            vector_lanes: self.vector_lanes,
            macro_: MacroFile {
                rows: m.rows,
                cols: m.cols,
                compartment_depth: m.compartment_depth,
                ping_pong: m.ping_pong,
                input_bits_per_cycle: m.input_bits_per_cycle,
                // Written only where they say more than a target without them: older target
                // files and the schedules that embed them stay as they were.
                weight_bits_supported: (m.weight_bits_supported != [m.precision.weight])
                    .then(|| m.weight_bits_supported.clone()),
                weight_storage: (m.weight_storage != WeightStorage::Packed)
                    .then(|| m.weight_storage.name().to_string()),
                pad_unsupported_weights: m.pad_unsupported_weights,
                precision: PrecisionFile {
                    input_bits: m.precision.input,
                    weight_bits: m.precision.weight,
                    psum_bits: m.precision.psum,
                    output_bits: m.precision.output,
                },
                activation_energy: match m.activation {
                    ActivationEnergy::Explicit { nj } => ActivationFile {
                        nj: Some(nj),
                        mult_1b_pj: None,
                        adder_1b_pj: None,
                        reg_1b_pj: None,
                    },
                    ActivationEnergy::FromLogic {
                        mult_1b_pj,
                        adder_1b_pj,
                        reg_1b_pj,
                    } => ActivationFile {
                        nj: None,
                        mult_1b_pj: Some(mult_1b_pj),
                        adder_1b_pj: Some(adder_1b_pj),
                        reg_1b_pj: Some(reg_1b_pj),
                    },
                },
            },
            levels: self
                .levels
                .iter()
                .map(|l| LevelFile {
                    name: l.name.clone(),
                    holds: names(l.holds),
                    capacity: Capacity::Text(crate::units::format_capacity(l.capacity_bits)),
                    bandwidth_bits_per_cycle: (l.read_bw == l.write_bw).then_some(l.read_bw),
                    read_bandwidth_bits_per_cycle: (l.read_bw != l.write_bw).then_some(l.read_bw),
                    write_bandwidth_bits_per_cycle: (l.read_bw != l.write_bw).then_some(l.write_bw),
                    read_energy_pj_per_bit: l.read_pj_per_bit,
                    write_energy_pj_per_bit: l.write_pj_per_bit,
                    replication: match l.replication {
                        Replication::Shared => "shared".into(),
                        Replication::PerCore => "per_core".into(),
                    },
                    double_buffer: names(l.double_buffer),
                })
                .collect(),
            spatial: SpatialFile {
                cores: axis(&self.axes[0]),
                rows: axis(&self.axes[1]),
                cols: axis(&self.axes[2]),
            },
        }
    }
}
