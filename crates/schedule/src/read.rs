//! JSON → Schedule.

use crate::dto::*;
use crate::error::{LayerViolation, ScheduleError};
use crate::hash::target_sha256;
use crate::plan::{
    MemoryPlan, PlanBaseline, PlanStep, PlannedBuffer, PlannedIo, PlannedTensor, TensorKind,
    check_plan,
};
use crate::{
    Breakdown, Candidates, FORMAT_NAME, Inputs, Metrics, ModelSummary, NonCimOp, Producer,
    Schedule, ScheduledLayer, SkippedNode, SolveInfo,
};
use cimopt_ir::{Layer, Mapping, OpKind, SpatialFactor, TemporalLoop, WeightKind, Workload};
use cimopt_target::{Axis, Dim, Operand, Target, TargetError, TargetFile};
use serde_json::Value;
use std::collections::HashMap;

/// Reads a schedule of any 1.x version.
///
/// The target is the one embedded in `inputs.target.spec`, validated as a target file and
/// checked against `inputs.target.sha256` when that is given; with `target_override` the
/// embedded spec is not read at all, and `inputs` then describes the override. Unknown fields
/// are ignored, as are the derived fields `psum_levels` and `resident_bits`. Only `schema`,
/// the target, and each layer's `id`, `op`, `dims` and `mapping.temporal` are required;
/// see `docs/schedule-format.md` for the defaults of the rest.
///
/// Every error names the JSON path of the offending value. Every layer's mapping is then
/// checked with [`cimopt_ir::check()`] on the schedule's target: a document that reads but
/// does not check gives [`ScheduleError::InvalidMappings`] with every violation.
pub fn from_json(text: &str, target_override: Option<&Target>) -> Result<Schedule, ScheduleError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ScheduleError::Syntax(e.to_string()))?;
    check_schema_id(&value)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let doc: Document = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "(document)".to_string()
        } else {
            path
        };
        ScheduleError::invalid(path, e.into_inner().to_string())
    })?;
    convert(doc, target_override)
}

/// The fields of a schedule document this version does not know, by JSON path
/// (`layers[0].mapping.colour`). They are ignored on read (a later 1.x version may have added
/// them); a command shows them as warnings so that a misspelt field is not silently dropped.
/// Empty when the text does not parse as a schedule at all (reading says why).
pub fn unknown_fields(text: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let read: Result<Document, _> =
        serde_ignored::deserialize(&mut de, |path| unknown.push(json_path(&path.to_string())));
    if read.is_err() {
        return Vec::new();
    }
    // The derived fields are known: they are skipped on purpose (recomputed on write).
    unknown.retain(|p| !p.ends_with(".psum_levels") && !p.ends_with(".resident_bits"));
    unknown
}

/// `layers.0.mapping` as `layers[0].mapping`, the form every other message uses.
fn json_path(dotted: &str) -> String {
    let mut out = String::new();
    for seg in dotted.split('.').filter(|s| !s.is_empty() && *s != "?") {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// The target a schedule embeds (`inputs.target.spec`), validated, without reading the rest:
/// what a reader needs to re-read the schedule on a variant of its own target.
pub fn embedded_target(text: &str) -> Result<Target, ScheduleError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ScheduleError::Syntax(e.to_string()))?;
    check_schema_id(&value)?;
    let inputs_value = value.get("inputs").cloned().unwrap_or(Value::Null);
    let dto: InputsDto = if inputs_value.is_null() {
        InputsDto::default()
    } else {
        serde_path_to_error::deserialize(inputs_value).map_err(|e| {
            ScheduleError::invalid(format!("inputs.{}", e.path()), e.into_inner().to_string())
        })?
    };
    Ok(inputs(&dto, None)?.target)
}

/// `schema.name` must be ours and `schema.version` of major version 1; checked before
/// anything else so that a document of another format or version gets this message rather
/// than one about a field it does not have.
fn check_schema_id(v: &Value) -> Result<(), ScheduleError> {
    let expected = format!(
        "expected \"schema\": {{\"name\": \"{FORMAT_NAME}\", \"version\": \"1.x.y\"}} at the top of a cimopt schedule"
    );
    let Some(root) = v.as_object() else {
        return Err(ScheduleError::NotASchedule(format!(
            "the document is not a JSON object; {expected}"
        )));
    };
    let Some(schema) = root.get("schema") else {
        return Err(ScheduleError::NotASchedule(format!("missing; {expected}")));
    };
    let name = schema.get("name").and_then(Value::as_str);
    if name != Some(FORMAT_NAME) {
        return Err(ScheduleError::NotASchedule(format!(
            "name is {}, not \"{FORMAT_NAME}\": this is not a cimopt schedule; {expected}",
            schema
                .get("name")
                .map_or("missing".to_string(), |n| n.to_string())
        )));
    }
    let Some(version) = schema.get("version").and_then(Value::as_str) else {
        return Err(ScheduleError::invalid(
            "schema.version",
            "missing or not a string; expected a semantic version such as \"1.0.0\"",
        ));
    };
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u64>().ok())
        .ok_or_else(|| {
            ScheduleError::invalid(
                "schema.version",
                format!(
                    "\"{version}\" is not a semantic version (MAJOR.MINOR.PATCH, e.g. \"1.0.0\")"
                ),
            )
        })?;
    if major != 1 {
        return Err(ScheduleError::UnsupportedVersion {
            found: version.to_string(),
            major,
        });
    }
    Ok(())
}

fn convert(doc: Document, target_override: Option<&Target>) -> Result<Schedule, ScheduleError> {
    if let Some(units) = &doc.units {
        let want = UnitsDto::default();
        for (key, got, expected) in [
            ("latency", &units.latency, &want.latency),
            ("energy", &units.energy, &want.energy),
            ("capacity", &units.capacity, &want.capacity),
            ("edp", &units.edp, &want.edp),
        ] {
            if got != expected {
                return Err(ScheduleError::invalid(
                    format!("units.{key}"),
                    format!(
                        "\"{got}\": version 1 schedules give {key} in \"{expected}\" only; convert the numbers and write \"{expected}\""
                    ),
                ));
            }
        }
    }
    let inputs = inputs(&doc.inputs, target_override)?;
    let t = &inputs.target;

    let mut layers = Vec::with_capacity(doc.layers.len());
    let mut by_id: HashMap<usize, usize> = HashMap::new();
    for (i, l) in doc.layers.iter().enumerate() {
        let sl = layer(t, i, l, &doc.producer.mapper)?;
        if let Some(&first) = by_id.get(&sl.layer.index) {
            return Err(ScheduleError::invalid(
                format!("layers[{i}].id"),
                format!(
                    "id {} is already used by layers[{first}]; ids must be unique",
                    sl.layer.index
                ),
            ));
        }
        by_id.insert(sl.layer.index, i);
        layers.push(sl);
    }
    for i in 0..layers.len() {
        let Some(target_id) = layers[i].same_as else {
            continue;
        };
        let path = format!("layers[{i}].same_as");
        let id = layers[i].layer.index;
        let Some(&j) = by_id.get(&target_id) else {
            return Err(ScheduleError::invalid(
                path,
                format!("no layer has id {target_id}"),
            ));
        };
        if target_id >= id {
            return Err(ScheduleError::invalid(
                path,
                format!(
                    "layer {id} cannot be the same as layer {target_id}: same_as names an earlier layer (a smaller id)"
                ),
            ));
        }
        if layers[j].layer.workload != layers[i].layer.workload {
            return Err(ScheduleError::invalid(
                path,
                format!(
                    "layer {id} says it is the same as layer {target_id}, but their op, weight_kind, dims or precision differ"
                ),
            ));
        }
    }

    let violations: Vec<LayerViolation> = layers
        .iter()
        .flat_map(|l| {
            cimopt_ir::check(t, &l.layer.workload, &l.mapping)
                .into_iter()
                .map(|violation| LayerViolation {
                    index: l.layer.index,
                    name: l.layer.name.clone(),
                    violation,
                })
        })
        .collect();
    if !violations.is_empty() {
        return Err(ScheduleError::InvalidMappings(violations));
    }
    let plan = match &doc.memory_plan {
        None => None,
        Some(dto) => {
            let plan = plan(t, dto)?;
            let pairs: Vec<(&Layer, &Mapping)> =
                layers.iter().map(|l| (&l.layer, &l.mapping)).collect();
            let violations = check_plan(t, &pairs, &plan);
            if !violations.is_empty() {
                return Err(ScheduleError::InvalidPlan(violations));
            }
            Some(plan)
        }
    };
    let model = model(doc.model.unwrap_or_default(), &layers);
    let p = doc.producer;
    Ok(Schedule {
        plan,
        producer: Producer {
            tool: p.tool,
            version: p.version,
            mapper: p.mapper,
            objective: p.objective,
            solver: p.solver,
            solver_options: p.solver_options,
        },
        inputs,
        layers,
        model,
    })
}

/// The memory plan as written, names resolved; `check_plan` judges it.
fn plan(t: &Target, p: &PlanDto) -> Result<MemoryPlan, ScheduleError> {
    let level = |path: String, name: &str| -> Result<usize, ScheduleError> {
        t.level_by_name(name).ok_or_else(|| {
            ScheduleError::invalid(
                path,
                format!("no level named \"{name}\" in target \"{}\"", t.name),
            )
        })
    };
    if p.units != "bit" {
        return Err(ScheduleError::invalid(
            "memory_plan.units",
            format!("\"{}\": offsets and sizes are in \"bit\"", p.units),
        ));
    }
    let residency = match p.residency.as_str() {
        "on" => true,
        "off" => false,
        other => {
            return Err(ScheduleError::invalid(
                "memory_plan.residency",
                format!("\"{other}\": expected \"on\" or \"off\""),
            ));
        }
    };
    let usize_of = |path: String, v: u64| {
        usize::try_from(v).map_err(|_| ScheduleError::invalid(path, "too large"))
    };
    let mut steps = Vec::with_capacity(p.steps.len());
    for (k, st) in p.steps.iter().enumerate() {
        steps.push(match st {
            StepDto::Layer { layer } => {
                PlanStep::Layer(usize_of(format!("memory_plan.steps[{k}].layer"), *layer)?)
            }
            StepDto::Op { op, name } => PlanStep::Op {
                name: name.clone(),
                op: op.clone(),
            },
        });
    }
    let mut tensors = Vec::with_capacity(p.tensors.len());
    for (k, x) in p.tensors.iter().enumerate() {
        let at = |f: &str| format!("memory_plan.tensors[{k}].{f}");
        tensors.push(PlannedTensor {
            id: usize_of(at("id"), x.id)?,
            name: x.name.clone(),
            aliases: x.aliases.clone(),
            kind: TensorKind::parse(&x.kind).ok_or_else(|| {
                ScheduleError::invalid(
                    at("kind"),
                    format!(
                        "\"{}\": expected \"input\", \"output\", \"activation\" or \"weight\"",
                        x.kind
                    ),
                )
            })?,
            bits: x.bits,
            home: level(at("home"), &x.home)?,
            offset: x.offset,
            live: [
                usize_of(at("live"), x.live[0])?,
                usize_of(at("live"), x.live[1])?,
            ],
        });
    }
    let mut buffers = Vec::with_capacity(p.buffers.len());
    for (k, b) in p.buffers.iter().enumerate() {
        let at = |f: &str| format!("memory_plan.buffers[{k}].{f}");
        buffers.push(PlannedBuffer {
            layer: usize_of(at("layer"), b.layer)?,
            level: level(at("level"), &b.level)?,
            operand: b
                .operand
                .parse()
                .map_err(|e: String| ScheduleError::invalid(at("operand"), e))?,
            instances: b.instances,
            offset: b.offset,
            bits: b.bits,
            halves: b.halves,
        });
    }
    let mut io = Vec::with_capacity(p.layers.len());
    for (k, l) in p.layers.iter().enumerate() {
        let at = |f: &str| format!("memory_plan.layers[{k}].{f}");
        io.push(PlannedIo {
            layer: usize_of(at("layer"), l.layer)?,
            input: usize_of(at("input"), l.input)?,
            weight: usize_of(at("weight"), l.weight)?,
            output: usize_of(at("output"), l.output)?,
        });
    }
    Ok(MemoryPlan {
        residency,
        steps,
        tensors,
        buffers,
        layers: io,
        baseline: p.baseline.as_ref().map(|b| PlanBaseline {
            latency_cycles: b.latency_cycles,
            energy_nj: b.energy_nj,
            dram_bits: b.dram_bits,
        }),
    })
}

fn inputs(dto: &InputsDto, target_override: Option<&Target>) -> Result<Inputs, ScheduleError> {
    let (model_file, model_sha256) = (dto.model.file.clone(), dto.model.sha256.clone());
    if let Some(t) = target_override {
        return Ok(Inputs {
            model_file,
            model_sha256,
            target_name: t.name.clone(),
            target_sha256: target_sha256(t),
            target: t.clone(),
        });
    }
    let missing = || {
        ScheduleError::invalid(
            "inputs.target.spec",
            "missing: a schedule embeds its target (the target file as JSON); give it, or read the schedule with a target override",
        )
    };
    let r = dto.target.as_ref().ok_or_else(missing)?;
    let spec = r.spec.as_ref().ok_or_else(missing)?;
    let file: TargetFile = serde_path_to_error::deserialize(spec).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "inputs.target.spec".to_string()
        } else {
            format!("inputs.target.spec.{path}")
        };
        ScheduleError::invalid(path, e.into_inner().to_string())
    })?;
    // `TargetFile::resolve` multiplies these unchecked (and panics on overflow in debug
    // builds); refuse the overflow here so that no input makes the reader panic.
    if file
        .macro_
        .compartment_depth
        .checked_mul(file.macro_.precision.weight_bits)
        .is_none()
    {
        return Err(ScheduleError::invalid(
            "inputs.target.spec.macro.compartment_depth",
            "compartment_depth × precision.weight_bits does not fit in 64 bits",
        ));
    }
    let target = file.resolve().map_err(|e| match e {
        TargetError::Invalid { key, reason } => {
            ScheduleError::invalid(format!("inputs.target.spec.{key}"), reason)
        }
        other => ScheduleError::invalid("inputs.target.spec", other.to_string()),
    })?;
    let computed = target_sha256(&target);
    if let Some(declared) = r.sha256.as_deref().filter(|s| !s.is_empty())
        && !declared.eq_ignore_ascii_case(&computed)
    {
        return Err(ScheduleError::invalid(
            "inputs.target.sha256",
            format!(
                "\"{declared}\" does not match the embedded spec, whose hash is \"{computed}\": the spec was changed after the schedule was written; update the hash or remove it"
            ),
        ));
    }
    Ok(Inputs {
        model_file,
        model_sha256,
        target_name: r.name.clone().unwrap_or_else(|| target.name.clone()),
        target_sha256: computed,
        target,
    })
}

/// The unpadded input extent that yields `out` outputs.
fn input_extent(out: u64, kernel: u64, stride: u64, dilation: u64, pad: u64) -> u64 {
    let span = out
        .saturating_sub(1)
        .saturating_mul(stride)
        .saturating_add(kernel.saturating_sub(1).saturating_mul(dilation))
        .saturating_add(1);
    span.saturating_sub(pad).max(1)
}

/// One layer; a layer that names no mapper was found by the model's `mapper`.
fn layer(
    t: &Target,
    i: usize,
    l: &LayerDto,
    mapper: &str,
) -> Result<ScheduledLayer, ScheduleError> {
    let at = |field: &str| format!("layers[{i}].{field}");
    let id = usize::try_from(l.id)
        .map_err(|_| ScheduleError::invalid(at("id"), "too large for this machine"))?;
    // Paths name the position in `layers`; the id is added when it differs.
    let at_id = |field: &str| {
        if id == i {
            at(field)
        } else {
            format!("{} (layer id {id})", at(field))
        }
    };
    let op = OpKind::parse(&l.op).ok_or_else(|| {
        ScheduleError::invalid(
            at_id("op"),
            format!("\"{}\": expected \"Conv\", \"Gemm\" or \"MatMul\"", l.op),
        )
    })?;
    let weight_kind = match &l.weight_kind {
        None => WeightKind::Constant,
        Some(k) => WeightKind::parse(k).ok_or_else(|| {
            ScheduleError::invalid(
                at_id("weight_kind"),
                format!("\"{k}\": expected \"constant\" or \"activation\""),
            )
        })?,
    };
    let d = &l.dims;
    for (name, v) in [
        ("R", d.R),
        ("S", d.S),
        ("P", d.P),
        ("Q", d.Q),
        ("C", d.C),
        ("K", d.K),
        ("G", d.G),
        ("B", d.B),
        ("H", d.H.unwrap_or(1)),
        ("W", d.W.unwrap_or(1)),
        ("stride[0]", d.stride[0]),
        ("stride[1]", d.stride[1]),
        ("dilation[0]", d.dilation[0]),
        ("dilation[1]", d.dilation[1]),
    ] {
        if v == 0 {
            return Err(ScheduleError::invalid(
                at_id(&format!("dims.{name}")),
                "must be ≥ 1",
            ));
        }
    }
    let workload = Workload {
        op,
        weight_kind,
        r: d.R,
        s: d.S,
        p: d.P,
        q: d.Q,
        c: d.C,
        k: d.K,
        g: d.G,
        b: d.B,
        h: d.H.unwrap_or_else(|| {
            input_extent(
                d.P,
                d.R,
                d.stride[0],
                d.dilation[0],
                d.pad[0].saturating_add(d.pad[2]),
            )
        }),
        w: d.W.unwrap_or_else(|| {
            input_extent(
                d.Q,
                d.S,
                d.stride[1],
                d.dilation[1],
                d.pad[1].saturating_add(d.pad[3]),
            )
        }),
        stride: d.stride,
        pad: d.pad,
        dilation: d.dilation,
        // Documents before 1.2.0 ran every layer at the target's precisions.
        bits: {
            let own = &t.macro_.precision;
            let (input, weight, output) = l
                .precision
                .as_ref()
                .map_or((own.input, own.weight, own.output), |p| {
                    (p.input_bits, p.weight_bits, p.output_bits)
                });
            cimopt_ir::Bits {
                input: Some(input),
                weight: Some(weight),
                output: Some(output),
            }
        },
    };

    let mut padded_dims = workload.extents();
    if let Some(p) = &l.padded_dims {
        let mut seen = Vec::new();
        for &(ref key, v) in &p.0 {
            let dim: Dim = key.parse().map_err(|e: String| {
                ScheduleError::invalid(at_id(&format!("padded_dims.{key}")), e)
            })?;
            if seen.contains(&dim) {
                return Err(ScheduleError::invalid(
                    at_id(&format!("padded_dims.{key}")),
                    format!("{dim} given twice"),
                ));
            }
            seen.push(dim);
            padded_dims[dim.index()] = v;
        }
    }

    let mapping = mapping(t, &at_id, &l.mapping, padded_dims)?;
    let same_as = l
        .same_as
        .map(|s| {
            usize::try_from(s).map_err(|_| ScheduleError::invalid(at_id("same_as"), "too large"))
        })
        .transpose()?;
    let solve = l.solve.as_ref();
    Ok(ScheduledLayer {
        layer: Layer {
            index: id,
            name: l
                .name
                .clone()
                .unwrap_or_else(|| format!("{}_{id}", op.name())),
            onnx_nodes: l.onnx_nodes.clone(),
            workload,
            dedup_group: same_as.unwrap_or(id),
            has_bias: l.has_bias,
        },
        same_as,
        mapping,
        predicted: l.predicted.as_ref().map(|m| metrics(t, m)),
        simulated: l.simulated.as_ref().map(|m| metrics(t, m)),
        solve: SolveInfo {
            mapper: solve
                .and_then(|s| s.mapper.clone())
                .unwrap_or_else(|| mapper.to_string()),
            status: solve
                .and_then(|s| s.status.clone())
                .unwrap_or_else(|| "unknown".to_string()),
            objective: solve.and_then(|s| s.objective),
            best_bound: solve.and_then(|s| s.best_bound),
            gap: solve.and_then(|s| s.gap),
            space_bound: solve.and_then(|s| s.space_bound),
            space_gap: solve.and_then(|s| s.space_gap),
            wall_s: solve.and_then(|s| s.wall_s),
            candidates: solve
                .and_then(|s| s.candidates.as_ref())
                .map(|c| Candidates {
                    enumerated: c.enumerated,
                    pruned_by_bound: c.pruned_by_bound,
                    solved: c.solved,
                }),
            warm_start: solve.and_then(|s| s.warm_start),
            cache_hit: solve.and_then(|s| s.cache_hit),
            stop_reasons: solve.map(|s| s.stop_reasons.clone()).unwrap_or_default(),
        },
    })
}

fn mapping(
    t: &Target,
    at: &dyn Fn(&str) -> String,
    m: &MappingDto,
    padded_dims: [u64; 8],
) -> Result<Mapping, ScheduleError> {
    let level = |path: String, name: &str| -> Result<usize, ScheduleError> {
        t.level_by_name(name).ok_or_else(|| {
            let names: Vec<&str> = t.levels.iter().map(|l| l.name.as_str()).collect();
            ScheduleError::invalid(
                path,
                format!(
                    "no level named \"{name}\" in target \"{}\" (levels: {})",
                    t.name,
                    names.join(", ")
                ),
            )
        })
    };
    let dim = |path: String, name: &str| -> Result<Dim, ScheduleError> {
        name.parse()
            .map_err(|e: String| ScheduleError::invalid(path, e))
    };
    let operand = |path: String, name: &str| -> Result<Operand, ScheduleError> {
        name.parse()
            .map_err(|e: String| ScheduleError::invalid(path, e))
    };

    let mut spatial = Vec::with_capacity(m.spatial.len());
    for (k, f) in m.spatial.iter().enumerate() {
        let path = |field: &str| at(&format!("mapping.spatial[{k}].{field}"));
        let axis = t
            .axes
            .iter()
            .position(|a| a.name == f.axis)
            .ok_or_else(|| {
                let names: Vec<&str> = t.axes.iter().map(|a| a.name.as_str()).collect();
                ScheduleError::invalid(
                    path("axis"),
                    format!(
                        "no spatial axis named \"{}\" in target \"{}\" (axes: {})",
                        f.axis,
                        t.name,
                        names.join(", ")
                    ),
                )
            })?;
        spatial.push(SpatialFactor {
            axis: Axis::ALL[axis],
            dim: dim(path("dim"), &f.dim)?,
            factor: f.factor,
        });
    }

    let mut temporal = Vec::with_capacity(m.temporal.len());
    for (k, l) in m.temporal.iter().enumerate() {
        let path = |field: &str| at(&format!("mapping.temporal[{k}].{field}"));
        temporal.push(TemporalLoop {
            dim: dim(path("dim"), &l.dim)?,
            factor: l.factor,
            level: [
                level(path("level.I"), &l.level.I)?,
                level(path("level.W"), &l.level.W)?,
                level(path("level.O"), &l.level.O)?,
            ],
        });
    }

    let mut double_buffer = Vec::with_capacity(m.double_buffer.len());
    for (k, b) in m.double_buffer.iter().enumerate() {
        let path = |field: &str| at(&format!("mapping.double_buffer[{k}].{field}"));
        double_buffer.push((
            level(path("level"), &b.level)?,
            operand(path("operand"), &b.operand)?,
        ));
    }

    let home = match &m.home {
        None => [0; 3],
        Some(h) => [
            level(at("mapping.home.I"), &h.I)?,
            level(at("mapping.home.W"), &h.W)?,
            level(at("mapping.home.O"), &h.O)?,
        ],
    };
    let mut mapping = Mapping {
        spatial,
        temporal,
        double_buffer,
        padded_dims,
        home,
    };
    mapping.normalise();
    Ok(mapping)
}

fn metrics(t: &Target, m: &MetricsDto) -> Metrics {
    Metrics {
        latency_cycles: m.latency_cycles,
        energy_nj: m.energy_nj,
        edp: m.edp.unwrap_or(m.latency_cycles * m.energy_nj),
        breakdown: Breakdown::from_keys(&m.breakdown, t),
    }
}

/// Model totals as written; a total left out is the sum over the layers' predictions (EDP:
/// the product of the totals), the lower bound 0.
fn model(m: ModelDto, layers: &[ScheduledLayer]) -> ModelSummary {
    let sum = |f: fn(&Metrics) -> f64| -> f64 {
        layers
            .iter()
            .filter_map(|l| l.predicted.as_ref())
            .map(f)
            .sum()
    };
    let latency = m
        .latency_cycles
        .unwrap_or_else(|| sum(|x| x.latency_cycles));
    let energy = m.energy_nj.unwrap_or_else(|| sum(|x| x.energy_nj));
    ModelSummary {
        latency_cycles: latency,
        energy_nj: energy,
        edp: m.edp.unwrap_or(latency * energy),
        lower_bound_cycles: m.lower_bound_cycles.unwrap_or(0.0),
        simulated_latency_cycles: m.simulated_latency_cycles,
        simulated_energy_nj: m.simulated_energy_nj,
        skipped_nodes: m
            .skipped_nodes
            .into_iter()
            .map(|n| SkippedNode {
                name: n.name,
                op: n.op,
                reason: n.reason,
                macs: n.macs,
            })
            .collect(),
        non_cim_ops: m
            .non_cim_ops
            .into_iter()
            .map(|n| NonCimOp {
                name: n.name,
                op: n.op,
                output_elements: n.output_elements,
            })
            .collect(),
    }
}
