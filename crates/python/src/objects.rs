//! The typed, read-only Python objects: layers, mappings, metrics, solve statistics, a target.
//! Each is built from the library's types once and holds plain values (names, not indices:
//! levels and axes are named as in the target, dims as `R S P Q C K G B`).

use cimopt_ir::Layer as IrLayer;
use cimopt_schedule::{Metrics as IrMetrics, ScheduledLayer as IrScheduledLayer, SolveInfo};
use cimopt_target::{Dim, Operand, Target as IrTarget};
use pyo3::prelude::*;
use std::collections::BTreeMap;

/// A level's name, or its index when the target has no such level (never for a checked
/// schedule).
fn level_name(t: &IrTarget, level: usize) -> String {
    t.levels
        .get(level)
        .map_or_else(|| level.to_string(), |l| l.name.clone())
}

/// `{"I": x, "W": y, "O": z}` from a per-operand array of level indices.
fn per_operand_levels(t: &IrTarget, levels: [usize; 3]) -> BTreeMap<String, String> {
    Operand::ALL
        .iter()
        .map(|o| (o.name().to_string(), level_name(t, levels[o.index()])))
        .collect()
}

/// `{"R": .., "S": .., ...}` in the format's order (a dict keeps insertion order in Python,
/// but a `BTreeMap` would sort the keys, so this is a list of pairs turned into a dict).
fn dims_dict<'py>(py: Python<'py>, extents: [u64; 8]) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let d = pyo3::types::PyDict::new(py);
    for dim in Dim::ALL {
        d.set_item(dim.name(), extents[dim.index()])?;
    }
    Ok(d)
}

/// One CIM layer of a model (a Conv, Gemm or MatMul) and its loop-nest workload.
#[pyclass(frozen, get_all, module = "cimopt")]
pub struct Layer {
    /// Position in the model's layer list (topological order).
    pub index: usize,
    /// The ONNX node's name.
    pub name: String,
    /// `Conv`, `Gemm` or `MatMul`.
    pub op: String,
    /// `constant` (weights from the model) or `activation` (computed at run time).
    pub weight_kind: String,
    /// The extents of `R S P Q C K G B`.
    pub dims: Py<pyo3::types::PyDict>,
    /// Input height and width.
    pub h: u64,
    pub w: u64,
    pub stride: (u64, u64),
    /// Top, left, bottom, right.
    pub pad: (u64, u64, u64, u64),
    pub dilation: (u64, u64),
    pub macs: u64,
    /// Weight count.
    pub weights: u64,
    /// The first layer with an identical workload (itself when it is the first).
    pub dedup_group: usize,
    pub has_bias: bool,
    /// The ONNX nodes folded into the layer, the compute node first.
    pub onnx_nodes: Vec<String>,
    /// Bits per element of the layer's input, weights and output (`{"input": 8, ...}`): as
    /// the model gives them (`None` for a float tensor, where the target's precision
    /// applies), or in a schedule, what the layer runs at.
    pub bits: BTreeMap<String, Option<u64>>,
}

impl Layer {
    pub fn new(py: Python<'_>, l: &IrLayer) -> PyResult<Layer> {
        let w = &l.workload;
        Ok(Layer {
            index: l.index,
            name: l.name.clone(),
            op: w.op.name().to_string(),
            weight_kind: w.weight_kind.name().to_string(),
            dims: dims_dict(py, w.extents())?.unbind(),
            h: w.h,
            w: w.w,
            stride: (w.stride[0], w.stride[1]),
            pad: (w.pad[0], w.pad[1], w.pad[2], w.pad[3]),
            dilation: (w.dilation[0], w.dilation[1]),
            macs: w.macs(),
            weights: w.weight_count(),
            dedup_group: l.dedup_group,
            has_bias: l.has_bias,
            onnx_nodes: l.onnx_nodes.clone(),
            bits: BTreeMap::from([
                ("input".to_string(), w.bits.input),
                ("weight".to_string(), w.bits.weight),
                ("output".to_string(), w.bits.output),
            ]),
        })
    }
}

#[pymethods]
impl Layer {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Layer({}, {}, {}, dims={}, macs={})",
            self.index,
            pyo3::types::PyString::new(py, &self.name).repr()?,
            self.op,
            self.dims.bind(py).repr()?,
            self.macs
        ))
    }
}

/// A factor of a dim unrolled on a spatial axis.
#[pyclass(frozen, get_all, module = "cimopt")]
pub struct SpatialFactor {
    /// The target's name of the axis (`cores`, `rows`, `cols`).
    pub axis: String,
    pub dim: String,
    pub factor: u64,
}

#[pymethods]
impl SpatialFactor {
    fn __repr__(&self) -> String {
        format!("SpatialFactor({}: {}={})", self.axis, self.dim, self.factor)
    }
}

/// One temporal loop, outer to inner, with the level of each operand.
#[pyclass(frozen, get_all, module = "cimopt")]
pub struct TemporalLoop {
    pub dim: String,
    /// The trip count.
    pub factor: u64,
    /// `{"I": level, "W": level, "O": level}`, by level name.
    pub level: BTreeMap<String, String>,
}

#[pymethods]
impl TemporalLoop {
    fn __repr__(&self) -> String {
        format!(
            "TemporalLoop({}={}, I@{}, W@{}, O@{})",
            self.dim, self.factor, self.level["I"], self.level["W"], self.level["O"]
        )
    }
}

/// A layer's mapping: spatial factors, temporal loops, double buffers, padded extents and
/// where each operand's tensor lives.
#[pyclass(frozen, get_all, module = "cimopt")]
pub struct Mapping {
    pub spatial: Vec<Py<SpatialFactor>>,
    pub temporal: Vec<Py<TemporalLoop>>,
    /// `(level, operand)` pairs holding two tiles.
    pub double_buffer: Vec<(String, String)>,
    /// The extent each dim is executed to (more than the dim's when padded).
    pub padded_dims: Py<pyo3::types::PyDict>,
    /// The level holding each operand's whole tensor during the layer.
    pub home: BTreeMap<String, String>,
}

impl Mapping {
    pub fn new(py: Python<'_>, t: &IrTarget, m: &cimopt_ir::Mapping) -> PyResult<Mapping> {
        Ok(Mapping {
            spatial: m
                .spatial
                .iter()
                .map(|f| {
                    Py::new(
                        py,
                        SpatialFactor {
                            axis: t.axis(f.axis).name.clone(),
                            dim: f.dim.name().to_string(),
                            factor: f.factor,
                        },
                    )
                })
                .collect::<PyResult<_>>()?,
            temporal: m
                .temporal
                .iter()
                .map(|l| {
                    Py::new(
                        py,
                        TemporalLoop {
                            dim: l.dim.name().to_string(),
                            factor: l.factor,
                            level: per_operand_levels(t, l.level),
                        },
                    )
                })
                .collect::<PyResult<_>>()?,
            double_buffer: m
                .double_buffer
                .iter()
                .map(|(lv, o)| (level_name(t, *lv), o.name().to_string()))
                .collect(),
            padded_dims: dims_dict(py, m.padded_dims)?.unbind(),
            home: per_operand_levels(t, m.home),
        })
    }
}

#[pymethods]
impl Mapping {
    fn __repr__(&self) -> String {
        format!(
            "Mapping({} spatial factors, {} temporal loops, {} double buffers)",
            self.spatial.len(),
            self.temporal.len(),
            self.double_buffer.len()
        )
    }
}

/// Latency, energy and their product for one layer, with the parts they are made of.
#[pyclass(frozen, get_all, module = "cimopt")]
pub struct Metrics {
    pub latency_cycles: f64,
    pub energy_nj: f64,
    /// cycle·nJ.
    pub edp: f64,
    /// The parts by the schedule format's key (`latency.compute_cycles`,
    /// `energy.level.dram_nj`, `bits.level.dram_read`, `mac_utilisation`, ...).
    pub breakdown: BTreeMap<String, f64>,
}

impl Metrics {
    pub fn new(t: &IrTarget, m: &IrMetrics) -> Metrics {
        Metrics {
            latency_cycles: m.latency_cycles,
            energy_nj: m.energy_nj,
            edp: m.edp,
            breakdown: m.breakdown.to_keys(t),
        }
    }
}

#[pymethods]
impl Metrics {
    fn __repr__(&self) -> String {
        format!(
            "Metrics(latency_cycles={}, energy_nj={}, edp={})",
            self.latency_cycles, self.energy_nj, self.edp
        )
    }
}

/// How a layer's mapping was found.
#[pyclass(frozen, get_all, module = "cimopt")]
pub struct Solve {
    pub mapper: String,
    /// `optimal`, `feasible`, `time_limit`, `heuristic`, `reused`, ...
    pub status: String,
    pub objective: Option<f64>,
    /// A proven lower bound over every mapping of the layer.
    pub best_bound: Option<f64>,
    pub gap: Option<f64>,
    /// A proven lower bound over the space the mapper searched (at least `best_bound`).
    pub space_bound: Option<f64>,
    pub space_gap: Option<f64>,
    /// Wall-clock seconds (only with `timings=True`).
    pub wall_s: Option<f64>,
    /// `{"enumerated": .., "pruned_by_bound": .., "solved": ..}` spatial candidates.
    pub candidates: Option<BTreeMap<String, u64>>,
    pub warm_start: Option<bool>,
    /// Whether the solve cache served it (only with `timings=True`).
    pub cache_hit: Option<bool>,
    pub stop_reasons: Vec<String>,
}

impl Solve {
    pub fn new(s: &SolveInfo) -> Solve {
        Solve {
            mapper: s.mapper.clone(),
            status: s.status.clone(),
            objective: s.objective,
            best_bound: s.best_bound,
            gap: s.gap,
            space_bound: s.space_bound,
            space_gap: s.space_gap,
            wall_s: s.wall_s,
            candidates: s.candidates.map(|c| {
                BTreeMap::from([
                    ("enumerated".to_string(), c.enumerated),
                    ("pruned_by_bound".to_string(), c.pruned_by_bound),
                    ("solved".to_string(), c.solved),
                ])
            }),
            warm_start: s.warm_start,
            cache_hit: s.cache_hit,
            stop_reasons: s.stop_reasons.clone(),
        }
    }
}

#[pymethods]
impl Solve {
    fn __repr__(&self) -> String {
        format!("Solve({}, {})", self.mapper, self.status)
    }
}

/// One layer of a schedule: the layer, its mapping, the predicted and simulated numbers and
/// how the mapping was found.
#[pyclass(frozen, get_all, module = "cimopt")]
pub struct ScheduledLayer {
    pub index: usize,
    pub name: String,
    pub op: String,
    /// The extents of `R S P Q C K G B`.
    pub dims: Py<pyo3::types::PyDict>,
    pub macs: u64,
    /// The earlier identical layer whose mapping this one reuses.
    pub same_as: Option<usize>,
    pub layer: Py<Layer>,
    pub mapping: Py<Mapping>,
    /// The cost model's numbers.
    pub predicted: Option<Py<Metrics>>,
    /// The simulator's numbers (`None` when compiled with `simulate=False`).
    pub simulated: Option<Py<Metrics>>,
    pub solve: Py<Solve>,
}

impl ScheduledLayer {
    pub fn new(py: Python<'_>, t: &IrTarget, l: &IrScheduledLayer) -> PyResult<ScheduledLayer> {
        let layer = Layer::new(py, &l.layer)?;
        Ok(ScheduledLayer {
            index: l.layer.index,
            name: l.layer.name.clone(),
            op: layer.op.clone(),
            dims: layer.dims.clone_ref(py),
            macs: layer.macs,
            same_as: l.same_as,
            layer: Py::new(py, layer)?,
            mapping: Py::new(py, Mapping::new(py, t, &l.mapping)?)?,
            predicted: l
                .predicted
                .as_ref()
                .map(|m| Py::new(py, Metrics::new(t, m)))
                .transpose()?,
            simulated: l
                .simulated
                .as_ref()
                .map(|m| Py::new(py, Metrics::new(t, m)))
                .transpose()?,
            solve: Py::new(py, Solve::new(&l.solve))?,
        })
    }
}

#[pymethods]
impl ScheduledLayer {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ScheduledLayer({}, {}, {}{})",
            self.index,
            pyo3::types::PyString::new(py, &self.name).repr()?,
            self.op,
            self.same_as
                .map_or(String::new(), |s| format!(", same_as={s}"))
        ))
    }
}

/// The model totals of a schedule. Latency and energy are sums over the layers, EDP their
/// product.
#[pyclass(frozen, get_all, module = "cimopt")]
pub struct Total {
    pub latency_cycles: f64,
    pub energy_nj: f64,
    /// cycle·nJ.
    pub edp: f64,
    /// Σ of the layers' proven lower bounds on latency.
    pub lower_bound_cycles: f64,
    pub simulated_latency_cycles: Option<f64>,
    pub simulated_energy_nj: Option<f64>,
}

#[pymethods]
impl Total {
    fn __repr__(&self) -> String {
        format!(
            "Total(latency_cycles={}, energy_nj={}, edp={})",
            self.latency_cycles, self.energy_nj, self.edp
        )
    }
}

/// Progress of a compile (what `progress=` is called with): one distinct layer mapped (stage
/// `map`), or one item of a later stage done (`memory plan`: a variant priced; `polish`,
/// `certify`: a distinct layer).
#[pyclass(frozen, get_all, module = "cimopt")]
pub struct LayerMapped {
    /// Items of this stage done so far, this one included.
    pub done: usize,
    /// Items of this stage (for `map`, the distinct layers).
    pub total: usize,
    pub layer: Py<Layer>,
    /// Layers of the model the item stands for (identical workloads).
    pub copies: usize,
    /// Whether the solve cache served it.
    pub cache_hit: bool,
    /// `map`, `memory plan`, `polish` or `certify`.
    pub stage: String,
    /// What the stage found (e.g. `gap 10.1 % -> 0.0 %`), or empty.
    pub detail: String,
}

#[pymethods]
impl LayerMapped {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "LayerMapped({}, {}/{}, {})",
            self.stage,
            self.done,
            self.total,
            self.layer.bind(py).repr()?
        ))
    }
}
