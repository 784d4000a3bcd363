//! Bindings for the KPI monitoring kernels: flat series in, bands and flags out.

use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use pyo3_polars::PyDataFrame;

use crate::datagen::{opportunities, surveys};
use crate::kpi::baseline::{self, Batch, Settings};
use crate::kpi::cells;
use crate::error::CrmError;
use crate::python::{run_detached, to_pyerr};

/// Bands for many series at once; `crmkit.kpi.bands` documents the method.
/// `method` is "auto" or "zscore"; returns a dict of numpy arrays.
#[pyfunction]
#[pyo3(signature = (
    offsets, y, den, eligible, holiday, kind, offset, season, *, method, sensitivity, min_history,
    level_window, season_cycles, error_window, shift_run, critical, models, zscore_window,
    drift_run = 0, drift_z = 0.5, holiday_widen = 1.5, no_effect_widen = 1.25, tail_quantile = 0.9,
    learn_after = 0, cusum_k = 0.0, cusum_h = 0.0, count_lambda = 0.0, amount_lambda = 0.0,
    level_trim = 0.5, burn_in = 0, event_scale_widen = 0.0, level_noise = false, choice_clip = 0.0
))]
#[allow(clippy::too_many_arguments)]
fn kpi_bands<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, u64>,
    y: PyReadonlyArray1<'py, f64>,
    den: PyReadonlyArray1<'py, f64>,
    eligible: PyReadonlyArray1<'py, bool>,
    holiday: PyReadonlyArray1<'py, i32>,
    kind: PyReadonlyArray1<'py, u8>,
    offset: PyReadonlyArray1<'py, f64>,
    season: PyReadonlyArray1<'py, u64>,
    method: &str,
    sensitivity: f64,
    min_history: usize,
    level_window: usize,
    season_cycles: usize,
    error_window: usize,
    shift_run: usize,
    critical: f64,
    models: u8,
    zscore_window: usize,
    drift_run: usize,
    drift_z: f64,
    holiday_widen: f64,
    no_effect_widen: f64,
    tail_quantile: f64,
    learn_after: usize,
    cusum_k: f64,
    cusum_h: f64,
    count_lambda: f64,
    amount_lambda: f64,
    level_trim: f64,
    burn_in: usize,
    event_scale_widen: f64,
    level_noise: bool,
    choice_clip: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let offsets: Vec<usize> = offsets.as_array().iter().map(|&v| v as usize).collect();
    let season: Vec<usize> = season.as_array().iter().map(|&v| v as usize).collect();
    let y = y.as_array().to_vec();
    let den = den.as_array().to_vec();
    let eligible = eligible.as_array().to_vec();
    let holiday = holiday.as_array().to_vec();
    let kind = kind.as_array().to_vec();
    let offset = offset.as_array().to_vec();
    let mut st = Settings::with_defaults(
        sensitivity,
        min_history,
        0,
        level_window.max(3),
        season_cycles.max(1),
        error_window.max(5),
        shift_run,
        critical,
        models,
    );
    st.drift_run = drift_run;
    st.drift_z = drift_z;
    st.holiday_widen = holiday_widen;
    st.no_effect_widen = no_effect_widen;
    st.tail_quantile = tail_quantile;
    st.learn_after = learn_after;
    st.cusum_k = cusum_k;
    st.cusum_h = cusum_h;
    st.count_lambda = count_lambda;
    st.amount_lambda = amount_lambda;
    st.level_trim = level_trim;
    st.burn_in = burn_in;
    st.event_scale_widen = event_scale_widen;
    st.level_noise = level_noise;
    st.choice_clip = choice_clip;
    let zscore = if method == "zscore" { Some(zscore_window.max(2)) } else { None };
    let bands = run_detached(py, move || {
        let batch = Batch {
            offsets: &offsets,
            y: &y,
            den: &den,
            eligible: &eligible,
            holiday: &holiday,
            kind: &kind,
            offset: &offset,
            season: &season,
        };
        baseline::run(&batch, &st, zscore)
    })?;
    let out = PyDict::new(py);
    out.set_item("expected", bands.expected.into_pyarray(py))?;
    out.set_item("lower", bands.lower.into_pyarray(py))?;
    out.set_item("upper", bands.upper.into_pyarray(py))?;
    out.set_item("score", bands.score.into_pyarray(py))?;
    out.set_item("flag", bands.flag.into_pyarray(py))?;
    out.set_item("model", bands.model.into_pyarray(py))?;
    Ok(out)
}

/// Per-(group, period) order sums of packed (customer, group, period) keys; see
/// `crate::kpi::cells`. Returns a dict of numpy arrays of length `n_groups * n_periods`.
#[pyfunction]
fn kpi_cell_sums<'py>(
    py: Python<'py>,
    keys: PyReadonlyArray1<'py, i64>,
    amount: PyReadonlyArray1<'py, f64>,
    discounted: PyReadonlyArray1<'py, bool>,
    n_groups: u64,
    n_periods: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let contiguous = |what: &str| to_pyerr(CrmError::invalid(format!("kpi cell sums: {what} must be a contiguous array")));
    let keys = keys.as_slice().map_err(|_| contiguous("keys"))?;
    let amount = amount.as_slice().map_err(|_| contiguous("amounts"))?;
    let discounted = discounted.as_slice().map_err(|_| contiguous("discount flags"))?;
    let sums = run_detached(py, || cells::cell_sums(keys, amount, discounted, n_groups, n_periods))?;
    let out = PyDict::new(py);
    out.set_item("revenue", sums.revenue.into_pyarray(py))?;
    out.set_item("orders", sums.orders.into_pyarray(py))?;
    out.set_item("active_customers", sums.active.into_pyarray(py))?;
    out.set_item("new_customers", sums.new.into_pyarray(py))?;
    out.set_item("__repeaters", sums.repeaters.into_pyarray(py))?;
    out.set_item("__disc", sums.discounted.into_pyarray(py))?;
    out.set_item("__retained", sums.retained.into_pyarray(py))?;
    Ok(out)
}

/// The generated world's surveys (`crmkit.datasets.generate` documents them).
#[pyfunction]
fn generate_surveys(
    py: Python<'_>,
    seed: u64,
    customers: PyReadonlyArray1<'_, i64>,
    order_us: PyReadonlyArray1<'_, i64>,
    response_rate: f64,
    end_us: i64,
) -> PyResult<(PyDataFrame, PyDataFrame)> {
    let customers = customers.as_array().to_vec();
    let order_us = order_us.as_array().to_vec();
    let s = run_detached(py, move || surveys::generate(seed, &customers, &order_us, response_rate, end_us))?;
    Ok((PyDataFrame(s.surveys), PyDataFrame(s.truth)))
}

/// The generated world's sales pipeline (`crmkit.datasets.generate` documents it).
#[pyfunction]
fn generate_opportunities(
    py: Python<'_>,
    seed: u64,
    n_customers: usize,
    start_day: i32,
    end_day: i32,
    n_reps: usize,
    per_day: f64,
) -> PyResult<(PyDataFrame, PyDataFrame)> {
    let o = run_detached(py, move || opportunities::generate(seed, n_customers, start_day, end_day, n_reps, per_day))?;
    Ok((PyDataFrame(o.opportunities), PyDataFrame(o.reps)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kpi_bands, m)?)?;
    m.add_function(wrap_pyfunction!(kpi_cell_sums, m)?)?;
    m.add_function(wrap_pyfunction!(generate_surveys, m)?)?;
    m.add_function(wrap_pyfunction!(generate_opportunities, m)?)?;
    Ok(())
}
