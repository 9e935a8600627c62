//! Schedule → JSON.

use crate::dto::*;
use crate::hash::target_sha256;
use crate::plan::{MemoryPlan, PlanStep};
use crate::{FORMAT_NAME, FORMAT_VERSION, Metrics, Schedule, ScheduledLayer};
use cimopt_ir::analysis::{psum_levels, resident_bits};
use cimopt_ir::{Mapping, Workload};
use cimopt_target::{Dim, Operand, Target};
use serde::Serialize;
use serde_json::Value;

/// The schedule as pretty JSON (2-space indent, trailing newline), deterministic: the same
/// schedule always gives the same bytes. Level and axis indices are written as the target's
/// names; `psum_levels`, `resident_bits` and `inputs.target.sha256` are derived (from each
/// mapping, from the target). A non-finite
/// number is written as `null` (which the schema rejects): producers must not emit one.
pub fn to_json(s: &Schedule) -> String {
    let t = &s.inputs.target;
    let doc = Document {
        schema: SchemaId {
            name: FORMAT_NAME.into(),
            version: FORMAT_VERSION.into(),
        },
        producer: ProducerDto {
            tool: s.producer.tool.clone(),
            version: s.producer.version.clone(),
            mapper: s.producer.mapper.clone(),
            objective: s.producer.objective.clone(),
            solver: s.producer.solver.clone(),
            solver_options: s.producer.solver_options.clone(),
        },
        inputs: InputsDto {
            model: ModelFileDto {
                file: s.inputs.model_file.clone(),
                sha256: s.inputs.model_sha256.clone(),
            },
            target: Some(TargetRefDto {
                name: Some(s.inputs.target_name.clone()),
                // Always the hash of what is embedded, whatever the field says.
                sha256: Some(target_sha256(t)),
                spec: Some(serde_json::to_value(t.to_file()).unwrap_or(Value::Null)),
            }),
        },
        units: Some(UnitsDto::default()),
        layers: s.layers.iter().map(|l| layer(t, l)).collect(),
        model: Some(ModelDto {
            latency_cycles: Some(s.model.latency_cycles),
            energy_nj: Some(s.model.energy_nj),
            edp: Some(s.model.edp),
            lower_bound_cycles: Some(s.model.lower_bound_cycles),
            simulated_latency_cycles: s.model.simulated_latency_cycles,
            simulated_energy_nj: s.model.simulated_energy_nj,
            skipped_nodes: s
                .model
                .skipped_nodes
                .iter()
                .map(|n| SkippedDto {
                    name: n.name.clone(),
                    op: n.op.clone(),
                    reason: n.reason.clone(),
                    macs: n.macs,
                })
                .collect(),
            non_cim_ops: s
                .model
                .non_cim_ops
                .iter()
                .map(|n| NonCimDto {
                    name: n.name.clone(),
                    op: n.op.clone(),
                    output_elements: n.output_elements,
                })
                .collect(),
        }),
        memory_plan: s.plan.as_ref().map(|p| plan_dto(t, p)),
    };
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Serialising plain structs, strings and numbers into memory cannot fail.
    let _ = doc.serialize(&mut ser);
    let mut text = String::from_utf8(buf).unwrap_or_default();
    text.push('\n');
    text
}

fn plan_dto(t: &Target, p: &MemoryPlan) -> PlanDto {
    PlanDto {
        units: "bit".into(),
        residency: if p.residency { "on" } else { "off" }.into(),
        steps: p
            .steps
            .iter()
            .map(|s| match s {
                PlanStep::Layer(l) => StepDto::Layer { layer: *l as u64 },
                PlanStep::Op { name, op } => StepDto::Op {
                    op: op.clone(),
                    name: name.clone(),
                },
            })
            .collect(),
        tensors: p
            .tensors
            .iter()
            .map(|x| TensorDto {
                id: x.id as u64,
                name: x.name.clone(),
                aliases: x.aliases.clone(),
                kind: x.kind.name().into(),
                bits: x.bits,
                home: level_name(t, x.home),
                offset: x.offset,
                live: x.live.map(|s| s as u64),
            })
            .collect(),
        buffers: p
            .buffers
            .iter()
            .map(|b| BufferDto {
                layer: b.layer as u64,
                level: level_name(t, b.level),
                operand: b.operand.name().into(),
                instances: b.instances,
                offset: b.offset,
                bits: b.bits,
                halves: b.halves,
            })
            .collect(),
        layers: p
            .layers
            .iter()
            .map(|io| IoDto {
                layer: io.layer as u64,
                input: io.input as u64,
                weight: io.weight as u64,
                output: io.output as u64,
            })
            .collect(),
        baseline: p.baseline.map(|b| BaselineDto {
            latency_cycles: b.latency_cycles,
            energy_nj: b.energy_nj,
            dram_bits: b.dram_bits,
        }),
    }
}

fn level_name(t: &Target, level: usize) -> String {
    t.levels
        .get(level)
        .map_or_else(|| format!("#{level}"), |l| l.name.clone())
}

fn layer(t: &Target, sl: &ScheduledLayer) -> LayerDto {
    let l = &sl.layer;
    let w = &l.workload;
    let mut m = sl.mapping.clone();
    m.normalise();
    let padded: Vec<(String, u64)> = Dim::ALL
        .iter()
        .filter(|d| m.padded_dims[d.index()] != w.extent(**d))
        .map(|d| (d.name().to_string(), m.padded_dims[d.index()]))
        .collect();
    let (psum, resident) = derived(t, w, &m);
    LayerDto {
        id: l.index as u64,
        name: Some(l.name.clone()),
        onnx_nodes: l.onnx_nodes.clone(),
        op: w.op.name().into(),
        weight_kind: Some(w.weight_kind.name().into()),
        same_as: sl.same_as.map(|i| i as u64),
        has_bias: l.has_bias,
        dims: DimsDto {
            R: w.r,
            S: w.s,
            P: w.p,
            Q: w.q,
            C: w.c,
            K: w.k,
            G: w.g,
            B: w.b,
            H: Some(w.h),
            W: Some(w.w),
            stride: w.stride,
            pad: w.pad,
            dilation: w.dilation,
        },
        padded_dims: (!padded.is_empty()).then_some(OrderedMap(padded)),
        precision: Some({
            let p = cimopt_ir::analysis::layer_precision(t, w);
            PrecisionDto {
                input_bits: p.input,
                weight_bits: p.weight,
                output_bits: p.output,
            }
        }),
        mapping: MappingDto {
            spatial: m
                .spatial
                .iter()
                .map(|f| SpatialDto {
                    axis: t.axis(f.axis).name.clone(),
                    dim: f.dim.name().into(),
                    factor: f.factor,
                })
                .collect(),
            temporal: m
                .temporal
                .iter()
                .map(|l| TemporalDto {
                    dim: l.dim.name().into(),
                    factor: l.factor,
                    level: PerOperand {
                        I: level_name(t, l.level_of(Operand::I)),
                        W: level_name(t, l.level_of(Operand::W)),
                        O: level_name(t, l.level_of(Operand::O)),
                    },
                })
                .collect(),
            double_buffer: m
                .double_buffer
                .iter()
                .map(|&(lv, o)| DoubleBufferDto {
                    level: level_name(t, lv),
                    operand: o.name().into(),
                })
                .collect(),
            home: Some(PerOperand {
                I: level_name(t, m.home_of(Operand::I)),
                W: level_name(t, m.home_of(Operand::W)),
                O: level_name(t, m.home_of(Operand::O)),
            }),
        },
        psum_levels: WriteOnly(Some(psum)),
        resident_bits: WriteOnly(Some(resident)),
        predicted: sl.predicted.as_ref().map(|m| metrics(t, m)),
        simulated: sl.simulated.as_ref().map(|m| metrics(t, m)),
        solve: Some(SolveDto {
            mapper: Some(sl.solve.mapper.clone()),
            status: Some(sl.solve.status.clone()),
            objective: sl.solve.objective,
            best_bound: sl.solve.best_bound,
            gap: sl.solve.gap,
            space_bound: sl.solve.space_bound,
            space_gap: sl.solve.space_gap,
            wall_s: sl.solve.wall_s,
            candidates: sl.solve.candidates.map(|c| CandidatesDto {
                enumerated: c.enumerated,
                pruned_by_bound: c.pruned_by_bound,
                solved: c.solved,
            }),
            warm_start: sl.solve.warm_start,
            cache_hit: sl.solve.cache_hit,
            stop_reasons: sl.solve.stop_reasons.clone(),
        }),
    }
}

fn metrics(t: &Target, m: &Metrics) -> MetricsDto {
    MetricsDto {
        latency_cycles: m.latency_cycles,
        energy_nj: m.energy_nj,
        edp: Some(m.edp),
        breakdown: m.breakdown.to_keys(t),
    }
}

/// `psum_levels` and `resident_bits`, or empty ones when the mapping is too malformed for the
/// analysis (a level or axis index out of range, or sizes past 64 bits): writing never panics.
fn derived(t: &Target, w: &Workload, m: &Mapping) -> (Vec<String>, OrderedMap<PerOperand<u64>>) {
    if !analysable(t, w, m) {
        return (Vec::new(), OrderedMap(Vec::new()));
    }
    let psum: Vec<String> = psum_levels(t, m)
        .iter()
        .enumerate()
        .filter(|(_, p)| **p)
        .map(|(lv, _)| level_name(t, lv))
        .collect();
    let resident = resident_bits(t, w, m)
        .iter()
        .enumerate()
        .filter(|(_, bits)| bits.iter().any(|b| *b > 0))
        .map(|(lv, bits)| {
            (
                level_name(t, lv),
                PerOperand {
                    I: bits[0],
                    W: bits[1],
                    O: bits[2],
                },
            )
        })
        .collect();
    (psum, OrderedMap(resident))
}

/// Whether [`resident_bits`] can run without indexing out of range or overflowing: every
/// index is valid and the largest tile it can compute (all factors of each dim together, or
/// the padded extent when larger) fits in 64 bits, double-buffered, at the widest precision
/// (the target's or the layer's).
fn analysable(t: &Target, w: &Workload, m: &Mapping) -> bool {
    let n = t.num_levels();
    if m.temporal.iter().any(|l| l.level.iter().any(|&lv| lv >= n))
        || m.home.iter().any(|&lv| lv >= n)
        || m.double_buffer.iter().any(|&(lv, _)| lv >= n)
    {
        return false;
    }
    let mut ext = [1u64; 8];
    let factors = m
        .temporal
        .iter()
        .map(|l| (l.dim, l.factor))
        .chain(m.spatial.iter().map(|f| (f.dim, f.factor)));
    for (d, f) in factors {
        match ext[d.index()].checked_mul(f) {
            Some(v) => ext[d.index()] = v,
            None => return false,
        }
    }
    // The outermost level holds whole tensors at their padded extents.
    for d in Dim::ALL {
        ext[d.index()] = ext[d.index()].max(m.padded_dims[d.index()]);
    }
    let e = |d: Dim| ext[d.index()];
    let rows = |out: u64, kernel: u64, stride: u64, dilation: u64| -> Option<u64> {
        let window = kernel
            .saturating_sub(1)
            .checked_mul(dilation)?
            .checked_add(1)?;
        out.saturating_sub(1)
            .checked_mul(stride.min(window))?
            .checked_add(window)
    };
    let bits = (|| -> Option<u64> {
        let h = rows(e(Dim::P), e(Dim::R), w.stride[0], w.dilation[0])?.min(w.h);
        let wd = rows(e(Dim::Q), e(Dim::S), w.stride[1], w.dilation[1])?.min(w.w);
        let product = |ds: &[u64]| ds.iter().try_fold(1u64, |acc, &x| acc.checked_mul(x));
        let i = product(&[h, wd, e(Dim::C), e(Dim::G), e(Dim::B)])?;
        let wt = product(&[e(Dim::R), e(Dim::S), e(Dim::C), e(Dim::K), e(Dim::G)])?;
        let o = product(&[e(Dim::P), e(Dim::Q), e(Dim::K), e(Dim::G), e(Dim::B)])?;
        let (p, l) = (
            &t.macro_.precision,
            cimopt_ir::analysis::layer_precision(t, w),
        );
        if [l.input, l.weight, l.output]
            .iter()
            .any(|&b| b == 0 || b > cimopt_target::limits::MAX_PRECISION_BITS)
        {
            return None;
        }
        let widest = [
            p.input, p.weight, p.psum, p.output, l.input, l.weight, l.output,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        i.max(wt).max(o).checked_mul(widest)?.checked_mul(2)
    })();
    bits.is_some()
}
