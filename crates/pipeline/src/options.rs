//! What a compile is asked to do: the mapper, the model objective, the solver's budgets, and
//! where its solve cache lives.

use crate::Error;
use cimopt_cost::Objective;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The HiGHS release `highs-sys` builds (recorded in schedules and cache keys).
pub const HIGHS_VERSION: &str = "highs-sys 1.16.0";

/// How each layer's mapping is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Mapper {
    /// The MILP optimiser on HiGHS (`cimopt-optimiser`, see docs/optimiser.md).
    #[default]
    Mip,
    /// The heuristic search of `cimopt-mappers`: seconds faster, the optimiser's warm start.
    Greedy,
    /// The canonical weight-stationary mapping.
    Ws,
    /// Brute force over the optimiser's space (small layers only).
    Exhaustive,
}

impl Mapper {
    pub const ALL: [Mapper; 4] = [Mapper::Mip, Mapper::Greedy, Mapper::Ws, Mapper::Exhaustive];

    /// The name users give and schedules record.
    pub fn name(self) -> &'static str {
        match self {
            Mapper::Mip => "mip",
            Mapper::Greedy => "greedy",
            Mapper::Ws => "ws",
            Mapper::Exhaustive => "exhaustive",
        }
    }

    /// Whether the mapper runs the optimiser's search (and so uses the solve cache, the
    /// model-EDP weight and the optimiser's options).
    pub fn is_optimiser(self) -> bool {
        matches!(self, Mapper::Mip | Mapper::Exhaustive)
    }
}

impl fmt::Display for Mapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mapper {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Mapper::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown mapper `{s}` (expected mip, greedy, ws or exhaustive)"))
    }
}

/// What the whole model's schedule minimises. Latency and energy add up over layers, so each
/// layer minimises the same; the model's EDP `(Σ E)·(Σ L)` does not split, and the optimisers
/// turn it into a per-layer [`Objective::Weighted`] (see [`crate::solve::layer_objective`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ModelObjective {
    Latency,
    Energy,
    #[default]
    Edp,
}

impl ModelObjective {
    pub const ALL: [ModelObjective; 3] = [
        ModelObjective::Latency,
        ModelObjective::Energy,
        ModelObjective::Edp,
    ];

    pub fn name(self) -> &'static str {
        self.layer_objective().name()
    }

    /// The same objective for one layer, before any model-level weighting.
    pub fn layer_objective(self) -> Objective {
        match self {
            ModelObjective::Latency => Objective::Latency,
            ModelObjective::Energy => Objective::Energy,
            ModelObjective::Edp => Objective::Edp,
        }
    }
}

impl fmt::Display for ModelObjective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelObjective {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelObjective::ALL
            .into_iter()
            .find(|o| o.name() == s)
            .ok_or_else(|| format!("unknown objective `{s}` (expected latency, energy or edp)"))
    }
}

/// Everything a compile is asked to do besides the model and the target.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileOptions {
    pub mapper: Mapper,
    pub objective: ModelObjective,
    /// Relative optimality gap at which the optimiser stops, in `[0, 1)`.
    pub gap: f64,
    /// Wall-clock limit per layer, seconds (optimiser); a safety net, solves end on the gap.
    pub time_limit_s: f64,
    /// The solve cache's folder; `None` reads and writes no cache.
    pub cache_dir: Option<PathBuf>,
    /// Record wall-clock times and cache hits in the schedule (its bytes then differ from run
    /// to run).
    pub timings: bool,
    /// Map the layers that can be mapped and list the others as skipped, instead of failing.
    pub keep_going: bool,
    /// Simulate every layer and record the simulated numbers.
    pub simulate: bool,
    /// Keep activations on chip between layers where that is better (the memory plan's
    /// residency); off maps every layer as if it ran alone, every tensor in DRAM.
    pub residency: bool,
    /// Spatial candidates and rounds per skeleton for the optimiser, instead of its defaults
    /// (what residency variants are solved with).
    pub optimiser_budget: Option<(usize, usize)>,
    /// Where each layer's bit widths come from (`--precision`).
    pub precision: crate::PrecisionSource,
    /// Work per distinct layer the optimiser may spend, once the schedule is chosen, to bound
    /// the layer over every mapping and to search random loop nests of the spatial candidates
    /// it cannot bound (`--certify`; `cimopt_optimiser::certify_from`; a skeleton counts one
    /// unit per `cimopt_optimiser::WORK_TRIPLES` placement triples); 0: the analytical bounds
    /// stand.
    pub certify_skeletons: u64,
}

/// [`CompileOptions::certify_skeletons`] unless asked otherwise: enough to prove the small
/// layers (attention products, MobileNetV2's pointwise convolutions, the tiny CNN) over their
/// whole space within the compile-time goals, a skeleton with many placements counting as
/// several (docs/optimiser.md, "Certifying a layer").
pub const CERTIFY_SKELETONS: u64 = 2000;

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            mapper: Mapper::default(),
            objective: ModelObjective::default(),
            gap: 1e-3,
            time_limit_s: 60.0,
            cache_dir: None,
            timings: false,
            keep_going: false,
            simulate: true,
            residency: true,
            optimiser_budget: None,
            precision: crate::PrecisionSource::Model,
            certify_skeletons: CERTIFY_SKELETONS,
        }
    }
}

impl CompileOptions {
    /// Whether the compile certifies its layers (`--certify N` with N > 0, `mip` only).
    pub fn certifies(&self) -> bool {
        self.mapper == Mapper::Mip && self.certify_skeletons > 0
    }

    /// Refuses values no solve can use; the messages name the command's flags.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.gap >= 0.0 && self.gap < 1.0) {
            return Err(Error::Options(format!(
                "--gap {}: must be in [0, 1)",
                self.gap
            )));
        }
        if !(self.time_limit_s > 0.0 && self.time_limit_s.is_finite()) {
            return Err(Error::Options(format!(
                "--time-limit {}: must be a positive number of seconds",
                self.time_limit_s
            )));
        }
        Ok(())
    }

    /// The optimiser's settings for this compile, before any model-level weighting.
    pub fn optimiser_options(&self) -> cimopt_optimiser::Options {
        let defaults = cimopt_optimiser::Options::default();
        let (spatial_candidates, max_rounds) = self
            .optimiser_budget
            .unwrap_or((defaults.spatial_candidates, defaults.max_rounds));
        cimopt_optimiser::Options {
            objective: self.objective.layer_objective(),
            gap: self.gap,
            time_limit_s: self.time_limit_s,
            spatial_candidates,
            max_rounds,
            certify_skeletons: self.certify_skeletons,
            ..defaults
        }
    }

    /// The solver options recorded in the schedule (and part of the cache key).
    pub fn recorded_options(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if self.mapper.is_optimiser() {
            let o = self.optimiser_options();
            m.insert("gap".into(), o.gap.to_string());
            m.insert("mip_rel_gap".into(), o.skeleton_gap().to_string());
            m.insert("time_limit_s_per_layer".into(), o.time_limit_s.to_string());
            m.insert(
                "spatial_candidates".into(),
                o.spatial_candidates.to_string(),
            );
            m.insert("max_rounds_per_skeleton".into(), o.max_rounds.to_string());
            m.insert("placement_limit".into(), o.placement_limit.to_string());
            m.insert(
                "certify_skeletons_per_layer".into(),
                o.certify_skeletons.to_string(),
            );
            m.insert(
                "memory_plan_polish_rounds".into(),
                crate::solve::POLISH_ROUNDS.to_string(),
            );
            m.insert(
                "memory_plan_polish_moves".into(),
                format!(
                    "reorderings and up to {} other spatial candidates, then reorderings and loop splits",
                    cimopt_optimiser::POLISH_CANDIDATES
                ),
            );
            m.insert("mip_max_nodes".into(), o.max_nodes.to_string());
            m.insert("simulator_agreement".into(), o.agreement.to_string());
            m.insert("highs_threads".into(), "1".into());
            m.insert("highs_random_seed".into(), "0".into());
            m.insert("highs_mip_heuristic_effort".into(), "0.01".into());
            m.insert(
                "highs_submip_and_jump_heuristics".into(),
                "off (rins, rens, root_reduced_cost, feasibility_jump)".into(),
            );
            m.insert("highs_objective_bound".into(), "cut-off".into());
            m.insert("highs_version".into(), HIGHS_VERSION.into());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mapper::ALL {
            assert_eq!(m.name().parse::<Mapper>(), Ok(m));
        }
        for o in ModelObjective::ALL {
            assert_eq!(o.name().parse::<ModelObjective>(), Ok(o));
        }
        assert!("weighted".parse::<ModelObjective>().is_err());
        assert!("MIP".parse::<Mapper>().is_err());
    }

    #[test]
    fn out_of_range_options_are_refused_by_flag() {
        let bad = CompileOptions {
            gap: 1.0,
            ..CompileOptions::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("--gap"));
        let bad = CompileOptions {
            time_limit_s: f64::NAN,
            ..CompileOptions::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("--time-limit")
        );
        assert!(CompileOptions::default().validate().is_ok());
    }
}
