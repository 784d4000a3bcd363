//! Expression plugins that score fitted CLV models inside a lazy query.

use polars::prelude::*;
use pyo3_polars::derive::polars_expr;
use serde::Deserialize;

use crate::clv::{self, Kind, Target};

#[derive(Deserialize)]
struct ScoreKwargs {
    model: String,
    /// "expected", "p_alive", "loglik" or "clv".
    target: String,
    params: Vec<f64>,
    #[serde(default)]
    t: f64,
    /// Gamma-Gamma parameters (p, q, v) for "clv"; without them the 4th input is
    /// used as the spend per transaction as it is.
    #[serde(default)]
    spend_params: Option<Vec<f64>>,
    #[serde(default)]
    months: usize,
    #[serde(default)]
    factor: f64,
    #[serde(default)]
    discount_rate: f64,
}

fn floats(s: &Series) -> PolarsResult<Float64Chunked> {
    Ok(s.cast(&DataType::Float64)?.f64()?.clone())
}

/// Scores customers (frequency, recency, T[, monetary_value]) with a fitted model.
/// Rows with a null input give null.
#[polars_expr(output_type=Float64)]
fn clv_score(inputs: &[Series], kwargs: ScoreKwargs) -> PolarsResult<Series> {
    let to_err = |e: crate::error::CrmError| polars_err!(ComputeError: "{}", e);
    let kind = Kind::parse(&kwargs.model).map_err(to_err)?;
    if kwargs.params.len() != kind.n_params() || kwargs.params.iter().any(|p| !(p.is_finite() && *p > 0.0)) {
        polars_bail!(ComputeError: "clv_score: the model parameters {:?} are not valid", kwargs.params);
    }
    if inputs.len() < 3 {
        polars_bail!(ComputeError: "clv_score: expected frequency, recency and T columns");
    }
    let x = floats(&inputs[0])?;
    let tx = floats(&inputs[1])?;
    let tb = floats(&inputs[2])?;
    let name = inputs[0].name().clone();
    let par = kwargs.params.clone();
    let out: Float64Chunked = if kwargs.target == "clv" {
        if inputs.len() < 4 {
            polars_bail!(ComputeError: "clv_score: 'clv' needs a monetary value column");
        }
        let m = floats(&inputs[3])?;
        let spend_par = kwargs.spend_params.clone();
        x.iter()
            .zip(tx.iter())
            .zip(tb.iter())
            .zip(m.iter())
            .map(|(((x, tx), tb), m)| match (x, tx, tb, m) {
                (Some(x), Some(tx), Some(tb), Some(m)) => {
                    let spend = match &spend_par {
                        Some(sp) => clv::gamma_gamma::conditional_expected_average_profit(sp, x, m),
                        None => m,
                    };
                    Some(clv::lifetime_value(
                        kind,
                        &par,
                        kwargs.months,
                        kwargs.factor,
                        kwargs.discount_rate,
                        x,
                        tx,
                        tb,
                        spend,
                    ))
                }
                _ => None,
            })
            .collect()
    } else {
        let target = Target::parse(&kwargs.target).map_err(to_err)?;
        x.iter()
            .zip(tx.iter())
            .zip(tb.iter())
            .map(|((x, tx), tb)| match (x, tx, tb) {
                (Some(x), Some(tx), Some(tb)) => Some(clv::predict_one(kind, target, &par, kwargs.t, x, tx, tb)),
                _ => None,
            })
            .collect()
    };
    Ok(out.with_name(name).into_series())
}
