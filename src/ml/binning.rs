//! Feature binning: every feature becomes u8 bin codes, stored column-major.
//!
//! Numeric features follow scikit-learn's HistGradientBoosting: with at most `max_bins`
//! distinct values the thresholds are the midpoints between them, otherwise the
//! `max_bins`-quantiles (midpoint interpolation) of a subsample of at most 200,000 rows.
//! A value `x` falls in bin `b` when `thresholds[b-1] < x <= thresholds[b]`, so a split
//! "bin <= b" is the raw rule "x <= thresholds[b]" at prediction time. Categorical
//! features arrive as integer codes `0..k` (k <= max_bins) and use the code as the bin.
//! Missing values (NaN) always take the bin right after the last value bin.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Matrix;
use crate::error::{CrmError, Result};
use crate::rng::Rng;

/// Rows sampled to find quantile thresholds (as scikit-learn's `subsample=2e5`).
pub const BINNING_SUBSAMPLE: usize = 200_000;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FeatureBins {
    pub categorical: bool,
    /// Upper edges of the value bins but the last (numeric features only).
    #[serde(with = "super::json_f64::vec")]
    pub thresholds: Vec<f64>,
    /// Number of value bins; the missing-value bin has index `n_bins`.
    pub n_bins: usize,
}

impl FeatureBins {
    #[inline]
    pub fn missing_bin(&self) -> u8 {
        self.n_bins as u8
    }

    #[inline]
    pub fn bin(&self, x: f64) -> u8 {
        if x.is_nan() {
            return self.missing_bin();
        }
        if self.categorical {
            // Codes are checked at fit; unknown codes at transform time count as missing.
            if x >= 0.0 && (x as usize) < self.n_bins && x.fract() == 0.0 {
                x as u8
            } else {
                self.missing_bin()
            }
        } else {
            self.thresholds.partition_point(|&t| t < x) as u8
        }
    }

    /// A branch-free binner for many values (numeric features), same codes as `bin`.
    pub fn binner(&self) -> Binner<'_> {
        let mut padded = [f64::INFINITY; 255];
        for (p, &t) in padded.iter_mut().zip(&self.thresholds) {
            *p = t;
        }
        Binner { fb: self, padded }
    }
}

/// `FeatureBins::bin` as eight fixed steps over the thresholds padded to 255 with +inf:
/// no branch on the data, so no mispredictions (a plain binary search spent 40 ns a value).
pub struct Binner<'a> {
    fb: &'a FeatureBins,
    padded: [f64; 255],
}

impl Binner<'_> {
    #[inline]
    pub fn bin(&self, x: f64) -> u8 {
        if self.fb.categorical || x.is_nan() || self.fb.thresholds.len() > 254 {
            return self.fb.bin(x);
        }
        // Counts the thresholds below x: after the step of size s, `lo` is exact to s.
        let mut lo = 0usize;
        for step in [128, 64, 32, 16, 8, 4, 2, 1] {
            lo += step * (self.padded[lo + step - 1] < x) as usize;
        }
        lo as u8
    }
}

/// Fits the bin edges of every feature on the given training rows.
pub fn fit_bins(
    x: &Matrix,
    rows: &[u32],
    categorical: &[bool],
    max_bins: usize,
    seed: u64,
) -> Result<Vec<FeatureBins>> {
    if !(2..=255).contains(&max_bins) {
        return Err(CrmError::invalid(format!("max_bins must be in [2, 255], found {max_bins}")));
    }
    if categorical.len() != x.n_cols() {
        return Err(CrmError::invalid("categorical flags must have one entry per feature"));
    }
    // One subsample shared by all features, drawn by a partial Fisher-Yates shuffle.
    let sample: Vec<u32> = if rows.len() > BINNING_SUBSAMPLE {
        let mut pool = rows.to_vec();
        let mut rng = Rng::new(seed, 0xB1_75);
        for i in 0..BINNING_SUBSAMPLE {
            let j = i + rng.below(pool.len() - i);
            pool.swap(i, j);
        }
        pool.truncate(BINNING_SUBSAMPLE);
        pool.sort_unstable();
        pool
    } else {
        rows.to_vec()
    };
    (0..x.n_cols())
        .into_par_iter()
        .map(|j| {
            let col = x.col(j);
            if categorical[j] {
                // Codes are checked on every training row, not just the sample.
                let mut max_code = -1i64;
                for &r in rows {
                    let v = col[r as usize];
                    if v.is_nan() {
                        continue;
                    }
                    if v < 0.0 || v.fract() != 0.0 || v >= max_bins as f64 {
                        return Err(CrmError::invalid(format!(
                            "categorical feature {j}: codes must be integers in [0, {max_bins}), found {v}"
                        )));
                    }
                    max_code = max_code.max(v as i64);
                }
                Ok(FeatureBins { categorical: true, thresholds: Vec::new(), n_bins: (max_code + 1).max(1) as usize })
            } else {
                let mut vals: Vec<f64> =
                    sample.iter().map(|&r| col[r as usize]).filter(|v| !v.is_nan()).collect();
                vals.sort_unstable_by(f64::total_cmp);
                let thresholds = thresholds_of(&vals, max_bins);
                Ok(FeatureBins { categorical: false, n_bins: thresholds.len() + 1, thresholds })
            }
        })
        .collect()
}

/// Thresholds for sorted, NaN-free values.
fn thresholds_of(sorted: &[f64], max_bins: usize) -> Vec<f64> {
    let mut distinct: Vec<f64> = sorted.to_vec();
    distinct.dedup();
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| midpoint(w[0], w[1])).collect();
    }
    let n = sorted.len();
    let mut out: Vec<f64> = (1..max_bins)
        .map(|k| {
            // numpy.percentile(method="midpoint") at k/max_bins.
            let pos = k as f64 / max_bins as f64 * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            midpoint(sorted[lo], sorted[hi])
        })
        .collect();
    out.dedup();
    out
}

#[inline]
fn midpoint(a: f64, b: f64) -> f64 {
    let m = a + (b - a) / 2.0;
    if m.is_finite() {
        m
    } else {
        a / 2.0 + b / 2.0
    }
}

/// Bins every row of `x` (column-major u8 codes, `n_rows` per feature).
pub fn bin_matrix(x: &Matrix, bins: &[FeatureBins]) -> Vec<u8> {
    let n = x.n_rows();
    let mut out = vec![0u8; n * bins.len()];
    if n == 0 {
        return out;
    }
    // Blocks of rows, each binned feature by feature: the columns of a C-ordered numpy
    // array are strided views, and a block's rows (4,096 x 30 x 8 bytes) stay in L2
    // while its features are read; a whole-column pass fetched a cache line per value.
    const BLOCK: usize = 4096;
    let binners: Vec<Binner> = bins.iter().map(FeatureBins::binner).collect();
    let mut blocks: Vec<Vec<&mut [u8]>> = (0..n.div_ceil(BLOCK)).map(|_| Vec::with_capacity(bins.len())).collect();
    for column in out.chunks_mut(n) {
        for (b, segment) in column.chunks_mut(BLOCK).enumerate() {
            blocks[b].push(segment);
        }
    }
    blocks.into_par_iter().enumerate().for_each(|(b, segments)| {
        // An interrupted fit skips the remaining blocks; the caller checks the flag.
        if crate::interrupt::requested() {
            return;
        }
        let start = b * BLOCK;
        for (j, segment) in segments.into_iter().enumerate() {
            let col = x.col(j);
            for (i, o) in segment.iter_mut().enumerate() {
                *o = binners[j].bin(col[start + i]);
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_use_midpoints() {
        let t = thresholds_of(&[1.0, 1.0, 2.0, 4.0], 255);
        assert_eq!(t, vec![1.5, 3.0]);
        let fb = FeatureBins { categorical: false, n_bins: 3, thresholds: t };
        assert_eq!(fb.bin(1.0), 0);
        assert_eq!(fb.bin(1.5), 0);
        assert_eq!(fb.bin(1.6), 1);
        assert_eq!(fb.bin(10.0), 2);
        assert_eq!(fb.bin(f64::NAN), 3);
    }

    #[test]
    fn branch_free_binner_equals_binary_search() {
        let mut rng = Rng::new(7, 0);
        for n_thresholds in [0usize, 1, 2, 3, 7, 100, 127, 128, 200, 254] {
            let mut t: Vec<f64> = (0..n_thresholds).map(|_| rng.normal()).collect();
            t.sort_unstable_by(f64::total_cmp);
            t.dedup();
            let fb = FeatureBins { categorical: false, n_bins: t.len() + 1, thresholds: t.clone() };
            let binner = fb.binner();
            let mut probes: Vec<f64> = t.clone();
            probes.extend((0..500).map(|_| 1.5 * rng.normal()));
            probes.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, f64::MAX, f64::MIN]);
            for x in probes {
                assert_eq!(binner.bin(x), fb.bin(x), "x = {x}, {} thresholds", t.len());
            }
        }
    }

    #[test]
    fn many_values_use_quantiles() {
        let v: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let t = thresholds_of(&v, 10);
        assert_eq!(t.len(), 9);
        assert!((t[4] - 499.5).abs() < 1e-12, "{t:?}");
    }

    #[test]
    fn categorical_codes_checked() {
        let cols = vec![vec![0.0, 1.0, f64::NAN, 2.5]];
        let x = Matrix::from_columns(&cols).unwrap();
        assert!(fit_bins(&x, &[0, 1, 2, 3], &[true], 255, 0).is_err());
        let cols = vec![vec![0.0, 3.0, f64::NAN, 1.0]];
        let x = Matrix::from_columns(&cols).unwrap();
        let b = fit_bins(&x, &[0, 1, 2, 3], &[true], 255, 0).unwrap();
        assert_eq!(b[0].n_bins, 4);
        assert_eq!(bin_matrix(&x, &b), vec![0, 3, 4, 1]);
    }
}
