//! Bindings for the CLV kernels: fit a model, predict per customer, lifetime value.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::clv::{self, FitOptions, Kind, Rows, Target};
use crate::python::{run_detached, to_pyerr};

fn vec_of(a: &PyReadonlyArray1<'_, f64>) -> Vec<f64> {
    a.as_array().iter().copied().collect()
}

/// Fits `model` to weighted rows (frequency, a, b); returns a dict with params,
/// log_likelihood, objective, covariance (row-major list or None) and iterations.
#[pyfunction]
#[pyo3(signature = (model, x, a, b, w, penalizer, divisor, initial=None, max_iter=500))]
#[allow(clippy::too_many_arguments)]
fn clv_fit<'py>(
    py: Python<'py>,
    model: &str,
    x: PyReadonlyArray1<'py, f64>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    w: PyReadonlyArray1<'py, f64>,
    penalizer: f64,
    divisor: f64,
    initial: Option<Vec<f64>>,
    max_iter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let kind = Kind::parse(model).map_err(to_pyerr)?;
    let (x, a, b, w) = (vec_of(&x), vec_of(&a), vec_of(&b), vec_of(&w));
    let fit = run_detached(py, move || {
        let rows = Rows::compressed(x, a, b, w);
        clv::fit(kind, &rows, &FitOptions { penalizer, divisor, initial, max_iter })
    })?;
    let out = PyDict::new(py);
    out.set_item("params", fit.params)?;
    out.set_item("log_likelihood", fit.log_likelihood)?;
    out.set_item("objective", fit.objective)?;
    out.set_item("covariance", fit.covariance)?;
    out.set_item("iterations", fit.iterations)?;
    Ok(out)
}

/// Per-customer predictions; `t` and the columns broadcast (length 1 or n).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn clv_predict<'py>(
    py: Python<'py>,
    model: &str,
    target: &str,
    params: Vec<f64>,
    t: PyReadonlyArray1<'py, f64>,
    x: PyReadonlyArray1<'py, f64>,
    tx: PyReadonlyArray1<'py, f64>,
    t_big: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let kind = Kind::parse(model).map_err(to_pyerr)?;
    let target = Target::parse(target).map_err(to_pyerr)?;
    let (t, x, tx, t_big) = (vec_of(&t), vec_of(&x), vec_of(&tx), vec_of(&t_big));
    let out = run_detached(py, move || clv::predict(kind, target, &params, &t, &x, &tx, &t_big))?;
    Ok(PyArray1::from_vec(py, out))
}

/// Pareto/NBD: P(n purchases in the next t periods | frequency, recency, T), broadcast.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn clv_conditional_pmf<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    n: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
    x: PyReadonlyArray1<'py, f64>,
    tx: PyReadonlyArray1<'py, f64>,
    t_big: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let kind = Kind::parse(model).map_err(to_pyerr)?;
    let (n, t, x, tx, t_big) = (vec_of(&n), vec_of(&t), vec_of(&x), vec_of(&tx), vec_of(&t_big));
    let out = run_detached(py, move || clv::conditional_pmf(kind, &params, &n, &t, &x, &tx, &t_big))?;
    Ok(PyArray1::from_vec(py, out))
}

/// P(X(t) = n) for a new customer (BG/NBD, modified BG/NBD, Pareto/NBD), broadcast.
#[pyfunction]
fn clv_count_pmf<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    n: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let kind = Kind::parse(model).map_err(to_pyerr)?;
    let (n, t) = (vec_of(&n), vec_of(&t));
    let out = run_detached(py, move || clv::count_pmf(kind, &params, &n, &t))?;
    Ok(PyArray1::from_vec(py, out))
}

/// BG/BB: P(X(n) = x) for x = 0..=n.
#[pyfunction]
fn clv_bgbb_counts<'py>(py: Python<'py>, params: Vec<f64>, n: u32) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let out = run_detached(py, move || clv::bgbb_count_distribution(&params, n))?;
    Ok(PyArray1::from_vec(py, out))
}

/// Discounted lifetime value per customer (see `clv::lifetime_value`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn clv_value<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    months: usize,
    factor: f64,
    discount_rate: f64,
    x: PyReadonlyArray1<'py, f64>,
    tx: PyReadonlyArray1<'py, f64>,
    t_big: PyReadonlyArray1<'py, f64>,
    spend: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    use rayon::prelude::*;
    let kind = Kind::parse(model).map_err(to_pyerr)?;
    let (x, tx, t_big, spend) = (vec_of(&x), vec_of(&tx), vec_of(&t_big), vec_of(&spend));
    let out = run_detached(py, move || {
        let n = x.len();
        if tx.len() != n || t_big.len() != n || spend.len() != n {
            return Err(crate::error::CrmError::invalid("customer_lifetime_value: the columns differ in length"));
        }
        Ok((0..n)
            .into_par_iter()
            .with_min_len(256)
            .map(|i| clv::lifetime_value(kind, &params, months, factor, discount_rate, x[i], tx[i], t_big[i], spend[i]))
            .collect::<Vec<f64>>())
    })?;
    Ok(PyArray1::from_vec(py, out))
}

/// Per-customer period statistics of integer-keyed transactions (see
/// `clv::summary::summarize`); None when the keys cannot be packed.
#[pyfunction]
fn clv_period_summary<'py>(
    py: Python<'py>,
    customer: PyReadonlyArray1<'py, i64>,
    period: PyReadonlyArray1<'py, i64>,
    amount: PyReadonlyArray1<'py, f64>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    // Borrow contiguous inputs without copying (numpy's borrow flags keep them
    // read-only while the GIL is released); copy only otherwise.
    let (c_own, p_own, a_own);
    let c: &[i64] = match customer.as_slice() {
        Ok(s) => s,
        Err(_) => {
            c_own = customer.as_array().iter().copied().collect::<Vec<i64>>();
            &c_own
        }
    };
    let p: &[i64] = match period.as_slice() {
        Ok(s) => s,
        Err(_) => {
            p_own = period.as_array().iter().copied().collect::<Vec<i64>>();
            &p_own
        }
    };
    let a: &[f64] = match amount.as_slice() {
        Ok(s) => s,
        Err(_) => {
            a_own = vec_of(&amount);
            &a_own
        }
    };
    let Some(s) = run_detached(py, move || clv::summary::summarize(c, p, a))? else {
        return Ok(None);
    };
    let out = PyDict::new(py);
    out.set_item("customer", PyArray1::from_vec(py, s.customer))?;
    out.set_item("first", PyArray1::from_vec(py, s.first))?;
    out.set_item("last", PyArray1::from_vec(py, s.last))?;
    out.set_item("periods", PyArray1::from_vec(py, s.periods))?;
    out.set_item("first_sum", PyArray1::from_vec(py, s.first_sum))?;
    out.set_item("rest_sum", PyArray1::from_vec(py, s.rest_sum))?;
    out.set_item("rows", PyArray1::from_vec(py, s.rows))?;
    out.set_item("total", PyArray1::from_vec(py, s.total))?;
    Ok(Some(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(clv_period_summary, m)?)?;
    m.add_function(wrap_pyfunction!(clv_fit, m)?)?;
    m.add_function(wrap_pyfunction!(clv_predict, m)?)?;
    m.add_function(wrap_pyfunction!(clv_value, m)?)?;
    m.add_function(wrap_pyfunction!(clv_conditional_pmf, m)?)?;
    m.add_function(wrap_pyfunction!(clv_bgbb_counts, m)?)?;
    m.add_function(wrap_pyfunction!(clv_count_pmf, m)?)?;
    Ok(())
}
