//! Bindings for the segment kernels: k-means and silhouette on float64 numpy arrays.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::error::CrmError;
use crate::python::{run_detached, to_pyerr};
use crate::segment::{kmeans, rfm, silhouette};

fn slice2<'a>(x: &'a PyReadonlyArray2<'_, f64>, what: &str) -> PyResult<(&'a [f64], usize, usize)> {
    let shape = x.shape();
    let (n, d) = (shape[0], shape[1]);
    let s = x
        .as_slice()
        .map_err(|_| to_pyerr(CrmError::invalid(format!("{what}: expected a C-contiguous float64 array"))))?;
    Ok((s, n, d))
}

/// Fits k-means; returns (centers [k, d], labels [n] int32, inertia, n_iter).
#[pyfunction]
#[pyo3(signature = (x, n_clusters, init, n_init, max_iter, tol, seed, init_centers=None, sample_weight=None, bounded=true))]
#[allow(clippy::too_many_arguments)]
fn kmeans_fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    n_clusters: usize,
    init: &str,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    init_centers: Option<PyReadonlyArray2<'py, f64>>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    bounded: bool,
) -> PyResult<(Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<i32>>, f64, usize)> {
    let (xs, n, d) = slice2(&x, "KMeans.fit")?;
    let init = match (init, &init_centers) {
        ("k-means++", _) => kmeans::Init::KMeansPlusPlus,
        ("random", _) => kmeans::Init::Random,
        ("array", Some(c)) => kmeans::Init::Centers(slice2(c, "KMeans init")?.0.to_vec()),
        (other, _) => {
            return Err(to_pyerr(CrmError::invalid(format!(
            "KMeans: init must be 'k-means++', 'random' or an array of shape (n_clusters, n_features), found {other:?}"
        ))))
        }
    };
    let w = match &sample_weight {
        Some(w) => Some(w.as_slice().map_err(|_| {
            to_pyerr(CrmError::invalid("KMeans.fit: sample_weight must be a contiguous float64 array"))
        })?),
        None => None,
    };
    let params = kmeans::Params { n_clusters, init, n_init, max_iter, tol, seed, bounded };
    let fit = run_detached(py, || {
        let data = kmeans::Data::new(xs, n, d, w)?;
        kmeans::fit(&data, &params)
    })?;
    let centers = Array2::from_shape_vec((n_clusters, d), fit.centers)
        .map_err(|e| to_pyerr(CrmError::invalid(format!("KMeans: centre array shape: {e}"))))?;
    let labels: Vec<i32> = fit.labels.iter().map(|&l| l as i32).collect();
    Ok((centers.into_pyarray(py), labels.into_pyarray(py), fit.inertia, fit.n_iter))
}

/// Nearest centre (int32) and squared distance for every row of x.
#[pyfunction]
fn kmeans_predict<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    centers: PyReadonlyArray2<'py, f64>,
) -> PyResult<(Bound<'py, PyArray1<i32>>, Bound<'py, PyArray1<f64>>)> {
    let (xs, n, d) = slice2(&x, "KMeans.predict")?;
    let (cs, _, cd) = slice2(&centers, "KMeans.predict")?;
    if cd != d {
        return Err(to_pyerr(CrmError::invalid(format!(
            "KMeans.predict: X has {d} feature columns but the model was fitted on {cd}"
        ))));
    }
    let (labels, dists) = run_detached(py, || {
        let data = kmeans::Data::new(xs, n, d, None)?;
        kmeans::predict(&data, cs)
    })?;
    let labels: Vec<i32> = labels.iter().map(|&l| l as i32).collect();
    Ok((labels.into_pyarray(py), dists.into_pyarray(py)))
}

/// Per-row silhouette values for labels 0..k-1.
#[pyfunction]
fn silhouette_samples<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    labels: PyReadonlyArray1<'py, i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (xs, n, d) = slice2(&x, "silhouette")?;
    let ls = labels
        .as_slice()
        .map_err(|_| to_pyerr(CrmError::invalid("silhouette: labels must be a contiguous int64 array")))?;
    if let Some(bad) = ls.iter().find(|&&l| l < 0 || l > u32::MAX as i64) {
        return Err(to_pyerr(CrmError::invalid(format!("silhouette: labels must be integers >= 0, found {bad}"))));
    }
    let lu: Vec<u32> = ls.iter().map(|&l| l as u32).collect();
    let s = run_detached(py, || silhouette::silhouette_samples(xs, n, d, &lu))?;
    Ok(s.into_pyarray(py))
}

type DenseRfmArrays<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<i64>>,
);

/// Per-customer (ids, last purchase, frequency, monetary, last row) over dense integer
/// ids, ascending by id; None when the id range exceeds `max_range` or there are no rows.
#[pyfunction]
fn rfm_dense<'py>(
    py: Python<'py>,
    customer: PyReadonlyArray1<'py, i64>,
    date: PyReadonlyArray1<'py, i64>,
    amount: PyReadonlyArray1<'py, f64>,
    net: bool,
    max_range: usize,
) -> PyResult<Option<DenseRfmArrays<'py>>> {
    let contiguous = |what: &str| to_pyerr(CrmError::invalid(format!("rfm: {what} must be a contiguous array")));
    let c = customer.as_slice().map_err(|_| contiguous("customer ids"))?;
    let t = date.as_slice().map_err(|_| contiguous("dates"))?;
    let a = amount.as_slice().map_err(|_| contiguous("amounts"))?;
    let out = run_detached(py, || rfm::dense_rfm(c, t, a, net, max_range))?;
    Ok(out.map(|r| {
        (
            r.ids.into_pyarray(py),
            r.last_purchase.into_pyarray(py),
            r.frequency.into_pyarray(py),
            r.monetary.into_pyarray(py),
            r.last_row.into_pyarray(py),
        )
    }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rfm_dense, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_fit, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_predict, m)?)?;
    m.add_function(wrap_pyfunction!(silhouette_samples, m)?)?;
    Ok(())
}
