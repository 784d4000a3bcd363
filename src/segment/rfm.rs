//! Per-customer recency / frequency / monetary accumulation for in-memory orders
//! whose customer ids are integers in a dense range (the usual case: ids 1..N).
//!
//! A hash group-by has to hash every row and gather per group; with dense integer
//! ids, a customer's slot is `id - min_id`, so one pass over the rows fills
//! per-slot maxima, counts and sums, and reading the slots in order gives the
//! customers already sorted by id. When the id range is much larger than the
//! number of rows (sparse or hashed ids) the caller uses a polars group-by instead.
//!
//! The pass is sequential in row order, so sums are the same for any thread count.

use crate::error::{CrmError, Result};

/// Per-customer results, ascending by customer id; only ids that occur in the input.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseRfm {
    pub ids: Vec<i64>,
    /// Latest purchase date (physical value); `i64::MIN` when the customer has no
    /// purchase (returns only, `net` mode).
    pub last_purchase: Vec<i64>,
    /// Purchases (`net`: rows with amount >= 0; otherwise every row).
    pub frequency: Vec<i64>,
    /// Sum of every row's amount (net of returns).
    pub monetary: Vec<f64>,
    /// Latest date of any row, returns included.
    pub last_row: Vec<i64>,
}

/// Accumulates RFM inputs per customer id. Returns `Ok(None)` when the id range
/// (max - min + 1) exceeds `max_range` (the caller falls back to a hash group-by),
/// or when there are no rows. In `net` mode a row with `amount < 0` is a return:
/// it adds to `monetary` and `last_row` but is not a purchase.
pub fn dense_rfm(customer: &[i64], date: &[i64], amount: &[f64], net: bool, max_range: usize) -> Result<Option<DenseRfm>> {
    let n = customer.len();
    if date.len() != n || amount.len() != n {
        return Err(CrmError::invalid(format!(
            "rfm: customer, date and amount columns differ in length ({n}, {}, {})",
            date.len(),
            amount.len()
        )));
    }
    let (Some(&lo), Some(&hi)) = (customer.iter().min(), customer.iter().max()) else {
        return Ok(None);
    };
    let range = (hi as i128) - (lo as i128) + 1;
    if range > max_range as i128 {
        return Ok(None);
    }
    let range = range as usize;
    let mut rows = vec![0u64; range];
    let mut freq = vec![0i64; range];
    let mut sum = vec![0.0f64; range];
    let mut last_p = vec![i64::MIN; range];
    let mut last_r = vec![i64::MIN; range];
    for i in 0..n {
        // In range by construction: lo <= customer[i] <= hi.
        let k = (customer[i] - lo) as usize;
        let t = date[i];
        let a = amount[i];
        rows[k] += 1;
        sum[k] += a;
        if t > last_r[k] {
            last_r[k] = t;
        }
        if !net || a >= 0.0 {
            freq[k] += 1;
            if t > last_p[k] {
                last_p[k] = t;
            }
        }
    }
    let present = rows.iter().filter(|&&r| r > 0).count();
    let mut out = DenseRfm {
        ids: Vec::with_capacity(present),
        last_purchase: Vec::with_capacity(present),
        frequency: Vec::with_capacity(present),
        monetary: Vec::with_capacity(present),
        last_row: Vec::with_capacity(present),
    };
    for k in 0..range {
        if rows[k] > 0 {
            out.ids.push(lo + k as i64);
            out.last_purchase.push(last_p[k]);
            out.frequency.push(freq[k]);
            out.monetary.push(sum[k]);
            out.last_row.push(last_r[k]);
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Brute force with a BTreeMap group-by.
    fn brute(c: &[i64], t: &[i64], a: &[f64], net: bool) -> DenseRfm {
        let mut m: BTreeMap<i64, (i64, i64, f64, i64)> = BTreeMap::new();
        for i in 0..c.len() {
            let e = m.entry(c[i]).or_insert((i64::MIN, 0, 0.0, i64::MIN));
            e.2 += a[i];
            e.3 = e.3.max(t[i]);
            if !net || a[i] >= 0.0 {
                e.1 += 1;
                e.0 = e.0.max(t[i]);
            }
        }
        let mut out = DenseRfm {
            ids: vec![],
            last_purchase: vec![],
            frequency: vec![],
            monetary: vec![],
            last_row: vec![],
        };
        for (id, (lp, f, s, lr)) in m {
            out.ids.push(id);
            out.last_purchase.push(lp);
            out.frequency.push(f);
            out.monetary.push(s);
            out.last_row.push(lr);
        }
        out
    }

    #[test]
    fn equals_brute_force_group_by() {
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        let n = 5000;
        let c: Vec<i64> = (0..n).map(|_| -50 + (next() % 700) as i64).collect();
        let t: Vec<i64> = (0..n).map(|_| (next() % 100_000) as i64 - 30_000).collect();
        let a: Vec<f64> = (0..n).map(|_| (next() % 2000) as f64 / 10.0 - 20.0).collect();
        for net in [false, true] {
            let got = dense_rfm(&c, &t, &a, net, 1 << 20).unwrap().unwrap();
            assert_eq!(got, brute(&c, &t, &a, net));
        }
    }

    #[test]
    fn sparse_ids_and_empty_input_fall_back() {
        assert_eq!(dense_rfm(&[0, 1_000_000], &[1, 2], &[1.0, 2.0], true, 1000).unwrap(), None);
        assert_eq!(dense_rfm(&[], &[], &[], true, 1000).unwrap(), None);
        assert!(dense_rfm(&[i64::MIN, i64::MAX], &[1, 2], &[1.0, 2.0], true, usize::MAX).unwrap().is_none());
        assert!(dense_rfm(&[1, 2], &[1], &[1.0, 2.0], true, 10).is_err());
    }

    #[test]
    fn returns_only_customer_has_no_purchase() {
        let got = dense_rfm(&[5, 5, 6], &[10, 20, 15], &[3.0, -1.0, -2.0], true, 10).unwrap().unwrap();
        assert_eq!(got.ids, vec![5, 6]);
        assert_eq!(got.frequency, vec![1, 0]);
        assert_eq!(got.last_purchase, vec![10, i64::MIN]);
        assert_eq!(got.last_row, vec![20, 15]);
        assert_eq!(got.monetary, vec![2.0, -2.0]);
    }
}
