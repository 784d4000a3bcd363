//! BG/NBD (Fader, Hardie & Lee 2005) and the modified BG/NBD (Batislam et al. 2007):
//! log-likelihood with analytic gradient and Hessian, and the conditional predictions.
//!
//! Per customer with x repeat purchases, last at t_x, observed for T:
//!   l = A1 + A2 + log(exp(A3) + d * exp(A4))
//!   A1 = lnG(r+x) - lnG(r) + r ln(alpha),  A2 = lnG(a+b) + lnG(b+x+k) - lnG(b) - lnG(a+b+x+k)
//!   A3 = -(r+x) ln(alpha+T),  A4 = ln a - ln(b+x-1+k) - (r+x) ln(alpha+t_x)
//! with k = 0, d = [x > 0] for BG/NBD and k = 1, d = 1 for the modified model.
//! The gamma-function terms depend on x alone; rows come sorted by x, so they are
//! computed once per distinct frequency.

use super::special::{digamma, expit, lbeta, lgamma, log_hyp2f1, trigamma};
use super::{Acc, Rows};

#[derive(Clone, Copy)]
struct XTerms {
    ln_bb: f64,
    ll: f64,
    g: [f64; 4],
    h: [f64; 16],
}

fn x_terms(p: &[f64], x: f64, k: f64, grad: bool, hess: bool) -> XTerms {
    let (r, al, a, b) = (p[0], p[1], p[2], p[3]);
    let ll =
        lgamma(r + x) - lgamma(r) + r * al.ln() + lgamma(a + b) + lgamma(b + x + k) - lgamma(b) - lgamma(a + b + x + k);
    let mut g = [0.0; 4];
    let mut h = [0.0; 16];
    if grad {
        let dab = digamma(a + b);
        let dabx = digamma(a + b + x + k);
        g[0] = digamma(r + x) - digamma(r) + al.ln();
        g[1] = r / al;
        g[2] = dab - dabx;
        g[3] = dab + digamma(b + x + k) - digamma(b) - dabx;
    }
    if hess {
        let tab = trigamma(a + b);
        let tabx = trigamma(a + b + x + k);
        h[0] = trigamma(r + x) - trigamma(r);
        h[1] = 1.0 / al;
        h[4] = 1.0 / al;
        h[5] = -r / (al * al);
        h[10] = tab - tabx;
        h[11] = tab - tabx;
        h[14] = tab - tabx;
        h[15] = tab + trigamma(b + x + k) - trigamma(b) - tabx;
    }
    XTerms { ln_bb: (b + x - 1.0 + k).ln(), ll, g, h }
}

/// Adds the weighted log-likelihood (and derivatives w.r.t. r, alpha, a, b) of rows
/// `lo..hi` to `acc`. Rows come sorted by x: the x-only terms are added once per
/// run of equal x with the run's total weight; the Hessian is accumulated as its
/// upper triangle.
#[allow(clippy::too_many_arguments)]
pub fn accumulate(p: &[f64], rows: &Rows, lo: usize, hi: usize, modified: bool, grad: bool, hess: bool, acc: &mut Acc) {
    let (r, al, a, b) = (p[0], p[1], p[2], p[3]);
    let k = if modified { 1.0 } else { 0.0 };
    let ln_a = a.ln();
    let inv_a = 1.0 / a;
    let mut ll = 0.0;
    let mut g = [0.0; 4];
    // (0,0) (0,1) (0,2) (0,3) (1,1) (1,2) (1,3) (2,2) (2,3) (3,3)
    let mut h = [0.0; 10];
    let mut i = lo;
    while i < hi {
        let x = rows.x[i];
        let mut j = i;
        while j < hi && rows.x[j] == x {
            j += 1;
        }
        let xt = x_terms(p, x, k, grad, hess);
        let has4 = modified || x > 0.0;
        let inv_bb = 1.0 / (b + x - 1.0 + k);
        let rx = r + x;
        let mut wsum = 0.0;
        for idx in i..j {
            let w = rows.w[idx];
            wsum += w;
            let at = al + rows.b[idx];
            let l_t = at.ln();
            let it = 1.0 / at;
            let a3 = -rx * l_t;
            if !has4 {
                ll += w * a3;
                if grad || hess {
                    g[0] -= w * l_t;
                    g[1] -= w * rx * it;
                }
                if hess {
                    h[1] -= w * it;
                    h[4] += w * rx * it * it;
                }
                continue;
            }
            let ar = al + rows.a[idx];
            let l_r = ar.ln();
            let ir = 1.0 / ar;
            let a4 = ln_a - xt.ln_bb - rx * l_r;
            // One exp serves the log-sum and both mixing weights.
            let e = (-(a3 - a4).abs()).exp();
            ll += w * (a3.max(a4) + e.ln_1p());
            if !(grad || hess) {
                continue;
            }
            let small = e / (1.0 + e);
            let (p3, p4) = if a3 >= a4 { (1.0 - small, small) } else { (small, 1.0 - small) };
            g[0] -= w * (p3 * l_t + p4 * l_r);
            g[1] -= w * rx * (p3 * it + p4 * ir);
            g[2] += w * p4 * inv_a;
            g[3] -= w * p4 * inv_bb;
            if hess {
                let d = [l_r - l_t, rx * (ir - it), -inv_a, inv_bb];
                let pp = w * p3 * p4;
                h[0] += pp * d[0] * d[0];
                h[1] += pp * d[0] * d[1] - w * (p3 * it + p4 * ir);
                h[2] += pp * d[0] * d[2];
                h[3] += pp * d[0] * d[3];
                h[4] += pp * d[1] * d[1] + w * rx * (p3 * it * it + p4 * ir * ir);
                h[5] += pp * d[1] * d[2];
                h[6] += pp * d[1] * d[3];
                h[7] += pp * d[2] * d[2] - w * p4 * inv_a * inv_a;
                h[8] += pp * d[2] * d[3];
                h[9] += pp * d[3] * d[3] + w * p4 * inv_bb * inv_bb;
            }
        }
        ll += wsum * xt.ll;
        if grad || hess {
            for q in 0..4 {
                g[q] += wsum * xt.g[q];
            }
        }
        if hess {
            let mut q = 0;
            for u in 0..4 {
                for v in u..4 {
                    h[q] += wsum * xt.h[u * 4 + v];
                    q += 1;
                }
            }
        }
        i = j;
    }
    acc.ll += ll;
    if grad || hess {
        for q in 0..4 {
            acc.g[q] += g[q];
        }
    }
    if hess {
        let mut q = 0;
        for u in 0..4 {
            for v in u..4 {
                acc.h[u * 4 + v] += h[q];
                if u != v {
                    acc.h[v * 4 + u] += h[q];
                }
                q += 1;
            }
        }
    }
}

/// E[X(t) | x, t_x, T]: expected repeat purchases in (T, T+t].
pub fn conditional_expected(p: &[f64], modified: bool, t: f64, x: f64, tx: f64, t_big: f64) -> f64 {
    let (r, al, a, b) = (p[0], p[1], p[2], p[3]);
    let k = if modified { 1.0 } else { 0.0 };
    let z = t / (al + t_big + t);
    let ln_hyp = log_hyp2f1(r + x, b + x + k, a + b + x - 1.0 + k, z);
    let first = (a + b + x - 1.0 + k) / (a - 1.0);
    let second = -(ln_hyp + (r + x) * ((al + t_big) / (al + t + t_big)).ln()).exp_m1();
    let odds = if modified || x > 0.0 { a / (b + x - 1.0 + k) * ((al + t_big) / (al + tx)).powf(r + x) } else { 0.0 };
    first * second / (1.0 + odds)
}

/// P(alive | x, t_x, T).
pub fn probability_alive(p: &[f64], modified: bool, x: f64, tx: f64, t_big: f64) -> f64 {
    let (r, al, a, b) = (p[0], p[1], p[2], p[3]);
    if modified {
        let log_div = (r + x) * ((al + t_big) / (al + tx)).ln() + (a / (b + x)).ln();
        return expit(-log_div);
    }
    if x == 0.0 {
        return 1.0;
    }
    let log_div = (r + x) * ((al + t_big) / (al + tx)).ln() + (a / (b + x - 1.0)).ln();
    expit(-log_div)
}

/// P(no purchase in (T, T+t] | x, t_x, T) = (1 - P(alive)) + P(alive) ((alpha+T)/(alpha+T+t))^(r+x).
///
/// Given alive at T the customer's rate has the posterior Gamma(r + x, alpha + T)
/// (the dropout coin is only tossed after a purchase, so a live customer cannot
/// leave before buying again): the chance of no purchase in t is the NBD zero term.
pub fn probability_no_purchase(p: &[f64], modified: bool, t: f64, x: f64, tx: f64, t_big: f64) -> f64 {
    if !(t >= 0.0) {
        return f64::NAN;
    }
    let (r, al) = (p[0], p[1]);
    let alive = probability_alive(p, modified, x, tx, t_big);
    let quiet = ((r + x) * ((al + t_big) / (al + t_big + t)).ln()).exp();
    (1.0 - alive) + alive * quiet
}

/// E[X(t)] for a customer just acquired.
pub fn expected(p: &[f64], modified: bool, t: f64) -> f64 {
    let (r, al, a, b) = (p[0], p[1], p[2], p[3]);
    let z = t / (al + t);
    if modified {
        let hyp = log_hyp2f1(r, b + 1.0, a + b, z);
        b / (a - 1.0) * -(hyp + r * (al / (al + t)).ln()).exp_m1()
    } else {
        let hyp = log_hyp2f1(r, b, a + b - 1.0, z);
        (a + b - 1.0) / (a - 1.0) * -(hyp + r * (al / (al + t)).ln()).exp_m1()
    }
}

/// P(X(t) = n) for a customer just acquired (Fader, Hardie & Lee 2005, eq. 8); the
/// modified model adds one more Beta trial (dropout right after the first purchase).
pub fn count_pmf(p: &[f64], modified: bool, t: f64, n: f64) -> f64 {
    let (r, al, a, b) = (p[0], p[1], p[2], p[3]);
    let k = if modified { 1.0 } else { 0.0 };
    let (ln_p0, ln_q) = ((al / (al + t)).ln(), (t / (al + t)).ln());
    let nb = |j: f64| lgamma(r + j) - lgamma(r) - lgamma(j + 1.0) + r * ln_p0 + if j > 0.0 { j * ln_q } else { 0.0 };
    let first = (lbeta(a, b + n + k) - lbeta(a, b) + nb(n)).exp();
    if n == 0.0 && !modified {
        return first;
    }
    // 1 - P(NBD count < n): the customer would have bought n or more had they stayed.
    let below: f64 = (0..n as usize).map(|j| nb(j as f64).exp()).sum();
    first + (lbeta(a + 1.0, b + n - 1.0 + k) - lbeta(a, b)).exp() * (1.0 - below).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::super::{Acc, Rows};
    use super::*;

    #[test]
    fn no_purchase_of_a_new_customer_is_the_zero_count_pmf() {
        // At x = t_x = T = 0 the conditional probability is the unconditional P(X(t) = 0).
        let p = [0.243, 4.414, 0.793, 2.426];
        for modified in [false, true] {
            for t in [0.5, 10.0, 52.0] {
                let got = probability_no_purchase(&p, modified, t, 0.0, 0.0, 0.0);
                let want = count_pmf(&p, modified, t, 0.0);
                assert!((got - want).abs() < 1e-12, "modified={modified} t={t}: {got} vs {want}");
            }
        }
        // No time, no purchase; forever, only the dead stay silent.
        assert_eq!(probability_no_purchase(&p, false, 0.0, 3.0, 20.0, 30.0), 1.0);
        let dead = 1.0 - probability_alive(&p, false, 3.0, 20.0, 30.0);
        assert!((probability_no_purchase(&p, false, 1e12, 3.0, 20.0, 30.0) - dead).abs() < 1e-9);
    }

    fn rows() -> Rows {
        Rows::new(
            vec![0.0, 0.0, 1.0, 2.0, 2.0, 7.0],
            vec![0.0, 0.0, 0.3, 0.5, 0.9, 0.8],
            vec![1.0, 0.6, 0.9, 1.0, 0.95, 0.99],
            vec![3.0, 1.0, 2.0, 1.0, 1.0, 1.0],
        )
    }

    fn ll(p: &[f64], modified: bool, grad: bool, hess: bool) -> Acc {
        let rw = rows();
        let mut acc = Acc::default();
        accumulate(p, &rw, 0, rw.x.len(), modified, grad, hess, &mut acc);
        acc
    }

    #[test]
    fn gradient_and_hessian_match_finite_differences() {
        let p = [0.7, 1.3, 0.9, 2.2];
        for modified in [false, true] {
            let base = ll(&p, modified, true, true);
            for j in 0..4 {
                let h = 1e-6 * p[j];
                let mut pp = p;
                pp[j] += h;
                let mut pm = p;
                pm[j] -= h;
                let up = ll(&pp, modified, true, false);
                let dn = ll(&pm, modified, true, false);
                let num = (up.ll - dn.ll) / (2.0 * h);
                assert!((num - base.g[j]).abs() < 1e-6 * (1.0 + num.abs()), "grad {j}: {num} vs {}", base.g[j]);
                for i in 0..4 {
                    let numh = (up.g[i] - dn.g[i]) / (2.0 * h);
                    let an = base.h[i * 4 + j];
                    assert!((numh - an).abs() < 1e-5 * (1.0 + numh.abs()), "hess {i}{j}: {numh} vs {an}");
                }
            }
        }
    }

    #[test]
    fn probability_alive_is_one_without_repeats() {
        let p = [0.24, 4.4, 0.79, 2.4];
        assert_eq!(probability_alive(&p, false, 0.0, 0.0, 38.0), 1.0);
        let pa = probability_alive(&p, false, 2.0, 30.43, 38.86);
        assert!(pa > 0.0 && pa < 1.0);
    }

    #[test]
    fn count_pmf_sums_to_one_and_to_the_expected_count() {
        for modified in [false, true] {
            for p in [[0.2426, 4.414, 0.7929, 2.426], [0.9, 30.0, 0.8, 6.0], [1.5, 2.0, 2.5, 1.2]] {
                for t in [0.5, 12.0, 52.0] {
                    let (mut total, mut mean) = (0.0, 0.0);
                    for n in 0..3000 {
                        let q = count_pmf(&p, modified, t, n as f64);
                        assert!((0.0..=1.0 + 1e-12).contains(&q), "{p:?} t={t} n={n}: {q}");
                        total += q;
                        mean += n as f64 * q;
                        if n > 20 && q < 1e-18 {
                            break;
                        }
                    }
                    assert!((total - 1.0).abs() < 1e-9, "{modified} {p:?} t={t}: total {total}");
                    let want = expected(&p, modified, t);
                    assert!((mean - want).abs() < 1e-7 * (1.0 + want), "{modified} {p:?} t={t}: {mean} vs {want}");
                }
            }
        }
    }
}
