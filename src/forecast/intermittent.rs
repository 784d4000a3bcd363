//! Intermittent-demand models with statsforecast's conventions: Croston (classic,
//! optimised, SBA), TSB, ADIDA and IMAPA. None has native prediction intervals in
//! statsforecast; the bounds are NaN (null in Python) and documented as such.

use super::model::{ForecastOutput, Forecaster};
use super::simple::{golden_section_ses, ses_last};
use crate::error::{CrmError, Result};

fn check_nonnegative(name: &str, y: &[f64]) -> Result<()> {
    if let Some(v) = y.iter().find(|v| **v < 0.0) {
        return Err(CrmError::invalid(format!(
            "{name}: intermittent-demand models need non-negative values, found {v}"
        )));
    }
    Ok(())
}

/// Positive demands.
fn demand(y: &[f64]) -> Vec<f64> {
    y.iter().copied().filter(|v| *v > 0.0).collect()
}

/// Intervals between non-zero observations (the first counted from before the series).
fn intervals(y: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut prev = 0usize;
    for (i, v) in y.iter().enumerate() {
        if *v != 0.0 {
            out.push((i + 1 - prev) as f64);
            prev = i + 1;
        }
    }
    out
}

fn optimized_ses_last(x: &[f64]) -> f64 {
    let alpha = golden_section_ses(x, 0.1, 0.3);
    ses_last(x, alpha)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CrostonKind {
    Classic,
    Optimized,
    Sba,
}

pub struct Croston {
    pub kind: CrostonKind,
}

impl Forecaster for Croston {
    fn name(&self) -> &str {
        match self.kind {
            CrostonKind::Classic => "CrostonClassic",
            CrostonKind::Optimized => "CrostonOptimized",
            CrostonKind::Sba => "CrostonSBA",
        }
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        check_nonnegative(self.name(), y)?;
        let yd = demand(y);
        if yd.is_empty() {
            // statsforecast forecasts the last value (naive) when there was never demand.
            return Ok(ForecastOutput::point(vec![y[y.len() - 1]; h], levels, self.name())
                .with_note("no positive demand: last value repeated"));
        }
        let yi = intervals(y);
        let (d, p) = match self.kind {
            CrostonKind::Optimized => (optimized_ses_last(&yd), optimized_ses_last(&yi)),
            _ => (ses_last(&yd, 0.1), ses_last(&yi, 0.1)),
        };
        let mut mean = if p != 0.0 { d / p } else { d };
        if self.kind == CrostonKind::Sba {
            mean *= 0.95;
        }
        Ok(ForecastOutput::point(vec![mean; h], levels, self.name()))
    }
}

pub struct Tsb {
    pub alpha_d: f64,
    pub alpha_p: f64,
}

impl Forecaster for Tsb {
    fn name(&self) -> &str {
        "TSB"
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        check_nonnegative("TSB", y)?;
        if y.iter().all(|v| *v == 0.0) {
            return Ok(ForecastOutput::point(vec![0.0; h], levels, "TSB"));
        }
        let yd = demand(y);
        let yp: Vec<f64> = y.iter().map(|v| if *v != 0.0 { 1.0 } else { 0.0 }).collect();
        let pf = ses_last(&yp, self.alpha_p);
        let df = ses_last(&yd, self.alpha_d);
        Ok(ForecastOutput::point(vec![pf * df; h], levels, format!("TSB(alpha_d={}, alpha_p={})", self.alpha_d, self.alpha_p)))
    }
}

/// Mean interval between demands, rounded half to even (Python's `round`).
fn mean_interval_rounded(y: &[f64]) -> usize {
    let yi = intervals(y);
    let m = yi.iter().sum::<f64>() / yi.len() as f64;
    let r = m.round_ties_even();
    (r as usize).max(1)
}

/// SES forecast of non-overlapping chunk sums of `y` (incomplete leading chunk dropped,
/// as statsforecast's `chunk_forecast`), alpha optimised on [0.1, 0.3].
fn chunk_forecast(y: &[f64], k: usize) -> f64 {
    let n = y.len();
    let lost = n % k;
    let sums: Vec<f64> = y[lost..].chunks(k).map(|c| c.iter().sum()).collect();
    match sums.len() {
        0 => return y[n - 1],
        1 => return sums[0],
        _ => {}
    }
    optimized_ses_last(&sums)
}

pub struct Adida;

impl Forecaster for Adida {
    fn name(&self) -> &str {
        "ADIDA"
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        check_nonnegative("ADIDA", y)?;
        if y.iter().all(|v| *v == 0.0) {
            return Ok(ForecastOutput::point(vec![0.0; h], levels, "ADIDA"));
        }
        let k = mean_interval_rounded(y);
        let f = chunk_forecast(y, k) / k as f64;
        Ok(ForecastOutput::point(vec![f; h], levels, format!("ADIDA(aggregation={k})")))
    }
}

pub struct Imapa;

impl Forecaster for Imapa {
    fn name(&self) -> &str {
        "IMAPA"
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        check_nonnegative("IMAPA", y)?;
        if y.iter().all(|v| *v == 0.0) {
            return Ok(ForecastOutput::point(vec![0.0; h], levels, "IMAPA"));
        }
        let kmax = mean_interval_rounded(y);
        let mut total = 0.0;
        for k in 1..=kmax {
            let lost = y.len() % k;
            let sums: Vec<f64> = y[lost..].chunks(k).filter(|c| c.len() == k).map(|c| c.iter().sum()).collect();
            if sums.is_empty() {
                return Err(CrmError::invalid(format!("IMAPA: {} points < aggregation level {k}", y.len())));
            }
            total += optimized_ses_last(&sums) / k as f64;
        }
        let f = total / kmax as f64;
        Ok(ForecastOutput::point(vec![f; h], levels, format!("IMAPA(levels=1..{kmax})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_count_from_before_the_series() {
        assert_eq!(intervals(&[0.0, 2.0, 0.0, 0.0, 1.0, 3.0]), vec![2.0, 3.0, 1.0]);
    }

    #[test]
    fn croston_classic_by_hand() {
        // demands [2, 1] -> ses(0.1): f = 2; f = 0.1*2+0.9*2 = 2; f = 0.1*1 + 0.9*2 = 1.9
        // intervals [2, 3] -> 2; 2; 0.1*3+0.9*2 = 2.1
        let out = Croston { kind: CrostonKind::Classic }.forecast(&[0.0, 2.0, 0.0, 0.0, 1.0], 2, &[]).unwrap();
        assert!((out.mean[0] - 1.9 / 2.1).abs() < 1e-12);
        assert!(Croston { kind: CrostonKind::Sba }.forecast(&[1.0, -1.0], 1, &[]).is_err());
    }
}
