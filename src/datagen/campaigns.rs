//! Marketing campaigns with randomised holdouts and a planted effect, generated on top of
//! an existing world from their own random stream (the world's tables are inputs and are
//! never changed; campaign-caused orders are returned separately for the caller to append).
//!
//! Campaign k is sent at one instant to an audience drawn from the customers known by
//! then (first purchase before the send). Each member is assigned to treatment (contacted)
//! or the holdout control at random, and carries a segment from their recency at send
//! time: "active" (last order within 90 days), "lapsing" (90-365 days) or "lapsed".
//! Every member draws a potential campaign order with probability u(k, segment); only
//! treated members' draws become orders (within the response window, amount from the
//! customer's Gamma-Gamma spend distribution). The truth records, per campaign and
//! segment, the planted u and the expected effects the randomised comparison estimates
//! on this audience: incremental response E[u·(1 - organic response)], incremental orders
//! u and incremental revenue E[u·mean spend] per customer.

use std::collections::HashMap;

use crate::error::{CrmError, Result};
use crate::rng::Rng;

/// Keeps the campaign stream apart from every world stream.
const CAMPAIGN_STREAM: u64 = 0xC0FF_EE00_0000_0014;
const MICROS_PER_DAY: i64 = 86_400_000_000;
pub const SEGMENTS: [&str; 3] = ["active", "lapsing", "lapsed"];
pub const CHANNELS: [(&str, f64); 4] = [("email", 0.02), ("sms", 0.05), ("app_push", 0.01), ("wechat", 0.03)];

#[derive(Clone, Debug)]
pub struct CampaignParams {
    pub seed: u64,
    pub n_campaigns: usize,
    /// Send dates are drawn in [first_send_day, last_send_day] (days since 1970-01-01).
    pub first_send_day: i32,
    pub last_send_day: i32,
    pub window_days: f64,
    /// Share of the known customers in each campaign's audience.
    pub audience_share: f64,
    /// Share of the audience contacted (the rest is the holdout control).
    pub treatment_share: f64,
    /// Gamma shape p of order amounts (the world's Gamma-Gamma p).
    pub spend_shape: f64,
}

/// The generated campaign tables, column by column.
#[derive(Default, Debug)]
pub struct Campaigns {
    // campaigns table
    pub campaign_id: Vec<i64>,
    pub customer_id: Vec<i64>,
    pub treatment: Vec<bool>,
    pub sent_us: Vec<i64>,
    pub channel: Vec<&'static str>,
    pub cost: Vec<f64>,
    pub segment: Vec<&'static str>,
    // campaign-caused orders
    pub order_campaign: Vec<i64>,
    pub order_customer: Vec<i64>,
    pub order_us: Vec<i64>,
    pub order_amount: Vec<f64>,
    // truth per campaign × segment (segment "all" for the whole campaign)
    pub truth_campaign: Vec<i64>,
    pub truth_segment: Vec<&'static str>,
    pub truth_channel: Vec<&'static str>,
    pub truth_sent_us: Vec<i64>,
    pub truth_customers: Vec<i64>,
    pub truth_uplift: Vec<f64>,
    pub truth_response: Vec<f64>,
    pub truth_orders: Vec<f64>,
    pub truth_revenue: Vec<f64>,
}

/// `customers`: (customer_id, spend rate ν, first purchase in µs); `orders`: (customer_id,
/// order time in µs) of the world.
pub fn generate(
    params: &CampaignParams,
    customers: (&[i64], &[f64], &[i64]),
    orders: (&[i64], &[i64]),
) -> Result<Campaigns> {
    let (cust_id, cust_nu, cust_first) = customers;
    if cust_id.len() != cust_nu.len() || cust_id.len() != cust_first.len() || orders.0.len() != orders.1.len() {
        return Err(CrmError::invalid("campaign generator: input columns differ in length"));
    }
    if params.last_send_day < params.first_send_day {
        return Err(CrmError::invalid(
            "the observation window is too short for campaigns: it needs 180 days of history and a response window before its end",
        ));
    }
    if !(params.window_days > 0.0) || !(0.0..=1.0).contains(&params.audience_share) || !(params.treatment_share > 0.0 && params.treatment_share < 1.0) {
        return Err(CrmError::invalid("campaign parameters out of range (window > 0, shares in (0, 1))"));
    }
    let index: HashMap<i64, usize> = cust_id.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    // Order times per customer, sorted.
    let mut per: Vec<Vec<i64>> = vec![Vec::new(); cust_id.len()];
    for (&c, &t) in orders.0.iter().zip(orders.1) {
        if let Some(&i) = index.get(&c) {
            per[i].push(t);
        }
    }
    for v in per.iter_mut() {
        v.sort_unstable();
    }
    let mut rng = Rng::new(params.seed, CAMPAIGN_STREAM);
    let mut out = Campaigns::default();
    let window_us = (params.window_days * MICROS_PER_DAY as f64) as i64;
    let span = (params.last_send_day - params.first_send_day) as usize + 1;
    for k in 0..params.n_campaigns {
        let campaign = k as i64 + 1;
        let day = params.first_send_day as i64 + rng.below(span) as i64;
        let sent = day * MICROS_PER_DAY + 9 * 3_600_000_000;
        let (channel, cost) = CHANNELS[rng.below(CHANNELS.len())];
        // A quarter of the campaigns do nothing; the others lift the response of each
        // segment differently (win-back works best on lapsing customers).
        let base = if rng.chance(0.25) { 0.0 } else { 0.02 + 0.10 * rng.uniform() };
        let mult = [0.3 + 0.5 * rng.uniform(), 1.2 + 0.8 * rng.uniform(), 1.0];
        let uplift: Vec<f64> = mult.iter().map(|m| (base * m).min(0.5)).collect();
        let mut sums = [[0.0_f64; 4]; 4]; // per segment (+ all): customers, response, orders, revenue
        for i in 0..cust_id.len() {
            // One fixed set of draws per known customer keeps the stream aligned whatever
            // the outcome.
            let in_audience = rng.chance(params.audience_share);
            let treated = rng.chance(params.treatment_share);
            let responds = rng.uniform();
            let delay = rng.uniform();
            let amount = rng.gamma(params.spend_shape, cust_nu[i]);
            if cust_first[i] >= sent || !in_audience {
                continue;
            }
            let times = &per[i];
            let before = times.partition_point(|&t| t < sent);
            let last = if before > 0 { times[before - 1] } else { cust_first[i] };
            let recency_days = (sent - last) as f64 / MICROS_PER_DAY as f64;
            let seg = if recency_days <= 90.0 {
                0
            } else if recency_days <= 365.0 {
                1
            } else {
                2
            };
            let organic = times[before..].first().is_some_and(|&t| t < sent + window_us);
            let u = uplift[seg];
            let mean_spend = params.spend_shape / cust_nu[i];
            for s in [seg, 3] {
                sums[s][0] += 1.0;
                sums[s][1] += if organic { 0.0 } else { u };
                sums[s][2] += u;
                sums[s][3] += u * mean_spend;
            }
            out.campaign_id.push(campaign);
            out.customer_id.push(cust_id[i]);
            out.treatment.push(treated);
            out.sent_us.push(sent);
            out.channel.push(channel);
            out.cost.push(if treated { cost } else { 0.0 });
            out.segment.push(SEGMENTS[seg]);
            if treated && responds < u {
                // Responses come soon after the send: exponential delay, mean 5 days, kept
                // inside the window.
                let mean = 5.0_f64.min(params.window_days / 3.0);
                let cap = 1.0 - (-params.window_days / mean).exp();
                let days = -(1.0 - delay * cap).ln() * mean;
                let t = (sent + (days * MICROS_PER_DAY as f64) as i64).min(sent + window_us - 1);
                out.order_campaign.push(campaign);
                out.order_customer.push(cust_id[i]);
                out.order_us.push(t);
                out.order_amount.push((amount * 100.0).round().max(1.0) / 100.0);
            }
        }
        for (s, name) in SEGMENTS.iter().copied().chain(std::iter::once("all")).enumerate() {
            let n = sums[s][0];
            out.truth_campaign.push(campaign);
            out.truth_segment.push(name);
            out.truth_channel.push(channel);
            out.truth_sent_us.push(sent);
            out.truth_customers.push(n as i64);
            out.truth_uplift.push(if s < 3 { uplift[s] } else if n > 0.0 { sums[s][2] / n } else { f64::NAN });
            let avg = |x: f64| if n > 0.0 { x / n } else { f64::NAN };
            out.truth_response.push(avg(sums[s][1]));
            out.truth_orders.push(avg(sums[s][2]));
            out.truth_revenue.push(avg(sums[s][3]));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_effect_and_holdout() {
        let n = 4000;
        let ids: Vec<i64> = (1..=n as i64).collect();
        let nu = vec![0.05; n];
        let first = vec![0i64; n];
        let params = CampaignParams {
            seed: 7,
            n_campaigns: 4,
            first_send_day: 400,
            last_send_day: 500,
            window_days: 30.0,
            audience_share: 0.5,
            treatment_share: 0.8,
            spend_shape: 6.0,
        };
        let c = generate(&params, (&ids, &nu, &first), (&[], &[])).unwrap();
        let treated = c.treatment.iter().filter(|&&t| t).count() as f64 / c.treatment.len() as f64;
        assert!((treated - 0.8).abs() < 0.02, "{treated}");
        // No organic orders: every campaign order is a response, all in "lapsed".
        assert!(c.order_us.len() > 0 || c.truth_uplift.iter().all(|&u| u == 0.0));
        assert!(c.cost.iter().zip(&c.treatment).all(|(&cost, &t)| t || cost == 0.0));
        let again = generate(&params, (&ids, &nu, &first), (&[], &[])).unwrap();
        assert_eq!(c.order_us, again.order_us);
    }
}
