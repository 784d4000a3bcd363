//! The contract every forecasting kernel implements. One series in, `h` steps out,
//! with prediction intervals at the requested levels. The driver (`driver.rs`) runs a
//! list of kernels over many series in parallel and turns failures into a documented
//! fallback, so a kernel only has to be right for the series it accepts.

use crate::error::{CrmError, Result};

/// What a model returns for one series.
///
/// Invariants (checked by `ForecastOutput::check` in the driver):
/// `mean.len() == h`; `lower.len() == upper.len() == levels.len()`; every
/// `lower[i]`/`upper[i]` has length `h`; `levels` echoes the requested levels in the same
/// order (percent, e.g. `[80.0, 95.0]`, as statsforecast takes them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForecastOutput {
    /// Point forecasts, steps 1..=h.
    pub mean: Vec<f64>,
    /// Interval levels in percent, as requested (may be empty).
    pub levels: Vec<f64>,
    /// Lower bounds, `[level][step]`.
    pub lower: Vec<Vec<f64>>,
    /// Upper bounds, `[level][step]`.
    pub upper: Vec<Vec<f64>>,
    /// In-sample one-step-ahead fitted values (length n), when the model has them.
    pub fitted: Option<Vec<f64>>,
    /// What was fitted, for the user: `"ETS(M,Ad,M)"`, `"ARIMA(1,1,1)(0,1,1)[12]"`,
    /// `"CES(S)"`, `"Theta(optimised, multiplicative decomposition)"`, `"Naive"`.
    pub description: String,
    /// Why the model did something other than asked (for example "season dropped: 14 points
    /// < 2 seasons of 12"); `None` when it ran as specified.
    pub note: Option<String>,
}

impl ForecastOutput {
    /// Point forecasts with intervals `mean ± z(level) * sigma[step]` (Gaussian errors),
    /// the form most of statsforecast's models use.
    pub fn gaussian(mean: Vec<f64>, sigma: &[f64], levels: &[f64], description: impl Into<String>) -> Self {
        let mut lower = Vec::with_capacity(levels.len());
        let mut upper = Vec::with_capacity(levels.len());
        for &lv in levels {
            let z = normal_quantile(0.5 + lv / 200.0);
            lower.push(mean.iter().zip(sigma).map(|(m, s)| m - z * s).collect());
            upper.push(mean.iter().zip(sigma).map(|(m, s)| m + z * s).collect());
        }
        ForecastOutput {
            mean,
            levels: levels.to_vec(),
            lower,
            upper,
            fitted: None,
            description: description.into(),
            note: None,
        }
    }

    /// Point forecasts without intervals (models that have none fill NaN bounds so that
    /// every model has the same columns).
    pub fn point(mean: Vec<f64>, levels: &[f64], description: impl Into<String>) -> Self {
        let nan = vec![f64::NAN; mean.len()];
        ForecastOutput {
            levels: levels.to_vec(),
            lower: vec![nan.clone(); levels.len()],
            upper: vec![nan; levels.len()],
            mean,
            fitted: None,
            description: description.into(),
            note: None,
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn with_fitted(mut self, fitted: Vec<f64>) -> Self {
        self.fitted = Some(fitted);
        self
    }

    /// Checks the shape invariants; a kernel bug shows as an error, not as misaligned columns.
    pub fn check(&self, h: usize, levels: &[f64]) -> Result<()> {
        let ok = self.mean.len() == h
            && self.levels.len() == levels.len()
            && self.lower.len() == levels.len()
            && self.upper.len() == levels.len()
            && self.lower.iter().chain(self.upper.iter()).all(|b| b.len() == h);
        if ok {
            Ok(())
        } else {
            Err(CrmError::invalid(format!(
                "internal: model '{}' returned {} steps / {} interval levels, expected {h} / {}",
                self.description,
                self.mean.len(),
                self.lower.len(),
                levels.len()
            )))
        }
    }
}

/// A forecasting model with its parameters fixed (season length, ETS spec, ...).
///
/// `y` is validated by the driver: finite, at least one point, equally spaced, oldest
/// first. `h >= 1`. `levels` are percents in (0, 100). A kernel returns `Err` for a series
/// it cannot fit (too short, degenerate); the driver then falls back (see `driver.rs`) and
/// records the reason, so the user's run never crashes on one bad series.
/// Kernels must be deterministic (no RNG without a fixed seed) and must not use rayon
/// themselves: the driver already runs series in parallel.
pub trait Forecaster: Send + Sync {
    /// The column name statsforecast gives this model ("AutoETS", "AutoARIMA", ...).
    fn name(&self) -> &str;
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput>;
}

// One implementation of the normal distribution for the whole crate (src/stats/dist.rs):
// intervals here, p-values in experiments and alerts.
pub use crate::stats::dist::{norm_cdf as normal_cdf, norm_ppf as normal_quantile, norm_sf as normal_sf};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_tables() {
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-9);
        assert!((normal_quantile(0.9) - 1.2815515655446004).abs() < 1e-9);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090232306167813).abs() < 1e-9);
    }

    #[test]
    fn gaussian_intervals_have_the_contract_shape() {
        let out = ForecastOutput::gaussian(vec![1.0, 2.0], &[1.0, 2.0], &[80.0, 95.0], "x");
        out.check(2, &[80.0, 95.0]).unwrap();
        assert!((out.upper[1][1] - (2.0 + 2.0 * 1.959963984540054)).abs() < 1e-9);
        assert!(out.check(3, &[80.0, 95.0]).is_err());
    }
}
