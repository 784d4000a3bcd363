//! Bindings for the forecasting kernels: many series x many models in one call.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::CrmError as KernelError;
use crate::forecast::driver::{self, Panel};
use crate::forecast::{build_model, trend};
use crate::python::run_detached;

fn offsets_of(a: &PyReadonlyArray1<'_, i64>, n_values: usize) -> Result<Vec<usize>, KernelError> {
    let v: Vec<usize> = a.as_array().iter().map(|&x| x.max(0) as usize).collect();
    if v.first() != Some(&0) || v.last() != Some(&n_values) || v.windows(2).any(|w| w[0] > w[1]) {
        return Err(KernelError::invalid("internal: series offsets are not increasing from 0 to the number of values"));
    }
    Ok(v)
}

/// Runs `models` ([(name, params_json)]) on tasks (series index, training length) over
/// series stored back to back in `values` (boundaries in `offsets`). Returns a dict of flat
/// arrays ordered [task][model][step] (`mean`) and [task][model][level][step]
/// (`lower`, `upper`), and per [task][model] lists `description`, `note`, `fell_back`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn forecast_run<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, f64>,
    offsets: PyReadonlyArray1<'py, i64>,
    task_series: PyReadonlyArray1<'py, i64>,
    task_len: PyReadonlyArray1<'py, i64>,
    models: Vec<(String, String)>,
    h: usize,
    levels: Vec<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let values: Vec<f64> = values.as_array().iter().copied().collect();
    let offsets = offsets_of(&offsets, values.len()).map_err(crate::python::to_pyerr)?;
    let tasks: Vec<(usize, usize)> = task_series
        .as_array()
        .iter()
        .zip(task_len.as_array().iter())
        .map(|(&s, &l)| (s.max(0) as usize, l.max(0) as usize))
        .collect();
    let n_levels = levels.len();
    let (mean, lower, upper, desc, notes, fell) = run_detached(py, move || {
        let mut built = Vec::with_capacity(models.len());
        for (name, params) in &models {
            let p: serde_json::Value = serde_json::from_str(params)
                .map_err(|e| KernelError::invalid(format!("{name}: parameters are not valid JSON: {e}")))?;
            built.push(build_model(name, &p)?);
        }
        let panel = Panel { values: &values, offsets: &offsets };
        let results = driver::run(&panel, &tasks, &built, h, &levels)?;
        let mut mean = Vec::with_capacity(results.len() * h);
        let mut lower = Vec::with_capacity(results.len() * h * n_levels);
        let mut upper = Vec::with_capacity(results.len() * h * n_levels);
        let mut desc = Vec::with_capacity(results.len());
        let mut notes = Vec::with_capacity(results.len());
        let mut fell = Vec::with_capacity(results.len());
        for r in results {
            mean.extend_from_slice(&r.output.mean);
            for b in &r.output.lower {
                lower.extend_from_slice(b);
            }
            for b in &r.output.upper {
                upper.extend_from_slice(b);
            }
            desc.push(r.output.description);
            notes.push(r.output.note);
            fell.push(r.fell_back);
        }
        Ok((mean, lower, upper, desc, notes, fell))
    })?;
    let out = PyDict::new(py);
    out.set_item("mean", PyArray1::from_vec(py, mean))?;
    out.set_item("lower", PyArray1::from_vec(py, lower))?;
    out.set_item("upper", PyArray1::from_vec(py, upper))?;
    out.set_item("description", desc)?;
    out.set_item("note", notes)?;
    out.set_item("fell_back", fell)?;
    Ok(out)
}

/// Trend statistics per series (Mann–Kendall S, z, p; Sen's and least-squares slopes;
/// strengths of trend and seasonality for season length `m`).
#[pyfunction]
fn forecast_trend_stats<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, f64>,
    offsets: PyReadonlyArray1<'py, i64>,
    m: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let values: Vec<f64> = values.as_array().iter().copied().collect();
    let offsets = offsets_of(&offsets, values.len()).map_err(crate::python::to_pyerr)?;
    let stats = run_detached(py, move || {
        use rayon::prelude::*;
        let stats: Vec<trend::TrendStats> =
            offsets.par_windows(2).map(|w| trend::trend_stats(&values[w[0]..w[1]], m)).collect();
        Ok(stats)
    })?;
    let col = |f: fn(&trend::TrendStats) -> f64| stats.iter().map(f).collect::<Vec<f64>>();
    let out = PyDict::new(py);
    out.set_item("mk_s", PyArray1::from_vec(py, col(|s| s.mk_s)))?;
    out.set_item("mk_z", PyArray1::from_vec(py, col(|s| s.mk_z)))?;
    out.set_item("mk_p", PyArray1::from_vec(py, col(|s| s.mk_p)))?;
    out.set_item("sen_slope", PyArray1::from_vec(py, col(|s| s.sen_slope)))?;
    out.set_item("ols_slope", PyArray1::from_vec(py, col(|s| s.ols_slope)))?;
    out.set_item("trend_strength", PyArray1::from_vec(py, col(|s| s.trend_strength)))?;
    out.set_item("seasonal_strength", PyArray1::from_vec(py, col(|s| s.seasonal_strength)))?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(forecast_run, m)?)?;
    m.add_function(wrap_pyfunction!(forecast_trend_stats, m)?)?;
    Ok(())
}
