//! Histogram gradient boosting: leaf-wise (best-first) tree growth on u8 bin codes with
//! per-leaf (gradient, hessian, count) histograms and the subtraction trick, as
//! LightGBM and scikit-learn's HistGradientBoosting do.
//!
//! Determinism: each feature's histogram is summed serially over the leaf's rows in a
//! fixed order (features run in parallel, never rows), partitions are stable, and loss
//! sums use fixed blocks — so a seed gives the same model on 1 or 32 threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::{bin_matrix, fit_bins, FeatureBins};
use super::loss::Loss;
use super::tree::{FlatTree, Node, Tree};
use super::{ordered_sum, Matrix};
use crate::error::{CrmError, Result};
use crate::rng::Rng;

/// Current model file version (bump on any incompatible change of `Model`).
pub const MODEL_VERSION: u32 = 1;
/// Smallest hessian sum a child may have (scikit-learn's `min_hessian_to_split`).
const MIN_HESSIAN: f64 = 1e-3;
/// Categories need this many rows at a node to be ordered on their own (scikit-learn's
/// MIN_CAT_SUPPORT); it also smooths the gradient/hessian ratio used for the order.
const MIN_CAT_SUPPORT: f64 = 10.0;

#[derive(Clone, Debug)]
pub struct Params {
    pub loss: Loss,
    pub learning_rate: f64,
    pub max_iter: usize,
    pub max_leaf_nodes: usize,
    pub max_depth: Option<usize>,
    pub min_samples_leaf: usize,
    pub l2_regularization: f64,
    pub max_bins: usize,
    pub early_stopping: bool,
    /// Fraction of rows held out for early stopping; None scores the training rows.
    pub validation_fraction: Option<f64>,
    pub n_iter_no_change: usize,
    pub tol: f64,
    pub seed: u64,
}

impl Params {
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(CrmError::invalid(m));
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(format!("learning_rate must be > 0, found {}", self.learning_rate));
        }
        if self.max_iter < 1 {
            return bad("max_iter must be >= 1".into());
        }
        if self.max_leaf_nodes < 2 {
            return bad(format!("max_leaf_nodes must be >= 2, found {}", self.max_leaf_nodes));
        }
        if self.max_depth == Some(0) {
            return bad("max_depth must be >= 1 or None".into());
        }
        if self.min_samples_leaf < 1 {
            return bad("min_samples_leaf must be >= 1".into());
        }
        if !(self.l2_regularization >= 0.0 && self.l2_regularization.is_finite()) {
            return bad(format!("l2_regularization must be >= 0, found {}", self.l2_regularization));
        }
        if let Some(f) = self.validation_fraction {
            if !(f > 0.0 && f < 1.0) {
                return bad(format!("validation_fraction must lie in (0, 1), found {f}"));
            }
        }
        if self.n_iter_no_change < 1 {
            return bad("n_iter_no_change must be >= 1".into());
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Model {
    pub version: u32,
    pub loss: Loss,
    #[serde(with = "super::json_f64")]
    pub baseline: f64,
    pub n_features: usize,
    pub bins: Vec<FeatureBins>,
    pub trees: Vec<Tree>,
    /// Total split gain per feature.
    #[serde(with = "super::json_f64::vec")]
    pub feature_gain: Vec<f64>,
    /// -loss per iteration (iteration 0 = baseline) when early stopping ran.
    #[serde(with = "super::json_f64::vec")]
    pub train_score: Vec<f64>,
    #[serde(with = "super::json_f64::vec")]
    pub validation_score: Vec<f64>,
}

#[derive(Clone, Copy, Default, Debug)]
struct Bin {
    g: f64,
    h: f64,
    c: u32,
}

#[derive(Clone, Copy, Default, Debug)]
struct Sums {
    g: f64,
    h: f64,
    c: u32,
}

impl Sums {
    fn of(bins: &[Bin]) -> Sums {
        let mut s = Sums::default();
        for b in bins {
            s.g += b.g;
            s.h += b.h;
            s.c += b.c;
        }
        s
    }
    fn add(&mut self, b: &Bin) {
        self.g += b.g;
        self.h += b.h;
        self.c += b.c;
    }
    fn minus(&self, o: &Sums) -> Sums {
        Sums { g: self.g - o.g, h: self.h - o.h, c: self.c - o.c }
    }
}

#[derive(Clone, Debug)]
struct Split {
    gain: f64,
    feature: usize,
    bin: u8,
    categorical: bool,
    cat_left: [u64; 4],
    missing_left: bool,
    left: Sums,
    right: Sums,
}

/// Binned training data shared by every tree.
struct Data<'a> {
    bins: &'a [u8],
    n: usize,
    fb: &'a [FeatureBins],
    /// Histogram offset of each feature (each holds n_bins + 1 entries).
    offsets: Vec<usize>,
    hist_len: usize,
}

struct GrowParams {
    max_leaf_nodes: usize,
    max_depth: Option<usize>,
    min_samples_leaf: u32,
    lambda: f64,
    learning_rate: f64,
}

struct Leaf {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    hist: Option<Vec<Bin>>,
    split: Option<Split>,
}

#[inline]
fn score(s: &Sums, lambda: f64) -> f64 {
    s.g * s.g / (s.h + lambda)
}

fn set_bit(bits: &mut [u64; 4], b: usize) {
    bits[b >> 6] |= 1 << (b & 63);
}

fn has_bit(bits: &[u64; 4], b: usize) -> bool {
    bits[b >> 6] >> (b & 63) & 1 == 1
}

/// Best split of one feature's histogram, or None.
fn best_split_feature(hist: &[Bin], f: usize, fb: &FeatureBins, total: &Sums, gp: &GrowParams) -> Option<Split> {
    let nb = fb.n_bins;
    let miss = hist[nb];
    let parent = score(total, gp.lambda);
    let msl = gp.min_samples_leaf;
    let valid = |l: &Sums, r: &Sums| l.c >= msl && r.c >= msl && l.h >= MIN_HESSIAN && r.h >= MIN_HESSIAN;
    let mut best: Option<Split> = None;
    let mut consider = |l: Sums, bin: u8, missing_left: bool, cat: Option<[u64; 4]>| {
        let r = total.minus(&l);
        if !valid(&l, &r) {
            return;
        }
        let gain = score(&l, gp.lambda) + score(&r, gp.lambda) - parent;
        if gain > 0.0 && best.as_ref().is_none_or(|b| gain > b.gain) {
            best = Some(Split {
                gain,
                feature: f,
                bin,
                categorical: cat.is_some(),
                cat_left: cat.unwrap_or([0; 4]),
                missing_left,
                left: l,
                right: r,
            });
        }
    };
    if !fb.categorical {
        let has_missing = miss.c > 0;
        // Missing values to the right; with missing values, "all values left" is a split too.
        let end = if has_missing { nb } else { nb.saturating_sub(1) };
        let mut l = Sums::default();
        for b in 0..end {
            l.add(&hist[b]);
            consider(l, b as u8, false, None);
        }
        if has_missing {
            let mut l = Sums { g: miss.g, h: miss.h, c: miss.c };
            for b in 0..nb.saturating_sub(1) {
                l.add(&hist[b]);
                consider(l, b as u8, true, None);
            }
        }
    } else {
        // Order the categories (missing counts as one) by smoothed gradient/hessian ratio
        // and scan prefixes from both ends; rare categories always go right.
        let mut cats: Vec<(f64, usize)> = (0..=nb)
            .filter(|&b| hist[b].c as f64 >= MIN_CAT_SUPPORT)
            .map(|b| (hist[b].g / (hist[b].h + MIN_CAT_SUPPORT), b))
            .collect();
        if (0..=nb).filter(|&b| hist[b].c > 0).count() < 2 {
            return None;
        }
        cats.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let rare_exist = (0..=nb).any(|b| hist[b].c > 0 && (hist[b].c as f64) < MIN_CAT_SUPPORT);
        let max_k = if rare_exist { cats.len() } else { cats.len().saturating_sub(1) };
        for order in [false, true] {
            let mut l = Sums::default();
            let mut bits = [0u64; 4];
            for k in 0..max_k {
                let b = if order { cats[cats.len() - 1 - k].1 } else { cats[k].1 };
                l.add(&hist[b]);
                set_bit(&mut bits, b);
                consider(l, 0, has_bit(&bits, nb), Some(bits));
            }
        }
    }
    best
}

fn best_split(data: &Data, hist: &[Bin], total: &Sums, gp: &GrowParams) -> Option<Split> {
    let d = data.fb.len();
    // Serial on purpose: a scan of d x 256 bins is microseconds, less than what a
    // parallel hand-off costs on a busy machine (a descheduled worker stalls the join).
    let per_feature: Vec<Option<Split>> = (0..d)
        .map(|f| {
            let h = &hist[data.offsets[f]..data.offsets[f] + data.fb[f].n_bins + 1];
            best_split_feature(h, f, &data.fb[f], total, gp)
        })
        .collect();
    // First feature wins ties: the same choice on any thread count.
    let mut best: Option<Split> = None;
    for s in per_feature.into_iter().flatten() {
        if best.as_ref().is_none_or(|b| s.gain > b.gain) {
            best = Some(s);
        }
    }
    best
}

/// Entries per feature in a histogram: every u8 bin code indexes it without a bounds check.
const HIST_STRIDE: usize = 256;

/// Features summed in one pass over the rows: the row index, gradient and hessian are
/// loaded once for all of them, and their histograms (4 x 6 KB) stay in L1.
const FEATURE_GROUP: usize = 4;

/// Rows ahead whose bin codes are prefetched on gathered passes: a leaf's rows are
/// scattered over the columns, and waiting for each code was half of the fit.
const PREFETCH_AHEAD: usize = 24;

type FeatureHist = [Bin; HIST_STRIDE];

/// A row's gradient and hessian side by side: one load fetches both.
type GradHess = [f64; 2];

#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Sums K features over the rows. Each feature is summed serially in row order, so the
/// histogram is the same whatever the grouping or the thread count.
fn hist_group<const K: usize>(
    cols: [&[u8]; K],
    hists: &mut [&mut FeatureHist; K],
    rows: &[u32],
    gh: &[GradHess],
    identity: bool,
) {
    for hist in hists.iter_mut() {
        hist.fill(Bin::default());
    }
    if identity {
        for (i, &[gi, hi]) in gh.iter().enumerate() {
            for k in 0..K {
                let e = &mut hists[k][cols[k][i] as usize];
                e.g += gi;
                e.h += hi;
                e.c += 1;
            }
        }
    } else {
        for (i, (&r, &[gi, hi])) in rows.iter().zip(gh).enumerate() {
            if let Some(&ahead) = rows.get(i + PREFETCH_AHEAD) {
                for col in &cols {
                    prefetch(col.as_ptr().wrapping_add(ahead as usize));
                }
            }
            let r = r as usize;
            for k in 0..K {
                let e = &mut hists[k][cols[k][r] as usize];
                e.g += gi;
                e.h += hi;
                e.c += 1;
            }
        }
    }
}

/// Histogram of the rows `rows` (gradients/hessians already gathered in row order).
fn build_hist(data: &Data, rows: &[u32], gh: &[GradHess], identity: bool, out: &mut [Bin]) {
    let n = data.n;
    let d = data.fb.len();
    // One task per group of features, each with its columns and histogram slices.
    // As many groups as it takes to hold at most FEATURE_GROUP features each, rounded up
    // to a multiple of the threads, with sizes differing by one at most: 30 features on
    // two threads are 8 groups of 4 or 3, 15 features per thread (groups of 4 left
    // one thread 16 and the other 14).
    let threads = rayon::current_num_threads().max(1);
    let n_groups = d.div_ceil(FEATURE_GROUP).next_multiple_of(threads).min(d);
    let mut tasks: Vec<(usize, &mut [Bin])> = Vec::with_capacity(n_groups);
    let mut rest: &mut [Bin] = &mut out[..d * HIST_STRIDE];
    let mut f0 = 0;
    for g in 0..n_groups {
        let k = d / n_groups + usize::from(g < d % n_groups);
        let (a, b) = rest.split_at_mut(k * HIST_STRIDE);
        tasks.push((f0, a));
        rest = b;
        f0 += k;
    }
    let col = |f: usize| &data.bins[f * n..(f + 1) * n];
    let one = |(f0, slab): (usize, &mut [Bin])| {
        let mut hs: Vec<&mut FeatureHist> =
            slab.chunks_exact_mut(HIST_STRIDE).filter_map(|c| c.try_into().ok()).collect();
        match hs.len() {
            4 => {
                let Ok(mut a) = <[&mut FeatureHist; 4]>::try_from(hs) else { return };
                hist_group([col(f0), col(f0 + 1), col(f0 + 2), col(f0 + 3)], &mut a, rows, gh, identity)
            }
            3 => {
                let Ok(mut a) = <[&mut FeatureHist; 3]>::try_from(hs) else { return };
                hist_group([col(f0), col(f0 + 1), col(f0 + 2)], &mut a, rows, gh, identity)
            }
            2 => {
                let Ok(mut a) = <[&mut FeatureHist; 2]>::try_from(hs) else { return };
                hist_group([col(f0), col(f0 + 1)], &mut a, rows, gh, identity)
            }
            _ => {
                if let Some(h0) = hs.pop() {
                    hist_group([col(f0)], &mut [h0], rows, gh, identity)
                }
            }
        }
    };
    // Small leaves are summed on the calling thread: the same sums (each feature is
    // always summed serially), without a join per leaf.
    if rows.len() * d < PAR_MIN_WORK {
        tasks.into_iter().for_each(one);
    } else {
        tasks.into_par_iter().for_each(one);
    }
}

/// Rows below which a gather or a partition runs on the calling thread.
const PAR_MIN_ROWS: usize = 1 << 15;

/// Histogram work (rows x features) below which one thread does it alone.
const PAR_MIN_WORK: usize = 1 << 18;

/// Stable partition of `rows` by the split; returns the number of rows going left.
fn partition(data: &Data, rows: &mut [u32], split: &Split, scratch: &mut Vec<u32>) -> usize {
    let f = split.feature;
    let col = &data.bins[f * data.n..(f + 1) * data.n];
    let mb = data.fb[f].missing_bin();
    let node = Node {
        categorical: split.categorical,
        cat_left: split.cat_left,
        missing_left: split.missing_left,
        split_bin: split.bin,
        ..Node::leaf(0.0, 0.0, 0, 0)
    };
    // Where each bin code goes, looked up without a branch: which side a row takes is
    // data, and mispredicting it cost more than the lookup.
    let mut goes_left = [0u8; HIST_STRIDE];
    for (b, g) in goes_left.iter_mut().enumerate() {
        *g = node.bin_goes_left(b as u8, mb) as u8;
    }
    // Rows left are written in place (never ahead of the reading position), rows right
    // to `right`; returns how many went left.
    let split_into = |rows: &mut [u32], right: &mut [u32]| -> usize {
        let (mut nl, mut nr) = (0, 0);
        for i in 0..rows.len() {
            if let Some(&ahead) = rows.get(i + PREFETCH_AHEAD) {
                prefetch(col.as_ptr().wrapping_add(ahead as usize));
            }
            let r = rows[i];
            let left = goes_left[col[r as usize] as usize] as usize;
            rows[nl] = r;
            right[nr] = r;
            nl += left;
            nr += 1 - left;
        }
        nl
    };
    if rows.len() < PAR_MIN_ROWS {
        scratch.clear();
        scratch.resize(rows.len(), 0);
        let nl = split_into(rows, scratch);
        let nr = rows.len() - nl;
        rows[nl..].copy_from_slice(&scratch[..nr]);
        return nl;
    }
    // Large nodes: fixed chunks partitioned in parallel, then concatenated in order.
    const CHUNK: usize = 1 << 15;
    scratch.clear();
    scratch.resize(rows.len(), 0);
    let counts: Vec<usize> =
        rows.par_chunks_mut(CHUNK).zip(scratch.par_chunks_mut(CHUNK)).map(|(c, r)| split_into(c, r)).collect();
    // Lefts are at the head of each chunk of `rows` (compacted moving down only), rights
    // at the head of each chunk of `scratch`.
    let mut pos = 0;
    for (k, &nl) in counts.iter().enumerate() {
        let start = k * CHUNK;
        rows.copy_within(start..start + nl, pos);
        pos += nl;
    }
    let n_left = pos;
    for (k, &nl) in counts.iter().enumerate() {
        let start = k * CHUNK;
        let nr = CHUNK.min(rows.len() - start) - nl;
        rows[pos..pos + nr].copy_from_slice(&scratch[start..start + nr]);
        pos += nr;
    }
    n_left
}

/// Grows one tree on the rows `rows` (reordered in place so each leaf owns a range).
/// Returns the tree and, per leaf, its (node, start, end) row range.
#[allow(clippy::too_many_arguments)]
/// Buffers reused from tree to tree (histograms are 30 x 256 entries, 184 KB, for 30
/// features: allocating them afresh for every node cost page faults).
#[derive(Default)]
struct Buffers {
    /// Rows going right during a partition.
    rows: Vec<u32>,
    /// Gradients and hessians of a node's rows, gathered in row order.
    grad_hess: Vec<GradHess>,
    /// Histograms no leaf holds any more.
    hists: Vec<Vec<Bin>>,
}

fn grow_tree(
    data: &Data,
    rows: &mut [u32],
    identity_root: bool,
    grad_hess: &[GradHess],
    weights: Option<&[f64]>,
    gp: &GrowParams,
    buffers: &mut Buffers,
) -> (Tree, Vec<(usize, usize, usize)>) {
    let Buffers { rows: scratch, grad_hess: gh_buf, hists: spare_hists } = buffers;
    let cover_of = |rows: &[u32]| -> f64 {
        match weights {
            Some(w) => rows.iter().map(|&r| w[r as usize]).sum(),
            None => rows.len() as f64,
        }
    };
    // Every entry of a histogram is written by build_hist: a spare one needs no zeroing.
    let hist_for = |rows: &[u32], identity: bool, gh_buf: &mut Vec<GradHess>, spare: &mut Vec<Vec<Bin>>| -> Vec<Bin> {
        let mut hist = spare.pop().filter(|h| h.len() == data.hist_len).unwrap_or_else(|| vec![Bin::default(); data.hist_len]);
        if identity {
            build_hist(data, rows, grad_hess, true, &mut hist);
        } else {
            // Gathered once in row order, then read sequentially by every feature group.
            if rows.len() >= PAR_MIN_ROWS {
                rows.par_iter().map(|&r| grad_hess[r as usize]).collect_into_vec(gh_buf);
            } else {
                gh_buf.clear();
                gh_buf.extend(rows.iter().enumerate().map(|(i, &r)| {
                    if let Some(&ahead) = rows.get(i + PREFETCH_AHEAD) {
                        prefetch(grad_hess.as_ptr().wrapping_add(ahead as usize) as *const u8);
                    }
                    grad_hess[r as usize]
                }));
            }
            build_hist(data, rows, gh_buf, false, &mut hist);
        }
        hist
    };
    let leaf_value = |s: &Sums| -gp.learning_rate * s.g / (s.h + gp.lambda);
    let splittable =
        |count: u32, depth: usize| count >= 2 * gp.min_samples_leaf && gp.max_depth.is_none_or(|m| depth < m);

    let root_hist = hist_for(&rows[..], identity_root, gh_buf, spare_hists);
    let root_sums = Sums::of(&root_hist[0..data.fb[0].n_bins + 1]);
    let mut nodes = vec![Node::leaf(leaf_value(&root_sums), cover_of(&rows[..]), root_sums.c, 0)];
    let root_split = if splittable(root_sums.c, 0) { best_split(data, &root_hist, &root_sums, gp) } else { None };
    let mut leaves =
        vec![Leaf { node: 0, start: 0, end: rows.len(), depth: 0, hist: Some(root_hist), split: root_split }];
    let mut n_leaves = 1;
    while n_leaves < gp.max_leaf_nodes {
        // An interrupted fit stops growing; `fit` then returns the interrupt.
        if crate::interrupt::requested() {
            break;
        }
        // Best gain first; the earlier leaf wins ties.
        let mut pick: Option<usize> = None;
        for (i, lf) in leaves.iter().enumerate() {
            if let Some(s) = &lf.split {
                if pick.is_none_or(|p| s.gain > leaves[p].split.as_ref().map_or(f64::MIN, |b| b.gain)) {
                    pick = Some(i);
                }
            }
        }
        let Some(pi) = pick else { break };
        let parent = leaves.swap_remove(pi);
        let Some(split) = parent.split else { break };
        let nl = partition(data, &mut rows[parent.start..parent.end], &split, scratch);
        let (ls, le, rs, re) = (parent.start, parent.start + nl, parent.start + nl, parent.end);
        n_leaves += 1;
        let depth = parent.depth + 1;
        let (li, ri) = (nodes.len(), nodes.len() + 1);
        nodes.push(Node::leaf(leaf_value(&split.left), cover_of(&rows[ls..le]), split.left.c, depth as u32));
        nodes.push(Node::leaf(leaf_value(&split.right), cover_of(&rows[rs..re]), split.right.c, depth as u32));
        {
            let fb = &data.fb[split.feature];
            let p = &mut nodes[parent.node];
            p.is_leaf = false;
            p.feature = split.feature as u32;
            p.split_bin = split.bin;
            p.categorical = split.categorical;
            p.missing_left = split.missing_left;
            p.gain = split.gain;
            p.left = li as u32;
            p.right = ri as u32;
            if split.categorical {
                let mut bits = split.cat_left;
                let mb = fb.n_bins;
                bits[mb >> 6] &= !(1u64 << (mb & 63));
                p.cat_left = bits;
            } else {
                p.threshold = fb.thresholds.get(split.bin as usize).copied().unwrap_or(f64::INFINITY);
            }
            // No missing value reached this node in training: send them where most rows went.
            let miss_here = {
                let h = parent.hist.as_ref().map(|h| h[data.offsets[split.feature] + fb.n_bins].c).unwrap_or(0);
                h > 0
            };
            if !miss_here {
                p.missing_left = split.left.c >= split.right.c;
            }
        }
        let can_l = n_leaves < gp.max_leaf_nodes && splittable(split.left.c, depth);
        let can_r = n_leaves < gp.max_leaf_nodes && splittable(split.right.c, depth);
        let (mut hl, mut hr) = (None, None);
        if can_l || can_r {
            let parent_hist = parent.hist.unwrap_or_default();
            let left_small = nl <= re - rs;
            let (ss, se) = if left_small { (ls, le) } else { (rs, re) };
            let small = hist_for(&rows[ss..se], false, gh_buf, spare_hists);
            let mut large = parent_hist;
            for (a, b) in large.iter_mut().zip(small.iter()) {
                a.g -= b.g;
                a.h -= b.h;
                a.c -= b.c;
            }
            if left_small {
                (hl, hr) = (Some(small), Some(large));
            } else {
                (hl, hr) = (Some(large), Some(small));
            }
        } else {
            spare_hists.extend(parent.hist);
        }
        let split_l = if can_l { hl.as_ref().and_then(|h| best_split(data, h, &split.left, gp)) } else { None };
        let split_r = if can_r { hr.as_ref().and_then(|h| best_split(data, h, &split.right, gp)) } else { None };
        // A leaf that will not be split needs its histogram no more.
        if split_l.is_none() {
            spare_hists.extend(hl.take());
        }
        if split_r.is_none() {
            spare_hists.extend(hr.take());
        }
        leaves.push(Leaf { node: li, start: ls, end: le, depth, hist: hl, split: split_l });
        leaves.push(Leaf { node: ri, start: rs, end: re, depth, hist: hr, split: split_r });
    }
    let mut ranges: Vec<(usize, usize, usize)> = leaves.iter().map(|l| (l.node, l.start, l.end)).collect();
    ranges.sort_unstable();
    spare_hists.extend(leaves.into_iter().filter_map(|l| l.hist));
    (Tree { nodes }, ranges)
}

/// Adds each leaf's value to the raw score of the rows it holds (`ranges` index `rows`).
fn add_leaf_values(raw: &mut [f64], rows: &[u32], ranges: &[(usize, usize, usize)], tree: &Tree) {
    if rows.len() < PAR_MIN_ROWS {
        for &(node, s, e) in ranges {
            let v = tree.nodes[node].value;
            for &r in &rows[s..e] {
                raw[r as usize] += v;
            }
        }
        return;
    }
    // The leaves' row ranges are disjoint and `rows` holds distinct indices, so the
    // leaves can write their rows' scores concurrently.
    struct Scores(*mut f64, usize);
    // SAFETY: shared across threads only inside this function, where no two writers
    // touch the same index (see above) and `raw` outlives every writer.
    unsafe impl Sync for Scores {}
    impl Scores {
        fn add(&self, r: usize, v: f64) {
            if r < self.1 {
                // SAFETY: in bounds (checked) and written by one leaf alone.
                unsafe { *self.0.add(r) += v }
            }
        }
    }
    let scores = Scores(raw.as_mut_ptr(), raw.len());
    ranges.par_iter().for_each(|&(node, s, e)| {
        let v = tree.nodes[node].value;
        for &r in &rows[s..e] {
            scores.add(r as usize, v);
        }
    });
}

/// Splits the rows into training and validation sets (stratified for log loss).
fn train_validation_split(y: &[f64], frac: f64, stratify: bool, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let n = y.len();
    let mut rng = Rng::new(seed, 0x5A11);
    let groups: Vec<Vec<u32>> = if stratify {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (i, &v) in y.iter().enumerate() {
            if v == 1.0 {
                b.push(i as u32)
            } else {
                a.push(i as u32)
            }
        }
        vec![a, b]
    } else {
        vec![(0..n as u32).collect()]
    };
    let mut is_valid = vec![false; n];
    for mut g in groups {
        for i in (1..g.len()).rev() {
            // A shuffle of 10M rows takes a good part of a second: stop early when
            // interrupted (the caller checks the flag; the split is then discarded).
            if i % (1 << 20) == 0 && crate::interrupt::requested() {
                return (Vec::new(), Vec::new());
            }
            let j = rng.below(i + 1);
            g.swap(i, j);
        }
        let nv = ((g.len() as f64) * frac).round() as usize;
        for &r in &g[..nv] {
            is_valid[r as usize] = true;
        }
    }
    // Both sides in row order, by one scan rather than two sorts.
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (i, &v) in is_valid.iter().enumerate() {
        if v {
            valid.push(i as u32);
        } else {
            train.push(i as u32);
        }
    }
    (train, valid)
}

fn mean_loss(loss: &Loss, y: &[f64], w: Option<&[f64]>, raw: &[f64], rows: &[u32]) -> f64 {
    let num = ordered_sum(rows.len(), |i| {
        let r = rows[i] as usize;
        w.map_or(1.0, |w| w[r]) * loss.value(y[r], raw[r])
    });
    let den = match w {
        Some(w) => ordered_sum(rows.len(), |i| w[rows[i] as usize]),
        None => rows.len() as f64,
    };
    num / den
}

/// scikit-learn's rule: stop when none of the last `n_iter_no_change` scores beat the
/// score before them by more than `tol`.
fn should_stop(scores: &[f64], n_iter_no_change: usize, tol: f64) -> bool {
    let reference = n_iter_no_change + 1;
    if scores.len() < reference {
        return false;
    }
    let ref_score = scores[scores.len() - reference] + tol;
    !scores[scores.len() - reference + 1..].iter().any(|&s| s > ref_score)
}

/// Fits a boosted ensemble. `categorical[j]` marks features holding integer codes.
pub fn fit(
    x: &Matrix,
    y: &[f64],
    sample_weight: Option<&[f64]>,
    categorical: &[bool],
    params: &Params,
) -> Result<Model> {
    // The whole fit runs on a worker of the thread pool: its hundreds of parallel steps
    // per tree are then picked up by the other workers directly, where a call from
    // outside the pool queues each step and sleeps until it is done.
    rayon::scope(|_| fit_in_pool(x, y, sample_weight, categorical, params))
}

fn fit_in_pool(
    x: &Matrix,
    y: &[f64],
    sample_weight: Option<&[f64]>,
    categorical: &[bool],
    params: &Params,
) -> Result<Model> {
    params.check()?;
    let n = x.n_rows();
    let d = x.n_cols();
    if n == 0 || d == 0 {
        return Err(CrmError::invalid(format!("X must have at least one row and one column, found {n} x {d}")));
    }
    if y.len() != n {
        return Err(CrmError::invalid(format!("y has {} values but X has {n} rows", y.len())));
    }
    params.loss.validate(y)?;
    if let Some(w) = sample_weight {
        if w.len() != n {
            return Err(CrmError::invalid(format!("sample_weight has {} values but X has {n} rows", w.len())));
        }
        if let Some((i, v)) = w.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
            return Err(CrmError::invalid(format!("sample_weight must be finite and >= 0, row {i} holds {v}")));
        }
        if w.iter().all(|&v| v == 0.0) {
            return Err(CrmError::invalid("sample_weight: every weight is zero"));
        }
    }
    let (train, valid) = match (params.early_stopping, params.validation_fraction) {
        (true, Some(frac)) => {
            let (t, v) = train_validation_split(y, frac, params.loss == Loss::LogLoss, params.seed);
            crate::interrupt::check()?;
            if t.is_empty() || v.is_empty() {
                return Err(CrmError::invalid(format!(
                    "validation_fraction={frac} leaves an empty training or validation set for {n} rows"
                )));
            }
            (t, v)
        }
        _ => ((0..n as u32).collect::<Vec<u32>>(), Vec::new()),
    };
    let identity = valid.is_empty();
    let fb = fit_bins(x, &train, categorical, params.max_bins, params.seed)?;
    crate::interrupt::check()?;
    let bins = bin_matrix(x, &fb);
    // bin_matrix leaves blocks unbinned once interrupted: never grow on them.
    crate::interrupt::check()?;
    let mut offsets = Vec::with_capacity(d);
    let mut acc = 0;
    for _ in &fb {
        offsets.push(acc);
        acc += HIST_STRIDE;
    }
    let data = Data { bins: &bins, n, fb: &fb, offsets, hist_len: acc };
    let gp = GrowParams {
        max_leaf_nodes: params.max_leaf_nodes,
        max_depth: params.max_depth,
        min_samples_leaf: params.min_samples_leaf.min(u32::MAX as usize) as u32,
        lambda: params.l2_regularization,
        learning_rate: params.learning_rate,
    };
    let loss = params.loss;
    let w = sample_weight;
    let baseline = loss.baseline(y, w, &train);
    let mut raw = vec![baseline; n];
    let mut grad_hess: Vec<GradHess> = vec![[0.0; 2]; n];
    let mut rows = train.clone();
    let mut buffers = Buffers::default();
    let mut trees = Vec::new();
    let mut feature_gain = vec![0.0; d];
    let (mut train_score, mut validation_score) = (Vec::new(), Vec::new());
    if params.early_stopping {
        train_score.push(-mean_loss(&loss, y, w, &raw, &train));
        if !identity {
            validation_score.push(-mean_loss(&loss, y, w, &raw, &valid));
        }
    }
    const BLOCK: usize = 8192;
    for _ in 0..params.max_iter {
        crate::interrupt::check()?;
        grad_hess.par_chunks_mut(BLOCK).enumerate().for_each(|(b, chunk)| {
            let s = b * BLOCK;
            for (i, e) in chunk.iter_mut().enumerate() {
                let r = s + i;
                let (g, h) = loss.grad_hess(y[r], raw[r]);
                let wi = w.map_or(1.0, |w| w[r]);
                *e = [g * wi, h * wi];
            }
        });
        if identity {
            // Rows stay in identity order for the root pass of every tree.
            for (i, r) in rows.iter_mut().enumerate() {
                *r = i as u32;
            }
        }
        let (tree, ranges) = grow_tree(&data, &mut rows, identity, &grad_hess, w, &gp, &mut buffers);
        // A tree cut short by an interrupt is discarded with the fit.
        crate::interrupt::check()?;
        for nd in &tree.nodes {
            if !nd.is_leaf {
                feature_gain[nd.feature as usize] += nd.gain;
            }
        }
        add_leaf_values(&mut raw, &rows, &ranges, &tree);
        if !valid.is_empty() {
            let tr = &tree;
            let upd: Vec<f64> = valid.par_iter().map(|&r| tr.predict_binned(&bins, n, r as usize, &fb)).collect();
            for (&r, u) in valid.iter().zip(upd) {
                raw[r as usize] += u;
            }
        }
        let single_leaf = tree.nodes.len() == 1;
        trees.push(tree);
        if params.early_stopping {
            train_score.push(-mean_loss(&loss, y, w, &raw, &train));
            let stop = if identity {
                should_stop(&train_score, params.n_iter_no_change, params.tol)
            } else {
                validation_score.push(-mean_loss(&loss, y, w, &raw, &valid));
                should_stop(&validation_score, params.n_iter_no_change, params.tol)
            };
            if stop {
                break;
            }
        }
        // A tree without any split cannot change: later trees would be the same.
        if single_leaf {
            break;
        }
    }
    Ok(Model {
        version: MODEL_VERSION,
        loss,
        baseline,
        n_features: d,
        bins: fb,
        trees,
        feature_gain,
        train_score,
        validation_score,
    })
}

impl Model {
    pub fn n_iter(&self) -> usize {
        self.trees.len()
    }

    fn check_x(&self, x: &Matrix) -> Result<()> {
        if x.n_cols() != self.n_features {
            return Err(CrmError::invalid(format!(
                "X has {} features but the model was fitted on {}",
                x.n_cols(),
                self.n_features
            )));
        }
        Ok(())
    }

    /// Raw scores using trees `start..end`, plus the baseline when `start == 0`.
    pub fn predict_raw_range(&self, x: &Matrix, start: usize, end: usize) -> Result<Vec<f64>> {
        self.check_x(x)?;
        let end = end.min(self.trees.len());
        let base = if start == 0 { self.baseline } else { 0.0 };
        let mut out = vec![base; x.n_rows()];
        const BLOCK: usize = 2048;
        let trees = &self.trees[start.min(end)..end];
        let flat: Vec<FlatTree> = trees.iter().map(FlatTree::new).collect();
        out.par_chunks_mut(BLOCK).enumerate().for_each(|(b, chunk)| {
            for t in &flat {
                t.add_to(x, b * BLOCK, chunk);
            }
        });
        Ok(out)
    }

    pub fn predict_raw(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.predict_raw_range(x, 0, self.trees.len())
    }

    /// Feature importances: total split gain per feature, normalised to sum to 1.
    pub fn feature_importances(&self) -> Vec<f64> {
        let total: f64 = self.feature_gain.iter().sum();
        if total > 0.0 {
            self.feature_gain.iter().map(|g| g / total).collect()
        } else {
            vec![0.0; self.n_features]
        }
    }

    /// Checks a model read from a file before it is used.
    pub fn validate(&self) -> Result<()> {
        if self.version != MODEL_VERSION {
            return Err(CrmError::invalid(format!(
                "model file version {} is not supported by this crmkit (expects {MODEL_VERSION})",
                self.version
            )));
        }
        if self.bins.len() != self.n_features || self.feature_gain.len() != self.n_features {
            return Err(CrmError::invalid("model file: per-feature arrays do not match n_features"));
        }
        for (i, t) in self.trees.iter().enumerate() {
            t.check(self.n_features).map_err(|m| CrmError::invalid(format!("model file: tree {i}: {m}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn params(loss: Loss) -> Params {
        Params {
            loss,
            learning_rate: 0.1,
            max_iter: 50,
            max_leaf_nodes: 31,
            max_depth: None,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: false,
            validation_fraction: Some(0.1),
            n_iter_no_change: 10,
            tol: 1e-7,
            seed: 0,
        }
    }

    fn toy(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = Rng::new(seed, 1);
        let mut cols = vec![Vec::with_capacity(n); 4];
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let a = rng.normal();
            let b = rng.normal();
            let c = rng.below(5) as f64;
            let m = if rng.uniform() < 0.1 { f64::NAN } else { rng.normal() };
            let logit =
                1.5 * a - b * b + if c == 2.0 || c == 4.0 { 1.0 } else { -0.5 } + if m.is_nan() { 1.0 } else { 0.0 };
            y.push(if rng.uniform() < 1.0 / (1.0 + (-logit).exp()) { 1.0 } else { 0.0 });
            cols[0].push(a);
            cols[1].push(b);
            cols[2].push(c);
            cols[3].push(m);
        }
        (cols, y)
    }

    #[test]
    fn fits_and_predicts_consistently() {
        let (cols, y) = toy(5000, 3);
        let x = Matrix::from_columns(&cols).unwrap();
        let m = fit(&x, &y, None, &[false, false, true, false], &params(Loss::LogLoss)).unwrap();
        assert_eq!(m.n_iter(), 50);
        assert!(m.trees.iter().all(|t| t.n_leaves() <= 31));
        let raw = m.predict_raw(&x).unwrap();
        // Training log loss clearly below the baseline's.
        let rows: Vec<u32> = (0..5000).collect();
        let l = mean_loss(&Loss::LogLoss, &y, None, &raw, &rows);
        let l0 = mean_loss(&Loss::LogLoss, &y, None, &vec![m.baseline; 5000], &rows);
        assert!(l < 0.8 * l0, "{l} vs {l0}");
        // Raw-value and binned traversal agree on the training rows.
        let bins = bin_matrix(&x, &m.bins);
        for r in 0..200 {
            let a: f64 = m.trees.iter().map(|t| t.predict_row(&x, r)).sum();
            let b: f64 = m.trees.iter().map(|t| t.predict_binned(&bins, 5000, r, &m.bins)).sum();
            assert!((a - b).abs() < 1e-12);
        }
        // The categorical feature is used with a set split.
        assert!(m.trees.iter().flat_map(|t| &t.nodes).any(|n| !n.is_leaf && n.categorical));
        let imp = m.feature_importances();
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn same_model_on_any_thread_count() {
        let (cols, y) = toy(3000, 4);
        let x = Matrix::from_columns(&cols).unwrap();
        let mut p = params(Loss::LogLoss);
        p.early_stopping = true;
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let a = one.install(|| fit(&x, &y, None, &[false, false, true, false], &p).unwrap());
        let b = three.install(|| fit(&x, &y, None, &[false, false, true, false], &p).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn leaf_limits_hold() {
        let (cols, y) = toy(2000, 5);
        let x = Matrix::from_columns(&cols).unwrap();
        let mut p = params(Loss::SquaredError);
        p.max_depth = Some(2);
        p.min_samples_leaf = 50;
        let m = fit(&x, &y, None, &[false; 4], &p).unwrap();
        for t in &m.trees {
            assert!(t.max_depth() <= 2);
            assert!(t.nodes.iter().filter(|n| n.is_leaf).all(|n| n.count >= 50));
        }
    }

    #[test]
    fn early_stopping_rule() {
        assert!(!should_stop(&[1.0, 2.0, 3.0], 2, 0.0));
        assert!(should_stop(&[1.0, 3.0, 3.0, 2.0], 2, 0.0));
        assert!(!should_stop(&[1.0, 3.0, 3.0, 3.5], 2, 0.0));
    }
}
