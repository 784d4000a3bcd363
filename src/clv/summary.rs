//! One pass over a transaction log for the per-customer summary: after a sort on
//! the packed key (customer, period), each customer is a run and each purchase
//! period a sub-run. Used for integer customer ids whose range fits the packing;
//! other logs take a polars group-by in the Python wrapper (same results).

use rayon::prelude::*;

use crate::error::{CrmError, Result};

#[derive(Debug, Default, Clone, PartialEq)]
pub struct PeriodSummary {
    pub customer: Vec<i64>,
    pub first: Vec<i64>,
    pub last: Vec<i64>,
    /// Distinct periods with a purchase.
    pub periods: Vec<i64>,
    /// Amount spent in the first period, and in all later periods.
    pub first_sum: Vec<f64>,
    pub rest_sum: Vec<f64>,
    /// Transactions and their total amount.
    pub rows: Vec<i64>,
    pub total: Vec<f64>,
}

/// Summarises (customer, period index, amount) rows. Returns None when the ids or
/// periods span too wide a range to pack into one 64-bit key.
pub fn summarize(customer: &[i64], period: &[i64], amount: &[f64]) -> Result<Option<PeriodSummary>> {
    let n = customer.len();
    if period.len() != n || amount.len() != n {
        return Err(CrmError::invalid("summary: customer, period and amount columns differ in length"));
    }
    if n == 0 {
        return Ok(Some(PeriodSummary::default()));
    }
    let (cmin, cmax) = customer
        .par_iter()
        .fold(|| (i64::MAX, i64::MIN), |(a, b), &c| (a.min(c), b.max(c)))
        .reduce(|| (i64::MAX, i64::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)));
    let (pmin, pmax) = period
        .par_iter()
        .fold(|| (i64::MAX, i64::MIN), |(a, b), &c| (a.min(c), b.max(c)))
        .reduce(|| (i64::MAX, i64::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)));
    let crange = (cmax as i128 - cmin as i128) as u128;
    let prange = (pmax as i128 - pmin as i128) as u128;
    let pbits = 128 - prange.leading_zeros();
    let cbits = 128 - crange.leading_zeros();
    if pbits + cbits > 63 {
        return Ok(None);
    }
    let mut recs: Vec<(u64, f64)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let key = (((customer[i] - cmin) as u64) << pbits) | ((period[i] - pmin) as u64);
            (key, amount[i])
        })
        .collect();
    radix_sort(&mut recs, pbits + cbits);
    let mask = if pbits == 0 { 0 } else { (1u64 << pbits) - 1 };
    let mut out = PeriodSummary::default();
    let mut prev_key = u64::MAX;
    let mut prev_c = u64::MAX;
    for &(key, amt) in &recs {
        let c = key >> pbits;
        let p = (key & mask) as i64 + pmin;
        if c != prev_c {
            out.customer.push(c as i64 + cmin);
            out.first.push(p);
            out.last.push(p);
            out.periods.push(1);
            out.first_sum.push(amt);
            out.rest_sum.push(0.0);
            out.rows.push(1);
            out.total.push(amt);
            prev_c = c;
        } else {
            let k = out.customer.len() - 1;
            if key != prev_key {
                out.periods[k] += 1;
                out.last[k] = p;
            }
            if p == out.first[k] {
                out.first_sum[k] += amt;
            } else {
                out.rest_sum[k] += amt;
            }
            out.rows[k] += 1;
            out.total[k] += amt;
        }
        prev_key = key;
    }
    Ok(Some(out))
}

/// Stable LSD radix sort on the low `bits` bits of the key: equal
/// keys keep their input order, so sums over a run are deterministic.
fn radix_sort(recs: &mut Vec<(u64, f64)>, bits: u32) {
    if bits == 0 {
        return;
    }
    // Fewest passes with digits of at most 16 bits (the counts stay in cache).
    let passes = bits.div_ceil(16);
    let digit = bits.div_ceil(passes);
    let mut buf = vec![(0u64, 0.0f64); recs.len()];
    let mut shift = 0;
    while shift < bits {
        let mut counts = vec![0usize; 1 << digit];
        let mask = (1u64 << digit) - 1;
        for r in recs.iter() {
            counts[((r.0 >> shift) & mask) as usize] += 1;
        }
        let mut pos = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = pos;
            pos += n;
        }
        for r in recs.iter() {
            let d = ((r.0 >> shift) & mask) as usize;
            buf[counts[d]] = *r;
            counts[d] += 1;
        }
        std::mem::swap(recs, &mut buf);
        shift += digit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_give_first_last_and_distinct_periods() {
        let c = [7, 3, 7, 7, 3, -2];
        let p = [10, 5, 10, 12, 9, 4];
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let s = summarize(&c, &p, &a).unwrap().unwrap();
        assert_eq!(s.customer, vec![-2, 3, 7]);
        assert_eq!(s.first, vec![4, 5, 10]);
        assert_eq!(s.last, vec![4, 9, 12]);
        assert_eq!(s.periods, vec![1, 2, 2]);
        assert_eq!(s.first_sum, vec![6.0, 2.0, 4.0]);
        assert_eq!(s.rest_sum, vec![0.0, 5.0, 4.0]);
        assert_eq!(s.rows, vec![1, 2, 3]);
    }

    #[test]
    fn radix_sort_is_a_stable_sort() {
        let mut v: Vec<(u64, f64)> = (0..5000u64).map(|i| ((i * 7919) % 1013, i as f64)).collect();
        let mut want = v.clone();
        want.sort_by_key(|r| r.0);
        radix_sort(&mut v, 10);
        assert_eq!(v, want);
    }

    #[test]
    fn too_wide_ranges_are_declined() {
        let s = summarize(&[i64::MIN, i64::MAX], &[0, 1], &[1.0, 1.0]).unwrap();
        assert!(s.is_none());
    }
}
