//! Complex exponential smoothing (Svetunkov & Kourentzes 2015) as statsforecast's
//! `AutoCES`: the four seasonal forms N (none), S (simple/lagged), P (partial) and
//! F (full), each fitted by minimising n·log(SSE) with a back-fitted initial state,
//! the bounded adaptive Nelder–Mead statsforecast uses, and selection by AICc.
//!
//! Intervals: statsforecast simulates 5,000 paths by adding N(0, σ²) noise to every
//! state of the forecast origin and reading quantiles. The forecast is linear in those
//! states, so the simulated distribution is exactly Gaussian with variance
//! σ²·Σ w², w the forecast's weights on the origin states; we compute that limit
//! directly (no Monte Carlo noise, deterministic).

use serde::Deserialize;

use crate::error::{CrmError, Result};
use crate::forecast::model::{ForecastOutput, Forecaster};
use crate::forecast::optim::nelder_mead;
use crate::forecast::unit_root::classical_seasonal;

const NA: f64 = -99999.0;
const TOL: f64 = 1.0e-10;
const NMSE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    None,
    Simple,
    Partial,
    Full,
}

impl Season {
    fn code(self) -> u8 {
        match self {
            Season::None => 0,
            Season::Simple => 1,
            Season::Partial => 2,
            Season::Full => 3,
        }
    }
    fn letter(self) -> &'static str {
        match self {
            Season::None => "N",
            Season::Simple => "S",
            Season::Partial => "P",
            Season::Full => "F",
        }
    }
    fn components(self) -> usize {
        match self {
            Season::None | Season::Simple => 2,
            Season::Partial => 3,
            Season::Full => 4,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Params {
    a0: f64,
    a1: f64,
    b0: f64,
    b1: f64,
}

/// Row-major state matrix.
struct States {
    data: Vec<f64>,
    cols: usize,
}

impl States {
    #[inline]
    fn at(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }
    #[inline]
    fn set(&mut self, r: usize, c: usize, v: f64) {
        self.data[r * self.cols + c] = v;
    }
}

fn update(st: &mut States, i: usize, m: usize, season: Season, p: &Params, y: f64) {
    let nonlag = season != Season::Simple;
    let mut e = if nonlag { y - st.at(i - 1, 0) } else { y - st.at(i - m, 0) };
    if season.code() > 1 {
        e -= st.at(i - m, 2);
    }
    let src = if nonlag { i - 1 } else { i - m };
    let (s0, s1) = (st.at(src, 0), st.at(src, 1));
    st.set(i, 0, s0 - (1.0 - p.a1) * s1 + (p.a0 - p.a1) * e);
    st.set(i, 1, s0 + (1.0 - p.a0) * s1 + (p.a0 + p.a1) * e);
    if season == Season::Partial {
        let v = st.at(i - m, 2) + p.b0 * e;
        st.set(i, 2, v);
    }
    if season == Season::Full {
        let (s2, s3) = (st.at(i - m, 2), st.at(i - m, 3));
        st.set(i, 2, s2 - (1.0 - p.b1) * s3 + (p.b0 - p.b1) * e);
        st.set(i, 3, s2 + (1.0 - p.b0) * s3 + (p.b0 + p.b1) * e);
    }
}

/// h-step forecast from the m origin rows ending before row `i`; `buf` is scratch.
fn forecast_from(st: &States, i: usize, m: usize, season: Season, p: &Params, f: &mut [f64], h: usize, buf: &mut States) {
    let cols = st.cols;
    buf.data.clear();
    buf.data.extend_from_slice(&st.data[(i - m) * cols..i * cols]);
    buf.data.resize((m + h) * cols, 0.0);
    for ih in m..m + h {
        let mut v = if season != Season::Simple { buf.at(ih - 1, 0) } else { buf.at(ih - m, 0) };
        if season.code() > 1 {
            v += buf.at(ih - m, 2);
        }
        f[ih - m] = v;
        update(buf, ih, m, season, p, v);
    }
}

/// The zero-error multi-step forecast used inside the likelihood (statsforecast's fast path).
fn inline_forecast(st: &States, i: usize, m: usize, season: Season, p: &Params, f: &mut [f64]) {
    let (ca0, ca1) = (1.0 - p.a0, 1.0 - p.a1);
    match season {
        Season::Simple => {
            for (j, fj) in f.iter_mut().enumerate().take(NMSE) {
                *fj = st.at(i - m + j, 0);
            }
        }
        Season::None => {
            let (mut s0, mut s1) = (st.at(i - 1, 0), st.at(i - 1, 1));
            f[0] = s0;
            for fj in f.iter_mut().take(NMSE).skip(1) {
                let n0 = s0 - ca1 * s1;
                let n1 = s0 + ca0 * s1;
                s0 = n0;
                s1 = n1;
                *fj = s0;
            }
        }
        _ => {
            let (mut s0, mut s1) = (st.at(i - 1, 0), st.at(i - 1, 1));
            f[0] = s0 + st.at(i - m, 2);
            for j in 1..NMSE {
                let n0 = s0 - ca1 * s1;
                let n1 = s0 + ca0 * s1;
                s0 = n0;
                s1 = n1;
                f[j] = s0 + st.at(i - m + j, 2);
            }
        }
    }
}

struct Scratch {
    f: Vec<f64>,
    buf: States,
    y: Vec<f64>,
    e: Vec<f64>,
}

fn pass(y: &[f64], st: &mut States, m: usize, season: Season, p: &Params, e: &mut [f64], sc: &mut Scratch) -> f64 {
    let n = y.len();
    let use_inline = season.code() <= 1 || NMSE <= m;
    let mut lik = 0.0;
    for i in m..n + m {
        if use_inline {
            inline_forecast(st, i, m, season, p, &mut sc.f);
        } else {
            let mut f = std::mem::take(&mut sc.f);
            forecast_from(st, i, m, season, p, &mut f, NMSE, &mut sc.buf);
            sc.f = f;
        }
        if (sc.f[0] - NA).abs() < TOL {
            return NA;
        }
        e[i - m] = y[i - m] - sc.f[0];
        update(st, i, m, season, p, y[i - m]);
        lik += e[i - m] * e[i - m];
    }
    lik
}

fn trailing(st: &mut States, n: usize, m: usize, season: Season, p: &Params, sc: &mut Scratch) {
    let mut f = std::mem::take(&mut sc.f);
    if f.len() < m {
        f.resize(m, 0.0);
    }
    forecast_from(st, n + m, m, season, p, &mut f, m, &mut sc.buf);
    sc.f = f;
    let cols = st.cols;
    st.data[(n + m) * cols..(n + 2 * m) * cols].copy_from_slice(&sc.buf.data[m * cols..2 * m * cols]);
}

fn reverse_rows(st: &mut States) {
    let cols = st.cols;
    let rows = st.data.len() / cols;
    for i in 0..rows / 2 {
        for c in 0..cols {
            st.data.swap(i * cols + c, (rows - 1 - i) * cols + c);
        }
    }
}

/// Forward pass, backward pass (back-casting the initial states), forward again.
/// Returns n·log(SSE) of the last pass, or NA.
fn cescalc(y: &[f64], st: &mut States, m: usize, season: Season, p: &Params, e: &mut Vec<f64>, sc: &mut Scratch) -> f64 {
    let n = y.len();
    e.clear();
    e.resize(n, f64::NAN);
    let lik = pass(y, st, m, season, p, e, sc);
    if (lik - NA).abs() < TOL {
        return NA;
    }
    trailing(st, n, m, season, p, sc);
    sc.y.clear();
    sc.y.extend(y.iter().rev());
    reverse_rows(st);
    e.reverse();
    let yr = std::mem::take(&mut sc.y);
    let lik = pass(&yr, st, m, season, p, e, sc);
    sc.y = yr;
    if (lik - NA).abs() < TOL {
        return NA;
    }
    trailing(st, n, m, season, p, sc);
    reverse_rows(st);
    e.reverse();
    let lik = pass(y, st, m, season, p, e, sc);
    if (lik - NA).abs() < TOL {
        return NA;
    }
    trailing(st, n, m, season, p, sc);
    n as f64 * lik.ln()
}

fn init_states(y: &[f64], m: usize, season: Season) -> States {
    let cols = season.components();
    let lags = if season == Season::None { 1 } else { m };
    let mut st = States { data: vec![0.0; lags * cols], cols };
    match season {
        Season::None => {
            let idx = 10usize.max(m).min(y.len());
            let mean = y[..idx].iter().sum::<f64>() / idx as f64;
            st.set(0, 0, mean);
            st.set(0, 1, mean / 1.1);
        }
        Season::Simple => {
            for i in 0..lags {
                st.set(i, 0, y[i]);
                st.set(i, 1, y[i] / 1.1);
            }
        }
        Season::Partial | Season::Full => {
            let mean = y[..lags].iter().sum::<f64>() / lags as f64;
            let seas = classical_seasonal(y, lags);
            for i in 0..lags {
                st.set(i, 0, mean);
                st.set(i, 1, mean / 1.1);
                st.set(i, 2, seas[i]);
                if season == Season::Full {
                    st.set(i, 3, seas[i] / 1.1);
                }
            }
        }
    }
    st
}

/// One fitted CES model.
#[derive(Debug, Clone)]
pub struct CesFit {
    pub season: Season,
    pub m: usize,
    params: Params,
    pub aicc: f64,
    pub aic: f64,
    pub sigma2: f64,
    pub residuals: Vec<f64>,
    /// The m origin rows of the final states.
    origin: Vec<f64>,
    cols: usize,
    n: usize,
}

fn fit_one(y: &[f64], m_in: usize, season: Season) -> Option<CesFit> {
    let m = if season == Season::None { 1 } else { m_in };
    let n = y.len();
    let init = init_states(y, m, season);
    let cols = init.cols;
    let free = match season {
        Season::None | Season::Simple => 2,
        Season::Partial => 3,
        Season::Full => 4,
    };
    let start = [1.3, 1.0, if season == Season::Full { 1.3 } else { 0.1 }, 1.0];
    let lower = [0.01; 4];
    let upper = [1.8, 1.9, 1.5, 1.5];
    let mut sc = Scratch { f: vec![0.0; NMSE.max(m)], buf: States { data: Vec::new(), cols }, y: Vec::with_capacity(n), e: Vec::new() };
    let mut st = States { data: vec![0.0; (n + 2 * m) * cols], cols };
    let to_params = |x: &[f64]| Params {
        a0: x[0],
        a1: x[1],
        b0: if free >= 3 { x[2] } else { f64::NAN },
        b1: if free >= 4 { x[3] } else { f64::NAN },
    };
    let mut objective = |x: &[f64]| -> f64 {
        st.data.iter_mut().for_each(|v| *v = 0.0);
        st.data[..m * cols].copy_from_slice(&init.data);
        let mut e = std::mem::take(&mut sc.e);
        let mut lik = cescalc(y, &mut st, m, season, &to_params(x), &mut e, &mut sc);
        sc.e = e;
        if lik < -1e10 {
            lik = -1e10;
        }
        if lik.is_nan() {
            lik = f64::NEG_INFINITY;
        }
        if (lik + 99999.0).abs() < 1e-7 {
            lik = f64::NEG_INFINITY;
        }
        lik
    };
    let best = nelder_mead(&mut objective, &start[..free], &lower[..free], &upper[..free], 0.05, 1e-4, 1000, 1e-4);
    let params = to_params(&best.x);
    st.data.iter_mut().for_each(|v| *v = 0.0);
    st.data[..m * cols].copy_from_slice(&init.data);
    let mut e = Vec::new();
    let lik = cescalc(y, &mut st, m, season, &params, &mut e, &mut sc);
    if lik.is_nan() || (lik - NA).abs() < 1e-7 {
        return None;
    }
    let np_ = (cols + 1) as f64;
    let nf = n as f64;
    let aic = lik + 2.0 * np_;
    let aicc = if nf - np_ - 1.0 != 0.0 { aic + 2.0 * np_ * (np_ + 1.0) / (nf - np_ - 1.0) } else { f64::INFINITY };
    let sigma2 = e.iter().map(|v| v * v).sum::<f64>() / (nf - np_ - 1.0);
    let origin = st.data[n * cols..(n + m) * cols].to_vec();
    Some(CesFit { season, m, params, aicc, aic, sigma2, residuals: e, origin, cols, n })
}

impl CesFit {
    pub fn describe(&self) -> String {
        format!("CES({})", self.season.letter())
    }

    fn run(&self, origin: &[f64], h: usize) -> Vec<f64> {
        let m = self.m;
        let st = States { data: origin.to_vec(), cols: self.cols };
        let mut buf = States { data: Vec::new(), cols: self.cols };
        let mut f = vec![0.0; h];
        forecast_from(&st, m, m, self.season, &self.params, &mut f, h, &mut buf);
        f
    }

    /// Point forecasts and their standard deviations (see the module note).
    pub fn predict(&self, h: usize) -> (Vec<f64>, Vec<f64>) {
        let mean = self.run(&self.origin, h);
        let mut var = vec![0.0; h];
        let mut basis = vec![0.0; self.origin.len()];
        for k in 0..basis.len() {
            basis[k] = 1.0;
            let w = self.run(&basis, h);
            for (v, wi) in var.iter_mut().zip(&w) {
                *v += wi * wi;
            }
            basis[k] = 0.0;
        }
        let sd = var.iter().map(|v| (v * self.sigma2).sqrt()).collect();
        (mean, sd)
    }

    pub fn fitted(&self, y: &[f64]) -> Vec<f64> {
        y.iter().zip(&self.residuals).map(|(a, e)| a - e).collect()
    }

    pub fn n(&self) -> usize {
        self.n
    }
}

/// statsforecast's `auto_ces`: fit the requested form(s), keep the lowest AICc.
pub fn auto_ces(y: &[f64], m: usize, model: &str) -> Result<CesFit> {
    let candidates: Vec<Season> = match model {
        "Z" => vec![Season::None, Season::Simple, Season::Partial, Season::Full],
        "N" => vec![Season::None],
        "S" => vec![Season::Simple],
        "P" => vec![Season::Partial],
        "F" => vec![Season::Full],
        other => return Err(CrmError::invalid(format!("AutoCES: model must be one of 'Z', 'N', 'S', 'P', 'F', got '{other}'"))),
    };
    let n = y.len();
    let seasonal_ok = !(m < 1 || n < 2 * m || m == 1);
    let candidates = if seasonal_ok { candidates } else { vec![Season::None] };
    // statsforecast counts parameters of the requested form ("Z" as "F"), or of "N" when
    // the series is too short for a season.
    let npars = if seasonal_ok { 2 + usize::from(model == "P") + 2 * usize::from(model == "F" || model == "Z") } else { 2 };
    if n <= npars {
        return Err(CrmError::invalid(format!("AutoCES needs more than {npars} observations, got {n}")));
    }
    let mut best: Option<CesFit> = None;
    for s in candidates {
        if let Some(fit) = fit_one(y, m, s) {
            if !fit.aicc.is_nan() && fit.aicc < best.as_ref().map_or(f64::INFINITY, |b| b.aicc) {
                best = Some(fit);
            }
        }
    }
    best.ok_or_else(|| CrmError::invalid("AutoCES: no model could be fitted to this series"))
}

/// `AutoCES(season_length=1, model="Z")`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoCes {
    #[serde(default = "one")]
    pub season_length: usize,
    #[serde(default = "z")]
    pub model: String,
}

fn one() -> usize {
    1
}
fn z() -> String {
    "Z".to_string()
}

impl AutoCes {
    pub fn from_params(params: &serde_json::Value) -> Result<AutoCes> {
        let me: AutoCes = serde_json::from_value(params.clone()).map_err(|e| CrmError::invalid(format!("AutoCES: {e}")))?;
        if me.season_length == 0 {
            return Err(CrmError::invalid("AutoCES: season_length must be >= 1"));
        }
        if !["Z", "N", "S", "P", "F"].contains(&me.model.as_str()) {
            return Err(CrmError::invalid(format!("AutoCES: model must be one of 'Z', 'N', 'S', 'P', 'F', got '{}'", me.model)));
        }
        Ok(me)
    }
}

impl Forecaster for AutoCes {
    fn name(&self) -> &str {
        "CES"
    }

    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        if y.iter().any(|v| !v.is_finite()) {
            return Err(CrmError::invalid("AutoCES: the series contains NaN or infinite values"));
        }
        if y.is_empty() {
            return Err(CrmError::invalid("AutoCES needs at least one observation"));
        }
        if y.iter().all(|v| *v == y[0]) {
            // statsforecast fits Naive to a constant series; its intervals have zero width.
            let out = ForecastOutput::gaussian(vec![y[0]; h], &vec![0.0; h], levels, "Naive")
                .with_note("constant series: Naive forecast (as statsforecast's AutoCES)");
            let mut fitted = vec![f64::NAN; y.len()];
            fitted[1..].copy_from_slice(&y[..y.len() - 1]);
            return Ok(out.with_fitted(fitted));
        }
        let fit = auto_ces(y, self.season_length, &self.model)?;
        let (mean, sd) = fit.predict(h);
        let mut out = ForecastOutput::gaussian(mean, &sd, levels, fit.describe()).with_fitted(fit.fitted(y));
        if self.model != "N" && self.season_length > 1 && fit.m == 1 && y.len() < 2 * self.season_length {
            out = out.with_note(format!(
                "season dropped: {} points < 2 seasons of {}",
                y.len(),
                self.season_length
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ces_tracks_a_seasonal_series() {
        let pat = [10.0, -4.0, 3.0, -9.0];
        let y: Vec<f64> = (0..40).map(|t| 100.0 + 0.5 * t as f64 + pat[t % 4] + ((t * 7919) % 13) as f64 * 0.1).collect();
        let fit = auto_ces(&y, 4, "Z").unwrap();
        assert_ne!(fit.season, Season::None, "a strong season should be kept");
        let (f, sd) = fit.predict(8);
        for (k, v) in f.iter().enumerate() {
            let t = 40 + k;
            let truth = 100.0 + 0.5 * t as f64 + pat[t % 4];
            assert!((v - truth).abs() < 6.0, "step {k}: {v} vs {truth}");
        }
        assert!(sd.windows(2).all(|w| w[1] >= w[0] - 1e-9) || sd.iter().all(|s| s.is_finite()));
    }

    #[test]
    fn short_or_constant_series() {
        // statsforecast refuses a series no longer than the number of smoothing parameters.
        assert!(auto_ces(&[1.0, 2.0], 1, "Z").is_err());
        assert!(auto_ces(&[1.0, 2.0, 3.5], 1, "Z").is_ok());
        let m = AutoCes::from_params(&serde_json::json!({"season_length": 12})).unwrap();
        let out = m.forecast(&[3.0; 10], 2, &[95.0]).unwrap();
        assert_eq!(out.mean, vec![3.0, 3.0]);
        assert!(out.note.is_some());
        assert!(AutoCes::from_params(&serde_json::json!({"season_lenght": 12})).is_err());
    }
}
