//! Losses on the raw (link) scale, as scikit-learn's HalfBinomialLoss, HalfSquaredError,
//! HalfPoissonLoss and HalfTweedieLoss (log link): value, gradient and hessian per row.

use serde::{Deserialize, Serialize};

use crate::error::{CrmError, Result};

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Loss {
    LogLoss,
    SquaredError,
    Poisson,
    Tweedie {
        #[serde(with = "super::json_f64")]
        power: f64,
    },
}

#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// log(1 + exp(x)) without overflow.
#[inline]
pub fn log1pexp(x: f64) -> f64 {
    if x > 35.0 {
        x
    } else if x < -35.0 {
        x.exp()
    } else {
        x.exp().ln_1p()
    }
}

impl Loss {
    pub fn validate(&self, y: &[f64]) -> Result<()> {
        if let Some((i, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(CrmError::invalid(format!("y: every target must be finite, row {i} holds {v}")));
        }
        match *self {
            Loss::LogLoss => {
                if let Some((i, v)) = y.iter().enumerate().find(|(_, &v)| v != 0.0 && v != 1.0) {
                    return Err(CrmError::invalid(format!("y: log_loss needs 0/1 targets, row {i} holds {v}")));
                }
            }
            Loss::SquaredError => {}
            Loss::Poisson | Loss::Tweedie { .. } => {
                if let Some((i, v)) = y.iter().enumerate().find(|(_, &v)| v < 0.0) {
                    return Err(CrmError::invalid(format!(
                        "y: {} loss needs targets >= 0, row {i} holds {v}",
                        self.name()
                    )));
                }
                if y.iter().all(|&v| v == 0.0) {
                    return Err(CrmError::invalid(format!(
                        "y: {} loss needs at least one positive target",
                        self.name()
                    )));
                }
            }
        }
        if let Loss::Tweedie { power } = *self {
            if !(power > 1.0 && power < 2.0) {
                return Err(CrmError::invalid(format!("tweedie power must lie in (1, 2), found {power}")));
            }
        }
        Ok(())
    }

    pub fn name(&self) -> &'static str {
        match self {
            Loss::LogLoss => "log_loss",
            Loss::SquaredError => "squared_error",
            Loss::Poisson => "poisson",
            Loss::Tweedie { .. } => "tweedie",
        }
    }

    /// The constant raw score that minimises the weighted loss.
    pub fn baseline(&self, y: &[f64], w: Option<&[f64]>, rows: &[u32]) -> f64 {
        let (mut sw, mut swy) = (0.0, 0.0);
        for &r in rows {
            let wi = w.map_or(1.0, |w| w[r as usize]);
            sw += wi;
            swy += wi * y[r as usize];
        }
        let mean = if sw > 0.0 { swy / sw } else { 0.0 };
        match self {
            Loss::SquaredError => mean,
            Loss::LogLoss => {
                let p = mean.clamp(1e-15, 1.0 - 1e-15);
                (p / (1.0 - p)).ln()
            }
            Loss::Poisson | Loss::Tweedie { .. } => mean.max(1e-300).ln(),
        }
    }

    /// Per-row loss (without terms constant in the raw score).
    #[inline]
    pub fn value(&self, y: f64, raw: f64) -> f64 {
        match *self {
            Loss::LogLoss => log1pexp(raw) - y * raw,
            Loss::SquaredError => 0.5 * (y - raw) * (y - raw),
            Loss::Poisson => raw.exp() - y * raw,
            Loss::Tweedie { power: p } => {
                ((2.0 - p) * raw).exp() / (2.0 - p) - y * ((1.0 - p) * raw).exp() / (1.0 - p)
            }
        }
    }

    /// (gradient, hessian) of the per-row loss with respect to the raw score.
    #[inline]
    pub fn grad_hess(&self, y: f64, raw: f64) -> (f64, f64) {
        match *self {
            Loss::LogLoss => {
                let p = sigmoid(raw);
                (p - y, (p * (1.0 - p)).max(1e-16))
            }
            Loss::SquaredError => (raw - y, 1.0),
            Loss::Poisson => {
                let m = raw.exp();
                (m - y, m)
            }
            Loss::Tweedie { power: p } => {
                let a = ((1.0 - p) * raw).exp();
                let b = ((2.0 - p) * raw).exp();
                (b - y * a, (2.0 - p) * b - (1.0 - p) * y * a)
            }
        }
    }

    /// Whether the hessian is the same for every row (squared error).
    pub fn constant_hessian(&self) -> bool {
        matches!(self, Loss::SquaredError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_finite_differences() {
        for loss in [Loss::LogLoss, Loss::SquaredError, Loss::Poisson, Loss::Tweedie { power: 1.4 }] {
            for &(y, raw) in &[(1.0, 0.3), (0.0, -1.2), (1.0, 2.0)] {
                let (g, h) = loss.grad_hess(y, raw);
                let e = 1e-5;
                let gn = (loss.value(y, raw + e) - loss.value(y, raw - e)) / (2.0 * e);
                let (gp, _) = loss.grad_hess(y, raw + e);
                let (gm, _) = loss.grad_hess(y, raw - e);
                let hn = (gp - gm) / (2.0 * e);
                assert!((g - gn).abs() < 1e-6, "{loss:?} g {g} {gn}");
                assert!((h - hn).abs() < 1e-5, "{loss:?} h {h} {hn}");
            }
        }
    }

    #[test]
    fn baseline_minimises_loss() {
        let y = [0.0, 1.0, 1.0, 3.0];
        let rows = [0u32, 1, 2, 3];
        for loss in [Loss::SquaredError, Loss::Poisson, Loss::Tweedie { power: 1.5 }] {
            let b = loss.baseline(&y, None, &rows);
            let g: f64 = y.iter().map(|&v| loss.grad_hess(v, b).0).sum();
            assert!(g.abs() < 1e-9, "{loss:?} {g}");
        }
    }
}
