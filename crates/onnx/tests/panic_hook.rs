//! The front end's panic hook handling, alone in its test binary: the panic hook is
//! process-wide, and every load in a parallel test of the same binary swaps it for a moment
//! (`panics::Quiet`), so a deliberate panic here could meet the default hook in between.

mod common;

use cimopt_onnx::{FrontendError, LoadOptions};
use cimopt_zoo::{Builder, attr_int, encode};
use common::*;

/// A model on which tract itself panics (DepthToSpace with block size 0 divides by zero).
pub fn tract_panics() -> Vec<u8> {
    let mut b = Builder::new("tract_panics");
    let x = b.input("x", &[1, 4, 4, 4]);
    let w = b.weight("w", &[4, 4, 1, 1]);
    let y = b.node("Conv", "conv", &[&x, &w], vec![]);
    let z = b.node("DepthToSpace", "d2s", &[&y], vec![attr_int("blocksize", 0)]);
    b.output(&z, &[]);
    encode(&b.finish())
}

#[test]
fn tract_panics_are_quiet_errors_and_the_panic_hook_is_restored() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let me = std::thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == me {
            SEEN.fetch_add(1, Ordering::SeqCst);
        } else {
            previous(info);
        }
    }));
    let e = load_bytes(&tract_panics(), &LoadOptions::default()).unwrap_err();
    let seen_during_load = SEEN.load(Ordering::SeqCst);
    // A panic of this thread after the load reaches the hook that was installed before it.
    let _ = std::panic::catch_unwind(|| panic!("after the load"));
    let seen_after = SEEN.load(Ordering::SeqCst);
    let _ = std::panic::take_hook(); // back to the default hook
    assert!(matches!(e, FrontendError::InvalidModel { .. }), "{e:?}");
    assert!(e.to_string().contains("tract panicked"), "{e}");
    assert_eq!(seen_during_load, 0, "tract's panic reached the hook");
    assert_eq!(seen_after, 1, "the previous hook was not restored");
}
