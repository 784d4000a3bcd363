//! Benchmark models with statsforecast's conventions: Naive, SeasonalNaive,
//! HistoricAverage, WindowAverage, SimpleExponentialSmoothing(Optimized).

use serde::Deserialize;

use super::model::{ForecastOutput, Forecaster};
use crate::error::{CrmError, Result};

/// Parses a model's parameters, naming the model in the error.
pub fn parse<T: for<'de> Deserialize<'de>>(name: &str, params: &serde_json::Value) -> Result<T> {
    let p = if params.is_null() { serde_json::json!({}) } else { params.clone() };
    serde_json::from_value(p).map_err(|e| CrmError::invalid(format!("{name}: invalid parameters: {e}")))
}

pub fn positive(name: &str, what: &str, v: usize) -> Result<usize> {
    if v == 0 {
        Err(CrmError::invalid(format!("{name}: {what} must be >= 1, got 0")))
    } else {
        Ok(v)
    }
}

/// sqrt(sum of squared finite residuals / dof), 0 when dof <= 0 (statsforecast's
/// `_calculate_sigma`).
pub fn residual_sigma(residuals: impl Iterator<Item = f64>, dof: isize) -> f64 {
    if dof <= 0 {
        return 0.0;
    }
    let ss: f64 = residuals.filter(|r| r.is_finite()).map(|r| r * r).sum();
    (ss / dof as f64).sqrt()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

pub struct Naive;

impl Forecaster for Naive {
    fn name(&self) -> &str {
        "Naive"
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        let n = y.len();
        let last = y[n - 1];
        let sigma = residual_sigma(y.windows(2).map(|w| w[1] - w[0]), n as isize - 1);
        let sd: Vec<f64> = (1..=h).map(|k| sigma * (k as f64).sqrt()).collect();
        let mut fitted = vec![f64::NAN; n];
        fitted[1..].copy_from_slice(&y[..n - 1]);
        Ok(ForecastOutput::gaussian(vec![last; h], &sd, levels, "Naive").with_fitted(fitted))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeasonParams {
    #[serde(default = "one")]
    pub season_length: usize,
}

pub fn one() -> usize {
    1
}

pub struct SeasonalNaive {
    pub m: usize,
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> &str {
        "SeasonalNaive"
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        let n = y.len();
        let m = self.m;
        if n < m {
            return Err(CrmError::invalid(format!("SeasonalNaive: {n} points < one season of {m}")));
        }
        let season = &y[n - m..];
        let mean: Vec<f64> = (0..h).map(|i| season[i % m]).collect();
        let sigma = residual_sigma((m..n).map(|t| y[t] - y[t - m]), n as isize - m as isize);
        let sd: Vec<f64> = (0..h).map(|i| sigma * ((i / m) as f64 + 1.0).sqrt()).collect();
        let mut fitted = vec![f64::NAN; n];
        for t in m..n {
            fitted[t] = y[t - m];
        }
        Ok(ForecastOutput::gaussian(mean, &sd, levels, format!("SeasonalNaive[{m}]")).with_fitted(fitted))
    }
}

pub struct HistoricAverage;

impl Forecaster for HistoricAverage {
    fn name(&self) -> &str {
        "HistoricAverage"
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        let n = y.len();
        let mean = y.iter().sum::<f64>() / n as f64;
        let sigma = residual_sigma(y.iter().map(|v| v - mean), n as isize - 1) * (1.0 + 1.0 / n as f64).sqrt();
        Ok(ForecastOutput::gaussian(vec![mean; h], &vec![sigma; h], levels, "HistoricAverage").with_fitted(vec![mean; n]))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowParams {
    pub window_size: usize,
}

pub struct WindowAverage {
    pub window: usize,
}

impl Forecaster for WindowAverage {
    fn name(&self) -> &str {
        "WindowAverage"
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        let n = y.len();
        let w = self.window;
        if n < w {
            return Err(CrmError::invalid(format!("WindowAverage: {n} points < window_size {w}")));
        }
        let avg = y[n - w..].iter().sum::<f64>() / w as f64;
        Ok(ForecastOutput::point(vec![avg; h], levels, format!("WindowAverage[{w}]")))
    }
}

/// One-step SES forecast after the whole series, and the in-sample fitted values
/// (`fitted[0]` NaN), starting from the first observation (statsforecast's `ses_forecast`).
pub fn ses_forecast(x: &[f64], alpha: f64) -> (f64, Vec<f64>) {
    let n = x.len();
    if n == 1 {
        return (x[0], vec![f64::NAN]);
    }
    let c = 1.0 - alpha;
    let mut fitted = vec![0.0; n];
    fitted[0] = x[0];
    for i in 1..n {
        fitted[i] = alpha * x[i - 1] + c * fitted[i - 1];
    }
    let f = alpha * x[n - 1] + c * fitted[n - 1];
    fitted[0] = f64::NAN;
    (f, fitted)
}

/// The one-step forecast only (no allocation).
pub fn ses_last(x: &[f64], alpha: f64) -> f64 {
    let n = x.len();
    if n == 1 {
        return x[0];
    }
    let c = 1.0 - alpha;
    let mut f = x[0];
    for v in &x[..n] {
        f = alpha * v + c * f;
    }
    // The first pass computes alpha*x0 + c*x0, the same expression as ses_forecast's
    // fitted[1], so both recursions agree bit for bit.
    f
}

pub fn ses_sse(x: &[f64], alpha: f64) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let c = 1.0 - alpha;
    let mut f = x[0];
    let mut sse = 0.0;
    for i in 1..x.len() {
        f = alpha * x[i - 1] + c * f;
        let e = x[i] - f;
        sse += e * e;
    }
    sse
}

/// Golden-section search of the SES smoothing parameter minimising the one-step SSE on
/// [lower, upper] (statsforecast's `golden_section_ses`, same stopping rule).
pub fn golden_section_ses(x: &[f64], lower: f64, upper: f64) -> f64 {
    let gr = (5.0f64.sqrt() + 1.0) / 2.0;
    let (mut a, mut b) = (lower, upper);
    let mut c = b - (b - a) / gr;
    let mut d = a + (b - a) / gr;
    let mut fc = ses_sse(x, c);
    let mut fd = ses_sse(x, d);
    let mut guard = 0;
    while (b - a).abs() >= 1e-12 && guard < 200 {
        guard += 1;
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - (b - a) / gr;
            fc = ses_sse(x, c);
        } else if fd < fc {
            a = c;
            c = d;
            fc = fd;
            d = a + (b - a) / gr;
            fd = ses_sse(x, d);
        } else {
            break;
        }
    }
    (b + a) / 2.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlphaParams {
    pub alpha: f64,
}

pub struct Ses {
    pub alpha: f64,
}

impl Forecaster for Ses {
    fn name(&self) -> &str {
        "SES"
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        let (f, fitted) = ses_forecast(y, self.alpha);
        Ok(ForecastOutput::point(vec![f; h], levels, format!("SES(alpha={:.4})", self.alpha)).with_fitted(fitted))
    }
}

pub struct SesOptimized;

impl Forecaster for SesOptimized {
    fn name(&self) -> &str {
        "SESOpt"
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        let alpha = golden_section_ses(y, 0.01, 0.99);
        let (f, fitted) = ses_forecast(y, alpha);
        Ok(ForecastOutput::point(vec![f; h], levels, format!("SES(alpha={alpha:.4})")).with_fitted(fitted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ses_last_equals_ses_forecast() {
        let x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0];
        assert!((ses_last(&x, 0.3) - ses_forecast(&x, 0.3).0).abs() < 1e-12);
    }

    #[test]
    fn naive_interval_widens_with_sqrt_h() {
        let y = [1.0, 2.0, 4.0, 3.0];
        let out = Naive.forecast(&y, 4, &[95.0]).unwrap();
        // residuals 1, 2, -1 over n-1 = 3 -> sigma^2 = 2
        let w1 = out.upper[0][0] - out.mean[0];
        let w4 = out.upper[0][3] - out.mean[3];
        assert!((w1 - 1.959963984540054 * 2f64.sqrt()).abs() < 1e-9);
        assert!((w4 / w1 - 2.0).abs() < 1e-12);
    }
}
