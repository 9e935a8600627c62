//! A structured fuzz harness for cimopt's input readers, on stable Rust.
//!
//! Each [`FuzzTarget`] starts from valid inputs the project itself ships or writes (the bundled
//! ONNX models, the target presets, schedules written by the compiler, solve-cache entries),
//! mutates them **at the field level** with a deterministic generator ([`rng::Rng`]), and feeds
//! them to the library functions that read them — and, when those accept the input, to the
//! functions that consume what they return. A returned error is the expected outcome of a bad
//! input; a **panic** is a finding, and so is a broken promise ([`FindingKind::Property`]: a
//! schedule that does not round-trip byte for byte, a mapping the reader accepted that the
//! simulator refuses, ...).
//!
//! ```text
//! seed, iteration ─▶ Rng ─▶ plan (base input, mutation steps) ─▶ bytes ─▶ exercise(target, bytes)
//!                                                                  panic? ─▶ minimise ─▶ Finding
//! ```
//!
//! Input `i` of a run is a function of `(target, seed, i)` alone ([`input`]), so a run can be
//! resumed at any iteration and every finding is reproduced from its seed and iteration.
//! Panics are caught with [`std::panic::catch_unwind`] under a silent panic hook
//! ([`panics::Capture`]); a process-killing crash (an abort, a stack overflow, memory
//! exhaustion) or a hang is caught by the `cimopt-fuzz` binary, which runs the fuzzing in a
//! child process and watches it.

pub mod json;
pub mod panics;
pub mod rng;
pub mod targets;

use panics::{Capture, Caught, catch};
use rng::Rng;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// What is fuzzed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FuzzTarget {
    /// ONNX protobufs through `cimopt_onnx::load_bytes` (then inspected and each distinct layer
    /// mapped, priced and simulated on the default target).
    Onnx,
    /// Target TOML through `cimopt_target::parse` and `--set` overrides through
    /// `cimopt_target::load` (then printed, re-read, and used to map a few layers).
    Target,
    /// Schedule JSON through `cimopt_schedule::from_json` (then checked, simulated, reported in
    /// every format, compared and written back).
    Schedule,
    /// Solve-cache entries through `cimopt_pipeline::cache::read` (then checked and, when
    /// valid, priced and simulated).
    Cache,
}

impl FuzzTarget {
    pub const ALL: [FuzzTarget; 4] = [
        FuzzTarget::Onnx,
        FuzzTarget::Target,
        FuzzTarget::Schedule,
        FuzzTarget::Cache,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FuzzTarget::Onnx => "onnx",
            FuzzTarget::Target => "target",
            FuzzTarget::Schedule => "schedule",
            FuzzTarget::Cache => "cache",
        }
    }

    /// The file extension of its inputs.
    pub fn extension(self) -> &'static str {
        match self {
            FuzzTarget::Onnx => "onnx",
            FuzzTarget::Target => "toml",
            FuzzTarget::Schedule | FuzzTarget::Cache => "json",
        }
    }

    fn stream(self) -> u64 {
        self as u64 + 1
    }
}

impl fmt::Display for FuzzTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FuzzTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FuzzTarget::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!("unknown fuzz target `{s}` (expected onnx, target, schedule or cache)")
            })
    }
}

/// How long a run goes on: a number of inputs (deterministic: what tests use) or a wall-clock
/// time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    Iterations(u64),
    Time(Duration),
}

impl Budget {
    pub fn seconds(s: u64) -> Budget {
        Budget::Time(Duration::from_secs(s))
    }
}

/// What one input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reader accepted it, and everything downstream ran.
    Accepted,
    /// The reader (or a later stage) returned an error: the expected outcome of a bad input.
    Rejected(String),
    /// A promise was broken without a panic; `site` names the promise (it identifies the
    /// finding), `detail` says what happened.
    Violated { site: String, detail: String },
}

/// What kind of finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// A panic, caught.
    Panic,
    /// A broken promise ([`Outcome::Violated`]).
    Property,
    /// The process died (abort, stack overflow, out of memory): seen by the binary only.
    Crash,
    /// One input ran longer than the time limit: seen by the binary only.
    Hang,
}

impl FindingKind {
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Panic => "panic",
            FindingKind::Property => "property",
            FindingKind::Crash => "crash",
            FindingKind::Hang => "hang",
        }
    }
}

/// One distinct problem: the first input that showed it, minimised.
#[derive(Clone, Debug)]
pub struct Finding {
    pub target: FuzzTarget,
    pub kind: FindingKind,
    /// The panic message (or the broken promise, or the end of the dead process's stderr).
    pub message: String,
    /// Where the panic was raised, `file:line:column` (empty when unknown).
    pub location: String,
    /// What identifies the problem across inputs: `file:line` of a panic, the promise of a
    /// property.
    pub site: String,
    pub seed: u64,
    pub iteration: u64,
    /// The valid input the mutations started from.
    pub base: String,
    /// The mutations that remained after minimisation, in order.
    pub mutations: Vec<String>,
    /// The minimised input.
    pub input: Vec<u8>,
    /// The input as generated, before minimisation.
    pub original: Vec<u8>,
    /// Inputs that hit the same site during the run (this one included).
    pub hits: u64,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Report {
    pub target: FuzzTarget,
    pub seed: u64,
    /// The first iteration run.
    pub start: u64,
    pub inputs_tried: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Inputs that panicked (any site).
    pub panicking_inputs: u64,
    /// Inputs that broke a promise.
    pub violating_inputs: u64,
    /// Plans the harness itself failed to turn into an input (a bug of the harness, not of
    /// cimopt; such inputs are skipped).
    pub harness_errors: u64,
    /// The first of them: its panic message and location.
    pub harness_error: Option<String>,
    /// Distinct problems, in the order found.
    pub panics: Vec<Finding>,
    pub elapsed: Duration,
}

impl Report {
    pub fn inputs_per_second(&self) -> f64 {
        self.inputs_tried as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Options of [`run_with`].
pub struct RunOptions<'a> {
    /// The repository root (models, schedules); the one this crate was built in by default.
    pub root: PathBuf,
    /// The first iteration (to resume a run).
    pub start: u64,
    /// Minimise each new finding (on by default).
    pub minimise: bool,
    /// Wall-clock limit of one finding's minimisation.
    pub minimise_time: Duration,
    /// Where each new finding is written (see [`write_finding`]); `None`: nowhere.
    pub findings_dir: Option<PathBuf>,
    /// Sites already known (from earlier runs): counted, not minimised or written again.
    pub known_sites: Vec<String>,
    /// Told about every input before it runs (its iteration), and about every minimisation
    /// step (`None`): what a watchdog needs.
    pub on_input: Option<&'a (dyn Fn(Option<u64>) + Sync)>,
    /// Told about each new finding.
    pub on_finding: Option<&'a (dyn Fn(&Finding) + Sync)>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            root: default_root(),
            start: 0,
            minimise: true,
            minimise_time: Duration::from_secs(30),
            findings_dir: None,
            known_sites: Vec::new(),
            on_input: None,
            on_finding: None,
        }
    }
}

/// The repository this crate was built in.
pub fn default_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Fuzzes `target` from `seed` for `budget`, with the default options: the corpus of the
/// repository this crate was built in, findings minimised and kept in memory only.
pub fn run(target: FuzzTarget, seed: u64, budget: Budget) -> Report {
    run_with(target, seed, budget, &RunOptions::default())
}

/// A generated input: its bytes, where they came from and how they were changed.
#[derive(Clone, Debug)]
pub struct Input {
    pub bytes: Vec<u8>,
    pub base: String,
    pub mutations: Vec<String>,
}

/// A mutation plan: which corpus entry, then which mutation steps (kind, seed of the step's
/// own generator). Removing a step gives another valid plan, which is how findings are
/// minimised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub base: usize,
    /// The seed of base-specific preparation (the schedule target's choice of layers).
    pub shape: u64,
    pub steps: Vec<(usize, u64)>,
}

/// One target's corpus and mutators.
pub(crate) trait Fuzzer {
    /// A random plan.
    fn plan(&self, rng: &mut Rng) -> Plan;
    /// The input a plan gives.
    fn build(&self, plan: &Plan) -> Input;
    /// A smaller input that still `fails` (structural reduction of the input format).
    fn reduce(
        &self,
        input: &[u8],
        budget: &mut usize,
        fails: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Vec<u8>;
}

/// Loads a target's corpus from the repository at `root`.
pub(crate) fn fuzzer(target: FuzzTarget, root: &Path) -> Result<Box<dyn Fuzzer>, String> {
    Ok(match target {
        FuzzTarget::Onnx => Box::new(targets::onnx::OnnxFuzzer::load(root)?),
        FuzzTarget::Target => Box::new(targets::toml::TargetFuzzer::load()?),
        FuzzTarget::Schedule => Box::new(targets::schedule::ScheduleFuzzer::load(root)?),
        FuzzTarget::Cache => Box::new(targets::cache::CacheFuzzer::load(root)?),
    })
}

/// Input `iteration` of a run of `target` from `seed`, on the corpus of the repository at
/// `root`: what [`run_with`] feeds, regenerated.
pub fn input(target: FuzzTarget, seed: u64, iteration: u64, root: &Path) -> Result<Input, String> {
    let f = fuzzer(target, root)?;
    let mut rng = Rng::for_iteration(seed, target.stream(), iteration);
    let plan = f.plan(&mut rng);
    let _quiet = Capture::install();
    catch(|| f.build(&plan))
        .map_err(|c| format!("the harness failed to build the input: {}", c.message))
}

/// Feeds one input to `target`'s readers and to whatever consumes what they return. Panics
/// propagate (the harness catches them); everything else is an [`Outcome`].
pub fn exercise(target: FuzzTarget, bytes: &[u8]) -> Outcome {
    match target {
        FuzzTarget::Onnx => targets::onnx::exercise(bytes),
        FuzzTarget::Target => targets::toml::exercise(bytes),
        FuzzTarget::Schedule => targets::schedule::exercise(bytes),
        FuzzTarget::Cache => targets::cache::exercise(bytes),
    }
}

/// What an input did, panics included.
enum Result_ {
    Fine(bool),
    Problem(FindingKind, Caught),
}

fn judge(target: FuzzTarget, bytes: &[u8]) -> Result_ {
    match catch(|| exercise(target, bytes)) {
        Ok(Outcome::Accepted) => Result_::Fine(true),
        Ok(Outcome::Rejected(_)) => Result_::Fine(false),
        Ok(Outcome::Violated { site, detail }) => Result_::Problem(
            FindingKind::Property,
            Caught {
                message: detail,
                location: site,
            },
        ),
        Err(c) => Result_::Problem(FindingKind::Panic, c),
    }
}

fn site(kind: FindingKind, c: &Caught) -> String {
    match kind {
        FindingKind::Panic => c.site(),
        _ => c.location.clone(),
    }
}

/// Fuzzes `target` from `seed` for `budget`.
pub fn run_with(target: FuzzTarget, seed: u64, budget: Budget, opts: &RunOptions) -> Report {
    let started = Instant::now();
    let _capture = Capture::install();
    let mut report = Report {
        target,
        seed,
        start: opts.start,
        inputs_tried: 0,
        accepted: 0,
        rejected: 0,
        panicking_inputs: 0,
        violating_inputs: 0,
        harness_errors: 0,
        harness_error: None,
        panics: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let f = match fuzzer(target, &opts.root) {
        Ok(f) => f,
        Err(e) => panic!(
            "cannot load the {target} corpus from {}: {e}",
            opts.root.display()
        ),
    };
    let mut known: BTreeMap<String, Option<usize>> =
        opts.known_sites.iter().map(|s| (s.clone(), None)).collect();
    let mut iteration = opts.start;
    loop {
        match budget {
            Budget::Iterations(n) if report.inputs_tried >= n => break,
            Budget::Time(d) if started.elapsed() >= d => break,
            _ => {}
        }
        if let Some(tell) = opts.on_input {
            tell(Some(iteration));
        }
        let mut rng = Rng::for_iteration(seed, target.stream(), iteration);
        let plan = f.plan(&mut rng);
        let generated = match catch(|| f.build(&plan)) {
            Ok(g) => g,
            Err(c) => {
                report.harness_errors += 1;
                report.harness_error.get_or_insert_with(|| {
                    format!("iteration {iteration}: {} at {}", c.message, c.location)
                });
                iteration += 1;
                continue;
            }
        };
        report.inputs_tried += 1;
        match judge(target, &generated.bytes) {
            Result_::Fine(true) => report.accepted += 1,
            Result_::Fine(false) => report.rejected += 1,
            Result_::Problem(kind, caught) => {
                match kind {
                    FindingKind::Property => report.violating_inputs += 1,
                    _ => report.panicking_inputs += 1,
                }
                let s = site(kind, &caught);
                match known.get(&s) {
                    Some(Some(i)) => report.panics[*i].hits += 1,
                    Some(None) => {}
                    None => {
                        let finding = minimise(
                            f.as_ref(),
                            target,
                            seed,
                            iteration,
                            &plan,
                            generated,
                            kind,
                            caught,
                            opts,
                        );
                        if let Some(dir) = &opts.findings_dir {
                            let _ = write_finding(dir, &finding);
                        }
                        if let Some(tell) = opts.on_finding {
                            tell(&finding);
                        }
                        known.insert(s, Some(report.panics.len()));
                        report.panics.push(finding);
                    }
                }
            }
        }
        iteration += 1;
    }
    report.elapsed = started.elapsed();
    report
}

#[allow(clippy::too_many_arguments)]
fn minimise(
    f: &dyn Fuzzer,
    target: FuzzTarget,
    seed: u64,
    iteration: u64,
    plan: &Plan,
    generated: Input,
    kind: FindingKind,
    caught: Caught,
    opts: &RunOptions,
) -> Finding {
    let wanted = site(kind, &caught);
    let mut finding = Finding {
        target,
        kind,
        message: caught.message.clone(),
        location: caught.location.clone(),
        site: wanted.clone(),
        seed,
        iteration,
        base: generated.base.clone(),
        mutations: generated.mutations.clone(),
        input: generated.bytes.clone(),
        original: generated.bytes.clone(),
        hits: 1,
    };
    if !opts.minimise {
        return finding;
    }
    let deadline = Instant::now() + opts.minimise_time;
    let same = |bytes: &[u8]| -> bool {
        if let Some(tell) = opts.on_input {
            tell(None);
        }
        match judge(target, bytes) {
            Result_::Problem(k, c) => k == kind && site(k, &c) == wanted,
            Result_::Fine(_) => false,
        }
    };
    // 1. Fewer mutation steps.
    let mut plan = plan.clone();
    let mut k = plan.steps.len();
    while k > 0 && Instant::now() < deadline {
        k -= 1;
        let mut smaller = plan.clone();
        smaller.steps.remove(k);
        let Ok(candidate) = catch(|| f.build(&smaller)) else {
            continue;
        };
        if same(&candidate.bytes) {
            plan = smaller;
            finding.mutations = candidate.mutations;
            finding.input = candidate.bytes;
        }
    }
    // 2. A smaller document.
    let mut budget = 600usize;
    let mut fails = |bytes: &[u8]| Instant::now() < deadline && same(bytes);
    let reduced = f.reduce(&finding.input, &mut budget, &mut fails);
    if reduced.len() < finding.input.len() && same(&reduced) {
        finding.input = reduced;
    }
    if let Result_::Problem(_, c) = judge(target, &finding.input) {
        finding.message = c.message;
        if kind == FindingKind::Panic {
            finding.location = c.location;
        }
    }
    finding
}

/// A file-name-safe slug of a site.
pub fn slug(site: &str) -> String {
    let s: String = site
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let s = s.trim_matches('_').to_string();
    let tail: String = s
        .chars()
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    tail
}

/// Writes a finding to `dir/<target>-<kind>-<site slug>/`: `input.<ext>` (minimised),
/// `original.<ext>`, and `finding.txt` (what, where, how to reproduce). Returns the folder.
pub fn write_finding(dir: &Path, f: &Finding) -> std::io::Result<PathBuf> {
    let folder = dir.join(format!("{}-{}-{}", f.target, f.kind.name(), slug(&f.site)));
    std::fs::create_dir_all(&folder)?;
    let ext = f.target.extension();
    std::fs::write(folder.join(format!("input.{ext}")), &f.input)?;
    std::fs::write(folder.join(format!("original.{ext}")), &f.original)?;
    std::fs::write(folder.join("finding.txt"), describe_finding(f))?;
    Ok(folder)
}

/// The text of `finding.txt`.
pub fn describe_finding(f: &Finding) -> String {
    let mut s = String::new();
    s.push_str(&format!("target:    {}\n", f.target));
    s.push_str(&format!("kind:      {}\n", f.kind.name()));
    s.push_str(&format!("site:      {}\n", f.site));
    s.push_str(&format!("location:  {}\n", f.location));
    s.push_str(&format!("seed:      {}\n", f.seed));
    s.push_str(&format!("iteration: {}\n", f.iteration));
    s.push_str(&format!("hits:      {}\n", f.hits));
    s.push_str(&format!("base:      {}\n", f.base));
    s.push_str(&format!(
        "input:     input.{} ({} bytes; original.{} {} bytes)\n",
        f.target.extension(),
        f.input.len(),
        f.target.extension(),
        f.original.len()
    ));
    s.push_str(&format!(
        "replay:    cimopt-fuzz --replay {} input.{}\n",
        f.target,
        f.target.extension()
    ));
    s.push_str("mutations:\n");
    for m in &f.mutations {
        s.push_str(&format!("  - {m}\n"));
    }
    s.push_str("message:\n");
    for line in f.message.lines() {
        s.push_str(&format!("  {line}\n"));
    }
    s
}

/// The site recorded in a `finding.txt`.
pub fn site_in(finding_txt: &str) -> Option<String> {
    finding_txt
        .lines()
        .find_map(|l| l.strip_prefix("site:"))
        .map(|s| s.trim().to_string())
}

/// The sites of `target`'s findings already in `dir` (for [`RunOptions::known_sites`]).
pub fn known_sites(dir: &Path, target: FuzzTarget) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path().join("finding.txt"))
                && text.lines().any(|l| {
                    l.strip_prefix("target:")
                        .is_some_and(|t| t.trim() == target.name())
                })
                && let Some(s) = site_in(&text)
            {
                out.push(s);
            }
        }
    }
    out.sort();
    out
}
