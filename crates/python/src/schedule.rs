//! `cimopt.Schedule`: a whole model's mappings with their numbers, read and written in the
//! published format (`cimopt_schedule::to_json` / `from_json`, which checks what it reads).

use crate::errors::{self, Failure, Kind, Outcome};
use crate::objects::{ScheduledLayer, Total};
use crate::target::{Origin, Target};
use cimopt_schedule::Schedule as IrSchedule;
use cimopt_target::Target as IrTarget;
use pyo3::exceptions::{PyImportError, PyTypeError, PyUserWarning};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::{Path, PathBuf};

/// A schedule: one mapping per CIM layer of a model on one target, with the predicted (and
/// simulated) numbers. `to_json()` is the document `cimopt compile` writes, byte for byte.
#[pyclass(frozen, module = "cimopt")]
pub struct Schedule {
    pub schedule: IrSchedule,
    /// The file it was loaded from, which an export of it never replaces (as the command
    /// never writes over the schedule it exports).
    pub source: Option<PathBuf>,
}

/// Reads a schedule file as the command does (`cannot read F: ...`, `F is not a valid
/// schedule: ...`), on `target` when given; returns it and the unknown fields to warn about.
pub fn read_file(path: &Path, target: Option<&IrTarget>) -> Outcome<(IrSchedule, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(Kind::Base, format!("cannot read {}: {e}", path.display())))?;
    let what = path.display().to_string();
    let unknown = cimopt_schedule::unknown_fields(&text)
        .into_iter()
        .map(|f| format!("{what}: ignoring unknown field `{f}`"))
        .collect();
    let s = cimopt_schedule::from_json(&text, target).map_err(|e| errors::schedule(&what, e))?;
    Ok((s, unknown))
}

/// Says each unknown field as a `UserWarning`, as the command prints `warning: ...`.
pub fn warn(py: Python<'_>, warnings: &[String]) -> PyResult<()> {
    errors::warn(py, &py.get_type::<PyUserWarning>(), warnings)
}

/// A `schedule=` argument: a `Schedule`, or a schedule file read as the command reads one.
pub enum ScheduleArg {
    Object(Box<IrSchedule>),
    File(PathBuf),
}

impl ScheduleArg {
    pub fn extract(obj: &Bound<'_, PyAny>) -> PyResult<ScheduleArg> {
        if let Ok(s) = obj.cast::<Schedule>() {
            return Ok(ScheduleArg::Object(Box::new(s.get().schedule.clone())));
        }
        if let Ok(p) = obj.extract::<PathBuf>() {
            return Ok(ScheduleArg::File(p));
        }
        Err(PyTypeError::new_err(format!(
            "schedule: expected a cimopt.Schedule or a schedule file, not {}",
            obj.get_type().name()?
        )))
    }

    /// The schedule a `schedule=` argument gives on its own target (a file read as the
    /// command reads one, unknown fields warned about), and the file it came from.
    pub fn read(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<(IrSchedule, Option<PathBuf>)> {
        Ok(match ScheduleArg::extract(obj)? {
            ScheduleArg::Object(s) => {
                let source = obj.cast::<Schedule>()?.get().source.clone();
                (*s, source)
            }
            ScheduleArg::File(path) => {
                let (s, unknown) = py.detach(|| read_file(&path, None))?;
                warn(py, &unknown)?;
                (s, Some(path))
            }
        })
    }
}

impl Schedule {
    /// The target a schedule embeds, as a `Target` (more overrides apply to it as given).
    pub fn embedded_target(s: &IrSchedule) -> Target {
        Target {
            target: s.inputs.target.clone(),
            origin: Origin::Embedded {
                name: s.inputs.target_name.clone(),
            },
        }
    }

    fn records<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let s = &self.schedule;
        let t = &s.inputs.target;
        let rows = PyList::empty(py);
        for l in &s.layers {
            let r = PyDict::new(py);
            let w = &l.layer.workload;
            r.set_item("id", l.layer.index)?;
            r.set_item("name", &l.layer.name)?;
            r.set_item("op", w.op.name())?;
            for d in cimopt_target::Dim::ALL {
                r.set_item(d.name(), w.extents()[d.index()])?;
            }
            r.set_item("macs", w.macs())?;
            let bits = cimopt_ir::analysis::layer_precision(t, w);
            r.set_item("input_bits", bits.input)?;
            r.set_item("weight_bits", bits.weight)?;
            r.set_item("output_bits", bits.output)?;
            r.set_item("same_as", l.same_as)?;
            r.set_item("mapper", &l.solve.mapper)?;
            r.set_item("status", &l.solve.status)?;
            r.set_item("activations", l.mapping.activations())?;
            let peak = l.mapping.activations() as f64 * t.peak_macs_per_activation() as f64;
            r.set_item(
                "utilisation",
                if peak > 0.0 {
                    Some(w.macs() as f64 / peak)
                } else {
                    None
                },
            )?;
            for (prefix, m) in [("predicted", &l.predicted), ("simulated", &l.simulated)] {
                r.set_item(
                    format!("{prefix}_latency_cycles"),
                    m.as_ref().map(|m| m.latency_cycles),
                )?;
                r.set_item(
                    format!("{prefix}_energy_nj"),
                    m.as_ref().map(|m| m.energy_nj),
                )?;
                r.set_item(format!("{prefix}_edp"), m.as_ref().map(|m| m.edp))?;
            }
            r.set_item("objective", l.solve.objective)?;
            r.set_item("best_bound", l.solve.best_bound)?;
            r.set_item("gap", l.solve.gap)?;
            r.set_item("space_bound", l.solve.space_bound)?;
            r.set_item("space_gap", l.solve.space_gap)?;
            rows.append(r)?;
        }
        Ok(rows)
    }
}

#[pymethods]
impl Schedule {
    /// Every layer, in model order.
    #[getter]
    fn layers(&self, py: Python<'_>) -> PyResult<Vec<ScheduledLayer>> {
        let t = &self.schedule.inputs.target;
        self.schedule
            .layers
            .iter()
            .map(|l| ScheduledLayer::new(py, t, l))
            .collect()
    }

    /// The model totals.
    #[getter]
    fn total(&self) -> Total {
        let m = &self.schedule.model;
        Total {
            latency_cycles: m.latency_cycles,
            energy_nj: m.energy_nj,
            edp: m.edp,
            lower_bound_cycles: m.lower_bound_cycles,
            simulated_latency_cycles: m.simulated_latency_cycles,
            simulated_energy_nj: m.simulated_energy_nj,
        }
    }

    /// The target the schedule is on (embedded in it).
    #[getter]
    fn target(&self) -> Target {
        Schedule::embedded_target(&self.schedule)
    }

    /// The model file as given to the compiler.
    #[getter]
    fn model_file(&self) -> String {
        self.schedule.inputs.model_file.clone()
    }

    #[getter]
    fn mapper(&self) -> String {
        self.schedule.producer.mapper.clone()
    }

    #[getter]
    fn objective(&self) -> String {
        self.schedule.producer.objective.clone()
    }

    /// The solver's settings as recorded.
    #[getter]
    fn solver_options(&self) -> std::collections::BTreeMap<String, String> {
        self.schedule.producer.solver_options.clone()
    }

    /// Compute nodes not mapped (`keep_going=True`): `{"name", "op", "reason", "macs"}` each.
    /// Their work is in no total.
    #[getter]
    fn skipped<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for n in &self.schedule.model.skipped_nodes {
            let d = PyDict::new(py);
            d.set_item("name", &n.name)?;
            d.set_item("op", &n.op)?;
            d.set_item("reason", &n.reason)?;
            d.set_item("macs", n.macs)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// The operators that run outside the macros: `{"name", "op", "output_elements"}` each.
    #[getter]
    fn non_cim_ops<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for n in &self.schedule.model.non_cim_ops {
            let d = PyDict::new(py);
            d.set_item("name", &n.name)?;
            d.set_item("op", &n.op)?;
            d.set_item("output_elements", n.output_elements)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// The schedule document (format 1.1.0), exactly as `cimopt compile` writes it.
    fn to_json(&self) -> String {
        cimopt_schedule::to_json(&self.schedule)
    }

    /// Writes the document atomically (a temporary sibling renamed over the file, which
    /// keeps its mode; a symbolic link is followed). A read-only file is kept unless `force`.
    #[pyo3(signature = (path, force = false))]
    fn save(&self, py: Python<'_>, path: PathBuf, force: bool) -> PyResult<()> {
        let text = cimopt_schedule::to_json(&self.schedule);
        let policy = cimopt_pipeline::output::OutputPolicy {
            force,
            inputs: Vec::new(),
        };
        py.detach(|| {
            cimopt_pipeline::output::write_output(&path, text.as_bytes(), &policy)
                .map_err(errors::output)
        })?;
        Ok(())
    }

    /// Reads a schedule file (any 1.x version) and checks it, on its embedded target or on
    /// `target` (a preset, file or `Target`, with `set` overrides; `set` alone overrides the
    /// embedded target). Unknown fields are ignored with a warning. Raises `ScheduleError`
    /// with every violation.
    #[staticmethod]
    #[pyo3(signature = (path, target = None, set = None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        target: Option<&Bound<'_, PyAny>>,
        set: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Schedule> {
        let set = crate::target::overrides(set)?;
        let target = on_target(py, &path, target, set)?;
        let (schedule, unknown) = py.detach(|| read_file(&path, target.as_ref()))?;
        warn(py, &unknown)?;
        // Absolute, so that the file is still recognised after the working folder changes.
        let source = std::fs::canonicalize(&path).unwrap_or(path);
        Ok(Schedule {
            schedule,
            source: Some(source),
        })
    }

    /// Reads a schedule document from text, checked on its embedded target.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Schedule> {
        let schedule = py.detach(|| {
            cimopt_schedule::from_json(text, None).map_err(|e| errors::schedule("the text", e))
        })?;
        let unknown: Vec<String> = cimopt_schedule::unknown_fields(text)
            .into_iter()
            .map(|f| format!("ignoring unknown field `{f}`"))
            .collect();
        warn(py, &unknown)?;
        Ok(Schedule {
            schedule,
            source: None,
        })
    }

    /// One dict per layer: id, name, op, the dims, MACs, mapper, status, activations,
    /// utilisation, predicted and simulated latency (cycles), energy (nJ) and EDP, and the
    /// solve's objective, bound and gap.
    fn to_records<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.records(py)
    }

    /// `to_records()` as a pandas DataFrame (needs pandas, which cimopt does not require).
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pandas = py.import("pandas").map_err(|e| {
            if e.is_instance_of::<PyImportError>(py) {
                PyImportError::new_err(
                    "Schedule.to_pandas() needs pandas, which is not installed: pip install pandas (or use Schedule.to_records())",
                )
            } else {
                e
            }
        })?;
        pandas.getattr("DataFrame")?.call1((self.records(py)?,))
    }

    fn __len__(&self) -> usize {
        self.schedule.layers.len()
    }

    fn __repr__(&self) -> String {
        let s = &self.schedule;
        format!(
            "Schedule({} on {}, {} layers, mapper {}: latency {} cycles, energy {} nJ)",
            s.inputs.model_file,
            s.inputs.target_name,
            s.layers.len(),
            s.producer.mapper,
            s.model.latency_cycles,
            s.model.energy_nj
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Schedule>()
            .is_ok_and(|o| o.get().schedule == self.schedule)
    }
}

/// The target a schedule file is read on, as the command's `--target T --set ...` decides:
/// `T` with the overrides, or the file's embedded target with them, or the embedded one.
pub fn on_target(
    py: Python<'_>,
    path: &Path,
    target: Option<&Bound<'_, PyAny>>,
    set: Vec<String>,
) -> PyResult<Option<IrTarget>> {
    match target.filter(|t| !t.is_none()) {
        Some(t) => Ok(Some(crate::target::resolve(t, set)?.target)),
        None if !set.is_empty() => {
            let t = py.detach(|| -> Outcome<IrTarget> {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Failure::new(Kind::Base, format!("cannot read {}: {e}", path.display()))
                })?;
                let embedded = cimopt_schedule::embedded_target(&text)
                    .map_err(|e| errors::schedule(&path.display().to_string(), e))?;
                cimopt_target::with_overrides(&embedded, &set).map_err(|e| {
                    Failure::new(
                        Kind::Target,
                        format!("the target of {}: {e}", path.display()),
                    )
                })
            })?;
            Ok(Some(t))
        }
        None => Ok(None),
    }
}
