//! Bindings for the market-basket kernels (numpy in, numpy out).

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::basket::{fpgrowth, rules};
use crate::python::run_detached;

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| pyo3::exceptions::PyValueError::new_err(format!("{name} must be a contiguous array")))
}

type ItemsetArrays<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<u64>>, usize);

/// Frequent itemsets of (basket code, item code) pairs: (offsets, items, counts,
/// number of distinct baskets). Codes lie below `n_slots` / `n_items`; empty slots
/// are not baskets.
#[pyfunction]
#[pyo3(signature = (basket, item, n_slots, n_items, min_support, max_len, max_itemsets))]
#[allow(clippy::too_many_arguments)]
fn basket_fpgrowth<'py>(
    py: Python<'py>,
    basket: PyReadonlyArray1<'py, u32>,
    item: PyReadonlyArray1<'py, u32>,
    n_slots: usize,
    n_items: usize,
    min_support: f64,
    max_len: usize,
    max_itemsets: usize,
) -> PyResult<ItemsetArrays<'py>> {
    let b = slice(&basket, "basket")?;
    let i = slice(&item, "item")?;
    let (n_baskets, r) = run_detached(py, || {
        let n_baskets = fpgrowth::count_baskets(b, n_slots)?;
        let min_count = fpgrowth::min_count_for(min_support, n_baskets.max(1));
        let opts = fpgrowth::Options { min_count, max_len, max_itemsets };
        Ok((n_baskets, fpgrowth::frequent_itemsets(b, i, n_slots, n_items, opts)?))
    })?;
    Ok((r.offsets.into_pyarray(py), r.items.into_pyarray(py), r.counts.into_pyarray(py), n_baskets))
}

/// The smallest basket count whose support reaches min_support.
#[pyfunction]
fn basket_min_count(min_support: f64, n_baskets: usize) -> u64 {
    fpgrowth::min_count_for(min_support, n_baskets)
}

type RuleArrays<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u32>>,
    Vec<Bound<'py, PyArray1<f64>>>,
);

/// Association rules: (antecedent offsets, items, consequent offsets, items, metric arrays).
#[pyfunction]
#[pyo3(signature = (offsets, items, support, metric, min_threshold, max_rules))]
fn basket_rules<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    items: PyReadonlyArray1<'py, u32>,
    support: PyReadonlyArray1<'py, f64>,
    metric: String,
    min_threshold: f64,
    max_rules: usize,
) -> PyResult<RuleArrays<'py>> {
    let o = slice(&offsets, "offsets")?;
    let i = slice(&items, "items")?;
    let s = slice(&support, "support")?;
    let r = run_detached(py, || rules::association_rules(o, i, s, &metric, min_threshold, max_rules))?;
    let metrics = r.metrics.into_iter().map(|m| m.into_pyarray(py)).collect();
    Ok((
        r.antecedent_offsets.into_pyarray(py),
        r.antecedent_items.into_pyarray(py),
        r.consequent_offsets.into_pyarray(py),
        r.consequent_items.into_pyarray(py),
        metrics,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(basket_fpgrowth, m)?)?;
    m.add_function(wrap_pyfunction!(basket_min_count, m)?)?;
    m.add_function(wrap_pyfunction!(basket_rules, m)?)?;
    m.add("BASKET_METRICS", rules::METRICS.to_vec())?;
    Ok(())
}
