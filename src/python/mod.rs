//! Thin #[pyfunction]/#[pyclass] entry points: convert arguments, release the GIL,
//! call a kernel, convert the result. No algorithm lives here.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
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
    }
}

/// Runs kernel work with the GIL released and turns both errors and panics into
/// crmkit exceptions, so a Rust panic never reaches the user as a crash.
pub fn run_detached<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> crate::error::Result<T> + Send,
{
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(work)));
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

/// Panics on purpose inside `run_detached`: lets the test suite check that a Rust
/// panic reaches Python as a CrmError and leaves the interpreter usable.
#[pyfunction]
fn _raise_internal_panic(py: Python<'_>) -> PyResult<()> {
    run_detached(py, || -> crate::error::Result<()> { panic!("deliberate panic for the test suite") })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(_raise_internal_panic, m)?)?;
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
