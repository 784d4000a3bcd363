//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987) log-likelihood with an analytic
//! gradient, computed in log space so frequencies in the hundreds do not overflow.
//!
//! L = G(r+x) a^r b^s / G(r) * [ (alpha+T)^-(r+x) (beta+T)^-s + s * I ],
//! I = int_{t_x}^{T} (alpha+u)^-(r+x) (beta+u)^-(s+1) du = F(t_x) - F(T).
//! F(t) = int_t^inf ... is a Gauss hypergeometric function; after Euler's
//! transformation it is a series of positive, geometrically shrinking terms:
//!   alpha >= beta: F = (alpha+t)^-(r+x) (beta+t)^-s / A * sum_n (r+x)_n/(A+1)_n z^n, z = (alpha-beta)/(alpha+t)
//!   alpha <  beta: F = (alpha+t)^-(r+x) (beta+t)^-s (alpha+t)/(beta+t) / A * sum_n (s+1)_n/(A+1)_n z^n, z = (beta-alpha)/(beta+t)
//! with A = r+s+x. The derivatives of the series are accumulated alongside it.

use super::special::{digamma, lbeta, lgamma, log_hyp2f1};
use super::{Acc, Rows};

const MAX_TERMS: usize = 1_000_000;

/// Coefficients of the series sum_n c_n z^n with c_n = (q)_n/(A+1)_n, and of its
/// derivatives in q and A. They depend on x only (not on t), so they are built once
/// per frequency and extended on demand.
pub struct Coefs {
    q: f64,
    big_a: f64,
    c: Vec<f64>,
    cq: Vec<f64>,
    ca: Vec<f64>,
    dq: f64,
    da: f64,
    ln_s_over_a: f64,
}

impl Coefs {
    pub fn new(par: &[f64], x: f64) -> Coefs {
        let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
        let q = if al >= be { r + x } else { s + 1.0 };
        let big_a = r + s + x;
        Coefs { q, big_a, c: vec![1.0], cq: vec![0.0], ca: vec![0.0], dq: 0.0, da: 0.0, ln_s_over_a: (s / big_a).ln() }
    }

    fn extend(&mut self) {
        let n = (self.c.len() - 1) as f64;
        self.dq += 1.0 / (self.q + n);
        self.da += 1.0 / (self.big_a + 1.0 + n);
        let c = self.c[self.c.len() - 1] * (self.q + n) / (self.big_a + 1.0 + n);
        self.c.push(c);
        self.cq.push(c * self.dq);
        self.ca.push(c * self.da);
    }
}

/// ln(s * F(t)) and its gradient in (r, alpha, s, beta); None if the series did not converge.
fn log_s_f(par: &[f64], x: f64, t: f64, coefs: &mut Coefs, logs: Option<(f64, f64)>) -> Option<(f64, [f64; 4])> {
    let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
    let big_a = r + s + x;
    let at = al + t;
    let bt = be + t;
    let case1 = al >= be;
    let (q, z, dz_da, dz_db) = if case1 {
        (r + x, (al - be) / at, bt / (at * at), -1.0 / at)
    } else {
        (s + 1.0, (be - al) / bt, -1.0 / bt, at / (bt * bt))
    };
    let (mut sum, mut sq, mut sa, mut szn) = (1.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
    let mut converged = z == 0.0;
    if !converged {
        let mut zn = 1.0_f64;
        let bound = 1e-17 * (1.0 - z) * (1.0 - z) / z;
        for n in 1..MAX_TERMS {
            if n >= coefs.c.len() {
                coefs.extend();
            }
            zn *= z;
            let term = coefs.c[n] * zn;
            sum += term;
            sq += coefs.cq[n] * zn;
            sa += coefs.ca[n] * zn;
            szn += term * n as f64;
            if term * (n as f64 + 2.0) <= bound * sum {
                converged = true;
                break;
            }
        }
    }
    if !converged {
        return None;
    }
    let ln_s = sum.ln();
    let dlns_dq = sq / sum;
    let dlns_da = -sa / sum;
    let dlns_dz = if z > 0.0 { szn / (sum * z) } else { q / (big_a + 1.0) };
    let (l_at, l_bt) = logs.unwrap_or_else(|| (at.ln(), bt.ln()));
    let mut value = coefs.ln_s_over_a - (r + x) * l_at - s * l_bt + ln_s;
    let mut g = [
        -1.0 / big_a - l_at + dlns_da,
        -(r + x) / at + dlns_dz * dz_da,
        1.0 / s - 1.0 / big_a - l_bt + dlns_da,
        -s / bt + dlns_dz * dz_db,
    ];
    if case1 {
        g[0] += dlns_dq;
    } else {
        g[2] += dlns_dq;
        value += l_at - l_bt;
        g[1] += 1.0 / at;
        g[3] -= 1.0 / bt;
    }
    Some((value, g))
}

type SF = Option<(f64, [f64; 4])>;

/// ln of the bracket, its gradient and u1, reusing F(t_x) when the previous row had
/// the same (x, t_x) (rows are sorted, so all x = 0 customers share one).
fn bracket_cached(
    par: &[f64],
    x: f64,
    tx: f64,
    t_big: f64,
    coefs: &mut Coefs,
    cache: &mut (f64, f64, SF),
) -> Option<(f64, [f64; 4], f64)> {
    let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
    let at = al + t_big;
    let bt = be + t_big;
    let (l_at, l_bt) = (at.ln(), bt.ln());
    let u1 = -(r + x) * l_at - s * l_bt;
    let g1 = [-l_at, -(r + x) / at, -l_bt, -s / bt];
    if tx >= t_big {
        return Some((u1, g1, u1));
    }
    if !(cache.0 == x && cache.1 == tx) {
        *cache = (x, tx, log_s_f(par, x, tx, coefs, None));
    }
    let (fx, gx) = cache.2?;
    let (ft, gt) = log_s_f(par, x, t_big, coefs, Some((l_at, l_bt)))?;
    let m = u1.max(fx);
    let (e1, ex) = if u1 >= fx { (1.0, (fx - m).exp()) } else { ((u1 - m).exp(), 1.0) };
    let et = (ft - m).exp();
    let total = e1 + ex - et;
    if !(total > 0.0) {
        return None;
    }
    let mut g = [0.0; 4];
    for k in 0..4 {
        g[k] = (e1 * g1[k] + ex * gx[k] - et * gt[k]) / total;
    }
    Some((m + total.ln(), g, u1))
}

pub fn bracket(par: &[f64], x: f64, tx: f64, t_big: f64) -> Option<(f64, [f64; 4], f64)> {
    let mut coefs = Coefs::new(par, x);
    let mut cache = (f64::NAN, f64::NAN, None);
    bracket_cached(par, x, tx, t_big, &mut coefs, &mut cache)
}

pub fn accumulate(par: &[f64], rows: &Rows, lo: usize, hi: usize, grad: bool, acc: &mut Acc) -> bool {
    let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
    let base = r * al.ln() + s * be.ln() - lgamma(r);
    let dr = digamma(r);
    let mut prev_x = f64::NAN;
    let (mut xl, mut xd) = (0.0, 0.0);
    let mut coefs = Coefs::new(par, 0.0);
    let mut cache: (f64, f64, SF) = (f64::NAN, f64::NAN, None);
    for i in lo..hi {
        let x = rows.x[i];
        let w = rows.w[i];
        if x != prev_x {
            prev_x = x;
            xl = lgamma(r + x);
            xd = digamma(r + x);
            coefs = Coefs::new(par, x);
        }
        let Some((lb, g, _)) = bracket_cached(par, x, rows.a[i], rows.b[i], &mut coefs, &mut cache) else {
            return false;
        };
        acc.ll += w * (base + xl + lb);
        if grad {
            acc.g[0] += w * (xd - dr + al.ln() + g[0]);
            acc.g[1] += w * (r / al + g[1]);
            acc.g[2] += w * (be.ln() + g[2]);
            acc.g[3] += w * (s / be + g[3]);
        }
    }
    true
}

/// Full log-likelihood of one customer.
pub fn loglik(par: &[f64], x: f64, tx: f64, t_big: f64) -> f64 {
    let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
    match bracket(par, x, tx, t_big) {
        Some((lb, _, _)) => lgamma(r + x) - lgamma(r) + r * al.ln() + s * be.ln() + lb,
        None => f64::NAN,
    }
}

/// P(alive | x, t_x, T) = (alpha+T)^-(r+x) (beta+T)^-s / bracket.
pub fn probability_alive(par: &[f64], x: f64, tx: f64, t_big: f64) -> f64 {
    match bracket(par, x, tx, t_big) {
        Some((lb, _, u1)) => (u1 - lb).exp(),
        None => f64::NAN,
    }
}

/// E[X(t) | x, t_x, T].
pub fn conditional_expected(par: &[f64], t: f64, x: f64, tx: f64, t_big: f64) -> f64 {
    let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
    let ll = loglik(par, x, tx, t_big);
    let first =
        lgamma(r + x) - lgamma(r) + r * al.ln() + s * be.ln() - (r + x) * (al + t_big).ln() - s * (be + t_big).ln();
    let second = (r + x).ln() + (be + t_big).ln() - (al + t_big).ln();
    let ratio_ln = ((be + t_big) / (be + t_big + t)).ln();
    let sm1 = s - 1.0;
    let third = if sm1.abs() < 1e-12 { (-ratio_ln).ln() } else { (-(sm1 * ratio_ln).exp_m1() / sm1).ln() };
    (first + second + third - ll).exp()
}

/// P(X(T, T+t) = n | x, t_x, T): the probability of exactly `n` purchases in the next
/// `t` periods given the history (Fader & Hardie's note on the Pareto/NBD conditional
/// PMF, as in lifetimes). With x = t_x = T = 0 it is the PMF of a new customer.
///
/// P = [n = 0] (1 - P(alive)) + A_1 + A_2 - sum_{i=0}^{n} A_3(i), every term in logs:
/// A_1 alive through T+t with n purchases; A_2 - sum A_3 dies inside (T, T+t] after
/// exactly n purchases (two Gauss hypergeometric tails whose difference is that event).
pub fn conditional_pmf(par: &[f64], n: f64, t: f64, x: f64, tx: f64, t_big: f64) -> f64 {
    let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
    if !(t > 0.0) {
        return if t == 0.0 { f64::from(n == 0.0) } else { f64::NAN };
    }
    let ll = loglik(par, x, tx, t_big);
    if !ll.is_finite() {
        return f64::NAN;
    }
    let base = r * al.ln() + s * be.ln() - lgamma(r);
    let (max_ab, diff) = (al.max(be), (al - be).abs());
    let q = if al < be { r + x + n } else { s + 1.0 };
    let big_a = r + s + x;
    let c = big_a + n + 1.0;
    let tail = base + lbeta(r + x + n, s + 1.0) - lgamma(s) - ll;

    let p_alive = (base + lgamma(r + x) - (r + x) * (al + t_big).ln() - s * (be + t_big).ln() - ll).exp();
    let zeroth = if n == 0.0 { (1.0 - p_alive).max(0.0) } else { 0.0 };
    let first = n * t.ln() - lgamma(n + 1.0) + base + lgamma(r + x + n)
        - (r + x + n) * (al + t_big + t).ln()
        - s * (be + t_big + t).ln()
        - ll;
    let second =
        tail + lgamma(big_a) + log_hyp2f1(big_a, q, c, diff / (max_ab + t_big)) - big_a * (max_ab + t_big).ln();
    let thirds: Vec<f64> = (0..=n as usize)
        .map(|i| {
            let i = i as f64;
            i * t.ln() - lgamma(i + 1.0)
                + tail
                + lgamma(big_a + i)
                + log_hyp2f1(big_a + i, q, c, diff / (max_ab + t_big + t))
                - (big_a + i) * (max_ab + t_big + t).ln()
        })
        .collect();
    let m = thirds.iter().copied().fold(first.max(second), f64::max);
    if !m.is_finite() {
        return f64::NAN;
    }
    let sum = (first - m).exp() + (second - m).exp() - thirds.iter().map(|v| (v - m).exp()).sum::<f64>();
    // The last two terms cancel to a tiny difference when t is small: rounding can
    // leave it a hair below zero.
    zeroth + sum.max(0.0) * m.exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force integral for I with Simpson's rule on a fine grid.
    fn brute(par: &[f64], x: f64, tx: f64, t_big: f64) -> f64 {
        let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
        let n = 200_000;
        let h = (t_big - tx) / n as f64;
        let f = |u: f64| (al + u).powf(-(r + x)) * (be + u).powf(-(s + 1.0));
        let mut acc = f(tx) + f(t_big);
        for i in 1..n {
            acc += f(tx + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        let i_val = acc * h / 3.0;
        let inner = (al + t_big).powf(-(r + x)) * (be + t_big).powf(-s) + s * i_val;
        lgamma(r + x) - lgamma(r) + r * al.ln() + s * be.ln() + inner.ln()
    }

    #[test]
    fn likelihood_matches_brute_force_integral() {
        for par in [[0.55, 10.58, 0.61, 11.67], [0.55, 3.0, 0.61, 11.67], [1.3, 0.4, 2.0, 0.05]] {
            for (x, tx, t) in [(0.0, 0.0, 38.0), (2.0, 30.4, 38.9), (5.0, 1.0, 20.0), (0.0, 0.0, 0.5)] {
                let got = loglik(&par, x, tx, t);
                let want = brute(&par, x, tx, t);
                assert!((got - want).abs() < 1e-8 * (1.0 + want.abs()), "{par:?} {x} {tx} {t}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn large_frequencies_stay_finite() {
        let par = [0.55, 10.58, 0.61, 11.67];
        let l = loglik(&par, 400.0, 37.0, 38.0);
        assert!(l.is_finite());
        let pa = probability_alive(&par, 400.0, 37.0, 38.0);
        assert!(pa > 0.0 && pa <= 1.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let rows = Rows::new(
            vec![0.0, 1.0, 4.0, 30.0],
            vec![0.0, 0.3, 0.7, 0.9],
            vec![1.0, 0.8, 1.0, 0.95],
            vec![2.0, 1.0, 1.0, 1.0],
        );
        for par in [[0.55, 1.2, 0.61, 0.9], [0.8, 0.3, 1.5, 2.0]] {
            let f = |p: &[f64]| {
                let mut acc = Acc::default();
                assert!(accumulate(p, &rows, 0, 4, true, &mut acc));
                acc
            };
            super::super::assert_gradient_matches(f, &par);
        }
    }

    #[test]
    fn conditional_pmf_sums_to_one_and_to_the_conditional_mean() {
        for par in [[0.5533, 10.578, 0.6062, 11.67], [0.8, 20.0, 1.4, 6.0], [1.3, 4.0, 2.0, 0.5]] {
            for (x, tx, t_big, t) in
                [(0.0, 0.0, 0.0, 39.0), (0.0, 0.0, 38.0, 52.0), (2.0, 30.4, 38.9, 39.0), (7.0, 35.0, 38.0, 10.0)]
            {
                let (mut total, mut mean) = (0.0, 0.0);
                for n in 0..4000 {
                    let p = conditional_pmf(&par, n as f64, t, x, tx, t_big);
                    assert!((0.0..=1.0 + 1e-12).contains(&p), "{par:?} n={n}: {p}");
                    total += p;
                    mean += n as f64 * p;
                    if n > 50 && p < 1e-18 {
                        break;
                    }
                }
                let want = if t_big == 0.0 {
                    let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
                    r * be / al / (s - 1.0) * (1.0 - (be / (be + t)).powf(s - 1.0))
                } else {
                    conditional_expected(&par, t, x, tx, t_big)
                };
                assert!((total - 1.0).abs() < 1e-9, "{par:?} {x} {tx} {t_big} {t}: total {total}");
                assert!(
                    (mean - want).abs() < 1e-7 * (1.0 + want),
                    "{par:?} {x} {tx} {t_big} {t}: mean {mean} vs {want}"
                );
            }
        }
    }
}
