//! Special functions shared by every domain (CLV, experiments, alerts): log-gamma,
//! digamma, trigamma and the Gauss hypergeometric function 2F1 in log space (the BTYD
//! models), plus the Stirling remainder used by `dist` for accurate log-beta at large
//! arguments. Shift the argument up with the recurrence, then use the asymptotic series.

const SHIFT: f64 = 15.0;
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// ln Γ(x) for x > 0 (NaN otherwise). Absolute error about 1e-14.
pub fn lgamma(x: f64) -> f64 {
    if !(x > 0.0) || !x.is_finite() {
        return if x == f64::INFINITY { f64::INFINITY } else { f64::NAN };
    }
    let mut z = x;
    let mut prod = 1.0;
    while z < SHIFT {
        prod *= z;
        z += 1.0;
    }
    let zi = 1.0 / z;
    let zi2 = zi * zi;
    let series = zi
        * (1.0 / 12.0
            + zi2
                * (-1.0 / 360.0
                    + zi2
                        * (1.0 / 1260.0
                            + zi2
                                * (-1.0 / 1680.0 + zi2 * (1.0 / 1188.0 + zi2 * (-691.0 / 360_360.0 + zi2 / 156.0))))));
    (z - 0.5) * z.ln() - z + HALF_LN_2PI + series - prod.ln()
}

/// ψ(x) = d/dx ln Γ(x) for x > 0.
pub fn digamma(x: f64) -> f64 {
    if !(x > 0.0) || !x.is_finite() {
        return f64::NAN;
    }
    let mut z = x;
    let mut acc = 0.0;
    while z < SHIFT {
        acc -= 1.0 / z;
        z += 1.0;
    }
    let zi = 1.0 / z;
    let zi2 = zi * zi;
    let series = zi2
        * (-1.0 / 12.0
            + zi2
                * (1.0 / 120.0
                    + zi2
                        * (-1.0 / 252.0
                            + zi2 * (1.0 / 240.0 + zi2 * (-1.0 / 132.0 + zi2 * (691.0 / 32760.0 - zi2 / 12.0))))));
    acc + z.ln() - 0.5 * zi + series
}

/// ψ₁(x) = d²/dx² ln Γ(x) for x > 0.
pub fn trigamma(x: f64) -> f64 {
    if !(x > 0.0) || !x.is_finite() {
        return f64::NAN;
    }
    let mut z = x;
    let mut acc = 0.0;
    while z < SHIFT {
        acc += 1.0 / (z * z);
        z += 1.0;
    }
    let zi = 1.0 / z;
    let zi2 = zi * zi;
    let series = zi
        + 0.5 * zi2
        + zi * zi2
            * (1.0 / 6.0
                + zi2
                    * (-1.0 / 30.0
                        + zi2
                            * (1.0 / 42.0
                                + zi2
                                    * (-1.0 / 30.0 + zi2 * (5.0 / 66.0 + zi2 * (-691.0 / 2730.0 + zi2 * 7.0 / 6.0))))));
    acc + series
}

/// ln B(a, b), accurate when one or both arguments are large (lgamma(a) + lgamma(b) -
/// lgamma(a + b) cancels to 0 for B(1, 3e86)): the one implementation, in `dist`.
pub fn lbeta(a: f64, b: f64) -> f64 {
    super::dist::ln_beta(a, b)
}

/// log(exp(a) + exp(b)) without overflow.
pub fn logaddexp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + (-(a - b).abs()).exp().ln_1p()
}

/// The logistic function 1/(1+exp(-x)), stable for large |x|.
pub fn expit(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

const MAX_TERMS: usize = 2_000_000;

/// Sum of the Gauss series Σ (a)_n (b)_n / ((c)_n n!) z^n for 0 <= z < 1 and c > 0,
/// returned as (ln |sum|, sign). Terms are rescaled so huge sums do not overflow.
fn log_series(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, f64)> {
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    let mut log_scale = 0.0_f64;
    let mut n = 0.0_f64;
    for _ in 0..MAX_TERMS {
        let ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        term *= ratio;
        sum += term;
        n += 1.0;
        if term == 0.0 {
            // A zero upper parameter ends the series (it is a polynomial).
            return Some((sum.abs().ln() + log_scale, sum.signum()));
        }
        if sum.abs() > 1e280 {
            term /= 1e280;
            sum /= 1e280;
            log_scale += 280.0 * std::f64::consts::LN_10;
        }
        let r = ratio.abs();
        // Past the peak the terms shrink at least geometrically: bound the tail.
        if r < 1.0 && term.abs() * r / (1.0 - r) <= 1e-17 * sum.abs() {
            return Some((sum.abs().ln() + log_scale, sum.signum()));
        }
    }
    None
}

/// ln 2F1(a, b; c; z) for a, b, c > 0 and 0 <= z < 1 (the function is then positive).
/// Uses Euler's transformation when c - a - b < 0, so the series that is summed never
/// grows like (1-z)^(c-a-b) and frequencies in the hundreds stay cheap and finite.
/// Returns NaN when the series does not converge (z extremely close to 1).
pub fn log_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if !(0.0..1.0).contains(&z) || !(c > 0.0) {
        return f64::NAN;
    }
    if z == 0.0 {
        return 0.0;
    }
    let d = c - a - b;
    let direct = || match log_series(a, b, c, z) {
        Some((l, s)) if s > 0.0 => l,
        _ => f64::NAN,
    };
    // Euler's series has parameters c - a and c - b: when one is negative its terms
    // change sign and can cancel catastrophically (2F1(276.5, 29.4; 224.8; 0.872) summed
    // to a negative number), so it is used only when all its terms are positive; the
    // direct series has positive terms always and is merely longer near z = 1.
    if d < 0.0 && c - a >= 0.0 && c - b >= 0.0 {
        match log_series(c - a, c - b, c, z) {
            Some((l, s)) if s > 0.0 => d * (-z).ln_1p() + l,
            _ => direct(),
        }
    } else {
        direct()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    // Reference values from scipy.special (gammaln, digamma, polygamma(1, .), hyp2f1).
    #[test]
    fn lgamma_matches_scipy() {
        let cases = [
            (1e-8, 18.42068073818021),
            (0.2426, 1.3197854750907922),
            (1.0, 0.0),
            (2.0, 0.0),
            (2.5, 0.2846828704729192),
            (7.3, 7.147892523022249),
            (150.5, 602.5139548705853),
            (1e6, 12815504.569147611),
        ];
        for (x, want) in cases {
            assert!(close(lgamma(x), want, 1e-13), "lgamma({x}) = {} want {want}", lgamma(x));
        }
    }

    #[test]
    fn digamma_trigamma_match_scipy() {
        let d = [
            (0.2426, -4.358361853222514),
            (1.0, -0.5772156649015329),
            (13.7, 2.580455723899653),
            (300.0, 5.702114882064637),
        ];
        for (x, want) in d {
            assert!(close(digamma(x), want, 1e-13), "digamma({x}) = {}", digamma(x));
        }
        let t = [
            (0.2426, 18.19821032424031),
            (1.0, 1.6449340668482266),
            (13.7, 0.0757214158226239),
            (300.0, 0.0033388950617146773),
        ];
        for (x, want) in t {
            assert!(close(trigamma(x), want, 1e-12), "trigamma({x}) = {}", trigamma(x));
        }
    }

    #[test]
    fn derivatives_agree_with_differences() {
        for &x in &[0.05, 0.7, 3.3, 40.0] {
            let h = 1e-5 * x;
            let num = (lgamma(x + h) - lgamma(x - h)) / (2.0 * h);
            assert!(close(digamma(x), num, 1e-7));
            let num2 = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            assert!(close(trigamma(x), num2, 1e-6));
        }
    }

    #[test]
    fn hyp2f1_matches_scipy() {
        let cases = [
            (0.2426, 2.426, 2.2189, 0.3, 0.09562886617262673),
            (1.0, 1.0, 2.0, 0.5, 0.3266342599782806),
            (100.2426, 102.426, 102.2189, 0.5, 69.62441070169821),
            (5.5, 3.2, 4.1, 0.9, 10.296187111679322),
        ];
        for (a, b, c, z, want) in cases {
            let got = log_hyp2f1(a, b, c, z);
            assert!(close(got, want, 1e-11), "log 2F1({a},{b},{c},{z}) = {got} want {want}");
        }
        assert!(log_hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
    }

    #[test]
    fn logaddexp_and_expit_are_stable() {
        assert!(close(logaddexp(1000.0, 1000.0), 1000.0 + 2f64.ln(), 1e-15));
        assert_eq!(logaddexp(f64::NEG_INFINITY, -3.0), -3.0);
        assert!(expit(-800.0) >= 0.0 && expit(800.0) == 1.0);
    }
}
