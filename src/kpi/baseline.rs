//! Trailing robust baselines for KPI series, one pass over time per series.
//!
//! Each series is moved to a scale where its noise is roughly symmetric: log(y + c)
//! for positive amounts and counts (a ±40% move is the same size at any level),
//! arcsine-square-root for rates with a known denominator (binomial noise has
//! variance 1/(4n) there whatever the rate), unchanged for scores such as NPS.
//!
//! At each period t only earlier data is used. Four candidate predictors are kept
//! side by side — level, level + season, level + trend, level + season + trend —
//! where the level is the median of the last `level_window` clean deseasonalised
//! points, the season the median of the same phase's deviations in up to
//! `season_cycles` earlier cycles, and the trend a Theil–Sen slope. "auto" picks, at
//! each t, the candidate with the smallest median absolute one-step error over the
//! recent clean history (so a season is used only when it predicts better), and the
//! band's width is 1.4826 × the median absolute one-step error of that candidate
//! (MAD: one outlier does not widen it). Rates are standardised by their binomial
//! standard error first, so a day with 20 visitors gets a wide band and a day with
//! 20,000 a narrow one; the robust scale then estimates the over-dispersion (≥ 1).
//!
//! Options (Settings; crmkit.kpi sets them per frequency): the level and season may
//! be trimmed means instead of medians (`level_trim`); counts may be judged on a
//! Box-Cox power of value / expected instead of its log (`count_lambda`, 0.5: the
//! square root, where Poisson-like noise is symmetric) with a band of
//! sqrt(over-dispersion + 1 / expected count) (`level_noise`: the over-dispersion is
//! the robust one-step error variance less the recent periods' typical 1 / mu); an
//! event's learnt effect may be re-scaled from the earlier days of its current
//! occurrence (`event_scale_widen`). The baseline itself always lives on the scale
//! above; only the one-step errors, the band and the score use the judged scale.
//!
//! Known events (holiday codes ≥ 0) never enter the baseline. Their effect is
//! modelled as the median deviation of the same event-day in earlier years; without
//! an earlier occurrence the period is not judged. A flagged point is left out of
//! the baseline; when `shift_run` consecutive points exceed the band on the same
//! side, the series has stepped: the first of them is flagged once as a level shift,
//! the others are unflagged and the baseline restarts from the step.

use rayon::prelude::*;

use crate::error::{CrmError, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// log(y + offset); `count` adds a Poisson floor to the noise.
    Log { offset: f64, count: bool },
    /// Unchanged (scores that may be negative: NPS, CSAT).
    Identity,
    /// A share with its denominator: arcsine-square-root, binomial noise.
    Rate,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub sensitivity: f64,
    /// Clean earlier points needed before a point may be flagged.
    pub min_history: usize,
    /// Season length in periods (0 or 1: none).
    pub season: usize,
    pub level_window: usize,
    pub season_cycles: usize,
    /// Window of one-step errors for the model choice and the band width.
    pub error_window: usize,
    /// Consecutive same-side exceedances that make a level shift.
    pub shift_run: usize,
    /// |score| at or above which a flag is critical.
    pub critical: f64,
    /// Which candidates are allowed (bit 0 level, 1 season, 2 trend, 3 season+trend).
    pub models: u8,
    /// Consecutive same-side points beyond `drift_z` x sensitivity (inside the band or
    /// not) that also make a level shift: a step smaller than the band is still a step
    /// (0: off).
    pub drift_run: usize,
    pub drift_z: f64,
    /// Extra width for an event's learnt effect (it varies from year to year).
    pub holiday_widen: f64,
    /// Extra width on event days whose earlier occurrences showed no effect.
    pub no_effect_widen: f64,
    /// The band's noise unit is max(1.4826 x MAD, this quantile of |error| / its normal
    /// quantile); 0: the MAD alone.
    pub tail_quantile: f64,
    /// Clean points needed before a known event's deviation is learnt (0: `min_history`
    /// and a band already drawn).
    pub learn_after: usize,
    /// CUSUM of the scores (each clipped to ±sensitivity): allowance `cusum_k` and
    /// decision level `cusum_h`, in standard errors; a sum beyond `cusum_h` is a level
    /// shift starting at the excursion's first score beyond 2 x `cusum_k` (0: off).
    pub cusum_k: f64,
    pub cusum_h: f64,
    /// Scale on which counts (`count_lambda`) and other amounts (`amount_lambda`) are
    /// judged, as a Box-Cox power of value / expected: 0 the log (a lognormal noise),
    /// 0.5 the square root (Poisson-like noise), 1 the relative change. The baseline
    /// is always estimated on the log scale; only the one-step errors, the band and
    /// the score use this scale.
    pub count_lambda: f64,
    pub amount_lambda: f64,
    /// Share trimmed from each side when the level and the season are averaged
    /// (0.5: the median; 0.2: a 20% trimmed mean, nearly as robust and with a third
    /// less variance on normal noise).
    pub level_trim: f64,
    /// Clean points before one-step errors are recorded (0: `level_window`).
    pub burn_in: usize,
    /// Extra width on an event day whose effect this year has been re-scaled from the
    /// earlier days of the same occurrence (0: no re-scaling).
    pub event_scale_widen: f64,
    /// Counts: the noise has a Poisson part that scales with the expected level (1 / mu
    /// on the log scale) and an over-dispersion part that does not. When on, the band
    /// at t is sqrt(over-dispersion + 1 / mu_t), the over-dispersion being the robust
    /// one-step error variance less the recent periods' typical 1 / mu: a quiet day (a
    /// Sunday, a holiday dip) gets a wider band, a busy one a narrower band.
    pub level_noise: bool,
    /// The candidate predictors are compared on the mean |one-step error| with each
    /// clipped at this many times their median (0: on the median |error|).
    pub choice_clip: f64,
}

impl Settings {
    /// The settings with every newer option at the value that keeps the older behaviour.
    #[allow(clippy::too_many_arguments)]
    pub fn with_defaults(
        sensitivity: f64,
        min_history: usize,
        season: usize,
        level_window: usize,
        season_cycles: usize,
        error_window: usize,
        shift_run: usize,
        critical: f64,
        models: u8,
    ) -> Settings {
        Settings {
            sensitivity,
            min_history,
            season,
            level_window,
            season_cycles,
            error_window,
            shift_run,
            critical,
            models,
            drift_run: 0,
            drift_z: 0.5,
            holiday_widen: HOLIDAY_WIDEN,
            no_effect_widen: NO_EFFECT_WIDEN,
            tail_quantile: TAIL_QUANTILE,
            learn_after: 0,
            cusum_k: 0.0,
            cusum_h: 0.0,
            count_lambda: 0.0,
            amount_lambda: 0.0,
            level_trim: 0.5,
            burn_in: 0,
            event_scale_widen: 0.0,
            level_noise: false,
            choice_clip: 0.0,
        }
    }
}

/// One series laid out in time order.
pub struct Series<'a> {
    pub y: &'a [f64],
    /// Denominators (rates only; NaN elsewhere).
    pub den: &'a [f64],
    pub eligible: &'a [bool],
    pub holiday: &'a [i32],
    pub scale: Scale,
}

#[derive(Clone, Debug, Default)]
pub struct Bands {
    pub expected: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    pub score: Vec<f64>,
    /// 0 none, 1 anomaly, 2 level shift (flagged once at its first period).
    pub flag: Vec<u8>,
    /// Bits: 1 season used, 2 trend used, 4 holiday modelled, 8 binomial noise,
    /// 16 Poisson floor active, 32 known event not judged.
    pub model: Vec<u8>,
}

impl Bands {
    fn with_len(n: usize) -> Bands {
        Bands {
            expected: vec![f64::NAN; n],
            lower: vec![f64::NAN; n],
            upper: vec![f64::NAN; n],
            score: vec![f64::NAN; n],
            flag: vec![0; n],
            model: vec![0; n],
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let mid = n / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    let m = *m;
    if n % 2 == 1 {
        m
    } else {
        let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + m) / 2.0
    }
}

/// The mean of `v` without the `trim` share at each end (0.5 or more: the median).
fn trimmed_mean(v: &mut [f64], trim: f64) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let k = (n as f64 * trim).floor() as usize;
    if trim >= 0.5 || 2 * k >= n {
        return median(v);
    }
    v.sort_unstable_by(|a, b| a.total_cmp(b));
    let kept = &v[k..n - k];
    kept.iter().sum::<f64>() / kept.len() as f64
}

/// Box-Cox map of a log-scale deviation x = ln(value / expected): (exp(lam x) - 1) / lam.
fn boxcox(x: f64, lam: f64) -> f64 {
    if lam > 0.0 {
        (lam * x).exp_m1() / lam
    } else {
        x
    }
}

/// Inverse of `boxcox` (the log-scale deviation at which the judged deviation is u).
fn boxcox_inv(u: f64, lam: f64) -> f64 {
    if lam > 0.0 {
        (1.0 + lam * u).max(1e-9).ln() / lam
    } else {
        u
    }
}

fn forward(scale: Scale, y: f64) -> f64 {
    match scale {
        Scale::Log { offset, .. } => (y.max(0.0) + offset).ln(),
        Scale::Identity => y,
        Scale::Rate => y.clamp(0.0, 1.0).sqrt().asin(),
    }
}

fn inverse(scale: Scale, g: f64) -> f64 {
    match scale {
        Scale::Log { offset, .. } => (g.exp() - offset).max(0.0),
        Scale::Identity => g,
        Scale::Rate => {
            let x = g.clamp(0.0, std::f64::consts::FRAC_PI_2).sin();
            x * x
        }
    }
}

/// Per-candidate state along one series.
struct Model {
    season: bool,
    trend: bool,
    /// Seasonal term used at each t (NaN when unavailable).
    seas: Vec<f64>,
    /// g − level at each clean t: what the season is estimated from.
    dev: Vec<f64>,
    /// Standardised one-step error at each clean t.
    err: Vec<f64>,
}

const N_MODELS: usize = 4;
/// One-step errors needed before a band is drawn (a MAD from fewer is too unsure).
const MIN_ERRORS: usize = 10;
const TAIL_QUANTILE: f64 = 0.9;
/// Extra width for an event's learnt effect (it varies from year to year).
const HOLIDAY_WIDEN: f64 = 1.5;
/// Extra width on event days whose earlier occurrences showed no effect.
const NO_EFFECT_WIDEN: f64 = 1.25;

fn theil_sen(xs: &[(f64, f64)], buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    for i in 0..xs.len() {
        for j in i + 1..xs.len() {
            let dx = xs[j].0 - xs[i].0;
            if dx > 0.0 {
                buf.push((xs[j].1 - xs[i].1) / dx);
            }
        }
    }
    median(buf)
}

/// Runs the auto method over one series.
pub fn auto_series(s: &Series<'_>, st: &Settings) -> Bands {
    let n = s.y.len();
    let mut out = Bands::with_len(n);
    let g: Vec<f64> = s.y.iter().map(|&y| if y.is_finite() { forward(s.scale, y) } else { f64::NAN }).collect();
    // The value a period is judged by. For rates, Anscombe's arcsine
    // asin(sqrt((x + 3/8) / (n + 3/4))): plain asin(sqrt(x / n)) puts a day with no
    // buyer out of 150 visitors (likely when 3% convert) at -4 standard errors.
    let judged_g: Vec<f64> = (0..n)
        .map(|t| match s.scale {
            Scale::Rate if g[t].is_finite() && s.den[t].is_finite() && s.den[t] > 0.0 => {
                let (x, d) = (s.y[t].clamp(0.0, 1.0) * s.den[t], s.den[t]);
                ((x + 0.375) / (d + 0.75)).sqrt().asin()
            }
            _ => g[t],
        })
        .collect();
    // Unit of noise at t: 1, or the binomial standard error on the arcsine scale.
    let unit: Vec<f64> = (0..n)
        .map(|t| match s.scale {
            Scale::Rate => {
                let d = s.den[t];
                if d.is_finite() && d > 0.0 {
                    0.5 / d.sqrt()
                } else {
                    f64::NAN
                }
            }
            _ => 1.0,
        })
        .collect();
    let season = if st.season >= 2 { st.season } else { 0 };
    let lam = match s.scale {
        Scale::Log { count: true, .. } => st.count_lambda.max(0.0),
        Scale::Log { count: false, .. } => st.amount_lambda.max(0.0),
        _ => 0.0,
    };
    let burn_in = if st.burn_in > 0 { st.burn_in } else { st.level_window };
    // the current run of event days: this year's effect / the learnt effect, per day
    let mut occ_ratios: Vec<f64> = Vec::new();
    let count_offset = match s.scale {
        Scale::Log { offset, count: true } if st.level_noise => Some(offset),
        _ => None,
    };
    // 1 / the expected count at each clean point with a recorded one-step error
    let mut inv_mu = vec![f64::NAN; n];
    let mut models: Vec<Model> = (0..N_MODELS)
        .map(|m| Model {
            season: m == 1 || m == 3,
            trend: m >= 2,
            seas: vec![f64::NAN; n],
            dev: vec![f64::NAN; n],
            err: vec![f64::NAN; n],
        })
        .collect();
    let allowed = |m: usize| st.models & (1 << m) != 0 && (season > 0 || !(m == 1 || m == 3));
    let mut clean: Vec<usize> = Vec::new(); // clean indices, increasing
    let mut holiday_dev: std::collections::HashMap<i32, Vec<f64>> = std::collections::HashMap::new();
    let mut regime_start = 0usize;
    let (mut run_start, mut run_len, mut run_sign) = (0usize, 0usize, 0i8);
    // same-side points beyond drift_z x sensitivity, in or out of the band
    let (mut drift_start, mut drift_len, mut drift_sign) = (0usize, 0usize, 0i8);
    // CUSUM excursions above (pos) and below (neg) the baseline, with their first index
    let (mut cus_pos, mut cus_neg, mut pos_start, mut neg_start) = (0.0f64, 0.0f64, 0usize, 0usize);
    let mut buf: Vec<f64> = Vec::with_capacity(512);
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(st.level_window);

    for t in 0..n {
        // --- every candidate's prediction at t ---
        let mut preds = [f64::NAN; N_MODELS];
        let mut levels = [f64::NAN; N_MODELS];
        let mut used = [0usize; N_MODELS];
        for (m, model) in models.iter_mut().enumerate() {
            if !allowed(m) {
                continue;
            }
            let mut seas = 0.0;
            if model.season {
                buf.clear();
                for k in 1..=st.season_cycles {
                    if let Some(i) = t.checked_sub(k * season) {
                        if model.dev[i].is_finite() {
                            buf.push(model.dev[i]);
                        }
                    }
                }
                if buf.is_empty() {
                    continue;
                }
                seas = trimmed_mean(&mut buf, st.level_trim);
            }
            model.seas[t] = seas;
            pts.clear();
            for &i in clean.iter().rev() {
                if i < regime_start || pts.len() >= st.level_window {
                    break;
                }
                let si = if model.season { model.seas[i] } else { 0.0 };
                if si.is_finite() {
                    pts.push((i as f64, g[i] - si));
                }
            }
            if pts.len() < 3 || (model.trend && pts.len() < 6) {
                continue;
            }
            let level = if model.trend {
                let slope = theil_sen(&pts, &mut buf);
                buf.clear();
                buf.extend(pts.iter().map(|&(x, v)| v - slope * x));
                trimmed_mean(&mut buf, st.level_trim) + slope * t as f64
            } else if s.scale == Scale::Rate {
                // Rates: the pooled share (sum of numerators / sum of denominators) of
                // the deseasonalised points. A median of sparse daily rates (mostly
                // 0 with 20 visitors a day) would sit far below the true rate.
                let (mut num, mut den) = (0.0, 0.0);
                for &(x, v) in pts.iter() {
                    let d = s.den[x as usize];
                    if d.is_finite() && d > 0.0 {
                        num += d * inverse(Scale::Rate, v);
                        den += d;
                    }
                }
                if den > 0.0 {
                    forward(Scale::Rate, num / den)
                } else {
                    continue;
                }
            } else {
                buf.clear();
                buf.extend(pts.iter().map(|&(_, v)| v));
                trimmed_mean(&mut buf, st.level_trim)
            };
            levels[m] = level;
            used[m] = pts.len();
            preds[m] = level + seas;
        }
        // --- choose the candidate with the smallest recent one-step error ---
        let recent: Vec<usize> = clean.iter().rev().take(st.error_window).copied().collect();
        // (model, median |err|, count, the error measure the choice is made on)
        let mut best: Option<(usize, f64, usize, f64)> = None;
        for m in 0..N_MODELS {
            if !preds[m].is_finite() {
                continue;
            }
            buf.clear();
            buf.extend(recent.iter().map(|&i| models[m].err[i].abs()).filter(|e| e.is_finite()));
            let count = buf.len();
            let mae = if count > 0 { median(&mut buf) } else { f64::INFINITY };
            // The median |error| does not see a season concentrated on one or two
            // phases (a shop's quiet Sunday is 1 day in 7): optionally choose on the
            // mean |error| with each clipped at `choice_clip` x the median.
            let measure = if count > 0 && st.choice_clip > 0.0 {
                let cap = st.choice_clip * mae;
                buf.iter().map(|e| e.min(cap)).sum::<f64>() / count as f64
            } else {
                mae
            };
            let better = match best {
                None => true,
                // A richer candidate must beat a simpler one clearly, on as much evidence.
                Some((_, _, b_count, b_measure)) => count + 2 >= b_count && measure < 0.95 * b_measure,
            };
            if better {
                best = Some((m, mae, count, measure));
            }
        }
        let valid = g[t].is_finite() && unit[t].is_finite();
        let is_holiday = s.holiday[t] >= 0;
        let Some((chosen, mae, count, _)) = best else {
            // no baseline yet: the point only feeds later ones
            if valid && !is_holiday {
                clean.push(t);
            }
            continue;
        };
        let base = preds[chosen];
        let mut bits = 0u8;
        if models[chosen].season {
            bits |= 1;
        }
        if models[chosen].trend {
            bits |= 2;
        }
        // One width for both sides: 1.4826 x the median absolute one-step error.
        let (mut lo_unit, mut hi_unit) = if count >= MIN_ERRORS.min(st.error_window) {
            // 1.4826 x MAD, or the 90th percentile of |error| / 1.645 when the errors
            // have heavier tails than a normal (over-dispersed counts do): the band's
            // edge is far out in the tail, where the MAD alone under-states the noise.
            let mut sym = (1.4826 * mae).max(1e-9);
            if st.tail_quantile > 0.5 && st.tail_quantile < 1.0 {
                buf.clear();
                buf.extend(recent.iter().map(|&i| models[chosen].err[i].abs()).filter(|e| e.is_finite()));
                let k = ((buf.len() as f64) * st.tail_quantile) as usize;
                let k = k.min(buf.len() - 1);
                let (_, q, _) = buf.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
                // |e| of a normal: its q-quantile is the (1 + q) / 2 quantile of e
                let z = crate::stats::dist::norm_ppf(0.5 + 0.5 * st.tail_quantile);
                sym = sym.max(*q / z);
            }
            (sym, sym)
        } else {
            (f64::NAN, f64::NAN)
        };
        // counts: split the noise into over-dispersion and a Poisson part at today's level
        let mut over_dispersion = f64::NAN;
        if let (Some(offset), true) = (count_offset, lo_unit.is_finite()) {
            buf.clear();
            buf.extend(recent.iter().map(|&i| inv_mu[i]).filter(|v| v.is_finite()));
            if !buf.is_empty() {
                let poisson = median(&mut buf);
                let v = lo_unit * lo_unit;
                over_dispersion = (v - poisson).max(0.25 * v);
                let mu = (base.exp() - offset).max(0.5);
                let w = (over_dispersion + 1.0 / mu).sqrt();
                lo_unit = w;
                hi_unit = w;
            }
        }
        if s.scale == Scale::Rate {
            bits |= 8;
            // never narrower than pure binomial noise
            if lo_unit.is_finite() {
                lo_unit = lo_unit.max(1.0);
                hi_unit = hi_unit.max(1.0);
            }
        }
        // A level from fewer points than usual (a fresh regime after a step) is less
        // certain than the errors it was calibrated on: widen by the median's variance.
        let fresh = if used[chosen] < st.level_window {
            ((1.0 + 1.57 / used[chosen] as f64) / (1.0 + 1.57 / st.level_window as f64)).sqrt()
        } else {
            1.0
        };
        let mut lo_sigma = lo_unit * unit[t] * fresh;
        let mut hi_sigma = hi_unit * unit[t] * fresh;
        let floor = match s.scale {
            Scale::Log { offset, count: true } => {
                let mu = (base.exp() - offset).max(0.0);
                (mu.sqrt() / (mu + offset)).max(0.005)
            }
            Scale::Log { .. } => 0.005,
            Scale::Identity => 1e-6 * base.abs().max(1.0),
            Scale::Rate => 0.0,
        };
        if floor > lo_sigma.min(hi_sigma) && matches!(s.scale, Scale::Log { count: true, .. }) {
            bits |= 16;
        }
        // (f64::max would turn a missing width into the floor: keep it missing)
        if lo_sigma.is_finite() {
            lo_sigma = lo_sigma.max(floor);
            hi_sigma = hi_sigma.max(floor);
        }
        let mut pred = base;
        let mut judged = true;
        // the learnt effect of today's event, when modelled and clearly non-zero
        let mut clear_effect: Option<f64> = None;
        if !is_holiday {
            occ_ratios.clear();
        }
        if is_holiday {
            match holiday_dev.get(&s.holiday[t]) {
                Some(devs) if !devs.is_empty() => {
                    let k = devs.len() as f64;
                    let mut d = devs.clone();
                    let effect = median(&mut d);
                    let noise = 0.5 * (lo_sigma + hi_sigma);
                    // An event that moved the KPI before is modelled (with the
                    // uncertainty of a few earlier years); one that did not is ignored.
                    let widen = if !noise.is_finite() || effect.abs() > 2.0 * noise / k.sqrt() {
                        if noise.is_finite() && effect.abs() > 2.0 * noise {
                            clear_effect = Some(effect);
                        }
                        if st.event_scale_widen > 0.0 && !occ_ratios.is_empty() {
                            // This year's occurrence so far says how much stronger or
                            // weaker the event is than in earlier years (a Double 11
                            // bigger than last year's raises every day of its ramp).
                            let mut r = occ_ratios.clone();
                            let ratio = median(&mut r).clamp(0.0, 3.0);
                            pred += ratio * effect;
                            st.event_scale_widen * (1.0 + 1.0 / occ_ratios.len() as f64).sqrt()
                        } else {
                            pred += effect;
                            st.holiday_widen * (1.0 + 1.0 / k).sqrt()
                        }
                    } else {
                        st.no_effect_widen
                    };
                    // the Poisson part at the event's own level (a dip is noisier)
                    let widen = match (count_offset, over_dispersion.is_finite()) {
                        (Some(offset), true) => {
                            let (mu0, mu1) = ((base.exp() - offset).max(0.5), (pred.exp() - offset).max(0.5));
                            widen * ((over_dispersion + 1.0 / mu1) / (over_dispersion + 1.0 / mu0)).sqrt()
                        }
                        _ => widen,
                    };
                    lo_sigma *= widen;
                    hi_sigma *= widen;
                    bits |= 4;
                }
                _ => {
                    judged = false;
                    bits |= 32;
                }
            }
        }
        out.model[t] = bits;
        out.expected[t] = inverse(s.scale, pred);
        if lo_sigma.is_finite() && judged {
            out.lower[t] = inverse(s.scale, pred + boxcox_inv(-st.sensitivity * lo_sigma, lam));
            out.upper[t] = inverse(s.scale, pred + boxcox_inv(st.sensitivity * hi_sigma, lam));
        }
        // (on the judged scale: the log, or a Box-Cox power of value / expected)
        let dev = boxcox(judged_g[t] - pred, lam);
        let sigma = if dev >= 0.0 { hi_sigma } else { lo_sigma };
        if !valid {
            continue;
        }
        if is_holiday {
            // modelled, never part of the baseline; its deviation teaches next year
            let e = holiday_dev.entry(s.holiday[t]).or_default();
            let score = dev / sigma;
            // (this year's depth of the event, flagged or not: a Double 11 twice as big
            // as last year's is flagged on its first clear day, then followed)
            if let Some(effect) = clear_effect {
                occ_ratios.push((g[t] - base) / effect);
            }
            if judged && sigma.is_finite() {
                out.score[t] = score;
                if s.eligible[t] && clean.len() >= st.min_history && score.abs() > st.sensitivity {
                    out.flag[t] = 1;
                    continue; // an anomalous holiday teaches nothing about the next one
                }
            }
            // learn only from a trustworthy baseline (not in a series' first weeks):
            // `learn_after` clean points (0: `min_history` and a band already drawn)
            let learn = if st.learn_after > 0 {
                clean.len() >= st.learn_after
            } else {
                clean.len() >= st.min_history && lo_sigma.is_finite()
            };
            if learn {
                e.push(g[t] - base);
            }
            continue;
        }
        let score = dev / sigma;
        if sigma.is_finite() {
            out.score[t] = score;
        }
        let judged_now = sigma.is_finite() && clean.len() >= st.min_history && s.eligible[t];
        let sign: i8 = if score > 0.0 { 1 } else { -1 };
        if judged_now && score.abs() > st.drift_z * st.sensitivity {
            if drift_len > 0 && drift_sign == sign {
                drift_len += 1;
            } else {
                drift_start = t;
                drift_len = 1;
                drift_sign = sign;
            }
        } else {
            drift_len = 0;
        }
        let mut drifted = st.drift_run >= 2 && drift_len >= st.drift_run;
        if st.cusum_h > 0.0 && judged_now && score.is_finite() {
            let z = score.clamp(-st.sensitivity, st.sensitivity);
            if cus_pos <= 0.0 {
                pos_start = t;
            }
            if cus_neg <= 0.0 {
                neg_start = t;
            }
            cus_pos = (cus_pos + z - st.cusum_k).max(0.0);
            cus_neg = (cus_neg - z - st.cusum_k).max(0.0);
            let hit = if cus_pos > st.cusum_h {
                Some((pos_start, 1i8))
            } else if cus_neg > st.cusum_h {
                Some((neg_start, -1i8))
            } else {
                None
            };
            if let Some((start, sgn)) = hit {
                // the step starts at the excursion's first clear move
                let mut first = start;
                for i in start..=t {
                    let v = out.score[i];
                    if s.holiday[i] < 0 && v.is_finite() && v * f64::from(sgn) > 2.0 * st.cusum_k {
                        first = i;
                        break;
                    }
                }
                drifted = true;
                drift_start = first;
                drift_sign = sgn;
            }
        }
        let exceeds = sigma.is_finite() && clean.len() >= st.min_history && score.abs() > st.sensitivity;
        if (exceeds && s.eligible[t]) || drifted {
            if exceeds {
                out.flag[t] = 1;
            }
            if run_len > 0 && run_sign == sign && exceeds {
                run_len += 1;
            } else if exceeds {
                run_start = t;
                run_len = 1;
                run_sign = sign;
            }
            // a run of points beyond the band dates a step better than the drift's
            // excursion (which may begin with a noisy point just before it)
            if drifted && !(st.shift_run >= 2 && run_len >= st.shift_run) {
                run_start = drift_start;
                run_sign = drift_sign;
                run_len = st.shift_run.max(2);
            }
            if st.shift_run >= 2 && run_len >= st.shift_run {
                // A lasting step: flag its start once and restart the baseline there.
                // The step may have begun a little earlier, with a period or two just
                // inside the band: walk back over same-side scores beyond 3/4 of the
                // sensitivity.
                let mut first = run_start;
                let mut j = run_start;
                while j > regime_start {
                    j -= 1;
                    if s.holiday[j] >= 0 || !out.score[j].is_finite() {
                        continue;
                    }
                    if out.score[j].signum() == f64::from(sign) && out.score[j].abs() > 0.75 * st.sensitivity {
                        first = j;
                    } else {
                        break;
                    }
                }
                for i in first..=t {
                    out.flag[i] = 0;
                    for model in models.iter_mut() {
                        model.err[i] = f64::NAN;
                    }
                    if g[i].is_finite() && s.holiday[i] < 0 {
                        clean.push(i);
                    }
                }
                out.flag[first] = 2;
                clean.sort_unstable();
                clean.dedup();
                regime_start = first;
                run_len = 0;
                drift_len = 0;
                cus_pos = 0.0;
                cus_neg = 0.0;
                continue;
            }
            if exceeds {
                continue;
            }
        } else {
            run_len = 0;
        }
        // A normal point: it feeds the baseline, the season and the error history
        // (errors only once the level rests on a full window: a series' first
        // periods, often a ramp-up, would otherwise widen its bands for years).
        let burnt_in = clean.len() >= burn_in;
        clean.push(t);
        if let (Some(offset), true) = (count_offset, burnt_in) {
            inv_mu[t] = 1.0 / (base.exp() - offset).max(0.5);
        }
        for m in 0..N_MODELS {
            if preds[m].is_finite() {
                let model = &mut models[m];
                if burnt_in {
                    model.err[t] = boxcox(g[t] - preds[m], lam) / unit[t];
                }
                model.dev[t] = g[t] - levels[m];
            }
        }
        // Season candidates need deviations from a level even before their first
        // prediction: use the plain level (model 0's) as the reference.
        if levels[0].is_finite() {
            for m in [1usize, 3] {
                if models[m].dev[t].is_nan() {
                    models[m].dev[t] = g[t] - if m == 3 && levels[2].is_finite() { levels[2] } else { levels[0] };
                }
            }
        }
    }
    out
}

/// Plain trailing mean ± k·sd over the last `window` points (the baseline users compare with).
pub fn zscore_series(s: &Series<'_>, window: usize, sensitivity: f64, min_history: usize, critical: f64) -> Bands {
    let n = s.y.len();
    let mut out = Bands::with_len(n);
    let _ = critical;
    let mut hist: Vec<f64> = Vec::new();
    for t in 0..n {
        let tail = &hist[hist.len().saturating_sub(window)..];
        if tail.len() >= 2 {
            let k = tail.len() as f64;
            let mean = tail.iter().sum::<f64>() / k;
            let var = tail.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0);
            let sd = var.sqrt();
            out.expected[t] = mean;
            out.lower[t] = mean - sensitivity * sd;
            out.upper[t] = mean + sensitivity * sd;
            if s.y[t].is_finite() && sd > 0.0 {
                let z = (s.y[t] - mean) / sd;
                out.score[t] = z;
                if s.eligible[t] && hist.len() >= min_history && z.abs() > sensitivity {
                    out.flag[t] = 1;
                }
            }
        }
        if s.y[t].is_finite() {
            hist.push(s.y[t]);
        }
    }
    out
}

/// Flat inputs for many series: `offsets` has one more entry than there are series.
pub struct Batch<'a> {
    pub offsets: &'a [usize],
    pub y: &'a [f64],
    pub den: &'a [f64],
    pub eligible: &'a [bool],
    pub holiday: &'a [i32],
    /// Per series: 0 log, 1 log count, 2 identity, 3 rate.
    pub kind: &'a [u8],
    /// Per series: log offset.
    pub offset: &'a [f64],
    /// Per series: season length.
    pub season: &'a [usize],
}

pub fn run(batch: &Batch<'_>, st: &Settings, zscore_window: Option<usize>) -> Result<Bands> {
    let n = batch.y.len();
    let k = batch.offsets.len().saturating_sub(1);
    if batch.den.len() != n || batch.eligible.len() != n || batch.holiday.len() != n {
        return Err(CrmError::invalid("kpi bands: value, denominator, eligible and holiday arrays differ in length"));
    }
    if batch.kind.len() != k || batch.offset.len() != k || batch.season.len() != k {
        return Err(CrmError::invalid("kpi bands: per-series arrays do not match the number of series"));
    }
    if batch.offsets.first().copied().unwrap_or(0) != 0
        || batch.offsets.last().copied().unwrap_or(0) != n
        || batch.offsets.windows(2).any(|w| w[1] < w[0])
    {
        return Err(CrmError::invalid("kpi bands: series offsets must rise from 0 to the number of points"));
    }
    if !(st.sensitivity.is_finite() && st.sensitivity > 0.0) {
        return Err(CrmError::invalid(format!("sensitivity must be a positive number, got {}", st.sensitivity)));
    }
    let parts: Vec<Bands> = (0..k)
        .into_par_iter()
        .map(|i| {
            let (a, b) = (batch.offsets[i], batch.offsets[i + 1]);
            let scale = match batch.kind[i] {
                0 => Scale::Log { offset: batch.offset[i], count: false },
                1 => Scale::Log { offset: batch.offset[i], count: true },
                3 => Scale::Rate,
                _ => Scale::Identity,
            };
            let s = Series {
                y: &batch.y[a..b],
                den: &batch.den[a..b],
                eligible: &batch.eligible[a..b],
                holiday: &batch.holiday[a..b],
                scale,
            };
            match zscore_window {
                Some(w) => zscore_series(&s, w, st.sensitivity, st.min_history, st.critical),
                None => {
                    let mut st = st.clone();
                    st.season = batch.season[i];
                    auto_series(&s, &st)
                }
            }
        })
        .collect();
    let mut all = Bands::default();
    for p in parts {
        all.expected.extend(p.expected);
        all.lower.extend(p.lower);
        all.upper.extend(p.upper);
        all.score.extend(p.score);
        all.flag.extend(p.flag);
        all.model.extend(p.model);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn settings(season: usize) -> Settings {
        Settings::with_defaults(3.5, 28, season, 28, 8, 56, 3, 6.0, 0b1111)
    }

    fn weekly_counts(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed, 1);
        let week = [0.8, 0.9, 1.0, 1.0, 1.1, 1.4, 1.3];
        (0..n).map(|t| rng.poisson(200.0 * week[t % 7]) as f64).collect()
    }

    fn series<'a>(y: &'a [f64], den: &'a [f64], el: &'a [bool], hol: &'a [i32], scale: Scale) -> Series<'a> {
        Series { y, den, eligible: el, holiday: hol, scale }
    }

    #[test]
    fn a_one_day_spike_is_flagged_and_nothing_else() {
        let mut y = weekly_counts(400, 3);
        y[300] *= 1.5;
        let (den, el, hol) = (vec![f64::NAN; 400], vec![true; 400], vec![-1; 400]);
        let b = auto_series(&series(&y, &den, &el, &hol, Scale::Log { offset: 1.0, count: true }), &settings(7));
        let flagged: Vec<usize> = (0..400).filter(|&t| b.flag[t] > 0).collect();
        assert_eq!(flagged, vec![300], "{flagged:?}");
        assert!(b.model[320] & 1 == 1, "the weekly season is used");
    }

    #[test]
    fn a_level_shift_is_flagged_once_at_its_start() {
        let mut y = weekly_counts(400, 5);
        for v in y.iter_mut().skip(250) {
            *v *= 0.6;
        }
        let (den, el, hol) = (vec![f64::NAN; 400], vec![true; 400], vec![-1; 400]);
        let b = auto_series(&series(&y, &den, &el, &hol, Scale::Log { offset: 1.0, count: true }), &settings(7));
        let flagged: Vec<(usize, u8)> = (0..400).filter(|&t| b.flag[t] > 0).map(|t| (t, b.flag[t])).collect();
        assert_eq!(flagged, vec![(250, 2)], "{flagged:?}");
    }

    #[test]
    fn rates_with_tiny_denominators_are_not_flagged_for_noise() {
        let mut rng = Rng::new(9, 2);
        let n = 2_000;
        let den: Vec<f64> = (0..n).map(|t| if t % 3 == 0 { 5.0 } else { 2_000.0 }).collect();
        let y: Vec<f64> =
            den.iter().map(|&d| (0..d as usize).filter(|_| rng.chance(0.05)).count() as f64 / d).collect();
        let (el, hol) = (vec![true; n], vec![-1; n]);
        let b = auto_series(&series(&y, &den, &el, &hol, Scale::Rate), &settings(7));
        let flags = b.flag.iter().filter(|&&f| f > 0).count();
        assert!(flags <= 3, "{flags} false alarms in {n} periods");
    }

    #[test]
    fn known_events_are_not_surprises() {
        let n = 800;
        let mut y = weekly_counts(n, 8);
        let mut hol = vec![-1; n];
        for year in 0..2 {
            for d in 0..10 {
                let t = 100 + 364 * year + d;
                y[t] *= 0.4;
                hol[t] = d as i32;
            }
        }
        let (den, el) = (vec![f64::NAN; n], vec![true; n]);
        let b = auto_series(&series(&y, &den, &el, &hol, Scale::Log { offset: 1.0, count: true }), &settings(7));
        // nothing flagged inside the events (a chance alarm elsewhere is allowed)
        assert!((0..n).all(|t| hol[t] < 0 || b.flag[t] == 0));
        assert!(b.flag.iter().filter(|&&f| f > 0).count() <= 1);
        assert!(b.model[464] & 4 == 4, "the second year models the event from the first");
    }

    #[test]
    fn an_event_deeper_this_year_is_followed_after_its_first_days() {
        let n = 800;
        let mut y = weekly_counts(n, 8);
        let mut hol = vec![-1; n];
        for (year, size) in [(0usize, 0.6f64), (1, 0.3)] {
            for d in 0..10 {
                let t = 100 + 364 * year + d;
                y[t] *= size;
                hol[t] = d as i32;
            }
        }
        let (den, el) = (vec![f64::NAN; n], vec![true; n]);
        let scale = Scale::Log { offset: 1.0, count: true };
        let plain = auto_series(&series(&y, &den, &el, &hol, scale), &settings(7));
        let mut st = settings(7);
        st.event_scale_widen = 1.25;
        let scaled = auto_series(&series(&y, &den, &el, &hol, scale), &st);
        let flags = |b: &Bands| (466..474).filter(|&t| b.flag[t] > 0).count();
        assert!(flags(&plain) >= 6, "the learnt depth alone misjudges a deeper year: {}", flags(&plain));
        assert_eq!(flags(&scaled), 0, "{:?}", &scaled.score[464..474]);
    }

    #[test]
    fn counts_judged_on_the_square_root_scale_with_level_noise() {
        // a +45% day on 150 orders: beyond the band on the square-root scale with a
        // Poisson band at the day's own level, and nothing else flagged
        let mut y = weekly_counts(400, 11);
        for v in y.iter_mut() {
            *v = (*v * 0.75).round();
        }
        y[300] = (y[300] * 1.45).round();
        let (den, el, hol) = (vec![f64::NAN; 400], vec![true; 400], vec![-1; 400]);
        let mut st = settings(7);
        st.count_lambda = 0.5;
        st.level_noise = true;
        st.level_trim = 0.25;
        let b = auto_series(&series(&y, &den, &el, &hol, Scale::Log { offset: 1.0, count: true }), &st);
        let flagged: Vec<usize> = (0..400).filter(|&t| b.flag[t] > 0).collect();
        assert_eq!(flagged, vec![300], "{flagged:?}");
        assert!(b.upper[300] < y[300] && b.lower[300] < b.expected[300] && b.expected[300] < b.upper[300]);
    }

    #[test]
    fn bad_batches_are_refused() {
        let st = settings(7);
        let y = [1.0, 2.0];
        let batch = Batch {
            offsets: &[0, 3],
            y: &y,
            den: &[f64::NAN; 2],
            eligible: &[true; 2],
            holiday: &[-1; 2],
            kind: &[0],
            offset: &[1.0],
            season: &[7],
        };
        assert!(run(&batch, &st, None).is_err());
    }
}
