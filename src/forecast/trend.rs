//! Trend statistics per series: Mann–Kendall test (with the tie correction of the
//! variance), Sen's slope, least-squares slope, and the strengths of trend and
//! seasonality of Wang, Smith & Hyndman (2006) from a classical additive decomposition.

use super::decompose::{seasonal_component, Decomposition};
use super::model::normal_sf;

#[derive(Clone, Debug, PartialEq)]
pub struct TrendStats {
    pub mk_s: f64,
    pub mk_z: f64,
    pub mk_p: f64,
    pub sen_slope: f64,
    pub ols_slope: f64,
    pub trend_strength: f64,
    pub seasonal_strength: f64,
}

fn variance(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    if v.len() < 2 {
        return f64::NAN;
    }
    let mean = v.iter().sum::<f64>() / n;
    v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
}

pub fn mann_kendall(y: &[f64]) -> (f64, f64, f64) {
    let n = y.len();
    if n < 3 {
        return (0.0, 0.0, f64::NAN);
    }
    let mut s = 0i64;
    for i in 0..n {
        for j in (i + 1)..n {
            s += (y[j] - y[i]).partial_cmp(&0.0).map(|o| o as i64).unwrap_or(0);
        }
    }
    let mut sorted = y.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        if t > 1.0 {
            ties += t * (t - 1.0) * (2.0 * t + 5.0);
        }
        i = j + 1;
    }
    let nf = n as f64;
    let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let sf = s as f64;
    if var <= 0.0 {
        return (sf, 0.0, 1.0);
    }
    let z = if s > 0 {
        (sf - 1.0) / var.sqrt()
    } else if s < 0 {
        (sf + 1.0) / var.sqrt()
    } else {
        0.0
    };
    let p = 2.0 * normal_sf(z.abs());
    (sf, z, p.clamp(0.0, 1.0))
}

pub fn sen_slope(y: &[f64]) -> f64 {
    let n = y.len();
    if n < 2 {
        return f64::NAN;
    }
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in (i + 1)..n {
            slopes.push((y[j] - y[i]) / (j - i) as f64);
        }
    }
    slopes.sort_by(|a, b| a.total_cmp(b));
    let k = slopes.len();
    if k % 2 == 1 {
        slopes[k / 2]
    } else {
        0.5 * (slopes[k / 2 - 1] + slopes[k / 2])
    }
}

pub fn ols_slope(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    if y.len() < 2 {
        return f64::NAN;
    }
    let tbar = (n - 1.0) / 2.0;
    let ybar = y.iter().sum::<f64>() / n;
    let mut num = 0.0;
    let mut den = 0.0;
    for (t, v) in y.iter().enumerate() {
        let dt = t as f64 - tbar;
        num += dt * (v - ybar);
        den += dt * dt;
    }
    num / den
}

/// Strengths of trend and seasonality in [0, 1] (NaN when the series is too short: fewer
/// than two seasons for the seasonal strength, fewer than 4 points for the trend).
pub fn strengths(y: &[f64], m: usize) -> (f64, f64) {
    let n = y.len();
    let window = if m >= 2 { m } else { 3 };
    if n < 2 * window.max(2) || n < 4 {
        return (f64::NAN, f64::NAN);
    }
    let seasonal: Vec<f64> = if m >= 2 { seasonal_component(y, m, Decomposition::Additive) } else { vec![0.0; n] };
    // Centred moving average of the deseasonalised series as the trend.
    let filt: Vec<f64> = if window % 2 == 0 {
        let mut f = vec![1.0; window + 1];
        f[0] = 0.5;
        f[window] = 0.5;
        f.iter().map(|v| v / window as f64).collect()
    } else {
        vec![1.0 / window as f64; window]
    };
    let half = filt.len() / 2;
    let mut rem = Vec::new();
    let mut trend_rem = Vec::new();
    let mut seas_rem = Vec::new();
    for t in half..n.saturating_sub(half) {
        let tr: f64 = filt.iter().enumerate().map(|(k, w)| w * y[t + k - half]).sum();
        let r = y[t] - tr - seasonal[t];
        rem.push(r);
        trend_rem.push(tr + r);
        seas_rem.push(seasonal[t] + r);
    }
    let vr = variance(&rem);
    let ft = (1.0 - vr / variance(&trend_rem)).max(0.0);
    let fs = if m >= 2 { (1.0 - vr / variance(&seas_rem)).max(0.0) } else { f64::NAN };
    (if ft.is_finite() { ft } else { 0.0 }, fs)
}

pub fn trend_stats(y: &[f64], m: usize) -> TrendStats {
    let (s, z, p) = mann_kendall(y);
    let (ft, fs) = strengths(y, m);
    TrendStats { mk_s: s, mk_z: z, mk_p: p, sen_slope: sen_slope(y), ols_slope: ols_slope(y), trend_strength: ft, seasonal_strength: fs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mann_kendall_by_hand() {
        // y = 1, 3, 2, 4: pairs + + + - + + -> S = 4; var = 4*3*13/18
        let (s, z, p) = mann_kendall(&[1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s, 4.0);
        let var: f64 = 4.0 * 3.0 * 13.0 / 18.0;
        assert!((z - 3.0 / var.sqrt()).abs() < 1e-12);
        assert!(p > 0.0 && p < 1.0);
        // pairwise slopes -1, .5, .5, 1, 2, 2 -> median 0.75
        assert_eq!(sen_slope(&[1.0, 3.0, 2.0, 4.0]), 0.75);
    }

    #[test]
    fn a_pure_season_has_strength_one() {
        let pat = [5.0, -3.0, 1.0, -3.0];
        let y: Vec<f64> = (0..32).map(|t| 100.0 + pat[t % 4]).collect();
        let (_, fs) = strengths(&y, 4);
        assert!((fs - 1.0).abs() < 1e-9, "{fs}");
    }
}
