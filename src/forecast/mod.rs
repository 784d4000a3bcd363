//! Forecasting many short series at once (issue 12): statsforecast's models under
//! statsforecast's names, as pure-Rust kernels.
//!
//! - `model.rs`: the contract (`Forecaster`, `ForecastOutput`) and normal quantiles.
//! - `build_model` below: THE registry, model name -> kernel. The Python classes in
//!   `python/crmkit/forecast/_models.py` send `{"model": <name>, "params": {...}}` and this
//!   function is the only place that maps a name onto a kernel. Adding a model is one
//!   `pub mod` line and one match arm here, plus one Python class.

pub mod model;

pub mod arima;
pub mod ces;
pub mod kalman;
pub mod optim;
pub mod unit_root;

pub use model::{ForecastOutput, Forecaster};

use crate::error::{CrmError, Result};

/// Builds the kernel for a model name with its parameters (a JSON object whose keys are
/// the statsforecast constructor arguments, e.g. `{"season_length": 12, "model": "ZZZ"}`;
/// `alias` is handled in Python and never reaches Rust). Each kernel module parses its own
/// parameters (serde) and rejects unknown or invalid ones with a clear error.
pub fn build_model(name: &str, params: &serde_json::Value) -> Result<Box<dyn Forecaster>> {
    let _ = params;
    match name {
        "AutoARIMA" => Ok(Box::new(arima::AutoArima::from_params(params)?)),
        "ARIMA" => Ok(Box::new(arima::FixedArima::from_params(params)?)),
        "AutoCES" => Ok(Box::new(ces::AutoCes::from_params(params)?)),
        _ => Err(CrmError::invalid(format!("unknown forecasting model '{name}'"))),
    }
}
