//! L2-penalised logistic regression by Newton's method with a backtracking line search.
//!
//! Inputs are standardised internally (mean 0, standard deviation 1, ddof 0) and the
//! objective is scikit-learn's: `0.5 * ||beta||^2 + C * sum_i w_i * logloss_i` on the
//! standardised features, intercept unpenalised. The coefficients are reported on the
//! original scale too. Newton converges quadratically, so the optimum is reached to
//! machine precision in a handful of iterations; the Hessian is (d+1)^2, fine for the
//! tens to hundreds of features churn models use.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::loss::{log1pexp, sigmoid};
use super::Matrix;
use crate::error::{CrmError, Result};

pub const LOGISTIC_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogisticModel {
    pub version: u32,
    /// Coefficients and intercept on the original feature scale.
    #[serde(with = "super::json_f64::vec")]
    pub coef: Vec<f64>,
    #[serde(with = "super::json_f64")]
    pub intercept: f64,
    /// The same on the standardised scale (what the penalty applies to).
    #[serde(with = "super::json_f64::vec")]
    pub coef_standardized: Vec<f64>,
    #[serde(with = "super::json_f64")]
    pub intercept_standardized: f64,
    #[serde(with = "super::json_f64::vec")]
    pub mean: Vec<f64>,
    #[serde(with = "super::json_f64::vec")]
    pub scale: Vec<f64>,
    pub n_iter: usize,
    pub converged: bool,
}

pub struct LogisticParams {
    /// Inverse penalty strength; `f64::INFINITY` for no penalty.
    pub c: f64,
    pub fit_intercept: bool,
    pub max_iter: usize,
    pub tol: f64,
}

const BLOCK: usize = 4096;

/// Objective, gradient and Hessian (upper (p x p), p = d + intercept) at `beta`.
fn evaluate(
    z: &(dyn Fn(usize, &mut [f64]) + Sync),
    n: usize,
    p: usize,
    y: &[f64],
    w: &[f64],
    beta: &[f64],
    want_hessian: bool,
) -> (f64, Vec<f64>, Vec<f64>) {
    let blocks = n.div_ceil(BLOCK);
    let parts: Vec<(f64, Vec<f64>, Vec<f64>)> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut f = 0.0;
            let mut g = vec![0.0; p];
            let mut h = if want_hessian { vec![0.0; p * p] } else { Vec::new() };
            let mut row = vec![0.0; p];
            // An interrupted fit skips the remaining blocks (one pass over 10M rows with
            // the Hessian takes seconds); `fit` then returns the interrupt.
            if crate::interrupt::requested() {
                return (f, g, h);
            }
            for i in b * BLOCK..((b + 1) * BLOCK).min(n) {
                z(i, &mut row);
                let eta: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
                let wi = w[i];
                f += wi * (log1pexp(eta) - y[i] * eta);
                let pr = sigmoid(eta);
                let r = wi * (pr - y[i]);
                for k in 0..p {
                    g[k] += r * row[k];
                }
                if want_hessian {
                    let s = wi * pr * (1.0 - pr);
                    for a in 0..p {
                        let sa = s * row[a];
                        for c in a..p {
                            h[a * p + c] += sa * row[c];
                        }
                    }
                }
            }
            (f, g, h)
        })
        .collect();
    let mut f = 0.0;
    let mut g = vec![0.0; p];
    let mut h = if want_hessian { vec![0.0; p * p] } else { Vec::new() };
    for (pf, pg, ph) in parts {
        f += pf;
        for k in 0..p {
            g[k] += pg[k];
        }
        for k in 0..h.len() {
            h[k] += ph[k];
        }
    }
    (f, g, h)
}

/// Solves the symmetric positive definite system `a x = b` (upper triangle of `a` given).
fn cholesky_solve(a: &[f64], b: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let mut s = a[j * p + i];
            for k in 0..j {
                s -= l[i * p + k] * l[j * p + k];
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * p + i] = s.sqrt();
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    let mut x = b.to_vec();
    for i in 0..p {
        let mut s = x[i];
        for k in 0..i {
            s -= l[i * p + k] * x[k];
        }
        x[i] = s / l[i * p + i];
    }
    for i in (0..p).rev() {
        let mut s = x[i];
        for k in i + 1..p {
            s -= l[k * p + i] * x[k];
        }
        x[i] = s / l[i * p + i];
    }
    Some(x)
}

pub fn fit(x: &Matrix, y: &[f64], sample_weight: Option<&[f64]>, params: &LogisticParams) -> Result<LogisticModel> {
    let n = x.n_rows();
    let d = x.n_cols();
    if n == 0 || d == 0 {
        return Err(CrmError::invalid(format!("X must have at least one row and one column, found {n} x {d}")));
    }
    if y.len() != n {
        return Err(CrmError::invalid(format!("y has {} values but X has {n} rows", y.len())));
    }
    if !(params.c > 0.0) {
        return Err(CrmError::invalid(format!("C must be > 0, found {}", params.c)));
    }
    if let Some((i, v)) = y.iter().enumerate().find(|(_, &v)| v != 0.0 && v != 1.0) {
        return Err(CrmError::invalid(format!("y: logistic regression needs 0/1 targets, row {i} holds {v}")));
    }
    for j in 0..d {
        if let Some(i) = x.col(j).iter().position(|v| !v.is_finite()) {
            return Err(CrmError::invalid(format!(
                "X column {j} holds a missing or infinite value at row {i}: impute it first (and add a missing flag)"
            )));
        }
    }
    let w: Vec<f64> = match sample_weight {
        Some(w) if w.len() != n => {
            return Err(CrmError::invalid(format!("sample_weight has {} values but X has {n} rows", w.len())))
        }
        Some(w) => {
            if let Some((i, v)) = w.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
                return Err(CrmError::invalid(format!("sample_weight must be finite and >= 0, row {i} holds {v}")));
            }
            w.to_vec()
        }
        None => vec![1.0; n],
    };
    // Standardisation (unweighted, ddof 0); constant columns keep scale 1.
    let (mean, scale): (Vec<f64>, Vec<f64>) = (0..d)
        .map(|j| {
            let c = x.col(j);
            let m = super::ordered_sum(n, |i| c[i]) / n as f64;
            let v = super::ordered_sum(n, |i| (c[i] - m) * (c[i] - m)) / n as f64;
            let s = v.sqrt();
            (m, if s > 0.0 && s.is_finite() { s } else { 1.0 })
        })
        .unzip();
    let p = d + params.fit_intercept as usize;
    let zrow = |i: usize, row: &mut [f64]| {
        for j in 0..d {
            row[j] = (x.get(i, j) - mean[j]) / scale[j];
        }
        if params.fit_intercept {
            row[d] = 1.0;
        }
    };
    // Objective scaled by 1/C: sum w logloss + ||beta||^2 / (2C).
    let pen = if params.c.is_finite() { 1.0 / params.c } else { 0.0 };
    let penalised = |k: usize| k < d;
    let objective = |beta: &[f64], f: f64| f + 0.5 * pen * (0..d).map(|k| beta[k] * beta[k]).sum::<f64>();
    let mut beta = vec![0.0; p];
    let mut converged = false;
    let mut it = 0;
    let sw: f64 = w.iter().sum();
    while it < params.max_iter {
        it += 1;
        let (f, mut g, mut h) = evaluate(&zrow, n, p, y, &w, &beta, true);
        crate::interrupt::check()?;
        for k in 0..p {
            if penalised(k) {
                g[k] += pen * beta[k];
                h[k * p + k] += pen;
            }
        }
        let gmax = g.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
        // At the optimum to rounding: nothing left to do.
        if gmax <= 1e-13 * sw.max(1.0) {
            converged = true;
            break;
        }
        // A tiny ridge keeps the unpenalised (separable) case solvable.
        let step = match cholesky_solve(&h, &g, p) {
            Some(s) => s,
            None => {
                let mut h2 = h.clone();
                for k in 0..p {
                    h2[k * p + k] += 1e-10 * (1.0 + h[k * p + k]);
                }
                cholesky_solve(&h2, &g, p).ok_or_else(|| {
                    CrmError::NotConverged("logistic regression: the Hessian is singular".into())
                })?
            }
        };
        let f0 = objective(&beta, f);
        let slope: f64 = -g.iter().zip(&step).map(|(a, b)| a * b).sum::<f64>();
        let mut t = 1.0;
        let mut accepted = false;
        // Within rounding of the optimum the objective cannot show a decrease any more:
        // there the full Newton step is taken (the quadratic model is exact enough).
        if -slope <= 1e-11 * (1.0 + f0.abs()) {
            beta.iter_mut().zip(&step).for_each(|(b, s)| *b -= s);
            accepted = true;
        }
        for _ in 0..if accepted { 0 } else { 50 } {
            let cand: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
            let (fc, _, _) = evaluate(&zrow, n, p, y, &w, &cand, false);
            crate::interrupt::check()?;
            let fc = objective(&cand, fc);
            if fc <= f0 + 1e-4 * t * slope || (fc - f0).abs() <= 1e-15 * f0.abs() {
                beta = cand;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        let smax = step.iter().fold(0.0f64, |a, &b| a.max(b.abs())) * t;
        // Newton converges quadratically: once a step is this small the next one would
        // change the coefficients by far less than `tol` asks for.
        if !accepted || smax <= params.tol * 1e-4 * (1.0 + beta.iter().fold(0.0f64, |a, &b| a.max(b.abs()))) {
            converged = true;
            break;
        }
    }
    let coef_std: Vec<f64> = beta[..d].to_vec();
    let b0 = if params.fit_intercept { beta[d] } else { 0.0 };
    let coef: Vec<f64> = (0..d).map(|j| coef_std[j] / scale[j]).collect();
    let intercept = b0 - (0..d).map(|j| coef_std[j] * mean[j] / scale[j]).sum::<f64>();
    Ok(LogisticModel {
        version: LOGISTIC_VERSION,
        coef,
        intercept,
        coef_standardized: coef_std,
        intercept_standardized: b0,
        mean,
        scale,
        n_iter: it,
        converged,
    })
}

impl LogisticModel {
    pub fn decision_function(&self, x: &Matrix) -> Result<Vec<f64>> {
        let d = self.coef.len();
        if x.n_cols() != d {
            return Err(CrmError::invalid(format!("X has {} features but the model was fitted on {d}", x.n_cols())));
        }
        let n = x.n_rows();
        let mut out = vec![self.intercept; n];
        out.par_chunks_mut(BLOCK).enumerate().for_each(|(b, chunk)| {
            for (i, o) in chunk.iter_mut().enumerate() {
                let r = b * BLOCK + i;
                for j in 0..d {
                    *o += self.coef[j] * x.get(r, j);
                }
            }
        });
        Ok(out)
    }

    pub fn validate(&self) -> Result<()> {
        if self.version != LOGISTIC_VERSION {
            return Err(CrmError::invalid(format!(
                "model file version {} is not supported (expects {LOGISTIC_VERSION})",
                self.version
            )));
        }
        let d = self.coef.len();
        if self.mean.len() != d || self.scale.len() != d || self.coef_standardized.len() != d {
            return Err(CrmError::invalid("model file: coefficient arrays have different lengths"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn gradient_vanishes_at_optimum_and_scales_back() {
        let n = 3000;
        let mut rng = Rng::new(1, 1);
        let mut cols = vec![Vec::new(); 3];
        let mut y = Vec::new();
        for _ in 0..n {
            let a = 10.0 + 5.0 * rng.normal();
            let b = rng.normal() * 0.01;
            let c = rng.below(3) as f64;
            let eta = 0.3 * (a - 10.0) - 100.0 * b + 0.5 * c - 0.5;
            y.push(if rng.uniform() < sigmoid(eta) { 1.0 } else { 0.0 });
            cols[0].push(a);
            cols[1].push(b);
            cols[2].push(c);
        }
        let x = Matrix::from_columns(&cols).unwrap();
        let m = fit(&x, &y, None, &LogisticParams { c: 0.5, fit_intercept: true, max_iter: 100, tol: 1e-6 }).unwrap();
        assert!(m.converged);
        // Stationarity on the standardised problem: Z'(p - y) + beta / C = 0.
        let df = m.decision_function(&x).unwrap();
        for j in 0..3 {
            let g: f64 = (0..n).map(|i| (sigmoid(df[i]) - y[i]) * (cols[j][i] - m.mean[j]) / m.scale[j]).sum::<f64>()
                + m.coef_standardized[j] / 0.5;
            assert!(g.abs() < 1e-8, "feature {j}: {g}");
        }
        let g0: f64 = (0..n).map(|i| sigmoid(df[i]) - y[i]).sum();
        assert!(g0.abs() < 1e-8);
        assert!((m.coef[0] - 0.3).abs() < 0.05, "{:?}", m.coef);
    }

    #[test]
    fn nan_is_an_error() {
        let cols = vec![vec![1.0, f64::NAN, 2.0]];
        let x = Matrix::from_columns(&cols).unwrap();
        let e = fit(&x, &[0.0, 1.0, 0.0], None, &LogisticParams { c: 1.0, fit_intercept: true, max_iter: 10, tol: 1e-6 });
        assert!(e.is_err());
    }
}
