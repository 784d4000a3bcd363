//! Gamma-Gamma spend model (Fader & Hardie 2013): the density of a customer's mean
//! spend m over x repeat purchases, with analytic gradient and Hessian in (p, q, v).
//!   l = lnG(px+q) - lnG(px) - lnG(q) + q ln v + (px-1) ln m + px ln x - (px+q) ln(xm+v)
//! Rows: `x` = frequency (> 0), `a` = mean spend (> 0); rows come sorted by x.

use super::special::{digamma, lgamma, trigamma};
use super::{Acc, Rows};

pub fn accumulate(par: &[f64], rows: &Rows, lo: usize, hi: usize, grad: bool, hess: bool, acc: &mut Acc) {
    let (p, q, v) = (par[0], par[1], par[2]);
    let lgq = lgamma(q);
    let dq = digamma(q);
    let tq = trigamma(q);
    let ln_v = v.ln();
    let mut prev_x = f64::NAN;
    let (mut xl, mut xg, mut xh) = (0.0, [0.0; 2], [0.0; 3]);
    for i in lo..hi {
        let x = rows.x[i];
        let m = rows.a[i];
        let w = rows.w[i];
        if x != prev_x {
            prev_x = x;
            let px = p * x;
            xl = lgamma(px + q) - lgamma(px) - lgq + px * x.ln();
            if grad {
                let d = digamma(px + q);
                xg = [x * (d - digamma(px) + x.ln()), d - dq];
            }
            if hess {
                let t = trigamma(px + q);
                xh = [x * x * (t - trigamma(px)), x * t, t - tq];
            }
        }
        let px = p * x;
        let xmv = x * m + v;
        let ln_m = m.ln();
        let ln_xmv = xmv.ln();
        acc.ll += w * (xl + q * ln_v + (px - 1.0) * ln_m - (px + q) * ln_xmv);
        if grad {
            acc.g[0] += w * (xg[0] + x * ln_m - x * ln_xmv);
            acc.g[1] += w * (xg[1] + ln_v - ln_xmv);
            acc.g[2] += w * (q / v - (px + q) / xmv);
        }
        if hess {
            let pv = -x / xmv;
            let qv = 1.0 / v - 1.0 / xmv;
            let vv = -q / (v * v) + (px + q) / (xmv * xmv);
            acc.h[0] += w * xh[0];
            acc.h[1] += w * xh[1];
            acc.h[4] += w * xh[1];
            acc.h[5] += w * xh[2];
            acc.h[2] += w * pv;
            acc.h[8] += w * pv;
            acc.h[6] += w * qv;
            acc.h[9] += w * qv;
            acc.h[10] += w * vv;
        }
    }
}

/// E[M | x, m]: the shrunk mean spend per transaction.
pub fn conditional_expected_average_profit(par: &[f64], x: f64, m: f64) -> f64 {
    let (p, q, v) = (par[0], par[1], par[2]);
    let weight = p * x / (p * x + q - 1.0);
    let population_mean = v * p / (q - 1.0);
    (1.0 - weight) * population_mean + weight * m
}

#[cfg(test)]
mod tests {
    use super::super::{Acc, Rows, HESS_STRIDE};
    use super::*;

    #[test]
    fn gradient_and_hessian_match_finite_differences() {
        let rows =
            Rows::new(vec![1.0, 1.0, 3.0, 8.0], vec![12.0, 30.5, 17.2, 22.0], vec![0.0; 4], vec![1.0, 2.0, 1.0, 1.0]);
        let f = |par: &[f64], g: bool, h: bool| {
            let mut acc = Acc::default();
            accumulate(par, &rows, 0, 4, g, h, &mut acc);
            acc
        };
        let p = [6.25, 3.74, 15.44];
        let base = f(&p, true, true);
        for j in 0..3 {
            let h = 1e-6 * p[j];
            let mut pp = p;
            pp[j] += h;
            let mut pm = p;
            pm[j] -= h;
            let (up, dn) = (f(&pp, true, false), f(&pm, true, false));
            let num = (up.ll - dn.ll) / (2.0 * h);
            assert!((num - base.g[j]).abs() < 1e-6 * (1.0 + num.abs()));
            for i in 0..3 {
                let numh = (up.g[i] - dn.g[i]) / (2.0 * h);
                let an = base.h[i * HESS_STRIDE + j];
                assert!((numh - an).abs() < 1e-5 * (1.0 + numh.abs()), "{i}{j} {numh} {an}");
            }
        }
    }
}
