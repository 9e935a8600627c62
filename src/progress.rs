//! Progress of a long command: a bar on a terminal, plain log lines otherwise, nothing with
//! `--quiet`. Ctrl-C sets a flag that the work loop checks, so an interrupted compile stops
//! between layers and writes nothing.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    start: Instant,
    total: u64,
    interrupted: Arc<AtomicBool>,
}

/// The process's one Ctrl-C flag: a handler can be installed only once per process, so every
/// `Progress` (a sweep makes one per variant) shares it.
fn ctrl_c_flag() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
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

/// Whether Ctrl-C was pressed since the process started.
pub fn interrupted() -> bool {
    ctrl_c_flag().load(Ordering::SeqCst)
}

impl Progress {
    pub fn new(total: u64, quiet: bool, what: &str) -> Progress {
        let interrupted = ctrl_c_flag();
        let tty = std::io::stderr().is_terminal();
        let bar = (!quiet && tty).then(|| {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} layers, {elapsed} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(what.to_string());
            b
        });
        Progress {
            bar,
            log: !quiet && !tty,
            start: Instant::now(),
            total,
            interrupted,
        }
    }

    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    pub fn done(&self, done: u64, current: &str, note: &str) {
        if let Some(b) = &self.bar {
            b.set_position(done);
            b.set_message(format!("{current} {note}"));
        } else if self.log {
            eprintln!(
                "[{:>6.1}s] {done}/{} {current} {note}",
                self.start.elapsed().as_secs_f64(),
                self.total
            );
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
