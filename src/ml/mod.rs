//! Supervised learning kernels: histogram gradient-boosted trees (binning, histograms,
//! leaf-wise growth, losses, prediction, exact TreeSHAP) and L2 logistic regression.
//!
//! Pure Rust (rayon + serde): no pyo3 here, so `cargo test` covers every kernel.
//! Results are deterministic whatever the number of rayon threads: work is split into
//! fixed chunks (features, row blocks) and every reduction is summed in a fixed order.

pub mod binning;
pub mod boost;
pub mod logistic;
pub mod loss;
pub mod shap;
pub mod tree;

use ndarray::ArrayView1;

use crate::error::{CrmError, Result};

/// Read-only view of a feature matrix as one (possibly strided) column per feature.
/// Columns come straight from polars/numpy buffers, so no copy of X is ever made.
pub struct Matrix<'a> {
    cols: Vec<ArrayView1<'a, f64>>,
    n_rows: usize,
}

impl<'a> Matrix<'a> {
    pub fn new(cols: Vec<ArrayView1<'a, f64>>) -> Result<Self> {
        let n_rows = cols.first().map(|c| c.len()).unwrap_or(0);
        if let Some((j, c)) = cols.iter().enumerate().find(|(_, c)| c.len() != n_rows) {
            return Err(CrmError::invalid(format!(
                "X: every column must have the same length; column {j} has {} rows, column 0 has {n_rows}",
                c.len()
            )));
        }
        Ok(Matrix { cols, n_rows })
    }

    /// A matrix over owned column vectors (tests and internal use).
    pub fn from_columns(cols: &'a [Vec<f64>]) -> Result<Self> {
        Matrix::new(cols.iter().map(|c| ArrayView1::from(c.as_slice())).collect())
    }

    #[inline]
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    #[inline]
    pub fn n_cols(&self) -> usize {
        self.cols.len()
    }

    #[inline]
    pub fn get(&self, row: usize, col: usize) -> f64 {
        self.cols[col][row]
    }

    #[inline]
    pub fn col(&self, col: usize) -> &ArrayView1<'a, f64> {
        &self.cols[col]
    }
}

/// Sums `f(i)` over `0..n` in fixed blocks, adding the block sums in order: the same
/// bits whatever the number of threads.
pub(crate) fn ordered_sum<F>(n: usize, f: F) -> f64
where
    F: Fn(usize) -> f64 + Sync,
{
    use rayon::prelude::*;
    const BLOCK: usize = 8192;
    let blocks = n.div_ceil(BLOCK);
    let parts: Vec<f64> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let (s, e) = (b * BLOCK, ((b + 1) * BLOCK).min(n));
            (s..e).map(&f).sum::<f64>()
        })
        .collect();
    parts.iter().sum()
}

/// Exact floats in model files. serde_json's default number parser may be off by one
/// unit in the last place (its exact parser is a crate feature that would rebuild the
/// whole polars stack), and JSON has no infinity or NaN. So every model float is written
/// as a string holding Rust's shortest round-trip form ("0.1", "inf", "-inf", "nan") and
/// read back with Rust's correctly rounded parser: a saved model predicts bit for bit
/// as the original. Plain JSON numbers are accepted on input too.
pub(crate) mod json_f64 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Num(f64),
    }

    fn text(v: f64) -> String {
        if v.is_nan() {
            "nan".into()
        } else if v.is_infinite() {
            if v > 0.0 { "inf".into() } else { "-inf".into() }
        } else {
            format!("{v:?}")
        }
    }

    fn from_repr<E: serde::de::Error>(r: Repr) -> Result<f64, E> {
        match r {
            Repr::Num(v) => Ok(v),
            Repr::Text(t) => t.parse::<f64>().map_err(|_| E::custom(format!("expected a number, found {t:?}"))),
        }
    }

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        from_repr(Repr::deserialize(d)?)
    }

    pub mod vec {
        use super::*;

        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            v.iter().map(|&x| text(x)).collect::<Vec<_>>().serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Vec::<Repr>::deserialize(d)?.into_iter().map(from_repr).collect()
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn round_trips_exactly() {
            for v in [0.1, 1.0 / 3.0, -2.5e-300, 1e308, f64::INFINITY, f64::NEG_INFINITY, 5e-324] {
                let t = super::text(v);
                assert_eq!(t.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{t}");
            }
            assert!(super::text(f64::NAN).parse::<f64>().unwrap().is_nan());
        }
    }
}
