//! Running tract without its panics reaching stderr.
//!
//! tract panics on some malformed models. The front end catches those panics and turns them
//! into [`FrontendError::InvalidModel`](crate::FrontendError::InvalidModel), but the panic
//! hook runs first and would print the message (and a backtrace under `RUST_BACKTRACE`). While
//! a [`Quiet`] guard lives, panics **of the current thread** print nothing; panics of other
//! threads still reach the hook that was installed before.
//!
//! The process-wide hook is wrapped while at least one guard lives (in any thread) and the
//! wrapped hook is restored when the last one is dropped — unless someone replaced our
//! wrapper in the meantime, whose hook then stays. A guard created while the current hook is
//! not our wrapper (someone set a hook after the first guard) wraps that hook in turn, so
//! every guard's thread is quiet.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Mutex};

type Hook = Arc<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;
type BoxedHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Guards alive in the process, and our installed wrapper (its address) with the hook it
/// wraps.
static STATE: Mutex<(usize, Option<(usize, Hook)>)> = Mutex::new((0, None));

thread_local! {
    static QUIET: Cell<usize> = const { Cell::new(0) };
}

/// The address of a hook's closure, to recognise our wrapper (it captures an `Arc`, so it is
/// a real allocation, never a zero-sized one's dangling address).
fn address(hook: &BoxedHook) -> usize {
    (&**hook as *const (dyn Fn(&PanicHookInfo<'_>) + Sync + Send)).cast::<()>() as usize
}

/// While alive, panics of this thread are not reported by the panic hook.
pub(crate) struct Quiet(());

impl Quiet {
    pub(crate) fn new() -> Quiet {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        let current = panic::take_hook();
        let ours = state
            .1
            .as_ref()
            .is_some_and(|(addr, _)| *addr == address(&current));
        if ours {
            panic::set_hook(current);
        } else {
            let previous: Hook = Arc::from(current);
            let delegate = previous.clone();
            let wrapper: BoxedHook = Box::new(move |info| {
                if QUIET.with(|q| q.get()) == 0 {
                    delegate(info);
                }
            });
            let addr = address(&wrapper);
            panic::set_hook(wrapper);
            state.1 = Some((addr, previous));
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
        if state.0 == 0 {
            let current = panic::take_hook();
            match state.1.take() {
                // Our wrapper goes; the hook it wrapped comes back.
                Some((addr, previous)) if addr == address(&current) => {
                    panic::set_hook(Box::new(move |info| previous(info)));
                }
                // Someone replaced our wrapper: theirs stays.
                _ => panic::set_hook(current),
            }
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
