//! Thin #[pyfunction]/#[pyclass] entry points: convert arguments, release the GIL,
//! call a kernel, convert the result. No algorithm lives here.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;

use crate::error::CrmError as KernelError;

pub mod basket;
pub mod behaviour;
pub mod clean;
pub mod clv;
pub mod datasets;
pub mod dedupe;
pub mod ml;
pub mod forecast;
pub mod kpi;
pub mod forecast_arima;
pub mod experiment;
pub mod segment;
pub mod churn;

create_exception!(
    crmkit,
    CrmError,
    PyValueError,
    "Base class of every error crmkit raises on bad input or failed work."
);
create_exception!(
    crmkit,
    SchemaError,
    CrmError,
    "A column is missing, has the wrong dtype, or holds nulls where keys are required."
);
create_exception!(
    crmkit,
    TooLargeError,
    CrmError,
    "The request would exceed a safety limit (candidate pairs, itemsets, memory)."
);
create_exception!(crmkit, ConvergenceError, CrmError, "An iterative fit stopped without converging.");

pub fn to_pyerr(e: KernelError) -> PyErr {
    let msg = e.to_string();
    match e {
        KernelError::Schema { .. } => SchemaError::new_err(msg),
        KernelError::TooLarge(_) => TooLargeError::new_err(msg),
        KernelError::NotConverged(_) => ConvergenceError::new_err(msg),
        KernelError::InvalidInput(_) | KernelError::Polars(_) => CrmError::new_err(msg),
        KernelError::Interrupted => PyKeyboardInterrupt::new_err("crmkit: interrupted"),
    }
}

/// How often a waiting entry point looks for Ctrl-C / SIGINT (Python's signal handlers).
const SIGNAL_POLL: Duration = Duration::from_millis(50);
/// Kernels recurse (trees, FP-growth): the worker gets the main thread's usual stack,
/// not the 2 MiB a spawned thread gets by default (address space only, not memory).
const WORKER_STACK: usize = 64 << 20;

/// Owns a value whose drop is slow (millions of small allocations, such as a
/// million prepared names) and frees it on a thread of its own, so that a result,
/// or an interrupt, reaches the caller without waiting for the memory to be freed.
pub struct DropInBackground<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> DropInBackground<T> {
    pub fn new(value: T) -> Self {
        DropInBackground(Some(value))
    }
}

impl<T: Send + 'static> std::ops::Deref for DropInBackground<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Some from `new` until `drop`.
        self.0.as_ref().expect("DropInBackground holds its value until dropped")
    }
}

impl<T: Send + 'static> std::ops::DerefMut for DropInBackground<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_mut().expect("DropInBackground holds its value until dropped")
    }
}

impl<T: Send + 'static> Drop for DropInBackground<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            // Where no thread can be started, spawn drops the closure, and the value
            // with it, here: freed as usual.
            let _ = std::thread::Builder::new().name("crmkit-free".into()).spawn(move || drop(value));
        }
    }
}

/// Runs kernel work with the GIL released and turns both errors and panics into
/// crmkit exceptions, so a Rust panic never reaches the user as a crash.
///
/// The work runs on a worker thread while this thread waits and, every 50 ms, lets
/// Python run its signal handlers: a Ctrl-C (or Airflow's SIGINT/SIGTERM handlers)
/// raises here within that time, the kernels are told to stop (`crate::interrupt`)
/// and the handler's exception (KeyboardInterrupt) is raised once they have.
pub fn run_detached<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> crate::error::Result<T> + Send,
{
    let _call = crate::interrupt::CallGuard::begin();
    let (tx, rx) = mpsc::channel();
    let outcome = std::thread::scope(|scope| -> PyResult<std::thread::Result<crate::error::Result<T>>> {
        let worker = std::thread::Builder::new().name("crmkit-kernel".into()).stack_size(WORKER_STACK);
        let spawned = worker.spawn_scoped(scope, move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(work)));
        });
        if let Err(e) = spawned {
            return Err(CrmError::new_err(format!("crmkit could not start a worker thread: {e}")));
        }
        // The receiver is not Sync: it moves into each wait and back out.
        let mut rx = rx;
        loop {
            let (received, back) = py.detach(move || (rx.recv_timeout(SIGNAL_POLL), rx));
            rx = back;
            match received {
                Ok(done) => return Ok(done),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(signal) = py.check_signals() {
                        crate::interrupt::request();
                        // The kernels check the flag at coarse points; the worker borrows
                        // the caller's data, so it must end before this call returns.
                        let _ = py.detach(move || rx.recv());
                        return Err(signal);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(CrmError::new_err("crmkit's worker thread ended without a result; this is a bug"))
                }
            }
        }
    })?;
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(to_pyerr(e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".to_string());
            Err(CrmError::new_err(format!(
                "crmkit hit an internal error ({what}); this is a bug, please report it with the input that caused it"
            )))
        }
    }
}

/// Sleeps in a kernel-like loop that checks for interrupts every 10 ms, for up to
/// `seconds`: lets the test suite check that Ctrl-C stops a long call promptly.
#[pyfunction]
fn _interruptible_sleep(py: Python<'_>, seconds: f64) -> PyResult<f64> {
    run_detached(py, move || {
        let start = std::time::Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            crate::interrupt::check()?;
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(start.elapsed().as_secs_f64())
    })
}

/// Panics on purpose inside `run_detached`: lets the test suite check that a Rust
/// panic reaches Python as a CrmError and leaves the interpreter usable.
#[pyfunction]
fn _raise_internal_panic(py: Python<'_>) -> PyResult<()> {
    run_detached(py, || -> crate::error::Result<()> { panic!("deliberate panic for the test suite") })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(_raise_internal_panic, m)?)?;
    m.add_function(wrap_pyfunction!(_interruptible_sleep, m)?)?;
    m.add("CrmError", py.get_type::<CrmError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    m.add("TooLargeError", py.get_type::<TooLargeError>())?;
    m.add("ConvergenceError", py.get_type::<ConvergenceError>())?;
    datasets::register(m)?;
    clean::register(m)?;
    dedupe::register(m)?;
    segment::register(m)?;
    clv::register(m)?;
    behaviour::register(m)?;
    basket::register(m)?;
    ml::register(m)?;
    forecast::register(m)?;
    kpi::register(m)?;
    forecast_arima::register(m)?;
    experiment::register(m)?;
    churn::register(m)?;
    Ok(())
}
