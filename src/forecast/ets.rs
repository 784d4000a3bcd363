//! Exponential smoothing state-space models (ETS) and their automatic selection by AICc,
//! following R's forecast::ets as statsforecast implements it: the same initial states
//! (classical decomposition or a Fourier fit for short seasonal series), the same starting
//! smoothing parameters and bounds, the same bounded Nelder–Mead on the likelihood, the
//! same candidate order. Matching those choices is what makes the chosen model and the
//! forecasts agree with statsforecast's AutoETS, not just come close.
//!
//! Deliberate deviations (each makes the result better defined, none changes a model
//! that statsforecast fits without trouble):
//! - a likelihood that evaluates to NaN counts as +inf (statsforecast's optimiser takes
//!   it as -inf, i.e. as the best point);
//! - intervals of classes 1–2 use the per-step seasonal count `floor((k-1)/m)` of Hyndman
//!   et al. (2008) (statsforecast uses the one of the last step for every step), and the
//!   models with multiplicative seasonality or trend (classes 3–5) take their intervals
//!   from 2,000 simulated paths with a fixed seed.

use serde::Deserialize;

use super::decompose::{seasonal_component, Decomposition};
use super::model::{ForecastOutput, Forecaster};
use super::nm::{Machine, NelderMead};
use crate::error::{CrmError, Result};
use crate::rng::Rng;

const TOL: f64 = 1e-10;
const HUGE_N: f64 = 1e10;
const PHI_LOWER: f64 = 0.8;
const PHI_UPPER: f64 = 0.98;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Comp {
    N,
    A,
    M,
}

impl Comp {
    fn letter(self) -> char {
        match self {
            Comp::N => 'N',
            Comp::A => 'A',
            Comp::M => 'M',
        }
    }
}

/// A requested component: fixed, or chosen by AICc ("Z").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Want {
    Fixed(Comp),
    Auto,
}

fn parse_letter(c: char, allowed: &[char], what: &str) -> Result<Want> {
    if !allowed.contains(&c) {
        return Err(CrmError::invalid(format!(
            "AutoETS: model letter for the {what} must be one of {allowed:?}, got '{c}'"
        )));
    }
    Ok(match c {
        'Z' => Want::Auto,
        'N' => Want::Fixed(Comp::N),
        'A' => Want::Fixed(Comp::A),
        _ => Want::Fixed(Comp::M),
    })
}

#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub error: Comp,
    pub trend: Comp,
    pub season: Comp,
    pub damped: bool,
}

impl Spec {
    pub fn describe(&self) -> String {
        format!(
            "ETS({},{}{},{})",
            self.error.letter(),
            self.trend.letter(),
            if self.damped { "d" } else { "" },
            self.season.letter()
        )
    }
}

/// A fitted ETS model.
#[derive(Clone, Debug)]
pub struct EtsFit {
    pub spec: Spec,
    pub m: usize,
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
    pub loglik: f64,
    pub aic: f64,
    pub aicc: f64,
    pub bic: f64,
    pub sigma2: f64,
    pub n_params: usize,
    /// Final states: level, growth (0 without trend), seasonal s[0..m] (s[0] most recent).
    pub level: f64,
    pub growth: f64,
    pub seasonal: Vec<f64>,
    pub residuals: Vec<f64>,
    pub fitted: Vec<f64>,
    /// Nelder–Mead iterations of the fit (0 for a constant series).
    pub iterations: usize,
}

/// Smoothing parameters in use for one likelihood evaluation.
#[derive(Clone, Copy)]
struct Par {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
}

/// One-step-ahead point forecast from a state (statsforecast's `Forecast`, first step).
#[inline(always)]
fn one_step(spec: &Spec, l: f64, b: f64, s_oldest: f64, phi: f64) -> f64 {
    let mut f = match spec.trend {
        Comp::N => l,
        Comp::A => l + phi * b,
        Comp::M => {
            if b < 0.0 {
                f64::NAN
            } else {
                l * b.powf(phi)
            }
        }
    };
    match spec.season {
        Comp::A => f += s_oldest,
        Comp::M => f *= s_oldest,
        Comp::N => {}
    }
    f
}

/// State transition (statsforecast's `Update`): returns (level, growth, new seasonal).
#[inline(always)]
fn update(spec: &Spec, old_l: f64, old_b: f64, s_oldest: f64, p: &Par, y: f64) -> (f64, f64, f64) {
    let (q, phi_b) = match spec.trend {
        Comp::N => (old_l, 0.0),
        Comp::A => {
            let pb = p.phi * old_b;
            (old_l + pb, pb)
        }
        Comp::M => {
            let pb = if (p.phi - 1.0).abs() < TOL { old_b } else { old_b.powf(p.phi) };
            (old_l * pb, pb)
        }
    };
    let pp = match spec.season {
        Comp::N => y,
        Comp::A => y - s_oldest,
        Comp::M => {
            if s_oldest.abs() < TOL {
                HUGE_N
            } else {
                y / s_oldest
            }
        }
    };
    let l = q + p.alpha * (pp - q);
    let mut b = old_b;
    if spec.trend != Comp::N {
        let r = match spec.trend {
            Comp::A => l - old_l,
            _ => {
                if old_l.abs() < TOL {
                    HUGE_N
                } else {
                    l / old_l
                }
            }
        };
        b = phi_b + (p.beta / p.alpha) * (r - phi_b);
    }
    let mut s_new = 0.0;
    if spec.season != Comp::N {
        let t = match spec.season {
            Comp::A => y - q,
            _ => {
                if q.abs() < TOL {
                    HUGE_N
                } else {
                    y / q
                }
            }
        };
        s_new = s_oldest + p.gamma * (t - s_oldest);
    }
    (l, b, s_new)
}

const fn comp_of(c: u8) -> Comp {
    match c {
        0 => Comp::N,
        1 => Comp::A,
        _ => Comp::M,
    }
}

/// Runs the filter over `y` from the initial state `init` = [l, (b), s_0..s_{m-1}] and
/// returns -2 log-likelihood up to a constant (n log SSE, plus 2 sum log|f| for
/// multiplicative errors). Seasonal states live in a ring buffer, oldest first.
/// With `keep`, also records residuals and the final state.
fn calc(y: &[f64], spec: &Spec, m: usize, p: &Par, init: &[f64], ring: &mut Vec<f64>, keep: Option<&mut Filtered>) -> f64 {
    // One monomorphised loop per (error, trend, season): the component tests fold away,
    // which matters because this loop is where AutoETS spends its time.
    macro_rules! go {
        ($e:literal, $t:literal, $s:literal) => {
            calc_g::<$e, $t, $s>(y, m, p, init, ring, keep)
        };
    }
    match (spec.error, spec.trend, spec.season) {
        (Comp::A, Comp::N, Comp::N) => go!(1, 0, 0),
        (Comp::A, Comp::N, Comp::A) => go!(1, 0, 1),
        (Comp::A, Comp::N, Comp::M) => go!(1, 0, 2),
        (Comp::A, Comp::A, Comp::N) => go!(1, 1, 0),
        (Comp::A, Comp::A, Comp::A) => go!(1, 1, 1),
        (Comp::A, Comp::A, Comp::M) => go!(1, 1, 2),
        (Comp::A, Comp::M, Comp::N) => go!(1, 2, 0),
        (Comp::A, Comp::M, Comp::A) => go!(1, 2, 1),
        (Comp::A, Comp::M, Comp::M) => go!(1, 2, 2),
        (_, Comp::N, Comp::N) => go!(2, 0, 0),
        (_, Comp::N, Comp::A) => go!(2, 0, 1),
        (_, Comp::N, Comp::M) => go!(2, 0, 2),
        (_, Comp::A, Comp::N) => go!(2, 1, 0),
        (_, Comp::A, Comp::A) => go!(2, 1, 1),
        (_, Comp::A, Comp::M) => go!(2, 1, 2),
        (_, Comp::M, Comp::N) => go!(2, 2, 0),
        (_, Comp::M, Comp::A) => go!(2, 2, 1),
        (_, Comp::M, Comp::M) => go!(2, 2, 2),
    }
}

#[inline(always)]
fn calc_g<const E: u8, const T: u8, const S: u8>(y: &[f64], m: usize, p: &Par, init: &[f64], ring: &mut Vec<f64>, mut keep: Option<&mut Filtered>) -> f64 {
    let spec = Spec { error: comp_of(E), trend: comp_of(T), season: comp_of(S), damped: false };
    let has_b = T != 0;
    let mut l = init[0];
    let mut b = if has_b { init[1] } else { 0.0 };
    let start = 1 + has_b as usize;
    let seasonal = S != 0;
    ring.clear();
    if seasonal {
        // ring[k] = s[m-1-k]: the oldest first.
        for k in 0..m {
            ring.push(init[start + m - 1 - k]);
        }
    } else {
        ring.push(0.0);
    }
    let mut pos = 0usize;
    let mut sse = 0.0;
    // sum log|f| as the log of one running product (see `log_product_step`).
    let (mut mantissa, mut exponent) = (1.0f64, 0i64);
    let mult = E == 2;
    for (i, &yi) in y.iter().enumerate() {
        let s_old = ring[pos];
        let f = one_step(&spec, l, b, s_old, p.phi);
        let e = if mult {
            let f0 = if f.abs() < TOL { f + TOL } else { f };
            (yi - f) / f0
        } else {
            yi - f
        };
        let (nl, nb, ns) = update(&spec, l, b, s_old, p, yi);
        l = nl;
        b = nb;
        if seasonal {
            ring[pos] = ns;
            pos += 1;
            if pos == m {
                pos = 0;
            }
        }
        sse += e * e;
        if mult {
            let (next, shed) = log_product_step(mantissa, log_product_factor(f));
            mantissa = next;
            exponent += shed;
        }
        if let Some(k) = keep.as_deref_mut() {
            k.e[i] = e;
        }
    }
    let n = y.len() as f64;
    let mut lik = if sse > 0.0 { n * sse.ln() } else { n * (sse + 1e-8).ln() };
    if mult {
        lik += 2.0 * log_product_ln(mantissa, exponent, y.len());
    }
    if let Some(k) = keep {
        k.level = l;
        k.growth = b;
        k.seasonal = if seasonal { (0..m).map(|j| ring[(pos + m - 1 - j) % m]).collect() } else { Vec::new() };
    }
    lik
}

/// sum log|f_t| over a series, computed as the log of one running product kept as a
/// mantissa in [1, 2) and a binary exponent: scaling by a power of two is exact, so the
/// product rounds exactly as an unbounded one would, one `ln` per series instead of one per
/// step, and the step is a multiply and integer bit operations that vectorise across lanes
/// with no branch (a range check and flush had cost a fifth of a multiplicative-error pass).
/// |f| = 0 counts as 1e-8 (statsforecast's guard) and |f| is kept within [f64::MIN_POSITIVE,
/// 1e300] so the product stays a normal number; a non-finite f makes the SSE NaN anyway.
const EXPONENT_MASK: u64 = 0x7ff << 52;

/// |f| as a factor of that product.
// max/min rather than clamp: a NaN f gives a finite factor, whose bits the exponent
// arithmetic can take apart (the NaN already shows in the SSE).
#[allow(clippy::manual_clamp)]
#[inline(always)]
fn log_product_factor(f: f64) -> f64 {
    let a = f.abs();
    let v = if a > 0.0 { a } else { a + 1e-8 };
    v.max(f64::MIN_POSITIVE).min(1e300)
}

/// One step of that product: the new mantissa and the biased binary exponent it shed
/// (the bias is removed once, in `log_product_ln`).
#[inline(always)]
fn log_product_step(mantissa: f64, factor: f64) -> (f64, i64) {
    let bits = (mantissa * factor).to_bits();
    (f64::from_bits((bits & !EXPONENT_MASK) | (1023 << 52)), ((bits & EXPONENT_MASK) >> 52) as i64)
}

/// The log of the product of `steps` factors from its mantissa and summed biased exponents.
#[inline(always)]
fn log_product_ln(mantissa: f64, biased_exponents: i64, steps: usize) -> f64 {
    (biased_exponents - 1023 * steps as i64) as f64 * std::f64::consts::LN_2 + mantissa.ln()
}

/// One candidate's likelihood evaluation in a pass of `calc_lanes`.
#[derive(Clone, Copy)]
struct LaneIn<'a> {
    spec: Spec,
    m: usize,
    p: Par,
    init: &'a [f64],
}

/// L likelihood evaluations in one pass, one per lane, each possibly of a different
/// candidate model of the same series with the season type `S` (0 none, 1 additive, 2
/// multiplicative), multiplicative errors possible in some lane only when `EM` (the
/// division and log product are skipped otherwise), each lane with no or an additive
/// (damped or not) trend. The types are constants so that a pass computes only the
/// divisions its models need: the multiplicative season's divisions sit on the chain and
/// are what limits its passes; elsewhere the chain's latency does.
/// Lane k performs exactly the floating-point operations `calc` performs for its model,
/// parameters and initial state (the per-lane type tests become selects), so its value is
/// bit-identical to `calc`'s. The filter is a chain of dependent operations: one
/// evaluation keeps the processor waiting on latencies, independent ones overlap (and
/// share vector instructions).
fn calc_lanes<const S: u8, const EM: bool, const L: usize>(y: &[f64], lanes: &[LaneIn<'_>; L], ring: &mut Vec<[f64; L]>) -> [f64; L] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2 (checked just above).
            return unsafe { calc_lanes_avx2::<S, EM, L>(y, lanes, ring) };
        }
    }
    calc_lanes_g::<S, EM, L>(y, lanes, ring)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn calc_lanes_avx2<const S: u8, const EM: bool, const L: usize>(y: &[f64], lanes: &[LaneIn<'_>; L], ring: &mut Vec<[f64; L]>) -> [f64; L] {
    calc_lanes_g::<S, EM, L>(y, lanes, ring)
}

#[inline(always)]
fn calc_lanes_g<const S: u8, const EM: bool, const L: usize>(y: &[f64], lanes: &[LaneIn<'_>; L], ring: &mut Vec<[f64; L]>) -> [f64; L] {
    let has_b: [bool; L] = std::array::from_fn(|k| lanes[k].spec.trend != Comp::N);
    let s_add = [S == 1; L];
    let s_mul = [S == 2; L];
    let e_mul: [bool; L] = std::array::from_fn(|k| EM && lanes[k].spec.error == Comp::M);
    let alpha: [f64; L] = std::array::from_fn(|k| lanes[k].p.alpha);
    let gamma: [f64; L] = std::array::from_fn(|k| lanes[k].p.gamma);
    let phi: [f64; L] = std::array::from_fn(|k| lanes[k].p.phi);
    let ba: [f64; L] = std::array::from_fn(|k| lanes[k].p.beta / lanes[k].p.alpha);
    let mut l: [f64; L] = std::array::from_fn(|k| lanes[k].init[0]);
    let mut b: [f64; L] = std::array::from_fn(|k| if has_b[k] { lanes[k].init[1] } else { 0.0 });
    // Seasonal lanes all have the same m; ring[j] = s[m-1-j], the oldest first.
    let big_m = if S == 0 { 1 } else { lanes[0].m };
    ring.clear();
    for j in 0..big_m {
        ring.push(std::array::from_fn(|k| {
            let ln = &lanes[k];
            if S != 0 {
                ln.init[1 + has_b[k] as usize + ln.m - 1 - j]
            } else {
                0.0
            }
        }));
    }
    let mut pos = 0usize;
    let mut sse = [0.0f64; L];
    let mut mantissa = [1.0f64; L];
    let mut exponent = [0i64; L];
    for &yi in y {
        let s = ring[pos];
        let mut ns = [0.0f64; L];
        let mut fv = [0.0f64; L];
        for k in 0..L {
            // one_step
            let pb = phi[k] * b[k];
            let q = if has_b[k] { l[k] + pb } else { l[k] };
            let f = if s_add[k] {
                q + s[k]
            } else if s_mul[k] {
                q * s[k]
            } else {
                q
            };
            let e_a = yi - f;
            let f0 = if f.abs() < TOL { f + TOL } else { f };
            let e = if e_mul[k] { (yi - f) / f0 } else { e_a };
            // update
            let pp = if s_add[k] {
                yi - s[k]
            } else if s_mul[k] {
                if s[k].abs() < TOL {
                    HUGE_N
                } else {
                    yi / s[k]
                }
            } else {
                yi
            };
            let nl = q + alpha[k] * (pp - q);
            let phi_b = if has_b[k] { pb } else { 0.0 };
            let nb = if has_b[k] { phi_b + ba[k] * ((nl - l[k]) - phi_b) } else { b[k] };
            let t = if s_mul[k] {
                if q.abs() < TOL {
                    HUGE_N
                } else {
                    yi / q
                }
            } else {
                yi - q
            };
            ns[k] = if s_add[k] || s_mul[k] { s[k] + gamma[k] * (t - s[k]) } else { 0.0 };
            l[k] = nl;
            b[k] = nb;
            fv[k] = f;
            sse[k] += e * e;
        }
        ring[pos] = ns;
        pos += 1;
        if pos == big_m {
            pos = 0;
        }
        if EM {
            // The factors first, in a loop of their own: so split, both loops become
            // vector instructions.
            let mut factor = [0.0f64; L];
            for k in 0..L {
                factor[k] = log_product_factor(fv[k]);
            }
            for k in 0..L {
                let (next, shed) = log_product_step(mantissa[k], factor[k]);
                mantissa[k] = next;
                exponent[k] += shed;
            }
        }
    }
    let n = y.len() as f64;
    std::array::from_fn(|k| {
        let mut lik = if sse[k] > 0.0 { n * sse[k].ln() } else { n * (sse[k] + 1e-8).ln() };
        if e_mul[k] {
            lik += 2.0 * log_product_ln(mantissa[k], exponent[k], y.len());
        }
        lik
    })
}

struct Filtered {
    e: Vec<f64>,
    level: f64,
    growth: f64,
    seasonal: Vec<f64>,
}

/// Least squares by normal equations (small, well-scaled designs only: intercept, time,
/// one Fourier pair). Returns None when singular.
fn lstsq(x: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let k = x[0].len();
    let mut a = vec![vec![0.0; k + 1]; k];
    for (row, &yy) in x.iter().zip(y) {
        for i in 0..k {
            for j in 0..k {
                a[i][j] += row[i] * row[j];
            }
            a[i][k] += row[i] * yy;
        }
    }
    for col in 0..k {
        let piv = (col..k).max_by(|&r1, &r2| a[r1][col].abs().total_cmp(&a[r2][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        for r in 0..k {
            if r != col {
                let factor = a[r][col] / a[col][col];
                for c in col..=k {
                    a[r][c] -= factor * a[col][c];
                }
            }
        }
    }
    Some((0..k).map(|i| a[i][k] / a[i][i]).collect())
}

/// Initial states (statsforecast's `initstate`): [l0, (b0), s_1..s_{m-1}] (the last
/// seasonal state is implied by the normalisation and added later).
fn init_state(y: &[f64], m: usize, trend: Comp, season: Comp) -> Result<Vec<f64>> {
    let n = y.len();
    let mut init_seas: Vec<f64> = Vec::new();
    let y_sa: Vec<f64>;
    let m_eff;
    if season != Comp::N {
        m_eff = m;
        if n < 4 {
            return Err(CrmError::invalid("AutoETS: fewer than 4 points for a seasonal model"));
        }
        let seasonal: Vec<f64> = if n < 3 * m {
            // Short series: intercept + trend + one Fourier pair.
            let w = 2.0 * std::f64::consts::PI / m as f64;
            let two_cols = m > 2;
            let rows: Vec<Vec<f64>> = (1..=n)
                .map(|t| {
                    let t = t as f64;
                    if two_cols {
                        vec![1.0, t, (w * t).cos(), (w * t).sin()]
                    } else {
                        vec![1.0, t, (w * t).cos()]
                    }
                })
                .collect();
            let coefs = lstsq(&rows, y).ok_or_else(|| CrmError::invalid("AutoETS: singular initial regression"))?;
            if season == Comp::A {
                (0..n).map(|i| y[i] - coefs[0] - coefs[1] * (i + 1) as f64).collect()
            } else {
                if !y.iter().all(|v| *v > 0.0) {
                    return Err(CrmError::invalid("AutoETS: multiplicative seasonality needs positive values"));
                }
                (0..n).map(|i| y[i] / (coefs[0] + coefs[1] * (i + 1) as f64)).collect()
            }
        } else {
            let kind = if season == Comp::A { Decomposition::Additive } else { Decomposition::Multiplicative };
            seasonal_component(y, m, kind)
        };
        init_seas = seasonal[1..m].iter().rev().copied().collect();
        if season == Comp::A {
            y_sa = y.iter().zip(&seasonal).map(|(a, s)| a - s).collect();
        } else {
            for v in init_seas.iter_mut() {
                *v = v.max(1e-2);
            }
            let sum: f64 = init_seas.iter().sum();
            if sum > m as f64 {
                let denom: f64 = init_seas.iter().map(|v| v + 1e-2).sum();
                for v in init_seas.iter_mut() {
                    *v /= denom;
                }
            }
            y_sa = y.iter().zip(&seasonal).map(|(a, s)| a / s.max(1e-2)).collect();
        }
    } else {
        m_eff = 1;
        y_sa = y.to_vec();
    }
    let maxn = (10usize.max(2 * m_eff)).min(n);
    let mut out = Vec::with_capacity(2 + init_seas.len());
    if trend == Comp::N {
        out.push(y_sa[..maxn].iter().sum::<f64>() / maxn as f64);
    } else {
        let rows: Vec<Vec<f64>> = (1..=maxn).map(|t| vec![1.0, t as f64]).collect();
        let c = lstsq(&rows, &y_sa[..maxn]).ok_or_else(|| CrmError::invalid("AutoETS: singular trend regression"))?;
        let (l, b) = (c[0], c[1]);
        if trend == Comp::A {
            let (mut l0, mut b0) = (l, b);
            if (l0 + b0).abs() < 1e-8 {
                l0 *= 1.0 + 1e-3;
                b0 *= 1.0 - 1e-3;
            }
            out.push(l0);
            out.push(b0);
        } else {
            let mut l0 = l + b;
            if l0.abs() < 1e-8 {
                l0 = 1e-7;
            }
            let mut b0 = (l + 2.0 * b) / l0;
            let div = if b0.abs() <= 1e-8 { 1e-8 } else { b0 };
            l0 /= div;
            if b0.abs() > 1e10 {
                b0 = b0.signum() * 1e10;
            }
            if l0 < 1e-8 || b0 < 1e-8 {
                l0 = y_sa[0].max(1e-3);
                let div = if y_sa[0].abs() <= 1e-8 { 1e-8 } else { y_sa[0] };
                b0 = (y_sa[1] / div).max(1e-3);
            }
            out.push(l0);
            out.push(b0);
        }
    }
    out.extend(init_seas);
    Ok(out)
}

/// Bounds shared by the candidate fits of one selection. statsforecast narrows the upper
/// bounds of beta and gamma in place while it initialises each candidate, and the
/// narrowed bounds carry over to the next candidates; we keep that behaviour (it shapes
/// which model wins) by threading this struct through the selection loop.
struct Bounds {
    lower: [f64; 4],
    upper: [f64; 4],
}

/// One candidate model ready to optimise (statsforecast's `etsmodel` up to the call of
/// the optimiser, with bounds "both" and criterion "lik").
struct Prepared {
    spec: Spec,
    m: usize,
    nsmooth: usize,
    opt_phi: bool,
    phi: f64,
    x0: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl Prepared {
    /// Smoothing parameters and the full initial state (with the implied last seasonal).
    fn unpack(&self, x: &[f64], full: &mut Vec<f64>) -> Par {
        let has_b = self.spec.trend != Comp::N;
        let seasonal = self.spec.season != Comp::N;
        let mut j = 1;
        let mut p = Par { alpha: x[0], beta: 0.0, gamma: 0.0, phi: 1.0 };
        if has_b {
            p.beta = x[j];
            j += 1;
        }
        if seasonal {
            p.gamma = x[j];
            j += 1;
        }
        if self.spec.damped {
            p.phi = if self.opt_phi { x[j] } else { self.phi };
        }
        full.clear();
        full.extend_from_slice(&x[self.nsmooth..]);
        if seasonal {
            let start = 1 + has_b as usize;
            let target = if self.spec.season == Comp::M { self.m as f64 } else { 0.0 };
            let sum: f64 = full[start..].iter().sum();
            full.push(target - sum);
        }
        p
    }

    fn objective(&self, y: &[f64], x: &[f64], full: &mut Vec<f64>, ring: &mut Vec<f64>) -> f64 {
        let p = self.unpack(x, full);
        let start = 1 + (self.spec.trend != Comp::N) as usize;
        if self.spec.season == Comp::M && full[start..].iter().any(|v| *v < 0.0) {
            return f64::INFINITY;
        }
        let lik = calc(y, &self.spec, self.m, &p, full, ring, None);
        if lik.is_nan() {
            f64::INFINITY
        } else {
            lik.max(-1e10)
        }
    }

    /// AICc from a likelihood value (statsforecast counts the variance as a parameter).
    fn aicc_of(&self, lik: f64, n: usize) -> f64 {
        let k = (self.x0.len() + 1) as f64;
        let nf = n as f64;
        if n as isize - self.x0.len() as isize - 2 != 0 {
            lik + 2.0 * k + 2.0 * k * (k + 1.0) / (nf - k - 1.0)
        } else {
            f64::INFINITY
        }
    }

    fn finish(&self, y: &[f64], res: &super::nm::NmResult) -> EtsFit {
        let mut full = Vec::new();
        let mut ring = Vec::new();
        let p = self.unpack(&res.x, &mut full);
        let n = y.len();
        let spec = self.spec;
        let mut filt = Filtered { e: vec![0.0; n], level: 0.0, growth: 0.0, seasonal: Vec::new() };
        let lik = calc(y, &spec, self.m, &p, &full, &mut ring, Some(&mut filt));
        let np_eff = self.x0.len() + 1;
        let nf = n as f64;
        let k = np_eff as f64;
        let (aic, bic, aicc) = if lik.is_finite() {
            (lik + 2.0 * k, lik + nf.ln() * k, self.aicc_of(lik, n))
        } else {
            (f64::NAN, f64::NAN, f64::NAN)
        };
        let sigma2 = filt.e.iter().map(|e| e * e).sum::<f64>() / (nf - k - 1.0);
        let fitted: Vec<f64> = match spec.error {
            Comp::M => y.iter().zip(&filt.e).map(|(a, e)| a / (1.0 + e)).collect(),
            _ => y.iter().zip(&filt.e).map(|(a, e)| a - e).collect(),
        };
        let has_b = spec.trend != Comp::N;
        let seasonal = spec.season != Comp::N;
        EtsFit {
            spec,
            m: self.m,
            alpha: p.alpha,
            beta: if has_b { p.beta } else { f64::NAN },
            gamma: if seasonal { p.gamma } else { f64::NAN },
            phi: if spec.damped { p.phi } else { f64::NAN },
            loglik: -0.5 * lik,
            aic,
            aicc,
            bic,
            sigma2,
            n_params: np_eff,
            level: filt.level,
            growth: filt.growth,
            seasonal: filt.seasonal,
            residuals: filt.e,
            fitted,
            iterations: res.iterations,
        }
    }
}

/// Starting values, initial states and bounds of one candidate (statsforecast's
/// `initparam` + `initstate`). Returns None when the model has as many parameters as
/// data points (statsforecast gives it an infinite AICc: never chosen).
fn prepare(y: &[f64], m_in: usize, spec: Spec, fixed_phi: Option<f64>, bounds: &mut Bounds) -> Result<Option<Prepared>> {
    let m = if spec.season == Comp::N { 1 } else { m_in };
    let (lower, upper) = (&bounds.lower, &mut bounds.upper);
    let mut alpha = lower[0] + 0.2 * (upper[0] - lower[0]) / m as f64;
    if !(0.0..=1.0).contains(&alpha) {
        alpha = lower[0] + 2e-3;
    }
    let mut beta = f64::NAN;
    if spec.trend != Comp::N {
        upper[1] = upper[1].min(alpha);
        beta = lower[1] + 0.1 * (upper[1] - lower[1]);
        if beta < 0.0 || beta > alpha {
            beta = alpha - 1e-3;
        }
    }
    let mut gamma = f64::NAN;
    if spec.season != Comp::N {
        upper[2] = upper[2].min(1.0 - alpha);
        gamma = lower[2] + 0.05 * (upper[2] - lower[2]);
        if gamma < 0.0 || gamma > 1.0 - alpha {
            gamma = 1.0 - alpha - 1e-3;
        }
    }
    let mut phi = f64::NAN;
    let opt_phi = spec.damped && fixed_phi.is_none();
    if spec.damped {
        phi = match fixed_phi {
            Some(p) => p,
            None => {
                let mut p = lower[3] + 0.99 * (upper[3] - lower[3]);
                if !(0.0..=1.0).contains(&p) {
                    p = upper[3] - 1e-3;
                }
                p
            }
        };
    }
    let state0 = init_state(y, m, spec.trend, spec.season)?;
    let nstate = state0.len();
    let mut x0 = vec![alpha];
    let mut lo = vec![lower[0]];
    let mut hi = vec![upper[0]];
    if spec.trend != Comp::N {
        x0.push(beta);
        lo.push(lower[1]);
        hi.push(upper[1]);
    }
    if spec.season != Comp::N {
        x0.push(gamma);
        lo.push(lower[2]);
        hi.push(upper[2]);
    }
    if spec.damped {
        x0.push(phi);
        lo.push(lower[3]);
        hi.push(upper[3]);
    }
    let nsmooth = x0.len();
    x0.extend_from_slice(&state0);
    lo.extend(std::iter::repeat_n(f64::NEG_INFINITY, nstate));
    hi.extend(std::iter::repeat_n(f64::INFINITY, nstate));
    if x0.len() + 1 >= y.len() {
        return Ok(None);
    }
    Ok(Some(Prepared { spec, m, nsmooth, opt_phi, phi, x0, lo, hi }))
}

/// Nelder–Mead settings of statsforecast's ETS fit.
const NM_MAX_ITER: usize = 1000;
const NM_TOL: f64 = 1e-4;

/// Fits one ETS model completely.
#[cfg(test)]
fn fit_model(y: &[f64], m_in: usize, spec: Spec, fixed_phi: Option<f64>, bounds: &mut Bounds) -> Result<Option<EtsFit>> {
    let Some(prep) = prepare(y, m_in, spec, fixed_phi, bounds)? else { return Ok(None) };
    let (mut full, mut ring) = (Vec::new(), Vec::new());
    let mut f = |x: &[f64]| prep.objective(y, x, &mut full, &mut ring);
    let res = super::nm::nelder_mead(&mut f, &prep.x0, &prep.lo, &prep.hi, NM_MAX_ITER, NM_TOL);
    Ok(Some(prep.finish(y, &res)))
}

/// The AutoETS configuration (statsforecast's `AutoETS(season_length, model, damped, phi)`).
#[derive(Clone, Debug)]
pub struct AutoEts {
    pub season_length: usize,
    error: Want,
    trend: Want,
    season: Want,
    pub damped: Option<bool>,
    pub phi: Option<f64>,
    /// Column name (AutoETS, Holt, HoltWinters).
    pub label: String,
    pub allow_multiplicative_trend: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoEtsParams {
    #[serde(default = "super::simple::one")]
    pub season_length: usize,
    #[serde(default = "zzz")]
    pub model: String,
    #[serde(default)]
    pub damped: Option<bool>,
    #[serde(default)]
    pub phi: Option<f64>,
}

fn zzz() -> String {
    "ZZZ".to_string()
}

impl AutoEts {
    pub fn new(season_length: usize, model: &str, damped: Option<bool>, phi: Option<f64>, label: &str) -> Result<Self> {
        if season_length == 0 {
            return Err(CrmError::invalid(format!("{label}: season_length must be >= 1, got 0")));
        }
        let chars: Vec<char> = model.chars().collect();
        if chars.len() != 3 {
            return Err(CrmError::invalid(format!(
                "{label}: model must be three letters (error, trend, season), e.g. \"ZZZ\" or \"MAM\"; got {model:?}"
            )));
        }
        let error = parse_letter(chars[0], &['A', 'M', 'Z'], "error")?;
        let trend = parse_letter(chars[1], &['N', 'A', 'M', 'Z'], "trend")?;
        let season = parse_letter(chars[2], &['N', 'A', 'M', 'Z'], "season")?;
        if let Some(p) = phi {
            if !(PHI_LOWER..=PHI_UPPER).contains(&p) {
                return Err(CrmError::invalid(format!("{label}: phi must lie in [{PHI_LOWER}, {PHI_UPPER}], got {p}")));
            }
        }
        if damped == Some(true) && trend == Want::Fixed(Comp::N) {
            return Err(CrmError::invalid(format!("{label}: damped=True needs a trend (model {model:?} has none)")));
        }
        if season_length == 1 && matches!(season, Want::Fixed(Comp::A) | Want::Fixed(Comp::M)) {
            return Err(CrmError::invalid(format!(
                "{label}: a seasonal model ({model:?}) needs season_length > 1"
            )));
        }
        Ok(AutoEts {
            season_length,
            error,
            trend,
            season,
            damped,
            phi,
            label: label.to_string(),
            allow_multiplicative_trend: false,
        })
    }

    pub fn from_params(params: &serde_json::Value) -> Result<Self> {
        let p: AutoEtsParams = super::simple::parse("AutoETS", params)?;
        AutoEts::new(p.season_length, &p.model, p.damped, p.phi, "AutoETS")
    }

    /// Fits the candidates and returns the one with the lowest AICc (statsforecast's `ets_f`).
    pub fn fit(&self, y: &[f64]) -> Result<EtsFit> {
        let n = y.len();
        let mut m = self.season_length;
        if y.iter().all(|v| *v == y[0]) {
            return Ok(constant_fit(y));
        }
        let mut season = self.season;
        if n <= m {
            season = Want::Fixed(Comp::N);
        }
        if m == 1 {
            season = Want::Fixed(Comp::N);
        }
        let forbidden = |e: Comp, t: Comp, s: Comp| (e == Comp::A && (t == Comp::M || s == Comp::M)) || (e == Comp::M && t == Comp::M && s == Comp::A);
        if let (Want::Fixed(e), Want::Fixed(t), Want::Fixed(s)) = (self.error, self.trend, season) {
            if forbidden(e, t, s) {
                return Err(CrmError::invalid(format!(
                    "{}: model {}{}{} is a forbidden (unstable) combination",
                    self.label,
                    e.letter(),
                    t.letter(),
                    s.letter()
                )));
            }
        }
        let positive = y.iter().all(|v| *v > 0.0);
        if !positive && self.error == Want::Fixed(Comp::M) {
            return Err(CrmError::invalid(format!(
                "{}: multiplicative errors need positive values; the series has zeros or negatives",
                self.label
            )));
        }
        let mut npars = 2;
        if matches!(self.trend, Want::Fixed(Comp::A) | Want::Fixed(Comp::M)) {
            npars += 2;
        }
        if matches!(season, Want::Fixed(Comp::A) | Want::Fixed(Comp::M)) {
            npars += 2;
        }
        if let Some(d) = self.damped {
            npars += d as usize;
        }
        if n <= npars + 4 {
            return Err(CrmError::invalid(format!(
                "{}: {n} points are too few to estimate the model (need more than {})",
                self.label,
                npars + 4
            )));
        }
        let errors: Vec<Comp> = match self.error {
            Want::Auto => vec![Comp::A, Comp::M],
            Want::Fixed(c) => vec![c],
        };
        let trends: Vec<Comp> = match self.trend {
            Want::Auto if self.allow_multiplicative_trend => vec![Comp::N, Comp::A, Comp::M],
            Want::Auto => vec![Comp::N, Comp::A],
            Want::Fixed(c) => vec![c],
        };
        let seasons: Vec<Comp> = match season {
            Want::Auto => vec![Comp::N, Comp::A, Comp::M],
            Want::Fixed(c) => vec![c],
        };
        let dampeds: Vec<bool> = match self.damped {
            None => vec![true, false],
            Some(d) => vec![d],
        };
        if m < 1 {
            m = 1;
        }
        let mut bounds = Bounds { lower: [1e-4, 1e-4, 1e-4, PHI_LOWER], upper: [0.9999, 0.9999, 0.9999, PHI_UPPER] };
        let mut last_err: Option<CrmError> = None;
        let mut cands: Vec<Prepared> = Vec::new();
        for &e in &errors {
            for &t in &trends {
                for &s in &seasons {
                    for &d in &dampeds {
                        if t == Comp::N && d {
                            continue;
                        }
                        if forbidden(e, t, s) {
                            continue;
                        }
                        if !positive && (e == Comp::M || s == Comp::M) {
                            continue;
                        }
                        if s != Comp::N && m == 1 {
                            continue;
                        }
                        let spec = Spec { error: e, trend: t, season: s, damped: d };
                        match prepare(y, m, spec, self.phi, &mut bounds) {
                            Ok(Some(p)) => cands.push(p),
                            Ok(None) => {}
                            Err(err) => last_err = Some(err),
                        }
                    }
                }
            }
        }
        let best = select(y, &cands);
        match best {
            Some(b) if b.aicc.is_finite() => Ok(b),
            _ => Err(last_err.unwrap_or_else(|| {
                CrmError::invalid(format!("{}: no ETS model could be fitted ({n} points)", self.label))
            })),
        }
    }
}

/// A constant series: ETS(A,N,N) with the level at the constant and zero variance.
fn constant_fit(y: &[f64]) -> EtsFit {
    let n = y.len();
    EtsFit {
        spec: Spec { error: Comp::A, trend: Comp::N, season: Comp::N, damped: false },
        m: 1,
        alpha: 0.9999,
        beta: f64::NAN,
        gamma: f64::NAN,
        phi: f64::NAN,
        loglik: f64::NAN,
        aic: f64::NAN,
        aicc: f64::NAN,
        bic: f64::NAN,
        sigma2: 0.0,
        n_params: 2,
        level: y[0],
        growth: 0.0,
        seasonal: Vec::new(),
        residuals: vec![0.0; n],
        fitted: y.to_vec(),
        iterations: 0,
    }
}

impl EtsFit {
    /// Point forecasts h steps ahead (statsforecast's `Forecast`).
    pub fn point_forecast(&self, h: usize) -> Vec<f64> {
        forecast_from(&self.spec, self.level, self.growth, &self.seasonal, self.m, if self.spec.damped { self.phi } else { 1.0 }, h)
    }

    /// Standard deviations of the h-step forecast errors for classes 1 and 2 (additive
    /// errors and additive/no seasonality; multiplicative errors with additive/no
    /// seasonality); None for the others (simulated instead).
    fn analytic_sd(&self, mean: &[f64]) -> Option<Vec<f64>> {
        let h = mean.len();
        let s2 = self.sigma2;
        let (a, b, g) = (self.alpha, if self.beta.is_nan() { 0.0 } else { self.beta }, if self.gamma.is_nan() { 0.0 } else { self.gamma });
        let phi = if self.spec.damped { self.phi } else { 1.0 };
        let m = self.m.max(1) as f64;
        let sp = &self.spec;
        if sp.trend == Comp::M || sp.season == Comp::M {
            return None;
        }
        let steps: Vec<f64> = (1..=h).map(|k| k as f64).collect();
        let hm = |k: f64| ((k - 1.0) / m).floor();
        if sp.error == Comp::A {
            let var: Vec<f64> = steps
                .iter()
                .map(|&k| {
                    let exp1 = a * a + a * b * k + b * b * k * (2.0 * k - 1.0) / 6.0;
                    let damped_part = || {
                        let exp2 = (b * phi * k) / (1.0 - phi).powi(2);
                        let exp3 = 2.0 * a * (1.0 - phi) + b * phi;
                        let exp4 = (b * phi * (1.0 - phi.powf(k))) / ((1.0 - phi).powi(2) * (1.0 - phi * phi));
                        let exp5 = 2.0 * a * (1.0 - phi * phi) + b * phi * (1.0 + 2.0 * phi - phi.powf(k));
                        a * a * (k - 1.0) + exp2 * exp3 - exp4 * exp5
                    };
                    let v = match (sp.trend, sp.season, sp.damped) {
                        (Comp::N, Comp::N, _) => 1.0 + a * a * (k - 1.0),
                        (Comp::A, Comp::N, false) => 1.0 + (k - 1.0) * exp1,
                        (Comp::A, Comp::N, true) => 1.0 + damped_part(),
                        (Comp::N, Comp::A, _) => 1.0 + a * a * (k - 1.0) + g * hm(k) * (2.0 * a + g),
                        (Comp::A, Comp::A, false) => {
                            let exp6 = 2.0 * a + g + b * m * (hm(k) + 1.0);
                            1.0 + (k - 1.0) * exp1 + g * hm(k) * exp6
                        }
                        (Comp::A, Comp::A, true) => {
                            let mm = self.m as i32;
                            let exp7 = (2.0 * b * g * phi) / ((1.0 - phi) * (1.0 - phi.powi(mm)));
                            let exp8 = hm(k) * (1.0 - phi.powi(mm)) - phi.powi(mm) * (1.0 - phi.powf(m * hm(k)));
                            1.0 + damped_part() + g * hm(k) * (2.0 * a + g) + exp7 * exp8
                        }
                        _ => f64::NAN,
                    };
                    s2 * v
                })
                .collect();
            return Some(var.iter().map(|v| v.max(0.0).sqrt()).collect());
        }
        // Class 2: multiplicative errors.
        let cvals: Vec<f64> = steps
            .iter()
            .map(|&k| {
                let d = if sp.season == Comp::A && (k as usize) % self.m.max(1) == 0 { 1.0 } else { 0.0 };
                let trend_part = match (sp.trend, sp.damped) {
                    (Comp::N, _) => 0.0,
                    (_, false) => b * k,
                    (_, true) => b * (1..=(k as usize)).map(|j| phi.powi(j as i32)).sum::<f64>(),
                };
                a + trend_part + g * d
            })
            .collect();
        let mut theta = vec![0.0; h];
        theta[0] = mean[0] * mean[0];
        for k in 1..h {
            let s: f64 = (0..k).map(|j| cvals[j] * cvals[j] * theta[k - 1 - j]).sum();
            theta[k] = mean[k] * mean[k] + s2 * s;
        }
        Some(theta.iter().zip(mean).map(|(t, f)| ((1.0 + s2) * t - f * f).max(0.0).sqrt()).collect())
    }

    /// Quantiles of simulated future paths (classes 3–5), deterministic.
    fn simulated_bounds(&self, h: usize, levels: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        const PATHS: usize = 2000;
        let sd = self.sigma2.max(0.0).sqrt();
        let m = self.m.max(1);
        let phi = if self.spec.damped { self.phi } else { 1.0 };
        let p = Par { alpha: self.alpha, beta: if self.beta.is_nan() { 0.0 } else { self.beta }, gamma: if self.gamma.is_nan() { 0.0 } else { self.gamma }, phi };
        let seasonal = self.spec.season != Comp::N;
        let mut rng = Rng::new(0x00E7_5EED, 12);
        let mut paths = vec![0.0; PATHS * h];
        let mut ring = vec![0.0; m];
        for path in 0..PATHS {
            let (mut l, mut b) = (self.level, self.growth);
            if seasonal {
                for k in 0..m {
                    ring[k] = self.seasonal[m - 1 - k];
                }
            }
            let mut pos = 0;
            for step in 0..h {
                let s_old = if seasonal { ring[pos] } else { 0.0 };
                let f = one_step(&self.spec, l, b, s_old, phi);
                let e = sd * rng.normal();
                let yv = if self.spec.error == Comp::M { f * (1.0 + e) } else { f + e };
                paths[step * PATHS + path] = yv;
                let (nl, nb, ns) = update(&self.spec, l, b, s_old, &p, yv);
                l = nl;
                b = nb;
                if seasonal {
                    ring[pos] = ns;
                    pos = (pos + 1) % m;
                }
            }
        }
        let mut lower = vec![vec![0.0; h]; levels.len()];
        let mut upper = vec![vec![0.0; h]; levels.len()];
        for step in 0..h {
            let col = &mut paths[step * PATHS..(step + 1) * PATHS];
            col.sort_by(|a, b| a.total_cmp(b));
            for (i, lv) in levels.iter().enumerate() {
                lower[i][step] = quantile_sorted(col, 0.5 - lv / 200.0);
                upper[i][step] = quantile_sorted(col, 0.5 + lv / 200.0);
            }
        }
        (lower, upper)
    }

    pub fn output(&self, h: usize, levels: &[f64], label: &str) -> ForecastOutput {
        let mean = self.point_forecast(h);
        let desc = self.spec.describe();
        let mut out = if levels.is_empty() {
            ForecastOutput::point(mean.clone(), levels, desc)
        } else if let Some(sd) = self.analytic_sd(&mean) {
            ForecastOutput::gaussian(mean.clone(), &sd, levels, desc)
        } else {
            let (lower, upper) = self.simulated_bounds(h, levels);
            ForecastOutput { mean: mean.clone(), levels: levels.to_vec(), lower, upper, fitted: None, description: desc, note: None }
        };
        let _ = label;
        out.fitted = Some(self.fitted.clone());
        out
    }
}

/// Linear-interpolation quantile of sorted data (numpy's default).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let w = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * w
}

pub fn forecast_from(spec: &Spec, l: f64, b: f64, s: &[f64], m: usize, phi: f64, h: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(h);
    let mut phistar = phi;
    for i in 0..h {
        let mut f = match spec.trend {
            Comp::N => l,
            Comp::A => l + phistar * b,
            Comp::M => {
                if b < 0.0 {
                    f64::NAN
                } else {
                    l * b.powf(phistar)
                }
            }
        };
        if spec.season != Comp::N {
            let j = (m as isize - 1 - i as isize).rem_euclid(m as isize) as usize;
            match spec.season {
                Comp::A => f += s[j],
                _ => f *= s[j],
            }
        }
        out.push(f);
        if (phi - 1.0).abs() < TOL {
            phistar += 1.0;
        } else {
            phistar += phi.powi(i as i32 + 1);
        }
    }
    out
}

/// Optimises every candidate with statsforecast's Nelder–Mead settings and returns the
/// one with the lowest AICc (the first in statsforecast's candidate order on ties).
///
/// Stopping hopeless candidates early was tried and rejected: on M3 monthly the AICc of a
/// 12-season model still falls by more than 100 between iteration 250 and 1,000, so any
/// early cut changed the chosen model on ~5% of series.
fn select(y: &[f64], cands: &[Prepared]) -> Option<EtsFit> {
    let fits: Vec<EtsFit> = if cands.iter().any(|c| c.spec.trend == Comp::M) {
        let (mut full, mut ring) = (Vec::new(), Vec::new());
        cands
            .iter()
            .map(|c| {
                let mut f = |x: &[f64]| c.objective(y, x, &mut full, &mut ring);
                let mut nm = NelderMead::new(&mut f, &c.x0, &c.lo, &c.hi, NM_TOL);
                nm.run(&mut f, NM_MAX_ITER);
                c.finish(y, &nm.result())
            })
            .collect()
    } else {
        fit_pooled(y, cands)
    };
    let mut best: Option<EtsFit> = None;
    for fit in fits {
        if !fit.aicc.is_nan() && best.as_ref().is_none_or(|b| fit.aicc < b.aicc) {
            best = Some(fit);
        }
    }
    best
}

/// Optimises the candidates side by side, those of one season type together (AutoETS has
/// up to six of each: additive or multiplicative errors with no, a damped or an additive
/// trend): each runs its own Nelder–Mead (a `Machine`, the same steps as
/// `NelderMead::run`), and one pass of `calc_lanes` evaluates the next point of each. A
/// lane whose candidate has converged takes the next candidate, those with the most
/// parameters first. Every fit is the one the sequential optimiser finds; the fits come
/// back in candidate order.
///
/// Up to four candidates run in four lanes, more in eight. The candidates of a type need
/// about the same number of iterations, so six in four lanes would take two rounds; a
/// pass is bound by the latency of the filter's chain, which eight lanes hide better, so
/// one eight-lane round costs 1.1–1.3 times a four-lane one (measured on M3 monthly).
fn fit_pooled(y: &[f64], cands: &[Prepared]) -> Vec<EtsFit> {
    let mut fits: Vec<Option<EtsFit>> = (0..cands.len()).map(|_| None).collect();
    for season in [Comp::M, Comp::A, Comp::N] {
        let mut queue: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].spec.season == season).collect();
        // Longest first (most parameters); stable, so ties keep candidate order.
        queue.sort_by_key(|&i| std::cmp::Reverse(cands[i].x0.len()));
        if queue.len() > 4 {
            fit_side_by_side::<8>(y, cands, &queue, season, &mut fits);
        } else if !queue.is_empty() {
            fit_side_by_side::<4>(y, cands, &queue, season, &mut fits);
        }
    }
    fits.into_iter().flatten().collect()
}

/// `fit_pooled` for the candidates `queue` (indices into `cands`, all of season type
/// `season`) in `L` lanes.
fn fit_side_by_side<const L: usize>(y: &[f64], cands: &[Prepared], queue: &[usize], season: Comp, fits: &mut [Option<EtsFit>]) {
    let mut full: [Vec<f64>; L] = std::array::from_fn(|_| Vec::new());
    let mut ring: Vec<[f64; L]> = Vec::new();
    let any_multiplicative_error = queue.iter().any(|&i| cands[i].spec.error == Comp::M);
    let mut queue = queue.iter().copied();
    let mut slots: [Option<(usize, Machine)>; L] = std::array::from_fn(|_| None);
    loop {
        for slot in slots.iter_mut() {
            if slot.is_none() {
                if let Some(i) = queue.next() {
                    let c = &cands[i];
                    *slot = Some((i, Machine::new(&c.x0, &c.lo, &c.hi, NM_TOL, NM_MAX_ITER)));
                }
            }
        }
        let Some(first) = slots.iter().position(|s| s.is_some()) else { break };
        let mut pars = [Par { alpha: 0.0, beta: 0.0, gamma: 0.0, phi: 1.0 }; L];
        let mut infeasible = [false; L];
        for k in 0..L {
            let (i, mach) = slots[k].as_ref().or(slots[first].as_ref()).expect("an active slot");
            let c = &cands[*i];
            let x = mach.point().expect("an active machine has a point");
            pars[k] = c.unpack(x, &mut full[k]);
            let start = 1 + (c.spec.trend != Comp::N) as usize;
            infeasible[k] = c.spec.season == Comp::M && full[k][start..].iter().any(|v| *v < 0.0);
        }
        let lane = |k: usize| {
            let (i, _) = slots[k].as_ref().or(slots[first].as_ref()).expect("an active slot");
            let c = &cands[*i];
            LaneIn { spec: c.spec, m: c.m, p: pars[k], init: &full[k] }
        };
        let lanes: [LaneIn<'_>; L] = std::array::from_fn(lane);
        let liks = match (any_multiplicative_error, season) {
            (false, Comp::N) => calc_lanes::<0, false, L>(y, &lanes, &mut ring),
            (false, Comp::A) => calc_lanes::<1, false, L>(y, &lanes, &mut ring),
            (false, Comp::M) => calc_lanes::<2, false, L>(y, &lanes, &mut ring),
            (true, Comp::N) => calc_lanes::<0, true, L>(y, &lanes, &mut ring),
            (true, Comp::A) => calc_lanes::<1, true, L>(y, &lanes, &mut ring),
            (true, Comp::M) => calc_lanes::<2, true, L>(y, &lanes, &mut ring),
        };
        for k in 0..L {
            let Some((i, mach)) = slots[k].as_mut() else { continue };
            let v = if infeasible[k] || liks[k].is_nan() { f64::INFINITY } else { liks[k].max(-1e10) };
            mach.tell(v);
            if mach.done() {
                fits[*i] = Some(cands[*i].finish(y, &mach.result()));
                slots[k] = None;
            }
        }
    }
}

impl Forecaster for AutoEts {
    fn name(&self) -> &str {
        &self.label
    }
    fn forecast(&self, y: &[f64], h: usize, levels: &[f64]) -> Result<ForecastOutput> {
        let fit = self.fit(y)?;
        let mut out = fit.output(h, levels, &self.label);
        if self.season != Want::Fixed(Comp::N) && self.season_length > 1 && fit.spec.season == Comp::N && y.len() <= self.season_length {
            out.note = Some(format!("season dropped: {} points <= season_length {}", y.len(), self.season_length));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_linear_trend() {
        let y: Vec<f64> = (0..40).map(|t| 100.0 + 2.0 * t as f64 + if t % 2 == 0 { 0.5 } else { -0.5 }).collect();
        let ets = AutoEts::new(1, "AAN", Some(false), None, "Holt").unwrap();
        let out = ets.forecast(&y, 3, &[95.0]).unwrap();
        for (k, f) in out.mean.iter().enumerate() {
            let truth = 100.0 + 2.0 * (40 + k) as f64;
            assert!((f - truth).abs() < 1.5, "{f} vs {truth}");
        }
        assert!(out.lower[0][0] < out.mean[0] && out.upper[0][0] > out.mean[0]);
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(AutoEts::new(1, "ZZ", None, None, "AutoETS").is_err());
        assert!(AutoEts::new(1, "QZZ", None, None, "AutoETS").is_err());
        assert!(AutoEts::new(1, "AAA", None, None, "AutoETS").is_err());
        assert!(AutoEts::new(12, "ANN", Some(true), None, "AutoETS").is_err());
    }

    #[test]
    fn log_product_equals_the_sum_of_logs() {
        // Factors from 1e-300 to 1e300 (products far outside the f64 range), zero (counted
        // as 1e-8) and negative forecasts (|f|), against ln summed one by one.
        let mut rng = crate::rng::Rng::new(2545, 0);
        for len in [1usize, 7, 200, 5_000] {
            let fs: Vec<f64> = (0..len)
                .map(|i| match i % 50 {
                    0 => 0.0,
                    1 => -3.5,
                    _ => 10f64.powf(600.0 * rng.uniform() - 300.0),
                })
                .collect();
            let want: f64 = fs.iter().map(|f| if *f == 0.0 { 1e-8f64.ln() } else { f.abs().ln() }).sum();
            let (mut mantissa, mut exponent) = (1.0f64, 0i64);
            for f in &fs {
                let (m, e) = log_product_step(mantissa, log_product_factor(*f));
                mantissa = m;
                exponent += e;
            }
            let got = log_product_ln(mantissa, exponent, fs.len());
            assert!((got - want).abs() <= 1e-12 * want.abs().max(1.0) * (len as f64).sqrt(), "{len}: {got} vs {want}");
        }
    }

    #[test]
    fn pooled_fits_equal_sequential_fits() {
        // Seasonal, trended, noisy: every candidate runs many iterations and shrinks.
        let y: Vec<f64> = (0..60)
            .map(|t| {
                let t = t as f64;
                (200.0 + 3.0 * t) * (1.0 + 0.3 * (2.0 * std::f64::consts::PI * t / 12.0).sin()) + 15.0 * (t * 1.7).sin()
            })
            .collect();
        let mut bounds = Bounds { lower: [1e-4, 1e-4, 1e-4, PHI_LOWER], upper: [0.9999, 0.9999, 0.9999, PHI_UPPER] };
        let mut cands = Vec::new();
        for e in [Comp::A, Comp::M] {
            for (t, d) in [(Comp::N, false), (Comp::A, true), (Comp::A, false)] {
                for s in [Comp::N, Comp::A, Comp::M] {
                    let spec = Spec { error: e, trend: t, season: s, damped: d };
                    if let Some(prep) = prepare(&y, 12, spec, None, &mut bounds).unwrap() {
                        cands.push(prep);
                    }
                }
            }
        }
        assert!(cands.len() >= 15, "{}", cands.len());
        let pooled = fit_pooled(&y, &cands);
        assert_eq!(pooled.len(), cands.len());
        for (c, got) in cands.iter().zip(&pooled) {
            let (mut full, mut ring) = (Vec::new(), Vec::new());
            let mut f = |x: &[f64]| c.objective(&y, x, &mut full, &mut ring);
            let plain = super::super::nm::nelder_mead(&mut f, &c.x0, &c.lo, &c.hi, NM_MAX_ITER, NM_TOL);
            let want = c.finish(&y, &plain);
            let d = c.spec.describe();
            assert_eq!(got.spec.describe(), d);
            assert_eq!(got.iterations, want.iterations, "{d}");
            assert_eq!(got.aicc.to_bits(), want.aicc.to_bits(), "{d}");
            assert_eq!((got.alpha, got.beta.to_bits(), got.gamma.to_bits(), got.level, got.seasonal.clone()), (want.alpha, want.beta.to_bits(), want.gamma.to_bits(), want.level, want.seasonal.clone()), "{d}");
            assert!(want.iterations > 10, "{d}");
        }
    }

    #[test]
    fn constant_series_forecasts_the_constant() {
        let out = AutoEts::new(4, "ZZZ", None, None, "AutoETS").unwrap().forecast(&[5.0; 12], 2, &[80.0]).unwrap();
        assert_eq!(out.mean, vec![5.0, 5.0]);
        assert_eq!(out.lower[0], vec![5.0, 5.0]);
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// CPU time of this thread (Linux), else wall time: the machine may be shared.
    fn cpu_seconds() -> f64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|t| t.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
            .map(|ns| ns * 1e-9)
            .unwrap_or_else(|| std::time::UNIX_EPOCH.elapsed().map(|d| d.as_secs_f64()).unwrap_or(0.0))
    }

    /// `CRMKIT_ETS_SERIES=file cargo test --release --lib ets_pooled_timing -- --ignored
    /// --nocapture`: AutoETS (season 12) on the series of `file` (one per line, values
    /// separated by spaces), candidates optimised one after the other against side by
    /// side; the chosen fits must agree bit for bit.
    #[test]
    #[ignore]
    fn ets_pooled_timing() {
        let Ok(path) = std::env::var("CRMKIT_ETS_SERIES") else { return };
        let text = std::fs::read_to_string(path).unwrap();
        let series: Vec<Vec<f64>> =
            text.lines().map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect()).collect();
        let ets = AutoEts::new(12, "ZZZ", None, None, "AutoETS").unwrap();
        let prepared: Vec<Vec<Prepared>> = series
            .iter()
            .map(|y| {
                let mut bounds = Bounds { lower: [1e-4, 1e-4, 1e-4, PHI_LOWER], upper: [0.9999, 0.9999, 0.9999, PHI_UPPER] };
                let mut cands = Vec::new();
                for e in [Comp::A, Comp::M] {
                    for t in [Comp::N, Comp::A] {
                        for s in [Comp::N, Comp::A, Comp::M] {
                            for d in [true, false] {
                                let spec = Spec { error: e, trend: t, season: s, damped: d };
                                if (t == Comp::N && d) || (e == Comp::A && s == Comp::M) {
                                    continue;
                                }
                                if let Ok(Some(p)) = prepare(y, 12, spec, None, &mut bounds) {
                                    cands.push(p);
                                }
                            }
                        }
                    }
                }
                cands
            })
            .collect();
        let start = cpu_seconds();
        let seq: Vec<Vec<EtsFit>> = series
            .iter()
            .zip(&prepared)
            .map(|(y, cands)| {
                cands
                    .iter()
                    .map(|c| {
                        let (mut full, mut ring) = (Vec::new(), Vec::new());
                        let mut f = |x: &[f64]| c.objective(y, x, &mut full, &mut ring);
                        let res = super::super::nm::nelder_mead(&mut f, &c.x0, &c.lo, &c.hi, NM_MAX_ITER, NM_TOL);
                        c.finish(y, &res)
                    })
                    .collect()
            })
            .collect();
        let t_seq = cpu_seconds() - start;
        let start = cpu_seconds();
        let pooled: Vec<Vec<EtsFit>> = series.iter().zip(&prepared).map(|(y, cands)| fit_pooled(y, cands)).collect();
        let t_pool = cpu_seconds() - start;
        let total_iterations: usize = pooled.iter().flatten().map(|f| f.iterations).sum();
        println!("total iterations over all candidates {total_iterations}");
        for (a, b) in seq.iter().flatten().zip(pooled.iter().flatten()) {
            assert_eq!(a.aicc.to_bits(), b.aicc.to_bits());
            assert_eq!(a.level.to_bits(), b.level.to_bits());
        }
        let start = cpu_seconds();
        for y in &series {
            let _ = ets.fit(y);
        }
        let t_fit = cpu_seconds() - start;
        let k = series.len() as f64;
        println!(
            "{} series: sequential {:.2} ms/series, side by side {:.2} ms/series ({:.2}x); AutoEts::fit {:.2} ms/series",
            series.len(),
            1e3 * t_seq / k,
            1e3 * t_pool / k,
            t_seq / t_pool,
            1e3 * t_fit / k
        );
    }

    /// `cargo test --release --lib ets_timing -- --ignored --nocapture`: time per candidate.
    #[test]
    #[ignore]
    fn ets_timing() {
        let y: Vec<f64> = (0..126)
            .map(|t| {
                let t = t as f64;
                (1000.0 + 5.0 * t) * (1.0 + 0.2 * (2.0 * std::f64::consts::PI * t / 12.0).sin()) * (1.0 + 0.05 * ((t * 7.3).sin()))
            })
            .collect();
        let mut best: Vec<(String, f64, usize)> = Vec::new();
        for rep in 0..7 {
            let mut bounds = Bounds { lower: [1e-4, 1e-4, 1e-4, PHI_LOWER], upper: [0.9999, 0.9999, 0.9999, PHI_UPPER] };
            let mut k = 0;
            for e in [Comp::A, Comp::M] {
                for (t, d) in [(Comp::N, false), (Comp::A, true), (Comp::A, false)] {
                    for s in [Comp::N, Comp::A, Comp::M] {
                        if e == Comp::A && s == Comp::M {
                            continue;
                        }
                        let spec = Spec { error: e, trend: t, season: s, damped: d };
                        let start = std::time::Instant::now();
                        let fit = fit_model(&y, 12, spec, None, &mut bounds).unwrap().unwrap();
                        let el = start.elapsed().as_secs_f64() * 1e3;
                        if rep == 0 {
                            best.push((spec.describe(), el, fit.iterations));
                        } else {
                            best[k].1 = best[k].1.min(el);
                        }
                        k += 1;
                    }
                }
            }
        }
        let mut total = 0.0;
        for (d, el, it) in &best {
            total += el;
            println!("{d:<14} {el:>8.3} ms iterations {it}");
        }
        println!("total {total:.2} ms");
    }
}
