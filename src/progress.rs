//! Progress of a long command: a bar on a terminal, plain log lines otherwise, nothing with
//! `--quiet`. Ctrl-C sets a flag that the work loop checks, so an interrupted compile stops
//! between layers and writes nothing.

use cimopt_ir::Layer;
use cimopt_pipeline::{LayerNote, Observer, Stage};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

pub struct Progress {
    quiet: bool,
    what: &'static str,
    bar: Mutex<Option<ProgressBar>>,
    start: Instant,
    total: AtomicUsize,
    stage_total: AtomicUsize,
    interrupted: Arc<AtomicBool>,
}

/// The process's one Ctrl-C flag: a handler can be installed only once per process, so every
/// `Progress` (a sweep makes one per variant) shares it.
fn ctrl_c_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // If another handler exists (cannot happen in the binary), Ctrl-C keeps its default
        // behaviour, which still leaves no half-written output.
        let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
        flag
    })
    .clone()
}

impl Progress {
    pub fn new(quiet: bool, what: &'static str) -> Progress {
        Progress {
            quiet,
            what,
            bar: Mutex::new(None),
            start: Instant::now(),
            total: AtomicUsize::new(0),
            stage_total: AtomicUsize::new(0),
            interrupted: ctrl_c_flag(),
        }
    }

    fn tty() -> bool {
        std::io::stderr().is_terminal()
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        // A panicking worker cannot leave the bar half-updated in a way that matters.
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A bar of `len` items on a terminal (replacing the one before), unless quiet.
    fn show_bar(&self, prefix: &'static str, len: usize, what: &str) {
        let mut bar = self.bar();
        if let Some(b) = bar.take() {
            b.finish_and_clear();
        }
        if self.quiet || !Self::tty() {
            return;
        }
        let b = ProgressBar::new(len as u64);
        b.set_style(
            ProgressStyle::with_template(&format!(
                "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {what}, {{elapsed}} {{msg}}"
            ))
            .expect("valid template")
            .progress_chars("=> "),
        );
        b.set_prefix(prefix);
        *bar = Some(b);
    }
}

impl Observer for Progress {
    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    fn started(&self, distinct_layers: usize) {
        self.total.store(distinct_layers, Ordering::SeqCst);
        self.show_bar(self.what, distinct_layers, "layers");
    }

    fn layer_mapped(&self, done: usize, layer: &Layer, note: &LayerNote) {
        let note = note.describe();
        if let Some(b) = self.bar().as_ref() {
            b.set_position(done as u64);
            b.set_message(format!("{} {note}", layer.name));
        } else if !self.quiet && !Self::tty() {
            eprintln!(
                "[{:>6.1}s] {done}/{} {} {note}",
                self.start.elapsed().as_secs_f64(),
                self.total.load(Ordering::SeqCst),
                layer.name
            );
        }
    }

    fn finished(&self) {
        if let Some(b) = self.bar().take() {
            b.finish_and_clear();
        }
    }

    fn stage_started(&self, stage: Stage, items: usize) {
        let what = match stage {
            Stage::MemoryPlan => "variants",
            Stage::Polish | Stage::Certify => "layers",
        };
        self.stage_total.store(items, Ordering::SeqCst);
        if !self.quiet && !Self::tty() && items > 0 {
            eprintln!(
                "[{:>6.1}s] {}: {items} {what}",
                self.start.elapsed().as_secs_f64(),
                stage.name()
            );
        }
        self.show_bar(stage.name(), items, what);
    }

    fn stage_progress(
        &self,
        stage: Stage,
        done: usize,
        layer: &Layer,
        note: &LayerNote,
        detail: &str,
    ) {
        let mut notes: Vec<String> = Vec::new();
        notes.extend((!detail.is_empty()).then(|| detail.to_string()));
        notes.extend(note.item_notes());
        let detail = notes.join(", ");
        if let Some(b) = self.bar().as_ref() {
            b.set_position(done as u64);
            b.set_message(format!("{} {detail}", layer.name));
        } else if !self.quiet && !Self::tty() && stage == Stage::Certify {
            // Only certification: its layers take seconds each, the plan's variants milliseconds.
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            };
            eprintln!(
                "[{:>6.1}s] {} {done}/{} {}{detail}",
                self.start.elapsed().as_secs_f64(),
                stage.name(),
                self.stage_total.load(Ordering::SeqCst),
                layer.name
            );
        }
    }

    fn stage_finished(&self, _stage: Stage) {
        self.finished();
    }

    /// Shown even with `--quiet`, which silences progress, not what the user must know.
    fn warning(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}

/// Only the Ctrl-C flag: for work that shows no progress of its own (a sweep's variants).
pub struct Interruptible(Arc<AtomicBool>);

impl Interruptible {
    pub fn new() -> Self {
        Interruptible(ctrl_c_flag())
    }
}

impl Observer for Interruptible {
    fn interrupted(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn warning(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}
