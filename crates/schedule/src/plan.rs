//! The memory plan of a schedule (format 1.1.0): where every tensor of the model lives, for
//! how long, and where each layer's buffers sit in every level. A code generator allocates
//! from it; `check` verifies it ([`check_plan`]).
//!
//! Offsets and sizes are in **bits**. A shared level (DRAM, the global buffer) has one address
//! space; a per-core level has one per instance, laid out alike (a buffer's offset is the same
//! in every instance it uses). Time is the plan's **steps**: the model's nodes in execution
//! order (its layers and the non-CIM operators between them); a tensor is live from the step
//! that writes it (step 0 for the model's inputs and the weights) to the last step that reads
//! it (the last step for the model's outputs and the weights); a layer's buffers live during
//! its step only.

use cimopt_ir::analysis::{double_buffered, resident_bits};
use cimopt_ir::{Layer, Mapping};
use cimopt_target::{Operand, Replication, Target};
use std::fmt;

/// What a tensor of the plan is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    /// A data input of the model: it arrives in DRAM.
    Input,
    /// An output of the model: it ends in DRAM.
    Output,
    /// Computed by one node and read by others.
    Activation,
    /// A layer's constant weights.
    Weight,
}

impl TensorKind {
    pub fn name(self) -> &'static str {
        match self {
            TensorKind::Input => "input",
            TensorKind::Output => "output",
            TensorKind::Activation => "activation",
            TensorKind::Weight => "weight",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            TensorKind::Input,
            TensorKind::Output,
            TensorKind::Activation,
            TensorKind::Weight,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// One step of the execution order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanStep {
    /// A CIM layer, by id.
    Layer(usize),
    /// A non-CIM node (run by the vector unit or the host), by ONNX name and op type.
    Op { name: String, op: String },
}

/// A tensor and where it lives. Tensors that a node updates in place (a ReLU, the Add of a
/// residual) are one plan tensor: its `aliases` are the ONNX names it goes by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedTensor {
    /// Its index in [`MemoryPlan::tensors`].
    pub id: usize,
    /// The ONNX name of the first tensor of the buffer (for a weight: `<layer name>.W`).
    pub name: String,
    /// Every ONNX name the buffer holds over its life, in order.
    pub aliases: Vec<String>,
    pub kind: TensorKind,
    /// Size in bits (the largest of its ONNX tensors, padded extents of the layers that touch
    /// it included).
    pub bits: u64,
    /// The level it lives in.
    pub home: usize,
    /// Its offset in its home, bits.
    pub offset: u64,
    /// The first and last step it is live (inclusive).
    pub live: [usize; 2],
}

/// A layer's buffer in a level: the tiles of one operand, both halves when double-buffered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedBuffer {
    /// The layer's id.
    pub layer: usize,
    pub level: usize,
    pub operand: Operand,
    /// Instances of the level it occupies (per-core levels: the cores, rows or cells in use).
    pub instances: u64,
    /// Offset in each instance, bits.
    pub offset: u64,
    /// Size in each instance, bits, both halves together.
    pub bits: u64,
    /// 2 when double-buffered (the second half starts at `offset + bits / 2`), else 1.
    pub halves: u64,
}

/// The tensors a layer reads and writes (ids into [`MemoryPlan::tensors`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedIo {
    pub layer: usize,
    pub input: usize,
    pub weight: usize,
    pub output: usize,
}

/// The same model with every tensor in DRAM (`--residency off`): what the plan saves.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlanBaseline {
    pub latency_cycles: f64,
    pub energy_nj: f64,
    /// Bits read from and written to DRAM by the layers.
    pub dram_bits: f64,
}

/// The memory plan of a schedule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryPlan {
    /// Whether tensors were allowed to stay on chip (`--residency on`).
    pub residency: bool,
    pub steps: Vec<PlanStep>,
    pub tensors: Vec<PlannedTensor>,
    pub buffers: Vec<PlannedBuffer>,
    /// One per layer of the schedule, in its order.
    pub layers: Vec<PlannedIo>,
    /// The residency-off numbers, when residency is on.
    pub baseline: Option<PlanBaseline>,
}

impl MemoryPlan {
    /// The step of layer `id`.
    pub fn step_of(&self, id: usize) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| matches!(s, PlanStep::Layer(l) if *l == id))
    }
}

/// One thing wrong with a plan, naming the tensor or buffer, the level and the layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanViolation(pub String);

impl fmt::Display for PlanViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An allocation of the plan at one level: `[start, end)` bits, live over steps
/// `[first, last]`, in instance space (`shared` levels have one).
struct Allocation {
    what: String,
    level: usize,
    start: u64,
    end: u64,
    first: usize,
    last: usize,
}

fn level_name(t: &Target, lv: usize) -> String {
    t.levels
        .get(lv)
        .map_or_else(|| format!("level #{lv}"), |l| format!("`{}`", l.name))
}

/// Everything wrong with a plan for these layers on `t` (empty when it is right): every
/// tensor and buffer inside its level's capacity; no two allocations of one level overlapping
/// while both are live; each layer's operand homes the homes of the tensors the plan gives it;
/// each layer's buffers those its mapping needs (sizes, instances, halves); the steps naming
/// every layer once.
pub fn check_plan(
    t: &Target,
    layers: &[(&Layer, &Mapping)],
    plan: &MemoryPlan,
) -> Vec<PlanViolation> {
    let mut out = Vec::new();
    let mut bad = |s: String| out.push(PlanViolation(s));
    let nl = t.num_levels();
    let n_steps = plan.steps.len();
    // Steps and layers.
    for (layer, _) in layers {
        let at = plan
            .steps
            .iter()
            .filter(|s| matches!(s, PlanStep::Layer(l) if *l == layer.index))
            .count();
        if at != 1 {
            bad(format!(
                "steps: layer {} `{}` appears {at} times in the execution order (once expected)",
                layer.index,
                cimopt_ir::display_name(&layer.name)
            ));
        }
    }
    for (k, t_) in plan.tensors.iter().enumerate() {
        if t_.id != k {
            bad(format!("tensors[{k}]: id {} is not its index", t_.id));
        }
        if t_.home >= nl {
            bad(format!(
                "tensor `{}`: home level #{} does not exist",
                t_.name, t_.home
            ));
            continue;
        }
        if t_.live[0] > t_.live[1] || t_.live[1] >= n_steps.max(1) {
            bad(format!(
                "tensor `{}`: live range {:?} is not inside the {n_steps} steps",
                t_.name, t_.live
            ));
        }
        let level = &t.levels[t_.home];
        if t_.home > 0 && level.replication != Replication::Shared {
            bad(format!(
                "tensor `{}`: its home {} is per core; a tensor lives in a level every core reads",
                t_.name,
                level_name(t, t_.home)
            ));
        }
        if matches!(t_.kind, TensorKind::Input | TensorKind::Output) && t_.home != 0 {
            bad(format!(
                "tensor `{}`: a model {} lives in {}, not {}",
                t_.name,
                t_.kind.name(),
                level_name(t, 0),
                level_name(t, t_.home)
            ));
        }
    }
    let tensor = |id: usize| plan.tensors.get(id);
    // Layers: their tensors' homes, their buffers.
    if plan.layers.len() != layers.len() {
        bad(format!(
            "layers: the plan lists {} layers, the schedule has {}",
            plan.layers.len(),
            layers.len()
        ));
    }
    for (io, (layer, m)) in plan.layers.iter().zip(layers) {
        let who = format!(
            "layer {} `{}`",
            layer.index,
            cimopt_ir::display_name(&layer.name)
        );
        if io.layer != layer.index {
            bad(format!("layers: {who} is listed as layer {}", io.layer));
            continue;
        }
        let step = plan.step_of(layer.index);
        for (o, id) in [
            (Operand::I, io.input),
            (Operand::W, io.weight),
            (Operand::O, io.output),
        ] {
            let Some(tt) = tensor(id) else {
                bad(format!("{who}: its {o} tensor #{id} does not exist"));
                continue;
            };
            if tt.home != m.home_of(o) {
                bad(format!(
                    "{who}: reads or writes {o} in {} but the plan keeps tensor `{}` in {}",
                    level_name(t, m.home_of(o)),
                    tt.name,
                    level_name(t, tt.home)
                ));
            }
            if let Some(s) = step
                && (s < tt.live[0] || s > tt.live[1])
            {
                bad(format!(
                    "{who}: tensor `{}` ({o}) is not live at its step {s} (live {:?})",
                    tt.name, tt.live
                ));
            }
        }
        // The buffers its mapping needs.
        let bits = resident_bits(t, &layer.workload, m);
        for (lv, needs) in bits.iter().enumerate().take(nl).skip(1) {
            for o in Operand::ALL {
                let need = needs[o.index()];
                let is_home = lv == m.home_of(o);
                let listed: Vec<&PlannedBuffer> = plan
                    .buffers
                    .iter()
                    .filter(|b| b.layer == layer.index && b.level == lv && b.operand == o)
                    .collect();
                let want = need > 0 && !is_home;
                match (want, listed.as_slice()) {
                    (false, []) => {}
                    (true, [b]) => {
                        if b.bits != need {
                            bad(format!(
                                "{who}: its {o} buffer in {} holds {} bit, its mapping needs {need}",
                                level_name(t, lv),
                                b.bits
                            ));
                        }
                        let halves = if double_buffered(t, m, lv, o) { 2 } else { 1 };
                        if b.halves != halves {
                            bad(format!(
                                "{who}: its {o} buffer in {} has {} halves, its mapping {halves}",
                                level_name(t, lv),
                                b.halves
                            ));
                        }
                    }
                    (true, []) => bad(format!(
                        "{who}: no buffer for {o} in {} (its mapping keeps {need} bit there)",
                        level_name(t, lv)
                    )),
                    (false, _) => bad(format!(
                        "{who}: a buffer for {o} in {}, where its mapping keeps nothing of its own",
                        level_name(t, lv)
                    )),
                    (true, _) => bad(format!(
                        "{who}: {} buffers for {o} in {} (one expected)",
                        listed.len(),
                        level_name(t, lv)
                    )),
                }
            }
        }
    }
    // Space and time: capacity and overlaps per level.
    let mut allocs: Vec<Allocation> = Vec::new();
    for tt in &plan.tensors {
        allocs.push(Allocation {
            what: format!("tensor `{}`", tt.name),
            level: tt.home,
            start: tt.offset,
            end: tt.offset.saturating_add(tt.bits),
            first: tt.live[0],
            last: tt.live[1],
        });
    }
    for b in &plan.buffers {
        let Some(step) = plan.step_of(b.layer) else {
            bad(format!(
                "buffer of layer {}: the layer has no step",
                b.layer
            ));
            continue;
        };
        if b.level >= nl || b.level == 0 {
            bad(format!(
                "buffer of layer {} ({}): level #{} is not an on-chip level",
                b.layer, b.operand, b.level
            ));
            continue;
        }
        allocs.push(Allocation {
            what: format!("layer {}'s {} buffer", b.layer, b.operand),
            level: b.level,
            start: b.offset,
            end: b.offset.saturating_add(b.bits),
            first: step,
            last: step,
        });
    }
    for lv in 0..nl {
        let cap = t.levels[lv].capacity_bits;
        let here: Vec<&Allocation> = allocs.iter().filter(|a| a.level == lv).collect();
        for a in &here {
            if a.end > cap {
                bad(format!(
                    "{} in {}: bits {}..{} go past its capacity {cap}",
                    a.what,
                    level_name(t, lv),
                    a.start,
                    a.end
                ));
            }
        }
        for (i, a) in here.iter().enumerate() {
            for b in &here[i + 1..] {
                let in_time = a.first <= b.last && b.first <= a.last;
                let in_space = a.start < b.end && b.start < a.end;
                if in_time && in_space {
                    bad(format!(
                        "{} and {} overlap in {} (bits {}..{} and {}..{}) while both are live (steps {}..{} and {}..{})",
                        a.what,
                        b.what,
                        level_name(t, lv),
                        a.start,
                        a.end,
                        b.start,
                        b.end,
                        a.first,
                        a.last,
                        b.first,
                        b.last
                    ));
                }
            }
        }
    }
    out
}
