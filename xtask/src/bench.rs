//! `cargo xtask bench`: times the command on every bundled model and both presets and writes
//! `docs/benchmarks.md` (keeping its `## Fuzzing` section). Speed targets live here, never in
//! unit tests.

use anyhow::{Context, Result, bail};
use std::fmt::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn run(bin: &Path, dir: &Path, args: &[&str]) -> Result<f64> {
    Ok(run_with(bin, dir, args, None)?.secs)
}

/// Runs the command: (wall seconds, CPU seconds of the command, when the platform says).
fn run_timed(bin: &Path, dir: &Path, args: &[&str]) -> Result<(f64, Option<f64>)> {
    let r = run_with(bin, dir, args, None)?;
    Ok((r.secs, r.cpu))
}

/// One run of the command.
struct Ran {
    secs: f64,
    /// CPU seconds of the command, when the platform says.
    cpu: Option<f64>,
    stdout: String,
    stderr: String,
}

/// Runs the command, with `CIMOPT_LOG=log` when given; fails when it does.
fn run_with(bin: &Path, dir: &Path, args: &[&str], log: Option<&str>) -> Result<Ran> {
    let cpu_before = children_cpu_secs();
    let start = Instant::now();
    let mut command = Command::new(bin);
    // Solves are cached under the bench's own folder, never in the user's cache.
    command
        .current_dir(dir)
        .env("CIMOPT_CACHE_DIR", dir.join("cache"))
        .args(args);
    if let Some(log) = log {
        command.env("CIMOPT_LOG", log);
    }
    let out = command.output().context("running cimopt")?;
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!("cimopt {} failed:\n{stderr}", args.join(" "));
    }
    let cpu = cpu_before
        .zip(children_cpu_secs())
        .map(|(before, after)| after - before);
    Ok(Ran {
        secs,
        cpu,
        stdout,
        stderr,
    })
}

/// CPU seconds (user + system) of this process's waited-for children, from `/proc/self/stat`
/// (`cutime`, `cstime`, in clock ticks of 1/100 s on Linux); `None` elsewhere.
fn children_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 of the line, 14 and 15 after the name.
    let ticks: f64 = fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn number(json: &str, path: &[&str]) -> f64 {
    // A deliberately small reader: the schedule's `model` totals are plain numbers.
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let mut cur = &v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_f64().unwrap_or(f64::NAN)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or("?".into(), |kb| format!("{} GiB", kb / 1024 / 1024));
    format!("{cpu}, {cores} cores, {mem}")
}

pub fn bench(root: &Path, env: &crate::tools::ToolEnv) -> Result<()> {
    let bin = crate::build_cimopt(root, env)?;
    let work = tempfile_dir()?;
    let date = today();
    let mut md = String::new();
    writeln!(md, "# Benchmarks\n")?;
    writeln!(
        md,
        "Measured by `cargo xtask bench` on {date}, {} (the `dev` profile the README's commands use: dependencies at opt-level 3, the project's crates at opt-level 1). Wall times of the whole command, one run each.\n",
        machine()
    )?;
    writeln!(
        md,
        "| model | target | mapper | layers | compile (s) | warm (s) | simulate (s) | latency (cycles) | energy (nJ) | EDP (cycle·nJ) | EDP / bound | lower bound (cycles) | latency / bound | simulated latency | EDP vs ws | EDP vs greedy | proven optimal | within 1 % | gap median | gap worst | proven in searched space | searched gap median |"
    )?;
    writeln!(
        md,
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    let cache = work.join("cache");
    // Prediction errors of the cost model against the simulator, per mapper: (latency, energy).
    let mut errors: std::collections::BTreeMap<&str, Vec<(f64, f64, String)>> = Default::default();
    let mut residency: Vec<String> = Vec::new();
    let models = bundled_models(root)?;
    let residency_load = load_average();
    let mut rejected = 0usize;
    for model in &models {
        let stem = model.file_stem().unwrap().to_string_lossy().to_string();
        for target in ["default", "transformer"] {
            let mut ws_edp = f64::NAN;
            let mut greedy_edp = f64::NAN;
            let mappers: &[&str] = &["ws", "greedy", "mip"];
            for &mapper in mappers {
                let out = work.join(format!("{stem}.{target}.{mapper}.json"));
                let m = model.to_string_lossy().to_string();
                let o = out.to_string_lossy().to_string();
                // Cold: an empty cache. Warm: the same compile again, served by the cache.
                let _ = std::fs::remove_dir_all(&cache);
                let args = [
                    "compile",
                    &m,
                    "--target",
                    target,
                    "--mapper",
                    mapper,
                    "--no-simulate",
                    "-q",
                    "-o",
                    &o,
                ];
                // The agreement rule's rejections (the simulator overruling the cost model on a
                // MILP solution) are logged; a cold compile shows every one.
                let cold = run_with(&bin, &work, &args, Some("cimopt::agreement=info"))?;
                let compile = cold.secs;
                rejected += cold.stderr.matches("cimopt::agreement").count();
                let warm = if mapper == "mip" {
                    format!("{:.2}", run(&bin, &work, &args)?)
                } else {
                    "–".to_string()
                };

                let simulate = run(&bin, &work, &["simulate", &o, "--json"])?;
                // Write once more with the simulated numbers recorded.
                run(
                    &bin,
                    &work,
                    &[
                        "compile", &m, "--target", target, "--mapper", mapper, "-q", "-o", &o,
                    ],
                )?;
                if mapper == "mip" {
                    residency.push(residency_row(&bin, &work, &m, &stem, target, &o)?);
                }
                let json = std::fs::read_to_string(&out)?;
                let doc = serde_json::from_str::<serde_json::Value>(&json)?;
                let layers = doc["layers"].as_array().map_or(0, |a| a.len());
                for l in doc["layers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|l| l["same_as"].is_null())
                {
                    let b = &l["simulated"]["breakdown"];
                    let (el, ee) = (
                        b["prediction_error.latency"].as_f64().unwrap_or(f64::NAN),
                        b["prediction_error.energy"].as_f64().unwrap_or(f64::NAN),
                    );
                    errors.entry(mapper).or_default().push((
                        el,
                        ee,
                        format!(
                            "{stem} {target} #{} {}",
                            l["id"],
                            l["name"].as_str().unwrap_or("")
                        ),
                    ));
                }
                let lat = number(&json, &["model", "latency_cycles"]);
                let energy = number(&json, &["model", "energy_nj"]);
                let edp = number(&json, &["model", "edp"]);
                let bound = number(&json, &["model", "lower_bound_cycles"]);
                let sim = number(&json, &["model", "simulated_latency_cycles"]);
                if mapper == "ws" {
                    ws_edp = edp;
                }
                if mapper == "greedy" {
                    greedy_edp = edp;
                }
                // The schedule's model EDP over the least any schedule of the model can have
                // (`cimopt report`'s bound), for the optimiser's schedules.
                let over_bound = if mapper == "mip" {
                    let report = run_with(&bin, &work, &["report", &o, "--format", "json"], None)?;
                    let r: serde_json::Value = serde_json::from_str(&report.stdout)?;
                    format!(
                        "{:.3}×",
                        r["total"]["edp_over_bound"].as_f64().unwrap_or(f64::NAN)
                    )
                } else {
                    "–".to_string()
                };
                let (
                    vs_greedy,
                    optimal,
                    within,
                    gap_median,
                    gap_worst,
                    space_optimal,
                    space_median,
                ) = if mapper == "mip" {
                    let solved = solved_layers(&doc);
                    let gaps = sorted(&solved, "gap");
                    let optimal = solved.iter().filter(|s| s["status"] == "optimal").count();
                    let within = gaps.iter().filter(|&&g| g <= 0.01 + 1e-12).count();
                    // The default --gap: proven optimal within the space mip searched.
                    let space_gaps = sorted(&solved, "space_gap");
                    let space_optimal = space_gaps.iter().filter(|&&g| g <= 1e-3).count();
                    (
                        format!("{:.3}×", greedy_edp / edp),
                        format!("{optimal} / {}", solved.len()),
                        format!("{within} / {}", solved.len()),
                        format!(
                            "{:.1} %",
                            100.0 * gaps.get(gaps.len() / 2).copied().unwrap_or(f64::NAN)
                        ),
                        format!("{:.1} %", 100.0 * gaps.last().copied().unwrap_or(f64::NAN)),
                        format!("{space_optimal} / {}", solved.len()),
                        format!(
                            "{:.1} %",
                            100.0
                                * space_gaps
                                    .get(space_gaps.len() / 2)
                                    .copied()
                                    .unwrap_or(f64::NAN)
                        ),
                    )
                } else {
                    (
                        "–".into(),
                        "–".into(),
                        "–".into(),
                        "–".into(),
                        "–".into(),
                        "–".into(),
                        "–".into(),
                    )
                };
                writeln!(
                    md,
                    "| {stem} | {target} | {mapper} | {layers} | {compile:.2} | {warm} | {simulate:.2} | {lat:.0} | {energy:.0} | {edp:.4e} | {over_bound} | {bound:.0} | {:.2} | {sim:.0} | {:.2}× | {vs_greedy} | {optimal} | {within} | {gap_median} | {gap_worst} | {space_optimal} | {space_median} |",
                    lat / bound,
                    ws_edp / edp
                )?;
                eprintln!(
                    "bench: {stem} {target} {mapper}: compile {compile:.2}s, simulate {simulate:.2}s"
                );
            }
        }
    }
    writeln!(
        md,
        "\n`compile` is a cold compile (empty solve cache), `warm` the same compile again served by the cache (mip only). `EDP vs ws` / `EDP vs greedy` are that mapper's model EDP divided by this row's; `EDP / bound` is the schedule's model EDP over the least model EDP any schedule of the model can have on the target, the bound `cimopt report` prints (docs/optimiser.md, \"Homes that agree\"). `proven optimal` counts distinct layers whose gap over every mapping of the layer is within `--gap`, `within 1 %` those within 1 % (issue 16's goal: 80 %); the gaps are `(objective − bound) / objective` per distinct layer, with `bound` the schedule's `best_bound`, valid for every spatial unrolling, loop split and order, placement and double buffer (docs/optimiser.md says what the bounds count). `proven in searched space` and `searched gap median` use `space_bound` instead, a bound over the space mip searched (its enumerated skeletons of the candidates it solved): what the reference's \"proven optimal\" means, within its own restricted space. `latency / bound` compares the predicted model latency with the sum of the per-layer lower bounds (the candidate bounds of docs/optimiser.md, which include domain §6's). `simulate` times `cimopt simulate` on the written schedule (every layer, identical layers once)."
    )?;
    writeln!(
        md,
        "\nThe simulator-agreement rule (docs/optimiser.md) rejected {rejected} solutions (MILP or priced triples) in the cold compiles above (every mapper, model and preset)."
    )?;
    writeln!(md, "\n## Cost model against the simulator\n")?;
    writeln!(
        md,
        "Relative error of the predicted latency and energy against `cimopt simulate`, over the distinct layers of every bundled model on both presets (goal: mean ≤ 1 %, worst ≤ 3 %).\n"
    )?;
    writeln!(
        md,
        "| mapper | layers | latency mean | latency p90 | latency worst | energy mean | energy worst | worst layer (latency) |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---|")?;
    for (mapper, v) in &mut errors {
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        let n = v.len() as f64;
        let mean = |k: usize| {
            v.iter()
                .map(|x| if k == 0 { x.0 } else { x.1 })
                .sum::<f64>()
                / n
        };
        let p90 = v[(v.len() / 10).min(v.len() - 1)].0;
        let e_worst = v.iter().map(|x| x.1).fold(0.0, f64::max);
        writeln!(
            md,
            "| {mapper} | {} | {:.3} % | {:.3} % | {:.3} % | {:.3} % | {:.3} % | {} |",
            v.len(),
            100.0 * mean(0),
            100.0 * p90,
            100.0 * v[0].0,
            100.0 * mean(1),
            100.0 * e_worst,
            v[0].2
        )?;
    }
    md.push_str(&residency_section(&residency, &residency_load)?);
    md.push_str(&precision_section(root, &bin, &work)?);
    md.push_str(&variants_section(root, &bin, &work)?);
    md.push_str(&certify_section(root, &bin, &work)?);
    // Sections other tasks write (e.g. `cargo xtask fuzz`'s record) are kept as they were.
    let previous = std::fs::read_to_string(root.join("docs/benchmarks.md")).unwrap_or_default();
    for section in foreign_sections(&previous, &md) {
        writeln!(md, "\n{}", section.trim_end())?;
    }
    std::fs::write(root.join("docs/benchmarks.md"), md)?;
    eprintln!("bench: wrote docs/benchmarks.md");
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

const RESIDENCY_TITLE: &str = "## Memory plan: residency on against off";

/// The residency section around its rows (one per model and preset, [`residency_row`]).
fn residency_section(rows: &[String], load: &str) -> Result<String> {
    let mut md = String::new();
    writeln!(md, "\n{RESIDENCY_TITLE}\n")?;
    writeln!(
        md,
        "Measured on {}, {}, load average {load} when the section started.\n",
        today(),
        machine()
    )?;
    writeln!(
        md,
        "`mip` on both presets, cold caches. `off` is `--residency off` (every tensor in DRAM, the per-layer schedules of the reference's setting); `on` the default, which keeps activations in the global buffer where the model-level MILP finds it pays (docs/memory-plan.md). Ratios are on / off of the simulated model totals; the DRAM share is DRAM's part of the simulated model energy; DRAM traffic is the bits the layers read from and write to DRAM (simulator). Compile times are cold (empty solve cache, not simulated), off and on run alternately twice each; `compile` is the faster wall time of the two, `CPU on / off` the ratio of the smaller CPU times (user + system), which the machine's other load moves less than wall time. Goals (issue 14): no model worse on latency, energy or EDP; `default` MobileNetV2 energy ≤ 0.85× and EDP ≤ 0.80×, ResNet-18 energy ≤ 0.95×; `transformer` BERT-base energy ≤ 0.95×; cold compile ≤ 1.5× the residency-off compile.\n"
    )?;
    writeln!(
        md,
        "| model | target | compile off (s) | compile on (s) | on / off | CPU on / off | on-chip tensors | latency | energy | EDP | DRAM share off | DRAM share on | DRAM traffic |"
    )?;
    writeln!(
        md,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for r in rows {
        writeln!(md, "{r}")?;
    }
    Ok(md)
}

/// `cargo xtask bench --section residency`: only the residency section of
/// `docs/benchmarks.md` measured again (a `mip` compile with residency on, then off and on
/// timed cold twice each, per bundled model and preset), the rest of the file kept as it is.
pub fn residency_only(root: &Path, env: &crate::tools::ToolEnv) -> Result<()> {
    rewrite_section(root, env, "residency", |bin, work| {
        let load = load_average();
        let mut rows = Vec::new();
        for model in bundled_models(root)? {
            let stem = model.file_stem().unwrap().to_string_lossy().to_string();
            let m = model.to_string_lossy().to_string();
            for target in ["default", "transformer"] {
                let on = work.join(format!("{stem}.{target}.mip.json"));
                let o = on.to_string_lossy().to_string();
                let _ = std::fs::remove_dir_all(work.join("cache"));
                run(
                    bin,
                    work,
                    &["compile", &m, "--target", target, "-q", "-o", &o],
                )?;
                rows.push(residency_row(bin, work, &m, &stem, target, &o)?);
                eprintln!("bench: residency {stem} {target}");
            }
        }
        residency_section(&rows, &load)
    })
}

/// Builds the command, measures one section of `docs/benchmarks.md` with `measure(cimopt,
/// scratch folder)`, and writes it in place of the old one, the rest of the file kept as it is.
fn rewrite_section(
    root: &Path,
    env: &crate::tools::ToolEnv,
    name: &str,
    measure: impl FnOnce(&Path, &Path) -> Result<String>,
) -> Result<()> {
    let bin = crate::build_cimopt(root, env)?;
    let work = tempfile_dir()?;
    let section = measure(&bin, &work)?;
    let path = root.join("docs/benchmarks.md");
    let previous = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, splice_section(&previous, &section))?;
    eprintln!("bench: wrote the {name} section of docs/benchmarks.md");
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

const CERTIFY_TITLE: &str = "## Certification: `--certify`";

/// The budget the certification section measures (`compile --certify N`).
const CERTIFY_BUDGET: &str = "5000";
/// The default `--certify` (`cimopt_pipeline::CERTIFY_SKELETONS`), for the section's text.
const DEFAULT_CERTIFY_BUDGET: &str = "2000";

/// `cargo xtask bench --section certify`: only the certification section measured again.
pub fn certify_only(root: &Path, env: &crate::tools::ToolEnv) -> Result<()> {
    rewrite_section(root, env, "certification", |bin, work| {
        certify_section(root, bin, work)
    })
}

/// Per bundled model and preset, `mip` cold without and with `--certify` [`CERTIFY_BUDGET`]:
/// compile times, layers proven, gaps and the model's EDP.
fn certify_section(root: &Path, bin: &Path, work: &Path) -> Result<String> {
    let mut md = String::new();
    writeln!(md, "\n{CERTIFY_TITLE}\n")?;
    writeln!(
        md,
        "Measured on {}, {}, load average {} when the section started.\n",
        today(),
        machine(),
        load_average()
    )?;
    writeln!(
        md,
        "`mip` on both presets, cold caches, not simulated; `plain` is the compile without certification (`--certify 0`; the default compile, whose numbers are in the tables above, certifies with a budget of {DEFAULT_CERTIFY_BUDGET}), `certified` the same with `--certify {CERTIFY_BUDGET}`: once the schedule is chosen, each distinct layer's spatial candidates whose skeletons fit in {CERTIFY_BUDGET} are searched whole, each to its optimum, so their bound holds over every mapping (docs/optimiser.md, \"Certifying a layer\"). Per distinct layer: `optimal` is the status (gap over every mapping within `--gap`), `≤ 1 %` counts gaps within 1 %, gaps are `(objective − best_bound) / objective`. `EDP` is certified / plain.\n"
    )?;
    writeln!(
        md,
        "| model | target | compile plain (s) | compile certified (s) | optimal plain → certified | ≤ 1 % plain → certified | gap median plain → certified | gap worst plain → certified | EDP |"
    )?;
    writeln!(md, "|---|---|---:|---:|---|---|---|---|---:|")?;
    for model in bundled_models(root)? {
        let stem = model.file_stem().unwrap().to_string_lossy().to_string();
        let m = model.to_string_lossy().to_string();
        for target in ["default", "transformer"] {
            let mut rows = Vec::new();
            for budget in ["0", CERTIFY_BUDGET] {
                let out = work.join(format!("{stem}.{target}.certify{budget}.json"));
                let o = out.to_string_lossy().to_string();
                let _ = std::fs::remove_dir_all(work.join("cache"));
                let secs = run(
                    bin,
                    work,
                    &[
                        "compile",
                        &m,
                        "--target",
                        target,
                        "--certify",
                        budget,
                        "--no-simulate",
                        "-q",
                        "-o",
                        &o,
                    ],
                )?;
                let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
                let solved = solved_layers(&doc);
                let gaps = sorted(&solved, "gap");
                let optimal = solved.iter().filter(|s| s["status"] == "optimal").count();
                let within = gaps.iter().filter(|&&g| g <= 0.01).count();
                rows.push((
                    secs,
                    format!("{optimal} / {}", solved.len()),
                    format!("{within} / {}", solved.len()),
                    100.0 * gaps.get(gaps.len() / 2).copied().unwrap_or(f64::NAN),
                    100.0 * gaps.last().copied().unwrap_or(f64::NAN),
                    doc["model"]["edp"].as_f64().unwrap_or(f64::NAN),
                ));
                eprintln!("bench: certify {budget} {stem} {target}: {secs:.2}s");
            }
            let (p, c) = (&rows[0], &rows[1]);
            writeln!(
                md,
                "| {stem} | {target} | {:.2} | {:.2} | {} → {} | {} → {} | {:.1} % → {:.1} % | {:.1} % → {:.1} % | {:.4}× |",
                p.0,
                c.0,
                p.1,
                c.1,
                p.2,
                c.2,
                p.3,
                c.3,
                p.4,
                c.4,
                c.5 / p.5
            )?;
        }
    }
    Ok(md)
}

/// The bundled models (`models/*.onnx`), sorted.
fn bundled_models(root: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut models: Vec<_> = std::fs::read_dir(root.join("models"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    models.sort();
    Ok(models)
}

/// The one-minute load average: what else the machine was doing, which moves compile times
/// (every other number the bench records is deterministic).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The `solve` records of a schedule's layers that were solved (not reused from an identical
/// layer).
fn solved_layers(doc: &serde_json::Value) -> Vec<&serde_json::Value> {
    doc["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| &l["solve"])
        .filter(|s| s["status"] != "reused")
        .collect()
}

/// The `key` of each solve record that has it, ascending.
fn sorted(solved: &[&serde_json::Value], key: &str) -> Vec<f64> {
    let mut v: Vec<f64> = solved.iter().filter_map(|s| s[key].as_f64()).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn today() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

const VARIANTS_TITLE: &str = "## Targets off the presets";

/// `cargo xtask bench --section variants`: only the variants section measured again.
pub fn variants_only(root: &Path, env: &crate::tools::ToolEnv) -> Result<()> {
    rewrite_section(root, env, "variants", |bin, work| {
        variants_section(root, bin, work)
    })
}

/// ResNet-18 with `mip` on targets a user derives from the presets with `--set`, cold: the
/// compile times must not depend on what the presets happen to hold (the candidate bounds once
/// walked every run length up to the weights one cell holds, 8 on the presets, and a macro of
/// deep cells made them the slowest part of a compile).
fn variants_section(root: &Path, bin: &Path, work: &Path) -> Result<String> {
    let mut md = String::new();
    writeln!(md, "\n{VARIANTS_TITLE}\n")?;
    writeln!(
        md,
        "Measured on {}, {}, load average {} when the section started. ResNet-18 (`models/resnet18.onnx`), `mip`, cold cache, residency on; wall and CPU seconds of the whole compile, one run each; predicted model totals, the tensors the memory plan keeps on chip, and the layer gaps against `best_bound`. Each variant can do all its preset can, so its EDP should not be worse.\n",
        today(),
        machine(),
        load_average()
    )?;
    writeln!(
        md,
        "| target | `--set` | compile (s) | CPU (s) | latency (cycles) | energy (nJ) | EDP (cycle·nJ) | tensors on chip | gap median | gap worst |"
    )?;
    writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let model = root
        .join("models/resnet18.onnx")
        .to_string_lossy()
        .to_string();
    let deep = [
        "macro.compartment_depth=4096",
        "levels.macro.capacity=32768bit",
    ];
    let variants: [(&str, &[&str]); 5] = [
        ("default", &[]),
        ("default", &deep),
        ("default", &["macro.ping_pong=true"]),
        ("transformer", &[]),
        ("transformer", &deep),
    ];
    for (i, (target, sets)) in variants.into_iter().enumerate() {
        let out = work.join(format!("variant{i}.json"));
        let o = out.to_string_lossy().to_string();
        let _ = std::fs::remove_dir_all(work.join("cache"));
        let mut args = vec!["compile", &model, "--target", target, "--no-simulate", "-q"];
        for set in sets {
            args.extend(["--set", set]);
        }
        args.extend(["-o", &o]);
        let (secs, cpu) = run_timed(bin, work, &args)?;
        let json = std::fs::read_to_string(&out)?;
        let doc: serde_json::Value = serde_json::from_str(&json)?;
        let gaps = sorted(&solved_layers(&doc), "gap");
        let on_chip = doc["memory_plan"]["tensors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["home"] != "dram")
            .count();
        let pct = |g: Option<&f64>| g.map_or("–".to_string(), |g| format!("{:.1} %", 100.0 * g));
        let shown = if sets.is_empty() {
            "–".to_string()
        } else {
            sets.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        writeln!(
            md,
            "| {target} | {shown} | {secs:.2} | {} | {:.0} | {:.0} | {:.4e} | {on_chip} | {} | {} |",
            cpu.map_or("–".to_string(), |c| format!("{c:.2}")),
            number(&json, &["model", "latency_cycles"]),
            number(&json, &["model", "energy_nj"]),
            number(&json, &["model", "edp"]),
            pct(gaps.get(gaps.len() / 2)),
            pct(gaps.last()),
        )?;
        eprintln!("bench: variant {target} {sets:?}: compile {secs:.2}s");
    }
    Ok(md)
}

const PRECISION_TITLE: &str = "## Precision: W8A8 against W4A8";

/// `cargo xtask bench --section precision`: only the precision section of
/// `docs/benchmarks.md` measured again, the rest of the file kept as it is.
pub fn precision_only(root: &Path, env: &crate::tools::ToolEnv) -> Result<()> {
    rewrite_section(root, env, "precision", |bin, work| {
        precision_section(root, bin, work)
    })
}

/// `document` with its `## ` section titled as `section`'s first line replaced by `section`,
/// or `section` put before the first section the bench does not write (`## Fuzzing`), or at
/// the end.
fn splice_section(document: &str, section: &str) -> String {
    let title = section.trim_start().lines().next().unwrap_or_default();
    let mut out = String::new();
    let mut skipping = false;
    let mut placed = false;
    for line in document.lines() {
        if line.starts_with("## ") {
            skipping = false;
            if line == title {
                skipping = true;
                if !placed {
                    out.push_str(section.trim_start());
                    out.push('\n');
                    placed = true;
                }
                continue;
            }
            if !placed && line.starts_with("## Fuzzing") {
                out.push_str(section.trim_start());
                out.push('\n');
                placed = true;
            }
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !placed {
        out.push('\n');
        out.push_str(section.trim_start());
    }
    out
}

/// The precision section: ResNet-18 and the Llama-style block at 8-bit and at 4-bit weights
/// (8-bit inputs), `mip` on both presets, cold, simulated.
fn precision_section(root: &Path, bin: &Path, work: &Path) -> Result<String> {
    let mut md = String::new();
    let date = today();
    let load = load_average();
    writeln!(md, "\n{PRECISION_TITLE}\n")?;
    writeln!(
        md,
        "Measured on {date}, {}, load average {load} when the section started (compile times are wall times on a machine others may share; every other number is deterministic). `mip` on both presets, cold caches,",
        machine()
    )?;
    writeln!(
        md,
        "residency on; simulated model totals. W8A8 is the int8 model (ResNet-18: `models/quantized/resnet18_qdq.onnx`; the Llama-style block: the float `models/quantized/llama_tiny.onnx`, whose layers run at the presets' 8-bit `macro.precision`); W4A8 its twin with 4-bit weights (`resnet18_qdq_int4.onnx`, INT4 weights through DequantizeLinear; `llama_tiny_q4.onnx`, `MatMulNBits` with bits = 4; its attention products stay 8-bit), run at 4-bit weights packed two to an 8-bit cell slot (the presets' `macro.weight_storage`). DRAM bits are what the layers read from and write to DRAM, macro bits what they write into the macros' cells (simulator). Ratios are W4A8 / W8A8.\n"
    )?;
    writeln!(
        md,
        "| model | target | precision | layers | compile (s) | latency (cycles) | energy (nJ) | EDP (cycle·nJ) | DRAM bits | macro bits written | latency | energy | EDP | DRAM bits | macro bits |"
    )?;
    writeln!(
        md,
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for (name, w8, w4) in [
        ("ResNet-18", "resnet18_qdq", "resnet18_qdq_int4"),
        ("Llama-style block", "llama_tiny", "llama_tiny_q4"),
    ] {
        for target in ["default", "transformer"] {
            let mut base: Option<[f64; 5]> = None;
            for (label, stem) in [("W8A8", w8), ("W4A8", w4)] {
                let model = root.join(format!("models/quantized/{stem}.onnx"));
                let model = model.to_string_lossy().to_string();
                let out = work.join(format!("{stem}.{target}.precision.json"));
                let o = out.to_string_lossy().to_string();
                let _ = std::fs::remove_dir_all(work.join("cache"));
                let args = ["compile", &model, "--target", target, "-q", "-o", &o];
                let secs = run(bin, work, &args)?;
                let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
                let layers = doc["layers"].as_array().map_or(0, |a| a.len());
                let [mut l, mut e, mut dram, mut cells] = [0.0f64; 4];
                for layer in doc["layers"].as_array().into_iter().flatten() {
                    let s = &layer["simulated"];
                    l += s["latency_cycles"].as_f64().unwrap_or(f64::NAN);
                    e += s["energy_nj"].as_f64().unwrap_or(f64::NAN);
                    let b = &s["breakdown"];
                    dram += b["bits.level.dram_read"].as_f64().unwrap_or(0.0)
                        + b["bits.level.dram_written"].as_f64().unwrap_or(0.0);
                    cells += b["bits.level.macro_written"].as_f64().unwrap_or(0.0);
                }
                let now = [l, e, l * e, dram, cells];
                let ratios = match base {
                    None => "– | – | – | – | –".to_string(),
                    Some(b) => now
                        .iter()
                        .zip(b)
                        .map(|(n, b)| format!("{:.3}×", n / b))
                        .collect::<Vec<_>>()
                        .join(" | "),
                };
                writeln!(
                    md,
                    "| {name} | {target} | {label} | {layers} | {secs:.2} | {l:.0} | {e:.0} | {:.4e} | {dram:.4e} | {cells:.4e} | {ratios} |",
                    l * e
                )?;
                eprintln!("bench: precision {stem} {target}: compile {secs:.2}s");
                base.get_or_insert(now);
            }
        }
    }
    Ok(md)
}

/// Compiles `model` with `--residency off` and with the default (`on`) cold, alternately, twice
/// each (a compile's time on a shared 2-core machine varies with the load; the faster of two
/// runs, and CPU seconds, which the load changes less), and compares the off schedule with the
/// simulated on schedule the caller wrote at `on_path`: one row of the residency table.
fn residency_row(
    bin: &Path,
    work: &Path,
    model: &str,
    stem: &str,
    target: &str,
    on_path: &str,
) -> Result<String> {
    let off_path = work.join(format!("{stem}.{target}.off.json"));
    let off = off_path.to_string_lossy().to_string();
    let scratch = work
        .join(format!("{stem}.{target}.timed.json"))
        .to_string_lossy()
        .to_string();
    let args = |residency: &'static str, out: &str, simulate: bool| {
        let mut a: Vec<String> = [
            "compile",
            model,
            "--target",
            target,
            "--residency",
            residency,
            "-q",
            "-o",
            out,
        ]
        .map(String::from)
        .to_vec();
        if !simulate {
            a.push("--no-simulate".into());
        }
        a
    };
    let cold = |residency: &'static str| -> Result<(f64, Option<f64>)> {
        let _ = std::fs::remove_dir_all(work.join("cache"));
        let a = args(residency, &scratch, false);
        run_timed(bin, work, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (mut off_t, mut on_t) = (
        (f64::INFINITY, f64::INFINITY),
        (f64::INFINITY, f64::INFINITY),
    );
    for _ in 0..2 {
        for (residency, best) in [("off", &mut off_t), ("on", &mut on_t)] {
            let (wall, cpu) = cold(residency)?;
            best.0 = best.0.min(wall);
            best.1 = best.1.min(cpu.unwrap_or(f64::NAN));
        }
    }
    let _ = std::fs::remove_file(&scratch);
    // The off schedule, simulated, for the totals.
    let a = args("off", &off, true);
    run(bin, work, &a.iter().map(String::as_str).collect::<Vec<_>>())?;
    let totals = |path: &str| -> Result<(f64, f64, f64, f64, usize)> {
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let (mut l, mut e, mut dram_nj, mut dram_bits) = (0.0, 0.0, 0.0, 0.0);
        for layer in doc["layers"].as_array().into_iter().flatten() {
            let s = &layer["simulated"];
            l += s["latency_cycles"].as_f64().unwrap_or(f64::NAN);
            e += s["energy_nj"].as_f64().unwrap_or(f64::NAN);
            let b = &s["breakdown"];
            dram_nj += b["energy.level.dram_nj"].as_f64().unwrap_or(0.0);
            dram_bits += b["bits.level.dram_read"].as_f64().unwrap_or(0.0)
                + b["bits.level.dram_written"].as_f64().unwrap_or(0.0);
        }
        let resident = doc["memory_plan"]["tensors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["home"] != "dram")
            .count();
        Ok((l, e, dram_nj / e, dram_bits, resident))
    };
    let (l_off, e_off, share_off, bits_off, _) = totals(&off)?;
    let (l_on, e_on, share_on, bits_on, resident) = totals(on_path)?;
    Ok(format!(
        "| {stem} | {target} | {:.2} | {:.2} | {:.2}× | {:.2}× | {resident} | {:.3}× | {:.3}× | {:.3}× | {:.1} % | {:.1} % | {:.3}× |",
        off_t.0,
        on_t.0,
        on_t.0 / off_t.0,
        on_t.1 / off_t.1,
        l_on / l_off,
        e_on / e_off,
        (l_on * e_on) / (l_off * e_off),
        100.0 * share_off,
        100.0 * share_on,
        bits_on / bits_off,
    ))
}

/// The `## ` sections of `previous` whose titles `current` does not have.
fn foreign_sections(previous: &str, current: &str) -> Vec<String> {
    let titles: Vec<&str> = current.lines().filter(|l| l.starts_with("## ")).collect();
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    for line in previous.lines() {
        if line.starts_with("## ") || line.starts_with("# ") {
            if let Some(s) = section.take() {
                out.push(s);
            }
            if line.starts_with("## ") && !titles.contains(&line) {
                section = Some(String::new());
            }
        }
        if let Some(s) = section.as_mut() {
            s.push_str(line);
            s.push('\n');
        }
    }
    out.extend(section);
    out
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("cimopt-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
