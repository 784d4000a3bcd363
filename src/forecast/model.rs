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

/// Inverse of the standard normal CDF (Acklam's rational approximation refined by one
/// Halley step; |error| < 1e-15 over (0, 1)).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.383577518672690e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
    let plow = 0.02425;
    let x = if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley refinement step against the exact CDF.
    let e = 0.5 * erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// Complementary error function to ~1e-14: Taylor series of erf for |x| < 2.5, Lentz's
/// continued fraction beyond (where the series would cancel).
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let z = x.abs();
    let r = if z < 2.5 {
        // erf(z) = 2/sqrt(pi) * sum (-1)^n z^(2n+1) / (n! (2n+1))
        let z2 = z * z;
        let mut term = z;
        let mut sum = z;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -z2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() < 1e-17 * sum.abs() || n > 200.0 {
                break;
            }
        }
        1.0 - sum * std::f64::consts::FRAC_2_SQRT_PI
    } else {
        // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
        let tiny = 1e-300;
        let mut f = z;
        let mut c = z;
        let mut d = 0.0;
        for k in 1..300 {
            let a = k as f64 / 2.0;
            d = z + a * d;
            if d.abs() < tiny {
                d = tiny;
            }
            c = z + a / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-z * z).exp() / (f * std::f64::consts::PI.sqrt())
    };
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

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
    fn erfc_matches_tables() {
        for (x, v) in [(0.5, 0.4795001221869535), (-1.0, 1.8427007929497148), (3.0, 2.209049699858544e-05), (2.4, 6.885138966450786e-4), (6.0, 2.1519736712498913e-17)] {
            assert!(((erfc(x) - v) / v).abs() < 1e-12, "erfc({x}) = {} vs {v}", erfc(x));
        }
    }

    #[test]
    fn gaussian_intervals_have_the_contract_shape() {
        let out = ForecastOutput::gaussian(vec![1.0, 2.0], &[1.0, 2.0], &[80.0, 95.0], "x");
        out.check(2, &[80.0, 95.0]).unwrap();
        assert!((out.upper[1][1] - (2.0 + 2.0 * 1.959963984540054)).abs() < 1e-9);
        assert!(out.check(3, &[80.0, 95.0]).is_err());
    }
}
