//! Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2), as
//! LightGBM's `pred_contrib` and shap's TreeExplainer compute it on the raw score:
//! the contributions of a row plus the bias (the expected raw score under the training
//! cover) add up to the row's raw prediction.
//!
//! Two exact methods: the recursion of Algorithm 2, and for large batches per-leaf
//! tables over the subsets of each leaf's path features (see `TableTree`), chosen per
//! tree by cost. They agree to rounding (tests below).

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

/// Which algorithm explains a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Per tree: the leaf tables when they pay for themselves on this many rows and fit
    /// the memory budget, the recursion otherwise.
    Auto,
    /// Algorithm 2 (the recursion) for every tree.
    Recursive,
    /// The leaf tables for every tree whose leaves have at most `MAX_TABLE_FEATURES`
    /// distinct features on their path (the recursion for the others).
    Tables,
}

/// Deepest set of distinct path features a leaf table is built for (2^k entries).
const MAX_TABLE_FEATURES: usize = 16;
/// Total leaf-table entries kept at once (8 bytes each: 128 MB).
const TABLE_BUDGET: usize = 1 << 24;
/// Rows explained per block: a block's contributions stay in cache while every tree
/// adds to them.
const BLOCK: usize = 256;

/// One tree prepared for the table method ("Fast TreeSHAP v2", Yang 2021, in this form).
///
/// For a leaf with value v, let U be the distinct features on its path (d of them), z_j
/// the product of the cover fractions of the path's splits on feature j, and for a row T
/// the features of U whose every split on the path the row follows. The leaf's part of
/// the path-dependent game is g(S) = v Π_{k∈S} 1[k∈T] Π_{k∈U∖S} z_k, so with
/// E(R) = Σ_{S⊆R} |S|!(d−|S|−1)!/d! Π_{k∈R∖S} z_k and Z = Π_{k∈U∖T} z_k, its
/// Shapley values are
///   φ_j = v (1 − z_j) Z E(T∖{j})   for j ∈ T,
///   φ_j = −v Z E(T)                 for j ∈ U∖T.
/// E depends on the tree alone and is tabulated for every R ⊆ U once; a row then costs
/// O(path length) per leaf instead of the recursion's O(depth²).
struct TableTree {
    /// Internal nodes (to test a row's direction at each once).
    internal: Vec<u32>,
    /// Per leaf: value, first slot (into `feats`/`z`), number of slots, first path step,
    /// number of path steps, first table entry.
    leaves: Vec<LeafInfo>,
    feats: Vec<u32>,
    z: Vec<f64>,
    /// Path steps: (position of the node in `internal`, goes left, slot of its feature).
    steps: Vec<(u32, bool, u8)>,
    table: Vec<f64>,
}

#[derive(Clone, Copy)]
struct LeafInfo {
    value: f64,
    slot0: u32,
    n_slots: u32,
    step0: u32,
    n_steps: u32,
    table0: usize,
}

/// The cover fraction of `child` under `parent` (0.5 each when the parent has no cover,
/// as in the recursion).
#[inline]
fn cover_fraction(tree: &Tree, parent: usize, child: usize) -> f64 {
    let w = tree.nodes[parent].cover;
    if w > 0.0 { tree.nodes[child].cover / w } else { 0.5 }
}

/// Leaves of a tree with their root-to-leaf path of (node, goes left) steps.
fn leaf_paths(tree: &Tree) -> Vec<(usize, Vec<(usize, bool)>)> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, Vec<(usize, bool)>)> = vec![(0, Vec::new())];
    while let Some((i, path)) = stack.pop() {
        let nd = &tree.nodes[i];
        if nd.is_leaf {
            out.push((i, path));
            continue;
        }
        let mut r = path.clone();
        r.push((i, false));
        stack.push((nd.right as usize, r));
        let mut l = path;
        l.push((i, true));
        stack.push((nd.left as usize, l));
    }
    out
}

/// Per-leaf (distinct path features, path length) of a tree, for choosing a method.
fn leaf_shapes(tree: &Tree) -> Vec<(usize, usize)> {
    leaf_paths(tree)
        .into_iter()
        .map(|(_, path)| {
            let mut f: Vec<u32> = path.iter().map(|&(n, _)| tree.nodes[n].feature).collect();
            f.sort_unstable();
            f.dedup();
            (f.len(), path.len())
        })
        .collect()
}

/// E(R) for every subset R of the leaf's d slots (bit k = slot k), into `out`.
/// `coef` is scratch: the coefficients of Π_{k∈R}(z_k + t) for every R.
fn leaf_table(z: &[f64], out: &mut [f64], coef: &mut Vec<f64>) {
    let d = z.len();
    let stride = d + 1;
    coef.clear();
    coef.resize((1usize << d) * stride, 0.0);
    coef[0] = 1.0;
    // Shapley weights |S|!(d-|S|-1)!/d! for |S| < d.
    let mut w = vec![0.0; d];
    for (s, ws) in w.iter_mut().enumerate() {
        let mut v = 1.0 / d as f64;
        // s!(d-s-1)!/(d-1)! = 1 / C(d-1, s)
        let mut c = 1.0;
        for i in 0..s {
            c = c * (d - 1 - i) as f64 / (i + 1) as f64;
        }
        v /= c;
        *ws = v;
    }
    out[0] = w[0];
    for r in 1usize..(1 << d) {
        let k = usize::BITS as usize - 1 - r.leading_zeros() as usize;
        let prev = r ^ (1 << k);
        let (lo, hi) = coef.split_at_mut(r * stride);
        let p = &lo[prev * stride..prev * stride + stride];
        let c = &mut hi[..stride];
        let zk = z[k];
        c[0] = zk * p[0];
        for s in 1..stride {
            c[s] = zk * p[s] + p[s - 1];
        }
        out[r] = (0..d).map(|s| w[s] * c[s]).sum();
    }
}

fn table_tree(tree: &Tree) -> TableTree {
    let mut pos = vec![u32::MAX; tree.nodes.len()];
    let mut internal = Vec::new();
    for (i, nd) in tree.nodes.iter().enumerate() {
        if !nd.is_leaf {
            pos[i] = internal.len() as u32;
            internal.push(i as u32);
        }
    }
    let mut t = TableTree { internal, leaves: Vec::new(), feats: Vec::new(), z: Vec::new(), steps: Vec::new(), table: Vec::new() };
    let mut coef = Vec::new();
    for (leaf, path) in leaf_paths(tree) {
        let slot0 = t.feats.len();
        let step0 = t.steps.len();
        for &(n, left) in &path {
            let f = tree.nodes[n].feature;
            let child = if left { tree.nodes[n].left } else { tree.nodes[n].right } as usize;
            let frac = cover_fraction(tree, n, child);
            let slot = match t.feats[slot0..].iter().position(|&g| g == f) {
                Some(s) => s,
                None => {
                    t.feats.push(f);
                    t.z.push(1.0);
                    t.feats.len() - 1 - slot0
                }
            };
            t.z[slot0 + slot] *= frac;
            t.steps.push((pos[n], left, slot as u8));
        }
        let d = t.feats.len() - slot0;
        let table0 = t.table.len();
        t.table.resize(table0 + (1usize << d), 0.0);
        if d > 0 {
            leaf_table(&t.z[slot0..], &mut t.table[table0..], &mut coef);
        }
        t.leaves.push(LeafInfo {
            value: tree.nodes[leaf].value,
            slot0: slot0 as u32,
            n_slots: d as u32,
            step0: step0 as u32,
            n_steps: (t.steps.len() - step0) as u32,
            table0,
        });
    }
    t
}

/// Adds one tree's contributions for `row` with the leaf tables; `dir` is scratch.
#[inline]
fn table_row(tree: &Tree, t: &TableTree, x: &Matrix, row: usize, phi: &mut [f64], dir: &mut Vec<bool>) {
    dir.clear();
    dir.extend(t.internal.iter().map(|&n| {
        let nd = &tree.nodes[n as usize];
        nd.goes_left(x.get(row, nd.feature as usize))
    }));
    for leaf in &t.leaves {
        if leaf.value == 0.0 {
            continue;
        }
        let d = leaf.n_slots as usize;
        // Branch-free: which slots the row satisfies (T), Z = v Π_{k∉T} z_k, then φ.
        let mut tmask: u32 = (1u32 << d) - 1;
        let steps = &t.steps[leaf.step0 as usize..(leaf.step0 + leaf.n_steps) as usize];
        for &(p, left, slot) in steps {
            tmask &= !(((dir[p as usize] != left) as u32) << slot);
        }
        let tmask = tmask as usize;
        let s0 = leaf.slot0 as usize;
        let z = &t.z[s0..s0 + d];
        let feats = &t.feats[s0..s0 + d];
        let mut zc = leaf.value;
        for (k, &zk) in z.iter().enumerate() {
            zc *= if tmask >> k & 1 == 1 { 1.0 } else { zk };
        }
        let table = &t.table[leaf.table0..leaf.table0 + (1usize << d)];
        let out_all = -zc * table[tmask];
        for k in 0..d {
            let inside = zc * (1.0 - z[k]) * table[tmask ^ (1 << k)];
            phi[feats[k] as usize] += if tmask >> k & 1 == 1 { inside } else { out_all };
        }
    }
}

/// Contributions as a row-major (n_rows, n_features + 1) array; the last column is the
/// bias (baseline + expected value of every tree).
pub fn contributions(model: &Model, x: &Matrix) -> Result<Vec<f64>> {
    contributions_with(model, x, Method::Auto)
}

/// `contributions` with a chosen method (every method gives the same values up to
/// rounding).
pub fn contributions_with(model: &Model, x: &Matrix, method: Method) -> Result<Vec<f64>> {
    // Reuses the shape check of prediction.
    let _ = model.predict_raw_range(x, 0, 0)?;
    let d = model.n_features;
    let n = x.n_rows();
    let bias = model.baseline + model.trees.iter().map(|t| t.expected_value()).sum::<f64>();
    let mut out = vec![0.0; n * (d + 1)];
    let deepest = model.trees.iter().map(|t| t.max_depth()).max().unwrap_or(0);
    let trees: Vec<&Tree> = model.trees.iter().filter(|t| t.nodes.len() > 1).collect();
    let inv: Vec<f64> = (0..deepest + 4).map(|k| if k == 0 { 0.0 } else { 1.0 / k as f64 }).collect();

    // Choose per tree, then build the chosen tables (in parallel, in tree order).
    let mut budget = TABLE_BUDGET;
    let chosen: Vec<bool> = trees
        .iter()
        .map(|t| {
            if method == Method::Recursive {
                return false;
            }
            let shapes = leaf_shapes(t);
            if shapes.iter().any(|&(k, _)| k > MAX_TABLE_FEATURES) {
                return false;
            }
            let entries: usize = shapes.iter().map(|&(k, _)| 1usize << k).sum();
            if method == Method::Auto {
                let build: f64 = shapes.iter().map(|&(k, _)| (1u64 << k) as f64 * (k as f64 + 1.0)).sum();
                let per_row_recursive: f64 = shapes.iter().map(|&(_, l)| ((l + 1) * (l + 1)) as f64).sum();
                let per_row_tables: f64 = shapes.iter().map(|&(k, l)| (k + l) as f64).sum();
                if n as f64 * (per_row_recursive - per_row_tables) <= build || entries > budget {
                    return false;
                }
            }
            budget = budget.saturating_sub(entries);
            true
        })
        .collect();
    let tables: Vec<Option<TableTree>> =
        trees.par_iter().zip(chosen.par_iter()).map(|(t, &c)| if c { Some(table_tree(t)) } else { None }).collect();

    out.par_chunks_mut((d + 1) * BLOCK).enumerate().for_each(|(b, chunk)| {
        let mut buf = vec![PathElement::default(); buffer_len(deepest)];
        let mut dir = Vec::new();
        let rows = chunk.len() / (d + 1);
        for (t, table) in trees.iter().zip(&tables) {
            for i in 0..rows {
                let phi = &mut chunk[i * (d + 1)..i * (d + 1) + d];
                let row = b * BLOCK + i;
                match table {
                    Some(tt) => table_row(t, tt, x, row, phi, &mut dir),
                    None => recurse(t, x, row, phi, &inv, 0, 0, &mut buf, 0, 1.0, 1.0, -1),
                }
            }
        }
        for phi in chunk.chunks_mut(d + 1) {
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
        let recursive = contributions_with(&m, &x, Method::Recursive).unwrap();
        let tables = contributions_with(&m, &x, Method::Tables).unwrap();
        let raw = m.predict_raw(&x).unwrap();
        for (row, contrib) in (0..60).flat_map(|r| [(r, &recursive), (r, &tables)]) {
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

    /// Random data with NaN, a categorical feature, few features (so paths repeat
    /// features) and optionally zero sample weights (zero-cover nodes).
    fn random_model(seed: u64, zero_weights: bool, leaves: usize) -> (Vec<Vec<f64>>, Model) {
        let n = 3000;
        let mut rng = Rng::new(seed, 5);
        let mut cols = vec![Vec::new(); 5];
        let mut y = Vec::new();
        let mut w = Vec::new();
        for _ in 0..n {
            let v: Vec<f64> = (0..3).map(|_| rng.normal()).collect();
            let c = rng.below(6) as f64;
            let m = if rng.uniform() < 0.15 { f64::NAN } else { v[2] };
            let a = if rng.uniform() < 0.05 { f64::NAN } else { v[0] };
            y.push((a.is_nan() as i32 as f64) + v[0] * v[1] + (c - 2.5).abs() + m.max(0.0) * v[0] + 0.3 * rng.normal());
            w.push(if zero_weights && rng.uniform() < 0.4 { 0.0 } else { 1.0 + rng.uniform() });
            cols[0].push(a);
            cols[1].push(v[1]);
            cols[2].push(c);
            cols[3].push(m);
            cols[4].push((c * 7.0 + v[1]).round());
        }
        let x = Matrix::from_columns(&cols).unwrap();
        let p = Params {
            loss: Loss::SquaredError,
            learning_rate: 0.2,
            max_iter: 8,
            max_leaf_nodes: leaves,
            max_depth: None,
            min_samples_leaf: 3,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: false,
            validation_fraction: None,
            n_iter_no_change: 10,
            tol: 0.0,
            seed,
        };
        let weights = if zero_weights { Some(w.as_slice()) } else { None };
        let m = fit(&x, &y, weights, &[false, false, true, false, false], &p).unwrap();
        (cols, m)
    }

    #[test]
    fn tables_equal_the_recursion() {
        for (seed, zero_weights, leaves) in [(1, false, 31), (2, true, 31), (3, false, 63), (4, true, 8)] {
            let (cols, m) = random_model(seed, zero_weights, leaves);
            let x = Matrix::from_columns(&cols).unwrap();
            if leaves >= 31 {
                assert!(m.trees.iter().any(|t| t.max_depth() >= 6), "deep trees repeat features");
            }
            let a = contributions_with(&m, &x, Method::Recursive).unwrap();
            let b = contributions_with(&m, &x, Method::Tables).unwrap();
            let auto = contributions(&m, &x).unwrap();
            let raw = m.predict_raw(&x).unwrap();
            for (i, (u, v)) in a.iter().zip(&b).enumerate() {
                assert!((u - v).abs() < 1e-9, "seed {seed} entry {i}: {u} vs {v}");
            }
            for (u, v) in a.iter().zip(&auto) {
                assert!((u - v).abs() < 1e-9);
            }
            for (row, r) in raw.iter().enumerate() {
                let total: f64 = b[row * 6..row * 6 + 6].iter().sum();
                assert!((total - r).abs() < 1e-9, "seed {seed} row {row}: {total} vs {r}");
            }
            // Unseen categories and all-missing rows follow the missing branch in both.
            let odd: Vec<Vec<f64>> = vec![
                vec![f64::NAN, 0.4, -2.0],
                vec![3.5, f64::NAN, 0.1],
                vec![f64::NAN, 9.0, 300.0],
                vec![f64::NAN, 1e9, -0.5],
                vec![f64::NAN, -1.0, 2.5],
            ];
            let xo = Matrix::from_columns(&odd).unwrap();
            let a = contributions_with(&m, &xo, Method::Recursive).unwrap();
            let b = contributions_with(&m, &xo, Method::Tables).unwrap();
            for (u, v) in a.iter().zip(&b) {
                assert!((u - v).abs() < 1e-9, "{u} vs {v}");
            }
        }
    }

    #[test]
    fn leaf_table_matches_the_subset_sum() {
        let z = [0.3, 0.55, 0.9, 0.125];
        let d = z.len();
        let mut out = vec![0.0; 1 << d];
        leaf_table(&z, &mut out, &mut Vec::new());
        let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
        for r in 0usize..(1 << d) - 1 {
            let mut e = 0.0;
            for s in 0usize..(1 << d) {
                if s & !r != 0 {
                    continue;
                }
                let k = s.count_ones() as usize;
                let prod: f64 = (0..d).filter(|&j| r >> j & 1 == 1 && s >> j & 1 == 0).map(|j| z[j]).product();
                e += fact(k) * fact(d - k - 1) / fact(d) * prod;
            }
            assert!((e - out[r]).abs() < 1e-14, "R={r:b}: {e} vs {}", out[r]);
        }
    }
}
