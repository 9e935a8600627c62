//! `cimopt-fuzz`: runs the fuzz harness for a time or a number of inputs and reports what it
//! found.
//!
//! ```text
//! cimopt-fuzz [--target onnx|target|schedule|cache|all] [--seconds N | --iterations N] [--seed S]
//!             [--findings DIR] [--timeout S] [--memory-mb MB] [--in-process]
//! cimopt-fuzz --replay TARGET FILE
//! cimopt-fuzz --target TARGET --seed S --input ITERATION > FILE
//! ```
//!
//! Each target runs in a child process (this binary with `--worker`) under a memory limit
//! (`ulimit -v`), watched: the child announces every input before running it, so when it dies
//! (an abort, a stack overflow, memory exhaustion) or an input runs longer than `--timeout`
//! seconds, the input is regenerated from its seed and iteration and recorded as a crash or a
//! hang, and a new child resumes at the next iteration. Panics are caught in the child,
//! minimised and written to the findings folder (`target/fuzz-findings/` by default) with
//! their message. With `all`, the time (or the inputs) is split equally between the targets,
//! which run one after the other.

use anyhow::{Context, Result, bail};
use cimopt_fuzz::{Budget, Finding, FindingKind, FuzzTarget, Outcome, RunOptions};
use clap::Parser;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "cimopt-fuzz",
    about = "Structured fuzzing of cimopt's input readers"
)]
struct Args {
    /// onnx, target, schedule, cache or all.
    #[arg(long, default_value = "all")]
    target: String,
    /// Wall-clock seconds (split between the targets with `all`).
    #[arg(long, conflicts_with = "iterations")]
    seconds: Option<u64>,
    /// Inputs per target (deterministic).
    #[arg(long)]
    iterations: Option<u64>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where findings are written (default: <repository>/target/fuzz-findings).
    #[arg(long)]
    findings: Option<PathBuf>,
    /// The repository whose models and schedules are the corpus.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Seconds one input may run before it counts as a hang.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Address-space limit of the fuzzing child, MiB (0: none).
    #[arg(long, default_value_t = 6144)]
    memory_mb: u64,
    /// Fuzz in this process (no child, no crash or hang detection).
    #[arg(long)]
    in_process: bool,
    /// Run one input file through a target and print what happened: TARGET FILE.
    #[arg(long, num_args = 2, value_names = ["TARGET", "FILE"])]
    replay: Option<Vec<String>>,
    /// Write input ITERATION of --target and --seed to stdout (its base and mutations to
    /// stderr), e.g. to replay a slow or failing iteration.
    #[arg(long, value_name = "ITERATION")]
    input: Option<u64>,
    /// Internal: be the fuzzing child.
    #[arg(long, hide = true)]
    worker: bool,
    /// Internal: the first iteration.
    #[arg(long, hide = true, default_value_t = 0)]
    start: u64,
}

fn main() {
    let args = Args::parse();
    let result = if let Some(r) = &args.replay {
        replay(&r[0], Path::new(&r[1]))
    } else if let Some(i) = args.input {
        write_input(&args, i)
    } else if args.worker {
        worker(&args)
    } else {
        supervise(&args)
    };
    if let Err(e) = result {
        eprintln!("cimopt-fuzz: {e:#}");
        std::process::exit(2);
    }
}

fn targets(spec: &str) -> Result<Vec<FuzzTarget>> {
    if spec == "all" {
        return Ok(FuzzTarget::ALL.to_vec());
    }
    spec.split(',')
        .map(|s| s.parse::<FuzzTarget>().map_err(anyhow::Error::msg))
        .collect()
}

fn root(args: &Args) -> PathBuf {
    args.root.clone().unwrap_or_else(cimopt_fuzz::default_root)
}

fn findings_dir(args: &Args) -> PathBuf {
    args.findings
        .clone()
        .unwrap_or_else(|| root(args).join("target/fuzz-findings"))
}

fn replay(target: &str, file: &Path) -> Result<()> {
    let target: FuzzTarget = target.parse().map_err(anyhow::Error::msg)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let _quiet = cimopt_fuzz::panics::Capture::install();
    match cimopt_fuzz::panics::catch(|| cimopt_fuzz::exercise(target, &bytes)) {
        Ok(Outcome::Accepted) => println!("accepted"),
        Ok(Outcome::Rejected(e)) => println!("rejected: {e}"),
        Ok(Outcome::Violated { site, detail }) => {
            println!("PROPERTY VIOLATED: {site}\n{detail}");
            std::process::exit(1);
        }
        Err(c) => {
            println!("PANIC at {}\n{}", c.location, c.message);
            std::process::exit(1);
        }
    }
    Ok(())
}

fn write_input(args: &Args, iteration: u64) -> Result<()> {
    let target: FuzzTarget = args.target.parse().map_err(anyhow::Error::msg)?;
    let input = cimopt_fuzz::input(target, args.seed, iteration, &root(args))
        .map_err(anyhow::Error::msg)?;
    eprintln!("base: {}", input.base);
    for m in &input.mutations {
        eprintln!("  - {m}");
    }
    std::io::stdout().write_all(&input.bytes)?;
    Ok(())
}

/// The child: fuzzes one target and speaks a line protocol on stdout: `I n` before input `n`,
/// `H` during minimisation, `F kind site<TAB>folder` for a new finding, `S tried accepted
/// rejected panicking violating harness-errors` and `D` at the end.
fn worker(args: &Args) -> Result<()> {
    let target: FuzzTarget = args.target.parse().map_err(anyhow::Error::msg)?;
    let dir = findings_dir(args);
    let budget = match (args.iterations, args.seconds) {
        (Some(n), _) => Budget::Iterations(n),
        (None, Some(s)) => Budget::seconds(s),
        (None, None) => Budget::seconds(60),
    };
    let on_input = |i: Option<u64>| {
        let mut out = std::io::stdout().lock();
        let _ = match i {
            Some(i) => writeln!(out, "I {i}"),
            None => writeln!(out, "H"),
        };
        let _ = out.flush();
    };
    let dir_for_findings = dir.clone();
    let on_finding = move |f: &Finding| {
        let folder = cimopt_fuzz::write_finding(&dir_for_findings, f)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        println!(
            "F {} {}\t{}\t{}",
            f.kind.name(),
            f.site,
            folder,
            f.message.lines().next().unwrap_or("")
        );
    };
    let opts = RunOptions {
        root: root(args),
        start: args.start,
        findings_dir: None,
        known_sites: cimopt_fuzz::known_sites(&dir, target),
        on_input: Some(&on_input),
        on_finding: Some(&on_finding),
        ..RunOptions::default()
    };
    let r = cimopt_fuzz::run_with(target, args.seed, budget, &opts);
    if let Some(e) = &r.harness_error {
        eprintln!(
            "cimopt-fuzz: {target}: the harness failed to build {} input(s), first {e}",
            r.harness_errors
        );
    }
    println!(
        "S {} {} {} {} {} {}",
        r.inputs_tried,
        r.accepted,
        r.rejected,
        r.panicking_inputs,
        r.violating_inputs,
        r.harness_errors
    );
    println!("D");
    Ok(())
}

#[derive(Default, Clone)]
struct Totals {
    tried: u64,
    accepted: u64,
    rejected: u64,
    panicking: u64,
    violating: u64,
    harness_errors: u64,
    crashes: u64,
    hangs: u64,
    seconds: f64,
    /// The slowest input: (iteration, seconds), minimisation excluded (watched runs only).
    slowest: Option<(u64, f64)>,
    /// (kind, site, folder, first line of the message)
    findings: Vec<(String, String, String, String)>,
}

enum Event {
    Line(String),
    Closed,
}

fn supervise(args: &Args) -> Result<()> {
    let list = targets(&args.target)?;
    let dir = findings_dir(args);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let per_target_seconds = args
        .seconds
        .map(|s| (s as f64 / list.len() as f64).max(1.0));
    let mut all = Vec::new();
    for &target in &list {
        let known_before = cimopt_fuzz::known_sites(&dir, target);
        eprintln!(
            "cimopt-fuzz: {target}: {} (seed {}), {} finding(s) already in {}",
            match (args.iterations, per_target_seconds) {
                (Some(n), _) => format!("{n} inputs"),
                (None, Some(s)) => format!("{s:.0} s"),
                _ => "60 s".into(),
            },
            args.seed,
            known_before.len(),
            dir.display()
        );
        let totals = if args.in_process {
            in_process(args, target, per_target_seconds, &dir)
        } else {
            watched(args, target, per_target_seconds, &dir)?
        };
        all.push((target, totals));
    }
    println!("\n{}", summary(&all));
    Ok(())
}

fn in_process(args: &Args, target: FuzzTarget, seconds: Option<f64>, dir: &Path) -> Totals {
    let budget = match (args.iterations, seconds) {
        (Some(n), _) => Budget::Iterations(n),
        (None, Some(s)) => Budget::Time(Duration::from_secs_f64(s)),
        _ => Budget::seconds(60),
    };
    let opts = RunOptions {
        root: root(args),
        findings_dir: Some(dir.to_path_buf()),
        known_sites: cimopt_fuzz::known_sites(dir, target),
        ..RunOptions::default()
    };
    let r = cimopt_fuzz::run_with(target, args.seed, budget, &opts);
    if let Some(e) = &r.harness_error {
        eprintln!(
            "cimopt-fuzz: {target}: the harness failed to build {} input(s), first {e}",
            r.harness_errors
        );
    }
    Totals {
        tried: r.inputs_tried,
        accepted: r.accepted,
        rejected: r.rejected,
        panicking: r.panicking_inputs,
        violating: r.violating_inputs,
        harness_errors: r.harness_errors,
        seconds: r.elapsed.as_secs_f64(),
        findings: r
            .panics
            .iter()
            .map(|f| {
                (
                    f.kind.name().to_string(),
                    f.site.clone(),
                    String::new(),
                    f.message.lines().next().unwrap_or("").to_string(),
                )
            })
            .collect(),
        ..Totals::default()
    }
}

/// Runs `target` in watched children until its time or inputs are used up.
fn watched(args: &Args, target: FuzzTarget, seconds: Option<f64>, dir: &Path) -> Result<Totals> {
    let exe = std::env::current_exe().context("locating cimopt-fuzz")?;
    let started = Instant::now();
    let deadline = seconds.map(|s| started + Duration::from_secs_f64(s));
    let mut totals = Totals::default();
    let mut next = 0u64;
    let mut last_report = Instant::now();
    loop {
        let remaining_iterations = args.iterations.map(|n| n.saturating_sub(totals.tried));
        if remaining_iterations == Some(0) {
            break;
        }
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining.is_some_and(|r| r.as_secs_f64() < 0.5) {
            break;
        }
        let mut cmd = if args.memory_mb > 0 {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg(format!(
                    "ulimit -v {} && exec \"$0\" \"$@\"",
                    args.memory_mb * 1024
                ))
                .arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(["--worker", "--target", target.name()])
            .args(["--seed", &args.seed.to_string()])
            .args(["--start", &next.to_string()])
            .arg("--findings")
            .arg(dir)
            .arg("--root")
            .arg(root(args));
        match (remaining_iterations, remaining) {
            (Some(n), _) => cmd.args(["--iterations", &n.to_string()]),
            (None, Some(r)) => cmd.args(["--seconds", &r.as_secs().max(1).to_string()]),
            (None, None) => cmd.args(["--seconds", "60"]),
        };
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().context("starting the fuzzing child")?;
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(Event::Line(l)).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            let _ = tx.send(Event::Closed);
        });
        let mut stderr = child.stderr.take().expect("piped");
        let tail = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            let start = buf.len().saturating_sub(4000);
            String::from_utf8_lossy(&buf[start..]).to_string()
        });
        let child_started = Instant::now();
        let mut inflight: Option<u64> = None;
        let mut input_started = Instant::now();
        let mut minimising = false;
        let mut seen_inputs = 0u64;
        let mut activity = Instant::now();
        let mut finished = false;
        let mut hung = false;
        let mut child_stats: Option<[u64; 6]> = None;
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(Event::Line(l)) => {
                    activity = Instant::now();
                    if let Some(n) = l.strip_prefix("I ") {
                        if let Some(prev) = inflight.filter(|_| !minimising) {
                            let took = input_started.elapsed().as_secs_f64();
                            if totals.slowest.is_none_or(|(_, s)| took > s) {
                                totals.slowest = Some((prev, took));
                            }
                        }
                        minimising = false;
                        input_started = Instant::now();
                        inflight = n.trim().parse().ok();
                        seen_inputs += 1;
                    } else if l == "H" {
                        minimising = true;
                    } else if let Some(rest) = l.strip_prefix("F ") {
                        let mut parts = rest.splitn(4, '\t');
                        let head = parts.next().unwrap_or("");
                        let folder = parts.next().unwrap_or("").to_string();
                        let message = parts.next().unwrap_or("").to_string();
                        let (kind, site) = head.split_once(' ').unwrap_or((head, ""));
                        eprintln!(
                            "cimopt-fuzz: {target}: NEW {kind} at {site}: {message}\n             → {folder}"
                        );
                        totals
                            .findings
                            .push((kind.into(), site.into(), folder, message));
                    } else if let Some(s) = l.strip_prefix("S ") {
                        let v: Vec<u64> = s
                            .split_whitespace()
                            .filter_map(|x| x.parse().ok())
                            .collect();
                        if v.len() == 6 {
                            child_stats = Some([v[0], v[1], v[2], v[3], v[4], v[5]]);
                        }
                    } else if l == "D" {
                        finished = true;
                    }
                }
                Ok(Event::Closed) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if activity.elapsed() > Duration::from_secs(args.timeout) {
                hung = true;
                let _ = child.kill();
            }
            if last_report.elapsed() > Duration::from_secs(60) {
                last_report = Instant::now();
                let tried = totals.tried + seen_inputs;
                eprintln!(
                    "cimopt-fuzz: {target}: {:.0} s, {tried} inputs ({:.1}/s), {} new finding(s)",
                    started.elapsed().as_secs_f64(),
                    tried as f64 / started.elapsed().as_secs_f64().max(1e-9),
                    totals.findings.len()
                );
            }
        }
        let status = child.wait().context("waiting for the fuzzing child")?;
        let stderr_tail = tail.join().unwrap_or_default();
        // The child's own notes (the harness failing to build an input) are passed on.
        for line in stderr_tail
            .lines()
            .filter(|l| l.starts_with("cimopt-fuzz:"))
        {
            eprintln!("{line}");
        }
        match child_stats {
            Some(s) if finished => {
                totals.tried += s[0];
                totals.accepted += s[1];
                totals.rejected += s[2];
                totals.panicking += s[3];
                totals.violating += s[4];
                totals.harness_errors += s[5];
            }
            _ => totals.tried += seen_inputs,
        }
        if finished && status.success() {
            break;
        }
        // The child died or hung on input `inflight`.
        let Some(bad) = inflight else {
            bail!(
                "the {target} fuzzing child failed before its first input ({status}): {}",
                stderr_tail.trim()
            );
        };
        let kind = if hung {
            FindingKind::Hang
        } else {
            FindingKind::Crash
        };
        if hung {
            totals.hangs += 1;
        } else {
            totals.crashes += 1;
        }
        let message = if hung {
            format!("input {bad} ran for more than {} s (killed)", args.timeout)
        } else {
            format!(
                "the process died ({status}) on input {bad}:\n{}",
                stderr_tail.trim()
            )
        };
        let site = if hung {
            format!("iteration {bad}")
        } else {
            let first = stderr_tail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output")
                .trim()
                .to_string();
            format!("crash: {first}")
        };
        eprintln!(
            "cimopt-fuzz: {target}: {} on input {bad} after {:.0} s: {}",
            kind.name(),
            child_started.elapsed().as_secs_f64(),
            message.lines().last().unwrap_or("")
        );
        match cimopt_fuzz::input(target, args.seed, bad, &root(args)) {
            Ok(input) => {
                let f = Finding {
                    target,
                    kind,
                    message: message.clone(),
                    location: String::new(),
                    site: site.clone(),
                    seed: args.seed,
                    iteration: bad,
                    base: input.base,
                    mutations: input.mutations,
                    input: input.bytes.clone(),
                    original: input.bytes,
                    hits: 1,
                };
                let folder = cimopt_fuzz::write_finding(dir, &f)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                totals.findings.push((
                    kind.name().into(),
                    site,
                    folder,
                    message.lines().last().unwrap_or("").into(),
                ));
            }
            Err(e) => eprintln!("cimopt-fuzz: cannot regenerate input {bad}: {e}"),
        }
        next = bad + 1;
    }
    totals.seconds = started.elapsed().as_secs_f64();
    Ok(totals)
}

fn summary(all: &[(FuzzTarget, Totals)]) -> String {
    let mut s = String::new();
    s.push_str("target     inputs   inputs/s  accepted  rejected  panicking  violating  crashes  hangs  seconds\n");
    for (t, x) in all {
        s.push_str(&format!(
            "{:<9} {:>7} {:>10.1} {:>9} {:>9} {:>10} {:>10} {:>8} {:>6} {:>8.0}\n",
            t.name(),
            x.tried,
            x.tried as f64 / x.seconds.max(1e-9),
            x.accepted,
            x.rejected,
            x.panicking,
            x.violating,
            x.crashes,
            x.hangs,
            x.seconds
        ));
        if let Some((i, secs)) = x.slowest {
            s.push_str(&format!(
                "          (slowest input: iteration {i}, {secs:.1} s)\n"
            ));
        }
        if x.harness_errors > 0 {
            s.push_str(&format!(
                "          ({} inputs the harness itself failed to build)\n",
                x.harness_errors
            ));
        }
    }
    let new: Vec<String> = all
        .iter()
        .flat_map(|(t, x)| {
            x.findings.iter().map(move |(kind, site, folder, msg)| {
                format!("  {t} {kind} at {site}: {msg}\n    {folder}")
            })
        })
        .collect();
    s.push_str(&format!("\nnew findings: {}\n", new.len()));
    for n in new {
        s.push_str(&n);
        s.push('\n');
    }
    s
}
