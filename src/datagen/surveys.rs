//! Satisfaction surveys after orders: each customer has a latent satisfaction, and a
//! share of orders is followed by a survey whose NPS (0–10) and CSAT (1–5) answers
//! are that satisfaction plus answer noise.
//!
//! Every customer and every order draws from its own stream (keyed by customer id and
//! order index), so the table is the same for a seed whatever the threads, and no
//! other table of the world depends on it.

use polars::prelude::*;
use rayon::prelude::*;

use super::{f64s, i64s};
use crate::error::{CrmError, Result};
use crate::rng::Rng;

const SATISFACTION_STREAM: u64 = 0x5A7_0000_0000_0000;
const RESPONSE_STREAM: u64 = 0x5A8_0000_0000_0000;
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

pub struct Surveys {
    pub surveys: DataFrame,
    /// customer_id, satisfaction (latent, standard normal), p_promoter, p_detractor.
    pub truth: DataFrame,
}

/// P(promoter) and P(detractor) of a customer with latent satisfaction `s`
/// (answer = 7.6 + 1.8 (s + 0.7 e), e ~ N(0, 1), rounded and clipped to 0..10).
fn nps_probabilities(s: f64) -> (f64, f64) {
    let sd = 1.8 * 0.7;
    let mean = 7.6 + 1.8 * s;
    let phi = crate::stats::dist::norm_cdf;
    (1.0 - phi((8.5 - mean) / sd), phi((6.5 - mean) / sd))
}

/// Surveys for orders given as (customer id, order time in µs); answers arrive
/// Exp(mean 2 days) after the order and only those before `end_us` are kept.
pub fn generate(seed: u64, customers: &[i64], order_us: &[i64], response_rate: f64, end_us: i64) -> Result<Surveys> {
    if customers.len() != order_us.len() {
        return Err(CrmError::invalid("surveys: customer and order-time arrays differ in length"));
    }
    if !(0.0..=1.0).contains(&response_rate) {
        return Err(CrmError::invalid(format!("survey_rate must lie in [0, 1], got {response_rate}")));
    }
    let max_id = customers.iter().copied().max().unwrap_or(0).max(0) as usize;
    let satisfaction: Vec<f64> = (0..=max_id)
        .into_par_iter()
        .map(|c| Rng::new(seed, SATISFACTION_STREAM | c as u64).normal())
        .collect();
    let rows: Vec<Option<(i64, i64, i32, i32)>> = (0..customers.len())
        .into_par_iter()
        .map(|i| {
            let mut rng = Rng::new(seed, RESPONSE_STREAM | i as u64);
            if !rng.chance(response_rate) {
                return None;
            }
            let c = customers[i];
            let s = satisfaction[c.max(0) as usize];
            let at = order_us[i] + (rng.exponential(0.5) * MICROS_PER_DAY as f64) as i64;
            let nps = (7.6 + 1.8 * (s + 0.7 * rng.normal())).round().clamp(0.0, 10.0) as i32;
            let csat = (3.8 + 0.8 * (s + 0.6 * rng.normal())).round().clamp(1.0, 5.0) as i32;
            (at < end_us).then_some((c, at, nps, csat))
        })
        .collect();
    let mut kept: Vec<(i64, i64, i32, i32)> = rows.into_iter().flatten().collect();
    kept.sort_by_key(|r| (r.1, r.0));
    let n = kept.len();
    let surveys = DataFrame::new(
        n,
        vec![
            i64s("customer_id", kept.iter().map(|r| r.0).collect()),
            Int64Chunked::from_vec("survey_date".into(), kept.iter().map(|r| r.1).collect())
                .into_series()
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
                .into_column(),
            Int32Chunked::from_vec("nps_score".into(), kept.iter().map(|r| r.2).collect()).into_series().into_column(),
            Int32Chunked::from_vec("csat".into(), kept.iter().map(|r| r.3).collect()).into_series().into_column(),
        ],
    )?;
    let ids: Vec<i64> = (1..=max_id as i64).collect();
    let sat: Vec<f64> = ids.iter().map(|&c| satisfaction[c as usize]).collect();
    let (pp, pd): (Vec<f64>, Vec<f64>) = sat.iter().map(|&s| nps_probabilities(s)).unzip();
    let truth = DataFrame::new(
        ids.len(),
        vec![i64s("customer_id", ids), f64s("satisfaction", sat), f64s("p_promoter", pp), f64s("p_detractor", pd)],
    )?;
    Ok(Surveys { surveys, truth })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_follow_the_latent_satisfaction() {
        let n = 200_000;
        let customers: Vec<i64> = (0..n).map(|i| (i % 5_000) as i64 + 1).collect();
        let times: Vec<i64> = (0..n).map(|i| i as i64 * 1_000_000).collect();
        let s = generate(7, &customers, &times, 0.3, i64::MAX).unwrap();
        let share = s.surveys.height() as f64 / n as f64;
        assert!((share - 0.3).abs() < 0.01, "{share}");
        let nps = s.surveys.column("nps_score").unwrap().i32().unwrap();
        let values: Vec<i32> = (0..nps.len()).filter_map(|i| nps.get(i)).collect();
        let promoters = values.iter().filter(|&&v| v >= 9).count() as f64;
        let detractors = values.iter().filter(|&&v| v <= 6).count() as f64;
        let m = s.surveys.height() as f64;
        // the truth's probabilities average to the observed shares
        let tp = s.truth.column("p_promoter").unwrap().f64().unwrap().mean().unwrap();
        let td = s.truth.column("p_detractor").unwrap().f64().unwrap().mean().unwrap();
        assert!((promoters / m - tp).abs() < 0.01, "{} vs {tp}", promoters / m);
        assert!((detractors / m - td).abs() < 0.01, "{} vs {td}", detractors / m);
        let again = generate(7, &customers, &times, 0.3, i64::MAX).unwrap();
        assert!(again.surveys.equals(&s.surveys));
    }
}
