//! The parts a layer's latency and energy are made of, as typed data indexed by level. Only
//! the JSON names them with strings (the open `breakdown` vocabulary of the format), and only
//! here: [`Breakdown::to_keys`] and [`Breakdown::from_keys`].

use cimopt_target::{Operand, Target};
use std::collections::BTreeMap;

/// Latency by cause, cycles. `compute + mode_switch + mismatch + writeback + bootstrap` is the
/// cost model's latency; the simulator's also has `idle`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyParts {
    /// Macro activations × t_MAC.
    pub compute: f64,
    /// Exposed transfers into single-buffered levels.
    pub mode_switch: f64,
    /// Exposed transfers into double-buffered levels.
    pub mismatch: f64,
    /// Exposed output write-backs.
    pub writeback: f64,
    /// Whole-operand copies before the nest and the final output copy.
    pub bootstrap: f64,
    /// The simulator's time not explained by the causes above (absent in predictions).
    pub idle: Option<f64>,
    /// Transfer cycles per operand (by [`Operand::index`]), overlapped or not.
    pub transfer: [f64; 3],
}

/// What one memory level contributes, all operands and instances together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LevelParts {
    /// Read and write energy, nJ.
    pub energy_nj: Option<f64>,
    /// Bits read and written (the simulator counts them).
    pub bits_read: Option<f64>,
    pub bits_written: Option<f64>,
}

/// The relative error of a prediction against the simulation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PredictionError {
    pub latency: f64,
    pub energy: f64,
}

/// A layer's latency and energy by part.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Breakdown {
    pub latency: Option<LatencyParts>,
    /// By level index of the schedule's target; empty when no level part is known.
    pub levels: Vec<LevelParts>,
    /// Macro activations, nJ.
    pub mac_nj: Option<f64>,
    /// Leakage over the latency, nJ.
    pub leakage_nj: Option<f64>,
    /// Useful MACs over the peak of the activations (the simulator's).
    pub mac_utilisation: Option<f64>,
    /// Recorded with the simulated numbers when there was a prediction.
    pub prediction_error: Option<PredictionError>,
    /// Parts of other producers, or of a later format version, kept as they were read.
    pub other: BTreeMap<String, f64>,
}

const LATENCY: [&str; 5] = [
    "latency.compute_cycles",
    "latency.mode_switch_cycles",
    "latency.mismatch_cycles",
    "latency.writeback_cycles",
    "latency.bootstrap_cycles",
];
const IDLE: &str = "latency.idle_cycles";
const MAC: &str = "energy.mac_nj";
const LEAKAGE: &str = "energy.leakage_nj";
const UTILISATION: &str = "mac_utilisation";
const ERROR_LATENCY: &str = "prediction_error.latency";
const ERROR_ENERGY: &str = "prediction_error.energy";

fn transfer_key(o: Operand) -> String {
    format!("latency.transfer_{o}_cycles")
}

/// The keys of a level's parts. Since format 1.1 they live under `level.`, apart from the MAC
/// and leakage parts, so that no level name can collide with them.
fn level_keys(name: &str) -> [String; 3] {
    [
        format!("energy.level.{name}_nj"),
        format!("bits.level.{name}_read"),
        format!("bits.level.{name}_written"),
    ]
}

/// The 1.0 spelling of a level's keys (`energy.dram_nj`), read from older documents. It is
/// ambiguous for a level named `mac` or `leakage`, whose energy such a document cannot hold.
fn legacy_level_keys(name: &str) -> [String; 3] {
    [
        format!("energy.{name}_nj"),
        format!("bits.{name}_read"),
        format!("bits.{name}_written"),
    ]
}

impl Breakdown {
    /// The energy of level `lv`, nJ (0 when not known).
    pub fn level_energy_nj(&self, lv: usize) -> f64 {
        self.levels.get(lv).and_then(|l| l.energy_nj).unwrap_or(0.0)
    }

    /// The parts as the format's keys, for a schedule on `t` (whose level names they use).
    pub fn to_keys(&self, t: &Target) -> BTreeMap<String, f64> {
        let mut b = self.other.clone();
        if let Some(l) = &self.latency {
            let values = [
                l.compute,
                l.mode_switch,
                l.mismatch,
                l.writeback,
                l.bootstrap,
            ];
            for (k, v) in LATENCY.iter().zip(values) {
                b.insert(k.to_string(), v);
            }
            if let Some(idle) = l.idle {
                b.insert(IDLE.into(), idle);
            }
            for o in Operand::ALL {
                b.insert(transfer_key(o), l.transfer[o.index()]);
            }
        }
        for (lv, parts) in self.levels.iter().enumerate() {
            let Some(level) = t.levels.get(lv) else {
                continue;
            };
            let [energy, read, written] = level_keys(&level.name);
            for (k, v) in [
                (energy, parts.energy_nj),
                (read, parts.bits_read),
                (written, parts.bits_written),
            ] {
                if let Some(v) = v {
                    b.insert(k, v);
                }
            }
        }
        for (k, v) in [
            (MAC, self.mac_nj),
            (LEAKAGE, self.leakage_nj),
            (UTILISATION, self.mac_utilisation),
        ] {
            if let Some(v) = v {
                b.insert(k.into(), v);
            }
        }
        if let Some(e) = self.prediction_error {
            b.insert(ERROR_LATENCY.into(), e.latency);
            b.insert(ERROR_ENERGY.into(), e.energy);
        }
        b
    }

    /// The parts named by `keys` for a schedule on `t`; keys this version does not know stay
    /// in [`Breakdown::other`]. The latency parts are read only when all of them are given.
    pub fn from_keys(keys: &BTreeMap<String, f64>, t: &Target) -> Breakdown {
        let mut rest = keys.clone();
        let mut b = Breakdown::default();
        let latency_keys: Vec<String> = LATENCY
            .iter()
            .map(|k| k.to_string())
            .chain(Operand::ALL.map(transfer_key))
            .collect();
        if latency_keys.iter().all(|k| rest.contains_key(k)) {
            let mut take = |k: &str| rest.remove(k).unwrap_or(0.0);
            b.latency = Some(LatencyParts {
                compute: take(LATENCY[0]),
                mode_switch: take(LATENCY[1]),
                mismatch: take(LATENCY[2]),
                writeback: take(LATENCY[3]),
                bootstrap: take(LATENCY[4]),
                idle: None,
                transfer: Operand::ALL.map(|o| take(&transfer_key(o))),
            });
            if let Some(l) = &mut b.latency {
                l.idle = rest.remove(IDLE);
            }
        }
        b.mac_nj = rest.remove(MAC);
        b.leakage_nj = rest.remove(LEAKAGE);
        b.mac_utilisation = rest.remove(UTILISATION);
        if rest.contains_key(ERROR_LATENCY) && rest.contains_key(ERROR_ENERGY) {
            b.prediction_error = Some(PredictionError {
                latency: rest.remove(ERROR_LATENCY).unwrap_or(0.0),
                energy: rest.remove(ERROR_ENERGY).unwrap_or(0.0),
            });
        }
        let levels: Vec<LevelParts> = t
            .levels
            .iter()
            .map(|level| {
                let keys = level_keys(&level.name);
                let legacy = legacy_level_keys(&level.name);
                let mut take = |i: usize| rest.remove(&keys[i]).or_else(|| rest.remove(&legacy[i]));
                LevelParts {
                    energy_nj: take(0),
                    bits_read: take(1),
                    bits_written: take(2),
                }
            })
            .collect();
        if levels.iter().any(|l| *l != LevelParts::default()) {
            b.levels = levels;
        }
        b.other = rest;
        b
    }
}
