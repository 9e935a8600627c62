//! Timeloop v4 (timeloopfe) specifications of a schedule's layers, and back.
//!
//! Timeloop sees one chain of storage levels; each keeps or bypasses each dataspace and owns
//! one temporal loop per problem dimension. cimopt gives each operand its own chain and lets
//! a loop sit at a different level for each operand. The export bridges the two so that the
//! mapping's tiles are Timeloop's tiles:
//!
//! * a level that holds several operands (besides DRAM, the backing store) becomes one
//!   storage per operand (`global_buffer_I`, `_W`, `_O`), so each operand's level boundary,
//!   bypass and double buffering (`multiple_buffering`) are its own;
//! * the storages and the spatial fan-outs (one `!Container` per axis) are put in one order
//!   that follows each operand's chain, starts each storage where the operand's first loop at
//!   that level is, and puts each fan-out below the level the operand fans out from and above
//!   the next one (see [`plan`]);
//! * a level whose loops repeat a dimension gets extra `dummy_storage` levels for the extra
//!   loops;
//! * an operand the memory plan keeps on chip (its `Mapping::home` is not DRAM) is bypassed
//!   at DRAM and kept at its home's storage, which sits above every loop: the home holds the
//!   whole tensor, and DRAM none of it.
//!
//! What Timeloop has no field for travels in the document's `ignore_cimopt` key (timeloopfe
//! ignores top-level keys whose name contains `ignore`): the layer, the whole target, and the
//! exact mapping, used by the import only when the Timeloop part says the same thing.

use crate::{ExportError, selected, slug, yaml};
use cimopt_ir::Mapping;
use cimopt_schedule::Schedule;
use cimopt_target::{Axis, Dim, Operand, Target};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// `ignore_cimopt.format` of the documents this module writes.
const FORMAT: &str = "cimopt-timeloop-1";

/// One exported layer.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeloopDocument {
    /// The layer's id in the schedule.
    pub layer: usize,
    /// A file name for it: `layerNNN_<name>.timeloop.yaml`.
    pub file_name: String,
    /// The YAML document.
    pub text: String,
    /// Whether Timeloop's mapping says exactly what the schedule's does (else `warnings` say
    /// what differs, and the import refuses the document).
    pub exact: bool,
    pub warnings: Vec<String>,
}

/// Timeloop's names of our dims (`K` is `M`, `B` is `N`), in the order the files list them.
const DIMS: [(Dim, &str); 8] = [
    (Dim::R, "R"),
    (Dim::S, "S"),
    (Dim::P, "P"),
    (Dim::Q, "Q"),
    (Dim::C, "C"),
    (Dim::K, "M"),
    (Dim::B, "N"),
    (Dim::G, "G"),
];

fn tl_dim(d: Dim) -> &'static str {
    DIMS.iter().find(|(x, _)| *x == d).expect("every dim").1
}

fn from_tl_dim(s: &str) -> Option<Dim> {
    DIMS.iter().find(|(_, n)| *n == s).map(|(d, _)| *d)
}

fn dataspace(o: Operand) -> &'static str {
    match o {
        Operand::I => "Inputs",
        Operand::W => "Weights",
        Operand::O => "Outputs",
    }
}

fn from_dataspace(s: &str) -> Option<Operand> {
    Operand::ALL.into_iter().find(|&o| dataspace(o) == s)
}

/// What a node of the storage chain is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A level of the target; `operand` is the one it stores, `None` for DRAM (all).
    Storage {
        level: usize,
        operand: Option<Operand>,
    },
    /// Extra loop slots.
    Dummy,
    Fanout(Axis),
}

/// One node of Timeloop's chain as the mapping fills it: what both the export and the import
/// see, compared to decide whether a document still says what its `ignore_cimopt` mapping
/// says.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub name: String,
    pub role: Role,
    /// Temporal loops with a trip count above 1, outer to inner.
    pub loops: Vec<(Dim, u64)>,
    pub keep: Vec<Operand>,
    pub buffering: u64,
    /// Spatial factors above 1, in the mapping's order.
    pub spatial: Vec<(Dim, u64)>,
}

/// The chain for one layer, and what it could not say.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    pub nodes: Vec<Node>,
    /// Differences that change what Timeloop evaluates: the export is not exact.
    pub warnings: Vec<String>,
    /// Differences Timeloop cannot see (carried in `ignore_cimopt`), or that change only
    /// instance counts.
    pub notes: Vec<String>,
}

/// The storage node name of `(level, o)`: the level's name, with `_<operand>` when the level
/// (other than DRAM) holds several operands.
fn storage_name(t: &Target, level: usize, o: Operand) -> String {
    let l = &t.levels[level];
    if level == 0 || l.holds.len() == 1 {
        l.name.clone()
    } else {
        format!("{}_{}", l.name, o)
    }
}

/// Kahn's algorithm, always taking the ready node with the smallest key; `None` on a cycle.
fn topo(n: usize, edges: &[(usize, usize)], key: &[(u64, u8, usize, usize)]) -> Option<Vec<usize>> {
    let mut indeg = vec![0usize; n];
    let mut out = vec![Vec::new(); n];
    for &(a, b) in edges {
        indeg[b] += 1;
        out[a].push(b);
    }
    let mut ready: BTreeSet<((u64, u8, usize, usize), usize)> = (0..n)
        .filter(|&v| indeg[v] == 0)
        .map(|v| (key[v], v))
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(first) = ready.iter().next().copied() {
        ready.remove(&first);
        let v = first.1;
        order.push(v);
        for &w in &out[v] {
            indeg[w] -= 1;
            if indeg[w] == 0 {
                ready.insert((key[w], w));
            }
        }
    }
    (order.len() == n).then_some(order)
}

/// The chain of storages and fan-outs for mapping `m` on `t`, with its loops.
///
/// Order constraints, all but the fan-out ones always satisfiable together: DRAM first; each
/// operand's levels in its chain order; a storage an operand uses starts at the operand's
/// first loop there, so used storages are sorted by that loop; a fan-out sits below the
/// level each operand fans out from on it and above that operand's next level. A fan-out
/// constraint is *hard* when the mapping unrolls a dim on the axis that indexes the operand
/// (else only instance counts depend on it). Hard ones that cannot hold make the export
/// inexact (warnings); soft ones are kept when they can be (notes otherwise).
pub(crate) fn plan(t: &Target, m: &Mapping) -> Plan {
    let n_loops = m.temporal.len();
    let levels = t.num_levels();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();

    // Graph nodes: 0 DRAM, then (level ≥ 1, operand) partitions, then the three fan-outs.
    let mut parts: Vec<(usize, Operand)> = Vec::new();
    for l in 1..levels {
        for o in t.levels[l].holds.iter() {
            parts.push((l, o));
        }
    }
    let part_id = |l: usize, o: Operand| 1 + parts.iter().position(|&p| p == (l, o)).unwrap();
    let fan_id = |a: Axis| 1 + parts.len() + a.index();
    let n = 1 + parts.len() + 3;

    let first_loop = |l: usize, o: Operand| m.temporal.iter().position(|lp| lp.level_of(o) == l);
    // An on-chip home holds the whole tensor, so it sits above every loop: as if it had the
    // first loop (it keeps its operand even when no loop of that operand sits there).
    let is_home = |l: usize, o: Operand| l > 0 && m.home_of(o) == l;
    let holder_cut = |l: usize, o: Operand| first_loop(l, o).or_else(|| is_home(l, o).then_some(0));
    let chain =
        |o: Operand| -> Vec<usize> { t.levels_of(o).into_iter().filter(|&l| l > 0).collect() };
    let cut_eff = |l: usize, o: Operand| -> u64 {
        if let Some(c) = holder_cut(l, o) {
            return c as u64;
        }
        chain(o)
            .into_iter()
            .filter(|&x| x > l)
            .find_map(|x| first_loop(x, o))
            .unwrap_or(n_loops) as u64
    };

    let mut key = vec![(0u64, 0u8, 0usize, 0usize); n];
    for (i, &(l, o)) in parts.iter().enumerate() {
        key[1 + i] = (cut_eff(l, o), 1, l, o.index());
    }

    let mut base: Vec<(usize, usize)> = (1..n).map(|v| (0, v)).collect();
    for o in Operand::ALL {
        let c = chain(o);
        for w in c.windows(2) {
            base.push((part_id(w[0], o), part_id(w[1], o)));
        }
    }
    let used: Vec<(usize, Operand, usize)> = parts
        .iter()
        .filter_map(|&(l, o)| holder_cut(l, o).map(|c| (l, o, c)))
        .collect();
    for &(la, oa, ca) in &used {
        for &(lb, ob, cb) in &used {
            if ca < cb {
                base.push((part_id(la, oa), part_id(lb, ob)));
            }
        }
    }

    // Fan-out constraints: (edge, hard, description).
    let mut fan_edges: Vec<((usize, usize), bool, String)> = Vec::new();
    for a in Axis::ALL {
        let relevant = |o: Operand| {
            m.spatial
                .iter()
                .any(|f| f.axis == a && f.factor > 1 && f.dim.relevant_to(o))
        };
        let mut succ_keys = Vec::new();
        for o in Operand::ALL {
            let src = t.axis(a).source[o.index()];
            let hard = relevant(o);
            let name = |l: usize| storage_name(t, l, o);
            if src > 0 {
                fan_edges.push((
                    (part_id(src, o), fan_id(a)),
                    hard,
                    format!("`{a}` below `{}` (where {o} fans out on it)", name(src)),
                ));
            }
            if let Some(next) = chain(o).into_iter().find(|&x| x > src) {
                succ_keys.push(key[part_id(next, o)]);
                fan_edges.push((
                    (fan_id(a), part_id(next, o)),
                    hard,
                    format!(
                        "`{a}` above `{}` (the {o} level below its source)",
                        name(next)
                    ),
                ));
            }
        }
        let k = succ_keys
            .iter()
            .min()
            .copied()
            .unwrap_or((n_loops as u64, 1, levels, 3));
        key[fan_id(a)] = (k.0, 0, a.index(), 0);
    }

    let mut edges = base.clone();
    assert!(
        topo(n, &edges, &key).is_some(),
        "chain and loop order agree"
    );
    for hard in [true, false] {
        for (e, h, what) in fan_edges.iter().filter(|f| f.1 == hard) {
            edges.push(*e);
            if topo(n, &edges, &key).is_none() {
                edges.pop();
                if *h {
                    warnings.push(format!(
                        "Timeloop's one chain of storages cannot put fan-out {what}: the loop order puts \
                         those storages the other way round, so Timeloop's tiles differ from cimopt's there"
                    ));
                } else {
                    notes.push(format!(
                        "fan-out {what} does not fit the chain; the axis's factors do not index that operand, \
                         so Timeloop's tiles are cimopt's and only its instance counts of that storage differ"
                    ));
                }
            }
        }
    }
    let order = topo(n, &edges, &key).expect("kept acyclic");

    // Holders of loops: DRAM and the used partitions, in order, each with its first loop. A
    // home without a loop of its own is a holder at 0 that never gets the loops there: the
    // operand's next level, after it in the chain, has loop 0 too.
    let cut_of = |v: usize| -> Option<usize> {
        if v == 0 {
            return Some(0);
        }
        if v <= parts.len() {
            let (l, o) = parts[v - 1];
            return holder_cut(l, o);
        }
        None
    };
    let holders: Vec<(usize, usize)> = order
        .iter()
        .filter_map(|&v| cut_of(v).map(|c| (v, c)))
        .collect();
    let mut ranges: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for (i, &(v, c)) in holders.iter().enumerate() {
        let next = holders[i + 1..].iter().map(|h| h.1).find(|&x| x > c);
        let is_last = holders.get(i + 1).is_none_or(|h| h.1 > c);
        if is_last {
            ranges.insert(v, (c, next.unwrap_or(n_loops)));
        }
    }

    let trip1: Vec<usize> = (0..n_loops)
        .filter(|&j| m.temporal[j].factor == 1)
        .collect();
    if !trip1.is_empty() {
        notes.push(format!(
            "temporal loop(s) {} have a trip count of 1: Timeloop has no such loops; ignore_cimopt.mapping \
             keeps them (they decide which levels cimopt's operands pass through)",
            trip1.iter().map(|j| j.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    for o in Operand::ALL {
        let home = m.home_of(o);
        if home > 0 {
            notes.push(format!(
                "{} live in `{}` (the memory plan keeps them on chip): `{}` bypasses them and \
                 `{}` keeps them whole, above every loop",
                dataspace(o),
                t.levels[home].name,
                t.levels[0].name,
                storage_name(t, home, o)
            ));
        }
    }
    for &(l, o) in &m.double_buffer {
        if l == 0 {
            notes.push(format!(
                "the double-buffer flag of `{}` for {o} has no effect (nothing moves into the \
                 outermost level); ignore_cimopt.mapping keeps it",
                t.levels[0].name
            ));
        }
    }

    let mut nodes = Vec::new();
    for &v in &order {
        if v == 0 {
            let (a, b) = ranges.get(&0).copied().unwrap_or((0, 0));
            let loops = chunks(m, a, b);
            // DRAM keeps the operands whose home it is and bypasses the resident ones.
            let keep = Operand::ALL
                .into_iter()
                .filter(|&o| m.home_of(o) == 0)
                .collect();
            push_storage(
                &mut nodes,
                t.levels[0].name.clone(),
                Role::Storage {
                    level: 0,
                    operand: None,
                },
                keep,
                1,
                loops,
            );
        } else if v <= parts.len() {
            let (l, o) = parts[v - 1];
            let keep = if first_loop(l, o).is_some() || is_home(l, o) {
                vec![o]
            } else {
                vec![]
            };
            let buffering = if m.is_double_buffered(l, o) { 2 } else { 1 };
            let loops = ranges
                .get(&v)
                .map(|&(a, b)| chunks(m, a, b))
                .unwrap_or_default();
            push_storage(
                &mut nodes,
                storage_name(t, l, o),
                Role::Storage {
                    level: l,
                    operand: Some(o),
                },
                keep,
                buffering,
                loops,
            );
        } else {
            let a = Axis::ALL[v - 1 - parts.len()];
            let on_axis: Vec<(Dim, u64)> = m
                .spatial
                .iter()
                .filter(|f| f.axis == a && f.factor > 1)
                .map(|f| (f.dim, f.factor))
                .collect();
            let mut merged: Vec<(Dim, u64)> = Vec::new();
            for (d, f) in on_axis {
                match merged.iter_mut().find(|x| x.0 == d) {
                    Some(x) => {
                        x.1 *= f;
                        notes.push(format!(
                            "axis `{a}` unrolls {d} twice: Timeloop has one factor per dimension, the \
                             product; ignore_cimopt.mapping keeps both"
                        ));
                    }
                    None => merged.push((d, f)),
                }
            }
            nodes.push(Node {
                name: a.name().to_string(),
                role: Role::Fanout(a),
                loops: vec![],
                keep: vec![],
                buffering: 1,
                spatial: merged,
            });
        }
    }
    if m.spatial.iter().any(|f| f.factor == 1) {
        notes.push(
            "spatial factors of 1 have no Timeloop equivalent; ignore_cimopt.mapping keeps them"
                .into(),
        );
    }
    let canonical = m
        .spatial
        .windows(2)
        .all(|w| w[0].axis.index() <= w[1].axis.index());
    if !canonical {
        notes.push(
            "the mapping lists its spatial factors across axes in another order; ignore_cimopt.mapping keeps it"
                .into(),
        );
    }
    Plan {
        nodes,
        warnings,
        notes,
    }
}

/// The loops `a..b` of the mapping with a trip count above 1, cut into runs without a repeated
/// dimension (Timeloop: one loop per dimension per level).
fn chunks(m: &Mapping, a: usize, b: usize) -> Vec<Vec<(Dim, u64)>> {
    let mut out: Vec<Vec<(Dim, u64)>> = vec![vec![]];
    for lp in &m.temporal[a..b] {
        if lp.factor == 1 {
            continue;
        }
        let cur = out.last_mut().expect("non-empty");
        if cur.iter().any(|x| x.0 == lp.dim) {
            out.push(vec![(lp.dim, lp.factor)]);
        } else {
            cur.push((lp.dim, lp.factor));
        }
    }
    out
}

fn push_storage(
    nodes: &mut Vec<Node>,
    name: String,
    role: Role,
    keep: Vec<Operand>,
    buffering: u64,
    loops: Vec<Vec<(Dim, u64)>>,
) {
    let mut loops = loops.into_iter();
    nodes.push(Node {
        name: name.clone(),
        role,
        loops: loops.next().unwrap_or_default(),
        keep,
        buffering,
        spatial: vec![],
    });
    for (k, extra) in loops.enumerate() {
        nodes.push(Node {
            name: format!("{name}_loops{}", k + 2),
            role: Role::Dummy,
            loops: extra,
            keep: vec![],
            buffering: 1,
            spatial: vec![],
        });
    }
}

/// The name of every node a target's chains can have, to resolve the import's names and to
/// refuse targets whose names would collide.
fn node_names(t: &Target) -> Result<BTreeMap<String, Role>, String> {
    let mut names: BTreeMap<String, Role> = BTreeMap::new();
    let mut add = |name: String, role: Role| -> Result<(), String> {
        if names.insert(name.clone(), role).is_some() {
            return Err(format!(
                "the Timeloop storage name `{name}` would stand for two things; rename a level of the target"
            ));
        }
        Ok(())
    };
    add(
        t.levels[0].name.clone(),
        Role::Storage {
            level: 0,
            operand: None,
        },
    )?;
    for l in 1..t.num_levels() {
        for o in t.levels[l].holds.iter() {
            add(
                storage_name(t, l, o),
                Role::Storage {
                    level: l,
                    operand: Some(o),
                },
            )?;
        }
    }
    for a in Axis::ALL {
        add(a.name().to_string(), Role::Fanout(a))?;
    }
    add(compute_name(t), Role::Dummy)?;
    Ok(names)
}

fn compute_name(t: &Target) -> String {
    format!("{}_mac", t.levels[t.macro_level()].name)
}

/// Timeloop v4 documents of the layers `layer` selects (all when `None`).
pub fn timeloop(s: &Schedule, layer: Option<usize>) -> Result<Vec<TimeloopDocument>, ExportError> {
    let doc: Value =
        serde_json::from_str(&cimopt_schedule::to_json(s)).expect("to_json writes JSON");
    let t = &s.inputs.target;
    let mut out = Vec::new();
    for i in selected(s, layer)? {
        let sl = &s.layers[i];
        let fail = |message: String| ExportError::Layer {
            layer: sl.layer.index,
            name: sl.layer.name.clone(),
            message,
        };
        node_names(t).map_err(fail)?;
        let plan = plan(t, &sl.mapping);
        let text = render(s, i, &doc, &plan);
        out.push(TimeloopDocument {
            layer: sl.layer.index,
            file_name: format!(
                "layer{:03}_{}.timeloop.yaml",
                sl.layer.index,
                slug(&sl.layer.name)
            ),
            text,
            exact: plan.warnings.is_empty(),
            warnings: plan.warnings.clone(),
        });
    }
    Ok(out)
}

fn render(s: &Schedule, i: usize, doc: &Value, plan: &Plan) -> String {
    let t = &s.inputs.target;
    let sl = &s.layers[i];
    let w = &sl.layer.workload;
    let m = &sl.mapping;
    let psum = cimopt_ir::analysis::psum_levels(t, m);
    let precision = cimopt_ir::analysis::layer_precision(t, w);
    let mut out = String::new();
    let head = vec![
        format!(
            "cimopt export: layer {} `{}` ({}) of {} on target `{}`,",
            sl.layer.index,
            sl.layer.name,
            w.op,
            if s.inputs.model_file.is_empty() {
                "a model"
            } else {
                &s.inputs.model_file
            },
            s.inputs.target_name
        ),
        "as one Timeloop v4 (timeloopfe) specification: problem, architecture and mapping.".into(),
        "Permutations list loops inner to outer, as Timeloop reads them. Levels holding several"
            .into(),
        "operands are one storage per operand; see docs/exports.md for what does not translate."
            .into(),
    ];
    yaml::comments(&mut out, 0, &head);
    for wmsg in &plan.warnings {
        yaml::comments(&mut out, 0, &[format!("WARNING (not exact): {wmsg}")]);
    }
    for n in &plan.notes {
        yaml::comments(&mut out, 0, &[format!("note: {n}")]);
    }

    // Problem.
    let ext = m.padded_dims;
    out.push_str("problem:\n  version: 0.4\n  shape:\n    name: cimopt_conv\n");
    let dims: Vec<String> = DIMS.iter().map(|d| d.1.to_string()).collect();
    let _ = writeln!(out, "    dimensions: {}", yaml::flow(&dims));
    out.push_str("    coefficients:\n");
    for c in ["Hstride", "Wstride", "Hdilation", "Wdilation"] {
        let _ = writeln!(out, "    - {{name: {c}, default: 1}}");
    }
    out.push_str(
        "    data_spaces:\n    - name: Weights\n      projection: [[[G]], [[M]], [[C]], [[R]], [[S]]]\n    \
         - name: Inputs\n      projection: [[[N]], [[G]], [[C]], [[R, Hdilation], [P, Hstride]], [[S, Wdilation], [Q, Wstride]]]\n    \
         - name: Outputs\n      projection: [[[N]], [[G]], [[M]], [[P]], [[Q]]]\n      read_write: true\n",
    );
    if ext != w.extents() {
        let padded: Vec<String> = Dim::ALL
            .iter()
            .filter(|d| ext[d.index()] != w.extent(**d))
            .map(|d| {
                format!(
                    "{} = {} (bound {})",
                    tl_dim(*d),
                    ext[d.index()],
                    w.extent(*d)
                )
            })
            .collect();
        yaml::comments(
            &mut out,
            2,
            &[format!(
                "the instance is the executed (padded) workload: {}",
                padded.join(", ")
            )],
        );
    }
    let mut inst: Vec<String> = DIMS
        .iter()
        .map(|(d, n)| format!("{n}: {}", ext[d.index()]))
        .collect();
    inst.push(format!("Hstride: {}", w.stride[0]));
    inst.push(format!("Wstride: {}", w.stride[1]));
    inst.push(format!("Hdilation: {}", w.dilation[0]));
    inst.push(format!("Wdilation: {}", w.dilation[1]));
    let _ = writeln!(out, "  instance: {{{}}}", inst.join(", "));

    // Architecture.
    out.push_str("architecture:\n  version: 0.4\n  nodes:\n");
    let _ = writeln!(out, "  - !Container\n    name: {}", yaml::name(&t.name));
    let _ = writeln!(
        out,
        "    attributes: {{cores: {}, leakage_nj_per_cycle: {}, t_mac_cycles: {}}}",
        t.cores,
        yaml::number(t.leakage_nj_per_cycle),
        t.t_mac_at(&precision)
    );
    for node in &plan.nodes {
        match node.role {
            Role::Storage { level, operand } => {
                let lv = &t.levels[level];
                let bits = match operand {
                    Some(o) => cimopt_ir::analysis::precision_at(t, &precision, &psum, level, o),
                    None => Operand::ALL
                        .iter()
                        .map(|&o| cimopt_ir::analysis::precision_at(t, &precision, &psum, level, o))
                        .max()
                        .unwrap_or(8),
                };
                let class = if level == 0 {
                    "DRAM"
                } else if level == t.macro_level() {
                    "SRAM"
                } else if operand.is_some_and(|o| t.innermost(o) == level) {
                    "regfile"
                } else {
                    "SRAM"
                };
                let _ = writeln!(
                    out,
                    "  - !Component\n    name: {}\n    class: {class}",
                    yaml::name(&node.name)
                );
                let mut attrs = vec![
                    format!("datawidth: {bits}"),
                    format!("width: {bits}"),
                    format!("depth: {}", lv.capacity_bits / bits.max(1)),
                    format!(
                        "read_bandwidth: {}",
                        yaml::number(lv.read_bw as f64 / bits as f64)
                    ),
                    format!(
                        "write_bandwidth: {}",
                        yaml::number(lv.write_bw as f64 / bits as f64)
                    ),
                    format!("multiple_buffering: {}", node.buffering),
                    format!("capacity_bits: {}", lv.capacity_bits),
                    format!("read_bandwidth_bits_per_cycle: {}", lv.read_bw),
                    format!("write_bandwidth_bits_per_cycle: {}", lv.write_bw),
                    format!(
                        "read_energy_pj_per_bit: {}",
                        yaml::number(lv.read_pj_per_bit)
                    ),
                    format!(
                        "write_energy_pj_per_bit: {}",
                        yaml::number(lv.write_pj_per_bit)
                    ),
                    format!(
                        "replication: {}",
                        match lv.replication {
                            cimopt_target::Replication::Shared => "shared",
                            cimopt_target::Replication::PerCore => "per_core",
                        }
                    ),
                ];
                if level > 0 && lv.holds.len() > 1 {
                    let others: Vec<String> = lv
                        .holds
                        .iter()
                        .filter(|&o| Some(o) != operand)
                        .map(|o| yaml::name(&storage_name(t, level, o)))
                        .collect();
                    attrs.push(format!("shares_capacity_with: {}", yaml::flow(&others)));
                }
                if level == t.macro_level() {
                    attrs.push(format!("compartment_depth: {}", t.macro_.compartment_depth));
                    attrs.push(format!("ping_pong: {}", t.macro_.ping_pong));
                }
                let _ = writeln!(out, "    attributes: {{{}}}", attrs.join(", "));
            }
            Role::Dummy => {
                let _ = writeln!(
                    out,
                    "  - !Component\n    name: {}\n    class: dummy_storage\n    attributes: {{width: 1, depth: 1, datawidth: 1}}",
                    yaml::name(&node.name)
                );
            }
            Role::Fanout(a) => {
                let size = t.axis(a).size;
                let mesh = if a == Axis::Rows { "meshY" } else { "meshX" };
                let _ = writeln!(
                    out,
                    "  - !Container\n    name: {}\n    spatial: {{{mesh}: {size}}}",
                    a.name()
                );
            }
        }
    }
    let p = &precision;
    let _ = writeln!(
        out,
        "  - !Component\n    name: {}\n    class: cim_mac\n    attributes: {{rows: {}, cols: {}, input_bits: {}, weight_bits: {}, psum_bits: {}, output_bits: {}, input_bits_per_cycle: {}, t_mac_cycles: {}, activation_energy_nj: {}}}",
        yaml::name(&compute_name(t)),
        t.macro_.rows,
        t.macro_.cols,
        p.input,
        p.weight,
        p.psum,
        p.output,
        t.macro_.input_bits_per_cycle,
        t.t_mac_at(p),
        yaml::number(t.activation_energy_nj_at(p))
    );

    // Mapping.
    out.push_str("mapping:\n");
    for node in &plan.nodes {
        let target = yaml::name(&node.name);
        match node.role {
            Role::Fanout(a) => {
                let (factors, perm) = factors_and_permutation(&node.spatial, false);
                let split = if a == Axis::Rows { 0 } else { DIMS.len() };
                let _ = writeln!(
                    out,
                    "- target: {target}\n  type: spatial\n  factors: {}\n  permutation: {}\n  split: {split}",
                    yaml::flow(&factors),
                    yaml::flow(&perm)
                );
            }
            _ => {
                let (factors, perm) = factors_and_permutation(&node.loops, true);
                let _ = writeln!(
                    out,
                    "- target: {target}\n  type: temporal\n  factors: {}\n  permutation: {}",
                    yaml::flow(&factors),
                    yaml::flow(&perm)
                );
                let keep: Vec<String> = node
                    .keep
                    .iter()
                    .map(|&o| dataspace(o).to_string())
                    .collect();
                let bypass: Vec<String> = Operand::ALL
                    .iter()
                    .filter(|o| !node.keep.contains(o))
                    .map(|&o| dataspace(o).to_string())
                    .collect();
                let _ = writeln!(
                    out,
                    "- target: {target}\n  type: dataspace\n  keep: {}\n  bypass: {}",
                    yaml::flow(&keep),
                    yaml::flow(&bypass)
                );
            }
        }
    }

    // What Timeloop has no field for.
    let layer_doc = &doc["layers"][i];
    let pick = |k: &str| layer_doc.get(k).cloned().unwrap_or(Value::Null);
    let layer_info = json!({
        "id": pick("id"),
        "name": pick("name"),
        "onnx_nodes": pick("onnx_nodes"),
        "op": pick("op"),
        "weight_kind": pick("weight_kind"),
        "has_bias": pick("has_bias"),
        "dims": pick("dims"),
        "padded_dims": pick("padded_dims"),
        "precision": pick("precision"),
    });
    out.push_str("ignore_cimopt:\n");
    let _ = writeln!(out, "  format: {FORMAT}");
    let _ = writeln!(out, "  exact: {}", plan.warnings.is_empty());
    let quoted = |v: &[String]| yaml::flow(&v.iter().map(|x| yaml::quote(x)).collect::<Vec<_>>());
    let _ = writeln!(out, "  warnings: {}", quoted(&plan.warnings));
    let _ = writeln!(out, "  notes: {}", quoted(&plan.notes));
    let _ = writeln!(out, "  layer: {}", layer_info);
    let _ = writeln!(out, "  model: {}", doc["inputs"]["model"]);
    let _ = writeln!(out, "  target: {}", doc["inputs"]["target"]);
    let _ = writeln!(out, "  mapping: {}", pick("mapping"));
    out
}

/// Timeloop's factors (every dimension, in file order) and permutation (inner to outer: the
/// given loops innermost first, then the dimensions of trip count 1). `reversed`: the given
/// loops are outer to inner (temporal); else they are listed as given (spatial).
fn factors_and_permutation(loops: &[(Dim, u64)], reversed: bool) -> (Vec<String>, Vec<String>) {
    let factors = DIMS
        .iter()
        .map(|(d, n)| {
            let f = loops.iter().find(|x| x.0 == *d).map_or(1, |x| x.1);
            format!("{n}={f}")
        })
        .collect();
    let mut perm: Vec<String> = if reversed {
        loops
            .iter()
            .rev()
            .map(|x| tl_dim(x.0).to_string())
            .collect()
    } else {
        loops.iter().map(|x| tl_dim(x.0).to_string()).collect()
    };
    for (d, n) in DIMS {
        if !loops.iter().any(|x| x.0 == d) {
            perm.push(n.to_string());
        }
    }
    (factors, perm)
}

// ---------------------------------------------------------------------------------------
// Import.

fn untag(v: &serde_yaml::Value) -> &serde_yaml::Value {
    match v {
        serde_yaml::Value::Tagged(t) => &t.value,
        other => other,
    }
}

fn yaml_to_json(v: &serde_yaml::Value) -> Value {
    serde_json::to_value(untag(v)).unwrap_or(Value::Null)
}

/// Parses Timeloop factors (`[R=1, M=4]`, `"R=1 M=4"` or `"R1 M4"`) into dim → factor.
fn parse_factors(v: &serde_yaml::Value) -> Result<BTreeMap<Dim, u64>, String> {
    let items: Vec<String> = match untag(v) {
        serde_yaml::Value::Sequence(s) => s
            .iter()
            .map(|x| match x {
                serde_yaml::Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "a factor must be a string like `M=4`, not {other:?}"
                )),
            })
            .collect::<Result<_, _>>()?,
        serde_yaml::Value::String(s) => s
            .split([',', ' '])
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        serde_yaml::Value::Null => vec![],
        other => return Err(format!("factors must be a list, not {other:?}")),
    };
    let mut out = BTreeMap::new();
    for it in items {
        let it = it.trim();
        let (name, value) = match it.split_once('=') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => it.split_at(it.find(|c: char| c.is_ascii_digit()).unwrap_or(it.len())),
        };
        let d = from_tl_dim(name).ok_or_else(|| {
            format!("unknown dimension `{name}` in factor `{it}` (known: R S P Q C M N G)")
        })?;
        let f: u64 = value
            .parse()
            .map_err(|_| format!("factor `{it}` is not DIM=positive integer"))?;
        if f == 0 {
            return Err(format!(
                "factor `{it}`: 0 (the whole dimension) is not supported; give the trip count"
            ));
        }
        if out.insert(d, f).is_some() {
            return Err(format!("dimension {name} has two factors"));
        }
    }
    Ok(out)
}

fn parse_permutation(v: &serde_yaml::Value) -> Result<Vec<Dim>, String> {
    let names: Vec<String> = match untag(v) {
        serde_yaml::Value::Sequence(s) => s
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or("a permutation lists dimension names".to_string())
            })
            .collect::<Result<_, _>>()?,
        serde_yaml::Value::String(s) => s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ',')
            .map(|c| c.to_string())
            .collect(),
        serde_yaml::Value::Null => vec![],
        other => return Err(format!("a permutation must be a list, not {other:?}")),
    };
    names
        .iter()
        .map(|n| from_tl_dim(n).ok_or_else(|| format!("unknown dimension `{n}` in a permutation")))
        .collect()
}

fn parse_dataspaces(v: Option<&serde_yaml::Value>) -> Result<Vec<Operand>, String> {
    let Some(v) = v else { return Ok(vec![]) };
    match untag(v) {
        serde_yaml::Value::Sequence(s) => s
            .iter()
            .map(|x| {
                x.as_str().and_then(from_dataspace).ok_or_else(|| {
                    format!("unknown dataspace {x:?} (known: Inputs, Weights, Outputs)")
                })
            })
            .collect(),
        serde_yaml::Value::Null => Ok(vec![]),
        other => Err(format!("keep and bypass must be lists, not {other:?}")),
    }
}

/// The chain a document describes, read from its architecture and mapping.
fn read_chain(doc: &serde_yaml::Value, t: &Target) -> Result<Vec<Node>, String> {
    let names = node_names(t)?;
    let nodes = doc
        .get("architecture")
        .and_then(|a| a.get("nodes"))
        .and_then(|n| n.as_sequence())
        .ok_or("no architecture.nodes list")?;
    let mut directives: BTreeMap<(String, String), &serde_yaml::Value> = BTreeMap::new();
    for d in doc
        .get("mapping")
        .and_then(|m| m.as_sequence())
        .ok_or("no mapping list")?
    {
        let target = d
            .get("target")
            .and_then(|x| x.as_str())
            .ok_or("a mapping directive without a target")?;
        let kind = d
            .get("type")
            .and_then(|x| x.as_str())
            .ok_or_else(|| format!("the directive for `{target}` has no type"))?;
        let kind = if kind == "bypass" || kind == "datatype" {
            "dataspace"
        } else {
            kind
        };
        if directives
            .insert((target.to_string(), kind.to_string()), d)
            .is_some()
        {
            return Err(format!("two {kind} directives for `{target}`"));
        }
    }
    let compute = compute_name(t);
    let mut chain = Vec::new();
    for (k, raw) in nodes.iter().enumerate() {
        let tag = match raw {
            serde_yaml::Value::Tagged(tv) => tv.tag.to_string(),
            _ => String::new(),
        };
        let node = untag(raw);
        let name = node
            .get("name")
            .and_then(|x| x.as_str())
            .ok_or_else(|| format!("architecture node {k} has no name"))?
            .to_string();
        let is_container = tag.contains("Container");
        let class = node.get("class").and_then(|x| x.as_str()).unwrap_or("");
        let temporal = directives.get(&(name.clone(), "temporal".into()));
        let loops = match temporal {
            Some(d) => {
                let f = parse_factors(d.get("factors").unwrap_or(&serde_yaml::Value::Null))
                    .map_err(|e| format!("`{name}`: {e}"))?;
                let p = parse_permutation(d.get("permutation").unwrap_or(&serde_yaml::Value::Null))
                    .map_err(|e| format!("`{name}`: {e}"))?;
                for (d, &x) in &f {
                    if x > 1 && !p.contains(d) {
                        return Err(format!(
                            "`{name}`: {} has a factor but no place in the permutation",
                            tl_dim(*d)
                        ));
                    }
                }
                p.iter()
                    .rev()
                    .filter_map(|d| f.get(d).filter(|&&x| x > 1).map(|&x| (*d, x)))
                    .collect()
            }
            None => vec![],
        };
        let buffering = node
            .get("attributes")
            .and_then(|a| a.get("multiple_buffering"))
            .and_then(|x| x.as_f64())
            .unwrap_or(1.0) as u64;
        if is_container {
            let axis = Axis::ALL.into_iter().find(|a| a.name() == name);
            let fan = |key: &str| {
                node.get("spatial")
                    .and_then(|s| s.get(key))
                    .and_then(|x| x.as_u64())
                    .unwrap_or(1)
            };
            let Some(a) = axis else {
                if fan("meshX") * fan("meshY") > 1 {
                    return Err(format!(
                        "container `{name}` fans out but is not one of the target's axes (cores, rows, cols)"
                    ));
                }
                continue;
            };
            let spatial = match directives.get(&(name.clone(), "spatial".into())) {
                Some(d) => {
                    let f = parse_factors(d.get("factors").unwrap_or(&serde_yaml::Value::Null))
                        .map_err(|e| format!("`{name}`: {e}"))?;
                    let p =
                        parse_permutation(d.get("permutation").unwrap_or(&serde_yaml::Value::Null))
                            .map_err(|e| format!("`{name}`: {e}"))?;
                    p.iter()
                        .filter_map(|d| f.get(d).filter(|&&x| x > 1).map(|&x| (*d, x)))
                        .collect()
                }
                None => vec![],
            };
            if !loops.is_empty() {
                return Err(format!(
                    "container `{name}` has temporal loops; put them on a storage"
                ));
            }
            chain.push(Node {
                name,
                role: Role::Fanout(a),
                loops: vec![],
                keep: vec![],
                buffering: 1,
                spatial,
            });
            continue;
        }
        if name == compute || class.contains("mac") || class.contains("compute") {
            continue;
        }
        let role = if class.contains("dummy") {
            Role::Dummy
        } else {
            *names.get(&name).ok_or_else(|| {
                format!("storage `{name}` is no level of target `{}` (storages are named as cimopt exports them)", t.name)
            })?
        };
        let ds = directives.get(&(name.clone(), "dataspace".into()));
        let keep = match ds {
            Some(d) => {
                let keep = parse_dataspaces(d.get("keep")).map_err(|e| format!("`{name}`: {e}"))?;
                let bypass =
                    parse_dataspaces(d.get("bypass")).map_err(|e| format!("`{name}`: {e}"))?;
                if let Some(o) = keep.iter().find(|o| bypass.contains(o)) {
                    return Err(format!(
                        "`{name}` both keeps and bypasses {}",
                        dataspace(*o)
                    ));
                }
                let mut k: Vec<Operand> = Operand::ALL
                    .into_iter()
                    .filter(|o| keep.contains(o))
                    .collect();
                if matches!(role, Role::Storage { level: 0, .. }) {
                    // The backing store keeps what it does not bypass: a bypassed dataspace
                    // lives in the first storage below that keeps it (its home).
                    k = Operand::ALL
                        .into_iter()
                        .filter(|o| !bypass.contains(o))
                        .collect();
                }
                k
            }
            None => match role {
                Role::Storage { level: 0, .. } => Operand::ALL.to_vec(),
                _ => return Err(format!("`{name}` has no dataspace (keep/bypass) directive")),
            },
        };
        match role {
            Role::Storage {
                operand: Some(o), ..
            } => {
                if let Some(x) = keep.iter().find(|&&x| x != o) {
                    return Err(format!(
                        "`{name}` stores {} only; it cannot keep {}",
                        dataspace(o),
                        dataspace(*x)
                    ));
                }
            }
            Role::Dummy if !keep.is_empty() => {
                return Err(format!("dummy storage `{name}` cannot keep data"));
            }
            _ => {}
        }
        chain.push(Node {
            name,
            role,
            loops,
            keep,
            buffering,
            spatial: vec![],
        });
    }
    Ok(chain)
}

/// The mapping (as schedule JSON, with names) a chain says, for workload extents `dims`.
fn mapping_of_chain(chain: &[Node], t: &Target) -> Result<Value, String> {
    let mut cur = [0usize; 3];
    let mut temporal = Vec::new();
    let mut spatial = Vec::new();
    let mut double = Vec::new();
    let mut kept: Vec<(usize, Operand, String)> = Vec::new();
    // Where each operand lives: DRAM when it keeps it, else the first storage that does.
    let mut home: [Option<usize>; 3] = [None; 3];
    if !matches!(
        chain.first().map(|n| n.role),
        Some(Role::Storage { level: 0, .. })
    ) {
        return Err(format!(
            "the outermost storage must be `{}`",
            t.levels[0].name
        ));
    }
    for node in chain {
        match node.role {
            Role::Storage { level, operand } => {
                for &o in &node.keep {
                    if level < cur[o.index()] {
                        return Err(format!(
                            "`{}` keeps {} below a deeper level of it: the storages are out of order",
                            node.name,
                            dataspace(o)
                        ));
                    }
                    cur[o.index()] = level;
                    if home[o.index()].is_none() {
                        home[o.index()] = Some(level);
                        if level > 0 && !temporal.is_empty() {
                            return Err(format!(
                                "`{}` bypasses {} and `{}`, their home, sits below a loop: \
                                 a tensor kept on chip is whole at its home, with no loop above it",
                                t.levels[0].name,
                                dataspace(o),
                                node.name
                            ));
                        }
                    } else if level > 0 {
                        kept.push((level, o, node.name.clone()));
                    }
                }
                if let Some(o) = operand
                    && node.buffering >= 2
                {
                    double.push((level, o));
                }
            }
            Role::Dummy => {}
            Role::Fanout(a) => {
                for &(d, f) in &node.spatial {
                    spatial.push((a, json!({"axis": a.name(), "dim": d.name(), "factor": f})));
                }
            }
        }
        for &(d, f) in &node.loops {
            temporal.push((d, f, cur));
        }
    }
    for (level, o, name) in &kept {
        if !temporal.iter().any(|(_, _, c)| c[o.index()] == *level) {
            return Err(format!(
                "`{name}` keeps {} but no loop of it sits there: cimopt has no level an operand passes \
                 through without a loop of its own (give it a loop or bypass it)",
                dataspace(*o)
            ));
        }
    }
    if temporal.is_empty() {
        return Err("the mapping has no temporal loop with a trip count above 1".into());
    }
    let mut homes = serde_json::Map::new();
    for o in Operand::ALL {
        let Some(h) = home[o.index()] else {
            return Err(format!(
                "no storage keeps {}: `{}` bypasses them and no level below keeps them",
                dataspace(o),
                t.levels[0].name
            ));
        };
        homes.insert(o.name().into(), json!(t.levels[h].name));
    }
    double.sort();
    // Spatial factors axis by axis (cores, rows, cols), each axis's in its directive's order.
    spatial.sort_by_key(|(a, _)| a.index());
    let spatial: Vec<Value> = spatial.into_iter().map(|(_, v)| v).collect();
    let temporal: Vec<Value> = temporal
        .iter()
        .map(|(d, f, c)| {
            json!({
                "dim": d.name(),
                "factor": f,
                "level": {
                    "I": t.levels[c[0]].name,
                    "W": t.levels[c[1]].name,
                    "O": t.levels[c[2]].name,
                }
            })
        })
        .collect();
    let double: Vec<Value> = double
        .iter()
        .map(|(l, o)| json!({"level": t.levels[*l].name, "operand": o.name()}))
        .collect();
    Ok(json!({
        "spatial": spatial,
        "temporal": temporal,
        "double_buffer": double,
        "home": Value::Object(homes),
    }))
}

fn layer_from_problem(doc: &serde_yaml::Value, id: usize) -> Result<Value, String> {
    let inst = doc
        .get("problem")
        .and_then(|p| p.get("instance"))
        .ok_or("no problem.instance")?;
    let get = |k: &str| inst.get(k).and_then(|x| x.as_u64());
    let mut dims = serde_json::Map::new();
    for (d, n) in DIMS {
        dims.insert(d.name().into(), json!(get(n).unwrap_or(1)));
    }
    dims.insert(
        "stride".into(),
        json!([get("Hstride").unwrap_or(1), get("Wstride").unwrap_or(1)]),
    );
    dims.insert(
        "dilation".into(),
        json!([get("Hdilation").unwrap_or(1), get("Wdilation").unwrap_or(1)]),
    );
    Ok(json!({"id": id, "op": "Conv", "dims": Value::Object(dims)}))
}

/// Reads Timeloop documents written by [`timeloop`] (each `(source name, text)`; a text may
/// hold several YAML documents) back into one schedule, layers in id order. The mapping is
/// read from the documents' Timeloop part: their architecture order, keep/bypass,
/// `multiple_buffering`, temporal and spatial factors and permutations. Their `ignore_cimopt`
/// key gives the target, the layer and the details Timeloop cannot hold (trip-1 loops,
/// double-buffer flags on DRAM, the order of spatial factors), which are used only when the
/// Timeloop part says exactly what that key's mapping says. A document the export marked
/// not exact is refused.
pub fn import_timeloop(files: &[(String, String)]) -> Result<Schedule, ExportError> {
    let mut target_value: Option<Value> = None;
    let mut model_value = Value::Null;
    let mut layers: BTreeMap<u64, Value> = BTreeMap::new();
    let mut count = 0usize;
    for (source, text) in files {
        let fail = |message: String| ExportError::Import {
            source_name: source.clone(),
            message,
        };
        for (k, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let doc = serde_yaml::Value::deserialize_from(de)
                .map_err(|e| fail(format!("document {k}: not YAML: {e}")))?;
            if doc.is_null() {
                continue;
            }
            let where_ = |m: String| fail(format!("document {k}: {m}"));
            let extra = doc
                .get("ignore_cimopt")
                .map(yaml_to_json)
                .unwrap_or(Value::Null);
            if extra.is_null() {
                return Err(where_(
                    "no ignore_cimopt section: cimopt imports the Timeloop documents it exported (the section names the layer and the target)".into(),
                ));
            }
            if extra["format"] != FORMAT {
                return Err(where_(format!(
                    "ignore_cimopt.format is {}, not {FORMAT}",
                    extra["format"]
                )));
            }
            if extra["exact"] == false {
                let w: Vec<String> = extra["warnings"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                return Err(where_(format!(
                    "the export of this layer was not exact, so its Timeloop mapping is not the schedule's: {}",
                    w.join("; ")
                )));
            }
            let tv = extra["target"].clone();
            match &target_value {
                None => target_value = Some(tv.clone()),
                Some(prev) if prev["spec"] != tv["spec"] => {
                    return Err(where_(
                        "its target differs from the other documents' target".into(),
                    ));
                }
                _ => {}
            }
            if model_value.is_null() {
                model_value = extra["model"].clone();
            }
            let probe = json!({
                "schema": {"name": cimopt_schedule::FORMAT_NAME, "version": cimopt_schedule::FORMAT_VERSION},
                "inputs": {"target": {"name": tv["name"], "spec": tv["spec"]}},
                "layers": [],
            });
            let t = cimopt_schedule::embedded_target(&probe.to_string())
                .map_err(|e| where_(format!("ignore_cimopt.target: {e}")))?;
            let chain = read_chain(&doc, &t).map_err(&where_)?;
            let mut layer = extra["layer"].clone();
            if layer.is_null() {
                layer = layer_from_problem(&doc, count).map_err(&where_)?;
            }
            let id = layer["id"]
                .as_u64()
                .ok_or_else(|| where_("ignore_cimopt.layer has no id".into()))?;
            // The exact mapping, if the Timeloop part still says what it says.
            let mut exact = None;
            if !extra["mapping"].is_null() {
                let mut with = layer.clone();
                with["mapping"] = extra["mapping"].clone();
                let probe = json!({
                    "schema": {"name": cimopt_schedule::FORMAT_NAME, "version": cimopt_schedule::FORMAT_VERSION},
                    "inputs": {"target": {"name": tv["name"], "spec": tv["spec"]}},
                    "layers": [with],
                });
                if let Ok(s) = cimopt_schedule::from_json(&probe.to_string(), None) {
                    let p = plan(&t, &s.layers[0].mapping);
                    if p.nodes == chain {
                        exact = Some(extra["mapping"].clone());
                    }
                }
            }
            let mapping = match exact {
                Some(m) => m,
                None => {
                    let m = mapping_of_chain(&chain, &t).map_err(&where_)?;
                    // The executed extents are what the factors cover.
                    let mut cover: BTreeMap<&str, u64> = BTreeMap::new();
                    for f in m["spatial"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .chain(m["temporal"].as_array().into_iter().flatten())
                    {
                        let d = f["dim"].as_str().unwrap_or("");
                        *cover.entry(d).or_insert(1) *= f["factor"].as_u64().unwrap_or(1);
                    }
                    let mut padded = serde_json::Map::new();
                    for d in Dim::ALL {
                        let bound = layer["dims"][d.name()].as_u64().unwrap_or(1);
                        let c = cover.get(d.name()).copied().unwrap_or(1);
                        if c < bound {
                            return Err(where_(format!(
                                "the factors of {} multiply to {c}, less than the layer's {bound}",
                                tl_dim(d)
                            )));
                        }
                        if c > bound {
                            padded.insert(d.name().into(), json!(c));
                        }
                    }
                    layer["padded_dims"] = if padded.is_empty() {
                        Value::Null
                    } else {
                        Value::Object(padded)
                    };
                    m
                }
            };
            layer["mapping"] = mapping;
            layer["solve"] = json!({"mapper": "timeloop-import", "status": "given"});
            if layers.insert(id, layer).is_some() {
                return Err(where_(format!("layer {id} appears twice")));
            }
            count += 1;
        }
    }
    let Some(tv) = target_value else {
        return Err(ExportError::Import {
            source_name: files.first().map_or("<no input>".into(), |f| f.0.clone()),
            message: "no Timeloop document to import".into(),
        });
    };
    let model = if model_value.is_null() {
        json!({"file": "", "sha256": ""})
    } else {
        model_value
    };
    let doc = json!({
        "schema": {"name": cimopt_schedule::FORMAT_NAME, "version": cimopt_schedule::FORMAT_VERSION},
        "producer": {"tool": "cimopt", "version": env!("CARGO_PKG_VERSION"), "mapper": "timeloop-import", "objective": "", "solver": null, "solver_options": {}},
        "inputs": {"model": model, "target": {"name": tv["name"], "spec": tv["spec"]}},
        "layers": layers.into_values().collect::<Vec<_>>(),
    });
    cimopt_schedule::from_json(&doc.to_string(), None).map_err(|e| ExportError::Import {
        source_name: files
            .iter()
            .map(|f| f.0.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        message: format!("the imported mapping is not valid: {e}"),
    })
}

trait DeserializeFrom: Sized {
    fn deserialize_from(de: serde_yaml::Deserializer<'_>) -> Result<Self, serde_yaml::Error>;
}

impl DeserializeFrom for serde_yaml::Value {
    fn deserialize_from(de: serde_yaml::Deserializer<'_>) -> Result<Self, serde_yaml::Error> {
        serde::Deserialize::deserialize(de)
    }
}
