//! Bindings for the ml kernels: gradient-boosted trees and logistic regression.
//! X arrives as one float64 numpy array per feature (strided views are fine), so
//! polars columns and numpy arrays reach Rust without a copy of the whole matrix.

use numpy::ndarray::{Array2, ArrayView1};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::error::CrmError;
use crate::ml::boost::{self, Model, Params};
use crate::ml::logistic::{self, LogisticModel, LogisticParams};
use crate::ml::loss::Loss;
use crate::ml::{shap, Matrix};
use crate::python::{run_detached, to_pyerr};

fn views<'a>(columns: &'a [PyReadonlyArray1<'_, f64>]) -> Vec<ArrayView1<'a, f64>> {
    columns.iter().map(|c| c.as_array()).collect()
}

fn slice<'a>(a: &'a Option<PyReadonlyArray1<'_, f64>>, what: &str) -> PyResult<Option<&'a [f64]>> {
    match a {
        Some(a) => Ok(Some(a.as_slice().map_err(|_| {
            to_pyerr(CrmError::invalid(format!("{what} must be a contiguous float64 array")))
        })?)),
        None => Ok(None),
    }
}

/// A fitted gradient-boosted tree ensemble.
#[pyclass(module = "crmkit._core", name = "GbdtModel", frozen)]
pub struct GbdtModel {
    inner: Model,
}

fn parse_loss(loss: &str, power: f64) -> PyResult<Loss> {
    Ok(match loss {
        "log_loss" => Loss::LogLoss,
        "squared_error" => Loss::SquaredError,
        "poisson" => Loss::Poisson,
        "tweedie" => Loss::Tweedie { power },
        other => {
            return Err(to_pyerr(CrmError::invalid(format!(
                "loss must be 'log_loss', 'squared_error', 'poisson' or 'tweedie', found {other:?}"
            ))))
        }
    })
}

/// Fits gradient-boosted trees; `categorical[j]` marks columns of integer codes.
#[pyfunction]
#[pyo3(signature = (columns, y, sample_weight, categorical, loss, tweedie_power, learning_rate, max_iter,
    max_leaf_nodes, max_depth, min_samples_leaf, l2_regularization, max_bins, early_stopping,
    validation_fraction, n_iter_no_change, tol, seed))]
#[allow(clippy::too_many_arguments)]
fn gbdt_fit<'py>(
    py: Python<'py>,
    columns: Vec<PyReadonlyArray1<'py, f64>>,
    y: PyReadonlyArray1<'py, f64>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    categorical: Vec<bool>,
    loss: &str,
    tweedie_power: f64,
    learning_rate: f64,
    max_iter: usize,
    max_leaf_nodes: usize,
    max_depth: Option<usize>,
    min_samples_leaf: usize,
    l2_regularization: f64,
    max_bins: usize,
    early_stopping: bool,
    validation_fraction: Option<f64>,
    n_iter_no_change: usize,
    tol: f64,
    seed: u64,
) -> PyResult<GbdtModel> {
    let params = Params {
        loss: parse_loss(loss, tweedie_power)?,
        learning_rate,
        max_iter,
        max_leaf_nodes,
        max_depth,
        min_samples_leaf,
        l2_regularization,
        max_bins,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        tol,
        seed,
    };
    let ys = y.as_slice().map_err(|_| to_pyerr(CrmError::invalid("y must be a contiguous float64 array")))?;
    let w = slice(&sample_weight, "sample_weight")?;
    let v = views(&columns);
    let inner = run_detached(py, || {
        let x = Matrix::new(v)?;
        boost::fit(&x, ys, w, &categorical, &params)
    })?;
    Ok(GbdtModel { inner })
}

#[pymethods]
impl GbdtModel {
    /// Raw scores from trees `start..end` (plus the baseline when start == 0).
    #[pyo3(signature = (columns, start=0, end=None))]
    fn predict_raw<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<PyReadonlyArray1<'py, f64>>,
        start: usize,
        end: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let v = views(&columns);
        let end = end.unwrap_or(self.inner.trees.len());
        let out = run_detached(py, || {
            let x = Matrix::new(v)?;
            self.inner.predict_raw_range(&x, start, end)
        })?;
        Ok(out.into_pyarray(py))
    }

    /// Exact TreeSHAP contributions, (n, n_features + 1) with the bias last.
    fn contributions<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<PyReadonlyArray1<'py, f64>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let v = views(&columns);
        let n = v.first().map(|c| c.len()).unwrap_or(0);
        let d = self.inner.n_features;
        let out = run_detached(py, || {
            let x = Matrix::new(v)?;
            shap::contributions(&self.inner, &x)
        })?;
        let arr = Array2::from_shape_vec((n, d + 1), out)
            .map_err(|e| to_pyerr(CrmError::invalid(format!("contributions: shape {e}"))))?;
        Ok(arr.into_pyarray(py))
    }

    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner).map_err(|e| to_pyerr(CrmError::invalid(format!("model to JSON: {e}"))))
    }

    #[staticmethod]
    fn from_json(text: &str) -> PyResult<GbdtModel> {
        let inner: Model = serde_json::from_str(text)
            .map_err(|e| to_pyerr(CrmError::invalid(format!("not a crmkit gradient boosting model: {e}"))))?;
        inner.validate().map_err(to_pyerr)?;
        Ok(GbdtModel { inner })
    }

    #[getter]
    fn n_iter(&self) -> usize {
        self.inner.n_iter()
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features
    }

    #[getter]
    fn baseline(&self) -> f64 {
        self.inner.baseline
    }

    #[getter]
    fn loss(&self) -> &'static str {
        self.inner.loss.name()
    }

    #[getter]
    fn feature_importances<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.feature_importances().into_pyarray(py)
    }

    #[getter]
    fn train_score<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.train_score.clone().into_pyarray(py)
    }

    #[getter]
    fn validation_score<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.validation_score.clone().into_pyarray(py)
    }

    /// (n_leaves, max_depth) per tree.
    fn tree_shapes(&self) -> Vec<(usize, usize)> {
        self.inner.trees.iter().map(|t| (t.n_leaves(), t.max_depth())).collect()
    }
}

/// A fitted logistic regression.
#[pyclass(module = "crmkit._core", name = "LogisticModel", frozen)]
pub struct PyLogisticModel {
    inner: LogisticModel,
}

#[pyfunction]
#[pyo3(signature = (columns, y, sample_weight, c, fit_intercept, max_iter, tol))]
#[allow(clippy::too_many_arguments)]
fn logistic_fit<'py>(
    py: Python<'py>,
    columns: Vec<PyReadonlyArray1<'py, f64>>,
    y: PyReadonlyArray1<'py, f64>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    c: f64,
    fit_intercept: bool,
    max_iter: usize,
    tol: f64,
) -> PyResult<PyLogisticModel> {
    let ys = y.as_slice().map_err(|_| to_pyerr(CrmError::invalid("y must be a contiguous float64 array")))?;
    let w = slice(&sample_weight, "sample_weight")?;
    let v = views(&columns);
    let params = LogisticParams { c, fit_intercept, max_iter, tol };
    let inner = run_detached(py, || {
        let x = Matrix::new(v)?;
        logistic::fit(&x, ys, w, &params)
    })?;
    Ok(PyLogisticModel { inner })
}

#[pymethods]
impl PyLogisticModel {
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<PyReadonlyArray1<'py, f64>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let v = views(&columns);
        let out = run_detached(py, || {
            let x = Matrix::new(v)?;
            self.inner.decision_function(&x)
        })?;
        Ok(out.into_pyarray(py))
    }

    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner).map_err(|e| to_pyerr(CrmError::invalid(format!("model to JSON: {e}"))))
    }

    #[staticmethod]
    fn from_json(text: &str) -> PyResult<PyLogisticModel> {
        let inner: LogisticModel = serde_json::from_str(text)
            .map_err(|e| to_pyerr(CrmError::invalid(format!("not a crmkit logistic regression model: {e}"))))?;
        inner.validate().map_err(to_pyerr)?;
        Ok(PyLogisticModel { inner })
    }

    #[getter]
    fn coef<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.coef.clone().into_pyarray(py)
    }

    #[getter]
    fn intercept(&self) -> f64 {
        self.inner.intercept
    }

    #[getter]
    fn coef_standardized<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.coef_standardized.clone().into_pyarray(py)
    }

    #[getter]
    fn intercept_standardized(&self) -> f64 {
        self.inner.intercept_standardized
    }

    #[getter]
    fn mean<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.mean.clone().into_pyarray(py)
    }

    #[getter]
    fn scale<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.scale.clone().into_pyarray(py)
    }

    #[getter]
    fn n_iter(&self) -> usize {
        self.inner.n_iter
    }

    #[getter]
    fn converged(&self) -> bool {
        self.inner.converged
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gbdt_fit, m)?)?;
    m.add_function(wrap_pyfunction!(logistic_fit, m)?)?;
    m.add_class::<GbdtModel>()?;
    m.add_class::<PyLogisticModel>()?;
    Ok(())
}
