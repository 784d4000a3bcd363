//! ARIMA estimation, forecasting and automatic order selection.
//!
//! Behaves as statsforecast's `AutoARIMA`/`ARIMA` (which follow R's `stats::arima` and
//! `forecast::auto.arima`, Hyndman & Khandakar 2008): CSS start then exact Gaussian
//! likelihood through the Kalman filter (`kalman.rs`), AR parameters optimised through
//! the partial-autocorrelation (tanh) transform, AICc, KPSS for `d`, the seasonal-strength
//! rule for `D`, the same stepwise neighbourhood and model budget, drift as a regressor
//! on time, intervals from the state-space forecast variance. Where statsforecast departs
//! from R in a way that changes results, we follow statsforecast and say so inline.

use crate::error::{CrmError, Result};
use crate::forecast::kalman::{arima_like, kalman_forecast, StateSpace};
use crate::forecast::optim::bfgs;
use crate::forecast::unit_root::{kpss_stat, seasonal_strength};

/// Estimation method (R/statsforecast names: "CSS-ML", "ML", "CSS").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    CssMl,
    Ml,
    Css,
}

impl Method {
    pub fn parse(s: &str) -> Result<Method> {
        match s.to_ascii_uppercase().as_str() {
            "CSS-ML" => Ok(Method::CssMl),
            "ML" => Ok(Method::Ml),
            "CSS" => Ok(Method::Css),
            other => Err(CrmError::invalid(format!("method must be 'CSS-ML', 'ML' or 'CSS', got '{other}'"))),
        }
    }
}

/// Orders in R's `arma` layout: p, q, P, Q, period, d, D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arma {
    pub p: usize,
    pub q: usize,
    pub sp: usize,
    pub sq: usize,
    pub s: usize,
    pub d: usize,
    pub sd: usize,
}

impl Arma {
    fn narma(&self) -> usize {
        self.p + self.q + self.sp + self.sq
    }
}

/// A regressor column of the ARIMA model (the ones auto.arima uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regressor {
    Intercept,
    /// Time index 1..n (a linear drift in the undifferenced series).
    Drift,
}

/// A fitted ARIMA model.
#[derive(Debug, Clone)]
pub struct ArimaFit {
    pub arma: Arma,
    /// ar, ma, sar, sma, then one coefficient per regressor.
    pub coef: Vec<f64>,
    pub regressors: Vec<Regressor>,
    pub sigma2: f64,
    pub loglik: f64,
    pub aic: f64,
    pub aicc: f64,
    pub bic: f64,
    /// Standardised innovations (R's residuals); fitted = y - residuals.
    pub residuals: Vec<f64>,
    pub nobs: usize,
    pub model: StateSpace,
    /// Number of estimated (not fixed) coefficients.
    pub n_free: usize,
    var_ok: bool,
    pub x: Vec<f64>,
}

impl ArimaFit {
    /// "ARIMA(1,1,1)(0,1,1)[12] with drift", as statsforecast's `arima_string`.
    pub fn describe(&self) -> String {
        let a = self.arma;
        let mut s = format!("ARIMA({},{},{})", a.p, a.d, a.q);
        if a.s > 1 && a.sp + a.sd + a.sq > 0 {
            s.push_str(&format!("({},{},{})[{}]", a.sp, a.sd, a.sq, a.s));
        }
        if self.regressors.contains(&Regressor::Drift) {
            s.push_str(" with drift");
        } else if self.regressors.contains(&Regressor::Intercept) {
            s.push_str(" with non-zero mean");
        } else if a.d == 0 && a.sd == 0 {
            s.push_str(" with zero mean");
        }
        s
    }

    pub fn fitted(&self) -> Vec<f64> {
        self.x.iter().zip(&self.residuals).map(|(x, r)| if r.is_nan() { f64::NAN } else { x - r }).collect()
    }

    /// Point forecasts and standard errors for h steps.
    pub fn predict(&self, h: usize) -> (Vec<f64>, Vec<f64>) {
        if is_constant(&self.x) {
            return (vec![self.x[0]; h], vec![0.0; h]);
        }
        let (mut fc, var) = kalman_forecast(&self.model, h);
        let narma = self.arma.narma();
        let n = self.x.len() as f64;
        for (k, reg) in self.regressors.iter().enumerate() {
            let c = self.coef[narma + k];
            for (i, f) in fc.iter_mut().enumerate() {
                *f += match reg {
                    Regressor::Intercept => c,
                    Regressor::Drift => c * (n + 1.0 + i as f64),
                };
            }
        }
        let se = var.iter().map(|v| (v * self.sigma2).sqrt()).collect();
        (fc, se)
    }
}

pub fn is_constant(x: &[f64]) -> bool {
    x.iter().all(|v| *v == x[0])
}

// ---------------------------------------------------------------------------------------
// Parameter transforms (R's partrans / invpartrans / transpar)

fn partrans(p: usize, raw: &[f64], out: &mut [f64]) {
    for i in 0..p {
        out[i] = raw[i].tanh();
    }
    let mut work: Vec<f64> = out[..p].to_vec();
    for j in 1..p {
        let a = out[j];
        for k in 0..j {
            work[k] -= a * out[j - k - 1];
        }
        out[..j].copy_from_slice(&work[..j]);
    }
}

fn invpartrans(p: usize, phi: &[f64], out: &mut [f64]) {
    out[..p].copy_from_slice(&phi[..p]);
    let mut work: Vec<f64> = phi[..p].to_vec();
    for j in (1..p).rev() {
        let a = out[j];
        for k in 0..j {
            work[k] = (out[k] + a * out[j - k - 1]) / (1.0 - a * a);
        }
        out[..j].copy_from_slice(&work[..j]);
    }
    for v in out[..p].iter_mut() {
        *v = v.atanh();
    }
}

/// Expanded AR and MA polynomials (non-seasonal × seasonal) from the coefficient vector.
fn transpar(params: &[f64], arma: &Arma, trans: bool, phi: &mut Vec<f64>, theta: &mut Vec<f64>) {
    let (mp, mq, msp, msq, ns) = (arma.p, arma.q, arma.sp, arma.sq, arma.s);
    let p = mp + ns * msp;
    let q = mq + ns * msq;
    let mut par = params.to_vec();
    if trans {
        if mp > 0 {
            partrans(mp, params, &mut par);
        }
        let v = mp + mq;
        if msp > 0 {
            partrans(msp, &params[v..], &mut par[v..]);
        }
    }
    phi.clear();
    phi.resize(p, 0.0);
    theta.clear();
    theta.resize(q, 0.0);
    phi[..mp].copy_from_slice(&par[..mp]);
    theta[..mq].copy_from_slice(&par[mp..mp + mq]);
    if ns > 0 {
        for j in 0..msp {
            phi[(j + 1) * ns - 1] += par[j + mp + mq];
            for i in 0..mp {
                phi[(j + 1) * ns + i] -= par[i] * par[j + mp + mq];
            }
        }
        for j in 0..msq {
            theta[(j + 1) * ns - 1] += par[j + mp + mq + msp];
            for i in 0..mq {
                theta[(j + 1) * ns + i] += par[i + mp] * par[j + mp + mq + msp];
            }
        }
    }
}

fn undopars(x: &[f64], arma: &Arma) -> Vec<f64> {
    let mut out = x.to_vec();
    if arma.p > 0 {
        partrans(arma.p, x, &mut out);
    }
    let v = arma.p + arma.q;
    if arma.sp > 0 {
        partrans(arma.sp, &x[v..], &mut out[v..]);
    }
    out
}

fn gradtrans(x: &[f64], arma: &Arma) -> Vec<f64> {
    let eps = 1e-3;
    let n = x.len();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        out[i * n + i] = 1.0;
    }
    let mut block = |off: usize, len: usize| {
        if len == 0 {
            return;
        }
        let mut w1 = x[off..off + len].to_vec();
        let mut w2 = vec![0.0; len];
        let mut w3 = vec![0.0; len];
        partrans(len, &w1, &mut w2);
        for i in 0..len {
            w1[i] += eps;
            partrans(len, &w1, &mut w3);
            for j in 0..len {
                out[n * (i + off) + j + off] = (w3[j] - w2[j]) / eps;
            }
            w1[i] -= eps;
        }
    };
    block(0, arma.p);
    block(arma.p + arma.q, arma.sp);
    out
}

fn inv_trans(x: &[f64], arma: &Arma) -> Vec<f64> {
    let mut y = x.to_vec();
    if arma.p > 0 {
        invpartrans(arma.p, x, &mut y);
    }
    let v = arma.p + arma.q;
    if arma.sp > 0 {
        invpartrans(arma.sp, &x[v..], &mut y[v..]);
    }
    y
}

/// Conditional sum of squares (R's ARIMA_CSS): mean squared one-step error after the
/// first p + d + s(P + D) points.
fn arima_css(y: &[f64], arma: &Arma, phi: &[f64], theta: &[f64], resid: &mut Vec<f64>, w: &mut Vec<f64>) -> f64 {
    let n = y.len();
    let p = phi.len();
    let q = theta.len();
    let ncond = arma.p + arma.d + arma.s * (arma.sp + arma.sd);
    resid.clear();
    resid.resize(n, 0.0);
    w.clear();
    w.extend_from_slice(y);
    for _ in 0..arma.d {
        for l in (1..n).rev() {
            w[l] -= w[l - 1];
        }
    }
    let ns = arma.s;
    for _ in 0..arma.sd {
        for l in (ns..n).rev() {
            w[l] -= w[l - ns];
        }
    }
    let mut nu = 0usize;
    let mut ssq = 0.0;
    for l in ncond..n {
        let mut tmp = w[l];
        for j in 0..p {
            tmp -= phi[j] * w[l - j - 1];
        }
        for j in 0..(l - ncond).min(q) {
            tmp -= theta[j] * resid[l - j - 1];
        }
        resid[l] = tmp;
        if !tmp.is_nan() {
            nu += 1;
            ssq += tmp * tmp;
        }
    }
    ssq / nu as f64
}

fn diff(x: &[f64], lag: usize, differences: usize) -> Vec<f64> {
    let mut y = x.to_vec();
    for _ in 0..differences {
        if y.len() <= lag {
            return Vec::new();
        }
        y = (lag..y.len()).map(|i| y[i] - y[i - lag]).collect();
    }
    y
}

/// Roots of 1 - a1 z - ... - ak z^k all have modulus >= `bound` (Schur–Cohn step-down on
/// the rescaled polynomial: the same recursion as the inverse PACF transform).
fn roots_outside(a: &[f64], bound: f64) -> bool {
    let mut c: Vec<f64> = a.iter().enumerate().map(|(k, v)| v * bound.powi(k as i32 + 1)).collect();
    while c.last() == Some(&0.0) {
        c.pop();
    }
    for j in (0..c.len()).rev() {
        let kappa = c[j];
        if !(kappa.abs() < 1.0) {
            return false;
        }
        let prev = c.clone();
        for k in 0..j {
            c[k] = (prev[k] + kappa * prev[j - k - 1]) / (1.0 - kappa * kappa);
        }
        c.truncate(j);
    }
    true
}

/// Full specification of one ARIMA fit.
#[derive(Debug, Clone)]
pub struct ArimaSpec {
    pub order: (usize, usize, usize),
    pub seasonal: (usize, usize, usize),
    pub period: usize,
    pub include_mean: bool,
    pub include_drift: bool,
    pub method: Method,
    /// Coefficients held fixed (NaN = estimate), in `coef` order.
    pub fixed: Option<Vec<f64>>,
}

/// R's/statsforecast's `arima()` restricted to intercept/drift regressors.
fn arima_core(x0: &[f64], spec: &ArimaSpec, extra: &[Regressor]) -> Result<ArimaFit> {
    let (p, d, q) = spec.order;
    let (sp, sd, sq) = spec.seasonal;
    let s = if spec.period == 0 { 1 } else { spec.period };
    let arma = Arma { p, q, sp, sq, s, d, sd };
    let narma = arma.narma();
    let n = x0.len();
    let mut delta = vec![1.0];
    let conv = |a: &[f64], b: &[f64]| {
        let mut out = vec![0.0; a.len() + b.len() - 1];
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                out[i + j] += x * y;
            }
        }
        out
    };
    for _ in 0..d {
        delta = conv(&delta, &[1.0, -1.0]);
    }
    for _ in 0..sd {
        let mut b = vec![0.0; s + 1];
        b[0] = 1.0;
        b[s] = -1.0;
        delta = conv(&delta, &b);
    }
    let delta: Vec<f64> = delta[1..].iter().map(|v| -v).collect();
    let nd = d + sd;
    let mut regs: Vec<Regressor> = Vec::new();
    if spec.include_mean && nd == 0 {
        regs.push(Regressor::Intercept);
    }
    regs.extend_from_slice(extra);
    let ncxreg = regs.len();
    let xreg: Vec<Vec<f64>> = regs
        .iter()
        .map(|r| match r {
            Regressor::Intercept => vec![1.0; n],
            Regressor::Drift => (1..=n).map(|t| t as f64).collect(),
        })
        .collect();
    let nobs_x = x0.iter().filter(|v| !v.is_nan()).count();
    if nobs_x <= delta.len() {
        return Err(CrmError::invalid("too few non-missing observations for this ARIMA order"));
    }
    let n_used = nobs_x - delta.len();
    let mut method = spec.method;
    if method == Method::CssMl && x0.iter().any(|v| v.is_nan()) {
        method = Method::Ml;
    }
    let ncond = if method == Method::Ml { 0 } else { d + sd * s + p + sp * s };
    let _ = ncond;
    let fixed = match &spec.fixed {
        Some(f) => {
            if f.len() != narma + ncxreg {
                return Err(CrmError::invalid(format!(
                    "fixed must have {} coefficients (ar, ma, sar, sma, regressors), got {}",
                    narma + ncxreg,
                    f.len()
                )));
            }
            f.clone()
        }
        None => vec![f64::NAN; narma + ncxreg],
    };
    let mask: Vec<bool> = fixed.iter().map(|v| v.is_nan()).collect();
    let n_free = mask.iter().filter(|m| **m).count();
    let no_optim = n_free == 0;
    let mut transform = !no_optim;
    if transform && ((0..p).any(|i| !mask[i]) || (0..sp).any(|i| !mask[p + q + i])) {
        transform = false;
    }
    // Intercept and drift: starting values from least squares on the differenced data.
    let mut init = vec![0.0; narma];
    if ncxreg > 0 {
        let sdiff = if s > 1 { sd } else { 0 };
        let dx = diff(&diff(x0, 1, d), s, sdiff);
        let dxreg: Vec<Vec<f64>> = xreg.iter().map(|c| diff(&diff(c, 1, d), s, sdiff)).collect();
        let beta = ols(&dx, &dxreg);
        init.extend_from_slice(&beta);
    }
    // Working copy of the regression-adjusted series.
    let adjust = |par: &[f64], out: &mut Vec<f64>| {
        out.clear();
        out.extend_from_slice(x0);
        for (k, col) in xreg.iter().enumerate() {
            let b = par[narma + k];
            for (o, c) in out.iter_mut().zip(col) {
                *o -= b * c;
            }
        }
    };
    let mut coef = fixed.clone();
    let free_of = |v: &[f64]| -> Vec<f64> { v.iter().zip(&mask).filter(|(_, m)| **m).map(|(v, _)| *v).collect() };
    let fill = |base: &[f64], free: &[f64]| -> Vec<f64> {
        let mut out = base.to_vec();
        let mut k = 0;
        for (o, m) in out.iter_mut().zip(&mask) {
            if *m {
                *o = free[k];
                k += 1;
            }
        }
        out
    };
    let mut xbuf = Vec::with_capacity(n);
    let mut rbuf = Vec::with_capacity(n);
    let mut wbuf = Vec::with_capacity(n);
    let mut phi = Vec::new();
    let mut theta = Vec::new();
    let mut css_obj = |free: &[f64]| -> f64 {
        let par = fill(&coef, free);
        transpar(&par, &arma, false, &mut phi, &mut theta);
        adjust(&par, &mut xbuf);
        let res = arima_css(&xbuf, &arma, &phi, &theta, &mut rbuf, &mut wbuf);
        if res.is_infinite() {
            return f64::MAX;
        }
        if res <= 0.0 {
            return f64::NEG_INFINITY;
        }
        0.5 * res.ln()
    };
    let start = fill(&fixed, &free_of(&init));
    let mut init = start;
    let fun: f64;
    let var_ok: bool;
    if method == Method::Css {
        let res = if no_optim {
            crate::forecast::optim::Minimum { x: vec![], fun: 0.0, hess_inv: vec![], status: 0 }
        } else {
            bfgs(&mut css_obj, &free_of(&init), 1e-8, 100)
        };
        coef = fill(&coef, &res.x);
        fun = res.fun;
        let hess = res.hess_inv;
        var_ok = (0..n_free).all(|i| hess.is_empty() || !(hess[i * n_free + i] / n_used as f64).sqrt().is_nan());
        let mut ph = Vec::new();
        let mut th = Vec::new();
        transpar(&coef, &arma, false, &mut ph, &mut th);
        let model = StateSpace::new(&ph, &th, &delta, 1e6);
        let mut xa = Vec::new();
        adjust(&coef, &mut xa);
        let mut resid = Vec::new();
        let mut w = Vec::new();
        let sigma2 = arima_css(&xa, &arma, &ph, &th, &mut resid, &mut w);
        let value = 2.0 * n_used as f64 * fun + n_used as f64 + n_used as f64 * (2.0 * std::f64::consts::PI).ln();
        return Ok(ArimaFit {
            arma,
            coef,
            regressors: regs,
            sigma2,
            loglik: -0.5 * value,
            aic: f64::NAN,
            aicc: f64::NAN,
            bic: f64::NAN,
            residuals: resid,
            nobs: n_used,
            model,
            n_free,
            var_ok,
            x: x0.to_vec(),
        });
    }
    if method == Method::CssMl && !no_optim {
        let res = bfgs(&mut css_obj, &free_of(&init), 1e-8, 100);
        // statsforecast keeps the CSS estimate unless the optimiser ran out of iterations.
        if res.status != 1 {
            init = fill(&init, &res.x);
        }
        // R refuses a non-stationary CSS start; statsforecast's check is a no-op and the
        // transformed start becomes NaN, which fails the fit just the same.
        if p > 0 && !roots_outside(&init[..p], 1.0) {
            return Err(CrmError::invalid("non-stationary AR part from CSS"));
        }
        if sp > 0 && !roots_outside(&init[p + q..p + q + sp], 1.0) {
            return Err(CrmError::invalid("non-stationary seasonal AR part from CSS"));
        }
    }
    if transform {
        init = inv_trans(&init, &arma);
    }
    if init.iter().any(|v| !v.is_finite()) {
        return Err(CrmError::invalid("non-finite starting values"));
    }
    transpar(&init, &arma, transform, &mut phi, &mut theta);
    let mut model = StateSpace::new(&phi, &theta, &delta, 1e6);
    // statsforecast keeps one prior-covariance buffer for the whole optimisation: each
    // evaluation resets only its ARMA block (R's upARIMA works on a copy), so from the
    // second evaluation on the differencing states start from the previous pass's final
    // one-step covariance instead of the diffuse kappa. That changes which estimates and
    // AICc values it reports for differenced models; we keep the same buffer semantics
    // so that AutoARIMA chooses the same models and forecasts the same numbers.
    let mut pn_scratch = model.pn.clone();
    let (r_blk, rd_blk) = (model.r, model.rd);
    let mut ml_obj = |free: &[f64]| -> f64 {
        let par = fill(&coef, free);
        transpar(&par, &arma, transform, &mut phi, &mut theta);
        model.update(&phi, &theta);
        for i in 0..r_blk {
            for j in 0..r_blk {
                pn_scratch[i * rd_blk + j] = model.pn[i * rd_blk + j];
            }
        }
        adjust(&par, &mut xbuf);
        let lk = arima_like(&xbuf, &mut model, &mut pn_scratch, 0, None);
        if lk.nu == 0 {
            return f64::INFINITY;
        }
        let s2 = lk.ssq / lk.nu as f64;
        if !(s2 > 0.0) {
            return f64::NAN;
        }
        0.5 * (s2.ln() + lk.sumlog / lk.nu as f64)
    };
    let res = if no_optim {
        let f = ml_obj(&[]);
        crate::forecast::optim::Minimum { x: vec![], fun: f, hess_inv: vec![], status: 0 }
    } else {
        bfgs(&mut ml_obj, &free_of(&init), 1e-8, 100)
    };
    coef = fill(&init, &res.x);
    fun = res.fun;
    // Coefficient variances only serve the "is the Hessian usable" check of auto.arima.
    var_ok = if no_optim {
        true
    } else if transform {
        let k = n_free;
        let a_full = gradtrans(&coef, &arma);
        let nn = coef.len();
        let idx: Vec<usize> = (0..nn).filter(|i| mask[*i]).collect();
        let a: Vec<f64> = idx.iter().flat_map(|&i| idx.iter().map(move |&j| (i, j))).map(|(i, j)| a_full[i * nn + j]).collect();
        // var = A' H A / n_used; only the diagonal matters.
        (0..k).all(|c| {
            let mut s = 0.0;
            for i in 0..k {
                for j in 0..k {
                    s += a[i * k + c] * res.hess_inv[i * k + j] * a[j * k + c];
                }
            }
            !(s / n_used as f64).sqrt().is_nan()
        })
    } else {
        (0..n_free).all(|i| !(res.hess_inv[i * n_free + i] / n_used as f64).sqrt().is_nan())
    };
    if transform {
        coef = undopars(&coef, &arma);
    }
    let mut ph = Vec::new();
    let mut th = Vec::new();
    transpar(&coef, &arma, false, &mut ph, &mut th);
    let mut model = StateSpace::new(&ph, &th, &delta, 1e6);
    let mut xa = Vec::new();
    adjust(&coef, &mut xa);
    let mut resid = vec![0.0; n];
    let mut pn = model.pn.clone();
    let lk = arima_like(&xa, &mut model, &mut pn, 0, Some(&mut resid));
    let sigma2 = lk.ssq / n_used as f64;
    let value = 2.0 * n_used as f64 * fun + n_used as f64 + n_used as f64 * (2.0 * std::f64::consts::PI).ln();
    let aic = value + 2.0 * (n_free as f64 + 1.0);
    Ok(ArimaFit {
        arma,
        coef,
        regressors: regs,
        sigma2,
        loglik: -0.5 * value,
        aic,
        aicc: f64::NAN,
        bic: f64::NAN,
        residuals: resid,
        nobs: n_used,
        model,
        n_free,
        var_ok,
        x: x0.to_vec(),
    })
}

/// Least squares of y on the given columns (no implicit constant), by normal equations;
/// the columns here are constants or time trends, so the system is tiny and well posed.
fn ols(y: &[f64], cols: &[Vec<f64>]) -> Vec<f64> {
    let k = cols.len();
    let mut xtx = vec![0.0; k * k];
    let mut xty = vec![0.0; k];
    for i in 0..k {
        for j in 0..k {
            xtx[i * k + j] = cols[i].iter().zip(&cols[j]).filter(|(a, b)| !a.is_nan() && !b.is_nan()).map(|(a, b)| a * b).sum();
        }
        xty[i] = cols[i].iter().zip(y).filter(|(a, b)| !a.is_nan() && !b.is_nan()).map(|(a, b)| a * b).sum();
    }
    // Gaussian elimination with partial pivoting.
    let mut a = xtx;
    let mut b = xty;
    for c in 0..k {
        let piv = (c..k).max_by(|&i, &j| a[i * k + c].abs().total_cmp(&a[j * k + c].abs())).unwrap_or(c);
        if piv != c {
            for j in 0..k {
                a.swap(c * k + j, piv * k + j);
            }
            b.swap(c, piv);
        }
        let d = a[c * k + c];
        if d == 0.0 {
            continue;
        }
        for i in (c + 1)..k {
            let f = a[i * k + c] / d;
            for j in c..k {
                a[i * k + j] -= f * a[c * k + j];
            }
            b[i] -= f * b[c];
        }
    }
    let mut beta = vec![0.0; k];
    for c in (0..k).rev() {
        let s: f64 = ((c + 1)..k).map(|j| a[c * k + j] * beta[j]).sum();
        let d = a[c * k + c];
        beta[c] = if d == 0.0 { 0.0 } else { (b[c] - s) / d };
    }
    beta
}

/// Fits an ARIMA of fixed order (statsforecast's `Arima()` / the `ARIMA` model).
pub fn fit_arima(x: &[f64], spec: &ArimaSpec) -> Result<ArimaFit> {
    let (_, d, _) = spec.order;
    let (_, sd, _) = spec.seasonal;
    if x.len() <= d + sd * spec.period {
        return Err(CrmError::invalid(format!(
            "not enough data to fit ARIMA with d={d}, D={sd}, season_length={}: {} observations",
            spec.period,
            x.len()
        )));
    }
    let drift = spec.include_drift && d + sd <= 1;
    let extra: &[Regressor] = if drift { &[Regressor::Drift] } else { &[] };
    let mut fit = arima_core(x, spec, extra)?;
    finish_ic(&mut fit);
    Ok(fit)
}

/// AICc/BIC and the residual variance statsforecast reports (sum of squares over
/// nstar - npar + 1).
fn finish_ic(fit: &mut ArimaFit) {
    let npar = fit.n_free as f64 + 1.0;
    let n = fit.residuals.iter().filter(|v| !v.is_nan()).count();
    let nstar = n as f64 - fit.arma.d as f64 - (fit.arma.sd * fit.arma.s) as f64;
    fit.aicc = fit.aic + 2.0 * npar * (nstar / (nstar - npar - 1.0) - 1.0);
    fit.bic = fit.aic + npar * (nstar.ln() - 2.0);
    let ss: f64 = fit.residuals.iter().filter(|v| !v.is_nan()).map(|v| v * v).sum();
    fit.sigma2 = ss / (nstar - npar + 1.0);
}

// ---------------------------------------------------------------------------------------
// auto.arima

/// Information criterion for model selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ic {
    Aicc,
    Aic,
    Bic,
}

/// statsforecast's `AutoARIMA` arguments (same defaults).
#[derive(Debug, Clone)]
pub struct AutoArimaSpec {
    pub d: Option<usize>,
    pub seasonal_d: Option<usize>,
    pub max_p: usize,
    pub max_q: usize,
    pub max_sp: usize,
    pub max_sq: usize,
    pub max_order: usize,
    pub max_d: usize,
    pub max_sd: usize,
    pub start_p: usize,
    pub start_q: usize,
    pub start_sp: usize,
    pub start_sq: usize,
    pub stationary: bool,
    pub seasonal: bool,
    pub ic: Ic,
    pub stepwise: bool,
    pub nmodels: usize,
    pub approximation: bool,
    pub method: Option<Method>,
    pub truncate: Option<usize>,
    pub allow_drift: bool,
    pub allow_mean: bool,
    pub period: usize,
}

impl Default for AutoArimaSpec {
    fn default() -> Self {
        AutoArimaSpec {
            d: None,
            seasonal_d: None,
            max_p: 5,
            max_q: 5,
            max_sp: 2,
            max_sq: 2,
            max_order: 5,
            max_d: 2,
            max_sd: 1,
            start_p: 2,
            start_q: 2,
            start_sp: 1,
            start_sq: 1,
            stationary: false,
            seasonal: true,
            ic: Ic::Aicc,
            stepwise: true,
            nmodels: 94,
            approximation: false,
            method: None,
            truncate: None,
            allow_drift: true,
            allow_mean: true,
            period: 1,
        }
    }
}

/// Number of first differences by repeated KPSS tests at 5% (statsforecast's `ndiffs`).
pub fn ndiffs(x: &[f64], max_d: usize) -> usize {
    let mut x: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
    let mut d = 0;
    if x.is_empty() || is_constant(&x) {
        return 0;
    }
    let kpss_rejects = |x: &[f64]| -> bool {
        let nlags = (3.0 * (x.len() as f64).sqrt() / 13.0).floor() as usize;
        match kpss_stat(x, nlags) {
            // p-value < 0.05 in statsmodels' interpolation table <=> statistic > 0.463.
            Some(stat) => kpss_pvalue(stat) < 0.05,
            None => false,
        }
    };
    let mut dodiff = kpss_rejects(&x);
    while dodiff && d < max_d {
        d += 1;
        // statsforecast drops one more leading point after each difference.
        let dx = diff(&x, 1, 1);
        x = if dx.is_empty() { dx } else { dx[1..].to_vec() };
        if x.is_empty() || is_constant(&x) {
            return d;
        }
        dodiff = kpss_rejects(&x);
    }
    d
}

/// statsmodels' KPSS p-value: linear interpolation in the level-stationarity table,
/// clipped to [0.01, 0.10].
pub fn kpss_pvalue(stat: f64) -> f64 {
    let crit = [0.347, 0.463, 0.574, 0.739];
    let pv = [0.10, 0.05, 0.025, 0.01];
    if stat <= crit[0] {
        return pv[0];
    }
    if stat >= crit[3] {
        return pv[3];
    }
    for i in 0..3 {
        if stat <= crit[i + 1] {
            let t = (stat - crit[i]) / (crit[i + 1] - crit[i]);
            return pv[i] + t * (pv[i + 1] - pv[i]);
        }
    }
    pv[3]
}

/// Seasonal differences by the seasonal-strength rule (STL strength > 0.64).
pub fn nsdiffs(x: &[f64], period: usize, max_sd: usize) -> usize {
    let mut d = 0;
    if is_constant(x) || period <= 1 || period >= x.len() {
        return 0;
    }
    let test = |x: &[f64]| seasonal_strength(x, period).map(|s| s > 0.64).unwrap_or(false);
    let mut dodiff = test(x);
    let mut x = x.to_vec();
    while dodiff && d < max_sd {
        d += 1;
        x = diff(&x, period, 1);
        if x.is_empty() || is_constant(&x) {
            return d;
        }
        if x.len() >= 2 * period && d < max_sd {
            dodiff = test(&x);
        } else {
            dodiff = false;
        }
    }
    d
}

struct Candidate {
    order: [usize; 6],
    constant: bool,
    ic: f64,
}

#[allow(clippy::too_many_arguments)]
fn myarima(
    x: &[f64],
    order: (usize, usize, usize),
    seasonal: (usize, usize, usize),
    period: usize,
    constant: bool,
    ic: Ic,
    approximation: bool,
    offset: f64,
    method: Option<Method>,
) -> (Option<ArimaFit>, f64) {
    let n = x.iter().filter(|v| !v.is_nan()).count();
    let diffs = order.1 + seasonal.1;
    let method = method.unwrap_or(if approximation { Method::Css } else { Method::CssMl });
    let spec = ArimaSpec { order, seasonal, period, include_mean: constant, include_drift: false, method, fixed: None };
    let fit = if diffs == 1 && constant {
        arima_core(x, &spec, &[Regressor::Drift])
    } else {
        arima_core(x, &spec, &[])
    };
    let Ok(mut fit) = fit else {
        return (None, f64::INFINITY);
    };
    let nstar = n as f64 - order.1 as f64 - (seasonal.1 * period) as f64;
    let npar = fit.n_free as f64 + 1.0;
    if method == Method::Css {
        fit.aic = if fit.sigma2 <= 0.0 { f64::NEG_INFINITY } else { offset + nstar * fit.sigma2.ln() + 2.0 * npar };
    }
    let mut value;
    if !fit.aic.is_nan() {
        fit.bic = fit.aic + npar * (nstar.ln() - 2.0);
        fit.aicc = if nstar - npar - 1.0 != 0.0 { fit.aic + 2.0 * npar * (npar + 1.0) / (nstar - npar - 1.0) } else { f64::INFINITY };
        value = match ic {
            Ic::Aicc => fit.aicc,
            Ic::Aic => fit.aic,
            Ic::Bic => fit.bic,
        };
    } else {
        fit.aic = f64::INFINITY;
        fit.bic = f64::INFINITY;
        fit.aicc = f64::INFINITY;
        value = f64::INFINITY;
    }
    let ss: f64 = fit.residuals.iter().filter(|v| !v.is_nan()).map(|v| v * v).sum();
    fit.sigma2 = ss / (nstar - npar + 1.0);
    // Reject near-unit roots. statsforecast only checks polynomials whose last non-zero
    // coefficient is beyond the first lag (a 0-based reading of R's rule); we follow it.
    let mut minroot_ok = true;
    if order.0 + seasonal.0 > 0 {
        let ph = &fit.model.phi;
        if let Some(last) = ph.iter().rposition(|v| v.abs() > 1e-8) {
            if last > 0 && !roots_outside(&ph[..=last], 1.01) {
                minroot_ok = false;
            }
        }
    }
    if order.2 + seasonal.2 > 0 && value < f64::INFINITY {
        let th = &fit.model.theta;
        if let Some(last) = th.iter().rposition(|v| v.abs() > 1e-8) {
            let neg: Vec<f64> = th[..=last].iter().map(|v| -v).collect();
            if last > 0 && !roots_outside(&neg, 1.01) {
                minroot_ok = false;
            }
        }
    }
    if !minroot_ok || !fit.var_ok {
        value = f64::INFINITY;
    }
    if value.is_nan() {
        value = f64::INFINITY;
    }
    (Some(fit), value)
}

/// Automatic ARIMA (statsforecast's `auto_arima_f` with its `AutoARIMA` defaults).
pub fn auto_arima(x_in: &[f64], spec: &AutoArimaSpec) -> Result<ArimaFit> {
    if x_in.is_empty() {
        return Err(CrmError::invalid("AutoARIMA needs at least one observation"));
    }
    if x_in.iter().any(|v| !v.is_finite()) {
        return Err(CrmError::invalid("AutoARIMA: the series contains NaN or infinite values"));
    }
    let origx = x_in.to_vec();
    let x = x_in;
    let series_len = x.len();
    let m = if spec.seasonal { spec.period.max(1) } else { 1 };
    if is_constant(x) {
        let spec0 = ArimaSpec {
            order: (0, 0, 0),
            seasonal: (0, 0, 0),
            period: m,
            include_mean: spec.allow_mean,
            include_drift: false,
            method: Method::Css,
            fixed: if spec.allow_mean { Some(vec![x[0]]) } else { None },
        };
        let mut fit = fit_arima(x, &spec0)?;
        fit.x = origx;
        return Ok(fit);
    }
    let mut max_p = spec.max_p.min(series_len / 3);
    let mut max_q = spec.max_q.min(series_len / 3);
    let mut max_sp = spec.max_sp.min(series_len / 3 / m);
    let mut max_sq = spec.max_sq.min(series_len / 3 / m);
    let mut ic = spec.ic;
    if series_len <= 3 {
        ic = Ic::Aic;
    }
    let (mut d, mut sd) = (spec.d, spec.seasonal_d);
    if spec.stationary {
        d = Some(0);
        sd = Some(0);
    }
    let sd: usize = if m == 1 {
        max_sp = 0;
        max_sq = 0;
        0
    } else if sd.is_none() && x.len() <= 2 * m {
        0
    } else if let Some(v) = sd {
        v
    } else {
        let mut v = nsdiffs(x, m, spec.max_sd);
        if v > 0 && diff(x, m, v).is_empty() {
            v -= 1;
        }
        v
    };
    let dx = if sd > 0 { diff(x, m, sd) } else { x.to_vec() };
    let d = match d {
        Some(v) => v,
        None => {
            let mut v = ndiffs(&dx, spec.max_d);
            if v > 0 && diff(&dx, 1, v).is_empty() {
                v -= 1;
            }
            v
        }
    };
    let dx = if d > 0 { diff(&dx, 1, d) } else { dx };
    if dx.is_empty() {
        return Err(CrmError::invalid(format!("AutoARIMA: not enough data ({series_len} points) after differencing")));
    }
    if is_constant(&dx) {
        // The differenced series is constant: a deterministic polynomial/seasonal path.
        let mean_dx = dx.iter().sum::<f64>() / dx.len() as f64;
        let spec0 = if sd > 0 && d == 0 {
            ArimaSpec { order: (0, 0, 0), seasonal: (0, sd, 0), period: m, include_mean: true, include_drift: true, method: Method::CssMl, fixed: Some(vec![mean_dx / m as f64]) }
        } else if sd > 0 && d > 0 {
            ArimaSpec { order: (0, d, 0), seasonal: (0, sd, 0), period: m, include_mean: true, include_drift: false, method: Method::Ml, fixed: None }
        } else if d == 2 {
            ArimaSpec { order: (0, d, 0), seasonal: (0, 0, 0), period: m, include_mean: true, include_drift: false, method: Method::Ml, fixed: None }
        } else {
            ArimaSpec {
                order: (0, d, 0),
                seasonal: (0, 0, 0),
                period: m,
                include_mean: true,
                include_drift: d == 1,
                method: Method::Ml,
                fixed: Some(vec![mean_dx]),
            }
        };
        let mut fit = fit_arima(x, &spec0)?;
        fit.x = origx;
        return Ok(fit);
    }
    if m > 1 {
        if max_p > 0 {
            max_p = max_p.min(m - 1);
        }
        if max_q > 0 {
            max_q = max_q.min(m - 1);
        }
    }
    let mut xs: &[f64] = x;
    let offset = if spec.approximation {
        if let Some(t) = spec.truncate {
            if xs.len() > t {
                xs = &xs[xs.len() - t..];
            }
        }
        let s0 = ArimaSpec { order: (0, d, 0), seasonal: (0, sd, 0), period: m, include_mean: true, include_drift: false, method: Method::Css, fixed: None };
        match arima_core(xs, &s0, &[]) {
            Ok(f) if f.sigma2 > 0.0 => -2.0 * f.loglik - series_len as f64 * f.sigma2.ln(),
            _ => 0.0,
        }
    } else {
        0.0
    };
    let allow_drift = spec.allow_drift && d + sd == 1;
    let allow_mean = spec.allow_mean && d + sd == 0;
    let mut constant = allow_drift || allow_mean;
    let approx = spec.approximation;
    let try_fit = |p: usize, q: usize, sp: usize, sq: usize, c: bool| {
        myarima(xs, (p, d, q), (sp, sd, sq), m, c, ic, approx, offset, spec.method)
    };
    let mut results: Vec<Candidate> = Vec::with_capacity(spec.nmodels);
    let best: (Option<ArimaFit>, f64);
    if !spec.stepwise {
        let max_k = usize::from(allow_drift || allow_mean);
        let mut b: (Option<ArimaFit>, f64) = (None, f64::INFINITY);
        for i in 0..=max_p {
            for j in 0..=max_q {
                for ii in 0..=max_sp {
                    for jj in 0..=max_sq {
                        if i + j + ii + jj > spec.max_order {
                            continue;
                        }
                        for k in 0..=max_k {
                            let (f, v) = try_fit(i, j, ii, jj, k == 1);
                            results.push(Candidate { order: [i, d, j, ii, sd, jj], constant: k == 1, ic: v });
                            if v < b.1 {
                                b = (f, v);
                            }
                        }
                    }
                }
            }
        }
        best = b;
    } else {
        let (mut start_p, mut start_q, mut start_sp, mut start_sq) = (spec.start_p, spec.start_q, spec.start_sp, spec.start_sq);
        if xs.len() < 10 {
            start_p = start_p.min(1);
            start_q = start_q.min(1);
            start_sp = 0;
            start_sq = 0;
        }
        let mut p = start_p.min(max_p);
        let mut q = start_q.min(max_q);
        let mut sp = start_sp.min(max_sp);
        let mut sq = start_sq.min(max_sq);
        let mut b = try_fit(p, q, sp, sq, constant);
        results.push(Candidate { order: [p, d, q, sp, sd, sq], constant, ic: b.1 });
        let f = try_fit(0, 0, 0, 0, constant);
        results.push(Candidate { order: [0, d, 0, 0, sd, 0], constant, ic: f.1 });
        if f.1 < b.1 {
            b = f;
            p = 0;
            q = 0;
            sp = 0;
            sq = 0;
        }
        if max_p > 0 || max_sp > 0 {
            let p_ = usize::from(max_p > 0);
            let sp_ = usize::from(m > 1 && max_sp > 0);
            let f = try_fit(p_, 0, sp_, 0, constant);
            results.push(Candidate { order: [p_, d, 0, sp_, sd, 0], constant, ic: f.1 });
            if f.1 < b.1 {
                b = f;
                p = p_;
                sp = sp_;
                q = 0;
                sq = 0;
            }
        }
        if max_q > 0 || max_sq > 0 {
            let q_ = usize::from(max_q > 0);
            let sq_ = usize::from(m > 1 && max_sq > 0);
            let f = try_fit(0, q_, 0, sq_, constant);
            results.push(Candidate { order: [0, d, q_, 0, sd, sq_], constant, ic: f.1 });
            if f.1 < b.1 {
                b = f;
                p = 0;
                sp = 0;
                sq = sq_;
                q = q_;
            }
        }
        if constant {
            let f = try_fit(0, 0, 0, 0, false);
            results.push(Candidate { order: [0, d, 0, 0, sd, 0], constant: false, ic: f.1 });
            if f.1 < b.1 {
                b = f;
                p = 0;
                q = 0;
                sp = 0;
                sq = 0;
            }
        }
        let is_new = |results: &[Candidate], o: [usize; 6], c: bool| !results.iter().any(|r| r.order == o && r.constant == c);
        let mut startk = 0usize;
        while startk < results.len() && results.len() < spec.nmodels {
            startk = results.len();
            // (dp, dq, dP, dQ, flip constant) moves in statsforecast's order.
            let moves: [(i32, i32, i32, i32, bool); 17] = [
                (0, 0, -1, 0, false),
                (0, 0, 0, -1, false),
                (0, 0, 1, 0, false),
                (0, 0, 0, 1, false),
                (0, 0, -1, -1, false),
                (0, 0, -1, 1, false),
                (0, 0, 1, -1, false),
                (0, 0, 1, 1, false),
                (-1, 0, 0, 0, false),
                (0, -1, 0, 0, false),
                (1, 0, 0, 0, false),
                (0, 1, 0, 0, false),
                (-1, -1, 0, 0, false),
                (-1, 1, 0, 0, false),
                (1, -1, 0, 0, false),
                (1, 1, 0, 0, false),
                (0, 0, 0, 0, true),
            ];
            for (dp, dq, dsp, dsq, flip) in moves {
                if flip && !(allow_drift || allow_mean) {
                    continue;
                }
                let np_ = p as i32 + dp;
                let nq = q as i32 + dq;
                let nsp = sp as i32 + dsp;
                let nsq = sq as i32 + dsq;
                if np_ < 0 || nq < 0 || nsp < 0 || nsq < 0 {
                    continue;
                }
                let (np_, nq, nsp, nsq) = (np_ as usize, nq as usize, nsp as usize, nsq as usize);
                if np_ > max_p || nq > max_q || nsp > max_sp || nsq > max_sq {
                    continue;
                }
                let c = if flip { !constant } else { constant };
                let o = [np_, d, nq, nsp, sd, nsq];
                if !is_new(&results, o, c) {
                    continue;
                }
                if results.len() >= spec.nmodels {
                    break;
                }
                let f = try_fit(np_, nq, nsp, nsq, c);
                results.push(Candidate { order: o, constant: c, ic: f.1 });
                if f.1 < b.1 {
                    b = f;
                    p = np_;
                    q = nq;
                    sp = nsp;
                    sq = nsq;
                    constant = c;
                    break;
                }
            }
        }
        best = b;
    }
    let mut best = best;
    if approx && best.0.is_some() {
        // Re-fit the candidates by exact likelihood, best approximate IC first.
        let mut idx: Vec<usize> = (0..results.len()).collect();
        idx.sort_by(|&a, &b| results[a].ic.total_cmp(&results[b].ic));
        for i in idx {
            let c = &results[i];
            let (f, v) = myarima(xs, (c.order[0], d, c.order[2]), (c.order[3], sd, c.order[5]), m, c.constant, ic, false, 0.0, spec.method);
            if v < f64::INFINITY {
                best = (f, v);
                break;
            }
        }
    }
    match best {
        (Some(mut fit), v) if v < f64::INFINITY => {
            fit.x = origx;
            Ok(fit)
        }
        _ => Err(CrmError::invalid("AutoARIMA: no suitable ARIMA model could be estimated for this series")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partrans_roundtrip() {
        let raw = [0.3, -0.8, 0.5];
        let mut out = [0.0; 3];
        partrans(3, &raw, &mut out);
        let mut back = [0.0; 3];
        invpartrans(3, &out, &mut back);
        for i in 0..3 {
            assert!((back[i] - raw[i]).abs() < 1e-12);
        }
        // The transformed AR polynomial is stationary.
        assert!(roots_outside(&out, 1.0));
    }

    #[test]
    fn roots_outside_matches_known_roots() {
        // 1 - 1.5z + 0.56z^2 = (1-0.8z)(1-0.7z): roots 1.25 and 1.43.
        assert!(roots_outside(&[1.5, -0.56], 1.2));
        assert!(!roots_outside(&[1.5, -0.56], 1.3));
        assert!(!roots_outside(&[1.0], 1.0));
    }

    #[test]
    fn seasonal_transpar_multiplies_polynomials() {
        let arma = Arma { p: 1, q: 1, sp: 1, sq: 1, s: 4, d: 0, sd: 0 };
        let mut phi = Vec::new();
        let mut theta = Vec::new();
        transpar(&[0.5, 0.3, 0.2, 0.4], &arma, false, &mut phi, &mut theta);
        // (1 - 0.5B)(1 - 0.2B^4) = 1 - 0.5B - 0.2B^4 + 0.1B^5
        assert_eq!(phi, vec![0.5, 0.0, 0.0, 0.2, -0.1]);
        // (1 + 0.3B)(1 + 0.4B^4) = 1 + 0.3B + 0.4B^4 + 0.12B^5
        assert!((theta[4] - 0.12).abs() < 1e-12 && theta[3] == 0.4 && theta[0] == 0.3);
    }

    fn ar1_series(phi: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        let mut next = || {
            // xorshift + Box-Muller: deterministic test noise.
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut y = vec![0.0; n];
        for t in 0..n {
            let (u1, u2) = (next().max(1e-12), next());
            let e = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            y[t] = if t > 0 { phi * y[t - 1] } else { 0.0 } + e;
        }
        y
    }

    #[test]
    fn ar1_estimate_is_close_to_truth() {
        let y = ar1_series(0.7, 400, 42);
        let spec = ArimaSpec { order: (1, 0, 0), seasonal: (0, 0, 0), period: 1, include_mean: true, include_drift: false, method: Method::CssMl, fixed: None };
        let fit = fit_arima(&y, &spec).unwrap();
        assert!((fit.coef[0] - 0.7).abs() < 0.08, "{:?}", fit.coef);
        assert!((fit.sigma2 - 1.0).abs() < 0.2);
        // Forecast variance grows towards the stationary variance sigma2/(1-phi^2).
        let (_, se) = fit.predict(50);
        let lim = (fit.sigma2 / (1.0 - fit.coef[0] * fit.coef[0])).sqrt();
        assert!((se[49] - lim).abs() < 1e-3 * lim);
        assert!((se[0] - fit.sigma2.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn auto_arima_picks_stationary_model_for_ar1() {
        let y = ar1_series(0.6, 200, 7);
        let fit = auto_arima(&y, &AutoArimaSpec::default()).unwrap();
        assert_eq!(fit.arma.d, 0);
        assert!(fit.arma.p + fit.arma.q >= 1);
    }

    #[test]
    fn random_walk_is_differenced() {
        let e = ar1_series(0.0, 200, 3);
        let mut y = vec![0.0; 200];
        for t in 1..200 {
            y[t] = y[t - 1] + e[t];
        }
        assert_eq!(ndiffs(&y, 2), 1);
        let fit = auto_arima(&y, &AutoArimaSpec::default()).unwrap();
        assert_eq!(fit.arma.d, 1);
    }

    #[test]
    fn constant_and_linear_series_fall_back() {
        let fit = auto_arima(&[5.0; 20], &AutoArimaSpec::default()).unwrap();
        let (f, se) = fit.predict(3);
        assert_eq!(f, vec![5.0; 3]);
        assert_eq!(se, vec![0.0; 3]);
        let y: Vec<f64> = (0..30).map(|t| 2.0 + 0.5 * t as f64).collect();
        let fit = auto_arima(&y, &AutoArimaSpec::default()).unwrap();
        let (f, _) = fit.predict(2);
        assert!((f[0] - 17.0).abs() < 1e-6 && (f[1] - 17.5).abs() < 1e-6, "{f:?}");
        assert!(auto_arima(&[1.0, f64::NAN, 2.0], &AutoArimaSpec::default()).is_err());
    }
}

// ---------------------------------------------------------------------------------------
// Kernels for the registry (statsforecast's constructor arguments, same names/defaults)

use crate::forecast::model::{ForecastOutput, Forecaster};
use serde::Deserialize;

/// `AutoARIMA(season_length=1, d=None, D=None, max_p=5, ...)` as statsforecast.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoArima {
    #[serde(default)]
    season_length: Option<usize>,
    #[serde(default)]
    d: Option<usize>,
    #[serde(default, rename = "D")]
    seasonal_d: Option<usize>,
    #[serde(default)]
    max_p: Option<usize>,
    #[serde(default)]
    max_q: Option<usize>,
    #[serde(default, rename = "max_P")]
    max_sp: Option<usize>,
    #[serde(default, rename = "max_Q")]
    max_sq: Option<usize>,
    #[serde(default)]
    max_order: Option<usize>,
    #[serde(default)]
    max_d: Option<usize>,
    #[serde(default, rename = "max_D")]
    max_sd: Option<usize>,
    #[serde(default)]
    start_p: Option<usize>,
    #[serde(default)]
    start_q: Option<usize>,
    #[serde(default, rename = "start_P")]
    start_sp: Option<usize>,
    #[serde(default, rename = "start_Q")]
    start_sq: Option<usize>,
    #[serde(default)]
    stationary: Option<bool>,
    #[serde(default)]
    seasonal: Option<bool>,
    #[serde(default)]
    ic: Option<String>,
    #[serde(default)]
    stepwise: Option<bool>,
    #[serde(default)]
    nmodels: Option<usize>,
    #[serde(default)]
    approximation: Option<bool>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    truncate: Option<usize>,
    #[serde(default)]
    allowdrift: Option<bool>,
    #[serde(default)]
    allowmean: Option<bool>,
    #[serde(skip)]
    spec: Option<AutoArimaSpec>,
}

impl AutoArima {
    pub fn from_params(params: &serde_json::Value) -> Result<AutoArima> {
        let mut me: AutoArima = serde_json::from_value(params.clone()).map_err(|e| CrmError::invalid(format!("AutoARIMA: {e}")))?;
        let mut s = AutoArimaSpec::default();
        let sl = me.season_length.unwrap_or(1);
        if sl == 0 {
            return Err(CrmError::invalid("AutoARIMA: season_length must be >= 1"));
        }
        s.period = sl;
        s.d = me.d;
        s.seasonal_d = me.seasonal_d;
        macro_rules! set {
            ($f:ident) => {
                if let Some(v) = me.$f {
                    s.$f = v;
                }
            };
        }
        set!(max_p);
        set!(max_q);
        set!(max_sp);
        set!(max_sq);
        set!(max_order);
        set!(max_d);
        set!(max_sd);
        set!(start_p);
        set!(start_q);
        set!(start_sp);
        set!(start_sq);
        set!(stationary);
        set!(seasonal);
        set!(stepwise);
        set!(nmodels);
        set!(approximation);
        s.truncate = me.truncate;
        if let Some(v) = me.allowdrift {
            s.allow_drift = v;
        }
        if let Some(v) = me.allowmean {
            s.allow_mean = v;
        }
        if let Some(ic) = &me.ic {
            s.ic = match ic.as_str() {
                "aicc" => Ic::Aicc,
                "aic" => Ic::Aic,
                "bic" => Ic::Bic,
                other => return Err(CrmError::invalid(format!("AutoARIMA: ic must be 'aicc', 'aic' or 'bic', got '{other}'"))),
            };
        }
        if let Some(m) = &me.method {
            s.method = Some(Method::parse(m)?);
        }
        if s.nmodels == 0 {
            return Err(CrmError::invalid("AutoARIMA: nmodels must be >= 1"));
        }
        me.spec = Some(s);
        Ok(me)
    }

    pub fn spec(&self) -> AutoArimaSpec {
        self.spec.clone().unwrap_or_default()
    }
}

fn arima_output(fit: &ArimaFit, h: usize, levels: &[f64]) -> ForecastOutput {
    let (mean, se) = fit.predict(h);
    ForecastOutput::gaussian(mean, &se, levels, fit.describe()).with_fitted(fit.fitted())
}

impl Forecaster for AutoArima {
    fn name(&self) -> &str {
        "AutoARIMA"
    }

    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        let fit = auto_arima(y, &self.spec())?;
        let mut out = arima_output(&fit, h, levels);
        if is_constant(y) {
            out = out.with_note("constant series: the forecast is that constant with zero-width intervals");
        }
        Ok(out)
    }
}

/// `ARIMA(order=(0,0,0), season_length=1, seasonal_order=(0,0,0), include_mean=True,
/// include_drift=False, include_constant=None, method="CSS-ML")` as statsforecast.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedArima {
    #[serde(default)]
    order: Option<(usize, usize, usize)>,
    #[serde(default)]
    season_length: Option<usize>,
    #[serde(default)]
    seasonal_order: Option<(usize, usize, usize)>,
    #[serde(default)]
    include_mean: Option<bool>,
    #[serde(default)]
    include_drift: Option<bool>,
    #[serde(default)]
    include_constant: Option<bool>,
    #[serde(default)]
    method: Option<String>,
}

impl FixedArima {
    pub fn from_params(params: &serde_json::Value) -> Result<FixedArima> {
        let me: FixedArima = serde_json::from_value(params.clone()).map_err(|e| CrmError::invalid(format!("ARIMA: {e}")))?;
        if me.season_length == Some(0) {
            return Err(CrmError::invalid("ARIMA: season_length must be >= 1"));
        }
        if let Some(m) = &me.method {
            Method::parse(m)?;
        }
        Ok(me)
    }

    pub fn spec(&self) -> Result<ArimaSpec> {
        let order = self.order.unwrap_or((0, 0, 0));
        let seasonal = self.seasonal_order.unwrap_or((0, 0, 0));
        let period = self.season_length.unwrap_or(1);
        let mut include_mean = self.include_mean.unwrap_or(true);
        let mut include_drift = self.include_drift.unwrap_or(false);
        if let Some(c) = self.include_constant {
            if c {
                include_mean = true;
                if order.1 + seasonal.1 == 1 {
                    include_drift = true;
                }
            } else {
                include_mean = false;
                include_drift = false;
            }
        }
        let method = match &self.method {
            Some(m) => Method::parse(m)?,
            None => Method::CssMl,
        };
        Ok(ArimaSpec { order, seasonal: if period > 1 { seasonal } else { (0, 0, 0) }, period, include_mean, include_drift, method, fixed: None })
    }
}

impl Forecaster for FixedArima {
    fn name(&self) -> &str {
        "ARIMA"
    }

    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        if y.iter().any(|v| !v.is_finite()) {
            return Err(CrmError::invalid("ARIMA: the series contains NaN or infinite values"));
        }
        let spec = self.spec()?;
        let fit = fit_arima(y, &spec)?;
        if fit.coef.iter().any(|c| !c.is_finite()) {
            return Err(CrmError::invalid(format!("ARIMA: the {} fit did not converge on this series", fit.describe())));
        }
        let mut out = arima_output(&fit, h, levels);
        if spec.include_drift && spec.order.1 + spec.seasonal.1 > 1 {
            out = out.with_note("no drift term fitted as the order of difference is 2 or more");
        }
        Ok(out)
    }
}
