//! A B2B sales pipeline: opportunities worked by a team of sales reps of different
//! skill. Each rep has a true win probability, a mean sales-cycle length and a deal
//! size multiplier (the truth). Opportunities open uniformly over the window for
//! random customers, are assigned to a rep, and close after a Gamma(2) cycle as won
//! (with the rep's probability) or lost; those still running at the end are open, at
//! a stage that reflects how far along their cycle they are.
//!
//! One random stream of its own: no other table of the world depends on it.

use polars::prelude::*;

use super::{f64s, i64s};
use crate::error::{CrmError, Result};
use crate::rng::Rng;

const OPPORTUNITY_STREAM: u64 = 0x0990_0000_0000_0000;
pub const STAGES: &[&str] = &["lead", "qualified", "proposal", "negotiation", "won", "lost"];
const OPEN_STAGES: usize = 4;

pub struct Opportunities {
    pub opportunities: DataFrame,
    /// owner, win_probability, mean_cycle_days, deal_size_multiplier.
    pub reps: DataFrame,
}

pub fn generate(
    seed: u64,
    n_customers: usize,
    start_day: i32,
    end_day: i32,
    n_reps: usize,
    per_day: f64,
) -> Result<Opportunities> {
    if n_reps == 0 || n_reps > 1_000 {
        return Err(CrmError::invalid(format!("n_reps must be between 1 and 1000, got {n_reps}")));
    }
    if !(per_day.is_finite() && per_day >= 0.0) {
        return Err(CrmError::invalid(format!("opportunities per day must be >= 0, got {per_day}")));
    }
    let mut rng = Rng::new(seed, OPPORTUNITY_STREAM);
    let owners: Vec<String> = (1..=n_reps).map(|i| format!("rep_{i:02}")).collect();
    let win: Vec<f64> = (0..n_reps).map(|_| rng.beta(6.0, 9.0)).collect();
    let cycle: Vec<f64> = (0..n_reps).map(|_| 15.0 + 45.0 * rng.uniform()).collect();
    let size: Vec<f64> = (0..n_reps).map(|_| (0.3 * rng.normal()).exp()).collect();
    let days = (end_day - start_day).max(1) as f64;
    let n = (per_day * days).round() as usize;
    let mut created: Vec<f64> = (0..n).map(|_| start_day as f64 + rng.uniform() * days).collect();
    created.sort_by(|a, b| a.total_cmp(b));
    let mut cols = (
        Vec::with_capacity(n), // customer
        Vec::with_capacity(n), // owner index
        Vec::with_capacity(n), // stage
        Vec::with_capacity(n), // amount
        Vec::with_capacity(n), // created day
        Vec::with_capacity(n), // closed day
        Vec::with_capacity(n), // won
        Vec::with_capacity(n), // furthest stage
    );
    for &c in &created {
        let r = rng.below(n_reps);
        let customer = 1 + rng.below(n_customers.max(1)) as i64;
        let amount = ((8.0 + 0.8 * rng.normal()).exp() * size[r] * 100.0).round() / 100.0;
        let length = rng.gamma(2.0, 2.0 / cycle[r]).max(0.5);
        let won = rng.chance(win[r]);
        let furthest = rng.below(OPEN_STAGES);
        let close = c + length;
        let (stage, closed, won_col, reached) = if close < end_day as f64 {
            if won {
                (4, Some(close.floor() as i32), Some(true), 4)
            } else {
                (5, Some(close.floor() as i32), Some(false), furthest)
            }
        } else {
            let progress = (end_day as f64 - c) / length;
            let at = ((progress * OPEN_STAGES as f64) as usize).min(OPEN_STAGES - 1);
            (at, None, None, at)
        };
        cols.0.push(customer);
        cols.1.push(r);
        cols.2.push(STAGES[stage]);
        cols.3.push(amount);
        cols.4.push(c.floor() as i32);
        cols.5.push(closed);
        cols.6.push(won_col);
        cols.7.push(STAGES[reached]);
    }
    let date_col = |name: &str, v: Vec<Option<i32>>| -> Result<Column> {
        Ok(Int32Chunked::from_iter_options(name.into(), v.into_iter()).into_series().cast(&DataType::Date)?.into_column())
    };
    let opportunities = DataFrame::new(
        n,
        vec![
            i64s("opportunity_id", (1..=n as i64).collect()),
            i64s("customer_id", cols.0),
            StringChunked::from_iter_values("owner".into(), cols.1.iter().map(|&r| owners[r].as_str()))
                .into_series()
                .into_column(),
            StringChunked::from_iter_values("stage".into(), cols.2.into_iter()).into_series().into_column(),
            f64s("amount", cols.3),
            date_col("created_date", cols.4.into_iter().map(Some).collect())?,
            date_col("closed_date", cols.5)?,
            BooleanChunked::from_iter_options("won".into(), cols.6.into_iter()).into_series().into_column(),
            StringChunked::from_iter_values("furthest_stage".into(), cols.7.into_iter()).into_series().into_column(),
        ],
    )?;
    let reps = DataFrame::new(
        n_reps,
        vec![
            StringChunked::from_iter_values("owner".into(), owners.iter().map(|s| s.as_str())).into_series().into_column(),
            f64s("win_probability", win),
            f64s("mean_cycle_days", cycle),
            f64s("deal_size_multiplier", size),
        ],
    )?;
    Ok(Opportunities { opportunities, reps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reps_win_at_their_true_rate() {
        let o = generate(3, 1_000, 0, 20_000, 4, 20.0).unwrap();
        let df = &o.opportunities;
        let owner = df.column("owner").unwrap().str().unwrap();
        let won = df.column("won").unwrap().bool().unwrap();
        let truth = o.reps.column("win_probability").unwrap().f64().unwrap();
        for r in 0..truth.len() {
            let name = format!("rep_{:02}", r + 1);
            let (mut w, mut k) = (0.0, 0.0);
            for i in 0..df.height() {
                if owner.get(i) == Some(name.as_str()) {
                    if let Some(x) = won.get(i) {
                        k += 1.0;
                        w += f64::from(u8::from(x));
                    }
                }
            }
            let p = truth.get(r).unwrap();
            assert!((w / k - p).abs() < 4.0 * (p * (1.0 - p) / k).sqrt() + 1e-3, "{name}: {} vs {p}", w / k);
        }
        assert!(generate(3, 10, 0, 10, 0, 1.0).is_err());
    }
}
