//! BG/BB (Fader, Hardie & Shang 2010) for discrete purchase opportunities:
//! log-likelihood with analytic gradient in (alpha, beta, gamma, delta), and the
//! conditional predictions. Rows: `x` = frequency, `a` = recency (t_x, in
//! periods), `b` = n_periods.
//!
//! L = B(al+x, be+n-x)/B(al,be) * B(ga, de+n)/B(ga,de)
//!   + sum_{j=0}^{n-t_x-1} B(al+x, be+t_x-x+j)/B(al,be) * B(ga+1, de+t_x+j)/B(ga,de)

use super::special::{digamma, lbeta, lgamma, logaddexp};
use super::{Acc, Rows};

/// Gradient of ln B(u, v) w.r.t. (u, v).
fn dlbeta(u: f64, v: f64) -> (f64, f64) {
    let d = digamma(u + v);
    (digamma(u) - d, digamma(v) - d)
}

/// ln L of one row and, when asked, its gradient.
pub fn row(par: &[f64], x: f64, tx: f64, n: f64, grad: bool) -> (f64, [f64; 4]) {
    let (al, be, ga, de) = (par[0], par[1], par[2], par[3]);
    let lab = lbeta(al, be);
    let lgd = lbeta(ga, de);
    let a_term = lbeta(al + x, be + n - x) - lab + lbeta(ga, de + n) - lgd;
    let n_sum = (n - tx).max(0.0) as usize;
    let mut terms = Vec::with_capacity(n_sum);
    let mut ll = a_term;
    for j in 0..n_sum {
        let jf = j as f64;
        let c = lbeta(al + x, be + tx - x + jf) + lbeta(ga + 1.0, de + tx + jf) - lab - lgd;
        terms.push(c);
        ll = logaddexp(ll, c);
    }
    let mut g = [0.0; 4];
    if grad {
        let (dab_a, dab_b) = dlbeta(al, be);
        let (dgd_g, dgd_d) = dlbeta(ga, de);
        let wa = (a_term - ll).exp();
        let (u1, v1) = dlbeta(al + x, be + n - x);
        let (u2, v2) = dlbeta(ga, de + n);
        g[0] += wa * (u1 - dab_a);
        g[1] += wa * (v1 - dab_b);
        g[2] += wa * (u2 - dgd_g);
        g[3] += wa * (v2 - dgd_d);
        for (j, c) in terms.iter().enumerate() {
            let jf = j as f64;
            let wc = (c - ll).exp();
            let (u1, v1) = dlbeta(al + x, be + tx - x + jf);
            let (u2, v2) = dlbeta(ga + 1.0, de + tx + jf);
            g[0] += wc * (u1 - dab_a);
            g[1] += wc * (v1 - dab_b);
            g[2] += wc * (u2 - dgd_g);
            g[3] += wc * (v2 - dgd_d);
        }
    }
    (ll, g)
}

pub fn accumulate(par: &[f64], rows: &Rows, lo: usize, hi: usize, grad: bool, acc: &mut Acc) {
    for i in lo..hi {
        let w = rows.w[i];
        let (ll, g) = row(par, rows.x[i], rows.a[i], rows.b[i], grad);
        acc.ll += w * ll;
        if grad {
            for k in 0..4 {
                acc.g[k] += w * g[k];
            }
        }
    }
}

/// Expected purchases in the next m periods given (x, t_x, n).
pub fn conditional_expected(par: &[f64], m: f64, x: f64, tx: f64, n: f64) -> f64 {
    let (al, be, ga, de) = (par[0], par[1], par[2], par[3]);
    let ll = row(par, x, tx, n, false).0;
    let p2 = lbeta(al + x + 1.0, be + n - x) - lbeta(al, be);
    let p3 = de / (ga - 1.0) * (lgamma(ga + de) - lgamma(1.0 + de)).exp();
    let p4 = lgamma(1.0 + de + n) - lgamma(ga + de + n);
    let p5 = lgamma(1.0 + de + n + m) - lgamma(ga + de + n + m);
    (p2 - ll).exp() * p3 * (p4.exp() - p5.exp())
}

/// P(alive at n + m | x, t_x, n).
pub fn probability_alive(par: &[f64], m: f64, x: f64, tx: f64, n: f64) -> f64 {
    let (al, be, ga, de) = (par[0], par[1], par[2], par[3]);
    let ll = row(par, x, tx, n, false).0;
    let p1 = lbeta(al + x, be + n - x) - lbeta(al, be);
    let p2 = lbeta(ga, de + n + m) - lbeta(ga, de);
    (p1 + p2 - ll).exp()
}

/// P(X(n) = x): the probability that a new customer makes x purchases in the first
/// n opportunities (Fader, Hardie & Shang 2010, eq. 7); lifetimes'
/// expected_number_of_transactions_in_first_n_periods is this times the customers.
pub fn count_pmf(par: &[f64], n: u32, x: u32) -> f64 {
    if x > n {
        return 0.0;
    }
    let (al, be, ga, de) = (par[0], par[1], par[2], par[3]);
    let (nf, xf) = (n as f64, x as f64);
    let lab = lbeta(al, be);
    let lgd = lbeta(ga, de);
    let ln_choose = |k: f64, j: f64| lgamma(k + 1.0) - lgamma(j + 1.0) - lgamma(k - j + 1.0);
    let alive = ln_choose(nf, xf) + lbeta(al + xf, be + nf - xf) - lab + lbeta(ga, de + nf) - lgd;
    let died = (x..n).map(|i| {
        let i = i as f64;
        (ln_choose(i, xf) + lbeta(al + xf, be + i - xf) - lab + lbeta(ga + 1.0, de + i) - lgd).exp()
    });
    alive.exp() + died.sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let rows = Rows::new(
            vec![0.0, 1.0, 3.0, 6.0],
            vec![0.0, 2.0, 5.0, 6.0],
            vec![6.0, 6.0, 6.0, 6.0],
            vec![3.0, 1.0, 2.0, 1.0],
        );
        let par = [1.2, 0.75, 0.66, 2.78];
        let f = |p: &[f64]| {
            let mut acc = Acc::default();
            accumulate(p, &rows, 0, 4, true, &mut acc);
            acc
        };
        super::super::assert_gradient_matches(f, &par);
    }

    #[test]
    fn probabilities_of_all_histories_sum_to_one() {
        // For n = 3 opportunities, every (x, t_x) history pattern with its count.
        // The likelihood is per pattern, so sum over all 2^3 patterns of L = 1.
        let par = [1.2, 0.75, 0.66, 2.78];
        let mut total = 0.0;
        for mask in 0u32..8 {
            let x = mask.count_ones() as f64;
            let tx = if mask == 0 { 0.0 } else { (32 - mask.leading_zeros()) as f64 };
            total += row(&par, x, tx, 3.0, false).0.exp();
        }
        assert!((total - 1.0).abs() < 1e-12, "{total}");
    }

    #[test]
    fn count_pmf_sums_to_one_and_to_the_expected_count() {
        let par = [1.204, 0.750, 0.657, 2.783];
        for n in [0_u32, 1, 6, 11, 40] {
            let p: Vec<f64> = (0..=n).map(|x| count_pmf(&par, n, x)).collect();
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "n={n}");
            assert_eq!(count_pmf(&par, n, n + 1), 0.0);
            // E[X(n)] = sum over opportunities of P(alive at t) * E[p]: a / (a + b) *
            // sum_{t=1}^{n} B(g, d + t) / B(g, d).
            let mean: f64 = p.iter().enumerate().map(|(x, v)| x as f64 * v).sum();
            let want: f64 = par[0] / (par[0] + par[1])
                * (1..=n).map(|t| (lbeta(par[2], par[3] + t as f64) - lbeta(par[2], par[3])).exp()).sum::<f64>();
            assert!((mean - want).abs() < 1e-10 * (1.0 + want), "n={n}: {mean} vs {want}");
        }
    }
}
