//! Tests that choose the differencing orders of AutoARIMA, and the decompositions they
//! and CES rely on: the KPSS level-stationarity statistic (as statsmodels computes it),
//! STL (Cleveland et al. 1990, the loess algorithm of statsmodels' `STL`), the
//! seasonal-strength measure of Wang, Smith & Hyndman (2006) that statsforecast uses to
//! decide on a seasonal difference, and the classical moving-average decomposition.

/// KPSS statistic for level stationarity with a Bartlett-weighted long-run variance
/// over `nlags` lags. None when undefined (fewer than 2 points, zero variance).
pub fn kpss_stat(x: &[f64], nlags: usize) -> Option<f64> {
    let n = x.len();
    if n < 2 || nlags >= n {
        return None;
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let resid: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let mut cs = 0.0;
    let mut eta = 0.0;
    for r in &resid {
        cs += r;
        eta += cs * cs;
    }
    let nf = n as f64;
    eta /= nf * nf;
    let mut s = resid.iter().map(|r| r * r).sum::<f64>();
    for i in 1..=nlags {
        let prod: f64 = (i..n).map(|t| resid[t] * resid[t - i]).sum();
        s += 2.0 * prod * (1.0 - i as f64 / (nlags as f64 + 1.0));
    }
    s /= nf;
    if !(s > 0.0) {
        return None;
    }
    Some(eta / s)
}

/// One local (degree 0 or 1) loess estimate at 1-based position `xs` from the points
/// nleft..=nright (1-based), tricube weights.
#[allow(clippy::too_many_arguments)]
fn est(y: &[f64], len: usize, ideg: usize, xs: f64, nleft: usize, nright: usize, w: &mut [f64], rw: Option<&[f64]>) -> Option<f64> {
    let n = y.len();
    let range = n as f64 - 1.0;
    let mut h = (xs - nleft as f64).max(nright as f64 - xs);
    if len > n {
        h += ((len - n) / 2) as f64;
    }
    let h9 = 0.999 * h;
    let h1 = 0.001 * h;
    let mut a = 0.0;
    for j in nleft..=nright {
        w[j - 1] = 0.0;
        let r = (j as f64 - xs).abs();
        if r <= h9 {
            w[j - 1] = if r <= h1 { 1.0 } else { (1.0 - (r / h).powi(3)).powi(3) };
            if let Some(rw) = rw {
                w[j - 1] *= rw[j - 1];
            }
            a += w[j - 1];
        }
    }
    if a <= 0.0 {
        return None;
    }
    for j in nleft..=nright {
        w[j - 1] /= a;
    }
    if h > 0.0 && ideg > 0 {
        let a: f64 = (nleft..=nright).map(|j| w[j - 1] * j as f64).sum();
        let mut b = xs - a;
        let c: f64 = (nleft..=nright).map(|j| w[j - 1] * (j as f64 - a).powi(2)).sum();
        if c.sqrt() > 0.001 * range {
            b /= c;
            for j in nleft..=nright {
                w[j - 1] *= b * (j as f64 - a) + 1.0;
            }
        }
    }
    Some((nleft..=nright).map(|j| w[j - 1] * y[j - 1]).sum())
}

/// Loess smoothing of a whole series (jump 1).
fn ess(y: &[f64], len: usize, ideg: usize, ys: &mut [f64], work: &mut [f64]) {
    let n = y.len();
    if n == 0 {
        return;
    }
    if n < 2 {
        ys[0] = y[0];
        return;
    }
    if len >= n {
        for i in 1..=n {
            ys[i - 1] = est(y, len, ideg, i as f64, 1, n, work, None).unwrap_or(y[i - 1]);
        }
    } else {
        let nsh = (len + 1) / 2;
        let mut nleft = 1;
        let mut nright = len;
        for i in 1..=n {
            if i > nsh && nright != n {
                nleft += 1;
                nright += 1;
            }
            ys[i - 1] = est(y, len, ideg, i as f64, nleft, nright, work, None).unwrap_or(y[i - 1]);
        }
    }
}

fn moving_average(x: &[f64], len: usize) -> Vec<f64> {
    let n = x.len();
    if n < len {
        return Vec::new();
    }
    let newn = n - len + 1;
    let flen = len as f64;
    let mut v: f64 = x[..len].iter().sum();
    let mut out = Vec::with_capacity(newn);
    out.push(v / flen);
    for j in 1..newn {
        v = v - x[j - 1] + x[j + len - 1];
        out.push(v / flen);
    }
    out
}

/// STL decomposition (non-robust, statsmodels' defaults for the trend and low-pass
/// windows). Returns (seasonal, trend).
pub fn stl(y: &[f64], np: usize, ns: usize, isdeg: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let n = y.len();
    if np < 2 || n < 2 * np {
        return None;
    }
    let mut ns = ns.max(3);
    if ns % 2 == 0 {
        ns += 1;
    }
    let mut nt = (1.5 * np as f64 / (1.0 - 1.5 / ns as f64)).ceil() as usize;
    if nt % 2 == 0 {
        nt += 1;
    }
    let mut nl = np + 1;
    if nl % 2 == 0 {
        nl += 1;
    }
    let (itdeg, ildeg) = (1, 1);
    let mut trend = vec![0.0; n];
    let mut season = vec![0.0; n];
    let mut work1 = vec![0.0; n];
    let mut c = vec![0.0; n + 2 * np];
    let mut sub = Vec::with_capacity(n / np + 1);
    let mut sub_s = vec![0.0; n / np + 3];
    let mut w = vec![0.0; n + 2 * np];
    let mut l = vec![0.0; n];
    for _ in 0..2 {
        for i in 0..n {
            work1[i] = y[i] - trend[i];
        }
        // Cycle-subseries smoothing, extended one period at each end.
        for j in 1..=np {
            let k = (n - j) / np + 1;
            sub.clear();
            sub.extend((1..=k).map(|i| work1[(i - 1) * np + j - 1]));
            ess(&sub, ns, isdeg, &mut sub_s[1..k + 1], &mut w);
            let nright = ns.min(k);
            sub_s[0] = est(&sub, ns, isdeg, 0.0, 1, nright, &mut w, None).unwrap_or(sub_s[1]);
            let nleft = if k + 1 > ns { k + 1 - ns } else { 1 };
            sub_s[k + 1] = est(&sub, ns, isdeg, (k + 1) as f64, nleft, k, &mut w, None).unwrap_or(sub_s[k]);
            for m in 1..=k + 2 {
                c[(m - 1) * np + j - 1] = sub_s[m - 1];
            }
        }
        // Low-pass filter of the cycle-subseries: MA(np), MA(np), MA(3), then loess.
        let t1 = moving_average(&c, np);
        let t2 = moving_average(&t1, np);
        let t3 = moving_average(&t2, 3);
        ess(&t3, nl, ildeg, &mut l, &mut w);
        for i in 0..n {
            season[i] = c[np + i] - l[i];
            work1[i] = y[i] - season[i];
        }
        ess(&work1, nt, itdeg, &mut trend, &mut w);
    }
    Some((season, trend))
}

fn var1(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)
}

/// Strength of seasonality, max(0, min(1, 1 - var(remainder) / var(remainder + seasonal)))
/// from an STL fit with a seasonal window of 11 and degree 0 (statsforecast's `mstl`).
pub fn seasonal_strength(x: &[f64], period: usize) -> Option<f64> {
    let (season, trend) = stl(x, period, 11, 0)?;
    let rem: Vec<f64> = (0..x.len()).map(|i| x[i] - season[i] - trend[i]).collect();
    let rs: Vec<f64> = rem.iter().zip(&season).map(|(r, s)| r + s).collect();
    let v = 1.0 - var1(&rem) / var1(&rs);
    // Python's min(1, nan) is 1.
    Some(if v.is_nan() { 1.0 } else { v.clamp(0.0, 1.0) })
}

/// Seasonal indices of the classical additive decomposition (centred moving-average
/// trend, per-position means of the detrended series, centred to sum to zero).
pub fn classical_seasonal(x: &[f64], period: usize) -> Vec<f64> {
    let n = x.len();
    let (filt, half): (Vec<f64>, usize) = if period % 2 == 0 {
        let mut f = vec![1.0 / period as f64; period + 1];
        f[0] = 0.5 / period as f64;
        f[period] = 0.5 / period as f64;
        (f, period / 2)
    } else {
        (vec![1.0 / period as f64; period], (period - 1) / 2)
    };
    let mut sums = vec![0.0; period];
    let mut counts = vec![0usize; period];
    for t in half..n.saturating_sub(half) {
        let tr: f64 = filt.iter().enumerate().map(|(k, w)| w * x[t + k - half]).sum();
        sums[t % period] += x[t] - tr;
        counts[t % period] += 1;
    }
    let mut avg: Vec<f64> = sums.iter().zip(&counts).map(|(s, c)| if *c > 0 { s / *c as f64 } else { f64::NAN }).collect();
    let mean = avg.iter().sum::<f64>() / period as f64;
    for a in avg.iter_mut() {
        *a -= mean;
    }
    avg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kpss_statistic_by_definition() {
        // Hand-computed: x = 1..5, nlags 0 -> eta = sum(S_t^2)/n^2, s = sum(e^2)/n.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let e = [-2.0, -1.0, 0.0, 1.0, 2.0];
        let s_t = [-2.0, -3.0, -3.0, -2.0, 0.0];
        let eta: f64 = s_t.iter().map(|v: &f64| v * v).sum::<f64>() / 25.0;
        let s: f64 = e.iter().map(|v: &f64| v * v).sum::<f64>() / 5.0;
        assert!((kpss_stat(&x, 0).unwrap() - eta / s).abs() < 1e-12);
        // With one lag: s += 2 * (1 - 1/2) * sum e_t e_{t-1} / n.
        let prod = -2.0 * -1.0 + 0.0 + 0.0 + 1.0 * 2.0;
        let s1 = s + prod * 1.0 / 5.0;
        assert!((kpss_stat(&x, 1).unwrap() - eta / s1).abs() < 1e-12);
    }

    #[test]
    fn stl_recovers_a_pure_seasonal_pattern() {
        let pat = [3.0, -1.0, 0.5, -2.5];
        let y: Vec<f64> = (0..48).map(|t| 10.0 + 0.1 * t as f64 + pat[t % 4]).collect();
        let (s, tr) = stl(&y, 4, 11, 0).unwrap();
        for t in 8..40 {
            // Degree-0 subseries smoothing lets a little of the trend into the season.
            assert!((s[t] - pat[t % 4]).abs() < 0.05, "t={t} {} vs {}", s[t], pat[t % 4]);
            assert!((tr[t] - (10.0 + 0.1 * t as f64)).abs() < 0.05);
        }
        assert!(seasonal_strength(&y, 4).unwrap() > 0.99);
    }

    #[test]
    fn classical_seasonal_indices() {
        let pat = [2.0, -1.0, -1.0];
        let y: Vec<f64> = (0..12).map(|t| 5.0 + pat[t % 3]).collect();
        let s = classical_seasonal(&y, 3);
        for i in 0..3 {
            assert!((s[i] - pat[i]).abs() < 1e-12);
        }
    }
}
