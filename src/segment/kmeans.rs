//! k-means clustering (Lloyd's algorithm with k-means++ seeding), following
//! scikit-learn's `KMeans` semantics: greedy k-means++ with `2 + ln(k)` local
//! trials, tolerance relative to the mean feature variance, convergence on
//! unchanged labels or on a small centre shift, relocation of empty clusters to
//! the points farthest from their centres, and a final assignment step so that
//! `labels` and `inertia` agree with the returned centres.
//!
//! Work is split into fixed-size row chunks processed with rayon; partial sums
//! are combined in chunk order, so a fit is bit-for-bit identical for a seed
//! whatever the number of threads.

use rayon::prelude::*;

use crate::error::{CrmError, Result};
use crate::rng::Rng;

/// Rows per parallel work unit. Fixed, so that summation order (and therefore
/// every floating-point result) does not depend on the thread count.
pub const CHUNK: usize = 4096;

#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    KMeansPlusPlus,
    Random,
    /// Explicit initial centres, row-major `k * d`.
    Centers(Vec<f64>),
}

#[derive(Clone, Debug)]
pub struct Params {
    pub n_clusters: usize,
    pub init: Init,
    pub n_init: usize,
    pub max_iter: usize,
    /// Relative tolerance, as in scikit-learn: multiplied by the mean feature variance.
    pub tol: f64,
    pub seed: u64,
    /// Use Hamerly's bounds to skip distance computations (same result).
    pub bounded: bool,
}

#[derive(Clone, Debug)]
pub struct Fit {
    /// Row-major `k * d`.
    pub centers: Vec<f64>,
    pub labels: Vec<u32>,
    pub inertia: f64,
    pub n_iter: usize,
}

/// A row-major matrix view with optional per-row weights.
#[derive(Clone, Copy)]
pub struct Data<'a> {
    pub x: &'a [f64],
    pub n: usize,
    pub d: usize,
    pub w: Option<&'a [f64]>,
}

impl<'a> Data<'a> {
    pub fn new(x: &'a [f64], n: usize, d: usize, w: Option<&'a [f64]>) -> Result<Self> {
        if d == 0 {
            return Err(CrmError::invalid("k-means: X has no feature columns"));
        }
        if n == 0 {
            return Err(CrmError::invalid("k-means: X has no rows"));
        }
        if x.len() != n * d {
            return Err(CrmError::invalid(format!(
                "k-means: X holds {} values, expected {n} rows x {d} columns",
                x.len()
            )));
        }
        let bad = x.par_iter().position_first(|v| !v.is_finite());
        if let Some(pos) = bad {
            return Err(CrmError::invalid(format!(
                "k-means: X holds a non-finite value (NaN or infinity) at row {}, column {}; \
                 drop or impute it first",
                pos / d,
                pos % d
            )));
        }
        if let Some(w) = w {
            if w.len() != n {
                return Err(CrmError::invalid(format!(
                    "k-means: sample_weight has {} values, expected one per row ({n})",
                    w.len()
                )));
            }
            if let Some(pos) = w.iter().position(|v| !v.is_finite() || *v < 0.0) {
                return Err(CrmError::invalid(format!(
                    "k-means: sample_weight must be finite and >= 0, found {} at row {pos}",
                    w[pos]
                )));
            }
            if w.iter().sum::<f64>() <= 0.0 {
                return Err(CrmError::invalid("k-means: sample_weight sums to zero"));
            }
        }
        Ok(Data { x, n, d, w })
    }

    #[inline]
    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    #[inline]
    fn weight(&self, i: usize) -> f64 {
        match self.w {
            Some(w) => w[i],
            None => 1.0,
        }
    }
}

#[inline]
pub fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

#[inline]
fn nearest(p: &[f64], centers: &[f64], d: usize) -> (u32, f64) {
    let mut best = 0u32;
    let mut best_d = f64::INFINITY;
    for (j, c) in centers.chunks_exact(d).enumerate() {
        let dist = sq_dist(p, c);
        if dist < best_d {
            best_d = dist;
            best = j as u32;
        }
    }
    (best, best_d)
}

/// Mean over features of the per-feature variance (unweighted, as scikit-learn).
fn mean_variance(data: &Data) -> f64 {
    let d = data.d;
    let sums = chunked_sum(data, d, |row, acc| {
        for (a, v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    });
    let means: Vec<f64> = sums.iter().map(|s| s / data.n as f64).collect();
    let sq = chunked_sum(data, d, |row, acc| {
        for ((a, v), m) in acc.iter_mut().zip(row).zip(&means) {
            *a += (v - m) * (v - m);
        }
    });
    sq.iter().map(|s| s / data.n as f64).sum::<f64>() / d as f64
}

/// Sums a per-row contribution into a vector of length `len`, chunk by chunk,
/// combining chunk results in order (deterministic whatever the thread count).
fn chunked_sum<F>(data: &Data, len: usize, f: F) -> Vec<f64>
where
    F: Fn(&[f64], &mut [f64]) + Sync,
{
    let parts: Vec<Vec<f64>> = data
        .x
        .par_chunks(CHUNK * data.d)
        .map(|xs| {
            let mut acc = vec![0.0; len];
            for row in xs.chunks_exact(data.d) {
                f(row, &mut acc);
            }
            acc
        })
        .collect();
    let mut total = vec![0.0; len];
    for p in parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// Squared distance from every row to one centre, combined with a running minimum;
/// returns the new minima and their weighted sum (the k-means++ "potential").
fn min_with_center(data: &Data, closest: &[f64], center: &[f64]) -> (Vec<f64>, f64) {
    let d = data.d;
    let mut out = vec![0.0; data.n];
    let parts: Vec<f64> = out
        .par_chunks_mut(CHUNK)
        .zip(data.x.par_chunks(CHUNK * d))
        .zip(closest.par_chunks(CHUNK))
        .enumerate()
        .map(|(ci, ((o, xs), cl))| {
            let mut pot = 0.0;
            for (i, (row, (oi, c))) in xs.chunks_exact(d).zip(o.iter_mut().zip(cl)).enumerate() {
                let v = sq_dist(row, center).min(*c);
                *oi = v;
                pot += v * data.weight(ci * CHUNK + i);
            }
            pot
        })
        .collect();
    (out, parts.iter().sum())
}

/// Greedy k-means++ (Arthur & Vassilvitskii 2007 with `2 + ln k` local trials per
/// centre, the variant scikit-learn uses).
pub fn kmeans_plus_plus(data: &Data, k: usize, rng: &mut Rng) -> Vec<f64> {
    let d = data.d;
    let n = data.n;
    let mut centers = Vec::with_capacity(k * d);
    let n_local_trials = 2 + (k as f64).ln() as usize;

    let first = match data.w {
        None => rng.below(n),
        Some(w) => {
            let total: f64 = w.iter().sum();
            let target = rng.uniform() * total;
            let mut acc = 0.0;
            let mut pick = n - 1;
            for (i, wi) in w.iter().enumerate() {
                acc += wi;
                if acc > target {
                    pick = i;
                    break;
                }
            }
            pick
        }
    };
    centers.extend_from_slice(data.row(first));
    let infinite = vec![f64::INFINITY; n];
    let (mut closest, mut pot) = min_with_center(data, &infinite, data.row(first));

    let mut cumsum = vec![0.0; n];
    for _ in 1..k {
        // Fewer than k centres: `fit` checks the interrupt before using them.
        if crate::interrupt::requested() {
            break;
        }
        let mut acc = 0.0;
        for (i, (c, v)) in cumsum.iter_mut().zip(&closest).enumerate() {
            acc += v * data.weight(i);
            *c = acc;
        }
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..n_local_trials {
            let target = rng.uniform() * pot;
            // First index whose cumulative sum reaches the target (numpy searchsorted, left).
            let cand = cumsum.partition_point(|&c| c < target).min(n - 1);
            let (dists, cand_pot) = min_with_center(data, &closest, data.row(cand));
            let better = match &best {
                None => true,
                Some((bp, _, _)) => cand_pot < *bp,
            };
            if better {
                best = Some((cand_pot, cand, dists));
            }
        }
        // n_local_trials >= 2, so `best` is always set here.
        if let Some((bp, cand, dists)) = best {
            pot = bp;
            closest = dists;
            centers.extend_from_slice(data.row(cand));
        }
    }
    centers
}

/// k distinct rows chosen uniformly at random (scikit-learn's init="random").
pub fn random_init(data: &Data, k: usize, rng: &mut Rng) -> Vec<f64> {
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    let mut pool: Vec<usize> = Vec::new();
    if k * 4 > data.n {
        // Partial Fisher-Yates on the whole index range.
        pool = (0..data.n).collect();
        for i in 0..k {
            let j = i + rng.below(data.n - i);
            pool.swap(i, j);
        }
        chosen.extend_from_slice(&pool[..k]);
    } else {
        while chosen.len() < k {
            let c = rng.below(data.n);
            if !chosen.contains(&c) {
                chosen.push(c);
            }
        }
    }
    drop(pool);
    let mut centers = Vec::with_capacity(k * data.d);
    for c in chosen {
        centers.extend_from_slice(data.row(c));
    }
    centers
}

struct StepResult {
    sums: Vec<f64>,
    weights: Vec<f64>,
    inertia: f64,
    changed: usize,
}

/// One assignment step: labels each row with its nearest centre and accumulates the
/// weighted sums for the update step.
fn assign(data: &Data, centers: &[f64], k: usize, labels: &mut [u32]) -> StepResult {
    let d = data.d;
    let parts: Vec<StepResult> = labels
        .par_chunks_mut(CHUNK)
        .zip(data.x.par_chunks(CHUNK * d))
        .enumerate()
        .map(|(ci, (lab, xs))| {
            let mut sums = vec![0.0; k * d];
            let mut weights = vec![0.0; k];
            let mut inertia = 0.0;
            let mut changed = 0;
            for (i, (row, l)) in xs.chunks_exact(d).zip(lab.iter_mut()).enumerate() {
                let (j, dist) = nearest(row, centers, d);
                let w = data.weight(ci * CHUNK + i);
                if *l != j {
                    changed += 1;
                    *l = j;
                }
                let ju = j as usize;
                weights[ju] += w;
                inertia += w * dist;
                for (s, v) in sums[ju * d..(ju + 1) * d].iter_mut().zip(row) {
                    *s += w * v;
                }
            }
            StepResult { sums, weights, inertia, changed }
        })
        .collect();
    sum_parts(parts, k, d)
}

/// Moves each empty cluster onto one of the rows farthest from their centre (ties:
/// lowest row index), taking that row's weight out of its current cluster.
fn relocate_empty(data: &Data, centers: &[f64], labels: &[u32], step: &mut StepResult) {
    let d = data.d;
    let empty: Vec<usize> = (0..step.weights.len()).filter(|&j| step.weights[j] == 0.0).collect();
    if empty.is_empty() {
        return;
    }
    let mut far: Vec<(f64, usize)> = (0..data.n)
        .into_par_iter()
        .map(|i| {
            let l = labels[i] as usize;
            (sq_dist(data.row(i), &centers[l * d..(l + 1) * d]), i)
        })
        .collect();
    let order = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    let m = empty.len().min(far.len());
    if m < far.len() {
        far.select_nth_unstable_by(m, order);
        far.truncate(m);
    }
    far.sort_by(order);
    for (&new_c, &(_, i)) in empty.iter().zip(&far) {
        let w = data.weight(i);
        let old = labels[i] as usize;
        let row = data.row(i);
        for t in 0..d {
            step.sums[old * d + t] -= w * row[t];
            step.sums[new_c * d + t] = w * row[t];
        }
        step.weights[old] -= w;
        step.weights[new_c] = w;
    }
}

/// Per-row distance bounds for Hamerly's acceleration: `upper` bounds the distance to
/// the assigned centre from above, `lower` the distance to every other centre from below.
struct Bounds {
    upper: Vec<f64>,
    lower: Vec<f64>,
}

/// How far each centre moved in the last update, for the bound updates.
struct Moves {
    shift: Vec<f64>,
    max: f64,
    argmax: usize,
    second: f64,
}

impl Moves {
    fn none(k: usize) -> Self {
        Moves { shift: vec![0.0; k], max: 0.0, argmax: 0, second: 0.0 }
    }

    fn between(old: &[f64], new: &[f64], d: usize) -> Self {
        let shift: Vec<f64> = old.chunks_exact(d).zip(new.chunks_exact(d)).map(|(a, b)| sq_dist(a, b).sqrt()).collect();
        let (mut max, mut argmax, mut second) = (0.0f64, 0usize, 0.0f64);
        for (j, &p) in shift.iter().enumerate() {
            if p > max {
                second = max;
                max = p;
                argmax = j;
            } else if p > second {
                second = p;
            }
        }
        Moves { shift, max, argmax, second }
    }
}

/// Half the distance from each centre to its nearest other centre.
fn half_separation(centers: &[f64], k: usize, d: usize) -> Vec<f64> {
    (0..k)
        .map(|j| {
            let cj = &centers[j * d..(j + 1) * d];
            (0..k)
                .filter(|&o| o != j)
                .map(|o| sq_dist(cj, &centers[o * d..(o + 1) * d]).sqrt())
                .fold(f64::INFINITY, f64::min)
                * 0.5
        })
        .collect()
}

/// The assignment step with Hamerly's bounds (Hamerly 2010): a row whose bounds show
/// that no other centre can be closer keeps its label without computing k distances.
/// Gives the same labels as `assign` (up to exact distance ties).
fn assign_bounded(
    data: &Data,
    centers: &[f64],
    k: usize,
    labels: &mut [u32],
    bounds: &mut Bounds,
    moves: &Moves,
    force_full: bool,
) -> StepResult {
    let d = data.d;
    let sep = half_separation(centers, k, d);
    let parts: Vec<StepResult> = labels
        .par_chunks_mut(CHUNK)
        .zip(bounds.upper.par_chunks_mut(CHUNK))
        .zip(bounds.lower.par_chunks_mut(CHUNK))
        .zip(data.x.par_chunks(CHUNK * d))
        .enumerate()
        .map(|(ci, (((lab, up), lo), xs))| {
            let mut sums = vec![0.0; k * d];
            let mut weights = vec![0.0; k];
            let mut changed = 0;
            for (i, row) in xs.chunks_exact(d).enumerate() {
                let old = lab[i];
                let mut full = force_full || old == u32::MAX;
                if !full {
                    let a = old as usize;
                    up[i] += moves.shift[a];
                    lo[i] -= if a == moves.argmax { moves.second } else { moves.max };
                    let m = sep[a].max(lo[i]);
                    if up[i] > m {
                        up[i] = sq_dist(row, &centers[a * d..(a + 1) * d]).sqrt();
                        if up[i] > m {
                            full = true;
                        }
                    }
                }
                if full {
                    let (mut best, mut best_d, mut second_d) = (0u32, f64::INFINITY, f64::INFINITY);
                    for (j, c) in centers.chunks_exact(d).enumerate() {
                        let dist = sq_dist(row, c);
                        if dist < best_d {
                            second_d = best_d;
                            best_d = dist;
                            best = j as u32;
                        } else if dist < second_d {
                            second_d = dist;
                        }
                    }
                    if best != old {
                        changed += 1;
                        lab[i] = best;
                    }
                    up[i] = best_d.sqrt();
                    lo[i] = second_d.sqrt();
                }
                let j = lab[i] as usize;
                let w = data.weight(ci * CHUNK + i);
                weights[j] += w;
                for (s, v) in sums[j * d..(j + 1) * d].iter_mut().zip(row) {
                    *s += w * v;
                }
            }
            StepResult { sums, weights, inertia: 0.0, changed }
        })
        .collect();
    sum_parts(parts, k, d)
}

/// Adds the per-chunk partial results in chunk order, so totals do not depend on
/// which thread finished first.
fn sum_parts(parts: Vec<StepResult>, k: usize, d: usize) -> StepResult {
    let mut total = StepResult { sums: vec![0.0; k * d], weights: vec![0.0; k], inertia: 0.0, changed: 0 };
    for p in parts {
        for (t, v) in total.sums.iter_mut().zip(&p.sums) {
            *t += v;
        }
        for (t, v) in total.weights.iter_mut().zip(&p.weights) {
            *t += v;
        }
        total.inertia += p.inertia;
        total.changed += p.changed;
    }
    total
}

/// One k-means run from the given initial centres: Lloyd's iterations, with
/// Hamerly's bounds when `bounded` (same iterates, fewer distance computations).
pub fn lloyd(data: &Data, init: Vec<f64>, k: usize, max_iter: usize, tol_abs: f64, bounded: bool) -> Fit {
    let d = data.d;
    let mut centers = init;
    let mut labels = vec![u32::MAX; data.n];
    let mut bounds =
        if bounded { Some(Bounds { upper: vec![f64::INFINITY; data.n], lower: vec![0.0; data.n] }) } else { None };
    let mut moves = Moves::none(k);
    let mut force_full = true;
    let mut n_iter = 0;
    for it in 0..max_iter.max(1) {
        // The caller (`fit`) turns an interrupted run into an error.
        if crate::interrupt::requested() {
            break;
        }
        n_iter = it + 1;
        let mut step = match bounds.as_mut() {
            Some(b) => assign_bounded(data, &centers, k, &mut labels, b, &moves, force_full),
            None => assign(data, &centers, k, &mut labels),
        };
        force_full = false;
        if step.changed == 0 {
            // Labels unchanged: the centres would not move either.
            break;
        }
        if step.weights.iter().any(|&w| w == 0.0) {
            relocate_empty(data, &centers, &labels, &mut step);
            // Relocation moves rows' weight between clusters: recompute every bound.
            force_full = true;
        }
        let mut new_centers = centers.clone();
        for j in 0..k {
            if step.weights[j] > 0.0 {
                for t in 0..d {
                    new_centers[j * d + t] = step.sums[j * d + t] / step.weights[j];
                }
            }
        }
        let shift: f64 = new_centers.chunks_exact(d).zip(centers.chunks_exact(d)).map(|(a, b)| sq_dist(a, b)).sum();
        if bounds.is_some() {
            moves = Moves::between(&centers, &new_centers, d);
        }
        centers = new_centers;
        if shift <= tol_abs {
            break;
        }
    }
    // Final assignment so that labels and inertia agree with the returned centres.
    let last = assign(data, &centers, k, &mut labels);
    Fit { centers, labels, inertia: last.inertia, n_iter }
}

/// Fits k-means `n_init` times and keeps the run with the lowest inertia
/// (the first one on ties).
pub fn fit(data: &Data, params: &Params) -> Result<Fit> {
    let k = params.n_clusters;
    if k == 0 {
        return Err(CrmError::invalid("k-means: n_clusters must be >= 1"));
    }
    if k > data.n {
        return Err(CrmError::invalid(format!(
            "k-means: n_clusters={k} is larger than the number of rows ({}); \
             choose n_clusters <= {}",
            data.n, data.n
        )));
    }
    if params.max_iter == 0 {
        return Err(CrmError::invalid("k-means: max_iter must be >= 1"));
    }
    if !(params.tol >= 0.0) || !params.tol.is_finite() {
        return Err(CrmError::invalid(format!("k-means: tol must be a finite number >= 0, found {}", params.tol)));
    }
    let n_init = if let Init::Centers(c) = &params.init {
        if c.len() != k * data.d {
            return Err(CrmError::invalid(format!(
                "k-means: init centres have {} values, expected n_clusters x n_features = {} x {}",
                c.len(),
                k,
                data.d
            )));
        }
        if c.iter().any(|v| !v.is_finite()) {
            return Err(CrmError::invalid("k-means: init centres hold a non-finite value"));
        }
        1
    } else {
        params.n_init.max(1)
    };
    let tol_abs = mean_variance(data) * params.tol;
    let mut best: Option<Fit> = None;
    for run in 0..n_init {
        let mut rng = Rng::new(params.seed, run as u64);
        let init = match &params.init {
            Init::KMeansPlusPlus => kmeans_plus_plus(data, k, &mut rng),
            Init::Random => random_init(data, k, &mut rng),
            Init::Centers(c) => c.clone(),
        };
        crate::interrupt::check()?;
        let f = lloyd(data, init, k, params.max_iter, tol_abs, params.bounded);
        crate::interrupt::check()?;
        let better = match &best {
            None => true,
            Some(b) => f.inertia < b.inertia,
        };
        if better {
            best = Some(f);
        }
    }
    best.ok_or_else(|| CrmError::invalid("k-means: no run was made"))
}

/// Nearest centre and squared distance for every row.
pub fn predict(data: &Data, centers: &[f64]) -> Result<(Vec<u32>, Vec<f64>)> {
    let d = data.d;
    if centers.is_empty() || centers.len() % d != 0 {
        return Err(CrmError::invalid(format!(
            "k-means: X has {d} feature columns but the fitted centres have {} values; \
             pass the same columns the model was fitted on",
            centers.len()
        )));
    }
    let mut labels = vec![0u32; data.n];
    let mut dists = vec![0.0; data.n];
    labels.par_chunks_mut(CHUNK).zip(dists.par_chunks_mut(CHUNK)).zip(data.x.par_chunks(CHUNK * d)).for_each(
        |((l, ds), xs)| {
            for ((row, li), di) in xs.chunks_exact(d).zip(l.iter_mut()).zip(ds.iter_mut()) {
                let (j, dist) = nearest(row, centers, d);
                *li = j;
                *di = dist;
            }
        },
    );
    Ok((labels, dists))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight, well separated blobs in 2-D.
    fn blobs(n_per: usize, seed: u64) -> (Vec<f64>, Vec<u32>) {
        let mut rng = Rng::new(seed, 0);
        let centres = [(0.0, 0.0), (10.0, 10.0), (-10.0, 10.0)];
        let mut x = Vec::new();
        let mut truth = Vec::new();
        for (c, (cx, cy)) in centres.iter().enumerate() {
            for _ in 0..n_per {
                x.push(cx + rng.uniform() - 0.5);
                x.push(cy + rng.uniform() - 0.5);
                truth.push(c as u32);
            }
        }
        (x, truth)
    }

    fn params(k: usize, seed: u64) -> Params {
        Params { n_clusters: k, init: Init::KMeansPlusPlus, n_init: 3, max_iter: 300, tol: 1e-4, seed, bounded: true }
    }

    #[test]
    fn recovers_separated_blobs() {
        let (x, truth) = blobs(5000, 1);
        let data = Data::new(&x, 15000, 2, None).unwrap();
        let f = fit(&data, &params(3, 0)).unwrap();
        // Each true blob maps onto exactly one cluster.
        for c in 0..3u32 {
            let labs: Vec<u32> = truth.iter().zip(&f.labels).filter(|(t, _)| **t == c).map(|(_, l)| *l).collect();
            assert!(labs.iter().all(|l| *l == labs[0]));
        }
        // Inertia of uniform(-0.5, 0.5)^2 noise: 2 * 1/12 per point.
        let expected = 15000.0 * 2.0 / 12.0;
        assert!((f.inertia - expected).abs() / expected < 0.05, "{}", f.inertia);
    }

    #[test]
    fn inertia_matches_labels_and_centres() {
        let (x, _) = blobs(1000, 2);
        let data = Data::new(&x, 3000, 2, None).unwrap();
        let f = fit(&data, &params(5, 3)).unwrap();
        let brute: f64 = (0..3000)
            .map(|i| {
                let l = f.labels[i] as usize;
                sq_dist(&x[i * 2..i * 2 + 2], &f.centers[l * 2..l * 2 + 2])
            })
            .sum();
        assert!((brute - f.inertia).abs() < 1e-9 * brute.max(1.0));
        // Every row is labelled with its nearest centre.
        let (pl, _) = predict(&data, &f.centers).unwrap();
        assert_eq!(pl, f.labels);
    }

    #[test]
    fn deterministic_across_thread_counts() {
        let (x, _) = blobs(20000, 5);
        let data = Data::new(&x, 60000, 2, None).unwrap();
        let p = params(6, 11);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| fit(&data, &p).unwrap());
        let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap().install(|| fit(&data, &p).unwrap());
        assert_eq!(one.centers, four.centers);
        assert_eq!(one.labels, four.labels);
        assert_eq!(one.inertia.to_bits(), four.inertia.to_bits());
    }

    #[test]
    fn bounded_and_plain_lloyd_agree() {
        let (x, _) = blobs(4000, 9);
        let data = Data::new(&x, 12000, 2, None).unwrap();
        let mut p = params(7, 2);
        let a = fit(&data, &p).unwrap();
        p.bounded = false;
        let b = fit(&data, &p).unwrap();
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.n_iter, b.n_iter);
        for (u, v) in a.centers.iter().zip(&b.centers) {
            assert!((u - v).abs() < 1e-9);
        }
    }

    #[test]
    fn k_equal_n_gives_zero_inertia_and_k_above_n_errors() {
        let x = vec![0.0, 1.0, 5.0, 9.0];
        let data = Data::new(&x, 4, 1, None).unwrap();
        let f = fit(&data, &params(4, 0)).unwrap();
        assert_eq!(f.inertia, 0.0);
        assert!(fit(&data, &params(5, 0)).is_err());
    }

    #[test]
    fn rejects_non_finite() {
        let x = vec![0.0, f64::NAN];
        assert!(Data::new(&x, 2, 1, None).is_err());
    }

    #[test]
    fn weights_equal_repetition() {
        // Weight 2 on a row equals listing the row twice.
        let x = vec![0.0, 0.2, 4.0, 4.4, 9.0];
        let w = vec![1.0, 2.0, 1.0, 1.0, 3.0];
        let rep = vec![0.0, 0.2, 0.2, 4.0, 4.4, 9.0, 9.0, 9.0];
        let init = Init::Centers(vec![0.0, 4.0, 9.0]);
        let p = Params { init, n_init: 1, ..params(3, 0) };
        let a = fit(&Data::new(&x, 5, 1, Some(&w)).unwrap(), &p).unwrap();
        let b = fit(&Data::new(&rep, 8, 1, None).unwrap(), &p).unwrap();
        for (u, v) in a.centers.iter().zip(&b.centers) {
            assert!((u - v).abs() < 1e-12);
        }
        assert!((a.inertia - b.inertia).abs() < 1e-12);
    }
}
