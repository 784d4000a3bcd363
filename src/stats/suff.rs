//! Sufficient statistics of unit-level experiment data: per group (variant × segment ×
//! ...) the count, Σx and Σx² of each value column and Σx·y of chosen pairs (ratio
//! denominators, CUPED covariates) — everything the comparisons need, in one parallel
//! pass over the rows.
//!
//! Keys are encoded to dense codes with a fast hash per fixed chunk of rows; rows are
//! then accumulated per fixed chunk and the chunks added in order, so the sums do not
//! depend on the number of threads.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{CrmError, Result};

/// A multiply-rotate hasher (FxHash's mixing): keys here are trusted column values and
/// few distinct, so SipHash's DoS resistance buys nothing and costs half the pass.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v as u64)
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64)
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K> = HashMap<K, u32, BuildHasherDefault<FxHasher>>;

const ROW_CHUNK: usize = 1 << 18;

/// Distinct values of a key column, sorted, with the code of each row.
pub enum KeyValues {
    Str(Vec<String>),
    Int(Vec<i64>),
}

impl KeyValues {
    pub fn len(&self) -> usize {
        match self {
            KeyValues::Str(v) => v.len(),
            KeyValues::Int(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn null_key(name: &str) -> CrmError {
    CrmError::schema(name, "no null keys", "null values (drop or fill them first)")
}

/// Codes of a string key column.
pub fn encode_str(ca: &StringChunked) -> Result<(Vec<u32>, KeyValues)> {
    let name = ca.name().to_string();
    let n = ca.len();
    let starts: Vec<usize> = (0..n).step_by(ROW_CHUNK).collect();
    let locals = starts
        .par_iter()
        .map(|&s| {
            let part = ca.slice(s as i64, ROW_CHUNK.min(n - s));
            let mut map: FxMap<String> = FxMap::default();
            let mut names: Vec<String> = Vec::new();
            let mut codes = Vec::with_capacity(part.len());
            let mut last: Option<(&str, u32)> = None;
            for v in part.iter() {
                let v = v.ok_or_else(|| null_key(&name))?;
                if let Some((lv, lc)) = last {
                    if lv == v {
                        codes.push(lc);
                        continue;
                    }
                }
                let code = match map.get(v) {
                    Some(&c) => c,
                    None => {
                        let c = names.len() as u32;
                        map.insert(v.to_string(), c);
                        names.push(v.to_string());
                        c
                    }
                };
                last = Some((v, code));
                codes.push(code);
            }
            Ok((codes, names))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut all: Vec<String> = locals.iter().flat_map(|(_, names)| names.iter().cloned()).collect();
    all.sort_unstable();
    all.dedup();
    let codes = remap(locals, |v: &String| all.binary_search(v).unwrap_or(0) as u32);
    Ok((codes, KeyValues::Str(all)))
}

/// Codes of an integer key column. Small value ranges (category codes, flags, segment
/// numbers) use a dense lookup table instead of a hash per row.
pub fn encode_int(ca: &Int64Chunked) -> Result<(Vec<u32>, KeyValues)> {
    let name = ca.name().to_string();
    let n = ca.len();
    if ca.null_count() > 0 {
        return Err(null_key(&name));
    }
    if let (Some(lo), Some(hi)) = (ca.min(), ca.max()) {
        if hi.checked_sub(lo).is_some_and(|r| r < (1 << 20)) {
            let ca = ca.rechunk();
            let values = ca.cont_slice().map_err(|e| CrmError::Polars(e.to_string()))?;
            let mut seen = vec![false; (hi - lo) as usize + 1];
            for &v in values {
                seen[(v - lo) as usize] = true;
            }
            let mut code_of = vec![0u32; seen.len()];
            let mut all = Vec::new();
            for (i, &s) in seen.iter().enumerate() {
                if s {
                    code_of[i] = all.len() as u32;
                    all.push(lo + i as i64);
                }
            }
            let codes = values.par_iter().with_min_len(1 << 16).map(|&v| code_of[(v - lo) as usize]).collect();
            return Ok((codes, KeyValues::Int(all)));
        }
    }
    let starts: Vec<usize> = (0..n).step_by(ROW_CHUNK).collect();
    let locals = starts
        .par_iter()
        .map(|&s| {
            let part = ca.slice(s as i64, ROW_CHUNK.min(n - s));
            let mut map: FxMap<i64> = FxMap::default();
            let mut names: Vec<i64> = Vec::new();
            let mut codes = Vec::with_capacity(part.len());
            for v in part.iter() {
                let v = v.ok_or_else(|| null_key(&name))?;
                let code = *map.entry(v).or_insert_with(|| {
                    names.push(v);
                    (names.len() - 1) as u32
                });
                codes.push(code);
            }
            Ok((codes, names))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut all: Vec<i64> = locals.iter().flat_map(|(_, names)| names.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    let codes = remap(locals, |v: &i64| all.binary_search(v).unwrap_or(0) as u32);
    Ok((codes, KeyValues::Int(all)))
}

fn remap<T: Sync>(locals: Vec<(Vec<u32>, Vec<T>)>, global: impl Fn(&T) -> u32 + Sync) -> Vec<u32> {
    let parts: Vec<Vec<u32>> = locals
        .into_par_iter()
        .map(|(codes, names)| {
            let table: Vec<u32> = names.iter().map(&global).collect();
            codes.iter().map(|&c| table[c as usize]).collect()
        })
        .collect();
    parts.concat()
}

/// Per-group sums: `counts[g]`, `sums[v][g]`, `sum_sqs[v][g]`, `prods[k][g]`.
pub struct Sums {
    pub counts: Vec<u64>,
    pub sums: Vec<Vec<f64>>,
    pub sum_sqs: Vec<Vec<f64>>,
    pub prods: Vec<Vec<f64>>,
}

/// Accumulates the statistics of `values` (each as long as `codes`) per code in
/// 0..n_groups; `pairs` lists the (i, j) value columns whose products are summed.
/// Non-finite values are an error naming the column.
pub fn accumulate(
    codes: &[u32],
    n_groups: usize,
    values: &[(&str, &[f64])],
    pairs: &[(usize, usize)],
) -> Result<Sums> {
    let n = codes.len();
    for (name, v) in values {
        if v.len() != n {
            return Err(CrmError::invalid(format!("column '{name}' has {} rows, the keys have {n}", v.len())));
        }
    }
    let nv = values.len();
    let np = pairs.len();
    let width = 1 + 2 * nv + np;
    // Enough chunks to use every core, few enough that the partial tables stay small.
    let n_chunks = (n / (n_groups.max(1) * 64)).clamp(1, 64);
    let chunk = n.div_ceil(n_chunks).max(1);
    let partials = (0..n_chunks)
        .into_par_iter()
        .map(|k| {
            let lo = (k * chunk).min(n);
            let hi = ((k + 1) * chunk).min(n);
            let mut acc = vec![0.0_f64; n_groups * width];
            let mut bad = vec![0usize; nv];
            for r in lo..hi {
                let g = codes[r] as usize * width;
                acc[g] += 1.0;
                for (i, (_, v)) in values.iter().enumerate() {
                    let x = v[r];
                    if !x.is_finite() {
                        bad[i] += 1;
                        continue;
                    }
                    acc[g + 1 + 2 * i] += x;
                    acc[g + 2 + 2 * i] += x * x;
                }
                for (p, &(i, j)) in pairs.iter().enumerate() {
                    let x = values[i].1[r] * values[j].1[r];
                    if x.is_finite() {
                        acc[g + 1 + 2 * nv + p] += x;
                    }
                }
            }
            (acc, bad)
        })
        .collect::<Vec<_>>();
    let mut total = vec![0.0_f64; n_groups * width];
    let mut bad = vec![0usize; nv];
    for (acc, b) in &partials {
        for (t, a) in total.iter_mut().zip(acc) {
            *t += a;
        }
        for (t, x) in bad.iter_mut().zip(b) {
            *t += x;
        }
    }
    for (i, &b) in bad.iter().enumerate() {
        if b > 0 {
            return Err(CrmError::schema(
                values[i].0,
                "finite numbers",
                format!("{b} null/NaN/infinite value(s); drop or fill them first"),
            ));
        }
    }
    let col = |off: usize| (0..n_groups).map(|g| total[g * width + off]).collect::<Vec<f64>>();
    Ok(Sums {
        counts: (0..n_groups).map(|g| total[g * width] as u64).collect(),
        sums: (0..nv).map(|i| col(1 + 2 * i)).collect(),
        sum_sqs: (0..nv).map(|i| col(2 + 2 * i)).collect(),
        prods: (0..np).map(|p| col(1 + 2 * nv + p)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_per_group() {
        let codes = [0u32, 1, 0, 1, 1];
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, 0.0, 1.0, 1.0, 0.0];
        let s = accumulate(&codes, 2, &[("x", &x), ("y", &y)], &[(0, 1)]).unwrap();
        assert_eq!(s.counts, vec![2, 3]);
        assert_eq!(s.sums[0], vec![4.0, 11.0]);
        assert_eq!(s.sum_sqs[0], vec![10.0, 45.0]);
        assert_eq!(s.prods[0], vec![4.0, 4.0]);
        let bad = [1.0, f64::NAN, 1.0, 1.0, 1.0];
        assert!(accumulate(&codes, 2, &[("bad", &bad)], &[]).is_err());
    }

    #[test]
    fn string_keys_are_sorted_codes() {
        let ca = StringChunked::from_iter_values("v".into(), ["b", "a", "b", "c"].into_iter());
        let (codes, keys) = encode_str(&ca).unwrap();
        assert_eq!(codes, vec![1, 0, 1, 2]);
        assert!(matches!(keys, KeyValues::Str(v) if v == ["a", "b", "c"]));
    }
}
