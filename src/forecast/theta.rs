//! Theta models (standard, optimised, dynamic standard, dynamic optimised; Fiorucci et
//! al. 2016) with statsforecast's AutoTheta conventions: a 90% one-sided autocorrelation
//! test at the seasonal lag decides on a classical (multiplicative, else additive)
//! decomposition; each candidate is fitted by bounded Nelder–Mead on the sum of squared
//! one-step errors after the first three, scaled by mean |y|; the smallest wins.
//!
//! Intervals: statsforecast simulates 200 paths and takes the residual spread after
//! re-seasonalising the residuals; we simulate 1,000 paths with a fixed seed from the
//! residuals of the seasonally adjusted fit (the space the paths are simulated in).

use serde::Deserialize;

use super::decompose::{acf, seasonal_component, Decomposition};
use super::ets::quantile_sorted;
use super::model::{normal_quantile, ForecastOutput, Forecaster};
use super::nm::nelder_mead;
use crate::error::{CrmError, Result};
use crate::rng::Rng;

const TOL: f64 = 1e-10;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ThetaType {
    Stm,
    Otm,
    Dstm,
    Dotm,
}

impl ThetaType {
    fn dynamic(self) -> bool {
        matches!(self, ThetaType::Dstm | ThetaType::Dotm)
    }
    fn optimised(self) -> bool {
        matches!(self, ThetaType::Otm | ThetaType::Dotm)
    }
    pub fn code(self) -> &'static str {
        match self {
            ThetaType::Stm => "STM",
            ThetaType::Otm => "OTM",
            ThetaType::Dstm => "DSTM",
            ThetaType::Dotm => "DOTM",
        }
    }
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "STM" => ThetaType::Stm,
            "OTM" => ThetaType::Otm,
            "DSTM" => ThetaType::Dstm,
            "DOTM" => ThetaType::Dotm,
            other => {
                return Err(CrmError::invalid(format!(
                    "AutoTheta: model must be one of 'STM', 'OTM', 'DSTM', 'DOTM' or None, got {other:?}"
                )))
            }
        })
    }
}

/// State row: smoothed level, running mean, A_n, B_n, mu (one-step forecast).
type Row = [f64; 5];

#[inline]
fn step(prev: &Row, i: usize, kind: ThetaType, alpha: f64, theta: f64, y: Option<f64>) -> Row {
    let [level, meany, an, bn, _] = *prev;
    let fi = i as f64;
    let q = 1.0 - alpha;
    let mu = level + (1.0 - 1.0 / theta) * (an * q.powi(i as i32) + bn * (1.0 - q.powi(i as i32 + 1)) / alpha);
    let yv = y.unwrap_or(mu);
    let new_level = alpha * yv + q * level;
    let new_mean = (fi * meany + yv) / (fi + 1.0);
    let (na, nb) = if kind.dynamic() {
        let nb = ((fi - 1.0) * bn + 6.0 * (yv - meany) / (fi + 1.0)) / (fi + 2.0);
        (new_mean - nb * (fi + 2.0) / 2.0, nb)
    } else {
        (an, bn)
    };
    [new_level, new_mean, na, nb, mu]
}

fn initial_row(y: &[f64], kind: ThetaType, level0: f64, alpha: f64, theta: f64) -> Row {
    let (an, bn, mu) = if kind.dynamic() {
        (y[0], 0.0, y[0])
    } else {
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let wavg = y.iter().enumerate().map(|(t, v)| v * (t + 1) as f64).sum::<f64>() / n;
        let bn = 6.0 * (2.0 * wavg - (n + 1.0) * mean) / (n * n - 1.0);
        let an = mean - (n + 1.0) * bn / 2.0;
        (an, bn, level0 + (1.0 - 1.0 / theta) * (an + bn))
    };
    [alpha * y[0] + (1.0 - alpha) * level0, y[0], an, bn, mu]
}

/// Filters `y`; returns (mse criterion, residuals, last state row).
fn calc(y: &[f64], kind: ThetaType, level0: f64, alpha: f64, theta: f64, mut e_out: Option<&mut Vec<f64>>) -> (f64, Row) {
    let n = y.len();
    let mut row = initial_row(y, kind, level0, alpha, theta);
    let mut sse = 0.0;
    let e0 = y[0] - row[4];
    if let Some(e) = e_out.as_deref_mut() {
        e.clear();
        e.push(e0);
    }
    for (i, &yi) in y.iter().enumerate().skip(1) {
        let next = step(&row, i, kind, alpha, theta, Some(yi));
        let e = yi - next[4];
        if i >= 3 {
            sse += e * e;
        }
        if let Some(v) = e_out.as_deref_mut() {
            v.push(e);
        }
        row = next;
    }
    let mut mean_abs = y.iter().map(|v| v.abs()).sum::<f64>() / n as f64;
    if mean_abs < TOL {
        mean_abs = TOL;
    }
    (sse / mean_abs, row)
}

pub struct ThetaFit {
    pub kind: ThetaType,
    pub level0: f64,
    pub alpha: f64,
    pub theta: f64,
    pub mse: f64,
    pub residuals: Vec<f64>,
    pub last: Row,
    pub n: usize,
    pub mean_y: f64,
}

fn fit_theta(y: &[f64], kind: ThetaType) -> ThetaFit {
    let level0 = y[0] / 2.0;
    let (alpha0, theta0) = (0.5, 2.0);
    let mut x0 = vec![level0, alpha0];
    let mut lo = vec![-1e10, 0.1];
    let mut hi = vec![1e10, 0.99];
    if kind.optimised() {
        x0.push(theta0);
        lo.push(1.0);
        hi.push(1e10);
    }
    let res = nelder_mead(
        |x| {
            let th = if kind.optimised() { x[2] } else { 2.0 };
            let (mse, _) = calc(y, kind, x[0], x[1], th, None);
            if mse.is_nan() {
                f64::INFINITY
            } else {
                mse.max(-1e10)
            }
        },
        &x0,
        &lo,
        &hi,
        1000,
        1e-4,
    );
    let theta = if kind.optimised() { res.x[2] } else { 2.0 };
    let mut e = Vec::with_capacity(y.len());
    let (mse, last) = calc(y, kind, res.x[0], res.x[1], theta, Some(&mut e));
    ThetaFit {
        kind,
        level0: res.x[0],
        alpha: res.x[1],
        theta,
        mse,
        residuals: e,
        last,
        n: y.len(),
        mean_y: y.iter().sum::<f64>() / y.len() as f64,
    }
}

impl ThetaFit {
    pub fn point_forecast(&self, h: usize) -> Vec<f64> {
        let mut row = self.last;
        (0..h)
            .map(|j| {
                row = step(&row, self.n + j, self.kind, self.alpha, self.theta, None);
                row[4]
            })
            .collect()
    }

    /// Simulated interval bounds (statsforecast's `compute_pi_samples` recursion).
    fn simulated_bounds(&self, h: usize, levels: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        const PATHS: usize = 1000;
        let tail: &[f64] = if self.residuals.len() >= 5 { &self.residuals[3..] } else { &self.residuals };
        let k = tail.len() as f64;
        let mean = tail.iter().sum::<f64>() / k;
        let sigma = if tail.len() >= 2 { (tail.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / (k - 1.0)).sqrt() } else { 0.0 };
        let (alpha, theta) = (self.alpha, self.theta);
        let mut rng = Rng::new(0x7E7A, 12);
        let mut smoothed = vec![self.last[0]; PATHS];
        let mut a = vec![self.last[2]; PATHS];
        let mut b = vec![self.last[3]; PATHS];
        let mut mean_y = vec![self.mean_y; PATHS];
        let mut lower = vec![vec![0.0; h]; levels.len()];
        let mut upper = vec![vec![0.0; h]; levels.len()];
        let mut col = vec![0.0; PATHS];
        let q = 1.0 - alpha;
        for j in 0..h {
            let i = self.n + j;
            let fi = i as f64;
            for p in 0..PATHS {
                let s = smoothed[p] + (1.0 - 1.0 / theta) * (a[p] * q.powi(i as i32) + b[p] * (1.0 - q.powi(i as i32 + 1)) / alpha) + sigma * rng.normal();
                col[p] = s;
                smoothed[p] = alpha * s + q * smoothed[p];
                mean_y[p] = (fi * mean_y[p] + s) / (fi + 1.0);
                b[p] = ((fi - 1.0) * b[p] + 6.0 * (s - mean_y[p]) / (fi + 1.0)) / (fi + 2.0);
                a[p] = mean_y[p] - b[p] * (fi + 2.0) / 2.0;
            }
            let mut sorted = col.clone();
            sorted.sort_by(|x, y| x.total_cmp(y));
            for (li, lv) in levels.iter().enumerate() {
                let lo_q = (100.0 - lv) / 200.0;
                lower[li][j] = quantile_sorted(&sorted, lo_q);
                upper[li][j] = quantile_sorted(&sorted, lo_q + lv / 100.0);
            }
        }
        (lower, upper)
    }
}

#[derive(Clone, Debug)]
pub struct AutoTheta {
    pub season_length: usize,
    pub multiplicative: bool,
    pub model: Option<ThetaType>,
    pub label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoThetaParams {
    #[serde(default = "super::simple::one")]
    pub season_length: usize,
    #[serde(default = "mult")]
    pub decomposition_type: String,
    #[serde(default)]
    pub model: Option<String>,
}

fn mult() -> String {
    "multiplicative".to_string()
}

impl AutoTheta {
    pub fn new(season_length: usize, decomposition_type: &str, model: Option<&str>, label: &str) -> Result<Self> {
        if season_length == 0 {
            return Err(CrmError::invalid(format!("{label}: season_length must be >= 1, got 0")));
        }
        let multiplicative = match decomposition_type {
            "multiplicative" => true,
            "additive" => false,
            other => {
                return Err(CrmError::invalid(format!(
                    "{label}: decomposition_type must be 'multiplicative' or 'additive', got {other:?}"
                )))
            }
        };
        let model = model.map(ThetaType::parse).transpose()?;
        Ok(AutoTheta { season_length, multiplicative, model, label: label.to_string() })
    }

    pub fn from_params(name: &str, params: &serde_json::Value, fixed: Option<&str>) -> Result<Self> {
        let p: AutoThetaParams = super::simple::parse(name, params)?;
        let model = match fixed {
            Some(f) => Some(f.to_string()),
            None => p.model,
        };
        AutoTheta::new(p.season_length, &p.decomposition_type, model.as_deref(), name)
    }
}

/// Seasonality test at lag m (statsforecast's AutoTheta): |r_m| / se > z_0.95.
pub fn seasonal_test(y: &[f64], m: usize) -> bool {
    if m < 4 || y.len() < 2 * m {
        return false;
    }
    let r = acf(y, m);
    if r.iter().any(|v| !v.is_finite()) {
        return false;
    }
    let stat = ((1.0 + 2.0 * r[..m - 1].iter().map(|v| v * v).sum::<f64>()) / y.len() as f64).sqrt();
    r[m - 1].abs() / stat > normal_quantile(0.95)
}

impl Forecaster for AutoTheta {
    fn name(&self) -> &str {
        &self.label
    }
    fn forecast(&self, y_in: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        let m = self.season_length;
        let n = y_in.len();
        if y_in.iter().all(|v| *v == y_in[0]) {
            let c = y_in[0];
            return Ok(ForecastOutput::gaussian(vec![c; h], &vec![0.0; h], levels, "Theta(constant series)"));
        }
        let mut y = y_in.to_vec();
        let mut seas: Option<(Vec<f64>, bool)> = None;
        if seasonal_test(&y, m) {
            let mut multiplicative = self.multiplicative && y.iter().all(|v| *v > 0.0);
            let mut s = seasonal_component(&y, m, if multiplicative { Decomposition::Multiplicative } else { Decomposition::Additive });
            if multiplicative && s.iter().any(|v| *v < 0.01) {
                multiplicative = false;
                s = seasonal_component(&y, m, Decomposition::Additive);
            }
            for (v, si) in y.iter_mut().zip(&s) {
                if multiplicative {
                    *v /= si;
                } else {
                    *v -= si;
                }
            }
            seas = Some((s[n - m..].to_vec(), multiplicative));
        }
        if n <= 3 {
            return Err(CrmError::invalid(format!("{}: {n} points are too few (need at least 4)", self.label)));
        }
        let kinds: Vec<ThetaType> = match self.model {
            Some(k) => vec![k],
            None => vec![ThetaType::Stm, ThetaType::Otm, ThetaType::Dstm, ThetaType::Dotm],
        };
        let mut best: Option<ThetaFit> = None;
        for k in kinds {
            let fit = fit_theta(&y, k);
            if !fit.mse.is_nan() && best.as_ref().is_none_or(|b| fit.mse < b.mse) {
                best = Some(fit);
            }
        }
        let fit = best.ok_or_else(|| CrmError::invalid(format!("{}: no Theta model could be fitted", self.label)))?;
        let mut mean = fit.point_forecast(h);
        let (mut lower, mut upper) = if levels.is_empty() { (Vec::new(), Vec::new()) } else { fit.simulated_bounds(h, levels) };
        let mut fitted: Vec<f64> = y.iter().zip(&fit.residuals).map(|(a, e)| a - e).collect();
        let mut desc = format!("Theta({}, theta={:.3}, alpha={:.3})", fit.kind.code(), fit.theta, fit.alpha);
        if let Some((season, multiplicative)) = &seas {
            let apply = |v: &mut f64, s: f64| {
                if *multiplicative {
                    *v *= s
                } else {
                    *v += s
                }
            };
            for (j, v) in mean.iter_mut().enumerate() {
                apply(v, season[j % m]);
            }
            for bound in lower.iter_mut().chain(upper.iter_mut()) {
                for (j, v) in bound.iter_mut().enumerate() {
                    apply(v, season[j % m]);
                }
            }
            // In-sample fitted values back on the original scale.
            let full = seasonal_component(y_in, m, if *multiplicative { Decomposition::Multiplicative } else { Decomposition::Additive });
            for (v, s) in fitted.iter_mut().zip(&full) {
                apply(v, *s);
            }
            desc.push_str(if *multiplicative { " x multiplicative seasonal" } else { " + additive seasonal" });
        }
        Ok(ForecastOutput { mean, levels: levels.to_vec(), lower, upper, fitted: Some(fitted), description: desc, note: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_a_trend_and_a_season() {
        let pat = [1.2, 0.8, 1.1, 0.9];
        let y: Vec<f64> = (0..48).map(|t| (50.0 + t as f64) * pat[t % 4]).collect();
        let t = AutoTheta::new(4, "multiplicative", None, "AutoTheta").unwrap();
        let out = t.forecast(&y, 4, &[90.0]).unwrap();
        for (k, f) in out.mean.iter().enumerate() {
            let truth = (50.0 + (48 + k) as f64) * pat[(48 + k) % 4];
            assert!((f / truth - 1.0).abs() < 0.05, "{f} vs {truth}");
        }
        assert!(out.lower[0][0] < out.mean[0] && out.mean[0] < out.upper[0][0]);
    }
}
