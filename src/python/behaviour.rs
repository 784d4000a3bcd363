//! Bindings for the behaviour kernels (numpy in, numpy out).

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::behaviour::funnel;
use crate::python::run_detached;

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| pyo3::exceptions::PyValueError::new_err(format!("{name} must be a contiguous array")))
}

/// Funnel levels per user and shortest times per (user, step), -1 where not reached.
#[pyfunction]
#[pyo3(signature = (offsets, ts, step, n_steps, window, mode))]
fn behaviour_funnel<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    ts: PyReadonlyArray1<'py, i64>,
    step: PyReadonlyArray1<'py, u32>,
    n_steps: usize,
    window: i64,
    mode: &str,
) -> PyResult<(Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>)> {
    let mode = funnel::Mode::parse(mode).map_err(crate::python::to_pyerr)?;
    let o = slice(&offsets, "offsets")?;
    let t = slice(&ts, "ts")?;
    let s = slice(&step, "step")?;
    let r = run_detached(py, || funnel::funnel(o, t, s, n_steps, window, mode))?;
    Ok((r.levels.into_pyarray(py), r.times.into_pyarray(py)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(behaviour_funnel, m)?)?;
    Ok(())
}
