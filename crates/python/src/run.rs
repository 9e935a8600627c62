//! Running a compile detached from the interpreter, so that other Python threads run, while
//! the calling thread stays responsive: Ctrl-C and the `progress=` callback.
//!
//! The work runs on a thread of its own (which hands the layers to rayon). The calling
//! thread — the one Python delivers signals to — waits for it with the interpreter released,
//! waking every few milliseconds to attach, run Python's signal handlers
//! (`Python::check_signals`, which does nothing off the main thread, hence this design) and
//! call the progress callback with each layer mapped since (and each item of the stages after
//! the mapping: the memory plan's variants, its polish, the certification). A `KeyboardInterrupt` from a
//! handler, or an exception from the callback, sets the flag the compile's [`Observer`]
//! reports as interrupted; the compile stops between layers, returns nothing, and the
//! exception is raised.

use crate::errors::{Failure, Outcome};
use crate::objects::{Layer, LayerMapped};
use cimopt_ir::Layer as IrLayer;
use cimopt_pipeline::{LayerNote, Observer, Stage};
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

/// How often the waiting thread looks at signals.
const POLL: Duration = Duration::from_millis(50);

enum Message {
    Mapped {
        done: usize,
        total: usize,
        layer: Box<IrLayer>,
        copies: usize,
        cache_hit: bool,
        stage: &'static str,
        detail: String,
    },
    Done,
}

/// The observer the compile sees: the stop flag, and a channel to the waiting thread.
struct Relay {
    stop: AtomicBool,
    total: AtomicUsize,
    stage_total: AtomicUsize,
    tx: Sender<Message>,
}

/// The stage of the layers' mapping, as `LayerMapped.stage` names it.
const MAPPING: &str = "map";

impl Relay {
    /// One item of `stage` done, to the waiting thread (which may have stopped listening).
    fn send(
        &self,
        stage: &'static str,
        done: usize,
        total: usize,
        layer: &IrLayer,
        note: &LayerNote,
        detail: &str,
    ) {
        let _ = self.tx.send(Message::Mapped {
            done,
            total,
            layer: Box::new(layer.clone()),
            copies: note.copies,
            cache_hit: note.cache_hit,
            stage,
            detail: detail.to_string(),
        });
    }
}

impl Observer for Relay {
    fn interrupted(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn started(&self, distinct_layers: usize) {
        self.total.store(distinct_layers, Ordering::SeqCst);
    }

    fn layer_mapped(&self, done: usize, layer: &IrLayer, note: &LayerNote) {
        let total = self.total.load(Ordering::SeqCst);
        self.send(MAPPING, done, total, layer, note, "");
    }

    fn stage_started(&self, _stage: Stage, items: usize) {
        self.stage_total.store(items, Ordering::SeqCst);
    }

    fn stage_progress(
        &self,
        stage: Stage,
        done: usize,
        layer: &IrLayer,
        note: &LayerNote,
        detail: &str,
    ) {
        let total = self.stage_total.load(Ordering::SeqCst);
        self.send(stage.name(), done, total, layer, note, detail);
    }
}

/// Waits for the next message with the interpreter released.
fn next(
    py: Python<'_>,
    rx: Receiver<Message>,
) -> (Result<Message, RecvTimeoutError>, Receiver<Message>) {
    py.detach(move || {
        let m = rx.recv_timeout(POLL);
        (m, rx)
    })
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `work` on a thread of its own as the module docs describe; `progress` (a callable)
/// gets a `LayerMapped` for each layer.
pub fn interruptible<T, W>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    work: W,
) -> PyResult<T>
where
    T: Send,
    W: FnOnce(&dyn Observer) -> Outcome<T> + Send,
{
    let (tx, rx) = channel();
    let relay = Relay {
        stop: AtomicBool::new(false),
        total: AtomicUsize::new(0),
        stage_total: AtomicUsize::new(0),
        tx: tx.clone(),
    };
    std::thread::scope(|scope| {
        let observer = &relay;
        let worker = scope.spawn(move || {
            let r = work(observer);
            let _ = tx.send(Message::Done);
            r
        });
        let mut rx = rx;
        let mut raised: Option<PyErr> = None;
        loop {
            let (message, back) = next(py, rx);
            rx = back;
            match message {
                Ok(Message::Done) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Message::Mapped {
                    done,
                    total,
                    layer,
                    copies,
                    cache_hit,
                    stage,
                    detail,
                }) => {
                    if let (Some(callback), None) = (progress, &raised) {
                        let event = Layer::new(py, &layer)
                            .and_then(|l| Py::new(py, l))
                            .and_then(|layer| {
                                Py::new(
                                    py,
                                    LayerMapped {
                                        done,
                                        total,
                                        layer,
                                        copies,
                                        cache_hit,
                                        stage: stage.to_string(),
                                        detail,
                                    },
                                )
                            });
                        if let Err(e) = event.and_then(|e| callback.call1((e,))) {
                            relay.stop.store(true, Ordering::SeqCst);
                            raised = Some(e);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if raised.is_none()
                && let Err(e) = py.check_signals()
            {
                relay.stop.store(true, Ordering::SeqCst);
                raised = Some(e);
            }
        }
        let joined = py.detach(move || worker.join());
        match joined {
            Err(p) => Err(PanicException::new_err(format!(
                "cimopt panicked (a bug; please report it): {}",
                panic_message(&*p)
            ))),
            Ok(result) => match raised {
                Some(e) => Err(e),
                None => result.map_err(|f: Failure| f.into_py(py)),
            },
        }
    })
}
