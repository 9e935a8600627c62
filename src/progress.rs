//! Progress of a long command: a bar on a terminal, plain log lines otherwise, nothing with
//! `--quiet`. Ctrl-C sets a flag that the work loop checks, so an interrupted compile stops
//! between layers and writes nothing.

use cimopt_ir::Layer;
use cimopt_pipeline::{LayerNote, Observer};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

pub struct Progress {
    quiet: bool,
    what: &'static str,
    bar: OnceLock<Option<ProgressBar>>,
    start: Instant,
    total: AtomicUsize,
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
            bar: OnceLock::new(),
            start: Instant::now(),
            total: AtomicUsize::new(0),
            interrupted: ctrl_c_flag(),
        }
    }

    fn tty() -> bool {
        std::io::stderr().is_terminal()
    }
}

impl Observer for Progress {
    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    fn started(&self, distinct_layers: usize) {
        self.total.store(distinct_layers, Ordering::SeqCst);
        self.bar.get_or_init(|| {
            (!self.quiet && Self::tty()).then(|| {
                let b = ProgressBar::new(distinct_layers as u64);
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} layers, {elapsed} {msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                b.set_prefix(self.what);
                b
            })
        });
    }

    fn layer_mapped(&self, done: usize, layer: &Layer, note: &LayerNote) {
        let note = note.describe();
        if let Some(Some(b)) = self.bar.get() {
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
        if let Some(Some(b)) = self.bar.get() {
            b.finish_and_clear();
        }
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
