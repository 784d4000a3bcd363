//! Silhouette coefficient (Rousseeuw 1987) with Euclidean distances, following
//! scikit-learn's `silhouette_samples`: a row alone in its cluster scores 0.
//! Exact O(n^2 d): callers pass a sample for large data.

use rayon::prelude::*;

use crate::error::{CrmError, Result};

/// Per-row silhouette values.
pub fn silhouette_samples(x: &[f64], n: usize, d: usize, labels: &[u32]) -> Result<Vec<f64>> {
    if d == 0 || x.len() != n * d || labels.len() != n {
        return Err(CrmError::invalid(format!(
            "silhouette: X has {} values and {} labels, expected {n} x {d} values and {n} labels",
            x.len(),
            labels.len()
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(CrmError::invalid("silhouette: X holds a non-finite value (NaN or infinity)"));
    }
    let k = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut counts = vec![0usize; k];
    for &l in labels {
        counts[l as usize] += 1;
    }
    let n_labels = counts.iter().filter(|&&c| c > 0).count();
    if n_labels < 2 || n_labels > n.saturating_sub(1) {
        return Err(CrmError::invalid(format!(
            "silhouette: needs between 2 and n_samples - 1 = {} distinct labels, found {n_labels}",
            n.saturating_sub(1)
        )));
    }
    let out: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let p = &x[i * d..(i + 1) * d];
            let mut sums = vec![0.0; k];
            for (j, q) in x.chunks_exact(d).enumerate() {
                let dist: f64 = p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
                sums[labels[j] as usize] += dist;
            }
            let own = labels[i] as usize;
            if counts[own] <= 1 {
                return 0.0;
            }
            let a = sums[own] / (counts[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && counts[c] > 0)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 {
                (b - a) / m
            } else {
                0.0
            }
        })
        .collect();
    Ok(out)
}

/// Mean silhouette value.
pub fn silhouette_score(x: &[f64], n: usize, d: usize, labels: &[u32]) -> Result<f64> {
    let s = silhouette_samples(x, n, d, labels)?;
    Ok(s.iter().sum::<f64>() / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_example() {
        // 1-D points 0, 1 (cluster 0) and 5 (cluster 1).
        let x = vec![0.0, 1.0, 5.0];
        let s = silhouette_samples(&x, 3, 1, &[0, 0, 1]).unwrap();
        // row 0: a = 1, b = 5 -> 0.8; row 1: a = 1, b = 4 -> 0.75; row 2: singleton -> 0
        assert!((s[0] - 0.8).abs() < 1e-12);
        assert!((s[1] - 0.75).abs() < 1e-12);
        assert_eq!(s[2], 0.0);
        let score = silhouette_score(&x, 3, 1, &[0, 0, 1]).unwrap();
        assert!((score - (0.8 + 0.75) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn one_label_is_an_error() {
        assert!(silhouette_score(&[0.0, 1.0, 2.0], 3, 1, &[0, 0, 0]).is_err());
    }
}
