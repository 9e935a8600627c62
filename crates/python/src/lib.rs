//! `cimopt._cimopt`, the native module of the `cimopt` Python package (`python/`): the
//! `cimopt-pipeline` library with Python types. The command's flags become keyword
//! arguments, its errors exceptions with the same messages (`cimopt._errors`), and long work
//! runs with the interpreter released.
//!
//! Nothing here computes a number: every one comes from the library, as for the command.

mod errors;
mod export;
mod objects;
mod run;
mod schedule;
mod target;

use errors::{Failure, Kind, Outcome};
use objects::Layer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};
use schedule::{Schedule, ScheduleArg};
use std::path::{Path, PathBuf};

/// `input_shapes={"input": (1, 3, 224, 224)}` (or `"1x3x224x224"`) as the loader's list.
fn input_shapes(shapes: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, Vec<u64>)>> {
    let Some(shapes) = shapes.filter(|s| !s.is_none()) else {
        return Ok(Vec::new());
    };
    let d = shapes.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err("input_shapes: expected a dict such as {\"input\": (1, 3, 224, 224)}")
    })?;
    let mut out = Vec::new();
    for (k, v) in d.iter() {
        let name: String = k
            .extract()
            .map_err(|_| PyTypeError::new_err("input_shapes: the keys are input names (str)"))?;
        let not_a_dim = |d: String| {
            Failure::new(
                Kind::Options,
                format!("input_shapes[{name:?}]: `{d}` is not a dimension"),
            )
        };
        let dims: Vec<u64> = if v.is_instance_of::<PyString>() {
            let text: String = v.extract()?;
            text.split(['x', 'X', ','])
                .map(|d| {
                    d.trim()
                        .parse::<u64>()
                        .map_err(|_| not_a_dim(d.to_string()))
                })
                .collect::<Outcome<_>>()?
        } else {
            let items = v.try_iter().map_err(|_| {
                PyTypeError::new_err(format!(
                    "input_shapes[{name:?}]: expected a sequence of dimensions such as (1, 3, 224, 224)"
                ))
            })?;
            items
                .map(|item| {
                    let item = item?;
                    if item.is_instance_of::<PyBool>() {
                        return Err(not_a_dim(item.repr()?.to_string()).into());
                    }
                    item.extract::<u64>().map_err(|_| -> PyErr {
                        not_a_dim(item.repr().map_or_else(|_| "?".into(), |r| r.to_string())).into()
                    })
                })
                .collect::<PyResult<_>>()?
        };
        out.push((name, dims));
    }
    Ok(out)
}

/// Loads a model as the command does; `verb` says what for (`cannot compile M: ...`).
fn load_model(
    path: &Path,
    opts: &cimopt_onnx::LoadOptions,
    verb: &str,
) -> Outcome<cimopt_onnx::Model> {
    cimopt_onnx::load(path, opts).map_err(|e| {
        Failure::new(
            Kind::Model,
            format!("cannot {verb} {}: {e}", path.display()),
        )
    })
}

/// The layers an ONNX model lowers to, in topological order (what `cimopt inspect` lists).
/// `input_shapes` gives graph inputs with symbolic dimensions a concrete shape; with
/// `keep_going`, compute nodes that cannot be lowered are left out instead of raising.
#[pyfunction]
#[pyo3(signature = (model, input_shapes = None, keep_going = false))]
fn inspect(
    py: Python<'_>,
    model: PathBuf,
    input_shapes: Option<&Bound<'_, PyAny>>,
    keep_going: bool,
) -> PyResult<Vec<Layer>> {
    let opts = cimopt_onnx::LoadOptions {
        input_shapes: crate::input_shapes(input_shapes)?,
        keep_going,
    };
    let m = py.detach(|| load_model(&model, &opts, "inspect"))?;
    m.layers.iter().map(|l| Layer::new(py, l)).collect()
}

/// `cache=`: `True` the command's solve cache (`$CIMOPT_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/cimopt`, else `~/.cache/cimopt`), `False` none, a path that folder.
fn cache_dir(cache: &Bound<'_, PyAny>) -> PyResult<Option<PathBuf>> {
    if cache.is_instance_of::<PyBool>() {
        return Ok(if cache.extract::<bool>()? {
            cimopt_pipeline::cache::default_dir(|name| std::env::var_os(name))
        } else {
            None
        });
    }
    cache.extract::<PathBuf>().map(Some).map_err(|_| {
        PyTypeError::new_err("cache: expected True (the command's cache), False (none) or a folder")
    })
}

/// The most worker threads a compile may ask for: four per core (as the command).
fn max_threads() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Maps every layer of an ONNX model onto a target and returns the schedule, as
/// `cimopt compile` does (and with the same bytes for the same inputs).
///
/// `target` is a preset name, a TOML file or a `Target`; `set` overrides its fields
/// (`{"cores": 16}`). `mapper` is `mip`, `greedy`, `ws` or `exhaustive`; `objective`
/// `latency`, `energy` or `edp`. `cache`: see the README. `progress` is called with a
/// `LayerMapped` as each distinct layer is mapped. Ctrl-C stops the compile between layers
/// and raises `KeyboardInterrupt`. `residency=False` keeps every tensor in DRAM
/// (`--residency off`); `precision="target"` runs every layer at the target's precision
/// (`--precision target`); `certify=N` bounds each layer over every mapping within a budget of
/// N units of work once the schedule is chosen, and searches random loop nests of the spatial
/// unrollings it cannot bound for better mappings (`--certify N`, 2000 unless asked, a
/// skeleton counting one per 2 000 of its placement triples; 0: off).
#[pyfunction]
#[pyo3(signature = (
    model, target, *, set = None, mapper = "mip", objective = "edp", gap = 1e-3,
    time_limit = 60.0, cache = None, keep_going = false, simulate = true, timings = false,
    input_shapes = None, threads = None, progress = None, residency = true, precision = "model",
    certify = 2000
), text_signature = "(model, target, *, set=None, mapper='mip', objective='edp', gap=0.001, \
    time_limit=60.0, cache=True, keep_going=False, simulate=True, timings=False, \
    input_shapes=None, threads=None, progress=None, residency=True, precision='model', \
    certify=2000)")]
#[allow(clippy::too_many_arguments)]
fn compile(
    py: Python<'_>,
    model: PathBuf,
    target: &Bound<'_, PyAny>,
    set: Option<&Bound<'_, PyAny>>,
    mapper: &str,
    objective: &str,
    gap: f64,
    time_limit: f64,
    cache: Option<&Bound<'_, PyAny>>,
    keep_going: bool,
    simulate: bool,
    timings: bool,
    input_shapes: Option<&Bound<'_, PyAny>>,
    threads: Option<usize>,
    progress: Option<&Bound<'_, PyAny>>,
    residency: bool,
    precision: &str,
    certify: u64,
) -> PyResult<Schedule> {
    let options = |m: String| Failure::new(Kind::Options, m);
    let mapper: cimopt_pipeline::Mapper = errors::option(mapper)?;
    let precision: cimopt_pipeline::PrecisionSource = errors::option(precision)?;
    let objective: cimopt_pipeline::ModelObjective = errors::option(objective)?;
    if let Some(n) = threads {
        if n == 0 {
            return Err(options("--threads 0: give at least one thread".into()).into());
        }
        if n > max_threads() {
            return Err(options(format!(
                "--threads {n}: at most {} on this machine (4 per core); each thread runs a solver",
                max_threads()
            ))
            .into());
        }
    }
    let progress = progress.filter(|p| !p.is_none());
    if let Some(p) = progress
        && !p.is_callable()
    {
        return Err(PyTypeError::new_err(
            "progress: expected a callable (or None)",
        ));
    }
    let cache_dir = match cache {
        None => cache_dir(PyBool::new(py, true).as_any())?,
        Some(c) => cache_dir(c)?,
    };
    let opts = cimopt_pipeline::CompileOptions {
        mapper,
        objective,
        gap,
        time_limit_s: time_limit,
        cache_dir,
        timings,
        keep_going,
        simulate,
        residency,
        optimiser_budget: None,
        precision,
        certify_skeletons: certify,
    };
    opts.validate().map_err(errors::pipeline)?;
    // The command's order: the target first, then the model.
    let target = target::resolve(target, target::overrides(set)?)?;
    let load = cimopt_onnx::LoadOptions {
        input_shapes: crate::input_shapes(input_shapes)?,
        keep_going,
    };
    let schedule = run::interruptible(py, progress, move |observer| {
        let m = load_model(&model, &load, "compile")?;
        let bytes = std::fs::read(&model).map_err(|e| {
            Failure::new(Kind::Model, format!("cannot read {}: {e}", model.display()))
        })?;
        let source = cimopt_pipeline::compile::ModelSource {
            model: &m,
            file: model.display().to_string(),
            bytes: &bytes,
        };
        let name = target.recorded_name();
        let go = || cimopt_pipeline::compile(&source, &target.target, &name, &opts, observer);
        let result = match threads {
            None => go(),
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| Failure::new(Kind::Base, format!("cannot start {n} threads: {e}")))?
                .install(go),
        };
        result.map_err(errors::pipeline)
    })?;
    Ok(Schedule {
        schedule,
        source: None,
    })
}

/// A schedule argument read (and checked) on the target that `target` and `set` name, as the
/// command's `--target T --set ...` do for `check` and `simulate`.
fn read_on(
    py: Python<'_>,
    schedule: &Bound<'_, PyAny>,
    target: Option<&Bound<'_, PyAny>>,
    set: Option<&Bound<'_, PyAny>>,
) -> PyResult<cimopt_schedule::Schedule> {
    let set = target::overrides(set)?;
    match ScheduleArg::extract(schedule)? {
        ScheduleArg::File(path) => {
            let t = schedule::on_target(py, &path, target, set)?;
            let (s, unknown) = py.detach(|| schedule::read_file(&path, t.as_ref()))?;
            schedule::warn(py, &unknown)?;
            Ok(s)
        }
        ScheduleArg::Object(s) => {
            let s = *s;
            let t = match target.filter(|t| !t.is_none()) {
                Some(t) => Some(target::resolve(t, set)?),
                None if !set.is_empty() => Some(Schedule::embedded_target(&s).with(set)?),
                None => None,
            };
            let Some(t) = t else {
                return Ok(s);
            };
            // Re-read on the other target, as the command reads a file on it.
            let s = py.detach(|| {
                cimopt_schedule::from_json(&cimopt_schedule::to_json(&s), Some(&t.target)).map_err(
                    |e| {
                        errors::schedule(
                            &format!("the schedule on target `{}`", t.recorded_name()),
                            e,
                        )
                    },
                )
            })?;
            Ok(s)
        }
    }
}

/// Executes every layer's schedule loop by loop (as `cimopt simulate`) and returns the
/// schedule with the simulated numbers recorded (`layer.simulated`, `total.simulated_*`).
/// `schedule` is a `Schedule` or a schedule file; `target` (with `set`) simulates it on
/// another target, where it must be valid.
#[pyfunction]
#[pyo3(signature = (schedule, target = None, set = None))]
fn simulate(
    py: Python<'_>,
    schedule: &Bound<'_, PyAny>,
    target: Option<&Bound<'_, PyAny>>,
    set: Option<&Bound<'_, PyAny>>,
) -> PyResult<Schedule> {
    let mut s = read_on(py, schedule, target, set)?;
    py.detach(|| cimopt_pipeline::simulate::record_simulation(&mut s).map_err(errors::pipeline))?;
    Ok(Schedule {
        schedule: s,
        source: None,
    })
}

/// Verifies a schedule (a `Schedule` or a schedule file), on its own target or on `target`
/// with `set`, as `cimopt check` does. Returns `None` when valid; raises `ScheduleError`
/// listing every violation (also in its `violations` attribute) when not.
#[pyfunction]
#[pyo3(signature = (schedule, target = None, set = None))]
fn check(
    py: Python<'_>,
    schedule: &Bound<'_, PyAny>,
    target: Option<&Bound<'_, PyAny>>,
    set: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    // Reading checks; a schedule in memory was checked when it was read or built, and is
    // judged again here.
    let s = read_on(py, schedule, target, set)?;
    let violations = py.detach(|| cimopt_pipeline::check::check_schedule(&s));
    if violations.is_empty() {
        return Ok(());
    }
    Err(errors::schedule(
        "the schedule",
        cimopt_schedule::ScheduleError::InvalidMappings(violations),
    )
    .into_py(py))
}

/// What a schedule achieves, as `cimopt report` renders it: `format` is `table`, `json`,
/// `csv` or `html` (one self-contained page). `include_vector` adds the vector unit's
/// estimate for non-CIM operators to the totals (the target must set `vector_lanes`).
#[pyfunction]
#[pyo3(signature = (schedule, format = "table", include_vector = false))]
fn report(
    py: Python<'_>,
    schedule: &Bound<'_, PyAny>,
    format: &str,
    include_vector: bool,
) -> PyResult<String> {
    let format: cimopt_pipeline::report::Format = errors::option(format)?;
    let (s, _) = ScheduleArg::read(py, schedule)?;
    let out = py.detach(|| {
        cimopt_pipeline::report::render(&s, format, include_vector).map_err(errors::pipeline)
    })?;
    Ok(out)
}

#[pymodule]
fn _cimopt(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(target::targets, m)?)?;
    m.add_function(wrap_pyfunction!(target::target, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(export::export, m)?)?;
    m.add_function(wrap_pyfunction!(export::import_schedule, m)?)?;
    m.add_class::<target::Target>()?;
    m.add_class::<Schedule>()?;
    m.add_class::<export::Export>()?;
    m.add_class::<Layer>()?;
    m.add_class::<objects::ScheduledLayer>()?;
    m.add_class::<objects::Mapping>()?;
    m.add_class::<objects::SpatialFactor>()?;
    m.add_class::<objects::TemporalLoop>()?;
    m.add_class::<objects::Metrics>()?;
    m.add_class::<objects::Solve>()?;
    m.add_class::<objects::Total>()?;
    m.add_class::<objects::LayerMapped>()?;
    Ok(())
}
