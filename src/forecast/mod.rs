//! Forecasting many short series at once (issue 12): statsforecast's models under
//! statsforecast's names, as pure-Rust kernels.
//!
//! - `model.rs`: the contract (`Forecaster`, `ForecastOutput`) and normal quantiles.
//! - `build_model` below: THE registry, model name -> kernel. The Python classes in
//!   `python/crmkit/forecast/_models.py` send `{"model": <name>, "params": {...}}` and this
//!   function is the only place that maps a name onto a kernel. Adding a model is one
//!   `pub mod` line and one match arm here, plus one Python class.
//! - `driver.rs`: runs a list of models over many series (rayon), with fallbacks.
//! - kernels: `simple.rs`, `intermittent.rs`, `ets.rs`, `theta.rs` (+ `nm.rs`,
//!   `decompose.rs`); `arima.rs` (+ `kalman.rs`, `optim.rs`, `unit_root.rs`), `ces.rs`;
//!   `trend.rs` for growth statistics.

pub mod decompose;
pub mod driver;
pub mod ets;
pub mod intermittent;
pub mod model;
pub mod nm;
pub mod simple;
pub mod theta;
pub mod trend;

pub mod arima;
pub mod ces;
pub mod kalman;
pub mod optim;
pub mod unit_root;

pub use model::{ForecastOutput, Forecaster};

use crate::error::{CrmError, Result};
use simple::{parse, positive, AlphaParams, NoParams, SeasonParams, WindowParams};

/// Builds the kernel for a model name with its parameters (a JSON object whose keys are
/// the statsforecast constructor arguments, e.g. `{"season_length": 12, "model": "ZZZ"}`;
/// `alias` is handled in Python and never reaches Rust). Each kernel module parses its own
/// parameters (serde) and rejects unknown or invalid ones with a clear error.
pub fn build_model(name: &str, params: &serde_json::Value) -> Result<Box<dyn Forecaster>> {
    Ok(match name {
        "Naive" => {
            parse::<NoParams>(name, params)?;
            Box::new(simple::Naive)
        }
        "SeasonalNaive" => {
            let p: SeasonParams = parse(name, params)?;
            Box::new(simple::SeasonalNaive { m: positive(name, "season_length", p.season_length)? })
        }
        "HistoricAverage" => {
            parse::<NoParams>(name, params)?;
            Box::new(simple::HistoricAverage)
        }
        "WindowAverage" => {
            let p: WindowParams = parse(name, params)?;
            Box::new(simple::WindowAverage { window: positive(name, "window_size", p.window_size)? })
        }
        "SimpleExponentialSmoothing" => {
            let p: AlphaParams = parse(name, params)?;
            if !(0.0..=1.0).contains(&p.alpha) {
                return Err(CrmError::invalid(format!("{name}: alpha must lie in [0, 1], got {}", p.alpha)));
            }
            Box::new(simple::Ses { alpha: p.alpha })
        }
        "SimpleExponentialSmoothingOptimized" => {
            parse::<NoParams>(name, params)?;
            Box::new(simple::SesOptimized)
        }
        "AutoETS" => Box::new(ets::AutoEts::from_params(params)?),
        "Holt" | "HoltWinters" => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct P {
                #[serde(default = "simple::one")]
                season_length: usize,
                #[serde(default = "additive")]
                error_type: String,
            }
            fn additive() -> String {
                "A".to_string()
            }
            let p: P = parse(name, params)?;
            if p.error_type != "A" && p.error_type != "M" {
                return Err(CrmError::invalid(format!("{name}: error_type must be 'A' or 'M', got {:?}", p.error_type)));
            }
            let e = &p.error_type;
            let model = if name == "Holt" { format!("{e}AN") } else { format!("{e}A{e}") };
            Box::new(ets::AutoEts::new(p.season_length, &model, None, None, name)?)
        }
        "AutoTheta" => Box::new(theta::AutoTheta::from_params(name, params, None)?),
        "Theta" => Box::new(theta::AutoTheta::from_params(name, params, Some("STM"))?),
        "OptimizedTheta" => Box::new(theta::AutoTheta::from_params(name, params, Some("OTM"))?),
        "DynamicTheta" => Box::new(theta::AutoTheta::from_params(name, params, Some("DSTM"))?),
        "DynamicOptimizedTheta" => Box::new(theta::AutoTheta::from_params(name, params, Some("DOTM"))?),
        "CrostonClassic" | "CrostonOptimized" | "CrostonSBA" => {
            parse::<NoParams>(name, params)?;
            let kind = match name {
                "CrostonClassic" => intermittent::CrostonKind::Classic,
                "CrostonOptimized" => intermittent::CrostonKind::Optimized,
                _ => intermittent::CrostonKind::Sba,
            };
            Box::new(intermittent::Croston { kind })
        }
        "TSB" => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct P {
                alpha_d: f64,
                alpha_p: f64,
            }
            let p: P = parse(name, params)?;
            for (what, v) in [("alpha_d", p.alpha_d), ("alpha_p", p.alpha_p)] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(CrmError::invalid(format!("TSB: {what} must lie in [0, 1], got {v}")));
                }
            }
            Box::new(intermittent::Tsb { alpha_d: p.alpha_d, alpha_p: p.alpha_p })
        }
        "ADIDA" => {
            parse::<NoParams>(name, params)?;
            Box::new(intermittent::Adida)
        }
        "IMAPA" => {
            parse::<NoParams>(name, params)?;
            Box::new(intermittent::Imapa)
        }
        "AutoARIMA" => Box::new(arima::AutoArima::from_params(params)?),
        "ARIMA" => Box::new(arima::FixedArima::from_params(params)?),
        "AutoCES" => Box::new(ces::AutoCes::from_params(params)?),
        _ => return Err(CrmError::invalid(format!("unknown forecasting model '{name}'"))),
    })
}
