//! Lower bounds on a layer's latency and energy: the physical ones of domain §6, and per spatial
//! candidate, bounds that hold for every loop order, split, level and double-buffer choice.
//!
//! Every bound is for a layer whose tensors live at given homes (`cimopt_ir::Mapping::home`;
//! DRAM unless the memory plan keeps one on chip): each operand is read from (outputs written
//! to) its home at least once, and never fed from a level above it.

use crate::spatial::{self, TooManyUnrollings};
use cimopt_ir::analysis::{layer_precision, precision_at};
use cimopt_ir::{SpatialFactor, Workload};
use cimopt_target::{Axis, Dim, Operand, Precision, Target};
use std::rc::Rc;

mod nested;

#[derive(Clone, Debug, PartialEq)]
pub struct LowerBound {
    /// The homes the bound is for.
    pub home: [usize; 3],
    /// Fewest activations over the spatial candidates × t_MAC.
    pub compute_cycles: f64,
    /// Cycles to write every weight into the macros once, when that cannot overlap compute
    /// (no ping-pong macro), at the fastest bandwidth a weight can arrive with.
    pub weight_load_cycles: f64,
    /// Cycles to read each operand from its home once (DRAM unless resident).
    pub home_cycles: [f64; 3],
    /// Domain §6: `max(compute + weight load, max home read)`.
    pub physical_cycles: f64,
    /// The layer's bound: the smallest [`candidate_bounds`] latency over the spatial
    /// candidates, which also counts the waits between activations (never below
    /// `physical_cycles`).
    pub cycles: f64,
}

/// A layer's lower bound ([`LowerBound::cycles`]: the tightest over its spatial candidates),
/// every tensor in DRAM. Every bound enumerates the layer's spatial unrollings, so each fails
/// for a layer that has too many ([`spatial::MAX_UNROLLINGS`]).
pub fn lower_bound(t: &Target, w: &Workload) -> Result<LowerBound, TooManyUnrollings> {
    lower_bound_at(t, w, [0; 3])
}

/// [`lower_bound`] for tensors at `home`.
pub fn lower_bound_at(
    t: &Target,
    w: &Workload,
    home: [usize; 3],
) -> Result<LowerBound, TooManyUnrollings> {
    Ok(layer_bounds_at(t, w, home)?.0)
}

/// A layer's lower bound and every [`candidate_bounds`] it was taken from: one per spatial
/// candidate and weight source, every tensor in DRAM.
pub fn layer_bounds(
    t: &Target,
    w: &Workload,
) -> Result<(LowerBound, Vec<CandidateBound>), TooManyUnrollings> {
    layer_bounds_at(t, w, [0; 3])
}

/// [`layer_bounds`] for tensors at `home`.
pub fn layer_bounds_at(
    t: &Target,
    w: &Workload,
    home: [usize; 3],
) -> Result<(LowerBound, Vec<CandidateBound>), TooManyUnrollings> {
    let unrollings = spatial::enumerate(t, w)?;
    let mut lb = physical_bound_over(t, w, home, &unrollings);
    let cases: Vec<CandidateBound> = unrollings
        .iter()
        .flat_map(|s| candidate_bounds(t, w, s, &lb))
        .collect();
    let best = cases.iter().map(|b| b.cycles).fold(f64::INFINITY, f64::min);
    if best.is_finite() {
        lb.cycles = best.max(lb.physical_cycles);
    }
    Ok((lb, cases))
}

/// The physical bound of domain §6 alone ([`LowerBound::cycles`] = `physical_cycles`): all a
/// [`candidate_bounds`] call needs, without bounding every candidate; every tensor in DRAM.
pub fn physical_bound(t: &Target, w: &Workload) -> Result<LowerBound, TooManyUnrollings> {
    physical_bound_at(t, w, [0; 3])
}

/// [`physical_bound`] for tensors at `home`.
pub fn physical_bound_at(
    t: &Target,
    w: &Workload,
    home: [usize; 3],
) -> Result<LowerBound, TooManyUnrollings> {
    Ok(physical_bound_over(t, w, home, &spatial::enumerate(t, w)?))
}

/// [`physical_bound_at`] over the layer's spatial unrollings, already enumerated.
pub fn physical_bound_over(
    t: &Target,
    w: &Workload,
    home: [usize; 3],
    unrollings: &[Vec<SpatialFactor>],
) -> LowerBound {
    let min_activations = unrollings
        .iter()
        .map(|s| spatial::trips(w, s).0.iter().product::<u64>())
        .min()
        .unwrap_or_else(|| w.macs());
    let p = layer_precision(t, w);
    let compute_cycles = (min_activations * t.t_mac_at(&p)) as f64;
    let weight_bits = (w.weight_count() * p.weight) as f64;
    let fastest_w = t
        .levels_of(Operand::W)
        .into_iter()
        .filter(|&l| l != t.macro_level() && l >= home[Operand::W.index()])
        .map(|l| t.levels[l].read_bw)
        .max()
        .unwrap_or(1);
    let weight_load_cycles = if t.macro_.ping_pong {
        0.0
    } else {
        weight_bits / fastest_w as f64
    };
    let home_cycles = Operand::ALL.map(|o| {
        (w.operand_size(o) * p.bits(o, false)) as f64 / t.levels[home[o.index()]].read_bw as f64
    });
    let physical_cycles =
        (compute_cycles + weight_load_cycles).max(home_cycles.iter().cloned().fold(0.0, f64::max));
    LowerBound {
        home,
        compute_cycles,
        weight_load_cycles,
        home_cycles,
        physical_cycles,
        cycles: physical_cycles,
    }
}

/// Where a mapping keeps its outputs: streamed through transfers from their home (its
/// outermost loop for the outputs sits there: every output is read there and written back), or
/// copied whole from their home into a level below before the nest (and back after it, at the
/// home's bandwidth both ways). The copy saves the home's write energy but adds its cycles to
/// the nest's, so a bound that took the streamed latency and the copied energy would pair a
/// latency and an energy no mapping has: [`candidate_bounds`] gives one bound per route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputRoute {
    Streamed,
    Copied,
}

impl OutputRoute {
    /// The route of a mapping whose outputs' outermost level is `first` and home `home`.
    pub fn of(first: usize, home: usize) -> OutputRoute {
        if first == home {
            OutputRoute::Streamed
        } else {
            OutputRoute::Copied
        }
    }
}

/// A lower bound on the cost model's latency of every mapping with one spatial unrolling,
/// whatever its loop splits, order, levels and double buffering.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateBound {
    /// The level weights reach the macros from (the bound holds for the mappings that load
    /// them from there; [`candidate_bounds`] gives one per level).
    pub weight_source: usize,
    /// The kind of innermost loop the bound holds for (one bound per kind).
    pub innermost: Innermost,
    /// How the mappings it holds for split the inputs against the weights ([`InputSlabs`]).
    pub slabs: InputSlabs,
    /// Where the mappings it holds for keep their outputs ([`OutputRoute`]).
    pub outputs: OutputRoute,
    /// Activations × t_MAC.
    pub compute_cycles: f64,
    /// Cycles the activations must wait between each other for new inputs or outputs at the
    /// array (weights not counted).
    pub switch_cycles: f64,
    /// Weight loading into a non-ping-pong macro beyond what `switch_cycles` may hide.
    pub weight_cycles: f64,
    /// `max(compute + max(weight load, switch + weight), DRAM)`.
    pub cycles: f64,
    /// `cycles` of the mappings whose outermost loop of more than one trip is of each case
    /// ([`outer_index`]): an outermost loop over a dim the weights do not depend on loads every
    /// weight into the macros again on each of its trips where they do not all fit there
    /// ("The outermost loop reloads the weights", docs/optimiser.md). Each at least `cycles`.
    pub cycles_by_outer: [f64; OUTER_CASES],
    /// Energy without leakage ([`candidate_energy_nj`]), plus every weight written into and
    /// read out of the weight source once when that is not DRAM.
    pub energy_nj: f64,
    /// `energy_nj` of the mappings whose outermost loop of more than one trip is of each case
    /// ([`outer_index`]); each at least `energy_nj`, all equal to it unless asked for
    /// ([`candidate_bounds_by_outer`]).
    pub energy_by_outer: [f64; OUTER_CASES],
}

/// The kind of a mapping's innermost loop of more than one trip, by the operands its dim
/// touches: that loop moves its index at every boundary between two activations (or resets it
/// when a loop outside advances), so every boundary changes those operands. Bounds split by it
/// because the kind fastest between activations and the kind cheapest in energy can differ,
/// and no mapping has both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Innermost {
    /// R, S or C: only the inputs change at every boundary.
    Inputs,
    /// K: only the outputs do.
    Outputs,
    /// P, Q, G or B: both do.
    Both,
}

impl Innermost {
    pub const ALL: [Innermost; 3] = [Innermost::Inputs, Innermost::Outputs, Innermost::Both];

    /// The kind of a loop over `d`.
    pub fn of(d: Dim) -> Innermost {
        match (d.relevant_to(Operand::I), d.relevant_to(Operand::O)) {
            (true, false) => Innermost::Inputs,
            (false, true) => Innermost::Outputs,
            _ => Innermost::Both,
        }
    }

    /// Whether every boundary changes `o` (inputs or outputs).
    fn changes(self, o: Operand) -> bool {
        match o {
            Operand::I => self != Innermost::Outputs,
            Operand::O => self != Innermost::Inputs,
            Operand::W => false,
        }
    }

    /// Its position in [`Innermost::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether some dim of this kind has more than one trip; a mapping whose innermost loop is
    /// of a kind with none pads such a dim to two trips, which doubles its activations.
    fn has_trips(self, trips: &[u64; 8]) -> bool {
        Dim::ALL
            .iter()
            .any(|&d| Innermost::of(d) == self && trips[d.index()] > 1)
    }
}

/// How a mapping's weight loops sit against the loops that split its inputs into slabs, where
/// the inputs fit whole in no level below their home (docs/optimiser.md, "Input slabs reload
/// the weights"). Those loops are the ones at the inputs' home (a prefix of the nest), and the
/// slabs below them must fit where they are kept: capacity decides how many slabs a candidate
/// needs at least. Each slab either loads every weight again or reads the inputs again, so a
/// candidate whose inputs are read in tiles has one bound per case, and the fast case's latency
/// does not meet the cheap case's energy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputSlabs {
    /// The bound holds for every mapping: the inputs fit below their home, the weights fit in
    /// the macros, or no case would raise the bound.
    Any,
    /// C and G unpadded; at the inputs' home no loop over R or S (a slab holds whole windows)
    /// and none over C whose weights the macro holds (the channels of the run at the macro
    /// are below the home); and the innermost weight loop above the macros lies inside every
    /// loop over P, Q or B there: every trip of those loops loads every weight again.
    ReloadWeights,
    /// C and G unpadded, and at the inputs' home a loop over R or S, or over C with its weights
    /// at the macro, or over P, Q or B inside a weight loop above the macros. In the last two
    /// every weight loop above the macros is at the home outside that loop, some over K, R or
    /// S. Each reads the inputs again.
    RereadInputs,
    /// C or G padded: more activations.
    PaddedChannels,
}

impl InputSlabs {
    /// The case of mapping `m` (its candidate's bounds may hold for [`InputSlabs::Any`]).
    pub fn of(t: &Target, w: &Workload, m: &cimopt_ir::Mapping) -> InputSlabs {
        let (trips, _) = spatial::trips(w, &m.spatial);
        let temporal = |d: Dim| -> u64 {
            m.temporal
                .iter()
                .filter(|l| l.dim == d)
                .map(|l| l.factor)
                .product()
        };
        if temporal(Dim::C) > trips[Dim::C.index()] || temporal(Dim::G) > trips[Dim::G.index()] {
            return InputSlabs::PaddedChannels;
        }
        let home = m.home[Operand::I.index()];
        let weights_above = m.temporal.iter().rposition(|l| {
            l.factor > 1
                && l.dim.relevant_to(Operand::W)
                && l.level[Operand::W.index()] < t.macro_level()
        });
        let at_home =
            |l: &cimopt_ir::TemporalLoop| l.factor > 1 && l.level[Operand::I.index()] == home;
        let slab_inside = |from: usize| {
            m.temporal[from..]
                .iter()
                .any(|l| at_home(l) && slab_dim(l.dim))
        };
        // A loop over R or S at the home splits the window; one over C at the home that the
        // macro holds the weights of takes channels from the run at the macro into the
        // slabs' split, and every weight loop above the macros is at the home outside it.
        let window_split = m
            .temporal
            .iter()
            .any(|l| at_home(l) && matches!(l.dim, Dim::R | Dim::S));
        let run_at_home = m.temporal.iter().any(|l| {
            at_home(l) && l.dim == Dim::C && l.level[Operand::W.index()] == t.macro_level()
        });
        match weights_above {
            _ if window_split || run_at_home => InputSlabs::RereadInputs,
            Some(omega) if slab_inside(omega + 1) => InputSlabs::RereadInputs,
            _ => InputSlabs::ReloadWeights,
        }
    }
}

/// A dim that splits the inputs into slabs without splitting the weights: P, Q, B.
fn slab_dim(d: Dim) -> bool {
    d.relevant_to(Operand::I) && !d.relevant_to(Operand::W)
}

/// One bound per level weights may reach the macros from and per [`Innermost`] kind: every
/// mapping with spatial factors `s` loads its weights from exactly one of those levels and has
/// one innermost kind, so the smallest objective over these bounds bounds every such mapping.
/// Separating the cases keeps the latency of a fast source (or kind) and the energy of a cheap
/// one from combining into a schedule no mapping has.
pub fn candidate_bounds(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    lb: &LowerBound,
) -> Vec<CandidateBound> {
    candidate_bounds_with(t, w, s, lb, false, &NestShape::ANY, false)
}

/// [`candidate_bounds`] with the energy the nest's first two loops force where the operands
/// fit below their homes neither alone nor together ([`nested`]): never lower, and dearer to
/// compute (several times the time of [`candidate_bounds`] where the walks run), so the
/// optimiser re-prices with it only the candidates that set a layer's reported bound.
pub fn candidate_bounds_deep(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    lb: &LowerBound,
) -> Vec<CandidateBound> {
    candidate_bounds_with(t, w, s, lb, false, &NestShape::ANY, true)
}

/// [`candidate_bounds`] with each bound's energy told apart by the case of the nest's
/// outermost loop of more than one trip ([`CandidateBound::energy_by_outer`]): that loop
/// decides which operands are read again at their home. Dearer to compute, so only
/// certification, which settles skeletons one by one, asks for it.
pub fn candidate_bounds_by_outer(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    lb: &LowerBound,
) -> Vec<CandidateBound> {
    candidate_bounds_with(t, w, s, lb, true, &NestShape::ANY, false)
}

/// [`candidate_bounds_by_outer`] with the passes of the first two loops, per case of the
/// outermost one ([`candidate_bounds_deep`]): what certification ranks and settles its
/// candidates by.
pub fn candidate_bounds_by_outer_deep(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    lb: &LowerBound,
) -> Vec<CandidateBound> {
    candidate_bounds_with(t, w, s, lb, true, &NestShape::ANY, true)
}

/// What a loop nest's order fixes about its mappings' latency, beyond its innermost and
/// outermost loops ([`nest_shape`]); [`NestShape::ANY`] for every nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NestShape {
    /// How many times at least every weight is loaded into the macros
    /// ([`skeleton_weight_passes`]).
    pub passes: u64,
    /// Per operand that may be the cheap one (inputs, outputs): the product of the innermost
    /// run of loops over the dims only it depends on (R, S, C; K), the only loops whose
    /// boundaries spare the other operand a change.
    pub cheap_run: [u64; 2],
    /// The same run's longest innermost part whose trips fit in the weights a cell holds: the
    /// most its loops at the macro can be.
    pub macro_run: [u64; 2],
    /// Whether every loop over R, S or C lies in the inputs' run: only then can the outputs'
    /// register hold every reduction loop (`gathered_reductions`).
    pub gathers: bool,
}

impl NestShape {
    /// Nothing known: the bounds of every nest.
    pub const ANY: NestShape = NestShape {
        passes: 1,
        cheap_run: [u64::MAX; 2],
        macro_run: [u64::MAX; 2],
        gathers: true,
    };
}

/// The [`NestShape`] of the temporal loops `loops` (outer to inner).
pub fn nest_shape(t: &Target, w: &Workload, loops: &[(Dim, u64)]) -> NestShape {
    nest_shape_in(weights_per_cell(t, w), loops)
}

/// How many of the layer's weights one cell of the macros holds: what [`nest_shape_in`] takes,
/// computed once for the many nests of a layer.
pub fn weights_per_cell(t: &Target, w: &Workload) -> u64 {
    per_cell(t, &layer_precision(t, w))
}

/// [`nest_shape`] with the weights a cell holds, `cell` ([`weights_per_cell`]).
pub fn nest_shape_in(cell: u64, loops: &[(Dim, u64)]) -> NestShape {
    // Loops of one trip are left out: they neither end a run nor break one.
    let moving = || loops.iter().filter(|l| l.1 > 1);
    let runs = [Operand::I, Operand::O].map(|cheap| {
        let only = |d: Dim| d.relevant_to(cheap) && !d.relevant_to(other(cheap));
        let (mut run, mut at_macro, mut fits, mut len) = (1u64, 1u64, true, 0);
        for &(d, n) in moving().rev() {
            if !only(d) {
                break;
            }
            run = run.saturating_mul(n);
            len += 1;
            if fits && run <= cell {
                at_macro = run;
            } else {
                fits = false;
            }
        }
        (run, at_macro, len)
    });
    let outside = moving().count() - runs[0].2;
    let gathers = !moving()
        .take(outside)
        .any(|(d, _)| d.relevant_to(Operand::I) && !d.relevant_to(Operand::O));
    NestShape {
        passes: weight_passes_in(cell, loops),
        cheap_run: [runs[0].0, runs[1].0],
        macro_run: [runs[0].1, runs[1].1],
        gathers,
    }
}

/// [`candidate_bounds_by_outer`] of the mappings whose loop nest has the shape `shape`: their
/// latency bounds count its weight passes, in every case, and its runs.
pub fn candidate_bounds_of_nest(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    lb: &LowerBound,
    shape: &NestShape,
) -> Vec<CandidateBound> {
    candidate_bounds_with(t, w, s, lb, true, shape, false)
}

/// How many times at least every mapping with the temporal loops `loops` (outer to inner)
/// loads every weight into the macros. The loops at the macro for the weights are an innermost
/// run whose trips over dims the weights depend on multiply to at most the weights a cell
/// holds, so the loop over such a dim that ends the longest such run (if any) sits above the
/// macros in every placement: the weights' transfer into the macros fires there or inside it,
/// and each loop outside it over a dim they do not depend on (P, Q, G or B) sends every
/// weight again on each of its trips. The product of those loops' trips; 1 where the weights
/// fit at the macro.
pub fn skeleton_weight_passes(t: &Target, w: &Workload, loops: &[(Dim, u64)]) -> u64 {
    weight_passes_in(weights_per_cell(t, w), loops)
}

/// [`skeleton_weight_passes`] with the weights a cell holds, `cell`.
fn weight_passes_in(cell: u64, loops: &[(Dim, u64)]) -> u64 {
    let mut run = 1u64;
    let Some(above) = loops.iter().rposition(|&(d, n)| {
        if !d.relevant_to(Operand::W) {
            return false;
        }
        run = run.saturating_mul(n);
        run > cell
    }) else {
        return 1;
    };
    loops[..above]
        .iter()
        .filter(|(d, _)| !d.relevant_to(Operand::W))
        .fold(1u64, |p, &(_, n)| p.saturating_mul(n))
}

fn candidate_bounds_with(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    lb: &LowerBound,
    by_outer: bool,
    shape: &NestShape,
    deep: bool,
) -> Vec<CandidateBound> {
    let p = layer_precision(t, w);
    let weight_bits = (w.weight_count() * p.weight) as f64;
    let w_home = lb.home[Operand::W.index()];
    // The runs at the macro depend on the candidate, not on the weights' source.
    let (trips, _) = spatial::trips(w, s);
    let cells = per_cell(t, &p);
    let runs = [Operand::I, Operand::O].map(|o| cheap_runs(&trips, o, cells));
    let slabs = slab_cases(t, w, &p, s, lb.home, &trips, cells);
    let cases: Vec<(InputSlabs, Case)> = match &slabs {
        None => vec![(InputSlabs::Any, Case::Plain)],
        Some(c) => vec![
            (InputSlabs::ReloadWeights, Case::Reload(c)),
            (InputSlabs::RereadInputs, Case::Plain),
            (InputSlabs::PaddedChannels, Case::Padded(c.padded)),
        ],
    };
    // Outputs that fit whole in no level below their home are streamed by every mapping.
    let routes: &[OutputRoute] = if output_copy_pj(t, w, &p, s, lb.home).is_finite() {
        &[OutputRoute::Streamed, OutputRoute::Copied]
    } else {
        &[OutputRoute::Streamed]
    };
    let walks = if deep {
        nested::Walks::new(t, w, &p, s, lb.home, trips)
    } else {
        nested::Walks::none()
    };
    // The copied route's walks leave the outputs' copy its room.
    let copied_walks = if deep && routes.contains(&OutputRoute::Copied) {
        nested::Walks::copied(t, w, &p, s, lb.home, trips)
    } else {
        nested::Walks::none()
    };
    // The deep bounds split the mappings by the weight loads their walks force, each class
    // with its latency (a ping-pong macro hides its loads: one class).
    let classes = if deep && !t.macro_.ping_pong {
        nested::LoadClass::ladder()
    } else {
        vec![nested::LoadClass::ALL]
    };
    let mut out = Vec::new();
    for (&route, &loads) in routes
        .iter()
        .flat_map(|r| classes.iter().map(move |c| (r, c)))
    {
        let split = candidate_energies_by_outer(
            t,
            w,
            s,
            lb.home,
            slabs.as_ref().map_or(0.0, |c| c.reread_pj),
            by_outer,
            Some(route),
            if route == OutputRoute::Copied {
                &copied_walks
            } else {
                &walks
            },
            loads,
        );
        let [energies, reread] =
            split.map(|kinds| kinds.map(|cases| cases.into_iter().fold(f64::INFINITY, f64::min)));
        for l in t.levels_of(Operand::W) {
            if l == t.macro_level() || l < w_home {
                continue;
            }
            // Staged through a level below their home, the weights are written there and read
            // back once (their home's read is in the energy above).
            let staged = if l == w_home {
                0.0
            } else {
                weight_bits * (t.levels[l].read_pj_per_bit + t.levels[l].write_pj_per_bit) * 1e-3
            };
            for mut b in candidate_bounds_from(
                t,
                w,
                s,
                lb,
                l,
                &trips,
                &runs,
                &cases,
                shape,
                route,
                loads.least,
            ) {
                // A case no mapping of the candidate can be in (no slab fits) bounds nothing.
                if !b.cycles.is_finite() {
                    continue;
                }
                let j = usize::from(b.slabs == InputSlabs::RereadInputs);
                let kind = b.innermost.index();
                b.energy_nj = [&energies, &reread][j][kind] + staged;
                b.energy_by_outer = if by_outer {
                    split[j][kind].map(|e| e + staged)
                } else {
                    [b.energy_nj; OUTER_CASES]
                };
                // A class no mapping of the bound's cases is in bounds nothing.
                if !b.energy_nj.is_finite() {
                    continue;
                }
                out.push(b);
            }
        }
    }
    out
}

/// Which [`InputSlabs`] case a latency bound is for, and what that case costs.
#[derive(Clone, Copy)]
enum Case<'a> {
    /// No more than every mapping costs.
    Plain,
    /// [`InputSlabs::ReloadWeights`]: the weights are loaded once per slab.
    Reload(&'a SlabCases),
    /// [`InputSlabs::PaddedChannels`]: at least this many times the activations.
    Padded(f64),
}

/// Lower bound for the spatial factors `s` (docs/optimiser.md, "Candidate bounds").
///
/// On a non-ping-pong macro no MAC-feeding transfer is double-buffered, so in the cost model
/// every boundary between two activations waits for the operand chains of the loop that
/// advances: a loop over a dim relevant to the inputs re-sends the input tile to the array, one
/// relevant to the outputs writes the partial sum back and reads the next (twice the cycles),
/// and a register level that holds one element must first be refilled from the level above.
/// `m_I` and `m_O` are the cheapest such chains over every level an operand may feed the array
/// from. At most `A·(1 − 1/T)` boundaries belong to loops over the dims of the cheaper kind
/// (`T`: their temporal trips); every other boundary costs the dearer chain. Weight loads run in
/// the same gaps (the largest chain decides), so each weight-load boundary may hide up to the
/// dearer chain. One bound per [`Innermost`] kind: where the innermost loop changes the
/// operand of the dearer chain, every boundary waits for that chain (and a kind with no dim of
/// more than one trip doubles the activations).
#[allow(clippy::too_many_arguments)]
fn candidate_bounds_from(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    lb: &LowerBound,
    weight_source: usize,
    trips: &[u64; 8],
    runs: &[Vec<(u64, f64)>; 2],
    cases: &[(InputSlabs, Case)],
    shape: &NestShape,
    route: OutputRoute,
    weight_loads: f64,
) -> Vec<CandidateBound> {
    // The passes every mapping of the nest shape loads the weights in, or of the class.
    let min_passes = (shape.passes as f64).max(weight_loads);
    let activations: u64 = trips.iter().product();
    let p = layer_precision(t, w);
    let compute_cycles = (activations * t.t_mac_at(&p)) as f64;
    let dram = home_port_cycles(lb);
    if t.macro_.ping_pong {
        // A ping-pong array double-buffers its feeds: no boundary has to wait.
        let cycles = with_output_copies(lb, compute_cycles, compute_cycles, dram, route);
        return Innermost::ALL
            .map(|innermost| CandidateBound {
                weight_source,
                innermost,
                slabs: cases[0].0,
                outputs: route,
                compute_cycles,
                switch_cycles: 0.0,
                weight_cycles: 0.0,
                cycles,
                cycles_by_outer: [cycles; OUTER_CASES],
                energy_nj: 0.0,
                energy_by_outer: [0.0; OUTER_CASES],
            })
            .to_vec();
    }
    let m_i = cheapest_feed(t, w, &p, s, Operand::I, trips, lb.home, false) as f64;
    // Outputs fed from a single-element register are refilled from the level above it, which
    // holds partial sums unless every reduction loop sits at the register (`psum_levels`): one
    // chain per case (`gathered_reductions`).
    let o_final = OutputChanges::of(&feeds(t, w, &p, s, Operand::O, trips, lb.home, false));
    let o_partial = OutputChanges::of(&feeds(t, w, &p, s, Operand::O, trips, lb.home, true));
    let (m_o_final, m_o_partial) = (o_final.least, o_partial.least);
    let output_trips = (activations / own_trips(trips, Operand::I)) as f64;
    let one_load = transfer_cycles(
        t,
        fanout_elems(t, w, s, Operand::W, weight_source),
        p.weight,
        weight_source,
    ) as f64;
    let t_mac = t.t_mac_at(&p) as f64;
    // Every weight is written into a macro at the source's bandwidth while it does not compute;
    // one load moves at least one weight per used cell of every array it fills.
    let weight_bits = (w.weight_count() * p.weight) as f64;
    let weight_load = weight_bits / t.levels[weight_source].read_bw as f64;
    let a = activations as f64;
    // The bound per innermost kind when every output change costs at least `m_o`, for the
    // mappings of one [`InputSlabs`] case.
    // `floor`: the passes over the weights the nest's outermost loop forces on every case.
    let kinds = |o_changes: OutputChanges, case: Case, floor: f64| -> [Work; 3] {
        let m_o = o_changes.least;
        let refills = o_changes.refills(output_trips);
        // A padded channel loop multiplies the activations; each slab loads the weights once.
        let min_pad = match case {
            Case::Padded(f) => f,
            _ => 1.0,
        };
        let passes = |c: u64| match case {
            Case::Reload(x) => x.passes(c).max(floor),
            _ => floor,
        };
        let (cheap, dear, cheap_op) = if m_i <= m_o {
            (m_i, m_o, Operand::I)
        } else {
            (m_o, m_i, Operand::O)
        };
        let cheap_trips = own_trips(trips, cheap_op);
        // Each load of the macros runs at a boundary that waits for the dear chain, which
        // hides that much of it. A mapping whose run at the macro is `run` cheap trips loads
        // at least `run` weights per cell at a time, so it has at most `1/run` as many loads
        // to hide behind as one that loads a weight per cell at a time.
        let weight_cycles = |run: f64| {
            if dear < run * one_load {
                weight_load * (1.0 - dear / (run * one_load))
            } else {
                0.0
            }
        };
        // The bound for `a` activations of which at most `cheap_boundaries` boundaries are
        // cheap, in runs of `run` at the macro, each weight loaded `passes` times.
        let bound_for = |a: f64, cheap_boundaries: f64, passes: f64, run: f64| {
            let compute_cycles = a * t_mac;
            // The boundaries that refill the outputs' register cost `refilled`, where the
            // rest of the bound counts at most `dear` for them; a boundary that also loads the
            // weights already counts the load beyond `dear` (`weight_cycles`), at most that
            // many of them.
            let loads = if dear < run * one_load {
                passes * weight_load / (run * one_load)
            } else {
                0.0
            };
            let refill_cycles = (refills - loads).max(0.0) * (o_changes.refilled - dear).max(0.0);
            let switch_cycles =
                (a - 1.0) * dear - cheap_boundaries * (dear - cheap) + refill_cycles;
            let (load, weight_cycles) = (weight_load * passes, weight_cycles(run) * passes);
            let cycles = with_output_copies(
                lb,
                compute_cycles + load.max(switch_cycles + weight_cycles),
                compute_cycles + switch_cycles,
                dram,
                route,
            );
            Work {
                compute_cycles,
                switch_cycles,
                weight_cycles,
                cycles,
            }
        };
        let fastest = if one_load >= dear {
            // The cheap dims (R, S, C for inputs, K for outputs) are all dims the weights
            // depend on. A boundary of a weight-dependent loop reloads the macros unless the
            // loop sits at the macro for the weights, and the loops there form the innermost
            // run of the nest whose weight-dependent factors multiply to at most the weights
            // one cell holds. So the cheap boundaries that reload nothing lie in loops whose
            // factors multiply to a run `r` of at most that many trips, at most `A·(1 − 1/r)`
            // of them; the others cost at least a weight load, which is dearer than the dear
            // chain. Each cheap dim's loops there multiply to a divisor of its trips, or of
            // trips the mapping pads further, which multiplies the activations: every mapping
            // has one of these runs. Where each input slab loads the weights again, the
            // channels a run takes at the macro are channels no slab loop can split.
            let listed: Vec<(u64, f64, f64)> = match (case, cheap_op) {
                (Case::Reload(x), Operand::I) => x
                    .runs
                    .iter()
                    .map(|&(run, channels, padding)| (run, padding, x.passes(channels).max(floor)))
                    .collect(),
                _ => runs[usize::from(cheap_op != Operand::I)]
                    .iter()
                    .map(|&(run, padding)| (run, padding, passes(1)))
                    .collect(),
            };
            // A nest's own order allows no longer run at the macro than its innermost one.
            let most = shape.macro_run[usize::from(cheap_op != Operand::I)];
            listed
                .into_iter()
                .filter(|&(run, _, _)| run <= most)
                .map(|(run, padding, passes)| {
                    let a = a * padding.max(min_pad);
                    bound_for(a, a * (1.0 - 1.0 / run as f64), passes, run as f64)
                })
                .min_by(|x, y| x.cycles.total_cmp(&y.cycles))
                .expect("the run of one trip is always there")
        } else {
            // Weight loads are cheaper than the dear chain: only the loops over the cheap dims
            // bound the cheap boundaries (padding them adds more activations than it saves).
            // A nest's own order: only the boundaries inside its innermost run of them.
            let run = shape.cheap_run[usize::from(cheap_op != Operand::I)];
            let inside = a * min_pad * (1.0 - 1.0 / run as f64);
            bound_for(
                a * min_pad,
                (a * min_pad - (activations / cheap_trips) as f64).min(inside),
                passes(1),
                1.0,
            )
        };
        Innermost::ALL.map(|innermost| {
            if !innermost.changes(other(cheap_op)) {
                fastest
            } else if activations > 1 && !innermost.has_trips(trips) {
                bound_for(2f64.max(min_pad) * a, 0.0, passes(1), 1.0)
            } else {
                bound_for(a * min_pad, 0.0, passes(1), 1.0)
            }
        })
    };
    // Every reduction loop at the register makes the innermost loop one over R, S or C; the
    // other kinds always refill partial sums. The chain at any precision bounds every mapping,
    // and where it weighs less against the weight loads (`weight_cycles` falls as the chain
    // grows) its bound is the larger.
    let larger = |x: Work, y: Work| if y.cycles > x.cycles { y } else { x };
    // Per case and innermost kind (in `cases` and `Innermost::ALL` order), the work of the
    // mappings that load every weight `floor` times at least.
    // The inputs' runs at the macro the nest's order allows.
    let runs_i: Vec<(u64, f64)> = runs[0]
        .iter()
        .copied()
        .filter(|&(run, _)| run <= shape.macro_run[0])
        .collect();
    let works = |floor: f64| -> Vec<Work> {
        // The partial sums' chain is dearer only where a gathered reduction is the exception:
        // the mappings that gather every reduction loop at the register, whatever their case
        // (none where the nest's order keeps a reduction loop out of its innermost run).
        let refills = m_o_partial > m_o_final;
        let gathered = (refills && shape.gathers).then(|| {
            gathered_reductions(
                trips,
                &runs_i,
                a,
                t_mac,
                m_i,
                m_o_final,
                one_load,
                |compute, switch| {
                    with_output_copies(
                        lb,
                        compute + (weight_load * floor).max(switch),
                        compute + switch,
                        dram,
                        route,
                    )
                },
            )
        });
        let mut out = Vec::with_capacity(3 * cases.len());
        for &(_, case) in cases {
            let any = kinds(o_final, case, floor);
            let partial = refills.then(|| kinds(o_partial, case, floor));
            for innermost in Innermost::ALL {
                let i = innermost.index();
                out.push(match (partial, gathered) {
                    (None, _) => any[i],
                    (Some(partial), Some(gathered)) if innermost == Innermost::Inputs => {
                        let either = if gathered.cycles < partial[i].cycles {
                            gathered
                        } else {
                            partial[i]
                        };
                        larger(any[i], either)
                    }
                    (Some(partial), _) => larger(any[i], partial[i]),
                });
            }
        }
        out
    };
    let base = works(min_passes);
    let passes = weight_passes_by_outer(t, &p, trips).map(|n| n.max(min_passes));
    // One computation per distinct number of passes (a few at most).
    let mut by_passes: Vec<(f64, Vec<Work>)> = vec![(min_passes, base.clone())];
    for &n in &passes {
        if !by_passes.iter().any(|(m, _)| *m == n) {
            by_passes.push((n, works(n)));
        }
    }
    let of_passes = |n: f64| &by_passes.iter().find(|(m, _)| *m == n).expect("computed").1;
    let mut out = Vec::with_capacity(base.len());
    for (j, &(slabs, _)) in cases.iter().enumerate() {
        for innermost in Innermost::ALL {
            let at = 3 * j + innermost.index();
            let work = base[at];
            out.push(CandidateBound {
                weight_source,
                innermost,
                slabs,
                outputs: route,
                compute_cycles: work.compute_cycles,
                switch_cycles: work.switch_cycles,
                weight_cycles: work.weight_cycles,
                cycles: work.cycles,
                cycles_by_outer: passes.map(|n| of_passes(n)[at].cycles.max(work.cycles)),
                energy_nj: 0.0,
                energy_by_outer: [0.0; OUTER_CASES],
            });
        }
    }
    out
}

/// Per case of the nest's outermost loop of more than one trip ([`outer_index`]), how many
/// times at least every mapping in it loads every weight into the macros: where the weights'
/// trips do not fit in the weights a cell holds, some loop over a dim they depend on sits above
/// the macros, so their transfer into the macros fires inside the outermost loop, and each of
/// its trips sends every weight; where that loop is over a dim they do not depend on (P, Q, G
/// or B), it has at least [`outermost_loops`]'s trips (their smallest prime factor, or two
/// padded). One elsewhere.
fn weight_passes_by_outer(t: &Target, p: &Precision, trips: &[u64; 8]) -> [f64; OUTER_CASES] {
    let weight_trips = Dim::ALL
        .iter()
        .filter(|d| d.relevant_to(Operand::W))
        .fold(1u64, |n, d| n.saturating_mul(trips[d.index()]));
    let mut passes = [1.0; OUTER_CASES];
    if weight_trips <= per_cell(t, p) {
        return passes;
    }
    let mut least = [f64::INFINITY; OUTER_CASES];
    for l in outermost_loops(trips, 0.0) {
        if let Some(d) = l.dim.filter(|d| !d.relevant_to(Operand::W)) {
            let i = outer_index(Some(d));
            least[i] = least[i].min(l.trips);
        }
    }
    for (n, l) in passes.iter_mut().zip(least) {
        if l.is_finite() {
            *n = l;
        }
    }
    passes
}

/// A latency bound's parts, as in [`CandidateBound`].
#[derive(Clone, Copy, Debug)]
struct Work {
    compute_cycles: f64,
    switch_cycles: f64,
    weight_cycles: f64,
    cycles: f64,
}

/// The latency bound of the mappings whose outputs are fed from a single-element register that
/// holds every reduction loop (`trips` over R, S, C multiply to `T > 1`): the only ones whose
/// partial sums never leave it, so the only ones whose output refills may move final outputs
/// (`m_o`, the cheapest chain at any precision). A single-element register holds no loop over
/// a dim the outputs depend on, so those reduction loops are the innermost loops of the nest
/// (product `T'`, at least `T`, more where the mapping pads them). The loops at the macro for
/// the weights are the innermost too, their weight-dependent factors multiplying to a run `r`
/// of at most the weights one cell holds (`cheap_runs`, with its padding). So of the
/// boundaries inside the reduction run, `A'·(1 − 1/r)` change only the inputs (`m_i`), the
/// other `A'·(1/r − 1/T')` reload the macros as well (at least the inputs' chain, and a load
/// of the `r` weights per cell the run holds: `r · one_load`), and the `A'/T' − 1` boundaries outside the run change the outputs.
/// `total(compute, switch)` adds the weight loads and the output copies as the other cases do.
/// The sum is linear in `1/T'` while `A'` stays `A·padding`, and grows with `T'` once `A'`
/// grows with it, so its least value over `T'` is at `max(T, r)` or `T·padding`.
#[allow(clippy::too_many_arguments)]
fn gathered_reductions(
    trips: &[u64; 8],
    runs_i: &[(u64, f64)],
    a: f64,
    t_mac: f64,
    m_i: f64,
    m_o: f64,
    one_load: f64,
    total: impl Fn(f64, f64) -> f64,
) -> Work {
    // The reduction dims (R, S, C) are the ones only the inputs depend on.
    let reduction = own_trips(trips, Operand::I) as f64;
    runs_i
        .iter()
        .flat_map(|&(run, padding)| {
            let run = run as f64;
            let a = a * padding;
            let least = reduction.max(run);
            [least, (reduction * padding).max(least)].map(|gathered| {
                let switch_cycles = a * (1.0 - 1.0 / run) * m_i
                    + a * (1.0 / run - 1.0 / gathered) * m_i.max(run * one_load)
                    + (a / gathered - 1.0) * m_o;
                let compute_cycles = a * t_mac;
                Work {
                    compute_cycles,
                    switch_cycles,
                    weight_cycles: 0.0,
                    cycles: total(compute_cycles, switch_cycles),
                }
            })
        })
        // `cheap_runs` stops at twice `T`: a longer run pads the activations more than twice,
        // and changes the inputs alone at `1 − 1/(2T)` of them at least.
        .chain(std::iter::once({
            let a = 2.0 * a;
            let switch_cycles = a * (1.0 - 1.0 / (2.0 * reduction)) * m_i;
            Work {
                compute_cycles: a * t_mac,
                switch_cycles,
                weight_cycles: 0.0,
                cycles: total(a * t_mac, switch_cycles),
            }
        }))
        .min_by(|x, y| x.cycles.total_cmp(&y.cycles))
        .expect("the run of one trip is always there")
}

/// Weights one macro cell holds: the most weight-dependent trips the loops at the macro can
/// multiply to.
fn per_cell(t: &Target, p: &Precision) -> u64 {
    (t.levels[t.macro_level()].capacity_bits / t.weight_cell_bits(p.weight)).max(1)
}

/// Every run of loops over the dims only `cheap` depends on that fits at the macro: per such
/// dim a factor `r_d` (any, up to `per_cell`; a mapping pads the dim's trips to the next
/// multiple of it where it does not divide them), their product at most `per_cell`. Each as
/// (run, the factor the padding multiplies the activations by). A mapping's run pads at least
/// as much as the one listed for it, so each bounds the mappings with that run.
///
/// Runs stop at twice the product `T` of those dims' trips: a run `r > T` pads by at least
/// `r/T`, so its bound is never below the unpadded run `T`'s, and some run in `(T, 2T]` pads
/// by at most 2 (one dim padded by one trip), less than any run beyond. So the list holds
/// every run that can decide a bound, whatever the cell holds (a target whose macro holds
/// millions of weights per cell would otherwise cost millions of steps per candidate).
fn cheap_runs(trips: &[u64; 8], cheap: Operand, per_cell: u64) -> Vec<(u64, f64)> {
    let only = |d: &Dim| d.relevant_to(cheap) && !d.relevant_to(other(cheap));
    let product = Dim::ALL
        .iter()
        .filter(|d| only(d))
        .fold(1u64, |p, d| p.saturating_mul(trips[d.index()]));
    // `least[r]`: the least padding a run of `r` trips needs over the dims so far.
    let cell = per_cell.min(product.saturating_mul(2)) as usize;
    let mut least = vec![f64::INFINITY; cell + 1];
    least[1] = 1.0;
    let mut next = least.clone();
    for d in Dim::ALL.into_iter().filter(only) {
        let trip = trips[d.index()];
        next.fill(f64::INFINITY);
        for run in 1..=cell {
            if least[run].is_infinite() {
                continue;
            }
            for r in 1..=cell / run {
                let padded = trip.div_ceil(r as u64) * r as u64;
                let padding = least[run] * padded as f64 / trip as f64;
                let slot = &mut next[run * r];
                *slot = slot.min(padding);
            }
        }
        std::mem::swap(&mut least, &mut next);
    }
    (1..=cell)
        .filter(|&r| least[r].is_finite())
        .map(|r| (r as u64, least[r]))
        .collect()
}

/// The runs at the macro of loops over the dims only `only` depends on, for the energy bound:
/// the longest run the trips allow unpadded, at no cost, and, where a longer one needs
/// padding, a run of the weights a cell holds at the least padding of any longer run (its
/// activations, priced at `mac_pj` unpadded). Each as (run, padding's cost in pJ).
fn unreloaded_runs(trips: &[u64; 8], only: Operand, per_cell: u64, mac_pj: f64) -> Vec<(f64, f64)> {
    let runs = cheap_runs(trips, only, per_cell);
    let free = runs
        .iter()
        .filter(|r| r.1 == 1.0)
        .map(|r| r.0)
        .max()
        .unwrap_or(1);
    let mut out = vec![(free as f64, 0.0)];
    if let Some(least) = runs
        .iter()
        .filter(|r| r.0 > free)
        .map(|r| r.1)
        .min_by(f64::total_cmp)
    {
        out.push((per_cell as f64, (least - 1.0) * mac_pj));
    }
    out
}

/// The cycles the largest operand keeps its home's port busy in every mapping: inputs and
/// weights are read there at least once; outputs are read there and written back (streamed
/// through transfers from their home, or copied whole below it before the nest and back after
/// it), so their home moves them twice.
fn home_port_cycles(lb: &LowerBound) -> f64 {
    let [i, w, o] = lb.home_cycles;
    i.max(w).max(2.0 * o)
}

/// A candidate's latency bound given the bound on its work (`loaded`: compute, boundary waits
/// and weight loads; `body`: compute and boundary waits alone) and on its home ports (`port`),
/// for the mappings that keep their outputs by `route` ([`OutputRoute`]). Streaming adds
/// nothing beyond the port bound. A copy of the outputs whole from their home into a level
/// below, before the first activation, and back after the last, each at the home's bandwidth,
/// adds to the nest's work: the one back follows everything, the one in precedes the first
/// activation (the first weight load may overlap it, so it adds to the work without weight
/// loads).
fn with_output_copies(
    lb: &LowerBound,
    loaded: f64,
    body: f64,
    port: f64,
    route: OutputRoute,
) -> f64 {
    let copy = lb.home_cycles[Operand::O.index()];
    match route {
        OutputRoute::Streamed => loaded.max(port),
        OutputRoute::Copied => (loaded + copy).max(body + 2.0 * copy).max(port),
    }
}

/// A lower bound (nJ) on the energy, leakage excluded, of every mapping with the spatial
/// factors `s`: the activations; every input and weight read from DRAM once and every output
/// written to it once; every weight written into a macro once; and the transfers that feed the
/// array new inputs or outputs between activations (docs/optimiser.md, "Candidate bounds").
///
/// Each boundary between two activations advances a loop relevant to the inputs (which re-sends
/// them, and refills a single-element register first) or to the outputs (which writes the
/// partial sum back and reads the next), or both: with `n_I`, `n_O` those counts plus the first
/// activation, `n_I + n_O ≥ A + 1`, `n_I ≥ A / T_K`-like minima (the trips of the dims relevant
/// to the other operand alone), and each change costs at least the cheapest feed over the
/// levels that may feed the array. The nest's outermost loop raises both: it multiplies the
/// fewest changes of an operand that does not depend on its dim, and reads again every operand
/// that fits whole in no level below its home and does not depend on it.
pub fn candidate_energy_nj(t: &Target, w: &Workload, s: &[SpatialFactor]) -> f64 {
    candidate_energy_nj_at(t, w, s, [0; 3])
}

/// [`candidate_energy_nj`] for tensors at `home`: each read from (outputs written to) its home
/// once.
pub fn candidate_energy_nj_at(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    home: [usize; 3],
) -> f64 {
    candidate_energies_nj_at(t, w, s, home, 0.0)[0]
        .into_iter()
        .fold(f64::INFINITY, f64::min)
}

/// [`candidate_energy_nj_at`] of the mappings of each [`Innermost`] kind, by its index: of
/// every mapping, and of those that read the inputs at their home `input_floor_pj` beyond once
/// at least ([`InputSlabs::RereadInputs`]).
fn candidate_energies_nj_at(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    home: [usize; 3],
    input_floor_pj: f64,
) -> [[f64; 3]; 2] {
    let walks = nested::Walks::none();
    candidate_energies_by_outer(
        t,
        w,
        s,
        home,
        input_floor_pj,
        false,
        None,
        &walks,
        nested::LoadClass::ALL,
    )
    .map(|kinds| kinds.map(|by_outer| by_outer.into_iter().fold(f64::INFINITY, f64::min)))
}

/// How many cases of a nest's outermost loop of more than one trip the energy bounds tell
/// apart: one per dim ([`Dim::index`]), and one for a nest of a single activation.
pub const OUTER_CASES: usize = 9;

/// The case of [`OUTER_CASES`] of a nest whose outermost loop of more than one trip is over
/// `dim` (`None`: it has none).
pub fn outer_index(dim: Option<Dim>) -> usize {
    dim.map_or(OUTER_CASES - 1, Dim::index)
}

/// [`candidate_energies_nj_at`] per kind and per case of the nest's outermost loop of more than
/// one trip ([`outer_index`]): each holds for the mappings whose outermost loop is of that case
/// (infinite for a case no mapping is in). With `by_outer` false, every case may take the
/// value of the cheapest when one costs nothing more than any other.
#[allow(clippy::too_many_arguments)]
fn candidate_energies_by_outer(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    home: [usize; 3],
    input_floor_pj: f64,
    by_outer: bool,
    route: Option<OutputRoute>,
    walks: &nested::Walks,
    loads: nested::LoadClass,
) -> [[[f64; OUTER_CASES]; 3]; 2] {
    let (trips, _) = spatial::trips(w, s);
    let activations: u64 = trips.iter().product();
    let fill: u64 = s
        .iter()
        .filter(|f| f.axis == Axis::Cores)
        .map(|f| f.factor)
        .product();
    let p = layer_precision(t, w);
    let bits = |o: Operand| (w.operand_size(o) * p.bits(o, false)) as f64;
    let at = |o: Operand| &t.levels[home[o.index()]];
    let input_home = bits(Operand::I) * at(Operand::I).read_pj_per_bit;
    let output_home = match route {
        None => output_home_pj(t, w, &p, s, home),
        Some(OutputRoute::Streamed) => output_pass_pj(t, w, &p, home[Operand::O.index()]),
        Some(OutputRoute::Copied) => output_copy_pj(t, w, &p, s, home),
    };
    // Copied whole below their home, the outputs are neither fed nor refilled from it.
    let fed_from_home = route != Some(OutputRoute::Copied);
    // Whether the copy also fits as partial sums (`cimopt_ir::analysis::psum_levels`: the level
    // of a reduction loop holds them).
    let partial_copy_fits = route == Some(OutputRoute::Copied)
        && output_copy_at(t, w, &p, s, home, p.bits(Operand::O, true) as f64).is_finite();
    let weights = bits(Operand::W) * at(Operand::W).read_pj_per_bit;
    // Written into the macro's cells at their width there (padded or packed).
    let macro_write = (w.operand_size(Operand::W) * t.weight_cell_bits(p.weight)) as f64
        * t.levels[t.macro_level()].write_pj_per_bit;
    let mac = t.activation_energy_nj_at(&p) * activations as f64 * fill as f64;
    let e_i = cheapest_change_pj(t, w, &p, s, Operand::I, &trips, home, false);
    // Output changes refill a single-element register from partial sums unless every
    // reduction loop sits at it, which makes the innermost loop one over R, S or C: the
    // other kinds refill partial sums (as for their latency, `candidate_bounds_from`).
    let e_o_any = cheapest_change_pj(t, w, &p, s, Operand::O, &trips, home, false);
    let e_o_partial = cheapest_change_pj(t, w, &p, s, Operand::O, &trips, home, true);
    let product = |only: Operand| own_trips(&trips, only);
    let a = activations as f64;
    // Operands read from their homes in tiles, and what one more pass over each costs there.
    let split = tiled_at(t, w, &p, s, home);
    let sweep = [
        input_home,
        weights,
        output_pass_pj(t, w, &p, home[Operand::O.index()]),
    ];
    // Whether `o` changes at all: some loop over a dim it depends on has more than one trip.
    let changing = |o: Operand| {
        Dim::ALL
            .iter()
            .any(|d| d.relevant_to(o) && trips[d.index()] > 1)
    };
    // Inputs read from their home in tiles, under an outermost loop over a dim of their window,
    // are read in that many overlapping slabs (the halo of the kernel).
    let mut outermost: Vec<(Outermost, f64)> = outermost_loops(&trips, mac * 1e3)
        .into_iter()
        .map(|l| {
            let halo_pj = match l.dim {
                Some(d @ (Dim::P | Dim::Q | Dim::R | Dim::S))
                    if split[Operand::I.index()] && w.dilation == [1, 1] =>
                {
                    (halo(w, d, l.trips) - 1.0) * input_home
                }
                _ => 0.0,
            };
            (l, halo_pj)
        })
        .collect();
    // An outermost loop with no halo over a dim both inputs and outputs depend on, which the
    // weights depend on too or which leaves them whole below their home, costs nothing more:
    // then that case, the cheapest, is the only one to count.
    if !by_outer
        && outermost.iter().any(|(l, halo_pj)| {
            l.padding_pj == 0.0
                && *halo_pj == 0.0
                && l.dim.is_none_or(|d| {
                    d.relevant_to(Operand::I)
                        && d.relevant_to(Operand::O)
                        && (d.relevant_to(Operand::W) || !split[Operand::W.index()])
                })
        })
    {
        outermost = vec![(
            Outermost {
                dim: None,
                trips: 1.0,
                padding_pj: 0.0,
            },
            0.0,
        )];
    }
    // The boundaries that change one of inputs and outputs but not the other lie in runs of
    // loops over dims the weights depend on, so each one reloads the macros unless its run
    // sits at the macro, within the weights a cell holds; a reload reads a tile of weights at
    // a level above the macro (`reload_pj` at least). Where that is dearer than the change it
    // spares, the changes of the other operand are at least those outside such a run, less
    // one first load per distinct weight tile (at most `a / weightless`, the activations over
    // the trips of the dims the weights do not depend on).
    let cell = per_cell(t, &p);
    let (runs_i, runs_o) = (
        unreloaded_runs(&trips, Operand::I, cell, mac * 1e3),
        unreloaded_runs(&trips, Operand::O, cell, mac * 1e3),
    );
    let weightless: f64 = Dim::ALL
        .iter()
        .filter(|d| !d.relevant_to(Operand::W))
        .map(|d| trips[d.index()] as f64)
        .product();
    let reload_pj = t
        .levels_of(Operand::W)
        .into_iter()
        .filter(|&l| l >= home[Operand::W.index()] && l < t.macro_level())
        .map(|l| {
            fanout_elems(t, w, s, Operand::W, l) as f64
                * p.weight as f64
                * t.levels[l].read_pj_per_bit
                * instances(t, s, Operand::W, l)
        })
        .fold(f64::INFINITY, f64::min);
    let outside_run = |run: f64| (a / run - a / weightless).max(0.0);
    // The innermost loop of more than one trip ([`Innermost`]) changes the operands its dim
    // touches at every activation. Per kind, what padding a dim of one trip to two costs where
    // no dim of the kind has more.
    let innermost_padding =
        Innermost::ALL.map(|k| if k.has_trips(&trips) { 0.0 } else { mac * 1e3 });
    let reduction = product(Operand::I) as f64;
    // The output changes and weight reloads of a mapping whose reduction loops all sit at the
    // single-element output register (`gathered_reductions`): they are the innermost loops,
    // multiplying to `T' ≥ T`, so the outputs change `A/T'` times at least, and the boundaries
    // inside that run but outside the run at the macro (`r ≤ run_i`) reload the weights,
    // `A·(1/r − 1/T')` of them, each `r` weights per cell, less first loads (one per distinct
    // tile, `A / weightless` weights per cell in all): at least `A·(1 − run_i/T') − A/weightless`
    // weights per cell. Convex and piecewise linear in `1/T'`, so least at one of its breaks
    // or ends.
    let gathered_outputs = |e_o: f64, fewest_o: f64, run_i: f64| {
        let top = 1.0 / reduction.max(run_i);
        let cost = |x: f64| {
            e_o * fewest_o.max(a * x) + reload_pj * (a - run_i * a * x - a / weightless).max(0.0)
        };
        [top, fewest_o / a, (1.0 - 1.0 / weightless) / run_i, 0.0]
            .into_iter()
            .map(|x| cost(x.clamp(0.0, top)))
            .fold(f64::INFINITY, f64::min)
    };
    // The passes the first two loops force over operands that do not fit below their homes
    // together ([`nested`]), per walk, for each outermost case. Outputs copied whole below
    // their home are never read there again; the plain bounds have no walks to weigh.
    let outputs_reread = walks.deep()
        && match route {
            Some(OutputRoute::Streamed) => true,
            Some(OutputRoute::Copied) => false,
            None => output_copy_pj(t, w, &p, s, home).is_infinite(),
        };
    let walks: Vec<Rc<[nested::Walked]>> = outermost
        .iter()
        .map(|(l, _)| match l.dim {
            None if !by_outer && trips.iter().any(|&n| n > 1) => walks.of(None, 2),
            None => Rc::new([]),
            Some(d) => walks.of(Some(d), l.trips as u64),
        })
        .collect();
    // The least extra energy (pJ) over a case's walks in the class `loads`, each pass beyond
    // the first at the operand's home priced as the outermost loop's passes are (`sweep`), for
    // the operands `counted`. Infinite where no mapping of the case is in the class; nothing
    // where the case has no walks and the class holds its mappings.
    let nested_pj = |case: usize, counted: [bool; 3]| {
        if walks[case].is_empty() {
            return if loads.holds_unwalked() {
                0.0
            } else {
                f64::INFINITY
            };
        }
        walks[case]
            .iter()
            .filter(|x| loads.holds(x))
            .map(|x| {
                (0..3)
                    .filter(|&i| counted[i])
                    .map(|i| (x.passes[i] - 1.0).max(0.0) * sweep[i])
                    .sum::<f64>()
            })
            .fold(f64::INFINITY, f64::min)
    };
    // Where the output changes read the outputs at their home, they are those reads: each
    // sweep of a walk over the outputs' tiles there visits every one of the nest's output
    // tiles (`own_o` of them), so the sweeps scale the fewest changes instead of adding to the
    // energy. Per distinct count of sweeps over a case's walks in the class, the least extra
    // energy of the other operands.
    let own_o = (activations / product(Operand::I)) as f64;
    let by_output_passes = |case: usize, counted: [bool; 3]| -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = Vec::new();
        for x in walks[case].iter().filter(|x| loads.holds(x)) {
            let extra: f64 = (0..2)
                .filter(|&i| counted[i])
                .map(|i| (x.passes[i] - 1.0).max(0.0) * sweep[i])
                .sum();
            // Outputs that never change (one tile) count no sweeps.
            let q = if changing(Operand::O) {
                x.output_sweeps.max(1.0)
            } else {
                1.0
            };
            match out.iter_mut().find(|g| g.0 == q) {
                Some(g) => g.1 = g.1.min(extra),
                None => out.push((q, extra)),
            }
        }
        out
    };
    // Per kind, without the inputs' floor and with it.
    let least = |e_o: Change, gathered: bool| {
        let mut best = [[[f64::INFINITY; OUTER_CASES]; 3]; 2];
        for (case, &(outer, halo_pj)) in outermost.iter().enumerate() {
            // Copied under an outermost reduction loop, the outputs are partial sums where
            // they are held whole: no mapping of the case copies them if those fit nowhere.
            if route == Some(OutputRoute::Copied)
                && outer.dim.is_some_and(Dim::is_reduction)
                && !partial_copy_fits
            {
                continue;
            }
            let at = outer_index(outer.dim);
            // Fewest changes of each operand: every boundary outside the innermost run of loops
            // over dims only the other operand depends on changes it. The outermost loop is never
            // in that run when the operand changes at all, so a loop over such a dim there
            // leaves the run that many times fewer trips.
            let fewest = |o: Operand| {
                let own = (activations / product(other(o))) as f64;
                match outer.dim {
                    Some(d) if !d.relevant_to(o) && changing(o) => own * outer.trips,
                    _ => own,
                }
            };
            let (fewest_i, fewest_o) = (fewest(Operand::I), fewest(Operand::O));
            // `run_i`: the longest run at the macro of loops over dims only the inputs depend on
            // (boundaries that spare the outputs a change), `run_o` the same for the outputs.
            let changes = |e_i: f64, e_o: f64, run_i: f64, run_o: f64, paid: f64, o_passes: f64| {
                let fewest_o = fewest_o.max(o_passes * own_o);
                let min_o = if reload_pj >= e_o {
                    fewest_o.max(outside_run(run_i))
                } else {
                    fewest_o
                };
                let min_i = if reload_pj >= e_i {
                    fewest_i.max(outside_run(run_o))
                } else {
                    fewest_i
                };
                if activations <= 1 {
                    let one = if e_i <= e_o {
                        e_o * min_o + e_i * min_i.max(a + 1.0 - min_o)
                    } else {
                        e_i * min_i + e_o * min_o.max(a + 1.0 - min_i)
                    };
                    return [one; 3];
                }
                if gathered {
                    // Only an innermost loop over R, S or C gathers every reduction loop.
                    let mut only = [f64::INFINITY; 3];
                    only[Innermost::Inputs.index()] = e_i * a.max(min_i)
                        + gathered_outputs(e_o, fewest_o, run_i)
                        + (innermost_padding[Innermost::Inputs.index()] - paid).max(0.0);
                    return only;
                }
                Innermost::ALL.map(|k| {
                    let n_i = if k.changes(Operand::I) {
                        a.max(min_i)
                    } else {
                        min_i
                    };
                    let n_o = if k.changes(Operand::O) {
                        a.max(min_o)
                    } else {
                        min_o
                    };
                    e_i * n_i + e_o * n_o + (innermost_padding[k.index()] - paid).max(0.0)
                })
            };
            // Changes fed or refilled from the operand's home read it there, which is the home
            // read the home term counts: those cases count their changes instead of that term
            // (every element is fed at least once), including the first activation's.
            for (ei, hi, i_home) in [(e_i.away, input_home, false), (e_i.home, 0.0, true)] {
                for (eo, ho, o_home) in [(e_o.away, output_home, false), (e_o.home, 0.0, true)] {
                    if o_home && !fed_from_home {
                        continue;
                    }
                    // Longer runs than the trips allow pad them: more activations. Two paddings
                    // of the same dim cost at least the larger, of different dims their sum.
                    let switch_at = |o_passes: f64| {
                        let mut switch = [f64::INFINITY; 3];
                        for &(run_i, pad_i) in &runs_i {
                            for &(run_o, pad_o) in &runs_o {
                                let paid = (pad_i + pad_o).max(outer.padding_pj);
                                let changed = if i_home || o_home || activations > 1 {
                                    changes(ei, eo, run_i, run_o, paid, o_passes)
                                } else {
                                    [0.0; 3]
                                };
                                for k in 0..3 {
                                    switch[k] = switch[k].min(changed[k] + paid - outer.padding_pj);
                                }
                            }
                        }
                        switch
                    };
                    // An operand read from its home in tiles is read there again on every trip
                    // of an outermost loop over a dim it does not depend on; where the changes
                    // count its reads at the home, they have counted those passes already.
                    let again = |o: Operand| {
                        let by_changes = (o == Operand::I && i_home) || (o == Operand::O && o_home);
                        if split[o.index()]
                            && !by_changes
                            && outer.dim.is_some_and(|d| !d.relevant_to(o))
                        {
                            (outer.trips - 1.0) * sweep[o.index()]
                        } else {
                            0.0
                        }
                    };
                    // The inputs' reads at their home beyond once: this case's, or the floor
                    // the caller knows of, whichever is more.
                    let (inputs_again, floored) = if i_home {
                        (0.0, 0.0)
                    } else {
                        let again = again(Operand::I) + halo_pj;
                        (again, again.max(input_floor_pj))
                    };
                    // The passes of the nest's first two loops ([`nested`]) hold beside the
                    // outermost loop's and the floor: the larger counts. Where the changes read
                    // the outputs at their home, the walks' passes over the outputs count
                    // changes instead, one group of walks per count.
                    let groups = if o_home && outputs_reread && !walks[case].is_empty() {
                        by_output_passes(case, [!i_home, true, false])
                    } else {
                        let deeper = nested_pj(case, [!i_home, true, !o_home && outputs_reread]);
                        vec![(1.0, deeper)]
                    };
                    let again_wo = again(Operand::W) + again(Operand::O);
                    let rest = hi + ho + outer.padding_pj;
                    for (o_passes, deeper) in groups {
                        let switch = switch_at(o_passes);
                        for k in 0..3 {
                            best[0][k][at] = best[0][k][at]
                                .min(rest + switch[k] + (again_wo + inputs_again).max(deeper));
                            best[1][k][at] = best[1][k][at]
                                .min(rest + switch[k] + (again_wo + floored).max(deeper));
                        }
                    }
                }
            }
        }
        best
    };
    // The bound at any refill precision holds for every mapping; the partial sums' for every
    // one but those that gather the reduction loops at the register.
    let any = least(e_o_any, false);
    let best = if e_o_partial.away > e_o_any.away || e_o_partial.home > e_o_any.home {
        let partial = least(e_o_partial, false);
        let i = Innermost::Inputs.index();
        let rises = |j: usize| (0..OUTER_CASES).any(|c| partial[j][i][c] > any[j][i][c]);
        let gathered = (rises(0) || rises(1)).then(|| least(e_o_any, true));
        [0, 1].map(|j| {
            let mut best = any[j];
            for c in 0..OUTER_CASES {
                for k in [Innermost::Outputs, Innermost::Both] {
                    best[k.index()][c] = any[j][k.index()][c].max(partial[j][k.index()][c]);
                }
                // Only an innermost loop over R, S or C may gather the reduction loops: that
                // kind takes the smaller of the two cases, which can rise above `any` only when
                // both do.
                if let Some(gathered) = gathered.as_ref().filter(|_| rises(j)) {
                    best[i][c] = any[j][i][c].max(partial[j][i][c].min(gathered[j][i][c]));
                }
            }
            best
        })
    } else {
        any
    };
    best.map(|b| b.map(|k| k.map(|x| mac + (x + weights + macro_write) * 1e-3)))
}

/// The cheapest energy (pJ) of one change of an operand at the array: over the feeds that
/// read nothing at the operand's home, and over those that do (fed from it, or refilling a
/// single-element level from it).
#[derive(Clone, Copy, Debug)]
struct Change {
    away: f64,
    home: f64,
}

/// The least energy (pJ) the outputs cost at their home, plus the copy that keeps them below
/// it. The cost model either streams them through transfers from their home (the outermost
/// loop's level is the home: every output is read from it and written back at least once), or
/// reads them from the home once and copies them into the outermost level it uses, which then
/// holds every output of its instance: possible only at a level with the room for that. Layers
/// whose outputs fit in no level below their home pay both the read and the write back.
fn output_home_pj(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    homes: [usize; 3],
) -> f64 {
    output_pass_pj(t, w, p, homes[Operand::O.index()]).min(output_copy_pj(t, w, p, s, homes))
}

/// The least energy (pJ) of reading the outputs from their home once and copying them whole
/// into a level below that has the room for every output of its instance ([`output_home_pj`]);
/// infinite where no level has.
fn output_copy_pj(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    homes: [usize; 3],
) -> f64 {
    output_copy_at(t, w, p, s, homes, narrowest_output_bits(p))
}

/// [`output_copy_pj`] with the outputs held at `bits` per element where they are copied.
fn output_copy_at(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    homes: [usize; 3],
    bits: f64,
) -> f64 {
    let home = homes[Operand::O.index()];
    let o = Operand::O;
    let elems = w.operand_size(o) as f64;
    let h = &t.levels[home];
    t.levels_of(o)
        .into_iter()
        .filter(|&l| l > home)
        .filter(|&l| {
            elems / instances(t, s, o, l) * bits + pinned_bits(t, w, p, s, homes, l, Some(o))
                <= t.levels[l].capacity_bits as f64
        })
        .map(|l| elems * bits * (h.read_pj_per_bit + t.levels[l].write_pj_per_bit))
        .fold(f64::INFINITY, f64::min)
}

/// Partial sums or final outputs, whichever is narrower.
fn narrowest_output_bits(p: &Precision) -> f64 {
    p.bits(Operand::O, false).min(p.bits(Operand::O, true)) as f64
}

/// The least energy (pJ) of one pass over every output at `home`: read there and written back.
fn output_pass_pj(t: &Target, w: &Workload, p: &Precision, home: usize) -> f64 {
    let h = &t.levels[home];
    w.operand_size(Operand::O) as f64
        * narrowest_output_bits(p)
        * (h.read_pj_per_bit + h.write_pj_per_bit)
}

/// Bits that the tensors living at on-chip `level` (their home), other than `except`'s, take
/// there in every mapping: the cost model counts each home's tensor whole at its home
/// (`cimopt_ir::analysis::resident_bits`), whatever the loops. Each is counted as its
/// [`share_bits`], which never over-states it.
fn pinned_bits(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    homes: [usize; 3],
    level: usize,
    except: Option<Operand>,
) -> f64 {
    Operand::ALL
        .into_iter()
        .filter(|&x| level > 0 && homes[x.index()] == level && Some(x) != except)
        .map(|x| share_bits(t, w, p, s, x, level))
        .sum()
}

/// Bits of `o` one instance of `level` holds when it holds all of its instance's share: the
/// original extents split over the instances, which is never more than a mapping's (padded)
/// share, at the narrowest precision (outputs: partial sums or final, whichever is narrower),
/// so this never over-states it.
fn share_bits(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    o: Operand,
    level: usize,
) -> f64 {
    let e = instance_extents(t, w, s, o, level);
    let bits = if o == Operand::O {
        narrowest_output_bits(p)
    } else {
        precision_at(t, p, &[], level, o) as f64
    };
    w.operand_elements(&e, o) as f64 * bits
}

/// The extents of the workload one instance of `level` holds of `o` when it holds all of its
/// share: split over the instances the spatial factors above it fan out to.
fn instance_extents(
    t: &Target,
    w: &Workload,
    s: &[SpatialFactor],
    o: Operand,
    level: usize,
) -> [u64; 8] {
    let mut e = w.extents();
    for f in s {
        if t.axis(f.axis).source[o.index()] < level {
            e[f.dim.index()] = e[f.dim.index()].div_ceil(f.factor);
        }
    }
    e
}

/// What the [`InputSlabs`] cases of one candidate cost beyond its plain bound.
struct SlabCases {
    /// Per C factor of the run at the macro (a divisor of C's trips), the fewest trips the
    /// loops over P, Q and B at the inputs' home multiply to ([`fewest_slabs`]): how many
    /// times [`InputSlabs::ReloadWeights`] loads every weight.
    passes: Vec<(u64, f64)>,
    /// The runs at the macro of loops over the dims only the inputs depend on, C unpadded:
    /// (run, its C factor, the padding it multiplies the activations by).
    runs: Vec<(u64, u64, f64)>,
    /// pJ that [`InputSlabs::RereadInputs`] reads at the inputs' home beyond one pass.
    reread_pj: f64,
    /// Activations of [`InputSlabs::PaddedChannels`] over the candidate's, at least.
    padded: f64,
}

impl SlabCases {
    fn passes(&self, channels: u64) -> f64 {
        self.passes
            .iter()
            .find(|p| p.0 == channels)
            .map_or(1.0, |p| p.1)
    }
}

/// The [`InputSlabs`] cases of the spatial factors `s`, where they can raise a bound: the
/// inputs are read from their home in tiles; the weight trips over K, R and S exceed what a
/// cell holds, so some weight loop over K, R or S sits above the macros in every mapping that
/// leaves C and G unpadded; and the macro does not overlap its weight loads with work (not
/// ping-pong).
///
/// Where some loop over P, Q or B at the inputs' home lies inside a weight loop above the
/// macros, every weight loop above the macros is at the home outside it, and a loop over K, R
/// or S there is one: each of its trips reads every slab again ([`rereads`]).
fn slab_cases(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    home: [usize; 3],
    trips: &[u64; 8],
    cells: u64,
) -> Option<SlabCases> {
    let over_cells = [Dim::K, Dim::R, Dim::S]
        .iter()
        .fold(1u64, |x, d| x.saturating_mul(trips[d.index()]))
        > cells;
    if t.macro_.ping_pong || !over_cells || !tiled_at(t, w, p, s, home)[Operand::I.index()] {
        return None;
    }
    let once = w.operand_size(Operand::I) as f64;
    let again = rereads(w) - 1.0;
    let reread_pj = again
        * once
        * p.bits(Operand::I, false) as f64
        * t.levels[home[Operand::I.index()]].read_pj_per_bit;
    let c_trips = trips[Dim::C.index()];
    let channels: Vec<u64> = (1..=c_trips.min(cells))
        .filter(|c| c_trips.is_multiple_of(*c))
        .collect();
    let passes: Vec<(u64, f64)> = channels
        .iter()
        .map(|&c| {
            let slabs = fewest_slabs(t, w, p, s, home, c_trips / c, trips[Dim::G.index()]);
            (c, slabs)
        })
        .collect();
    if reread_pj <= 0.0 || passes.iter().all(|x| x.1 <= 1.0 || x.1.is_infinite()) {
        return None;
    }
    // The runs of the other dims only the inputs depend on (R, S), each with every C factor
    // that divides C's trips.
    let mut others = *trips;
    others[Dim::C.index()] = 1;
    let runs = cheap_runs(&others, Operand::I, cells)
        .into_iter()
        .flat_map(|(run, padding)| {
            channels
                .iter()
                .filter(move |&&c| run * c <= cells)
                .map(move |&c| (run * c, c, padding))
        })
        .collect();
    Some(SlabCases {
        passes,
        runs,
        reread_pj,
        padded: 1.0 + 1.0 / c_trips.max(trips[Dim::G.index()]) as f64,
    })
}

/// How many times at least a mapping reads its inputs at their home when a loop over K, R or
/// S there lies outside a loop that splits them into slabs. Each of its trips reads the inputs
/// of its slab of the window again: all of them for K (two trips at least, padded or not);
/// for `t` trips over R (S), the rows (columns) of `⌈R/t⌉` taps, which the tiles under it
/// count in full however the loops outside split the outputs ([`halo`]): a mapping may pad R
/// to any number of trips, so the bound takes the fewest reads over every `t`. With dilation
/// the tiles' counts include the rows between the taps, and only a 1×1 window per trip is
/// sure.
fn rereads(w: &Workload) -> f64 {
    if w.dilation != [1, 1] {
        let mut window = w.extents();
        window[Dim::R.index()] = 1;
        window[Dim::S.index()] = 1;
        let once = w.operand_size(Operand::I) as f64;
        return 2.0 * w.operand_elements(&window, Operand::I) as f64 / once;
    }
    // Beyond the window's taps every trip reads one tap's slab, and more trips read more.
    let fewest = |d: Dim| {
        (2..=w.extent(d).max(2))
            .map(|t| halo(w, d, t as f64))
            .fold(f64::INFINITY, f64::min)
    };
    2f64.min(fewest(Dim::R)).min(fewest(Dim::S))
}

/// The fewest trips the loops over P, Q and B at the inputs' home can multiply to, when those
/// over C and G there multiply to at most `c_split` and `g_split` and none is over R or S
/// ([`InputSlabs::ReloadWeights`]): the slab of inputs below them, the whole windows of its
/// outputs, must fit in some level below the home beside the tensors that live there
/// ([`pinned_bits`]). Infinite where no slab fits anywhere.
fn fewest_slabs(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    home: [usize; 3],
    c_split: u64,
    g_split: u64,
) -> f64 {
    let i = Operand::I;
    let mut best = u64::MAX;
    for l in t.levels_of(i).into_iter().filter(|&l| l > home[i.index()]) {
        let bits = precision_at(t, p, &[], l, i) as f64;
        let room = t.levels[l].capacity_bits as f64 - pinned_bits(t, w, p, s, home, l, Some(i));
        if room < bits {
            continue;
        }
        let room = (room / bits).floor() as u64;
        let e = instance_extents(t, w, s, i, l);
        let at = |d: Dim| e[d.index()];
        // The input rows (P) or columns (Q) the windows of `n` outputs along `d` touch.
        let span = |d: Dim, n: u64| {
            let mut one = [1u64; 8];
            one[d.index()] = n;
            let kernel = if d == Dim::P { Dim::R } else { Dim::S };
            one[kernel.index()] = at(kernel);
            w.operand_elements(&one, i)
        };
        let channels = at(Dim::C).div_ceil(c_split) * at(Dim::G).div_ceil(g_split);
        let widest = span(Dim::Q, at(Dim::Q));
        // Along P the ways only grow: once they reach the best product, no more can beat it.
        for (x_p, outputs) in slab_sizes(at(Dim::P)) {
            if x_p >= best {
                break;
            }
            let rows = span(Dim::P, outputs);
            for (x_b, batch) in slab_sizes(at(Dim::B)) {
                let column = rows.saturating_mul(channels).saturating_mul(batch);
                if column > room {
                    continue;
                }
                let columns = room / column;
                // The most outputs along Q whose windows fit in that many input columns.
                let x_q = if columns >= widest {
                    1
                } else {
                    let (mut lo, mut hi) = (0, at(Dim::Q));
                    while lo < hi {
                        let mid = (lo + hi).div_ceil(2);
                        if span(Dim::Q, mid) <= columns {
                            lo = mid;
                        } else {
                            hi = mid - 1;
                        }
                    }
                    if lo == 0 {
                        continue;
                    }
                    at(Dim::Q).div_ceil(lo)
                };
                best = best.min(x_p.saturating_mul(x_q).saturating_mul(x_b));
            }
        }
    }
    if best == u64::MAX {
        f64::INFINITY
    } else {
        best as f64
    }
}

/// Each slab size `⌈n / x⌉` of `n` split `x` ways, with the fewest ways that reach it.
fn slab_sizes(n: u64) -> impl Iterator<Item = (u64, u64)> {
    let mut x = 1;
    std::iter::from_fn(move || {
        if n == 0 || x > n {
            return None;
        }
        let size = n.div_ceil(x);
        let here = x;
        x = if size == 1 {
            n + 1
        } else {
            n.div_ceil(size - 1)
        };
        Some((here, size))
    })
}

/// Which operands fit whole in no level below their home (per instance of that level, beside
/// the tensors that live there), with the spatial factors `s`: every mapping reads them from
/// their home in tiles, and reads them there again for every trip of an outermost loop over a
/// dim they do not depend on ([`candidate_energy_nj_at`]).
pub fn read_in_tiles(t: &Target, w: &Workload, s: &[SpatialFactor], home: [usize; 3]) -> [bool; 3] {
    tiled_at(t, w, &layer_precision(t, w), s, home)
}

/// [`read_in_tiles`] at the layer's precisions `p`.
fn tiled_at(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    home: [usize; 3],
) -> [bool; 3] {
    Operand::ALL.map(|o| !fits_below(t, w, p, s, o, home))
}

/// Whether some level of `o` below its home has room for all of its instance's share of `o`
/// beside the tensors that live at that level ([`pinned_bits`]).
fn fits_below(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    o: Operand,
    homes: [usize; 3],
) -> bool {
    t.levels_of(o)
        .into_iter()
        .filter(|&l| l > homes[o.index()])
        .any(|l| {
            share_bits(t, w, p, s, o, l) + pinned_bits(t, w, p, s, homes, l, Some(o))
                <= t.levels[l].capacity_bits as f64
        })
}

/// What a nest's outermost loop of more than one trip can be, for the energy bound
/// ([`candidate_energy_nj_at`]): its dim (none when every trip count is 1), its fewest trips,
/// and what padding the dim's trips to make such a loop costs in activations (pJ).
///
/// An operand that fits whole in no level below its home is read from its home in tiles: its
/// first level is the home (a copy below would hold all of it), and the loops at the home, a
/// prefix of the nest, include a loop over one of its dims with more than one trip, or the
/// level below would hold all of it. Each iteration of the innermost such loop sends a tile, so
/// a loop over a dim the operand does not depend on above it sends every tile again, once per
/// iteration. The nest's outermost loop of more than one trip is at the home of every such
/// operand, above that operand's own loops there. A loop over a dim of `n` trips has at least
/// the smallest prime factor of `n` trips, or the mapping pads `n` for it, which adds
/// activations (`mac_pj` is what the activations cost unpadded): a loop of two trips over `n`
/// padded to even costs least of those (a larger padded loop costs more of both).
#[derive(Clone, Copy, Debug)]
struct Outermost {
    dim: Option<Dim>,
    trips: f64,
    padding_pj: f64,
}

fn outermost_loops(trips: &[u64; 8], mac_pj: f64) -> Vec<Outermost> {
    if trips.iter().all(|&n| n == 1) {
        return vec![Outermost {
            dim: None,
            trips: 1.0,
            padding_pj: 0.0,
        }];
    }
    let mut out = Vec::new();
    for d in Dim::ALL {
        let n = trips[d.index()];
        if n >= 2 {
            out.push(Outermost {
                dim: Some(d),
                trips: smallest_prime_factor(n) as f64,
                padding_pj: 0.0,
            });
        }
        if !n.is_multiple_of(2) {
            out.push(Outermost {
                dim: Some(d),
                trips: 2.0,
                padding_pj: mac_pj / n as f64,
            });
        }
    }
    out
}

/// How many times the whole input a loop of `trips` trips over `d` (P, Q, R or S) reads when
/// each of its iterations reads the inputs of its slab: at least `trips` times the inputs of
/// `⌈extent / trips⌉` along `d`, over the inputs of the whole extent. Above 1 where the
/// kernel's windows overlap across slabs. Tiles below the loop read at least their slab's
/// inputs: without dilation (the only case the caller asks about) the cost model counts a
/// tile's inputs as exactly the distinct rows (columns) its windows touch, capped at the
/// input's height (width), and those counts add up to at least the union's.
fn halo(w: &Workload, d: Dim, trips: f64) -> f64 {
    let whole = w.extents();
    let mut slab = whole;
    slab[d.index()] = whole[d.index()].div_ceil(trips as u64);
    let all = w.operand_elements(&whole, Operand::I) as f64;
    if all == 0.0 {
        return 1.0;
    }
    (trips * w.operand_elements(&slab, Operand::I) as f64 / all).max(1.0)
}

fn smallest_prime_factor(n: u64) -> u64 {
    (2..)
        .take_while(|f| f * f <= n)
        .find(|f| n.is_multiple_of(*f))
        .unwrap_or(n)
}

/// Instances of `level` that operand `o` uses: the spatial fan-out above it.
fn instances(t: &Target, s: &[SpatialFactor], o: Operand, level: usize) -> f64 {
    s.iter()
        .filter(|f| t.axis(f.axis).source[o.index()] < level)
        .map(|f| f.factor as f64)
        .product()
}

/// The cheapest energy (pJ) of one change of `o` (inputs or outputs) at the array, over every
/// level that may feed it, priced as the cost model prices transfers: the tile read at the
/// feeding level (outputs: also written back), the pass through the register when the level is
/// not the register (outputs: both ways), and the refill of a single-element level from a
/// level above (outputs: both ways), at the lowest precision a level above may hold, or with
/// `partial_refills` at the feeding one ([`cheapest_feed`]).
#[allow(clippy::too_many_arguments)]
fn cheapest_change_pj(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    o: Operand,
    trips: &[u64; 8],
    home: [usize; 3],
    partial_refills: bool,
) -> Change {
    let (feed_p, low_p) = feed_precisions(p, o, trips, partial_refills);
    let ways = if o == Operand::O { 2.0 } else { 1.0 };
    let lv = |l: usize| &t.levels[l];
    let both = |l: usize| {
        if o == Operand::O {
            lv(l).read_pj_per_bit + lv(l).write_pj_per_bit
        } else {
            lv(l).read_pj_per_bit
        }
    };
    let reg = t.innermost(o);
    let levels = feeding_levels(t, o, home);
    let h = home[o.index()];
    let mut best = Change {
        away: f64::INFINITY,
        home: f64::INFINITY,
    };
    let mut keep = |touches_home: bool, pj: f64| {
        if touches_home {
            best.home = best.home.min(pj);
        } else {
            best.away = best.away.min(pj);
        }
    };
    for (pos, &l) in levels.iter().enumerate() {
        let elems = fanout_elems(t, w, s, o, l) as f64;
        let mut pj = elems * (feed_p as f64) * both(l) * instances(t, s, o, l);
        if l != reg {
            pj += ways
                * (feed_p as f64)
                * (lv(reg).read_pj_per_bit + lv(reg).write_pj_per_bit)
                * instances(t, s, o, reg);
        }
        if lv(l).capacity_bits < 2 * feed_p && pos > 0 {
            // Written into `l` (and, for outputs, read back out of it) at each change, after
            // a read (and write-back) at a level above.
            let child = elems
                * (feed_p as f64)
                * if o == Operand::O {
                    lv(l).read_pj_per_bit + lv(l).write_pj_per_bit
                } else {
                    lv(l).write_pj_per_bit
                }
                * instances(t, s, o, l);
            for &up in &levels[..pos] {
                let parent = fanout_elems(t, w, s, o, up) as f64
                    * low_p as f64
                    * both(up)
                    * instances(t, s, o, up);
                keep(l == h || up == h, pj + child + parent);
            }
        } else {
            keep(l == h, pj);
        }
    }
    best
}

/// Temporal trips of the dims only `o` (inputs or outputs) depends on, not the other one.
fn own_trips(trips: &[u64; 8], o: Operand) -> u64 {
    Dim::ALL
        .iter()
        .filter(|d| d.relevant_to(o) && !d.relevant_to(other(o)))
        .map(|d| trips[d.index()])
        .product()
}

/// The precision of `o` at the level feeding the array, and the one its refills from a level
/// above move: the lowest any level above may hold, or with `partial_refills` the feeding one.
/// With a temporal reduction the feeding level holds partial sums (it is at or below the
/// reduction's loop); a level above may hold final outputs.
fn feed_precisions(
    p: &Precision,
    o: Operand,
    trips: &[u64; 8],
    partial_refills: bool,
) -> (u64, u64) {
    let reduces = Dim::ALL
        .iter()
        .any(|d| d.is_reduction() && trips[d.index()] > 1);
    let (feed, low) = match o {
        Operand::O => (p.bits(o, reduces), p.bits(o, true).min(p.bits(o, false))),
        _ => (p.bits(o, false), p.bits(o, false)),
    };
    (feed, if partial_refills { feed } else { low })
}

/// The levels that may feed the array `o` (or be refilled on its way there), outer to inner:
/// those that hold it, at or below its home.
fn feeding_levels(t: &Target, o: Operand, home: [usize; 3]) -> Vec<usize> {
    t.levels_of(o)
        .into_iter()
        .filter(|&l| l >= home[o.index()])
        .collect()
}

/// The operand relevant to the dims `o` alone is not (inputs ↔ outputs).
fn other(o: Operand) -> Operand {
    match o {
        Operand::I => Operand::O,
        _ => Operand::I,
    }
}

/// Elements of `o` that one transfer from `level` carries at least: the spatial fan-out below
/// that level.
fn fanout_elems(t: &Target, w: &Workload, s: &[SpatialFactor], o: Operand, level: usize) -> u64 {
    let mut e = [1u64; 8];
    for f in s {
        if t.axis(f.axis).source[o.index()] >= level {
            e[f.dim.index()] *= f.factor;
        }
    }
    w.operand_elements(&e, o)
}

fn transfer_cycles(t: &Target, elems: u64, precision: u64, from: usize) -> u64 {
    (elems * precision).div_ceil(t.levels[from].read_bw)
}

/// The cheapest cycles one change of `o` (inputs or outputs) at the array can cost, over every
/// level that may feed the array: the feed itself (+1 through the register when the level is
/// not the register), plus, when that level holds a single element and cannot double-buffer,
/// the refill from some level above it (a loop that changes the tile cannot sit at such a
/// level). Outputs count once here; they move twice. With `partial_refills` the refill moves
/// the feeding precision (outputs: partial sums wherever a reduction loop has trips), else the
/// lowest any level above may hold.
#[allow(clippy::too_many_arguments)]
fn cheapest_feed(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    o: Operand,
    trips: &[u64; 8],
    home: [usize; 3],
    partial_refills: bool,
) -> u64 {
    feeds(t, w, p, s, o, trips, home, partial_refills)
        .iter()
        .map(|f| f.cycles)
        .min()
        .expect("validated: every operand has a level")
}

/// One level that may feed the array `o`, as [`cheapest_feed`] prices it.
struct Feed {
    /// The feed, with the refill a single-element level needs at every change.
    cycles: u64,
    /// How many tiles of the array's fan-out the level holds at the feeding precision, where it
    /// holds more than one and cannot double-buffer (`None`: no limit that costs a refill).
    tiles: Option<u64>,
    /// The cheapest refill of the level from a level above it.
    refill: u64,
}

/// [`cheapest_feed`]'s levels, outer to inner.
#[allow(clippy::too_many_arguments)]
fn feeds(
    t: &Target,
    w: &Workload,
    p: &Precision,
    s: &[SpatialFactor],
    o: Operand,
    trips: &[u64; 8],
    home: [usize; 3],
    partial_refills: bool,
) -> Vec<Feed> {
    let (feed_p, low_p) = feed_precisions(p, o, trips, partial_refills);
    let levels = feeding_levels(t, o, home);
    levels
        .iter()
        .enumerate()
        .map(|(pos, &l)| {
            let fanout = fanout_elems(t, w, s, o, l);
            let feed = transfer_cycles(t, fanout, feed_p, l) + u64::from(l != t.innermost(o));
            let refill = levels[..pos]
                .iter()
                .map(|&up| transfer_cycles(t, fanout_elems(t, w, s, o, up), low_p, up))
                .min();
            // A loop that changes the tile at `l` would keep two elements there, at the
            // feeding precision.
            let single_element = t.levels[l].capacity_bits < 2 * feed_p;
            let buffered = t.may_double_buffer(l, o);
            let tiles = (!single_element && !buffered && refill.is_some())
                .then(|| t.levels[l].capacity_bits / (fanout * feed_p).max(1));
            Feed {
                cycles: feed
                    + if single_element && !buffered {
                        refill.unwrap_or(0)
                    } else {
                        0
                    },
                tiles,
                refill: refill.unwrap_or(0),
            }
        })
        .collect()
}

/// What the output changes at the array cost at least (both ways), for the latency bound.
/// Every change costs `least`. A level that feeds the array, holds a few tiles and cannot
/// double-buffer (the output register, 16 bits: two 8-bit outputs) keeps a tile only while the
/// loops over the outputs' dims (P, Q, K, G, B) inside it multiply to at most `tiles`; loops
/// over R, S and C leave its tile alone. So its tile changes at least `O/tiles − 1` times
/// (`O`: the trips of the outputs' dims), each at a boundary that writes it back and refills
/// it from a level above: at least `refilled`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct OutputChanges {
    least: f64,
    /// `∞` where no level limits the cheap changes.
    tiles: f64,
    refilled: f64,
}

impl OutputChanges {
    /// Over every level a mapping may feed the outputs from: the least chain, and the fewest
    /// cycles `refilled` that the refills of a limited level cost, or any change where the
    /// level's chain reaches that (`tiles`: the most any cheaper level holds).
    fn of(feeds: &[Feed]) -> OutputChanges {
        let chain = |f: &Feed| 2.0 * f.cycles as f64;
        let least = feeds.iter().map(chain).fold(f64::INFINITY, f64::min);
        let refilled = feeds
            .iter()
            .map(|f| match f.tiles {
                Some(_) => chain(f) + 2.0 * f.refill as f64,
                None => chain(f),
            })
            .fold(f64::INFINITY, f64::min);
        let tiles = feeds
            .iter()
            .filter(|f| chain(f) < refilled)
            .map(|f| f.tiles.map_or(f64::INFINITY, |n| n as f64))
            .fold(1.0, f64::max);
        OutputChanges {
            least,
            tiles,
            refilled,
        }
    }

    /// The boundaries that refill the outputs' feeding level at least, of a layer whose
    /// outputs' dims take `output_trips` trips.
    fn refills(&self, output_trips: f64) -> f64 {
        (output_trips / self.tiles - 1.0).max(0.0)
    }
}

/// A lower bound on a whole model's EDP, `(Σ E)·(Σ L)`, over every schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelBound {
    /// cycle·nJ.
    pub edp: f64,
    /// The latency (cycles) and energy (nJ, leakage included) of the point where the bound is
    /// reached; neither is a bound on its own.
    pub latency_cycles: f64,
    pub energy_nj: f64,
}

/// The lowest model EDP any schedule can have, given each layer's candidate bounds (`copies`
/// identical layers may each pick another case). Each layer copy's (energy without leakage,
/// latency) lies above one of its bound points, so the model's lies above the Minkowski sum
/// of the layers' point sets, hence above the sum of their lower-left convex chains.
/// `(E₀ + leakage·L)·L` grows with both and, along a straight edge of that chain, is a concave
/// or monotone function of the position, so its minimum is at a vertex.
pub fn model_edp_bound(t: &Target, layers: &[(u64, Vec<CandidateBound>)]) -> ModelBound {
    let leak = t.leakage_nj_per_cycle;
    let mut at = (0.0f64, 0.0f64);
    let mut edges: Vec<(f64, f64)> = Vec::new();
    for (copies, bounds) in layers {
        let chain = lower_left_chain(bounds.iter().map(|b| (b.energy_nj, b.cycles)).collect());
        let Some(first) = chain.first() else {
            continue;
        };
        let c = *copies as f64;
        at = (at.0 + c * first.0, at.1 + c * first.1);
        for pair in chain.windows(2) {
            let e = (pair[1].0 - pair[0].0, pair[1].1 - pair[0].1);
            edges.extend(std::iter::repeat_n(e, *copies as usize));
        }
    }
    // Walk the summed chain: edges from the steepest descent to the flattest.
    edges.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
    let edp = |(e0, l): (f64, f64)| (e0 + leak * l) * l;
    let mut best = at;
    for (de, dl) in edges {
        at = (at.0 + de, at.1 + dl);
        if edp(at) < edp(best) {
            best = at;
        }
    }
    ModelBound {
        edp: edp(best),
        latency_cycles: best.1,
        energy_nj: best.0 + leak * best.1,
    }
}

/// The lower-left convex chain of points `(x, y)`: x increasing, y decreasing, convex; every
/// point lies on or above and to the right of it.
fn lower_left_chain(mut pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut chain: Vec<(f64, f64)> = Vec::new();
    for p in pts {
        if chain.last().is_some_and(|h| p.1 >= h.1) {
            continue; // no lower than a point to its left
        }
        while let [.., a, b] = chain[..] {
            // `b` above the segment a–p is not on the chain.
            if (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0) <= 0.0 {
                chain.pop();
            } else {
                break;
            }
        }
        chain.push(p);
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(energy_nj: f64, cycles: f64) -> CandidateBound {
        CandidateBound {
            weight_source: 0,
            innermost: Innermost::Both,
            slabs: InputSlabs::Any,
            outputs: OutputRoute::Streamed,
            compute_cycles: 0.0,
            switch_cycles: 0.0,
            weight_cycles: 0.0,
            cycles,
            cycles_by_outer: [cycles; OUTER_CASES],
            energy_nj,
            energy_by_outer: [energy_nj; OUTER_CASES],
        }
    }

    /// A 3×3 convolution whose channels take two trips: the longest unpadded run over R, S and
    /// C at a macro of 8 weights per cell is 6 (R3·C2); a longer one pads R or S to 4 (a third
    /// more activations); K in 4 trips runs whole, and longer only padded.
    #[test]
    fn the_runs_that_spare_a_reload_stop_at_the_weights_a_cell_holds() {
        let mut trips = [1u64; 8];
        for (d, n) in [
            (Dim::R, 3),
            (Dim::S, 3),
            (Dim::C, 2),
            (Dim::K, 4),
            (Dim::P, 56),
        ] {
            trips[d.index()] = n;
        }
        let close = |runs: Vec<(f64, f64)>, want: [(f64, f64); 2]| {
            assert_eq!(runs.len(), 2, "{runs:?}");
            for (got, want) in runs.iter().zip(want) {
                assert!(got.0 == want.0 && (got.1 - want.1).abs() < 1e-9, "{runs:?}");
            }
        };
        close(
            unreloaded_runs(&trips, Operand::I, 8, 300.0),
            [(6.0, 0.0), (8.0, 100.0)],
        );
        // A run of 5 pads K to 5: the least padding of any run longer than 4.
        close(
            unreloaded_runs(&trips, Operand::O, 8, 300.0),
            [(4.0, 0.0), (8.0, 75.0)],
        );
    }

    /// ResNet's 3×3 convolution at 56×56 with 64 channels in and out, padded by one (so the
    /// whole input is 56 rows): ResNet-18's `layer1.0.conv1`.
    fn layer1_conv1() -> Workload {
        Workload {
            h: 56,
            w: 56,
            pad: [1; 4],
            ..Workload::square_conv(3, 56, 64, 64, 1, 1)
        }
    }

    /// The spatial unrolling the optimiser ships for [`layer1_conv1`] on `default`.
    fn layer1_conv1_spatial() -> Vec<SpatialFactor> {
        [
            (Axis::Cores, Dim::Q, 8),
            (Axis::Rows, Dim::C, 32),
            (Axis::Cols, Dim::K, 16),
        ]
        .map(|(axis, dim, factor)| SpatialFactor { axis, dim, factor })
        .to_vec()
    }

    /// Where the weights do not fit in the macros, an outermost loop over P, Q, G or B loads
    /// every weight once per trip, at least its fewest trips (Q's 7 pad to 2); over a dim the
    /// weights depend on, once. Where they fit (a 1×1 convolution of 8 channels in and out on
    /// 8×8 cells), every case loads them once.
    #[test]
    fn an_outermost_loop_the_weights_do_not_depend_on_loads_them_again() {
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let w = layer1_conv1();
        let p = layer_precision(&t, &w);
        let (trips, _) = spatial::trips(&w, &layer1_conv1_spatial());
        assert_eq!(trips, [3, 3, 56, 7, 2, 4, 1, 1]);
        let passes = weight_passes_by_outer(&t, &p, &trips);
        for d in Dim::ALL {
            let expected = if d.relevant_to(Operand::W) { 1.0 } else { 2.0 };
            assert_eq!(passes[outer_index(Some(d))], expected, "{d:?}");
        }
        assert_eq!(passes[outer_index(None)], 1.0);
        let small = Workload::square_conv(1, 4, 8, 8, 1, 1);
        let s = [(Axis::Rows, Dim::C, 8), (Axis::Cols, Dim::K, 8)]
            .map(|(axis, dim, factor)| SpatialFactor { axis, dim, factor });
        let (trips, _) = spatial::trips(&small, &s);
        assert_eq!(weight_passes_by_outer(&t, &p, &trips), [1.0; OUTER_CASES]);
        // The latency bound of those cases holds the extra loads; the others keep `cycles`.
        // A route that copies the outputs below their home may hide them under the copies'
        // cycles (the work without weight loads plus both copies).
        let lb = lower_bound_at(&t, &w, [0; 3]).unwrap();
        let bounds = candidate_bounds(&t, &w, &layer1_conv1_spatial(), &lb);
        assert!(bounds.iter().any(|b| b.outputs == OutputRoute::Streamed));
        for b in bounds {
            for d in Dim::ALL {
                let c = b.cycles_by_outer[outer_index(Some(d))];
                if d.relevant_to(Operand::W) {
                    assert_eq!(c, b.cycles);
                } else if b.outputs == OutputRoute::Streamed {
                    assert!(c > b.cycles, "{d:?} {b:?}");
                } else {
                    assert!(c >= b.cycles, "{d:?} {b:?}");
                }
            }
        }
    }

    /// On `default` a cell holds 8 weights. Loops K4 C2 S3 R3 (inner last): the run at the
    /// macro may hold R3 at most (R3 S3 is 9), so S3 sits above the macros, and a P7 outside
    /// it sends every weight 7 times, a P2 and a Q7 outside it 14 times; inside it (P7 under
    /// S3) or with the weights' loops all fitting a cell (R3 S2), once.
    #[test]
    fn the_loops_outside_the_weights_above_the_macros_load_them_again() {
        use Dim::*;
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let w = layer1_conv1();
        let passes = |loops: &[(Dim, u64)]| skeleton_weight_passes(&t, &w, loops);
        assert_eq!(passes(&[(P, 7), (K, 4), (C, 2), (S, 3), (R, 3)]), 7);
        assert_eq!(
            passes(&[(P, 2), (K, 4), (Q, 7), (C, 2), (S, 3), (R, 3)]),
            14
        );
        assert_eq!(passes(&[(K, 4), (C, 2), (S, 3), (P, 7), (R, 3)]), 1);
        assert_eq!(passes(&[(P, 7), (S, 2), (Q, 3), (R, 3)]), 1);
        assert_eq!(passes(&[]), 1);
    }

    /// A nest's own order limits its runs: with Q14 C2 S3 innermost (inner last) only the C2 S3
    /// boundaries spare the outputs a change (run 6, all of it fitting a cell of 8), and an R3
    /// outside Q keeps the register from holding every reduction loop; with C2 R3 S3
    /// innermost the run is 18, of which S3 alone fits a cell (R3 S3 is 9). K4 innermost spares
    /// the inputs: run 4.
    #[test]
    fn a_nest_s_order_fixes_its_runs() {
        use Dim::*;
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let w = layer1_conv1();
        let shape = nest_shape(&t, &w, &[(P, 7), (K, 4), (R, 3), (Q, 14), (C, 2), (S, 3)]);
        assert_eq!(shape.cheap_run, [6, 1]);
        assert_eq!(shape.macro_run, [6, 1]);
        assert!(!shape.gathers);
        assert_eq!(shape.passes, 7);
        let shape = nest_shape(&t, &w, &[(P, 7), (K, 4), (Q, 14), (C, 2), (R, 3), (S, 3)]);
        assert_eq!(shape.cheap_run, [18, 1]);
        assert_eq!(shape.macro_run, [3, 1]);
        assert!(shape.gathers);
        let shape = nest_shape(&t, &w, &[(C, 2), (R, 3), (S, 3), (P, 7), (K, 4)]);
        assert_eq!((shape.cheap_run, shape.macro_run), ([1, 4], [1, 4]));
        assert!(!shape.gathers);
    }

    /// The slabs of an outermost P or Q loop overlap by the kernel's halo (and an R or S loop's
    /// slabs each read nearly every row): ResNet's 3×3 at 56×56 (padded by one, so the whole
    /// input is 56 rows) read in 2 slabs reads 2·30 rows, in 7 slabs 7·10; a stride-2 3×3
    /// overlaps by one row per slab; a 1×1 not at all.
    #[test]
    fn the_slabs_of_an_outermost_loop_overlap_by_the_halo() {
        let padded = layer1_conv1();
        assert_eq!(halo(&padded, Dim::P, 2.0), 60.0 / 56.0);
        assert_eq!(halo(&padded, Dim::Q, 7.0), 70.0 / 56.0);
        // Each of three slabs of R reads every row its outputs touch: all of them.
        assert_eq!(halo(&padded, Dim::R, 3.0), 3.0);
        // 29 rows of outputs at stride 2 read 59 input rows, 15 of them 31.
        let strided = Workload::square_conv(3, 29, 8, 8, 1, 2);
        assert_eq!(halo(&strided, Dim::P, 2.0), 62.0 / 59.0);
        assert_eq!(
            halo(&Workload::square_conv(1, 28, 8, 8, 1, 1), Dim::P, 7.0),
            1.0
        );
        assert_eq!(halo(&Workload::matmul(64, 32, 16), Dim::P, 2.0), 1.0);
    }

    #[test]
    fn slab_sizes_lists_each_size_with_the_fewest_ways() {
        let sizes: Vec<(u64, u64)> = slab_sizes(7).collect();
        assert_eq!(sizes, [(1, 7), (2, 4), (3, 3), (4, 2), (7, 1)]);
        assert_eq!(slab_sizes(1).collect::<Vec<_>>(), [(1, 1)]);
        assert_eq!(slab_sizes(0).count(), 0);
    }

    /// ResNet-18's `layer1.0.conv1` on `default` with its outputs kept in the global buffer
    /// (1.6 of its 2 Mbit): the inputs (1.6 Mbit in DRAM) are read in slabs. With channels
    /// split in two at their home, a slab of 28 output rows (30 input rows) fits beside the
    /// outputs (30·56·32 bytes), not one of 56; with both channel trips in the run at the
    /// macro, slabs of 14 (16·56·64 bytes). A weight loop over K, R or S outside a slab reads
    /// the 1.6 Mbit of inputs from DRAM again (7.91 pJ/bit).
    #[test]
    fn input_slabs_that_fit_beside_the_outputs_set_the_weight_passes() {
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let w = layer1_conv1();
        let s = layer1_conv1_spatial();
        let p = layer_precision(&t, &w);
        let (trips, _) = spatial::trips(&w, &s);
        let home = [0, 0, 1];
        let cases = slab_cases(&t, &w, &p, &s, home, &trips, per_cell(&t, &p)).unwrap();
        assert_eq!(cases.passes, [(1, 2.0), (2, 4.0)]);
        assert_eq!(cases.reread_pj, 1605632.0 * 7.91);
        assert_eq!(cases.padded, 1.5);
        // The run R3·C2 takes both channel trips; R3 alone takes none.
        assert!(cases.runs.contains(&(6, 2, 1.0)));
        assert!(cases.runs.contains(&(3, 1, 1.0)));
        // At stride 2 a 3×3 window's taps read half the rows each: three trips over R read
        // the inputs 1.5 times, fewer than two over K.
        let strided = Workload {
            h: 56,
            w: 56,
            pad: [1; 4],
            ..Workload::square_conv(3, 28, 64, 128, 1, 2)
        };
        assert_eq!(rereads(&strided), 1.5);
        assert_eq!(rereads(&w), 2.0);
        // With every tensor in DRAM the inputs fit in the global buffer: no slabs.
        assert!(slab_cases(&t, &w, &p, &s, [0; 3], &trips, per_cell(&t, &p)).is_none());
    }

    /// The cases by where the innermost weight loop above the macros sits against the loops
    /// over P and Q at the inputs' home, on the mapping the optimiser ships for ResNet-18's
    /// `layer1.0.conv1` on `default` and on three reorderings of it.
    #[test]
    fn a_mapping_s_input_slabs_follow_its_loop_order() {
        use cimopt_ir::{Mapping, TemporalLoop};
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let w = layer1_conv1();
        let mapping = |temporal: &[(Dim, u64, [usize; 3])]| Mapping {
            spatial: layer1_conv1_spatial(),
            temporal: temporal
                .iter()
                .map(|&(dim, factor, level)| TemporalLoop { dim, factor, level })
                .collect(),
            double_buffer: vec![],
            padded_dims: w.extents(),
            home: [0, 0, 1],
        };
        // Q7 splits the inputs at DRAM; every weight loop above the macros is inside it.
        let shipped = mapping(&[
            (Dim::Q, 7, [0, 0, 1]),
            (Dim::C, 2, [0, 1, 2]),
            (Dim::S, 3, [1, 1, 2]),
            (Dim::K, 4, [1, 1, 2]),
            (Dim::P, 56, [3, 1, 2]),
            (Dim::R, 3, [3, 6, 2]),
        ]);
        assert_eq!(InputSlabs::of(&t, &w, &shipped), InputSlabs::ReloadWeights);
        // The weight loops first: Q7 splits the inputs inside them (with R3·S3 at the macro,
        // more weights than a cell holds: only the case is asserted, and no loop over R or S
        // at the home decides it).
        let reread = mapping(&[
            (Dim::K, 4, [0, 0, 1]),
            (Dim::C, 2, [0, 0, 1]),
            (Dim::Q, 7, [0, 1, 1]),
            (Dim::S, 3, [3, 6, 2]),
            (Dim::P, 56, [3, 6, 2]),
            (Dim::R, 3, [3, 6, 2]),
        ]);
        assert_eq!(InputSlabs::of(&t, &w, &reread), InputSlabs::RereadInputs);
        // The run's channel loop at the inputs' home (and with it every loop outside it, S3
        // too): the slabs need not split the channels, but the weight loops outside it read
        // the inputs again.
        let run_at_home = mapping(&[
            (Dim::P, 2, [0, 0, 1]),
            (Dim::K, 4, [0, 1, 1]),
            (Dim::S, 3, [0, 1, 1]),
            (Dim::C, 2, [0, 6, 2]),
            (Dim::Q, 7, [3, 6, 2]),
            (Dim::P, 28, [3, 6, 2]),
            (Dim::R, 3, [3, 6, 2]),
        ]);
        assert_eq!(
            InputSlabs::of(&t, &w, &run_at_home),
            InputSlabs::RereadInputs
        );
        // C in four trips where the candidate has two: padded channels.
        let padded = mapping(&[
            (Dim::Q, 7, [0, 0, 1]),
            (Dim::C, 4, [0, 1, 2]),
            (Dim::S, 3, [1, 1, 2]),
            (Dim::K, 4, [1, 1, 2]),
            (Dim::P, 56, [3, 1, 2]),
            (Dim::R, 3, [3, 6, 2]),
        ]);
        assert_eq!(InputSlabs::of(&t, &w, &padded), InputSlabs::PaddedChannels);
    }

    /// An input the memory plan keeps whole in the global buffer leaves no room there for a
    /// copy of the outputs: with output buffers too small for them, they are read from DRAM and
    /// written back; with the input in DRAM, they may be copied into the global buffer.
    #[test]
    fn an_input_kept_in_the_global_buffer_leaves_the_outputs_in_dram() {
        let t = cimopt_target::load(
            "default",
            &[
                "levels.1.capacity=\"16KiB\"".to_string(),
                "levels.2.capacity=\"2KiB\"".to_string(),
            ],
        )
        .unwrap()
        .target;
        let w = Workload::square_conv(3, 28, 16, 16, 1, 1);
        // K on the cores: every core needs the whole input, more than its input buffer holds.
        let s = [
            SpatialFactor {
                axis: Axis::Cores,
                dim: Dim::K,
                factor: 4,
            },
            SpatialFactor {
                axis: Axis::Rows,
                dim: Dim::C,
                factor: 16,
            },
            SpatialFactor {
                axis: Axis::Cols,
                dim: Dim::K,
                factor: 4,
            },
        ];
        let p = layer_precision(&t, &w);
        let dram = &t.levels[0];
        let streamed = (w.operand_size(Operand::O) * 8) as f64
            * (dram.read_pj_per_bit + dram.write_pj_per_bit);
        let pinned = output_home_pj(&t, &w, &p, &s, [1, 0, 0]);
        assert!(
            (pinned - streamed).abs() < 1e-9 * streamed,
            "{pinned} vs {streamed}"
        );
        assert!(output_home_pj(&t, &w, &p, &s, [0, 0, 0]) < 0.6 * streamed);
    }

    /// A 3×3 kernel whose channels are all spatial leaves R3 and S3 as the cheap loops: with
    /// 8 weights per cell a run of 3 needs no padding, longer ones pad R or S (or C) and
    /// multiply the activations, and the least padded way is kept for each length.
    #[test]
    fn the_cheap_runs_pad_the_trips_they_do_not_divide() {
        let mut trips = [1u64; 8];
        trips[Dim::R.index()] = 3;
        trips[Dim::S.index()] = 3;
        trips[Dim::K.index()] = 4;
        trips[Dim::P.index()] = 14;
        let runs = cheap_runs(&trips, Operand::I, 8);
        let expected = [
            (1, 1.0),
            (2, 4.0 / 3.0),
            (3, 1.0),
            (4, 4.0 / 3.0),
            (5, 5.0 / 3.0),
            (6, 4.0 / 3.0),
            (7, 7.0 / 3.0),
            (8, 16.0 / 9.0),
        ];
        assert_eq!(runs.len(), expected.len(), "{runs:?}");
        for ((run, padding), (r, p)) in runs.iter().zip(expected) {
            assert_eq!(*run, r, "{runs:?}");
            assert!((padding - p).abs() < 1e-12, "run {run}: {padding} vs {p}");
        }
        // The outputs' cheap dim is K alone: every run up to 8 divides or pads it.
        let runs = cheap_runs(&trips, Operand::O, 8);
        assert_eq!(
            runs.iter().map(|r| r.0).collect::<Vec<_>>(),
            (1..=8).collect::<Vec<_>>()
        );
        assert_eq!(runs[3], (4, 1.0));
        // A cell of 2^40 weights: the runs stop at twice the trips' product (R3·S3), and the
        // energy bound's runs are the same as if every length had been listed.
        let runs = cheap_runs(&trips, Operand::I, 1 << 40);
        assert_eq!(runs.len(), 18, "{runs:?}");
        assert_eq!(runs[8], (9, 1.0));
        assert_eq!(runs[11], (12, 4.0 / 3.0));
        let energy = unreloaded_runs(&trips, Operand::I, 1 << 40, 300.0);
        assert_eq!(energy.len(), 2, "{energy:?}");
        assert_eq!(energy[0], (9.0, 0.0));
        assert_eq!(energy[1].0, (1u64 << 40) as f64);
        assert!((energy[1].1 - 100.0).abs() < 1e-9, "{energy:?}");
    }

    #[test]
    fn the_chain_keeps_the_convex_lower_left_points() {
        let chain = lower_left_chain(vec![
            (1.0, 10.0),
            (2.0, 9.5), // above the segment (1,10)–(3,4)
            (3.0, 4.0),
            (4.0, 5.0), // dominated
            (6.0, 1.0),
            (5.0, 3.0), // above the segment (3,4)–(6,1)
        ]);
        assert_eq!(chain, vec![(1.0, 10.0), (3.0, 4.0), (6.0, 1.0)]);
    }

    /// The Minkowski walk finds the same minimum as trying every combination of points.
    #[test]
    fn the_model_bound_is_the_best_combination_on_small_cases() {
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let leak = t.leakage_nj_per_cycle;
        let a = vec![
            point(100.0, 4000.0),
            point(300.0, 1000.0),
            point(900.0, 800.0),
        ];
        let b = vec![point(50.0, 9000.0), point(400.0, 2000.0)];
        let bound = model_edp_bound(&t, &[(2, a.clone()), (1, b.clone())]);
        let mut brute = f64::INFINITY;
        for x in &a {
            for y in &a {
                for z in &b {
                    let e0 = x.energy_nj + y.energy_nj + z.energy_nj;
                    let l = x.cycles + y.cycles + z.cycles;
                    brute = brute.min((e0 + leak * l) * l);
                }
            }
        }
        // The chain is convex, so the bound may sit below the best discrete combination, never
        // above it.
        assert!(bound.edp <= brute * (1.0 + 1e-12), "{bound:?} vs {brute}");
        assert!(bound.edp >= 0.5 * brute, "{bound:?} vs {brute}");
        // With single points the bound is exact.
        let exact = model_edp_bound(&t, &[(3, vec![point(10.0, 100.0)])]);
        assert!((exact.edp - (30.0 + leak * 300.0) * 300.0).abs() < 1e-9);
    }
}
