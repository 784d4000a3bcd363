//! Classical two-sample tests with scipy's exact conventions: Mann-Whitney U (tie
//! correction, continuity correction, exact distribution for small samples without
//! ties), Fisher's exact test and the chi-square test of a 2x2 table (Yates), and the
//! multiple-testing adjustments of statsmodels' `multipletests`.

use super::dist::{chi2_sf, ln_choose, norm_sf};

/// Alternative hypothesis, named after the treatment: `Larger` means treatment > control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alternative {
    TwoSided,
    Larger,
    Smaller,
}

impl Alternative {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "two-sided" | "two_sided" | "2s" => Some(Alternative::TwoSided),
            "larger" | "greater" => Some(Alternative::Larger),
            "smaller" | "less" => Some(Alternative::Smaller),
            _ => None,
        }
    }
}

/// Average ranks (1-based) of `values` and the tie term Σ (t³ - t) over tied groups.
fn average_ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = rank;
        }
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    (ranks, tie_term)
}

/// Survival function P(U >= u) of the exact null distribution of U for sizes (m, n)
/// (no ties). Counts of arrangements by the recurrence f(i, j, k) = f(i-1, j, k-j) +
/// f(i, j-1, k), rolled over j so memory stays (m+1)(mn+1).
fn mwu_exact_sf(u: f64, m: usize, n: usize) -> f64 {
    let (m, n) = if m <= n { (m, n) } else { (n, m) };
    let max_u = m * n;
    let mut f = vec![vec![0.0_f64; max_u + 1]; m + 1];
    for row in f.iter_mut() {
        row[0] = 1.0;
    }
    for j in 1..=n {
        for i in 1..=m {
            let (lower, upper) = f.split_at_mut(i);
            let prev = &lower[i - 1];
            let cur = &mut upper[0];
            for k in j..=(i * j) {
                cur[k] += prev[k - j];
            }
        }
    }
    let counts = &f[m];
    let total: f64 = counts.iter().sum();
    let k0 = u.ceil().max(0.0) as usize;
    if k0 > max_u {
        return 0.0;
    }
    counts[k0..].iter().sum::<f64>() / total
}

/// Largest sample for which the exact distribution is computed (the work grows as
/// min² · max²); above it the normal approximation is used even where scipy would
/// compute the exact distribution (one sample of at most 8 units, no ties).
const EXACT_MAX: usize = 2_000;

/// Mann-Whitney U test of `x` (treatment) against `y` (control) as
/// `scipy.stats.mannwhitneyu(x, y, alternative=...)` with its defaults: returns (U of x,
/// p-value). NaN values must be removed by the caller.
pub fn mann_whitney(x: &[f64], y: &[f64], alternative: Alternative) -> (f64, f64) {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut all = Vec::with_capacity(n1 + n2);
    all.extend_from_slice(x);
    all.extend_from_slice(y);
    let (ranks, tie_term) = average_ranks(&all);
    let r1: f64 = ranks[..n1].iter().sum();
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = r1 - f1 * (f1 + 1.0) / 2.0;
    let u2 = f1 * f2 - u1;
    let (u, factor) = match alternative {
        Alternative::Larger => (u1, 1.0),
        Alternative::Smaller => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };
    let exact = !(n1 > 8 && n2 > 8) && tie_term == 0.0 && n1.max(n2) <= EXACT_MAX;
    let p = if exact {
        mwu_exact_sf(u, n1, n2)
    } else {
        let n = f1 + f2;
        let s = (f1 * f2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
        let z = (u - f1 * f2 / 2.0 - 0.5) / s;
        norm_sf(z)
    };
    (u1, (p * factor).clamp(0.0, 1.0))
}

fn hypergeom_ln_pmf(k: f64, total: f64, good: f64, draws: f64) -> f64 {
    ln_choose(good, k) + ln_choose(total - good, draws - k) - ln_choose(total, draws)
}

/// Fisher's exact test of the 2x2 table [[a, b], [c, d]] as `scipy.stats.fisher_exact`
/// (two-sided: tables no more likely than the observed one, relative tolerance 1e-14).
/// Returns (odds ratio, p-value).
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64, alternative: Alternative) -> (f64, f64) {
    let (af, bf, cf, df) = (a as f64, b as f64, c as f64, d as f64);
    if (a + c == 0) || (b + d == 0) || (a + b == 0) || (c + d == 0) {
        return (f64::NAN, 1.0);
    }
    let odds = if c > 0 && b > 0 { af * df / (cf * bf) } else { f64::INFINITY };
    let n1 = af + bf;
    let n2 = cf + df;
    let n = af + cf;
    let total = n1 + n2;
    let lo = (n - n2).max(0.0) as u64;
    let hi = n.min(n1) as u64;
    let pmf = |x: u64| hypergeom_ln_pmf(x as f64, total, n1, n).exp();
    let p = match alternative {
        Alternative::Smaller => (lo..=a).map(pmf).sum::<f64>(),
        Alternative::Larger => (a..=hi).map(pmf).sum::<f64>(),
        Alternative::TwoSided => {
            let mode = ((n + 1.0) * (n1 + 1.0) / (n1 + n2 + 2.0)).floor() as u64;
            let pexact = pmf(a);
            let pmode = pmf(mode);
            if (pexact - pmode).abs() / pexact.max(pmode) <= 1e-14 {
                return (odds, 1.0);
            }
            let limit = pexact * (1.0 + 1e-14);
            (lo..=hi).map(pmf).filter(|&q| q <= limit).sum::<f64>()
        }
    };
    (odds, p.min(1.0))
}

/// Pearson chi-square test of the 2x2 table [[a, b], [c, d]] with Yates' continuity
/// correction, as `scipy.stats.chi2_contingency(table)`. Returns (statistic, p-value), or
/// None when an expected count is zero (scipy raises).
pub fn chi2_2x2(a: f64, b: f64, c: f64, d: f64) -> Option<(f64, f64)> {
    let obs = [a, b, c, d];
    let rows = [a + b, c + d];
    let cols = [a + c, b + d];
    let total = a + b + c + d;
    let mut stat = 0.0;
    for (i, &o) in obs.iter().enumerate() {
        let e = rows[i / 2] * cols[i % 2] / total;
        if !(e > 0.0) {
            return None;
        }
        let diff = e - o;
        let adjusted = o + diff.signum() * diff.abs().min(0.5);
        stat += (adjusted - e) * (adjusted - e) / e;
    }
    Some((stat, chi2_sf(stat, 1.0)))
}

/// Multiple-testing adjustment of p-values (NaN entries are left out of the family and
/// stay NaN), as statsmodels' `multipletests` methods "holm", "bonferroni", "fdr_bh".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    None,
    Holm,
    Bonferroni,
    BenjaminiHochberg,
}

pub fn adjust(p: &[f64], method: Correction) -> Vec<f64> {
    let idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    let m = idx.len() as f64;
    let mut out = p.to_vec();
    if idx.is_empty() {
        return out;
    }
    let mut order = idx.clone();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    match method {
        Correction::None => {}
        Correction::Bonferroni => {
            for &i in &idx {
                out[i] = (p[i] * m).min(1.0);
            }
        }
        Correction::Holm => {
            let mut running = 0.0_f64;
            for (rank, &i) in order.iter().enumerate() {
                let v = ((m - rank as f64) * p[i]).min(1.0);
                running = running.max(v);
                out[i] = running;
            }
        }
        Correction::BenjaminiHochberg => {
            let mut running = 1.0_f64;
            for (rank, &i) in order.iter().enumerate().rev() {
                let v = p[i] * m / (rank as f64 + 1.0);
                running = running.min(v);
                out[i] = running.min(1.0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // References from scipy 1.17 / statsmodels 0.15.
    #[test]
    fn mann_whitney_asymptotic_with_ties() {
        let x = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0, 9.0];
        let y = [0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 8.0];
        let (u, p) = mann_whitney(&x, &y, Alternative::TwoSided);
        assert_eq!(u, 66.0);
        assert!((p - 0.23776159060431246).abs() < 1e-12, "{p}");
    }

    #[test]
    fn mann_whitney_exact_small() {
        let (u, p) = mann_whitney(&[1.5, 3.0, 4.5], &[0.5, 1.0, 2.0, 2.5], Alternative::TwoSided);
        assert_eq!(u, 10.0);
        assert!((p - 0.22857142857142856).abs() < 1e-12, "{p}");
    }

    #[test]
    fn fisher_and_chi2() {
        let (_, p) = fisher_exact(8, 2, 1, 5, Alternative::TwoSided);
        assert!((p - 0.034965034965034975).abs() < 1e-12, "{p}");
        let (s, p) = chi2_2x2(120.0, 880.0, 100.0, 900.0).unwrap();
        assert!((s - 1.8437180796731358).abs() < 1e-9, "{s}");
        assert!((p - 0.17451579008209805).abs() < 1e-9, "{p}");
    }

    #[test]
    fn adjustments_match_statsmodels() {
        let p = [0.01, 0.04, 0.03, f64::NAN, 0.20];
        let holm = adjust(&p, Correction::Holm);
        assert_eq!(holm[0], 0.04);
        assert!((holm[1] - 0.09).abs() < 1e-15 && (holm[2] - 0.09).abs() < 1e-15 && holm[3].is_nan());
        let bh = adjust(&p, Correction::BenjaminiHochberg);
        assert!((bh[0] - 0.04).abs() < 1e-15 && (bh[1] - 0.05333333333333334).abs() < 1e-15);
    }
}
