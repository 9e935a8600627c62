//! Catching panics silently and remembering where they happened.
//!
//! While a [`Capture`] guard lives, the process-wide panic hook is a wrapper that, for the
//! threads that are fuzzing (those inside [`catch`]), records the panic's message and location
//! instead of printing them; panics of every other thread go to the hook that was installed
//! before. When the last guard is dropped the previous hook is restored — unless someone
//! replaced the wrapper meanwhile, whose hook then stays. (The ONNX front end does the same
//! around tract, for panics it catches itself: those never reach this hook, and are not
//! findings.)

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::{Arc, Mutex};

type Hook = Arc<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;
type BoxedHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Guards alive in the process, and our wrapper (its address) with the hook it wraps.
static STATE: Mutex<(usize, Option<(usize, Hook)>)> = Mutex::new((0, None));

thread_local! {
    static CATCHING: Cell<usize> = const { Cell::new(0) };
    static LAST: RefCell<Option<Caught>> = const { RefCell::new(None) };
}

/// A panic: its message and where it was raised (`file:line:column`, as the panic hook
/// reports it; empty when unknown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caught {
    pub message: String,
    pub location: String,
}

impl Caught {
    /// `file:line`, without the column: what identifies a panic site across inputs.
    pub fn site(&self) -> String {
        site_of(&self.location)
    }
}

/// `file:line` of a `file:line:column` location.
pub fn site_of(location: &str) -> String {
    match location.rsplit_once(':') {
        Some((head, col)) if col.chars().all(|c| c.is_ascii_digit()) && head.contains(':') => {
            head.to_string()
        }
        _ => location.to_string(),
    }
}

fn address(hook: &BoxedHook) -> usize {
    (&**hook as *const (dyn Fn(&PanicHookInfo<'_>) + Sync + Send)).cast::<()>() as usize
}

/// While alive, panics inside [`catch`] are recorded silently.
pub struct Capture(());

impl Capture {
    pub fn install() -> Capture {
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
                if CATCHING.with(|c| c.get()) > 0 {
                    let caught = Caught {
                        message: message(info.payload())
                            .unwrap_or("(no message)")
                            .to_string(),
                        location: info
                            .location()
                            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                            .unwrap_or_default(),
                    };
                    LAST.with(|l| *l.borrow_mut() = Some(caught));
                } else {
                    delegate(info);
                }
            });
            let addr = address(&wrapper);
            panic::set_hook(wrapper);
            state.1 = Some((addr, previous));
        }
        state.0 += 1;
        Capture(())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        state.0 -= 1;
        if state.0 == 0 {
            let current = panic::take_hook();
            match state.1.take() {
                Some((addr, previous)) if addr == address(&current) => {
                    panic::set_hook(Box::new(move |info| previous(info)));
                }
                _ => panic::set_hook(current),
            }
        }
    }
}

/// Runs `f`, returning its result or the panic it raised (message and location). Silent only
/// while a [`Capture`] lives; without one the panic is also printed by the current hook.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Caught> {
    LAST.with(|l| *l.borrow_mut() = None);
    CATCHING.with(|c| c.set(c.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    match result {
        Ok(r) => Ok(r),
        Err(payload) => Err(LAST
            .with(|l| l.borrow_mut().take())
            .unwrap_or_else(|| Caught {
                message: message(payload.as_ref())
                    .unwrap_or("(no message)")
                    .to_string(),
                location: String::new(),
            })),
    }
}

/// The message of a panic payload, when it has one.
pub fn message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(|s| s.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_caught_with_its_location() {
        let _quiet = Capture::install();
        let r = catch(|| {
            let v: Vec<u8> = Vec::new();
            v[3]
        });
        let caught = r.unwrap_err();
        assert!(caught.message.contains("index out of bounds"), "{caught:?}");
        assert!(caught.location.contains("panics.rs"), "{caught:?}");
        assert_eq!(catch(|| 5).unwrap(), 5);
    }

    #[test]
    fn sites_drop_the_column() {
        assert_eq!(site_of("crates/ir/src/a.rs:10:5"), "crates/ir/src/a.rs:10");
        assert_eq!(site_of(""), "");
    }
}
