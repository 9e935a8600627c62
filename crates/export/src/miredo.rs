//! A schedule's mappings in the MIREDO reference implementation's own terms
//! (`BUAA-CI-LAB/MIREDO`: `utils/Workload.py`, `Architecture/ArchSpec.py`,
//! `Simulator/Simulax.py`), as JSON that a few lines of Python turn into its `WorkLoad`,
//! `LoopNest` and `tranSimulator` (recipe in `docs/exports.md`).
//!
//! The reference numbers its dims `['-', R, S, P, Q, C, K, G]` (index 0 unused), its memories
//! 1-based with DRAM = 1 and the MAC array = `Num_mem` = levels + 1, and its spatial axes
//! `[cores, dimX (rows), dimY (cols)]`. A temporal loop is `Mapping(dim, dimSize, mem)` with
//! `mem` the memory of each operand `[I, W, O]`; a spatial factor is the same with `mem` the
//! memory each operand fans out from (`SpUr2Mem`); `usr_defined_double_flag[mem][op]` has
//! `Num_mem + 1` rows.
//!
//! The reference has no residency: every operand starts in DRAM. A layer whose mapping keeps
//! an operand on chip (`Mapping::home`, from the memory plan) is still exported, its loop
//! nest as it is, with `residency` naming each resident operand's home (`mem` and level) and
//! a warning; such a layer is not `exact` (the reference would add the DRAM reads and the
//! bootstrap cimopt does not charge). A layer with every home in DRAM has `residency: null`.

use crate::{ExportError, selected};
use cimopt_ir::analysis;
use cimopt_schedule::Schedule;
use cimopt_target::{Axis, Dim, Operand, Target};
use serde_json::{Value, json};

/// The reference's `dim2Dict`.
pub const DIM2DICT: [&str; 8] = ["-", "R", "S", "P", "Q", "C", "K", "G"];

/// The reference's names of the spatial axes (`SpUnrolling` order).
const AXES: [&str; 3] = ["cores", "dimX", "dimY"];

/// The reference's number of a dim (`B` has none).
fn dim_number(d: Dim) -> Option<usize> {
    DIM2DICT.iter().position(|n| *n == d.name())
}

fn architecture(t: &Target) -> Value {
    let n = t.num_levels();
    let mut mem2dict = vec![json!("-P-")];
    mem2dict.extend(t.levels.iter().map(|l| json!(l.name)));
    let mapping_array: Vec<Vec<i64>> = Operand::ALL
        .iter()
        .map(|&o| {
            let mut row = vec![-1];
            row.extend(t.levels.iter().map(|l| l.holds.contains(o) as i64));
            row
        })
        .collect();
    let rule: Vec<Vec<u8>> = Axis::ALL
        .iter()
        .map(|&a| {
            DIM2DICT
                .iter()
                .map(|n| t.axis(a).dims.iter().any(|d| d.name() == *n) as u8)
                .collect()
        })
        .collect();
    let sp_ur2mem: Vec<Vec<usize>> = Axis::ALL
        .iter()
        .map(|&a| t.axis(a).source.iter().map(|&l| l + 1).collect())
        .collect();
    json!({
        "mem2dict": mem2dict,
        "Num_mem": n + 1,
        "opMAC": n + 1,
        "mappingArray": mapping_array,
        "Dram2mem": 1,
        "IReg2mem": t.innermost(Operand::I) + 1,
        "Macro2mem": t.macro_level() + 1,
        "OReg2mem": t.innermost(Operand::O) + 1,
        "Num_core": t.cores,
        "dimX": t.macro_.rows,
        "dimY": t.macro_.cols,
        "SpUnrolling": [t.cores, t.macro_.rows, t.macro_.cols],
        "SpUr2Mem": sp_ur2mem,
        "mappingRule": rule,
        "t_MAC": t.t_mac(),
        "double_Macro": t.macro_.ping_pong as u8,
        "compartment_depth": t.macro_.compartment_depth,
        "precision": {
            "I": t.macro_.precision.input,
            "W": t.macro_.precision.weight,
            "psum": t.macro_.precision.psum,
            "O_final": t.macro_.precision.output,
        },
    })
}

/// One layer's mapping in the reference's terms.
pub fn miredo_layer(s: &Schedule, i: usize) -> Value {
    let t = &s.inputs.target;
    let sl = &s.layers[i];
    let w = &sl.layer.workload;
    let m = &sl.mapping;
    let mut warnings: Vec<String> = Vec::new();
    let n_mem = t.num_levels() + 1;

    if w.b > 1 {
        warnings.push(format!(
            "batch B = {}: the reference has no batch dimension, so the loops over B are left out and the \
             factors cover one image only",
            w.b
        ));
    }
    if w.stride[0] != w.stride[1] {
        warnings.push(format!(
            "strides {}×{}: the reference has one Stride; Stride is the height's",
            w.stride[0], w.stride[1]
        ));
    }
    if w.pad.iter().any(|&p| p != w.pad[0]) {
        warnings.push(format!(
            "padding {:?} is not the same on every side: the reference has one Padding; Padding is the top's",
            w.pad
        ));
    }
    if w.dilation != [1, 1] {
        warnings.push(format!(
            "dilation {:?}: the reference has no dilation (its input windows are undilated)",
            w.dilation
        ));
    }
    if t.macro_.input_bits_per_cycle != 1 {
        warnings.push(format!(
            "input_bits_per_cycle = {}: the reference's CIM_Acc requires 1",
            t.macro_.input_bits_per_cycle
        ));
    }
    let (own, run) = (
        t.macro_.precision,
        cimopt_ir::analysis::layer_precision(t, w),
    );
    if (run.input, run.weight, run.output) != (own.input, own.weight, own.output) {
        warnings.push(format!(
            "the layer runs at {}-bit inputs, {}-bit weights and {}-bit outputs: the reference has one \
             precision per architecture (the target's {}/{}/{}), so its numbers for this nest are at those",
            run.input, run.weight, run.output, own.input, own.weight, own.output
        ));
    }
    let mut residency = serde_json::Map::new();
    for o in Operand::ALL {
        let home = m.home_of(o);
        if home > 0 {
            let level = &t.levels[home].name;
            warnings.push(format!(
                "{o} lives in `{level}` (mem {}; the memory plan keeps it on chip): the reference has \
                 no residency and would read it from DRAM and copy it in before the nest (or its \
                 outputs back after it), which cimopt does not charge",
                home + 1
            ));
            residency.insert(o.name().into(), json!({"mem": home + 1, "level": level}));
        }
    }
    let (stride, padding) = (w.stride[0], w.pad[0]);
    if w.op == cimopt_ir::OpKind::Conv
        && (w.h + 2 * padding).checked_sub(w.r).map(|x| x / stride + 1) != Some(w.p)
    {
        warnings.push(
            "the reference's WorkLoad asserts P = (H + 2·Padding − R) / Stride + 1, which does not hold for this layer"
                .into(),
        );
    }

    let tm: Vec<Value> = m
        .temporal
        .iter()
        .filter_map(|l| {
            let dim = dim_number(l.dim)?;
            Some(json!({
                "dim": dim,
                "dim_name": l.dim.name(),
                "dimSize": l.factor,
                "mem": l.level.map(|x| x + 1),
            }))
        })
        .collect();
    if tm.len() != m.temporal.len() {
        warnings.push(
            "temporal loops over B are left out (the reference has no batch dimension)".into(),
        );
    }
    // su[axis][dim]: the product of the spatial factors of dim on the axis.
    let mut su = vec![vec![1u64; DIM2DICT.len()]; 3];
    for f in &m.spatial {
        match dim_number(f.dim) {
            Some(d) => su[f.axis.index()][d] *= f.factor,
            None => warnings.push(format!(
                "a spatial factor of B on `{}` is left out (the reference has no batch dimension)",
                f.axis
            )),
        }
    }
    let mut sm = Vec::new();
    for a in Axis::ALL {
        for (d, &f) in su[a.index()].iter().enumerate().skip(1) {
            if f > 1 {
                sm.push(json!({
                    "dim": d,
                    "dim_name": DIM2DICT[d],
                    "dimSize": f,
                    "mem": t.axis(a).source.map(|x| x + 1),
                    "axis": AXES[a.index()],
                }));
            }
        }
    }
    // usr_defined_double_flag[mem][op], mem 0..=Num_mem: what the simulator uses (the macro's
    // weights and the MAC row follow the ping-pong flag).
    let mut flags = vec![vec![0u8; 3]; n_mem + 1];
    for (lv, row) in flags.iter_mut().enumerate().take(n_mem).skip(1) {
        for o in Operand::ALL {
            if t.levels[lv - 1].holds.contains(o) {
                row[o.index()] = analysis::double_buffered(t, m, lv - 1, o) as u8;
            }
        }
    }
    flags[n_mem] = vec![t.macro_.ping_pong as u8; 3];
    let psum = analysis::psum_levels(t, m);
    let mut psum_flag = serde_json::Map::new();
    for (lv, &p) in psum.iter().enumerate() {
        if t.levels[lv].holds.contains(Operand::O) && lv > 0 {
            psum_flag.insert((lv + 1).to_string(), json!(p));
        }
    }
    let padded: serde_json::Map<String, Value> = Dim::ALL
        .iter()
        .filter(|d| m.padded_dims[d.index()] != w.extent(**d))
        .map(|d| (d.name().to_string(), json!(m.padded_dims[d.index()])))
        .collect();
    let mut bound = vec![1u64];
    bound.extend(
        DIM2DICT[1..]
            .iter()
            .map(|n| w.extent(n.parse::<Dim>().expect("a dim"))),
    );
    json!({
        "layer": {"id": sl.layer.index, "name": sl.layer.name, "op": w.op.name()},
        "exact": warnings.is_empty(),
        "warnings": warnings,
        "residency": if residency.is_empty() { Value::Null } else { Value::Object(residency) },
        "workload": {
            "loopDim": {
                "R": w.r, "S": w.s, "C": w.c, "K": w.k, "P": w.p, "Q": w.q, "G": w.g, "B": w.b,
                "H": w.h, "W": w.w, "Stride": stride, "Padding": padding,
            },
            "dim2Dict": DIM2DICT,
            "dim2bound": bound,
            "padded_dims": if padded.is_empty() { Value::Null } else { Value::Object(padded) },
        },
        "loopnest": {
            "tm": tm,
            "sm": sm,
            "su": su,
            "usr_defined_double_flag": flags,
            "psum_flag": psum_flag,
        },
    })
}

/// The layers `layer` selects (all when `None`) in the reference's terms, with the target's
/// memory hierarchy as the reference's `CIM_Acc` numbers it.
pub fn miredo(s: &Schedule, layer: Option<usize>) -> Result<Value, ExportError> {
    let layers: Vec<Value> = selected(s, layer)?
        .into_iter()
        .map(|i| miredo_layer(s, i))
        .collect();
    Ok(json!({
        "format": "cimopt-miredo-1",
        "conventions": {
            "dims": "dim2Dict = ['-', R, S, P, Q, C, K, G]: a loop's dim is its index (0 unused); B has no number",
            "mem": "1-based memory indices, DRAM = 1, the MAC array = Num_mem (levels + 1); mem = [I, W, O]",
            "tm": "temporal loops, outer to inner: Mapping(dim, dimSize, mem)",
            "sm": "spatial factors per axis (cores, dimX = rows, dimY = cols), mem = the memory each operand fans out from (SpUr2Mem)",
            "su": "su[axis][dim]: the unrolling of each dim on cores, dimX, dimY",
            "usr_defined_double_flag": "[mem][op] for mem 0..Num_mem; row Num_mem (the MAC) and the macro's weights follow macro ping-pong",
            "residency": "per layer, the operands cimopt keeps on chip (not in the reference: it starts every operand in DRAM), each with its home's mem and level; null when every operand starts in DRAM",
        },
        "model": {"file": s.inputs.model_file, "sha256": s.inputs.model_sha256},
        "target": {"name": s.inputs.target_name, "sha256": cimopt_schedule::target_sha256(&s.inputs.target)},
        "architecture": architecture(&s.inputs.target),
        "layers": layers,
    }))
}
