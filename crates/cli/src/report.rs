//! How much the command says on stderr: by default only what the user must act on (where to
//! sign in, a device code, who signed in) and errors, so that a token served silently, as
//! kubectl asks for one on every call, prints nothing; `-v` adds what it used (the account,
//! the cache, extra root certificates).

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Turns the details on (`-v`).
pub(crate) fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether details are printed.
pub(crate) fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}
