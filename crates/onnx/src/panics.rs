//! Running tract without its panics reaching stderr.
//!
//! tract panics on some malformed models. The front end catches those panics and turns them
//! into [`FrontendError::InvalidModel`](crate::FrontendError::InvalidModel), but the panic
//! hook runs first and would print the message (and a backtrace under `RUST_BACKTRACE`). While
//! a [`Quiet`] guard lives, panics **of the current thread** print nothing; panics of other
//! threads still reach the hook that was installed before. The process-wide hook is replaced
//! while at least one guard lives (in any thread) and restored when the last one is dropped.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Mutex};

type Hook = Arc<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Guards alive in the process and the hook they replaced.
static STATE: Mutex<(usize, Option<Hook>)> = Mutex::new((0, None));

thread_local! {
    static QUIET: Cell<usize> = const { Cell::new(0) };
}

/// While alive, panics of this thread are not reported by the panic hook.
pub(crate) struct Quiet(());

impl Quiet {
    pub(crate) fn new() -> Quiet {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 == 0 {
            let previous: Hook = Arc::from(panic::take_hook());
            let delegate = previous.clone();
            panic::set_hook(Box::new(move |info| {
                if QUIET.with(|q| q.get()) == 0 {
                    delegate(info);
                }
            }));
            state.1 = Some(previous);
        }
        state.0 += 1;
        QUIET.with(|q| q.set(q.get() + 1));
        Quiet(())
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(q.get() - 1));
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        state.0 -= 1;
        if state.0 == 0
            && let Some(previous) = state.1.take()
        {
            // Our hook goes; the one it replaced comes back.
            let _ = panic::take_hook();
            panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

/// The message of a caught panic, when it has one.
pub(crate) fn message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(|s| s.as_str()))
}
