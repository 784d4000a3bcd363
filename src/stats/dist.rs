//! Distribution functions: normal, Student t, chi-square, gamma and beta CDFs and
//! survival functions, the normal and t quantiles, and the regularised incomplete
//! gamma and beta functions they rest on. Accurate to about 1e-13 relative against
//! scipy.special in the ranges experiments and alerts use (checked in the tests).
//!
//! Accuracy comes from three choices: survival functions are computed directly (never
//! as 1 - cdf in the far tail); the log prefactors x^a e^-x / Γ(a) and
//! x^a (1-x)^b / B(a, b) are formed with the Stirling remainder and log1p(t) - t for
//! large parameters, where the naive sum of logarithms cancels thousands of units
//! (TOMS 708's approach); quantiles are polished by Halley steps on the CDF.

use super::special::lgamma;

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;
const LN_SQRT_PI: f64 = 0.572_364_942_924_700_1;
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
const EPS: f64 = 1e-16;
const TINY: f64 = 1e-300;
const MAX_ITER: usize = 1_000_000;

/// ln Γ(x) - [(x - 1/2) ln x - x + ln √(2π)], the Stirling remainder (x > 0).
pub fn stirling_remainder(x: f64) -> f64 {
    if x >= 10.0 {
        let z = 1.0 / x;
        let z2 = z * z;
        z * (1.0 / 12.0
            + z2 * (-1.0 / 360.0
                + z2 * (1.0 / 1260.0
                    + z2 * (-1.0 / 1680.0 + z2 * (1.0 / 1188.0 + z2 * (-691.0 / 360_360.0 + z2 / 156.0))))))
    } else {
        lgamma(x) - ((x - 0.5) * x.ln() - x + HALF_LN_2PI)
    }
}

/// ln(1 + t) - t, accurate for small |t| (t > -1).
pub fn log1pmx(t: f64) -> f64 {
    if t.abs() < 0.5 {
        // ln(1+t) = 2 atanh(y), y = t/(2+t); 2y - t = -t²/(2+t); the odd series is small.
        let y = t / (2.0 + t);
        let y2 = y * y;
        let mut term = y * y2;
        let mut sum = 0.0;
        let mut k = 3.0;
        loop {
            let add = term / k;
            sum += add;
            if add.abs() <= 1e-17 * sum.abs() {
                break;
            }
            term *= y2;
            k += 2.0;
        }
        -t * t / (2.0 + t) + 2.0 * sum
    } else {
        t.ln_1p() - t
    }
}

/// ln Γ(x) for x > 0 (re-exported for callers of this module).
pub fn ln_gamma(x: f64) -> f64 {
    if x == 0.5 {
        return LN_SQRT_PI;
    }
    lgamma(x)
}

/// ln B(a, b), accurate when one or both arguments are large.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let s = lo + hi;
    if lo >= 10.0 {
        // hi ln(hi / s) as -hi ln(1 + lo / hi): hi / s rounds to 1 when hi >> lo, which
        // dropped a term of size lo (ln B(1.4e5, 2.8e225) was 1.4e5 too high).
        HALF_LN_2PI - 0.5 * hi.ln() + (lo - 0.5) * (lo / s).ln() - hi * (lo / hi).ln_1p() + stirling_remainder(lo)
            + stirling_remainder(hi)
            - stirling_remainder(s)
    } else if hi >= 10.0 {
        // ln Γ(hi) - ln Γ(hi + lo) without the large terms that cancel.
        let diff = -(hi - 0.5) * (lo / hi).ln_1p() - lo * s.ln() + lo + stirling_remainder(hi) - stirling_remainder(s);
        ln_gamma(lo) + diff
    } else {
        ln_gamma(lo) + ln_gamma(hi) - ln_gamma(s)
    }
}

/// ln(x^a e^-x / Γ(a)).
fn gamma_log_prefactor(a: f64, x: f64) -> f64 {
    if a >= 10.0 {
        a * log1pmx((x - a) / a) + 0.5 * a.ln() - HALF_LN_2PI - stirling_remainder(a)
    } else {
        a * x.ln() - x - ln_gamma(a)
    }
}

/// Regularised incomplete gamma functions (P(a, x), Q(a, x)) for a > 0, x >= 0.
pub fn gamma_pq(a: f64, x: f64) -> (f64, f64) {
    if x.is_nan() || a.is_nan() || !(a > 0.0) {
        return (f64::NAN, f64::NAN);
    }
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if x == f64::INFINITY {
        return (1.0, 0.0);
    }
    let front = gamma_log_prefactor(a, x).exp();
    if front == 0.0 {
        return if x < a { (0.0, 1.0) } else { (1.0, 0.0) };
    }
    if x < a + 1.0 {
        // Series: P = front/a * Σ x^n / ((a+1)...(a+n)).
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        // Rounding in the prefactor can carry P a few ulps past 1 (a = 6e-296 gave
        // 1 + 5e-14): a probability is clamped to one.
        let p = (sum * front).min(1.0);
        (p, 1.0 - p)
    } else {
        // Continued fraction for Q (modified Lentz).
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..MAX_ITER {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < EPS {
                break;
            }
        }
        let q = (front * h).min(1.0);
        (1.0 - q, q)
    }
}

/// Continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64, y: f64) -> f64 {
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    // d_1 = -(a+b)x/(a+1); then per m: d_{2m} = m(b-m)x/((a+2m-1)(a+2m)),
    // d_{2m+1} = -(a+m)(a+b+m)x/((a+2m)(a+2m+1)); value = 1/(1 + d_1/(1 + d_2/(1 + ...))).
    let even = |m: f64| m * (b - m) * x / ((qam + 2.0 * m) * (a + 2.0 * m));
    let odd = |m: f64| -(a + m) * (qab + m) * x / ((a + 2.0 * m) * (qap + 2.0 * m));
    // 1 + d_1 = 1 - (a+b)x/(a+1) = (1 - b + (a+b)y)/(a+1), without the cancellation
    // of the first form when x is close to 1.
    let first = if x > 0.5 { (1.0 - b + qab * y) / qap } else { 1.0 - qab * x / qap };
    let mut c = 1.0;
    let mut d = first;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    let mut depth = MAX_ITER;
    for m in 1..MAX_ITER {
        let mf = m as f64;
        let aa = even(mf);
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = odd(mf);
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            depth = m;
            break;
        }
    }
    let _ = depth;
    h
}

/// ln(x^a y^b / B(a, b)) with y = 1 - x given separately (so neither loses digits).
fn beta_log_prefactor(a: f64, b: f64, x: f64, y: f64) -> f64 {
    if a >= 10.0 && b >= 10.0 {
        let s = a + b;
        let u = (x * s - a) / a;
        let v = (y * s - b) / b;
        a * log1pmx(u) + b * log1pmx(v) + 0.5 * (a * b / s).ln() - HALF_LN_2PI - stirling_remainder(a)
            - stirling_remainder(b)
            + stirling_remainder(s)
    } else {
        let lx = if x > 0.5 { (-y).ln_1p() } else { x.ln() };
        let ly = if y > 0.5 { (-x).ln_1p() } else { y.ln() };
        a * lx + b * ly - ln_beta(a, b)
    }
}

/// Regularised incomplete beta (I_x(a, b), 1 - I_x(a, b)) with y = 1 - x passed in.
pub fn beta_inc(a: f64, b: f64, x: f64, y: f64) -> (f64, f64) {
    if a.is_nan() || b.is_nan() || x.is_nan() || !(a > 0.0) || !(b > 0.0) {
        return (f64::NAN, f64::NAN);
    }
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if y <= 0.0 {
        return (1.0, 0.0);
    }
    let front = beta_log_prefactor(a, b, x, y).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        // With a large a and x close to 1 this fraction is ill-conditioned (its terms
        // 1 + d_k cancel, as if x carried an error of one ulp relative to 1 - x); the
        // complementary fraction in y = 1 - x is not, and 1 - J loses little while the
        // result is not small. This is the Student t case (b = 1/2): the result is
        // P(|T| > t) with t² = 2a·y/x, and it exceeds 0.05 about when t < 1.96.
        if a > 50.0 && b < 1.0 && x > 0.5 && 2.0 * a * y / x < 3.8 {
            let j = front * beta_cf(b, a, y, x) / b;
            if j.is_finite() && j > 0.0 && j < 0.99 {
                return (1.0 - j, j);
            }
        }
        let i = front * beta_cf(a, b, x, y) / a;
        (i, 1.0 - i)
    } else {
        let j = front * beta_cf(b, a, y, x) / b;
        (1.0 - j, j)
    }
}

/// Standard normal density.
pub fn norm_pdf(z: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * z * z).exp()
}

/// Standard normal CDF Φ(z), accurate in the lower tail.
pub fn norm_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let (p, q) = gamma_pq(0.5, 0.5 * z * z);
    if z < 0.0 {
        0.5 * q
    } else {
        0.5 + 0.5 * p
    }
}

/// Standard normal survival function 1 - Φ(z), accurate in the upper tail.
pub fn norm_sf(z: f64) -> f64 {
    norm_cdf(-z)
}

/// Φ(z) - 1/2, accurate near zero.
fn norm_cdf_centered(z: f64) -> f64 {
    let (p, q) = gamma_pq(0.5, 0.5 * z * z);
    let half = if p < 0.5 { 0.5 * p } else { 0.5 - 0.5 * q };
    if z < 0.0 {
        -half
    } else {
        half
    }
}

/// Standard normal quantile Φ⁻¹(p).
pub fn norm_ppf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    let q = if p < 0.5 { p } else { 1.0 - p };
    // Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) as the start, then Halley steps.
    let t = (-2.0 * q.ln()).sqrt();
    let mut x = -(t - (2.515_517 + 0.802_853 * t + 0.010_328 * t * t)
        / (1.0 + 1.432_788 * t + 0.189_269 * t * t + 0.001_308 * t * t * t));
    let centered = q > 0.25;
    for _ in 0..50 {
        let e = if centered { norm_cdf_centered(x) - (q - 0.5) } else { norm_cdf(x) - q };
        let u = e / norm_pdf(x);
        let step = u / (1.0 + 0.5 * x * u);
        x -= step;
        if step.abs() <= 1e-15 * x.abs().max(1e-300) {
            break;
        }
    }
    if p < 0.5 {
        x
    } else {
        -x
    }
}

/// Student t CDF with `df` degrees of freedom (df may be +inf: the normal).
pub fn t_cdf(t: f64, df: f64) -> f64 {
    t_sf(-t, df)
}

/// Student t survival function P(T > t).
pub fn t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || !(df > 0.0) {
        return f64::NAN;
    }
    if df == f64::INFINITY {
        return norm_sf(t);
    }
    if t == f64::INFINITY {
        return 0.0;
    }
    if t == f64::NEG_INFINITY {
        return 1.0;
    }
    let t2 = t * t;
    let x = df / (df + t2);
    let y = t2 / (df + t2);
    // P(|T| > |t|) = I_x(df/2, 1/2).
    let (i, j) = beta_inc(0.5 * df, 0.5, x, y);
    if t > 0.0 {
        0.5 * i
    } else {
        // 1 - i/2 = 1/2 + j/2 keeps digits when i is close to 1.
        0.5 + 0.5 * j
    }
}

/// Student t CDF minus 1/2, accurate near t = 0: sign(t) · I_y(1/2, df/2) / 2 with
/// y = t²/(df + t²).
fn t_cdf_centered(t: f64, df: f64) -> f64 {
    let t2 = t * t;
    let (i, _) = beta_inc(0.5, 0.5 * df, t2 / (df + t2), df / (df + t2));
    if t < 0.0 {
        -0.5 * i
    } else {
        0.5 * i
    }
}

/// Student t density.
pub fn t_pdf(t: f64, df: f64) -> f64 {
    if df == f64::INFINITY {
        return norm_pdf(t);
    }
    let l = -0.5 * (df + 1.0) * (t * t / df).ln_1p() - 0.5 * df.ln() - ln_beta(0.5 * df, 0.5);
    l.exp()
}

/// Student t quantile.
pub fn t_ppf(p: f64, df: f64) -> f64 {
    if p.is_nan() || df.is_nan() || !(df > 0.0) || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if df == f64::INFINITY {
        return norm_ppf(p);
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    let q = if p < 0.5 { p } else { 1.0 - p };
    // Start: Cornish-Fisher expansion around the normal quantile (A&S 26.7.5); exact for
    // df = 1 and 2; then Halley steps kept inside a bracket [lo, hi] of the root (< 0).
    let x = if df == 1.0 {
        (std::f64::consts::PI * (q - 0.5)).tan()
    } else if df == 2.0 {
        (2.0 * q - 1.0) / (2.0 * q * (1.0 - q)).sqrt()
    } else {
        let z = norm_ppf(q);
        let z2 = z * z;
        let g1 = (z2 + 1.0) * z / 4.0;
        let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
        let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
        let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
        let guess = z + g1 / df + g2 / (df * df) + g3 / (df * df * df) + g4 / (df * df * df * df);
        if guess.is_finite() && guess < 0.0 {
            guess
        } else {
            z
        }
    };
    let mut x = x.min(-1e-300);
    let mut lo = f64::NEG_INFINITY;
    let mut hi = 0.0;
    // Near the median solve on the centred CDF, which keeps the digits of p - 1/2.
    let centered = q > 0.25;
    for _ in 0..200 {
        let f = if centered { t_cdf_centered(x, df) - (q - 0.5) } else { t_cdf(x, df) - q };
        if f > 0.0 {
            hi = x;
        } else {
            lo = x;
        }
        if f == 0.0 {
            break;
        }
        let u = f / t_pdf(x, df);
        // Halley: f''/f' = d ln pdf / dt = -(df+1) t / (df + t²).
        let step = u / (1.0 + 0.5 * u * (df + 1.0) * x / (df + x * x));
        let mut next = x - step;
        if !(next > lo && next < hi) || !next.is_finite() {
            next = if lo.is_finite() { 0.5 * (lo + hi) } else { 2.0 * x };
        }
        // Halley converges cubically: after a step of relative size 1e-13 the error is
        // far below an ulp.
        let done = (next - x).abs() <= 1e-13 * x.abs();
        x = next;
        if done {
            break;
        }
    }
    if p < 0.5 {
        x
    } else {
        -x
    }
}

/// Chi-square survival function P(X > x) with k degrees of freedom.
pub fn chi2_sf(x: f64, k: f64) -> f64 {
    gamma_pq(0.5 * k, 0.5 * x).1
}

/// Chi-square CDF.
pub fn chi2_cdf(x: f64, k: f64) -> f64 {
    gamma_pq(0.5 * k, 0.5 * x).0
}

/// Beta(a, b) CDF.
pub fn beta_cdf(x: f64, a: f64, b: f64) -> f64 {
    beta_inc(a, b, x, 1.0 - x).0
}

/// ln of the binomial coefficient C(n, k) for integers 0 <= k <= n.
pub fn ln_choose(n: f64, k: f64) -> f64 {
    if k == 0.0 || k == n {
        return 0.0;
    }
    -(n + 1.0).ln() - ln_beta(n - k + 1.0, k + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        if a == b {
            0.0
        } else {
            (a - b).abs() / b.abs()
        }
    }

    // References: scipy 1.17 (scipy.stats.norm/t/chi2, scipy.special.betainc).
    #[test]
    fn normal_matches_scipy() {
        let cdf = [
            (-1.959963984540054, 0.025),
            (-8.0, 6.22096057427174e-16),
            (0.3, 0.6179114221889526),
            (1e-9, 0.5000000003989423),
            (2.5, 0.9937903346742238),
        ];
        for (z, want) in cdf {
            assert!(rel(norm_cdf(z), want) < 1e-12, "{z}: {}", norm_cdf(z));
        }
        let ppf = [(0.025, -1.9599639845400545), (0.975, 1.959963984540054), (1e-10, -6.361340902404056), (0.4, -0.2533471031357997)];
        for (p, want) in ppf {
            assert!(rel(norm_ppf(p), want) < 1e-13, "{p}: {}", norm_ppf(p));
        }
    }

    #[test]
    fn t_matches_scipy() {
        let sf = [
            (1.3, 1998.0, 0.09687545920462469),
            (2.0, 3.0, 0.06966298427942152),
            (-0.5, 7.5, 0.6842945176887727),
            (40.0, 5.0, 9.205981085886477e-08),
            (0.01, 1e6, 0.4960106446827738),
        ];
        for (t, df, want) in sf {
            assert!(rel(t_sf(t, df), want) < 1e-12, "{t} {df}: {} vs {want}", t_sf(t, df));
        }
        let ppf = [
            (0.975, 1998.0, 1.9611520148367054),
            (0.975, 3.0, 3.1824463052837078),
            (0.025, 1.0, -12.706204736174705),
            (0.999, 12.3, 3.9047400496713127),
        ];
        for (p, df, want) in ppf {
            assert!(rel(t_ppf(p, df), want) < 1e-12, "{p} {df}: {} vs {want}", t_ppf(p, df));
        }
    }

    #[test]
    fn chi2_matches_scipy() {
        assert!(rel(chi2_sf(3.9215686274509802, 1.0), 0.0476703806561615) < 1e-12);
        assert!(rel(chi2_sf(30.0, 10.0), 0.000856641210775301) < 1e-12);
        assert!(rel(chi2_cdf(0.5, 4.0), 0.026499021160743912) < 1e-12);
    }
}
