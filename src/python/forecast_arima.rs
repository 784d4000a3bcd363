//! Thin entry point to the ARIMA/CES kernels for many series at once, used by the tests
//! and the benchmark of these models. The user-facing path is `crmkit.forecast.forecast`
//! (the framework's driver over the same registry).

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use crate::error::CrmError;
use crate::forecast::build_model;
use crate::python::run_detached;

/// Runs `model` ("AutoARIMA", "ARIMA" or "AutoCES", statsforecast's constructor
/// arguments as a JSON object) over series given as concatenated `values` with
/// `lengths`; series are fitted in parallel. Returns flat `mean` (n_series*h), per-level
/// `lower`/`upper`, and per-series `description`, `note` and `error` (a series that
/// cannot be fitted gets NaN forecasts and its reason, the others are unaffected).
#[pyfunction]
#[pyo3(signature = (model, params_json, values, lengths, h, levels))]
fn _forecast_arima_run<'py>(
    py: Python<'py>,
    model: &str,
    params_json: &str,
    values: PyReadonlyArray1<'py, f64>,
    lengths: Vec<usize>,
    h: usize,
    levels: Vec<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    if !["AutoARIMA", "ARIMA", "AutoCES"].contains(&model) {
        return Err(crate::python::to_pyerr(CrmError::invalid(format!(
            "model must be 'AutoARIMA', 'ARIMA' or 'AutoCES', got '{model}'"
        ))));
    }
    let values: Vec<f64> = values.as_array().iter().copied().collect();
    let model = model.to_string();
    let params_json = params_json.to_string();
    let nlev = levels.len();
    let res = run_detached(py, move || {
        let params: serde_json::Value =
            serde_json::from_str(&params_json).map_err(|e| CrmError::invalid(format!("params_json: {e}")))?;
        let kernel = build_model(&model, &params)?;
        if h == 0 {
            return Err(CrmError::invalid("h must be >= 1"));
        }
        if levels.iter().any(|l| !(*l > 0.0 && *l < 100.0)) {
            return Err(CrmError::invalid("levels must be percents strictly between 0 and 100"));
        }
        if lengths.iter().sum::<usize>() != values.len() {
            return Err(CrmError::invalid("lengths must add up to len(values)"));
        }
        let mut starts = Vec::with_capacity(lengths.len());
        let mut s = 0;
        for l in &lengths {
            starts.push(s);
            s += l;
        }
        let outs: Vec<_> = starts
            .par_iter()
            .zip(lengths.par_iter())
            .map(|(&s, &l)| {
                crate::interrupt::check()?;
                let y = &values[s..s + l];
                if y.is_empty() {
                    return Err(CrmError::invalid("empty series"));
                }
                let o = kernel.forecast(y, h, &levels)?;
                o.check(h, &levels)?;
                Ok(o)
            })
            .collect();
        Ok(outs)
    })?;
    let n = res.len();
    let mut mean = vec![f64::NAN; n * h];
    let mut lower = vec![vec![f64::NAN; n * h]; nlev];
    let mut upper = vec![vec![f64::NAN; n * h]; nlev];
    let mut desc: Vec<Option<String>> = Vec::with_capacity(n);
    let mut note: Vec<Option<String>> = Vec::with_capacity(n);
    let mut err: Vec<Option<String>> = Vec::with_capacity(n);
    for (i, r) in res.into_iter().enumerate() {
        match r {
            Ok(o) => {
                mean[i * h..(i + 1) * h].copy_from_slice(&o.mean);
                for k in 0..nlev {
                    lower[k][i * h..(i + 1) * h].copy_from_slice(&o.lower[k]);
                    upper[k][i * h..(i + 1) * h].copy_from_slice(&o.upper[k]);
                }
                desc.push(Some(o.description));
                note.push(o.note);
                err.push(None);
            }
            Err(e) => {
                desc.push(None);
                note.push(None);
                err.push(Some(e.to_string()));
            }
        }
    }
    let out = PyDict::new(py);
    out.set_item("mean", PyArray1::from_vec(py, mean))?;
    out.set_item("lower", lower.into_iter().map(|v| PyArray1::from_vec(py, v)).collect::<Vec<_>>())?;
    out.set_item("upper", upper.into_iter().map(|v| PyArray1::from_vec(py, v)).collect::<Vec<_>>())?;
    out.set_item("description", desc)?;
    out.set_item("note", note)?;
    out.set_item("error", err)?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_forecast_arima_run, m)?)?;
    Ok(())
}
