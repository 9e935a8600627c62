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

impl Progress {
    pub fn new(total: u64, quiet: bool, what: &str) -> Progress {
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        // A second handler cannot be installed (e.g. in tests that run twice); then Ctrl-C
        // keeps its default behaviour, which still leaves no half-written output.
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
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
