//! Two-arm comparisons from sufficient statistics, vectorised over many comparisons
//! (experiments × metrics × segments × treatments) with rayon.
//!
//! Default semantics are GrowthBook's stats engine (gbstats 0.8), which experimentation
//! platform users know: per arm a statistic (proportion: variance p(1-p); mean: sample
//! variance; ratio: delta method; CUPED: regression adjustment with θ pooled over both
//! arms), Welch's t for the absolute difference, the delta-method variance of the
//! relative lift (t - c) / c with the same Welch degrees of freedom, Gaussian Bayesian
//! results (flat or proper normal prior on the effect) and the always-valid sequential
//! confidence sequence of Waudby-Smith et al. (gbstats' sequential testing).
//! Other tests by name replace the p-value of the difference (z, pooled z, chi-square,
//! Fisher, or a p-value computed elsewhere such as Mann-Whitney's).

use rayon::prelude::*;

use super::dist::{norm_cdf, norm_pdf, norm_ppf, norm_sf, t_ppf, t_sf};
use super::htest::{chi2_2x2, fisher_exact, Alternative};

/// What a metric is: a 0/1 conversion, a mean of a continuous value, or a ratio of two
/// per-unit sums (numerator / denominator, by the delta method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Proportion,
    Mean,
    Ratio,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    Welch,
    Z,
    ZPooled,
    Chi2,
    Fisher,
    /// The p-value of the difference comes from outside (e.g. Mann-Whitney on unit data).
    External,
}

/// Sufficient statistics of one arm. `den*` describe the denominator of a ratio metric
/// (`prod` = Σ numerator·denominator); `cov*` the CUPED covariate (`cov_prod` =
/// Σ metric·covariate). Unused fields are 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct Arm {
    pub n: f64,
    pub sum: f64,
    pub sum_sq: f64,
    pub den_sum: f64,
    pub den_sum_sq: f64,
    pub prod: f64,
    pub cov_sum: f64,
    pub cov_sum_sq: f64,
    pub cov_prod: f64,
}

/// One comparison to make: control vs treatment for a metric.
#[derive(Clone, Copy, Debug)]
pub struct Comparison {
    pub kind: Kind,
    /// Some(kind of the covariate statistic) applies CUPED.
    pub cuped: Option<Kind>,
    pub control: Arm,
    pub treatment: Arm,
    /// A p-value computed elsewhere, used with `Test::External`.
    pub external_p: f64,
    pub external_stat: f64,
}

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Frequentist,
    /// Gaussian Bayesian engine; the prior N(prior_mean, prior_var) is on the relative
    /// (lift) scale (gbstats' default prior_type) and `prior_var = None` is gbstats'
    /// flat prior; `relative` picks the scale of the chance to win and the risks.
    Bayes { relative: bool, prior_mean: f64, prior_var: Option<f64> },
    Sequential { tuning: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub alpha: f64,
    pub alternative: Alternative,
    pub test: Test,
    pub mode: Mode,
}

/// Result of one comparison; NaN marks a value that is undefined, with `reason` saying why.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    pub control_mean: f64,
    pub mean: f64,
    pub diff: f64,
    pub diff_lower: f64,
    pub diff_upper: f64,
    pub diff_se: f64,
    pub p_value: f64,
    pub statistic: f64,
    pub df: f64,
    pub lift: f64,
    pub lift_lower: f64,
    pub lift_upper: f64,
    pub lift_se: f64,
    pub lift_p_value: f64,
    pub theta: f64,
    pub variance_reduction: f64,
    pub chance_to_win: f64,
    pub risk_control: f64,
    pub risk_treatment: f64,
    pub reason: Option<&'static str>,
    /// Why the lift alone is undefined (the difference may still be fine).
    pub lift_reason: Option<&'static str>,
}

impl Outcome {
    fn empty() -> Self {
        let nan = f64::NAN;
        Outcome {
            control_mean: nan,
            mean: nan,
            diff: nan,
            diff_lower: nan,
            diff_upper: nan,
            diff_se: nan,
            p_value: nan,
            statistic: nan,
            df: nan,
            lift: nan,
            lift_lower: nan,
            lift_upper: nan,
            lift_se: nan,
            lift_p_value: nan,
            theta: nan,
            variance_reduction: nan,
            chance_to_win: nan,
            risk_control: nan,
            risk_treatment: nan,
            reason: None,
            lift_reason: None,
        }
    }
}

/// A gbstats statistic of one arm: (possibly adjusted) mean, unadjusted mean, variance.
#[derive(Clone, Copy, Debug)]
struct Stat {
    n: f64,
    mean: f64,
    unadjusted: f64,
    var: f64,
}

fn base_mean(n: f64, sum: f64) -> f64 {
    if n == 0.0 {
        0.0
    } else {
        sum / n
    }
}

/// gbstats: ProportionStatistic variance p(1-p); SampleMeanStatistic sample variance.
fn base_var(kind: Kind, n: f64, sum: f64, sum_sq: f64) -> f64 {
    match kind {
        Kind::Proportion => {
            let m = base_mean(n, sum);
            m * (1.0 - m)
        }
        _ => {
            if n <= 1.0 {
                0.0
            } else {
                (sum_sq - sum * sum / n) / (n - 1.0)
            }
        }
    }
}

fn covariance(n: f64, prod: f64, sum_x: f64, sum_y: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else {
        (prod - sum_x * sum_y / n) / (n - 1.0)
    }
}

fn ratio_stat(a: &Arm) -> Stat {
    let n = a.n;
    let mean = if a.den_sum == 0.0 { 0.0 } else { a.sum / a.den_sum };
    let (mm, dm) = (base_mean(n, a.sum), base_mean(n, a.den_sum));
    let var = if dm == 0.0 || n <= 1.0 {
        0.0
    } else {
        let mv = base_var(Kind::Mean, n, a.sum, a.sum_sq);
        let dv = base_var(Kind::Mean, n, a.den_sum, a.den_sum_sq);
        let cov = covariance(n, a.prod, a.sum, a.den_sum);
        mv / (dm * dm) - 2.0 * cov * mm / (dm * dm * dm) + mm * mm * dv / (dm * dm * dm * dm)
    };
    Stat { n, mean, unadjusted: mean, var }
}

fn plain_stat(kind: Kind, a: &Arm) -> Stat {
    match kind {
        Kind::Ratio => ratio_stat(a),
        _ => {
            let mean = base_mean(a.n, a.sum);
            Stat { n: a.n, mean, unadjusted: mean, var: base_var(kind, a.n, a.sum, a.sum_sq) }
        }
    }
}

/// gbstats `compute_theta`: the regression coefficient of the metric on the covariate in
/// both arms pooled; 0 (no adjustment) when either pooled variance is 0.
fn cuped_theta(kind: Kind, pre: Kind, c: &Arm, t: &Arm) -> f64 {
    let n = c.n + t.n;
    let (s, ss) = (c.sum + t.sum, c.sum_sq + t.sum_sq);
    let (ps, pss) = (c.cov_sum + t.cov_sum, c.cov_sum_sq + t.cov_sum_sq);
    let post_var = base_var(kind, n, s, ss);
    let pre_var = base_var(pre, n, ps, pss);
    if pre_var == 0.0 || post_var == 0.0 {
        return 0.0;
    }
    covariance(n, c.cov_prod + t.cov_prod, s, ps) / pre_var
}

fn adjusted_stat(kind: Kind, pre: Kind, a: &Arm, theta: f64) -> Stat {
    let post_mean = base_mean(a.n, a.sum);
    let pre_mean = base_mean(a.n, a.cov_sum);
    let var = if a.n <= 1.0 {
        0.0
    } else {
        base_var(kind, a.n, a.sum, a.sum_sq) + theta * theta * base_var(pre, a.n, a.cov_sum, a.cov_sum_sq)
            - 2.0 * theta * covariance(a.n, a.cov_prod, a.sum, a.cov_sum)
    };
    Stat { n: a.n, mean: post_mean - theta * pre_mean, unadjusted: post_mean, var }
}

/// Point estimate and variance of the effect, gbstats' `frequentist_diff` / `_variance`.
fn effect(a: &Stat, b: &Stat, relative: bool) -> (f64, f64) {
    if relative {
        let ua = a.unadjusted;
        (
            (b.mean - a.mean) / ua,
            b.var / (ua * ua * b.n) + a.var * b.unadjusted * b.unadjusted / (ua * ua * ua * ua * a.n),
        )
    } else {
        (b.mean - a.mean, b.var / b.n + a.var / a.n)
    }
}

/// Welch-Satterthwaite degrees of freedom (gbstats `TTest.dof`).
fn welch_df(a: &Stat, b: &Stat) -> f64 {
    let (va, vb) = (a.var / a.n, b.var / b.n);
    (va + vb).powi(2) / (b.var * b.var / (b.n * b.n * (b.n - 1.0)) + a.var * a.var / (a.n * a.n * (a.n - 1.0)))
}

/// The critical value of a two-sided or one-sided interval: a t quantile (df finite) or
/// a normal one (df = inf). Computed once per comparison: the difference and the lift
/// share the degrees of freedom.
fn critical(df: f64, alpha: f64, alt: Alternative) -> f64 {
    let p = if alt == Alternative::TwoSided { 1.0 - alpha / 2.0 } else { 1.0 - alpha };
    if df.is_finite() {
        t_ppf(p, df)
    } else {
        norm_ppf(p)
    }
}

/// Interval and p-value of `est` with standard error `se` given the critical value.
fn interval(est: f64, se: f64, df: f64, crit: f64, alt: Alternative) -> (f64, f64, f64, f64) {
    let stat = est / se;
    let sf = |x: f64| if df.is_finite() { t_sf(x, df) } else { norm_sf(x) };
    let w = crit * se;
    match alt {
        Alternative::TwoSided => (est - w, est + w, (2.0 * sf(stat.abs())).min(1.0), stat),
        Alternative::Larger => (est - w, f64::INFINITY, sf(stat), stat),
        Alternative::Smaller => (f64::NEG_INFINITY, est + w, sf(-stat), stat),
    }
}

fn p_from_z(z: f64, alt: Alternative) -> f64 {
    match alt {
        Alternative::TwoSided => (2.0 * norm_sf(z.abs())).min(1.0),
        Alternative::Larger => norm_sf(z),
        Alternative::Smaller => norm_cdf(z),
    }
}

/// gbstats' Gaussian posterior of the effect: (mean, sd).
fn posterior(est: f64, var: f64, prior_mean: f64, prior_var: Option<f64>) -> (f64, f64) {
    match prior_var {
        Some(pv) if pv > 0.0 => {
            let prec = 1.0 / var + 1.0 / pv;
            ((est / var + prior_mean / pv) / prec, (1.0 / prec).sqrt())
        }
        _ => (est, var.sqrt()),
    }
}

/// Chance to win, risk of choosing control, risk of choosing treatment (expected loss),
/// for a normal posterior N(mu, sigma²) of the effect; closed forms of gbstats' truncated
/// normal means.
pub fn bayes_summary(mu: f64, sigma: f64) -> (f64, f64, f64) {
    let z = mu / sigma;
    let ctw = norm_sf(-z);
    let phi = sigma * norm_pdf(z);
    let risk_control = mu * norm_cdf(z) + phi;
    let risk_treatment = phi - mu * norm_cdf(-z);
    (ctw, risk_control, risk_treatment)
}

/// gbstats' sequential testing: half-width of the always-valid confidence sequence and
/// the always-valid p-value for an effect estimate with variance `var` after `n` units.
pub fn sequential(est: f64, var: f64, n: f64, alpha: f64, tuning: f64) -> (f64, f64) {
    let la = alpha.ln();
    let rho2 = (-2.0 * la + (-2.0 * la + 1.0).ln()) / tuning;
    let s2 = var * n;
    let tr2p1 = n * rho2 + 1.0;
    let width = s2.sqrt() * (2.0 * tr2p1 * (tr2p1.sqrt() / alpha).ln() / (n * n * rho2)).sqrt();
    let st2 = est * est * n / var;
    let evalue = (rho2 * st2 / (2.0 * tr2p1)).exp() / tr2p1.sqrt();
    (width, (1.0 / evalue).min(1.0))
}

pub fn compare_one(c: &Comparison, o: &Options) -> Outcome {
    let mut out = Outcome::empty();
    let (ca, ta) = (&c.control, &c.treatment);
    // CUPED needs θ before the statistics; θ = 0 falls back to the plain statistics.
    let (sa, sb, theta) = match (c.cuped, c.kind) {
        (Some(pre), Kind::Proportion | Kind::Mean) => {
            let theta = cuped_theta(c.kind, pre, ca, ta);
            if theta == 0.0 {
                (plain_stat(c.kind, ca), plain_stat(c.kind, ta), 0.0)
            } else {
                (adjusted_stat(c.kind, pre, ca, theta), adjusted_stat(c.kind, pre, ta, theta), theta)
            }
        }
        _ => (plain_stat(c.kind, ca), plain_stat(c.kind, ta), f64::NAN),
    };
    out.theta = theta;
    out.control_mean = sa.unadjusted;
    out.mean = sb.unadjusted;
    if ca.n < 2.0 || ta.n < 2.0 {
        out.reason = Some("fewer than 2 units in an arm");
        return out;
    }
    if c.kind == Kind::Ratio && (ca.den_sum == 0.0 || ta.den_sum == 0.0) {
        out.reason = Some("the denominator sums to 0 in an arm");
        return out;
    }
    let (diff, var) = effect(&sa, &sb, false);
    out.diff = diff;
    if c.cuped.is_some() && c.kind != Kind::Ratio {
        let (_, var0) = effect(&plain_stat(c.kind, ca), &plain_stat(c.kind, ta), false);
        out.variance_reduction = if var0 > 0.0 { 1.0 - var / var0 } else { f64::NAN };
    }
    if !(sa.var > 0.0) && !(sb.var > 0.0) || !(var > 0.0) {
        out.reason = Some("zero variance in both arms: no interval or test is possible");
        out.lift = if sa.unadjusted != 0.0 { diff / sa.unadjusted } else { f64::NAN };
        return out;
    }
    let se = var.sqrt();
    out.diff_se = se;
    let df = welch_df(&sa, &sb);
    let lift_defined = sa.unadjusted != 0.0 && sa.mean != 0.0;
    let (lift, lift_var) = if lift_defined { effect(&sa, &sb, true) } else { (f64::NAN, f64::NAN) };
    if !lift_defined {
        out.lift_reason = Some("control mean is 0: relative lift undefined");
    }
    out.lift = lift;
    out.lift_se = lift_var.sqrt();
    match o.mode {
        Mode::Frequentist => {
            let normal = matches!(o.test, Test::Z | Test::ZPooled);
            let ref_df = if normal { f64::INFINITY } else { df };
            out.df = if normal { f64::NAN } else { df };
            let crit = critical(ref_df, o.alpha, o.alternative);
            let (lo, hi, p, stat) = interval(diff, se, ref_df, crit, o.alternative);
            out.diff_lower = lo;
            out.diff_upper = hi;
            out.p_value = p;
            out.statistic = stat;
            if lift_defined {
                let (llo, lhi, lp, _) = interval(lift, out.lift_se, ref_df, crit, o.alternative);
                out.lift_lower = llo;
                out.lift_upper = lhi;
                out.lift_p_value = lp;
            }
            match o.test {
                Test::Welch | Test::Z => {}
                Test::ZPooled => {
                    let n = ca.n + ta.n;
                    let pooled_var = match c.kind {
                        Kind::Proportion => {
                            let p = (ca.sum + ta.sum) / n;
                            p * (1.0 - p) * (1.0 / ca.n + 1.0 / ta.n)
                        }
                        _ => ((ca.n - 1.0) * sa.var + (ta.n - 1.0) * sb.var) / (n - 2.0) * (1.0 / ca.n + 1.0 / ta.n),
                    };
                    let z = diff / pooled_var.sqrt();
                    out.statistic = z;
                    out.p_value = p_from_z(z, o.alternative);
                }
                Test::Chi2 => {
                    // Only defined for proportions; the caller checks the kind.
                    match chi2_2x2(ta.sum, ta.n - ta.sum, ca.sum, ca.n - ca.sum) {
                        Some((s, p)) => {
                            out.statistic = s;
                            out.p_value = p;
                        }
                        None => {
                            out.statistic = f64::NAN;
                            out.p_value = f64::NAN;
                            out.reason = Some("an expected count of the 2x2 table is 0: chi-square undefined");
                        }
                    }
                }
                Test::Fisher => {
                    let r = |x: f64| x.round().max(0.0) as u64;
                    let (odds, p) =
                        fisher_exact(r(ta.sum), r(ta.n - ta.sum), r(ca.sum), r(ca.n - ca.sum), o.alternative);
                    out.statistic = odds;
                    out.p_value = p;
                }
                Test::External => {
                    out.statistic = c.external_stat;
                    out.p_value = c.external_p;
                }
            }
        }
        Mode::Bayes { relative, prior_mean, prior_var } => {
            if !(sa.var > 0.0 && sb.var > 0.0) {
                out.reason = Some("zero variance in an arm: the Bayesian engine needs both arms to vary");
                return out;
            }
            let z_lo = norm_ppf(o.alpha / 2.0);
            let z_hi = norm_ppf(1.0 - o.alpha / 2.0);
            // The prior is on the relative (lift) scale, gbstats' default prior_type; the
            // absolute-scale prior is it rescaled by the control mean, as gbstats does.
            let ua = sa.unadjusted;
            let (abs_pm, abs_pv) = (prior_mean * ua.abs(), prior_var.map(|v| v * ua * ua));
            let (mu, sd) = posterior(diff, var, abs_pm, abs_pv);
            out.diff = mu;
            out.diff_se = sd;
            out.diff_lower = mu + sd * z_lo;
            out.diff_upper = mu + sd * z_hi;
            let mut summary = bayes_summary(mu, sd);
            if lift_defined {
                let (lmu, lsd) = posterior(lift, lift_var, prior_mean, prior_var);
                out.lift = lmu;
                out.lift_se = lsd;
                out.lift_lower = lmu + lsd * z_lo;
                out.lift_upper = lmu + lsd * z_hi;
                if relative {
                    summary = bayes_summary(lmu, lsd);
                }
            } else if relative {
                out.reason = Some("control mean is 0: relative lift undefined");
                return out;
            }
            out.chance_to_win = summary.0;
            out.risk_control = summary.1;
            out.risk_treatment = summary.2;
        }
        Mode::Sequential { tuning } => {
            let n = ca.n + ta.n;
            let (w, p) = sequential(diff, var, n, o.alpha, tuning);
            out.diff_lower = diff - w;
            out.diff_upper = diff + w;
            out.p_value = p;
            out.statistic = diff / se;
            if lift_defined {
                let (lw, lp) = sequential(lift, lift_var, n, o.alpha, tuning);
                out.lift_lower = lift - lw;
                out.lift_upper = lift + lw;
                out.lift_p_value = lp;
            }
        }
    }
    out
}

/// All comparisons, in parallel; the output order is the input order.
pub fn compare_all(items: &[Comparison], o: &Options) -> Vec<Outcome> {
    items.par_iter().with_min_len(64).map(|c| compare_one(c, o)).collect()
}

/// Cochran's Q heterogeneity test of effects `est` with variances `var` (NaN skipped):
/// (Q, degrees of freedom, p-value, I²).
pub fn heterogeneity(est: &[f64], var: &[f64]) -> (f64, f64, f64, f64) {
    let pairs: Vec<(f64, f64)> =
        est.iter().zip(var).filter(|(e, v)| e.is_finite() && v.is_finite() && **v > 0.0).map(|(e, v)| (*e, 1.0 / *v)).collect();
    if pairs.len() < 2 {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let wsum: f64 = pairs.iter().map(|p| p.1).sum();
    let mean = pairs.iter().map(|p| p.0 * p.1).sum::<f64>() / wsum;
    let q: f64 = pairs.iter().map(|p| p.1 * (p.0 - mean).powi(2)).sum();
    let dof = (pairs.len() - 1) as f64;
    let i2 = if q > 0.0 { ((q - dof) / q).max(0.0) } else { 0.0 };
    (q, dof, super::dist::chi2_sf(q, dof), i2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(n: f64, s: f64) -> Arm {
        Arm { n, sum: s, sum_sq: s, ..Default::default() }
    }

    fn opts(mode: Mode) -> Options {
        Options { alpha: 0.05, alternative: Alternative::TwoSided, test: Test::Welch, mode }
    }

    // The reference point of issue 14, measured with gbstats 0.8.
    #[test]
    fn gbstats_reference_point() {
        let c = Comparison {
            kind: Kind::Proportion,
            cuped: None,
            control: prop(1000.0, 100.0),
            treatment: prop(1000.0, 120.0),
            external_p: f64::NAN,
            external_stat: f64::NAN,
        };
        let r = compare_one(&c, &opts(Mode::Frequentist));
        assert!((r.diff - 0.02).abs() < 1e-15);
        assert!((r.diff_lower + 0.0074282).abs() < 5e-7 && (r.diff_upper - 0.0474282).abs() < 5e-7);
        assert!((r.p_value - 0.152865).abs() < 5e-7);
        assert!((r.lift_lower + 0.100768).abs() < 5e-7 && (r.lift_upper - 0.500768).abs() < 5e-7);
        assert!((r.lift_p_value - 0.192350).abs() < 5e-7);
        let b = compare_one(&c, &opts(Mode::Bayes { relative: true, prior_mean: 0.0, prior_var: None }));
        assert!((b.chance_to_win - 0.903900).abs() < 5e-7, "{}", b.chance_to_win);
    }

    #[test]
    fn undefined_lift_has_a_reason() {
        let c = Comparison {
            kind: Kind::Proportion,
            cuped: None,
            control: prop(500.0, 0.0),
            treatment: prop(500.0, 4.0),
            external_p: f64::NAN,
            external_stat: f64::NAN,
        };
        let r = compare_one(&c, &opts(Mode::Frequentist));
        assert!(r.lift.is_nan() && r.lift_reason.is_some());
        assert!(r.p_value > 0.0 && r.p_value < 1.0);
    }

    #[test]
    fn heterogeneity_is_zero_for_equal_effects() {
        let (q, dof, p, _) = heterogeneity(&[0.1, 0.1, 0.1], &[0.01, 0.02, 0.03]);
        assert!(q.abs() < 1e-15 && dof == 2.0 && (p - 1.0).abs() < 1e-12);
    }
}
