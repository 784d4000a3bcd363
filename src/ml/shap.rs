//! Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2), as
//! LightGBM's `pred_contrib` and shap's TreeExplainer compute it on the raw score:
//! the contributions of a row plus the bias (the expected raw score under the training
//! cover) add up to the row's raw prediction.

use rayon::prelude::*;

use super::boost::Model;
use super::tree::Tree;
use super::Matrix;
use crate::error::Result;

#[derive(Clone, Copy, Default)]
struct PathElement {
    feature: i64,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

// The three path operations of Algorithm 2, with every division by a small integer
// replaced by a product with `inv[k] = 1/k` (divisions dominated the run time).

#[inline]
fn extend_path(path: &mut [PathElement], depth: usize, zero_fraction: f64, one_fraction: f64, feature: i64, inv: &[f64]) {
    path[depth] = PathElement { feature, zero_fraction, one_fraction, pweight: if depth == 0 { 1.0 } else { 0.0 } };
    let inv_d1 = inv[depth + 1];
    for i in (0..depth).rev() {
        let w = path[i].pweight * inv_d1;
        path[i + 1].pweight += one_fraction * w * (i + 1) as f64;
        path[i].pweight = zero_fraction * w * (depth - i) as f64;
    }
}

#[inline]
fn unwind_path(path: &mut [PathElement], depth: usize, index: usize, inv: &[f64]) {
    let one_fraction = path[index].one_fraction;
    let zero_fraction = path[index].zero_fraction;
    let d1 = (depth + 1) as f64;
    let inv_d1 = inv[depth + 1];
    let mut next_one_portion = path[depth].pweight;
    if one_fraction != 0.0 {
        let inv_one = 1.0 / one_fraction;
        for i in (0..depth).rev() {
            let tmp = path[i].pweight;
            path[i].pweight = next_one_portion * d1 * inv[i + 1] * inv_one;
            next_one_portion = tmp - path[i].pweight * zero_fraction * (depth - i) as f64 * inv_d1;
        }
    } else {
        let inv_zero = 1.0 / zero_fraction;
        for i in (0..depth).rev() {
            path[i].pweight = path[i].pweight * d1 * inv_zero * inv[depth - i];
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

#[inline]
fn unwound_path_sum(path: &[PathElement], depth: usize, index: usize, inv: &[f64]) -> f64 {
    let one_fraction = path[index].one_fraction;
    let zero_fraction = path[index].zero_fraction;
    let d1 = (depth + 1) as f64;
    let inv_d1 = inv[depth + 1];
    let mut total = 0.0;
    if one_fraction != 0.0 {
        let scale = d1 / one_fraction;
        let mut next_one_portion = path[depth].pweight;
        for i in (0..depth).rev() {
            let tmp = next_one_portion * scale * inv[i + 1];
            total += tmp;
            next_one_portion = path[i].pweight - tmp * zero_fraction * (depth - i) as f64 * inv_d1;
        }
    } else if zero_fraction != 0.0 {
        for i in (0..depth).rev() {
            total += path[i].pweight * inv[depth - i];
        }
        total *= d1 / zero_fraction;
    }
    total
}

/// Recursion of Algorithm 2. `buf` holds the paths of all levels: level k's path starts
/// at `offset` and the child's copy follows it.
#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &Tree,
    x: &Matrix,
    row: usize,
    phi: &mut [f64],
    inv: &[f64],
    node: usize,
    mut depth: usize,
    buf: &mut [PathElement],
    offset: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: i64,
) {
    // Copy the parent's path (depth elements) to a fresh slot for this level.
    let new_off = offset + depth + 1;
    if depth > 0 || offset > 0 {
        buf.copy_within(offset..offset + depth, new_off);
    }
    let path = &mut buf[new_off..];
    extend_path(path, depth, zero_fraction, one_fraction, feature, inv);
    let nd = &tree.nodes[node];
    if nd.is_leaf {
        for i in 1..=depth {
            let w = unwound_path_sum(path, depth, i, inv);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * nd.value;
        }
        return;
    }
    let left = nd.goes_left(x.get(row, nd.feature as usize));
    let (hot, cold) = if left { (nd.left, nd.right) } else { (nd.right, nd.left) };
    let (hot, cold) = (hot as usize, cold as usize);
    let w = nd.cover;
    let hot_zero = if w > 0.0 { tree.nodes[hot].cover / w } else { 0.5 };
    let cold_zero = if w > 0.0 { tree.nodes[cold].cover / w } else { 0.5 };
    let (mut in_zero, mut in_one) = (1.0, 1.0);
    let f = nd.feature as i64;
    if let Some(k) = (1..=depth).find(|&k| path[k].feature == f) {
        in_zero = path[k].zero_fraction;
        in_one = path[k].one_fraction;
        unwind_path(path, depth, k, inv);
        depth -= 1;
    }
    recurse(tree, x, row, phi, inv, hot, depth + 1, buf, new_off, hot_zero * in_zero, in_one, f);
    recurse(tree, x, row, phi, inv, cold, depth + 1, buf, new_off, cold_zero * in_zero, 0.0, f);
}

/// Path buffer length for trees up to `max_depth` deep (all levels' paths side by side).
fn buffer_len(max_depth: usize) -> usize {
    let d = max_depth + 2;
    d * (d + 1) / 2 + d + 2
}

/// Contributions as a row-major (n_rows, n_features + 1) array; the last column is the
/// bias (baseline + expected value of every tree).
pub fn contributions(model: &Model, x: &Matrix) -> Result<Vec<f64>> {
    // Reuses the shape check of prediction.
    let _ = model.predict_raw_range(x, 0, 0)?;
    let d = model.n_features;
    let n = x.n_rows();
    let bias = model.baseline + model.trees.iter().map(|t| t.expected_value()).sum::<f64>();
    let mut out = vec![0.0; n * (d + 1)];
    let deepest = model.trees.iter().map(|t| t.max_depth()).max().unwrap_or(0);
    let trees: Vec<&Tree> = model.trees.iter().filter(|t| t.nodes.len() > 1).collect();
    let inv: Vec<f64> = (0..deepest + 4).map(|k| if k == 0 { 0.0 } else { 1.0 / k as f64 }).collect();
    out.par_chunks_mut((d + 1) * 256).enumerate().for_each(|(b, chunk)| {
        let mut buf = vec![PathElement::default(); buffer_len(deepest)];
        for (i, phi) in chunk.chunks_mut(d + 1).enumerate() {
            let row = b * 256 + i;
            for t in &trees {
                recurse(t, x, row, &mut phi[..d], &inv, 0, 0, &mut buf, 0, 1.0, 1.0, -1);
            }
            phi[d] = bias;
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::boost::{fit, Params};
    use crate::ml::loss::Loss;
    use crate::rng::Rng;

    /// Path-dependent conditional expectation E[f(x) | x_S] of a tree.
    fn cond_exp(tree: &Tree, x: &Matrix, row: usize, s: u32, node: usize) -> f64 {
        let nd = &tree.nodes[node];
        if nd.is_leaf {
            return nd.value;
        }
        if s >> nd.feature & 1 == 1 {
            let next = if nd.goes_left(x.get(row, nd.feature as usize)) { nd.left } else { nd.right };
            return cond_exp(tree, x, row, s, next as usize);
        }
        let (l, r) = (nd.left as usize, nd.right as usize);
        (tree.nodes[l].cover * cond_exp(tree, x, row, s, l) + tree.nodes[r].cover * cond_exp(tree, x, row, s, r))
            / nd.cover
    }

    fn brute_force(tree: &Tree, x: &Matrix, row: usize, d: usize) -> Vec<f64> {
        let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
        let mut phi = vec![0.0; d];
        for (j, p) in phi.iter_mut().enumerate() {
            for s in 0u32..(1 << d) {
                if s >> j & 1 == 1 {
                    continue;
                }
                let k = s.count_ones() as usize;
                let wgt = fact(k) * fact(d - k - 1) / fact(d);
                *p += wgt * (cond_exp(tree, x, row, s | 1 << j, 0) - cond_exp(tree, x, row, s, 0));
            }
        }
        phi
    }

    #[test]
    fn equals_brute_force_shapley_values() {
        let n = 800;
        let mut rng = Rng::new(9, 2);
        let mut cols = vec![Vec::new(); 4];
        let mut y = Vec::new();
        for _ in 0..n {
            let v: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
            let c = rng.below(4) as f64;
            let m = if rng.uniform() < 0.2 { f64::NAN } else { v[3] };
            y.push(v[0] * v[1] + 2.0 * (v[2] > 0.3) as i32 as f64 + c + if m.is_nan() { 1.0 } else { m } + 0.1 * rng.normal());
            cols[0].push(v[0]);
            cols[1].push(v[1]);
            cols[2].push(c);
            cols[3].push(m);
        }
        let x = Matrix::from_columns(&cols).unwrap();
        let p = Params {
            loss: Loss::SquaredError,
            learning_rate: 0.3,
            max_iter: 5,
            max_leaf_nodes: 12,
            max_depth: None,
            min_samples_leaf: 5,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: false,
            validation_fraction: None,
            n_iter_no_change: 10,
            tol: 0.0,
            seed: 1,
        };
        let m = fit(&x, &y, None, &[false, false, true, false], &p).unwrap();
        assert!(m.trees.iter().any(|t| t.max_depth() >= 4), "trees should be deep enough to repeat features");
        let contrib = contributions(&m, &x).unwrap();
        let raw = m.predict_raw(&x).unwrap();
        for row in 0..60 {
            let c = &contrib[row * 5..row * 5 + 5];
            let total: f64 = c.iter().sum();
            assert!((total - raw[row]).abs() < 1e-9, "row {row}: {total} vs {}", raw[row]);
            let mut bf = vec![0.0; 4];
            for t in &m.trees {
                for (a, b) in bf.iter_mut().zip(brute_force(t, &x, row, 4)) {
                    *a += b;
                }
            }
            for j in 0..4 {
                assert!((bf[j] - c[j]).abs() < 1e-9, "row {row} feature {j}: {} vs {}", bf[j], c[j]);
            }
        }
    }
}
