//! Building a schedule's memory plan: the model's run-time tensors grouped into buffers, each
//! with a home level, an offset and a live range, and every layer's buffers placed around them
//! (docs/memory-plan.md).
//!
//! ```text
//! flow (cimopt-onnx) ──groups──▶ plan tensors (in-place operators share a buffer)
//!                    ──homes (DRAM, or on chip when the residency optimiser chose so)──▶
//!                    ──offsets: greedy by size over live ranges, per level──▶ MemoryPlan
//! ```

use cimopt_ir::analysis::{double_buffered, resident_bits};
use cimopt_ir::{Layer, Mapping};
use cimopt_onnx::Model;
use cimopt_onnx::flow::{Flow, FlowNodeKind};
use cimopt_schedule::plan::{
    MemoryPlan, PlanStep, PlannedBuffer, PlannedIo, PlannedTensor, TensorKind,
};
use cimopt_target::{Operand, Replication, Target};

/// How a non-CIM operator touches memory (docs/memory-plan.md, "Operators between layers").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpAccess {
    /// Element-wise, or a view (reshape, flatten): its output may overwrite an input of the
    /// same size that nothing else reads, in place.
    InPlace,
    /// Writes a new tensor from its inputs (pooling, concatenation, a transpose, a
    /// normalisation over a window): on chip when both fit.
    Copy,
    /// Not modelled: its inputs and outputs stay in DRAM, where the host reads and writes them.
    Opaque,
}

/// The memory behaviour of an ONNX operator between layers.
pub fn op_access(op: &str) -> OpAccess {
    match op {
        "Relu"
        | "LeakyRelu"
        | "PRelu"
        | "Clip"
        | "Sigmoid"
        | "HardSigmoid"
        | "HardSwish"
        | "Tanh"
        | "Gelu"
        | "Erf"
        | "Sqrt"
        | "Exp"
        | "Log"
        | "Neg"
        | "Abs"
        | "Softplus"
        | "Mish"
        | "Elu"
        | "Selu"
        | "Celu"
        | "ThresholdedRelu"
        | "Reciprocal"
        | "Floor"
        | "Ceil"
        | "Round"
        | "Sign"
        | "Not"
        | "BatchNormalization"
        | "LayerNormalization"
        | "InstanceNormalization"
        | "GroupNormalization"
        | "SimplifiedLayerNormalization"
        | "SkipLayerNormalization"
        | "Softmax"
        | "LogSoftmax"
        | "Dropout"
        | "Identity"
        | "Cast"
        | "QuantizeLinear"
        | "DequantizeLinear"
        | "DynamicQuantizeLinear"
        | "Reshape"
        | "Flatten"
        | "Squeeze"
        | "Unsqueeze"
        | "Add"
        | "Sub"
        | "Mul"
        | "Div"
        | "Pow"
        | "Max"
        | "Min"
        | "Sum"
        | "Mean"
        | "Where"
        | "Equal"
        | "Less"
        | "Greater"
        | "And"
        | "Or"
        | "Xor"
        | "QLinearAdd"
        | "QLinearMul"
        | "QLinearSigmoid"
        | "QLinearLeakyRelu"
        | "FastGelu"
        | "BiasGelu"
        | "QuickGelu" => OpAccess::InPlace,
        "MaxPool"
        | "AveragePool"
        | "GlobalAveragePool"
        | "GlobalMaxPool"
        | "LpPool"
        | "QLinearAveragePool"
        | "QLinearGlobalAveragePool"
        | "QLinearConcat"
        | "Concat"
        | "Split"
        | "Slice"
        | "Pad"
        | "Resize"
        | "Upsample"
        | "Transpose"
        | "Gather"
        | "GatherElements"
        | "ReduceMean"
        | "ReduceSum"
        | "ReduceMax"
        | "ReduceMin"
        | "ReduceProd"
        | "ReduceL2"
        | "Expand"
        | "Tile"
        | "DepthToSpace"
        | "SpaceToDepth"
        | "ArgMax"
        | "ArgMin"
        | "TopK"
        | "CumSum"
        | "Shape"
        | "Size" => OpAccess::Copy,
        _ => OpAccess::Opaque,
    }
}

/// A buffer of run-time data: one flow tensor, or several when in-place operators write into
/// the buffer of their input.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The flow tensors it holds, in the order they are written.
    pub tensors: Vec<usize>,
    pub kind: TensorKind,
    /// Bits: the largest of its tensors at its width ([`tensor_widths`]), padded extents of
    /// the layers that touch it included.
    pub bits: u64,
    /// The first step that writes it and the last that reads it (inclusive).
    pub live: [usize; 2],
    /// Whether it may live on chip: not a model input or output, not touched by an operator
    /// whose memory traffic is not modelled, of known size.
    pub may_stay_on_chip: bool,
}

/// The groups of a model's flow and, per flow tensor, its group.
#[derive(Clone, Debug, PartialEq)]
pub struct Groups {
    pub groups: Vec<Group>,
    pub of_tensor: Vec<usize>,
    /// Per layer: the groups of its input, run-time weight (if any) and output.
    pub layer_io: Vec<(usize, Option<usize>, usize)>,
    /// Per flow node: its step (the flow's node order is the execution order).
    pub steps: usize,
}

/// Bits per element of each flow tensor: the widest at which a layer reads or writes it (a
/// layer's input, run-time weight and output precisions, `cimopt_ir::analysis::
/// layer_precision`); a tensor no layer touches (between non-CIM operators only) at the
/// target's activation width, the wider of its input and output precisions.
pub fn tensor_widths(model: &Model, t: &Target) -> Vec<u64> {
    let own = &t.macro_.precision;
    let mut width: Vec<Option<u64>> = vec![None; model.flow.tensors.len()];
    let mut widen = |i: usize, bits: u64| {
        if let Some(w) = width.get_mut(i) {
            *w = Some(w.map_or(bits, |w| w.max(bits)));
        }
    };
    for (layer, io) in model.layers.iter().zip(&model.flow.layer_io) {
        let p = cimopt_ir::analysis::layer_precision(t, &layer.workload);
        widen(io.input, p.input);
        if let Some(w) = io.weight {
            widen(w, p.weight);
        }
        widen(io.output, p.output);
    }
    width
        .into_iter()
        .map(|w| w.unwrap_or(own.input.max(own.output)))
        .collect()
}

/// Groups the flow's tensors into buffers, with live ranges and sizes. `padded[l]` is layer
/// `l`'s mapping's padded input, weight and output sizes in elements (a layer that pads writes
/// and reads past the real extent).
pub fn groups(model: &Model, t: &Target, padded: &[[u64; 3]]) -> Groups {
    let flow: &Flow = &model.flow;
    let n = flow.tensors.len();
    // Consumers of each tensor.
    let mut readers = vec![0usize; n];
    for node in &flow.nodes {
        for &i in &node.inputs {
            readers[i] += 1;
        }
    }
    // Union by in-place writes.
    let mut of_tensor: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        let mut y = x;
        while p[y] != r {
            let next = p[y];
            p[y] = r;
            y = next;
        }
        r
    }
    for node in &flow.nodes {
        let FlowNodeKind::Op(_) = node.kind else {
            continue;
        };
        if op_access(&node.op_type) != OpAccess::InPlace || node.outputs.len() != 1 {
            continue;
        }
        let out = node.outputs[0];
        let size = flow.tensors[out].elements;
        // The first input of the same size that this node alone reads, and that is not a model
        // input (which must stay as it came): the output overwrites it.
        if let Some(&into) = node.inputs.iter().find(|&&i| {
            readers[i] == 1 && flow.tensors[i].elements == size && !flow.tensors[i].model_input
        }) {
            let (a, b) = (find(&mut of_tensor, into), find(&mut of_tensor, out));
            of_tensor[b] = a;
        }
    }
    let roots: Vec<usize> = (0..n).map(|i| find(&mut of_tensor, i)).collect();
    let mut root_group: std::collections::BTreeMap<usize, usize> = Default::default();
    let bits_per = tensor_widths(model, t);
    let steps = flow.nodes.len();
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of = vec![0usize; n];
    for i in 0..n {
        let g = *root_group.entry(roots[i]).or_insert_with(|| {
            groups.push(Group {
                tensors: Vec::new(),
                kind: TensorKind::Activation,
                bits: 0,
                live: [usize::MAX, 0],
                may_stay_on_chip: true,
            });
            groups.len() - 1
        });
        group_of[i] = g;
        let tensor = &flow.tensors[i];
        let grp = &mut groups[g];
        grp.tensors.push(i);
        grp.bits = grp.bits.max(tensor.elements.saturating_mul(bits_per[i]));
        if tensor.model_input {
            grp.kind = TensorKind::Input;
            grp.live[0] = 0;
            grp.may_stay_on_chip = false;
        }
        if tensor.model_output {
            grp.kind = TensorKind::Output;
            grp.live[1] = steps.saturating_sub(1);
            grp.may_stay_on_chip = false;
        }
        if tensor.elements == 0 {
            grp.may_stay_on_chip = false;
        }
    }
    for (step, node) in flow.nodes.iter().enumerate() {
        let opaque = match node.kind {
            FlowNodeKind::Layer(_) => false,
            FlowNodeKind::Op(_) => op_access(&node.op_type) == OpAccess::Opaque,
            FlowNodeKind::Skipped(_) => true,
        };
        for &i in node.inputs.iter().chain(&node.outputs) {
            let g = &mut groups[group_of[i]];
            g.live[0] = g.live[0].min(step);
            g.live[1] = g.live[1].max(step);
            if opaque {
                g.may_stay_on_chip = false;
            }
        }
    }
    let layer_io: Vec<(usize, Option<usize>, usize)> = flow
        .layer_io
        .iter()
        .map(|io| {
            (
                group_of[io.input],
                io.weight.map(|w| group_of[w]),
                group_of[io.output],
            )
        })
        .collect();
    // A layer that pads reads and writes its padded extents, at its own widths.
    for (l, &(i, w, o)) in layer_io.iter().enumerate() {
        let p = padded.get(l).copied().unwrap_or([0; 3]);
        let Some(layer) = model.layers.get(l) else {
            continue;
        };
        let lp = cimopt_ir::analysis::layer_precision(t, &layer.workload);
        groups[i].bits = groups[i].bits.max(p[0].saturating_mul(lp.input));
        if let Some(w) = w {
            groups[w].bits = groups[w].bits.max(p[1].saturating_mul(lp.weight));
        }
        groups[o].bits = groups[o].bits.max(p[2].saturating_mul(lp.output));
    }
    for g in &mut groups {
        if g.live[0] == usize::MAX {
            g.live[0] = 0;
        }
    }
    Groups {
        groups,
        of_tensor: group_of,
        layer_io,
        steps,
    }
}

/// The on-chip level tensors may live in: the largest shared level below DRAM that holds
/// inputs and outputs (the global buffer), if the target has one.
pub fn resident_level(t: &Target) -> Option<usize> {
    (1..t.num_levels())
        .filter(|&l| {
            let lv = &t.levels[l];
            lv.replication == Replication::Shared
                && lv.holds.contains(Operand::I)
                && lv.holds.contains(Operand::O)
        })
        .max_by_key(|&l| t.levels[l].capacity_bits)
}

/// An interval of a level's address space in use over steps `[first, last]`.
#[derive(Clone, Copy, Debug)]
struct Taken {
    start: u64,
    end: u64,
    first: usize,
    last: usize,
}

/// The lowest offset where `bits` fit over steps `[first, last]` next to what is taken, or
/// `None` when that would pass `capacity`.
fn lowest_fit(taken: &[Taken], bits: u64, first: usize, last: usize, capacity: u64) -> Option<u64> {
    let mut busy: Vec<(u64, u64)> = taken
        .iter()
        .filter(|x| x.first <= last && first <= x.last)
        .map(|x| (x.start, x.end))
        .collect();
    busy.sort();
    let mut at = 0u64;
    for (s, e) in busy {
        if at.saturating_add(bits) <= s {
            break;
        }
        at = at.max(e);
    }
    (at.saturating_add(bits) <= capacity).then_some(at)
}

/// Why a plan could not be laid out: a level's space is too fragmented (or too small) at a
/// step for what must live there.
#[derive(Clone, Debug, PartialEq)]
pub struct NoRoom {
    pub level: usize,
    pub step: usize,
    /// The node of that step, as the user knows it (`layer `name`` or `Relu `name``).
    pub node: String,
    /// What did not fit, bits.
    pub bits: u64,
    pub what: String,
}

/// Lays out a plan: `home[g]` is group `g`'s level; `layers` the schedule's layers (in model
/// order, each with its mapping, whose homes must agree with the groups'). Tensors are placed
/// first, largest first, each at the lowest offset free over its live range; then each layer's
/// buffers, largest first, in what its step leaves free.
pub fn lay_out(
    model: &Model,
    t: &Target,
    g: &Groups,
    home: &[usize],
    layers: &[(&Layer, &Mapping)],
    residency: bool,
) -> Result<MemoryPlan, NoRoom> {
    let flow = &model.flow;
    let nl = t.num_levels();
    let mut taken: Vec<Vec<Taken>> = vec![Vec::new(); nl];
    let mut steps: Vec<PlanStep> = Vec::with_capacity(flow.nodes.len());
    let mut layer_step = vec![0usize; model.layers.len()];
    let scheduled: std::collections::BTreeSet<usize> =
        layers.iter().map(|(l, _)| l.index).collect();
    for (k, node) in flow.nodes.iter().enumerate() {
        steps.push(match node.kind {
            FlowNodeKind::Layer(l) if scheduled.contains(&l) => {
                layer_step[l] = k;
                PlanStep::Layer(model.layers[l].index)
            }
            // A layer left out of the schedule (`--keep-going`): the host runs it.
            FlowNodeKind::Layer(l) => PlanStep::Op {
                name: model.layers[l].name.clone(),
                op: format!("{} (skipped)", node.op_type),
            },
            FlowNodeKind::Op(o) => PlanStep::Op {
                name: model.other_ops[o].name.clone(),
                op: node.op_type.clone(),
            },
            FlowNodeKind::Skipped(s) => PlanStep::Op {
                name: model.skipped[s].name.clone(),
                op: node.op_type.clone(),
            },
        });
    }
    let last_step = steps.len().saturating_sub(1);
    // The run-time tensors, then one weight tensor per layer with constant weights.
    struct Item {
        name: String,
        aliases: Vec<String>,
        kind: TensorKind,
        bits: u64,
        home: usize,
        live: [usize; 2],
    }
    let mut items: Vec<Item> = g
        .groups
        .iter()
        .zip(home)
        .map(|(grp, &h)| Item {
            name: flow.tensors[grp.tensors[0]].name.clone(),
            aliases: grp
                .tensors
                .iter()
                .map(|&i| flow.tensors[i].name.clone())
                .collect(),
            kind: grp.kind,
            bits: grp.bits,
            home: h,
            live: grp.live,
        })
        .collect();
    let mut weight_item = vec![None; model.layers.len()];
    for (layer, m) in layers {
        let l = layer.index;
        if g.layer_io[l].1.is_none() {
            let w = cimopt_ir::analysis::executed_workload(&layer.workload, m);
            weight_item[l] = Some(items.len());
            items.push(Item {
                name: format!("{}.W", layer.name),
                aliases: Vec::new(),
                kind: TensorKind::Weight,
                bits: w.operand_size(Operand::W)
                    * cimopt_ir::analysis::layer_precision(t, &w).weight,
                home: m.home_of(Operand::W),
                live: [0, last_step],
            });
        }
    }
    // Largest first, then earliest.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        items[b]
            .bits
            .cmp(&items[a].bits)
            .then(items[a].live[0].cmp(&items[b].live[0]))
            .then(a.cmp(&b))
    });
    let mut offset = vec![0u64; items.len()];
    for &k in &order {
        let it = &items[k];
        let lv = it.home;
        let cap = t.levels[lv].capacity_bits;
        let Some(at) = lowest_fit(&taken[lv], it.bits, it.live[0], it.live[1], cap) else {
            return Err(NoRoom {
                level: lv,
                step: it.live[0],
                node: step_node(model, &steps[it.live[0].min(last_step)]),
                bits: it.bits,
                what: format!("tensor `{}`", it.name),
            });
        };
        offset[k] = at;
        taken[lv].push(Taken {
            start: at,
            end: at + it.bits,
            first: it.live[0],
            last: it.live[1],
        });
    }
    let tensors: Vec<PlannedTensor> = items
        .iter()
        .enumerate()
        .map(|(k, it)| PlannedTensor {
            id: k,
            name: it.name.clone(),
            aliases: it.aliases.clone(),
            kind: it.kind,
            bits: it.bits,
            home: it.home,
            offset: offset[k],
            live: it.live,
        })
        .collect();
    // Each layer's buffers, in its step.
    let mut buffers = Vec::new();
    let mut io = Vec::new();
    for (layer, m) in layers {
        let l = layer.index;
        let step = layer_step[l];
        let (gi, gw, go) = g.layer_io[l];
        io.push(PlannedIo {
            layer: layer.index,
            input: gi,
            weight: gw.or(weight_item[l]).expect("a weight tensor per layer"),
            output: go,
        });
        let bits = resident_bits(t, &layer.workload, m);
        let mut wanted: Vec<(usize, Operand, u64)> = Vec::new();
        for (lv, row) in bits.iter().enumerate().skip(1) {
            for o in Operand::ALL {
                if row[o.index()] > 0 && lv != m.home_of(o) {
                    wanted.push((lv, o, row[o.index()]));
                }
            }
        }
        wanted.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        for (lv, o, need) in wanted {
            let cap = t.levels[lv].capacity_bits;
            let Some(at) = lowest_fit(&taken[lv], need, step, step, cap) else {
                return Err(NoRoom {
                    level: lv,
                    step,
                    node: step_node(model, &steps[step]),
                    bits: need,
                    what: format!("layer {}'s {o} buffer", layer.index),
                });
            };
            taken[lv].push(Taken {
                start: at,
                end: at + need,
                first: step,
                last: step,
            });
            let instances: u64 = m
                .spatial
                .iter()
                .filter(|f| t.axis(f.axis).source[o.index()] < lv)
                .map(|f| f.factor)
                .product();
            buffers.push(PlannedBuffer {
                layer: layer.index,
                level: lv,
                operand: o,
                instances,
                offset: at,
                bits: need,
                halves: if double_buffered(t, m, lv, o) { 2 } else { 1 },
            });
        }
    }
    buffers.sort_by_key(|a| (a.layer, a.level, a.operand));
    Ok(MemoryPlan {
        residency,
        steps,
        tensors,
        buffers,
        layers: io,
        baseline: None,
    })
}

/// A step as an error message names it.
fn step_node(model: &Model, step: &PlanStep) -> String {
    match step {
        PlanStep::Layer(l) => match model.layers.get(*l) {
            Some(layer) => format!("layer {l} `{}`", cimopt_ir::display_name(&layer.name)),
            None => format!("layer {l}"),
        },
        PlanStep::Op { name, op } => format!("{op} `{}`", cimopt_ir::display_name(name)),
    }
}

/// Per model layer, its mapping's padded sizes of input, weight and output in elements (0 for
/// layers the schedule leaves out).
pub fn padded_sizes(model: &Model, layers: &[(&Layer, &Mapping)]) -> Vec<[u64; 3]> {
    let mut out = vec![[0u64; 3]; model.layers.len()];
    for (layer, m) in layers {
        let w = cimopt_ir::analysis::executed_workload(&layer.workload, m);
        out[layer.index] = Operand::ALL.map(|o| w.operand_size(o));
    }
    out
}
