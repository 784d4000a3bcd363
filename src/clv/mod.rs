//! clv kernels: pure Rust, no pyo3. Buy-till-you-die transaction models (BG/NBD,
//! modified BG/NBD, Pareto/NBD, BG/BB) and the Gamma-Gamma spend model: maximum
//! likelihood on the log-parameter scale with analytic gradients (and analytic
//! Hessians where they are cheap), and the per-customer predictions.

pub mod bgbb;
pub mod bgnbd;
pub mod gamma_gamma;
pub mod optim;
pub mod pareto;
// The special functions now live in `crate::stats` (shared with experiments and alerts).
pub use crate::stats::special;
pub mod summary;

use rayon::prelude::*;

use crate::error::{CrmError, Result};

/// Test helper: the analytic gradient of `f` at `par` equals central differences of
/// its log-likelihood.
#[cfg(test)]
pub(crate) fn assert_gradient_matches(f: impl Fn(&[f64]) -> Acc, par: &[f64]) {
    let base = f(par);
    for j in 0..par.len() {
        let h = 1e-6 * par[j];
        let (mut pp, mut pm) = (par.to_vec(), par.to_vec());
        pp[j] += h;
        pm[j] -= h;
        let num = (f(&pp).ll - f(&pm).ll) / (2.0 * h);
        assert!((num - base.g[j]).abs() < 1e-6 * (1.0 + num.abs()), "{par:?} {j}: {num} vs {}", base.g[j]);
    }
}

/// Stride of the 4x4 Hessian accumulator (3-parameter models use its top-left block).
pub const HESS_STRIDE: usize = 4;

/// Sufficient statistics of the customers, one row per distinct history with its
/// weight. `a`/`b` are (recency, T) for the BTYD models, (recency, n_periods) for
/// BG/BB and (monetary value, unused) for Gamma-Gamma. Rows are sorted by `x` so
/// terms that depend on the frequency alone are computed once per frequency.
#[derive(Clone, Debug, Default)]
pub struct Rows {
    pub x: Vec<f64>,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub w: Vec<f64>,
}

impl Rows {
    pub fn new(x: Vec<f64>, a: Vec<f64>, b: Vec<f64>, w: Vec<f64>) -> Rows {
        // A full-key order makes the summation order, and so the fit, independent
        // of the order the rows arrive in. Sorting packed records keeps it cache-friendly.
        let mut recs: Vec<[f64; 4]> = (0..x.len()).map(|i| [x[i], a[i], b[i], w[i]]).collect();
        recs.par_sort_unstable_by(|p, q| {
            p[0].total_cmp(&q[0]).then(p[1].total_cmp(&q[1])).then(p[2].total_cmp(&q[2])).then(p[3].total_cmp(&q[3]))
        });
        Rows {
            x: recs.iter().map(|r| r[0]).collect(),
            a: recs.iter().map(|r| r[1]).collect(),
            b: recs.iter().map(|r| r[2]).collect(),
            w: recs.iter().map(|r| r[3]).collect(),
        }
    }

    /// Like `new`, and merges identical histories into one row with the summed
    /// weight (rows with zero weight are dropped): CDNOW's 2,357 customers become
    /// 1,016 rows. Merging is a pass over the sorted records.
    pub fn compressed(x: Vec<f64>, a: Vec<f64>, b: Vec<f64>, w: Vec<f64>) -> Rows {
        let sorted = Rows::new(x, a, b, w);
        let mut out = Rows::default();
        for i in 0..sorted.len() {
            if sorted.w[i] == 0.0 {
                continue;
            }
            let k = out.x.len();
            if k > 0 && out.x[k - 1] == sorted.x[i] && out.a[k - 1] == sorted.a[i] && out.b[k - 1] == sorted.b[i] {
                out.w[k - 1] += sorted.w[i];
            } else {
                out.x.push(sorted.x[i]);
                out.a.push(sorted.a[i]);
                out.b.push(sorted.b[i]);
                out.w.push(sorted.w[i]);
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.x.len()
    }

    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    fn scaled(&self, scale: f64) -> Rows {
        Rows {
            x: self.x.clone(),
            a: self.a.iter().map(|v| v * scale).collect(),
            b: self.b.iter().map(|v| v * scale).collect(),
            w: self.w.clone(),
        }
    }
}

/// Weighted log-likelihood with gradient and Hessian in the natural parameters.
#[derive(Clone, Debug)]
pub struct Acc {
    pub ll: f64,
    pub g: [f64; 4],
    pub h: [f64; 16],
    pub ok: bool,
}

impl Default for Acc {
    fn default() -> Self {
        Acc { ll: 0.0, g: [0.0; 4], h: [0.0; 16], ok: true }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BetaGeo,
    ModifiedBetaGeo,
    ParetoNbd,
    BetaGeoBetaBinom,
    GammaGamma,
}

impl Kind {
    pub fn parse(name: &str) -> Result<Kind> {
        Ok(match name {
            "bgnbd" => Kind::BetaGeo,
            "mbgnbd" => Kind::ModifiedBetaGeo,
            "pareto" => Kind::ParetoNbd,
            "bgbb" => Kind::BetaGeoBetaBinom,
            "gamma_gamma" => Kind::GammaGamma,
            other => return Err(CrmError::invalid(format!("unknown CLV model '{other}'"))),
        })
    }

    pub fn n_params(self) -> usize {
        if self == Kind::GammaGamma {
            3
        } else {
            4
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::BetaGeo => "BG/NBD",
            Kind::ModifiedBetaGeo => "modified BG/NBD",
            Kind::ParetoNbd => "Pareto/NBD",
            Kind::BetaGeoBetaBinom => "BG/BB",
            Kind::GammaGamma => "Gamma-Gamma",
        }
    }

    fn has_hessian(self) -> bool {
        matches!(self, Kind::BetaGeo | Kind::ModifiedBetaGeo | Kind::GammaGamma)
    }

    /// Indices of parameters that carry the time unit (rescaled with the data).
    fn time_params(self) -> &'static [usize] {
        match self {
            Kind::BetaGeo | Kind::ModifiedBetaGeo => &[1],
            Kind::ParetoNbd => &[1, 3],
            _ => &[],
        }
    }
}

const CHUNK: usize = 4096;

/// Weighted log-likelihood of all rows, in parallel over fixed chunks summed in a
/// fixed order, so the result does not depend on the number of threads.
pub fn evaluate(kind: Kind, par: &[f64], rows: &Rows, grad: bool, hess: bool) -> Acc {
    let n = rows.len();
    let parts: Vec<Acc> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let lo = c * CHUNK;
            let hi = (lo + CHUNK).min(n);
            let mut acc = Acc::default();
            match kind {
                Kind::BetaGeo => bgnbd::accumulate(par, rows, lo, hi, false, grad, hess, &mut acc),
                Kind::ModifiedBetaGeo => bgnbd::accumulate(par, rows, lo, hi, true, grad, hess, &mut acc),
                Kind::GammaGamma => gamma_gamma::accumulate(par, rows, lo, hi, grad, hess, &mut acc),
                Kind::ParetoNbd => acc.ok = pareto::accumulate(par, rows, lo, hi, grad, &mut acc),
                Kind::BetaGeoBetaBinom => bgbb::accumulate(par, rows, lo, hi, grad, &mut acc),
            }
            acc
        })
        .collect();
    let mut total = Acc::default();
    for p in parts {
        total.ok &= p.ok;
        total.ll += p.ll;
        for k in 0..4 {
            total.g[k] += p.g[k];
        }
        for k in 0..16 {
            total.h[k] += p.h[k];
        }
    }
    if !total.ll.is_finite() {
        total.ok = false;
    }
    total
}

/// The fitted objective on the log-parameter scale: the negative log-likelihood over
/// `div` plus the penalty, its gradient and (when `with_hess`) Hessian in theta.
fn objective_on<'a>(
    kind: Kind,
    rows: &'a Rows,
    div: f64,
    pen: f64,
    with_hess: bool,
) -> impl Fn(&[f64], bool) -> optim::Objective + 'a {
    let np = kind.n_params();
    move |theta: &[f64], want: bool| -> optim::Objective {
        // After an interrupt every evaluation "fails": the optimisers then stop within
        // an evaluation, and `fit` reports the interrupt rather than a non-convergence.
        if crate::interrupt::requested() {
            return optim::Objective { value: f64::INFINITY, grad: vec![0.0; np], hess: None };
        }
        let p: Vec<f64> = theta.iter().map(|t| t.exp()).collect();
        let acc = evaluate(kind, &p, rows, want, want && with_hess);
        if !acc.ok || p.iter().any(|v| !v.is_finite() || *v <= 0.0) {
            return optim::Objective { value: f64::INFINITY, grad: vec![0.0; np], hess: None };
        }
        let value = -acc.ll / div + pen * p.iter().map(|v| v * v).sum::<f64>();
        let fp: Vec<f64> = (0..np).map(|i| -acc.g[i] / div + 2.0 * pen * p[i]).collect();
        let grad: Vec<f64> = (0..np).map(|i| p[i] * fp[i]).collect();
        let hess = (want && with_hess).then(|| {
            let mut h = vec![0.0; np * np];
            for i in 0..np {
                for j in 0..np {
                    let fpp = -acc.h[i * HESS_STRIDE + j] / div + if i == j { 2.0 * pen } else { 0.0 };
                    h[i * np + j] = p[i] * p[j] * fpp + if i == j { p[i] * fp[i] } else { 0.0 };
                }
            }
            h
        });
        optim::Objective { value, grad, hess }
    }
}

fn params_scaled_sq(theta: &[f64]) -> f64 {
    theta.iter().map(|t| (2.0 * t).exp()).sum()
}

/// Result of a fit, in the units of the data given.
#[derive(Clone, Debug)]
pub struct FitResult {
    pub params: Vec<f64>,
    /// Full log-likelihood (sum over customers, with weights) at `params`.
    pub log_likelihood: f64,
    /// The minimised objective, as lifetimes defines it (on time-rescaled data).
    pub objective: f64,
    /// Covariance of the parameters (n x n, row-major) from the inverse Hessian;
    /// None when the Hessian is not positive definite.
    pub covariance: Option<Vec<f64>>,
    pub iterations: usize,
}

pub struct FitOptions {
    pub penalizer: f64,
    /// The objective is -LL / divisor + penalizer * sum(params^2) (lifetimes' choice:
    /// the total weight for most models, the mean weight for Pareto/NBD).
    pub divisor: f64,
    pub initial: Option<Vec<f64>>,
    pub max_iter: usize,
}

/// Maximum-likelihood fit. Time-like columns are rescaled so the longest T is 1 (as
/// lifetimes does, which also defines where the penalty applies); the returned
/// parameters and log-likelihood are in the original units.
pub fn fit(kind: Kind, rows: &Rows, opts: &FitOptions) -> Result<FitResult> {
    let np = kind.n_params();
    if rows.is_empty() {
        return Err(CrmError::invalid(format!("{}: no rows to fit", kind.label())));
    }
    let w_total: f64 = rows.w.iter().sum();
    if !(w_total > 0.0) || !(opts.divisor > 0.0) {
        return Err(CrmError::invalid(format!(
            "{}: the weights sum to {w_total}; they must be positive",
            kind.label()
        )));
    }
    let scale = match kind {
        Kind::BetaGeo | Kind::ModifiedBetaGeo | Kind::ParetoNbd => {
            let m = rows.b.iter().cloned().fold(0.0, f64::max);
            if !(m > 0.0) {
                return Err(CrmError::invalid(format!(
                    "{}: every customer has T = 0 (first purchase at the end of observation); there is no time to learn from",
                    kind.label()
                )));
            }
            1.0 / m
        }
        _ => 1.0,
    };
    let scaled = if scale != 1.0 { rows.scaled(scale) } else { rows.clone() };
    let pen = opts.penalizer;
    let div = opts.divisor;
    let with_hess = kind.has_hessian();
    let objective = objective_on(kind, &scaled, div, pen, with_hess);
    let x0: Vec<f64> = match &opts.initial {
        Some(init) => {
            let mut v: Vec<f64> = init.clone();
            for &i in kind.time_params() {
                v[i] *= scale;
            }
            v.iter().map(|p| p.ln()).collect()
        }
        None => vec![0.1; np],
    };
    if x0.len() != np || x0.iter().any(|v| !v.is_finite()) {
        return Err(CrmError::invalid(format!("{}: initial_params must be {np} positive numbers", kind.label())));
    }
    // Gradient tolerance per customer (the Pareto/NBD objective is a sum, not a mean).
    let gtol = 1e-9 * (w_total / div).max(1.0);
    // Without an analytic Hessian, BFGS stops earlier and Newton steps with a
    // Hessian from differences of the analytic gradient finish the job.
    let bfgs_tol = if with_hess { gtol } else { 1e-6 * (w_total / div).max(1.0) };
    // Large data: warm-start from a fit on every k-th (sorted, so deterministic) row,
    // weights scaled by k; the full-data fit then needs only a few evaluations.
    let mut x0 = x0;
    let subsample = (scaled.len() > 40_000).then(|| {
        let k = scaled.len() / 20_000;
        let pick = |v: &Vec<f64>| v.iter().step_by(k).copied().collect::<Vec<f64>>();
        Rows { x: pick(&scaled.x), a: pick(&scaled.a), b: pick(&scaled.b), w: pick(&scaled.w) }
    });
    if let (Some(sub), true) = (&subsample, with_hess) {
        // Newton with the analytic Hessian on the subsample, then on the full data.
        let sub_w: f64 = sub.w.iter().sum();
        let sub_obj = objective_on(kind, sub, div * sub_w / w_total, pen, true);
        let warm = optim::minimize(&sub_obj, &x0, 1e-6 * (w_total / div).max(1.0), opts.max_iter);
        if warm.value.is_finite() && objective(&warm.x, false).value.is_finite() {
            x0 = warm.x;
        }
    }
    if let (Some(sub), false) = (&subsample, with_hess) {
        let sub_w: f64 = sub.w.iter().sum();
        let sub_div = div * sub_w / w_total;
        let sub_obj = objective_on(kind, sub, sub_div, pen, false);
        let warm = optim::minimize(&sub_obj, &x0, 1e-5 * (sub_w / sub_div).max(1.0), opts.max_iter);
        if warm.value.is_finite() && objective(&warm.x, false).value.is_finite() {
            // The subsample's Hessian (same normalisation as the full objective) drives
            // Newton steps on the full data: linear convergence at the rate of the
            // subsample's Hessian error, a few full evaluations instead of a BFGS run.
            let h_sub = optim::hessian_from_gradient(|t| sub_obj(t, true).grad, &warm.x);
            let mut x = warm.x.clone();
            let mut cur = objective(&x, true);
            for _ in 0..30 {
                let gmax = cur.grad.iter().fold(0.0_f64, |a, g| a.max(g.abs()));
                if !cur.value.is_finite() || gmax < bfgs_tol {
                    break;
                }
                let neg: Vec<f64> = cur.grad.iter().map(|g| -g).collect();
                let Some(d) = optim::cholesky_solve(&h_sub, &neg, np) else { break };
                let mut t = 1.0;
                let mut next = None;
                for _ in 0..20 {
                    let xn: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + t * b).collect();
                    let e = objective(&xn, true);
                    if e.value.is_finite() && e.value <= cur.value {
                        next = Some((xn, e));
                        break;
                    }
                    t *= 0.5;
                }
                let Some((xn, e)) = next else { break };
                x = xn;
                cur = e;
            }
            x0 = if cur.value.is_finite() { x } else { warm.x };
        }
    }
    let mut m = optim::minimize(&objective, &x0, bfgs_tol, opts.max_iter);
    if !with_hess && m.converged {
        // One Hessian from gradient differences at the BFGS answer serves the Newton
        // polish (the point moves by less than the BFGS tolerance) and the covariance.
        let h = optim::hessian_from_gradient(|t| objective(t, true).grad, &m.x);
        for _ in 0..6 {
            let gmax = m.grad.iter().fold(0.0_f64, |a, g| a.max(g.abs()));
            if gmax < gtol {
                break;
            }
            let neg: Vec<f64> = m.grad.iter().map(|g| -g).collect();
            let Some(d) = optim::cholesky_solve(&h, &neg, np) else { break };
            let mut t = 1.0;
            let mut improved = false;
            for _ in 0..20 {
                let xn: Vec<f64> = m.x.iter().zip(&d).map(|(a, b)| a + t * b).collect();
                let e = objective(&xn, true);
                if e.value.is_finite() && e.value <= m.value {
                    m.x = xn;
                    m.value = e.value;
                    m.grad = e.grad;
                    improved = true;
                    break;
                }
                t *= 0.5;
            }
            if !improved {
                break;
            }
        }
        m.hess = Some(h);
    }
    crate::interrupt::check()?;
    if m.iterations == 0 && !m.value.is_finite() {
        return Err(CrmError::NotConverged(format!(
            "{}: the log-likelihood cannot be evaluated at the starting values; pass initial_params",
            kind.label()
        )));
    }
    if !m.converged || !m.value.is_finite() {
        let gnorm = m.grad.iter().fold(0.0_f64, |a, g| a.max(g.abs()));
        return Err(CrmError::NotConverged(format!(
            "{} fit did not converge after {} iterations (largest gradient {gnorm:.3e}, parameters {:?}). \
             The data may not identify the model (for example very few repeat buyers, or all customers \
             with the same history); try a small penalizer_coef such as 0.001.",
            kind.label(),
            m.iterations,
            m.x.iter().map(|t| t.exp()).collect::<Vec<_>>()
        )));
    }
    let h_theta =
        if let Some(h) = m.hess.clone() { h } else { optim::hessian_from_gradient(|t| objective(t, true).grad, &m.x) };
    let mut params: Vec<f64> = m.x.iter().map(|t| t.exp()).collect();
    for &i in kind.time_params() {
        params[i] /= scale;
    }
    // Covariance of log-parameters of the total (not averaged) objective, then the
    // delta method to the parameters.
    let covariance = optim::inverse_spd(&h_theta, np).map(|inv| {
        let mut c = vec![0.0; np * np];
        for i in 0..np {
            for j in 0..np {
                c[i * np + j] = params[i] * params[j] * inv[i * np + j] / div;
            }
        }
        c
    });
    // Rescaling time by c multiplies each customer's likelihood by c^x (x event
    // densities), so the log-likelihood in the original units is the one on the
    // rescaled data plus ln(c) * sum(w x).
    let scaled_ll = (m.value - pen * params_scaled_sq(&m.x)) * -div;
    let wx: f64 = rows.x.iter().zip(&rows.w).map(|(x, w)| x * w).sum();
    let log_likelihood = scaled_ll + scale.ln() * wx;
    if !log_likelihood.is_finite() {
        return Err(CrmError::NotConverged(format!(
            "{}: the fitted parameters {params:?} give a non-finite log-likelihood",
            kind.label()
        )));
    }
    Ok(FitResult { params, log_likelihood, objective: m.value, covariance, iterations: m.iterations })
}

/// What to predict per customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Expected repeat purchases in the next t periods given the history.
    Expected,
    /// Probability the customer is alive (BG/BB: at n + t).
    Alive,
    /// Expected purchases of a new customer in t periods (history ignored).
    Unconditional,
    /// Per-customer log-likelihood.
    LogLik,
    /// P(no purchase in (T, T+t] | history): the BTYD churn score, dead or alive.
    NoPurchase,
}

impl Target {
    pub fn parse(name: &str) -> Result<Target> {
        Ok(match name {
            "expected" => Target::Expected,
            "p_alive" => Target::Alive,
            "unconditional" => Target::Unconditional,
            "loglik" => Target::LogLik,
            "p_no_purchase" => Target::NoPurchase,
            other => return Err(CrmError::invalid(format!("unknown prediction '{other}'"))),
        })
    }
}

/// One prediction for one customer (x, t_x, T).
pub fn predict_one(kind: Kind, target: Target, par: &[f64], t: f64, x: f64, tx: f64, t_big: f64) -> f64 {
    match (kind, target) {
        (Kind::BetaGeo | Kind::ModifiedBetaGeo, Target::Expected) => {
            bgnbd::conditional_expected(par, kind == Kind::ModifiedBetaGeo, t, x, tx, t_big)
        }
        (Kind::BetaGeo | Kind::ModifiedBetaGeo, Target::Alive) => {
            bgnbd::probability_alive(par, kind == Kind::ModifiedBetaGeo, x, tx, t_big)
        }
        (Kind::BetaGeo | Kind::ModifiedBetaGeo, Target::Unconditional) => {
            bgnbd::expected(par, kind == Kind::ModifiedBetaGeo, t)
        }
        (Kind::BetaGeo | Kind::ModifiedBetaGeo, Target::NoPurchase) => {
            bgnbd::probability_no_purchase(par, kind == Kind::ModifiedBetaGeo, t, x, tx, t_big)
        }
        // Fader & Hardie's conditional PMF at n = 0 already holds the dead mass.
        (Kind::ParetoNbd, Target::NoPurchase) => pareto::conditional_pmf(par, 0.0, t, x, tx, t_big),
        (Kind::ParetoNbd, Target::Expected) => pareto::conditional_expected(par, t, x, tx, t_big),
        (Kind::ParetoNbd, Target::Alive) => pareto::probability_alive(par, x, tx, t_big),
        (Kind::ParetoNbd, Target::Unconditional) => {
            let (r, al, s, be) = (par[0], par[1], par[2], par[3]);
            r * be / al / (s - 1.0) * (1.0 - (be / (be + t)).powf(s - 1.0))
        }
        (Kind::BetaGeoBetaBinom, Target::Expected) => bgbb::conditional_expected(par, t, x, tx, t_big),
        (Kind::BetaGeoBetaBinom, Target::Alive) => bgbb::probability_alive(par, t, x, tx, t_big),
        (Kind::GammaGamma, Target::Expected) => gamma_gamma::conditional_expected_average_profit(par, x, tx),
        (_, Target::LogLik) => {
            let mut acc = Acc::default();
            let rows = Rows { x: vec![x], a: vec![tx], b: vec![t_big], w: vec![1.0] };
            let acc = {
                match kind {
                    Kind::BetaGeo => bgnbd::accumulate(par, &rows, 0, 1, false, false, false, &mut acc),
                    Kind::ModifiedBetaGeo => bgnbd::accumulate(par, &rows, 0, 1, true, false, false, &mut acc),
                    Kind::GammaGamma => gamma_gamma::accumulate(par, &rows, 0, 1, false, false, &mut acc),
                    Kind::ParetoNbd => {
                        acc.ok = pareto::accumulate(par, &rows, 0, 1, false, &mut acc);
                    }
                    Kind::BetaGeoBetaBinom => bgbb::accumulate(par, &rows, 0, 1, false, &mut acc),
                }
                acc
            };
            if acc.ok {
                acc.ll
            } else {
                f64::NAN
            }
        }
        _ => f64::NAN,
    }
}

/// Checks the parameters and that every argument has length 1 or the common length n;
/// returns n.
fn check_arguments(kind: Kind, par: &[f64], args: &[(&str, &[f64])]) -> Result<usize> {
    if par.len() != kind.n_params() || par.iter().any(|p| !(p.is_finite() && *p > 0.0)) {
        return Err(CrmError::invalid(format!(
            "{}: expected {} positive parameters, found {par:?}",
            kind.label(),
            kind.n_params()
        )));
    }
    let n = args.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    for (name, v) in args {
        if v.len() != 1 && v.len() != n {
            return Err(CrmError::invalid(format!(
                "{}: argument '{name}' has length {} but the others have length {n}",
                kind.label(),
                v.len()
            )));
        }
    }
    Ok(n)
}

#[inline]
fn broadcast(v: &[f64], i: usize) -> f64 {
    if v.len() == 1 {
        v[0]
    } else {
        v[i]
    }
}

/// Vectorised predictions; `t` and the columns broadcast (length 1 or n).
pub fn predict(
    kind: Kind,
    target: Target,
    par: &[f64],
    t: &[f64],
    x: &[f64],
    tx: &[f64],
    t_big: &[f64],
) -> Result<Vec<f64>> {
    let supported = match (kind, target) {
        (_, Target::LogLik) => true,
        (Kind::GammaGamma, t) => t == Target::Expected,
        (Kind::BetaGeoBetaBinom, t) => matches!(t, Target::Expected | Target::Alive),
        _ => true,
    };
    if !supported {
        return Err(CrmError::invalid(format!(
            "{}: the prediction '{target:?}' is not defined for this model",
            kind.label()
        )));
    }
    let n = check_arguments(kind, par, &[("t", t), ("frequency", x), ("recency", tx), ("T", t_big)])?;
    Ok((0..n)
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| {
            predict_one(kind, target, par, broadcast(t, i), broadcast(x, i), broadcast(tx, i), broadcast(t_big, i))
        })
        .collect())
}

/// Purchase counts must be whole numbers (at most 10,000: the PMFs sum n terms) and
/// horizons finite and non-negative.
fn check_counts(kind: Kind, n: &[f64], t: &[f64]) -> Result<()> {
    if let Some(bad) = n.iter().find(|v| !(v.is_finite() && **v >= 0.0 && v.fract() == 0.0 && **v <= 10_000.0)) {
        return Err(CrmError::invalid(format!(
            "{}: n must be whole numbers from 0 to 10,000, found {bad}",
            kind.label()
        )));
    }
    if let Some(bad) = t.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return Err(CrmError::invalid(format!("{}: t must be finite and >= 0, found {bad}", kind.label())));
    }
    Ok(())
}

/// P(n purchases in the next t periods | history), vectorised like `predict`; defined
/// for Pareto/NBD (as in lifetimes). `n` must hold whole numbers >= 0.
pub fn conditional_pmf(
    kind: Kind,
    par: &[f64],
    n: &[f64],
    t: &[f64],
    x: &[f64],
    tx: &[f64],
    t_big: &[f64],
) -> Result<Vec<f64>> {
    if kind != Kind::ParetoNbd {
        return Err(CrmError::invalid(format!(
            "{}: the conditional PMF is defined here for Pareto/NBD only",
            kind.label()
        )));
    }
    check_counts(kind, n, t)?;
    let len = check_arguments(kind, par, &[("n", n), ("t", t), ("frequency", x), ("recency", tx), ("T", t_big)])?;
    let at = broadcast;
    Ok((0..len)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| pareto::conditional_pmf(par, at(n, i), at(t, i), at(x, i), at(tx, i), at(t_big, i)))
        .collect())
}

/// P(X(t) = n) for a customer just acquired, vectorised (n and t broadcast): BG/NBD,
/// modified BG/NBD and Pareto/NBD.
pub fn count_pmf(kind: Kind, par: &[f64], n: &[f64], t: &[f64]) -> Result<Vec<f64>> {
    if !matches!(kind, Kind::BetaGeo | Kind::ModifiedBetaGeo | Kind::ParetoNbd) {
        return Err(CrmError::invalid(format!(
            "{}: the purchase-count PMF is defined for BG/NBD, modified BG/NBD and Pareto/NBD",
            kind.label()
        )));
    }
    check_counts(kind, n, t)?;
    let len = check_arguments(kind, par, &[("n", n), ("t", t)])?;
    Ok((0..len)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| {
            let (ni, ti) = (broadcast(n, i), broadcast(t, i));
            match kind {
                Kind::ParetoNbd => pareto::conditional_pmf(par, ni, ti, 0.0, 0.0, 0.0),
                _ => bgnbd::count_pmf(par, kind == Kind::ModifiedBetaGeo, ti, ni),
            }
        })
        .collect())
}

/// BG/BB: P(X(n) = x) for x = 0..=n (purchases of a new customer in the first n
/// opportunities).
pub fn bgbb_count_distribution(par: &[f64], n: u32) -> Result<Vec<f64>> {
    check_arguments(Kind::BetaGeoBetaBinom, par, &[])?;
    if n > 5_000 {
        return Err(CrmError::invalid(format!("BG/BB: n must be at most 5,000 transaction opportunities, found {n}")));
    }
    Ok((0..=n).into_par_iter().map(|x| bgbb::count_pmf(par, n, x)).collect())
}

/// Discounted customer lifetime value as lifetimes computes it: the sum over months
/// i = 1..months of spend * (E[X(i*factor)] - E[X((i-1)*factor)]) / (1+rate)^i.
#[allow(clippy::too_many_arguments)]
pub fn lifetime_value(
    kind: Kind,
    par: &[f64],
    months: usize,
    factor: f64,
    discount_rate: f64,
    x: f64,
    tx: f64,
    t_big: f64,
    spend: f64,
) -> f64 {
    let mut clv = 0.0;
    let mut prev = 0.0;
    for i in 1..=months {
        let t = i as f64 * factor;
        let cur = predict_one(kind, Target::Expected, par, t, x, tx, t_big);
        clv += spend * (cur - prev) / (1.0 + discount_rate).powf(t / factor);
        prev = cur;
    }
    clv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluation_does_not_depend_on_thread_count() {
        let n = 20_000;
        let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
        let tx: Vec<f64> = (0..n).map(|i| if i % 7 == 0 { 0.0 } else { (i % 13) as f64 }).collect();
        let t: Vec<f64> = (0..n).map(|i| 13.0 + (i % 5) as f64).collect();
        let rows = Rows::new(x, tx, t, vec![1.0; n]);
        let p = [0.3, 4.0, 0.8, 2.4];
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let a = one.install(|| evaluate(Kind::BetaGeo, &p, &rows, true, true));
        let b = evaluate(Kind::BetaGeo, &p, &rows, true, true);
        assert_eq!(a.ll.to_bits(), b.ll.to_bits());
        assert_eq!(a.g, b.g);
    }

    #[test]
    fn fit_recovers_bgnbd_on_a_known_optimum() {
        // Fit, then check the gradient of the full likelihood vanishes at the answer.
        let x = vec![0.0, 0.0, 1.0, 2.0, 3.0, 0.0, 5.0, 1.0, 2.0, 0.0];
        let tx = vec![0.0, 0.0, 10.0, 20.0, 30.0, 0.0, 35.0, 3.0, 28.0, 0.0];
        let t = vec![40.0, 38.0, 39.0, 40.0, 37.0, 36.0, 40.0, 40.0, 39.0, 35.0];
        let rows = Rows::new(x, tx, t, vec![1.0; 10]);
        let opts = FitOptions { penalizer: 0.0, divisor: 10.0, initial: None, max_iter: 500 };
        let fit = fit(Kind::BetaGeo, &rows, &opts).unwrap();
        let acc = evaluate(Kind::BetaGeo, &fit.params, &rows, true, false);
        for k in 0..4 {
            assert!((acc.g[k] * fit.params[k]).abs() < 1e-5, "{:?}", acc.g);
        }
    }

    #[test]
    fn log_likelihood_is_reported_in_original_units() {
        let x = vec![0.0, 0.0, 1.0, 2.0, 3.0, 0.0, 5.0, 1.0, 2.0, 0.0];
        let tx = vec![0.0, 0.0, 10.0, 20.0, 30.0, 0.0, 35.0, 3.0, 28.0, 0.0];
        let t = vec![40.0, 38.0, 39.0, 40.0, 37.0, 36.0, 40.0, 40.0, 39.0, 35.0];
        let rows = Rows::new(x, tx, t, vec![1.0; 10]);
        for kind in [Kind::BetaGeo, Kind::ParetoNbd, Kind::ModifiedBetaGeo] {
            let opts = FitOptions { penalizer: 0.01, divisor: 10.0, initial: None, max_iter: 500 };
            let fit = fit(kind, &rows, &opts).unwrap();
            let direct = evaluate(kind, &fit.params, &rows, false, false).ll;
            assert!((fit.log_likelihood - direct).abs() < 1e-9 * direct.abs(), "{kind:?}");
        }
    }

    #[test]
    fn compression_merges_identical_histories() {
        let rows = Rows::compressed(
            vec![1.0, 0.0, 1.0, 1.0],
            vec![2.0, 0.0, 2.0, 3.0],
            vec![5.0, 5.0, 5.0, 5.0],
            vec![1.0, 2.0, 3.0, 0.0],
        );
        assert_eq!(rows.x, vec![0.0, 1.0]);
        assert_eq!(rows.w, vec![2.0, 4.0]);
    }

    #[test]
    fn all_zero_t_is_an_error() {
        let rows = Rows::new(vec![0.0], vec![0.0], vec![0.0], vec![1.0]);
        let opts = FitOptions { penalizer: 0.0, divisor: 1.0, initial: None, max_iter: 100 };
        assert!(matches!(fit(Kind::BetaGeo, &rows, &opts), Err(CrmError::InvalidInput(_))));
    }
}
