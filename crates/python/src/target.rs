//! `cimopt.Target`, `cimopt.targets()`, `cimopt.target()`, and the `set=` overrides.

use crate::errors::{self, Outcome};
use cimopt_target::Target as IrTarget;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Where a target came from, so that more overrides are applied as the command applies them.
#[derive(Clone, Debug)]
pub enum Origin {
    /// A preset or a TOML file, with the overrides given so far (`--set` in order).
    Spec { spec: String, set: Vec<String> },
    /// Embedded in a schedule (`name` as the schedule records it).
    Embedded { name: String },
}

/// An accelerator description, validated. `str()` is its complete, commented TOML (what
/// `cimopt targets show` prints), which a target file may hold.
#[pyclass(frozen, module = "cimopt")]
#[derive(Clone)]
pub struct Target {
    pub target: IrTarget,
    pub origin: Origin,
}

impl Target {
    /// The target as a schedule records its name: the preset or file as given.
    pub fn recorded_name(&self) -> String {
        match &self.origin {
            Origin::Spec { spec, .. } => spec.clone(),
            Origin::Embedded { name } => name.clone(),
        }
    }

    /// Loads a preset or file with overrides, as `--target SPEC --set ...` does.
    pub fn load(spec: &str, set: Vec<String>) -> Outcome<Target> {
        let loaded = cimopt_target::load(spec, &set).map_err(|e| errors::target(spec, e))?;
        Ok(Target {
            target: loaded.target,
            origin: Origin::Spec {
                spec: spec.to_string(),
                set,
            },
        })
    }

    /// This target with more overrides: reloaded from its preset or file with every override
    /// so far and then `more` (exactly the command's `--set` list), or applied to the
    /// embedded target.
    pub fn with(&self, more: Vec<String>) -> Outcome<Target> {
        if more.is_empty() {
            return Ok(self.clone());
        }
        match &self.origin {
            Origin::Spec { spec, set } => {
                let mut all = set.clone();
                all.extend(more);
                Target::load(spec, all)
            }
            Origin::Embedded { name } => {
                let t = cimopt_target::with_overrides(&self.target, &more)
                    .map_err(|e| errors::target(name, e))?;
                Ok(Target {
                    target: t,
                    origin: self.origin.clone(),
                })
            }
        }
    }
}

#[pymethods]
impl Target {
    /// The target's own name (`name = ...` in its TOML).
    #[getter]
    fn name(&self) -> String {
        self.target.name.clone()
    }

    #[getter]
    fn description(&self) -> Option<String> {
        self.target.description.clone()
    }

    #[getter]
    fn cores(&self) -> u64 {
        self.target.cores
    }

    /// The memory levels' names, outer to inner (level 0 is DRAM).
    #[getter]
    fn levels(&self) -> Vec<String> {
        self.target.levels.iter().map(|l| l.name.clone()).collect()
    }

    /// Each level's capacity in bits, by name.
    #[getter]
    fn capacity_bits<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for l in &self.target.levels {
            d.set_item(&l.name, l.capacity_bits)?;
        }
        Ok(d)
    }

    /// The preset or file it was loaded from (`None` for a schedule's embedded target).
    #[getter]
    fn spec(&self) -> Option<String> {
        match &self.origin {
            Origin::Spec { spec, .. } => Some(spec.clone()),
            Origin::Embedded { .. } => None,
        }
    }

    /// The overrides applied, as `KEY=VALUE` strings in order.
    #[getter]
    fn overrides(&self) -> Vec<String> {
        match &self.origin {
            Origin::Spec { set, .. } => set.clone(),
            Origin::Embedded { .. } => Vec::new(),
        }
    }

    /// Lowercase hex SHA-256 of the target (what schedules record).
    #[getter]
    fn sha256(&self) -> String {
        cimopt_schedule::target_sha256(&self.target)
    }

    /// The complete, commented TOML.
    fn to_toml(&self) -> String {
        cimopt_target::show::to_commented_toml(&self.target)
    }

    /// The same target with more overrides (`set` as for `cimopt.target`).
    #[pyo3(signature = (set))]
    fn with_overrides(&self, set: &Bound<'_, PyAny>) -> PyResult<Target> {
        Ok(self.with(overrides(Some(set))?)?)
    }

    fn __str__(&self) -> String {
        self.to_toml()
    }

    fn __repr__(&self) -> String {
        match &self.origin {
            Origin::Spec { spec, set } if set.is_empty() => format!("Target({spec:?})"),
            Origin::Spec { spec, set } => format!("Target({spec:?}, set={set:?})"),
            Origin::Embedded { name } => format!("Target({name:?}, embedded in a schedule)"),
        }
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Target>()
            .is_ok_and(|o| o.get().target == self.target)
    }

    fn __hash__(&self) -> u64 {
        let h = cimopt_schedule::target_sha256(&self.target);
        u64::from_str_radix(&h[..15], 16).unwrap_or(0)
    }
}

/// A Python value as the text of `--set KEY=VALUE`: numbers and booleans as TOML literals,
/// strings as given (so `"512KiB"` is a capacity, as on the command line), lists as TOML
/// arrays.
fn value_text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    value_text_at(v, 0)
}

/// Deeper than any target field's value (lists of dims or operands are one level).
const MAX_NESTING: usize = 8;

fn value_text_at(v: &Bound<'_, PyAny>, depth: usize) -> PyResult<String> {
    if v.is_instance_of::<PyBool>() {
        return Ok(if v.extract::<bool>()? {
            "true"
        } else {
            "false"
        }
        .into());
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(v.str()?.to_string());
    }
    if v.is_instance_of::<PyFloat>() {
        let x: f64 = v.extract()?;
        return Ok(if x.is_nan() {
            "nan".into()
        } else if x.is_infinite() {
            if x > 0.0 { "inf" } else { "-inf" }.into()
        } else {
            // Rust's shortest round-trip form, which TOML reads back exactly.
            format!("{x:?}")
        });
    }
    if v.is_instance_of::<PyString>() {
        return v.extract::<String>();
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        if depth >= MAX_NESTING {
            return Err(PyTypeError::new_err(format!(
                "set: lists nested more than {MAX_NESTING} deep"
            )));
        }
        let items: Vec<String> = v
            .try_iter()?
            .map(|item| {
                let item = item?;
                if item.is_instance_of::<PyString>() {
                    // A JSON string is a valid TOML basic string.
                    Ok(serde_json::Value::String(item.extract()?).to_string())
                } else {
                    value_text_at(&item, depth + 1)
                }
            })
            .collect::<PyResult<_>>()?;
        return Ok(format!("[{}]", items.join(", ")));
    }
    Err(PyTypeError::new_err(format!(
        "set: a value must be a number, bool, str or list, not {}",
        v.get_type().name()?
    )))
}

/// `set=` as `KEY=VALUE` strings: a dict (`{"cores": 16}`), a list of `"KEY=VALUE"`
/// strings, or `None`.
pub fn overrides(set: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(set) = set.filter(|s| !s.is_none()) else {
        return Ok(Vec::new());
    };
    if let Ok(d) = set.cast::<PyDict>() {
        return d
            .iter()
            .map(|(k, v)| {
                let key: String = k.extract().map_err(|_| {
                    PyTypeError::new_err("set: keys must be strings such as \"cores\"")
                })?;
                Ok(format!("{key}={}", value_text(&v)?))
            })
            .collect();
    }
    if set.is_instance_of::<PyString>() {
        return Ok(vec![set.extract()?]);
    }
    set.try_iter()
        .map_err(|_| {
            PyTypeError::new_err(
                "set: expected a dict such as {\"cores\": 16} or a list of \"KEY=VALUE\" strings",
            )
        })?
        .map(|item| {
            item?
                .extract::<String>()
                .map_err(|_| PyTypeError::new_err("set: a list must hold \"KEY=VALUE\" strings"))
        })
        .collect()
}

/// A `target=` argument: a preset name or TOML file path, or a `Target`, with `set` applied.
pub fn resolve(target: &Bound<'_, PyAny>, set: Vec<String>) -> PyResult<Target> {
    if let Ok(t) = target.cast::<Target>() {
        return Ok(t.get().with(set)?);
    }
    if let Ok(spec) = target.extract::<std::path::PathBuf>() {
        let spec = spec.to_string_lossy().to_string();
        return Ok(Target::load(&spec, set)?);
    }
    Err(PyTypeError::new_err(format!(
        "target: expected a preset name, a TOML file or a cimopt.Target, not {}",
        target.get_type().name()?
    )))
}

/// The built-in targets' names.
#[pyfunction]
pub fn targets() -> Vec<&'static str> {
    cimopt_target::PRESETS.iter().map(|(n, _)| *n).collect()
}

/// A preset (`"default"`, `"transformer"`) or a TOML target file, with overrides:
/// `set={"cores": 16, "levels.global_buffer.capacity": "512KiB"}` (or a list of
/// `"KEY=VALUE"` strings), applied in order as `--set` does.
#[pyfunction]
#[pyo3(signature = (name, set = None))]
pub fn target(name: &Bound<'_, PyAny>, set: Option<&Bound<'_, PyAny>>) -> PyResult<Target> {
    resolve(name, overrides(set)?)
}
