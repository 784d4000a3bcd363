//! Classical seasonal decomposition (centred moving average; the convention of
//! statsmodels' `seasonal_decompose`, which statsforecast's ETS initialisation and
//! Theta deseasonalisation use) and the sample autocorrelation function.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decomposition {
    Additive,
    Multiplicative,
}

/// Seasonal component (length n) of `y` with period `m` (>= 2, n >= 2m).
/// Trend: centred moving average (2 x m for even m); seasonal index: mean of the
/// detrended values at each position, normalised to sum 0 (additive) or mean 1
/// (multiplicative).
pub fn seasonal_component(y: &[f64], m: usize, kind: Decomposition) -> Vec<f64> {
    let n = y.len();
    let mut filt: Vec<f64> = if m % 2 == 0 {
        let mut f = vec![1.0; m + 1];
        f[0] = 0.5;
        f[m] = 0.5;
        f
    } else {
        vec![1.0; m]
    };
    for v in filt.iter_mut() {
        *v /= m as f64;
    }
    let half = filt.len() / 2;
    let mut sums = vec![0.0; m];
    let mut counts = vec![0usize; m];
    if n > 2 * half {
        for t in half..(n - half) {
            let mut trend = 0.0;
            for (k, w) in filt.iter().enumerate() {
                trend += w * y[t + k - half];
            }
            let d = match kind {
                Decomposition::Additive => y[t] - trend,
                Decomposition::Multiplicative => y[t] / trend,
            };
            if d.is_finite() {
                sums[t % m] += d;
                counts[t % m] += 1;
            }
        }
    }
    let mut idx: Vec<f64> = sums.iter().zip(&counts).map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN }).collect();
    let mean = idx.iter().sum::<f64>() / m as f64;
    for v in idx.iter_mut() {
        match kind {
            Decomposition::Additive => *v -= mean,
            Decomposition::Multiplicative => *v /= mean,
        }
    }
    (0..n).map(|t| idx[t % m]).collect()
}

/// Sample autocorrelations r_1..=r_nlags (biased estimator, as statsmodels' `acf`).
pub fn acf(y: &[f64], nlags: usize) -> Vec<f64> {
    let n = y.len();
    let mean = y.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let c0: f64 = d.iter().map(|v| v * v).sum();
    (1..=nlags)
        .map(|k| {
            if k >= n || c0 == 0.0 {
                return 0.0;
            }
            let ck: f64 = (0..n - k).map(|t| d[t] * d[t + k]).sum();
            ck / c0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_additive_pattern() {
        let pat = [3.0, -1.0, -2.0, 0.0];
        let y: Vec<f64> = (0..24).map(|t| 10.0 + 0.5 * t as f64 + pat[t % 4]).collect();
        let s = seasonal_component(&y, 4, Decomposition::Additive);
        for t in 0..24 {
            assert!((s[t] - pat[t % 4]).abs() < 1e-12);
        }
    }

    #[test]
    fn acf_of_alternating_series() {
        let y: Vec<f64> = (0..10).map(|t| if t % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let r = acf(&y, 2);
        assert!((r[0] + 0.9).abs() < 1e-12);
        assert!((r[1] - 0.8).abs() < 1e-12);
    }
}
