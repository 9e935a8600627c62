//! The on-disk solve cache: a layer's mapping and solve evidence, addressed by a hash of
//! everything the solve depends on (the source of the solving crates, the options, the target,
//! the workload), so that a recompile is served without solving and gives the same bytes.

use crate::options::CompileOptions;
use crate::output::write_atomic;
use crate::solve::{Around, LayerObjective};
use cimopt_ir::{Layer, Mapping, SpatialFactor, TemporalLoop, Workload};
use cimopt_schedule::{Candidates, SolveInfo};
use cimopt_target::{Axis, Dim, Operand, Target};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A hash of the sources of every crate whose code decides a mapping (see `build.rs`): a
/// rebuilt library that solves differently never reads an older one's results.
pub const SOURCE_ID: &str = env!("CIMOPT_SOURCE_ID");

/// The folder the solve cache lives in unless the caller names one, from the environment that
/// `var` reads (the library reads none itself; callers pass `std::env::var_os`):
/// `$CIMOPT_CACHE_DIR`, else `$XDG_CACHE_HOME/cimopt`, else `~/.cache/cimopt`; empty values
/// count as unset. `None` without any of them. The command and the Python package both use it,
/// so that they share one cache.
pub fn default_dir(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    if let Some(d) = set("CIMOPT_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = set("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("cimopt"));
    }
    set("HOME").map(|h| PathBuf::from(h).join(".cache").join("cimopt"))
}

/// The content address of a solve: everything its result depends on.
fn cache_key(
    t: &Target,
    layer: &Layer,
    home: [usize; 3],
    around: Option<Around>,
    opts: &CompileOptions,
    objective: &LayerObjective,
) -> String {
    let w = &layer.workload;
    let mut options = opts.recorded_options();
    objective.record(&mut options);
    // Only certification spends the certification budget: a compile with `--certify` reuses
    // the searches of one without, and solves only what it adds.
    if !matches!(around, Some(Around::Certify(_))) {
        options.remove("certify_skeletons_per_layer");
    }
    let key = json!({
        "tool": env!("CARGO_PKG_VERSION"),
        // Code that may solve differently under the same version has another source id.
        "build": SOURCE_ID,
        "format": 4,
        "mapper": opts.mapper.name(),
        "objective": opts.objective.name(),
        "options": options,
        "target": cimopt_schedule::target_sha256(t),
        "workload": format!("{w:?}"),
        "home": home,
        // A variant searched around another mapping depends on it, and on how it searches.
        "seed": around.map(|a| match a {
            Around::Seed(m) | Around::Climb(m, ..) | Around::Certify(m) => format!("{m:?}"),
        }),
        // A search around a seed solves its nest; a climb from a variant's result does not,
        // and goes as far as its rounds.
        "search": around.map(|a| match a {
            Around::Seed(_) => "around the seed".to_string(),
            Around::Climb(_, rounds, false) => format!("{rounds} rounds of climb from the result"),
            Around::Climb(_, rounds, true) => {
                format!("{rounds} rounds of climb with loop splits from the result")
            }
            Around::Certify(_) => "certified from the result".to_string(),
        }),
    });
    cimopt_schedule::sha256_hex(key.to_string().as_bytes())
}

fn encode(m: &Mapping, info: &SolveInfo) -> Value {
    json!({
        "spatial": m.spatial.iter().map(|f| json!([f.axis.index(), f.dim.index(), f.factor])).collect::<Vec<_>>(),
        "temporal": m.temporal.iter().map(|l| json!([l.dim.index(), l.factor, l.level])).collect::<Vec<_>>(),
        "double_buffer": m.double_buffer.iter().map(|(lv, o)| json!([lv, o.index()])).collect::<Vec<_>>(),
        "padded": m.padded_dims,
        "home": m.home,
        "status": info.status,
        "best_bound": info.best_bound,
        "gap": info.gap,
        "space_bound": info.space_bound,
        "space_gap": info.space_gap,
        "candidates": info.candidates.map(|c| json!([c.enumerated, c.pruned_by_bound, c.solved])),
        "warm_start": info.warm_start,
        "stop_reasons": info.stop_reasons,
    })
}

fn decode(v: &Value) -> Option<(Mapping, SolveInfo)> {
    let u = |v: &Value| v.as_u64();
    let dim = |v: &Value| u(v).and_then(|i| Dim::ALL.get(i as usize).copied());
    let spatial = v["spatial"]
        .as_array()?
        .iter()
        .map(|f| {
            let [axis, d, factor] = f.as_array()?.as_slice() else {
                return None;
            };
            Some(SpatialFactor {
                axis: *Axis::ALL.get(u(axis)? as usize)?,
                dim: dim(d)?,
                factor: u(factor)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let temporal = v["temporal"]
        .as_array()?
        .iter()
        .map(|l| {
            let [d, factor, lv] = l.as_array()?.as_slice() else {
                return None;
            };
            let [li, lw, lo] = lv.as_array()?.as_slice() else {
                return None;
            };
            Some(TemporalLoop {
                dim: dim(d)?,
                factor: u(factor)?,
                level: [u(li)? as usize, u(lw)? as usize, u(lo)? as usize],
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let double_buffer = v["double_buffer"]
        .as_array()?
        .iter()
        .map(|d| match d.as_array()?.as_slice() {
            [lv, o] => Some((u(lv)? as usize, *Operand::ALL.get(u(o)? as usize)?)),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let padded: Vec<u64> = v["padded"]
        .as_array()?
        .iter()
        .map(u)
        .collect::<Option<_>>()?;
    let home: Vec<usize> = v["home"]
        .as_array()?
        .iter()
        .map(|h| u(h).map(|h| h as usize))
        .collect::<Option<_>>()?;
    let m = Mapping {
        spatial,
        temporal,
        double_buffer,
        padded_dims: padded.try_into().ok()?,
        home: home.try_into().ok()?,
    };
    let cands = match v["candidates"].as_array().map(Vec::as_slice) {
        Some([enumerated, pruned_by_bound, solved]) => Some(Candidates {
            enumerated: u(enumerated)?,
            pruned_by_bound: u(pruned_by_bound)?,
            solved: u(solved)?,
        }),
        Some(_) => return None,
        None => None,
    };
    let info = SolveInfo {
        status: v["status"].as_str()?.to_string(),
        best_bound: v["best_bound"].as_f64(),
        gap: v["gap"].as_f64(),
        space_bound: v["space_bound"].as_f64(),
        space_gap: v["space_gap"].as_f64(),
        candidates: cands,
        warm_start: v["warm_start"].as_bool(),
        stop_reasons: v["stop_reasons"]
            .as_array()?
            .iter()
            .map(|r| r.as_str().map(String::from))
            .collect::<Option<_>>()?,
        ..SolveInfo::default()
    };
    Some((m, info))
}

/// The cache entry of one solve in `dir`.
#[allow(clippy::too_many_arguments)]
pub fn entry(
    dir: &Path,
    t: &Target,
    layer: &Layer,
    home: [usize; 3],
    around: Option<Around>,
    opts: &CompileOptions,
    objective: &LayerObjective,
) -> PathBuf {
    dir.join(format!(
        "{}.json",
        cache_key(t, layer, home, around, opts, objective)
    ))
}

/// The mapping and evidence stored at `path`, if it holds a readable entry. A malformed entry
/// (a missing key, a wrong type, an array of the wrong length) is no entry: the layer is solved
/// again and the entry rewritten.
pub fn read(path: &Path) -> Option<(Mapping, SolveInfo)> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| decode(&v))
}

/// Stores a solve. The cache is an accelerator: failing to write it is not an error.
pub fn write(path: &Path, m: &Mapping, info: &SolveInfo) {
    if let Some(dir) = path.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let _ = write_atomic(path, encode(m, info).to_string().as_bytes());
    }
}

/// A layer's lower bound in cycles at `home` ([`cimopt_space::bounds::lower_bound_at`]),
/// read from the cache in `dir` when it holds one, else computed by `compute` and stored. The
/// bound bounds every spatial candidate of the layer, which costs as much as a fast solve: a
/// recompile served by the cache would spend nearly all its time there. It depends on the
/// target, the workload, the homes and the bounding code only, not on the mapper or its options.
pub fn lower_bound_cycles<E>(
    dir: Option<&Path>,
    t: &Target,
    w: &Workload,
    home: [usize; 3],
    compute: impl FnOnce() -> Result<f64, E>,
) -> Result<f64, E> {
    let Some(dir) = dir else {
        return compute();
    };
    let key = json!({
        "tool": env!("CARGO_PKG_VERSION"),
        "build": SOURCE_ID,
        "format": 1,
        "entry": "layer lower bound, cycles",
        "target": cimopt_schedule::target_sha256(t),
        "workload": format!("{w:?}"),
        "home": home,
    });
    let path = dir.join(format!(
        "{}.json",
        cimopt_schedule::sha256_hex(key.to_string().as_bytes())
    ));
    // A malformed entry is no entry: the bound is computed again and the entry rewritten.
    let stored = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["lower_bound_cycles"].as_f64())
        .filter(|c| c.is_finite() && *c >= 0.0);
    if let Some(cycles) = stored {
        return Ok(cycles);
    }
    let cycles = compute()?;
    if std::fs::create_dir_all(dir).is_ok() {
        let entry = json!({ "lower_bound_cycles": cycles });
        let _ = write_atomic(&path, entry.to_string().as_bytes());
    }
    Ok(cycles)
}

#[cfg(test)]
mod tests {
    use super::{default_dir, lower_bound_cycles};
    use cimopt_ir::Workload;
    use std::ffi::OsString;
    use std::path::PathBuf;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_cache_folder_follows_the_environment_in_order() {
        let all = [
            ("CIMOPT_CACHE_DIR", "/c"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(default_dir(env(&all)), Some(PathBuf::from("/c")));
        assert_eq!(
            default_dir(env(&all[1..])),
            Some(PathBuf::from("/x/cimopt"))
        );
        assert_eq!(
            default_dir(env(&[("CIMOPT_CACHE_DIR", ""), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/cimopt"))
        );
        assert_eq!(default_dir(env(&[])), None);
    }

    #[test]
    fn a_lower_bound_is_computed_once_per_layer_and_home_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = Some(dir.path());
        let t = cimopt_target::load("default", &[]).unwrap().target;
        let w = Workload::square_conv(3, 14, 64, 128, 1, 1);
        let computed = std::cell::Cell::new(0);
        let bound = |home: [usize; 3], cycles: f64| {
            lower_bound_cycles(d, &t, &w, home, || {
                computed.set(computed.get() + 1);
                Ok::<f64, ()>(cycles)
            })
            .unwrap()
        };
        assert_eq!(bound([0; 3], 1234.5), 1234.5);
        // Read back, not computed: the stored value wins over what `compute` would say.
        assert_eq!(bound([0; 3], 99.0), 1234.5);
        assert_eq!(computed.get(), 1);
        // Another home is another entry.
        assert_eq!(bound([1, 0, 0], 777.0), 777.0);
        assert_eq!(computed.get(), 2);
        // A malformed entry is computed again and rewritten.
        for e in std::fs::read_dir(dir.path()).unwrap() {
            std::fs::write(e.unwrap().path(), b"{\"lower_bound_cycles\": \"x\"}").unwrap();
        }
        assert_eq!(bound([0; 3], 1000.0), 1000.0);
        assert_eq!(bound([0; 3], 5.0), 1000.0);
        assert_eq!(computed.get(), 3);
        // A failure is returned and stores nothing; no folder, no cache.
        let other = Workload::square_conv(1, 7, 32, 32, 1, 1);
        assert_eq!(
            lower_bound_cycles(d, &t, &other, [0; 3], || Err("no")),
            Err("no")
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let none = lower_bound_cycles(None, &t, &w, [0; 3], || Ok::<f64, ()>(42.0));
        assert_eq!(none, Ok(42.0));
    }
}
