//! Per-customer recency / frequency / monetary accumulation for in-memory orders
//! whose customer ids are integers in a dense range (the usual case: ids 1..N).
//!
//! A hash group-by has to hash every row and gather per group; with dense integer
//! ids, a customer's slot is `id - min_id`, so one pass over the rows fills
//! per-slot maxima, counts and sums, and reading the slots in order gives the
//! customers already sorted by id. When the id range is much larger than the
//! number of rows (sparse or hashed ids) the caller uses a polars group-by instead.
//!
//! Every customer's rows are added in row order by one worker, so sums are the same
//! for any thread count.

use rayon::prelude::*;

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
pub fn dense_rfm(
    customer: &[i64],
    date: &[i64],
    amount: &[f64],
    net: bool,
    max_range: usize,
) -> Result<Option<DenseRfm>> {
    let n = customer.len();
    if date.len() != n || amount.len() != n {
        return Err(CrmError::invalid(format!(
            "rfm: customer, date and amount columns differ in length ({n}, {}, {})",
            date.len(),
            amount.len()
        )));
    }
    // Counts are u32 per customer: more rows than that go to the group-by.
    if n > u32::MAX as usize {
        return Ok(None);
    }
    let (Some(&lo), Some(&hi)) = (customer.par_iter().min(), customer.par_iter().max()) else {
        return Ok(None);
    };
    let range = (hi as i128) - (lo as i128) + 1;
    if range > max_range as i128 {
        return Ok(None);
    }
    let range = range as usize;
    // One 32-byte slot per id (one cache line touched per row).
    let mut slots = vec![Slot::EMPTY; range];
    // Each worker owns a contiguous block of ids and scans every row for them, so a
    // customer's rows are always added in row order by one worker: the sums do not
    // depend on the number of threads.
    let parts = rayon::current_num_threads().clamp(1, 64);
    let block = range.div_ceil(parts).max(1 << 12);
    slots.par_chunks_mut(block).enumerate().for_each(|(b, chunk)| {
        let first = b * block;
        let len = chunk.len();
        for i in 0..n {
            // In 0..range by construction: lo <= customer[i] <= hi.
            let k = (customer[i] - lo) as usize;
            let Some(j) = k.checked_sub(first).filter(|&j| j < len) else {
                continue;
            };
            let s = &mut chunk[j];
            let t = date[i];
            let a = amount[i];
            s.rows += 1;
            s.sum += a;
            if t > s.last_row {
                s.last_row = t;
            }
            if !net || a >= 0.0 {
                s.freq += 1;
                if t > s.last_purchase {
                    s.last_purchase = t;
                }
            }
        }
    });
    let present = slots.iter().filter(|s| s.rows > 0).count();
    let mut out = DenseRfm {
        ids: Vec::with_capacity(present),
        last_purchase: Vec::with_capacity(present),
        frequency: Vec::with_capacity(present),
        monetary: Vec::with_capacity(present),
        last_row: Vec::with_capacity(present),
    };
    for (k, s) in slots.iter().enumerate() {
        if s.rows > 0 {
            out.ids.push(lo + k as i64);
            out.last_purchase.push(s.last_purchase);
            out.frequency.push(s.freq as i64);
            out.monetary.push(s.sum);
            out.last_row.push(s.last_row);
        }
    }
    Ok(Some(out))
}

#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Slot {
    last_purchase: i64,
    last_row: i64,
    sum: f64,
    rows: u32,
    freq: u32,
}

impl Slot {
    const EMPTY: Slot = Slot { last_purchase: i64::MIN, last_row: i64::MIN, sum: 0.0, rows: 0, freq: 0 };
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
        let mut out =
            DenseRfm { ids: vec![], last_purchase: vec![], frequency: vec![], monetary: vec![], last_row: vec![] };
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
    fn same_result_for_any_thread_count() {
        let n = 200_000;
        let c: Vec<i64> = (0..n).map(|i| ((i * 7919) % 50_000) as i64).collect();
        let t: Vec<i64> = (0..n).map(|i| ((i * 31) % 1000) as i64).collect();
        let a: Vec<f64> = (0..n).map(|i| ((i * 13) % 997) as f64 * 0.1 - 3.3).collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| dense_rfm(&c, &t, &a, true, 1 << 20).unwrap().unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(3));
        assert_eq!(one, run(8));
        assert_eq!(one, brute(&c, &t, &a, true));
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
