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

use super::special::{digamma, expit, lgamma, log_hyp2f1, trigamma};
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
    let ll = lgamma(r + x) - lgamma(r) + r * al.ln() + lgamma(a + b) + lgamma(b + x + k) - lgamma(b)
        - lgamma(a + b + x + k);
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
/// `lo..hi` to `acc`.
pub fn accumulate(p: &[f64], rows: &Rows, lo: usize, hi: usize, modified: bool, grad: bool, hess: bool, acc: &mut Acc) {
    let (r, al, a, b) = (p[0], p[1], p[2], p[3]);
    let k = if modified { 1.0 } else { 0.0 };
    let ln_a = a.ln();
    let mut prev_x = f64::NAN;
    let mut xt = XTerms { ln_bb: 0.0, ll: 0.0, g: [0.0; 4], h: [0.0; 16] };
    for i in lo..hi {
        let x = rows.x[i];
        let w = rows.w[i];
        if x != prev_x {
            xt = x_terms(p, x, k, grad, hess);
            prev_x = x;
        }
        let tx = rows.a[i];
        let t_big = rows.b[i];
        let rx = r + x;
        let at = al + t_big;
        let l_t = at.ln();
        let a3 = -rx * l_t;
        let has4 = modified || x > 0.0;
        if !has4 {
            acc.ll += w * (xt.ll + a3);
            if grad {
                acc.g[0] += w * (xt.g[0] - l_t);
                acc.g[1] += w * (xt.g[1] - rx / at);
                acc.g[2] += w * xt.g[2];
                acc.g[3] += w * xt.g[3];
            }
            if hess {
                for (q, v) in xt.h.iter().enumerate() {
                    acc.h[q] += w * v;
                }
                acc.h[1] += -w / at;
                acc.h[4] += -w / at;
                acc.h[5] += w * rx / (at * at);
            }
            continue;
        }
        let ar = al + tx;
        let l_r = ar.ln();
        let bb = b + x - 1.0 + k;
        let a4 = ln_a - xt.ln_bb - rx * l_r;
        // One exp serves the log-sum and both mixing weights.
        let e = (-(a3 - a4).abs()).exp();
        acc.ll += w * (xt.ll + a3.max(a4) + e.ln_1p());
        if !(grad || hess) {
            continue;
        }
        let small = e / (1.0 + e);
        let (p3, p4) = if a3 >= a4 { (1.0 - small, small) } else { (small, 1.0 - small) };
        let g3 = [-l_t, -rx / at, 0.0, 0.0];
        let g4 = [-l_r, -rx / ar, 1.0 / a, -1.0 / bb];
        for q in 0..4 {
            acc.g[q] += w * (xt.g[q] + p3 * g3[q] + p4 * g4[q]);
        }
        if hess {
            let d = [g3[0] - g4[0], g3[1] - g4[1], g3[2] - g4[2], g3[3] - g4[3]];
            let pp = p3 * p4;
            let mut h = xt.h;
            let h_ra = p3 * (-1.0 / at) + p4 * (-1.0 / ar);
            h[1] += h_ra;
            h[4] += h_ra;
            h[5] += p3 * rx / (at * at) + p4 * rx / (ar * ar);
            h[10] += p4 * (-1.0 / (a * a));
            h[15] += p4 / (bb * bb);
            for u in 0..4 {
                for v in 0..4 {
                    acc.h[u * 4 + v] += w * (h[u * 4 + v] + pp * d[u] * d[v]);
                }
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
    let odds = if modified || x > 0.0 {
        a / (b + x - 1.0 + k) * ((al + t_big) / (al + tx)).powf(r + x)
    } else {
        0.0
    };
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

#[cfg(test)]
mod tests {
    use super::super::{Acc, Rows};
    use super::*;

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
}
