//! Cooperative cancellation of long kernels (Ctrl-C in Jupyter, SIGINT from Airflow).
//!
//! Python runs signal handlers only on its main thread, between bytecodes: while a
//! kernel runs with the GIL released, a Ctrl-C would wait for it to finish. So the
//! Python entry points (`python::run_detached`) run the kernel on a worker thread and
//! poll for signals; when one arrives they raise `request()` and the kernels, which
//! call `requested()`/`check()` at coarse points (a tree, a chunk of customers, a block
//! of pairs), stop within milliseconds.
//!
//! The flag is process-wide: an interrupt stops every crmkit call in progress (as a
//! Ctrl-C stops the program's work); it is cleared when the last of them has returned,
//! so the next call starts clean. Kernels stay pure Rust: this module has no pyo3.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::{CrmError, Result};

/// An interrupt flag and the number of calls it covers.
pub struct Flag {
    requested: AtomicBool,
    active: AtomicUsize,
}

impl Flag {
    pub const fn new() -> Self {
        Flag { requested: AtomicBool::new(false), active: AtomicUsize::new(0) }
    }

    #[inline]
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    pub fn begin(&self) {
        self.active.fetch_add(1, Ordering::SeqCst);
    }

    pub fn end(&self) {
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.requested.store(false, Ordering::SeqCst);
        }
    }
}

impl Default for Flag {
    fn default() -> Self {
        Flag::new()
    }
}

static FLAG: Flag = Flag::new();

/// True once an interrupt has been requested for the calls in progress. A relaxed
/// atomic load: cheap enough for inner loops over chunks.
#[inline]
pub fn requested() -> bool {
    FLAG.requested()
}

/// `Err(CrmError::Interrupted)` once an interrupt has been requested.
#[inline]
pub fn check() -> Result<()> {
    if requested() {
        Err(CrmError::Interrupted)
    } else {
        Ok(())
    }
}

/// Asks every kernel in progress to stop.
pub fn request() {
    FLAG.request();
}

/// Marks a call in progress; the interrupt flag is cleared when the last call ends.
pub struct CallGuard(());

impl CallGuard {
    pub fn begin() -> Self {
        FLAG.begin();
        CallGuard(())
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        FLAG.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A local flag: the global one would interrupt kernels tested on other threads.
    #[test]
    fn flag_is_cleared_when_the_last_call_ends() {
        let flag = Flag::new();
        flag.begin();
        flag.begin();
        flag.request();
        assert!(flag.requested());
        flag.end();
        assert!(flag.requested(), "a call is still in progress: it must see the interrupt");
        flag.end();
        assert!(!flag.requested());
    }
}
