//! The per-customer step of `crmkit.kpi.compute` in one sort and one scan.
//!
//! Every order KPI of a (period, group) cell is a sum over the customers who bought
//! in it: orders, revenue, active customers, new customers (the cell's period is the
//! customer's first), repeat buyers (two or more orders in the cell), discounted orders
//! and retained customers (the same customer bought in the same group one period
//! earlier). The Python side packs (customer, group, period) into one integer key
//! `(customer * n_groups + group) * n_periods + period`; sorted, a customer's rows are
//! contiguous, the rows of one (customer, group, period) are contiguous and the
//! previous period of the same customer and group is the previous distinct key. A
//! hash aggregation of ~100M nearly unique keys is what this replaces: the sort needs
//! 16 bytes per order and no per-customer table.

use rayon::prelude::*;

use crate::error::{CrmError, Result};
use crate::interrupt;

/// Sums per cell, each of length `n_groups * n_periods`, indexed `group * n_periods + period`.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSums {
    pub revenue: Vec<f64>,
    pub orders: Vec<u64>,
    pub active: Vec<u64>,
    pub new: Vec<u64>,
    pub repeaters: Vec<u64>,
    pub discounted: Vec<u64>,
    pub retained: Vec<u64>,
}

impl CellSums {
    /// All sums zero for `n_cells` cells.
    pub fn zeros(n_cells: usize) -> CellSums {
        CellSums {
            revenue: vec![0.0; n_cells],
            orders: vec![0; n_cells],
            active: vec![0; n_cells],
            new: vec![0; n_cells],
            repeaters: vec![0; n_cells],
            discounted: vec![0; n_cells],
            retained: vec![0; n_cells],
        }
    }
}

/// Orders are checked for interrupts every this many rows of the scan.
const CHECK_EVERY: usize = 1 << 22;

/// The cell sums of packed order keys (see the module documentation). `amount` has no
/// nulls (the caller fills them with 0, as a polars sum skips them); `discounted` says
/// per order whether it counts as discounted.
pub fn cell_sums(keys: &[i64], amount: &[f64], discounted: &[bool], n_groups: u64, n_periods: u64) -> Result<CellSums> {
    if amount.len() != keys.len() || discounted.len() != keys.len() {
        return Err(CrmError::invalid("kpi cell sums: keys, amounts and discount flags differ in length"));
    }
    if n_groups == 0 || n_periods == 0 {
        return Err(CrmError::invalid("kpi cell sums: the numbers of groups and periods must be positive"));
    }
    let n_cells = n_groups
        .checked_mul(n_periods)
        .filter(|&c| c <= 1 << 32)
        .ok_or_else(|| CrmError::invalid("kpi cell sums: too many (group, period) cells"))? as usize;
    let per_customer = n_cells as u64;
    // Key, with the discount flag in the low bit, then the amount's bits: a total order,
    // so the sum of each cell's amounts runs in the same order on any thread count.
    let mut rows: Vec<(u64, u64)> = Vec::new();
    rows.try_reserve_exact(keys.len())
        .map_err(|_| CrmError::invalid(format!("kpi cell sums: cannot hold {} orders in memory", keys.len())))?;
    for ((&k, &a), &d) in keys.iter().zip(amount).zip(discounted) {
        if k < 0 || (k as u64) >= (1u64 << 62) {
            return Err(CrmError::invalid(format!("kpi cell sums: packed key {k} out of range")));
        }
        rows.push((((k as u64) << 1) | d as u64, a.to_bits()));
    }
    interrupt::check()?;
    rows.par_sort_unstable();
    interrupt::check()?;

    let mut out = CellSums::zeros(n_cells);
    let n = rows.len();
    let mut start = 0;
    let mut next_check = CHECK_EVERY;
    while start < n {
        if start >= next_check {
            interrupt::check()?;
            next_check = start + CHECK_EVERY;
        }
        // One customer's rows: [start, end).
        let customer = (rows[start].0 >> 1) / per_customer;
        let mut end = start;
        let mut first_period = u64::MAX;
        while end < n && (rows[end].0 >> 1) / per_customer == customer {
            first_period = first_period.min((rows[end].0 >> 1) % n_periods);
            end += 1;
        }
        let mut i = start;
        let mut previous_key: Option<u64> = None;
        while i < end {
            let key = rows[i].0 >> 1;
            let mut j = i;
            let mut revenue = 0.0;
            let mut discounted = 0;
            while j < end && rows[j].0 >> 1 == key {
                revenue += f64::from_bits(rows[j].1);
                discounted += rows[j].0 & 1;
                j += 1;
            }
            let period = key % n_periods;
            let cell = (key % per_customer) as usize;
            let count = (j - i) as u64;
            out.revenue[cell] += revenue;
            out.orders[cell] += count;
            out.active[cell] += 1;
            out.new[cell] += u64::from(period == first_period);
            out.repeaters[cell] += u64::from(count >= 2);
            out.discounted[cell] += discounted;
            out.retained[cell] += u64::from(period > 0 && previous_key == Some(key - 1));
            previous_key = Some(key);
            i = j;
        }
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// The definitions, one customer-period-group at a time, with maps.
    fn brute(keys: &[i64], amount: &[f64], disc: &[bool], n_g: u64, n_p: u64) -> CellSums {
        let n_cells = (n_g * n_p) as usize;
        let mut per_key: BTreeMap<u64, (u64, f64, u64)> = BTreeMap::new();
        for ((&k, &a), &d) in keys.iter().zip(amount).zip(disc) {
            let e = per_key.entry(k as u64).or_insert((0, 0.0, 0));
            e.0 += 1;
            e.1 += a;
            e.2 += d as u64;
        }
        let mut first: BTreeMap<u64, u64> = BTreeMap::new();
        for &k in per_key.keys() {
            let c = k / (n_g * n_p);
            let p = k % n_p;
            let f = first.entry(c).or_insert(p);
            *f = (*f).min(p);
        }
        let present: BTreeSet<u64> = per_key.keys().copied().collect();
        let mut out = CellSums::zeros(n_cells);
        for (&k, &(count, rev, d)) in &per_key {
            let cell = (k % (n_g * n_p)) as usize;
            let p = k % n_p;
            out.revenue[cell] += rev;
            out.orders[cell] += count;
            out.active[cell] += 1;
            out.new[cell] += u64::from(first[&(k / (n_g * n_p))] == p);
            out.repeaters[cell] += u64::from(count >= 2);
            out.discounted[cell] += d;
            out.retained[cell] += u64::from(p > 0 && present.contains(&(k - 1)));
        }
        out
    }

    fn random_orders(n: usize, seed: u64, n_c: u64, n_g: u64, n_p: u64) -> (Vec<i64>, Vec<f64>, Vec<bool>) {
        let mut rng = crate::rng::Rng::new(seed, 0);
        let mut keys = Vec::new();
        let mut amount = Vec::new();
        let mut disc = Vec::new();
        for _ in 0..n {
            let c = rng.below(n_c as usize) as u64;
            let g = rng.below(n_g as usize) as u64;
            let p = rng.below(n_p as usize) as u64;
            keys.push(((c * n_g + g) * n_p + p) as i64);
            amount.push((rng.below(10_000) as f64) / 100.0);
            disc.push(rng.below(4) == 0);
        }
        (keys, amount, disc)
    }

    #[test]
    fn equals_the_definitions_on_random_orders() {
        for (seed, n_c, n_g, n_p) in [(1, 50, 3, 12), (2, 5, 1, 4), (3, 400, 8, 30), (4, 1, 2, 1)] {
            let (keys, amount, disc) = random_orders(3_000, seed, n_c, n_g, n_p);
            let got = cell_sums(&keys, &amount, &disc, n_g, n_p).unwrap();
            let want = brute(&keys, &amount, &disc, n_g, n_p);
            assert_eq!(got.orders, want.orders);
            assert_eq!(got.active, want.active);
            assert_eq!(got.new, want.new);
            assert_eq!(got.repeaters, want.repeaters);
            assert_eq!(got.discounted, want.discounted);
            assert_eq!(got.retained, want.retained);
            for (a, b) in got.revenue.iter().zip(&want.revenue) {
                assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn row_order_does_not_change_a_bit() {
        let (mut keys, mut amount, mut disc) = random_orders(5_000, 7, 200, 4, 24);
        let a = cell_sums(&keys, &amount, &disc, 4, 24).unwrap();
        keys.reverse();
        amount.reverse();
        disc.reverse();
        let b = cell_sums(&keys, &amount, &disc, 4, 24).unwrap();
        assert_eq!(a, b);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let c = pool.install(|| cell_sums(&keys, &amount, &disc, 4, 24)).unwrap();
        assert_eq!(a, c);
    }

    #[test]
    fn refuses_bad_keys_and_lengths() {
        assert!(cell_sums(&[-1], &[1.0], &[false], 1, 1).is_err());
        assert!(cell_sums(&[0, 1], &[1.0], &[false], 1, 2).is_err());
        assert!(cell_sums(&[0], &[1.0], &[false], 0, 1).is_err());
        let empty = cell_sums(&[], &[], &[], 2, 3).unwrap();
        assert_eq!(empty.orders, vec![0; 6]);
    }
}
