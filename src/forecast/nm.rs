//! Bounded Nelder–Mead as statsforecast's ETS and Theta fits use it (adaptive
//! coefficients, box clamping after every move, stop when the standard deviation of the
//! simplex values falls under `tol_std`). Following the same moves is what makes our
//! AutoETS/AutoTheta land on the same optimum as statsforecast, not just a nearby one.

pub struct NmResult {
    pub x: Vec<f64>,
    pub fx: f64,
    pub iterations: usize,
}

fn clamp_into(x: &mut [f64], lower: &[f64], upper: &[f64]) {
    for ((v, lo), hi) in x.iter_mut().zip(lower).zip(upper) {
        *v = v.max(*lo).min(*hi);
    }
}

fn population_std(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
}

/// True when the simplex values are certainly not converged, judged from two of them:
/// n values that span R have a standard deviation of at least R / sqrt(2n), so a spread
/// between vertices `a` and `b` 1% beyond tol * sqrt(2n) decides the stopping test
/// without computing it (the test's serial sums were a tenth of an AutoETS fit; its own
/// rounding is far below 1% for objective values under 1e8). NaN falls through.
#[inline]
fn clearly_spread(fs: &[f64], a: usize, b: usize, tol_std: f64) -> bool {
    (fs[a] - fs[b]).abs() >= 1.01 * tol_std * (2.0 * fs.len() as f64).sqrt()
}

/// Iterations after which the running vertex sums are summed afresh, so that rounding
/// from adding and removing rows cannot build up.
const SUMS_REFRESH: usize = 64;

/// `total` = the sum of the simplex's rows, each coordinate summed in row order.
fn row_sums(total: &mut [f64], simplex: &[Vec<f64>]) {
    total.fill(0.0);
    for row in simplex {
        for (t, v) in total.iter_mut().zip(row) {
            *t += v;
        }
    }
}

/// The centroid of the rows other than `skip` from the running sum of all rows: one
/// subtraction per coordinate instead of summing n rows, each iteration (summing had
/// been a tenth of an AutoETS fit).
fn centroid_from_sums(centroid: &mut [f64], total: &[f64], skip_row: &[f64], nf: f64) {
    // A product with 1/n: the divisions had been most of what remained of this step.
    let inv = 1.0 / nf;
    for ((c, t), w) in centroid.iter_mut().zip(total).zip(skip_row) {
        *c = (t - w) * inv;
    }
}

/// Replaces a vertex and keeps the running sum of the rows.
fn replace_row(row: &mut [f64], total: &mut [f64], new: &[f64]) {
    for ((r, t), v) in row.iter_mut().zip(total.iter_mut()).zip(new) {
        *t += v - *r;
        *r = *v;
    }
}

/// `fs[a]` against `fs[b]` as the optimiser orders vertices: by value, NaN last.
#[inline]
fn vertex_cmp(fs: &[f64], a: usize, b: usize) -> std::cmp::Ordering {
    fs[a].partial_cmp(&fs[b]).unwrap_or_else(|| fs[a].is_nan().cmp(&fs[b].is_nan()))
}

/// A Nelder–Mead run that can be paused and resumed: `run(f, k)` continues until `k`
/// iterations in total (or convergence). Running to 250 and then to 1,000 visits exactly
/// the points a single run to 1,000 visits, which lets AutoETS stop candidates that are
/// clearly out of the race early without changing the fit of those it completes.
pub struct NelderMead {
    simplex: Vec<Vec<f64>>,
    fs: Vec<f64>,
    order: Vec<usize>,
    best: usize,
    it: usize,
    converged: bool,
    lower: Vec<f64>,
    upper: Vec<f64>,
    tol_std: f64,
    centroid: Vec<f64>,
    /// Running sum of the rows (see `SUMS_REFRESH`).
    total: Vec<f64>,
    /// Best and second-worst vertex of the last ordering, while both still stand (None
    /// before the first ordering and after a shrink, which moves every vertex but the
    /// best; `total` is then summed afresh).
    unchanged_pair: Option<(usize, usize)>,
    xr: Vec<f64>,
    xt: Vec<f64>,
}

impl NelderMead {
    /// Initial simplex: `x0` plus one vertex per coordinate scaled by `1 + 0.05` (or set to
    /// 1e-4 when the coordinate is 0), clamped into `[lower, upper]`.
    pub fn new<F: FnMut(&[f64]) -> f64>(f: &mut F, x0: &[f64], lower: &[f64], upper: &[f64], tol_std: f64) -> Self {
        let n = x0.len();
        let mut start = x0.to_vec();
        clamp_into(&mut start, lower, upper);
        let mut simplex: Vec<Vec<f64>> = vec![start; n + 1];
        for (i, row) in simplex.iter_mut().enumerate().take(n) {
            let v = row[i];
            let v = if v == 0.0 { 1.0e-4 } else { v * (1.0 + 0.05) };
            row[i] = v.max(lower[i]).min(upper[i]);
        }
        let fs: Vec<f64> = simplex.iter().map(|x| f(x)).collect();
        NelderMead {
            simplex,
            fs,
            order: (0..=n).collect(),
            best: 0,
            it: 0,
            converged: false,
            lower: lower.to_vec(),
            upper: upper.to_vec(),
            tol_std,
            centroid: vec![0.0; n],
            total: vec![0.0; n],
            unchanged_pair: None,
            xr: vec![0.0; n],
            xt: vec![0.0; n],
        }
    }

    pub fn iterations(&self) -> usize {
        self.it
    }

    /// True once the simplex values agree to `tol_std` (the run is over).
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// The lowest value among the current vertices.
    pub fn best_value(&self) -> f64 {
        self.fs.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// As statsforecast: the vertex that was best at the last ordering.
    pub fn result(&self) -> NmResult {
        NmResult { x: self.simplex[self.best].clone(), fx: self.fs[self.best], iterations: self.it }
    }

    pub fn run<F: FnMut(&[f64]) -> f64>(&mut self, f: &mut F, max_iter: usize) {
        let n = self.centroid.len();
        let nf = n as f64;
        let alpha = 1.0;
        let gamma = 1.0 + 2.0 / nf;
        let rho = 0.75 - 1.0 / (2.0 * nf);
        let sigma = 1.0 - 1.0 / nf;
        let (lower, upper) = (&self.lower, &self.upper);
        let simplex = &mut self.simplex;
        let fs = &mut self.fs;
        let (centroid, total, xr, xt) = (&mut self.centroid, &mut self.total, &mut self.xr, &mut self.xt);
        let unchanged_pair = &mut self.unchanged_pair;
        while self.it < max_iter && !self.converged {
            let spread = unchanged_pair.is_some_and(|(a, b)| clearly_spread(fs, a, b, self.tol_std));
            if !spread && population_std(fs) < self.tol_std {
                self.converged = true;
                break;
            }
            // NaN sorts last so a failed evaluation is the first vertex replaced.
            self.order.sort_by(|&a, &b| fs[a].partial_cmp(&fs[b]).unwrap_or_else(|| fs[a].is_nan().cmp(&fs[b].is_nan())));
            self.best = self.order[0];
            let best = self.best;
            let worst = self.order[n];
            let second = self.order[n - 1];
            if unchanged_pair.is_none() || self.it % SUMS_REFRESH == 0 {
                row_sums(total, simplex);
            }
            *unchanged_pair = Some((best, second));
            centroid_from_sums(centroid, total, &simplex[worst], nf);
            for j in 0..n {
                xr[j] = centroid[j] + alpha * (centroid[j] - simplex[worst][j]);
            }
            clamp_into(xr, lower, upper);
            let fr = f(xr);
            self.it += 1;
            if fs[best] <= fr && fr < fs[second] {
                replace_row(&mut simplex[worst], total, xr);
                fs[worst] = fr;
                continue;
            }
            if fr < fs[best] {
                for j in 0..n {
                    xt[j] = centroid[j] + gamma * (xr[j] - centroid[j]);
                }
                clamp_into(xt, lower, upper);
                let fe = f(xt);
                if fe < fr {
                    replace_row(&mut simplex[worst], total, xt);
                    fs[worst] = fe;
                } else {
                    replace_row(&mut simplex[worst], total, xr);
                    fs[worst] = fr;
                }
                continue;
            }
            if fs[second] <= fr && fr < fs[worst] {
                for j in 0..n {
                    xt[j] = centroid[j] + rho * (xr[j] - centroid[j]);
                }
                clamp_into(xt, lower, upper);
                let fc = f(xt);
                if fc <= fr {
                    replace_row(&mut simplex[worst], total, xt);
                    fs[worst] = fc;
                    continue;
                }
            } else {
                for j in 0..n {
                    xt[j] = centroid[j] - rho * (xr[j] - centroid[j]);
                }
                clamp_into(xt, lower, upper);
                let fc = f(xt);
                if fc < fs[worst] {
                    replace_row(&mut simplex[worst], total, xt);
                    fs[worst] = fc;
                    continue;
                }
            }
            // Shrink towards the best vertex (statsforecast shrinks rows 1..=n, whatever the
            // best row's index; the best row maps onto itself).
            *unchanged_pair = None;
            xt.copy_from_slice(&simplex[best]);
            for j in 1..=n {
                for k in 0..n {
                    simplex[j][k] = xt[k] + sigma * (simplex[j][k] - xt[k]);
                }
                clamp_into(&mut simplex[j], lower, upper);
                fs[j] = f(&simplex[j]);
            }
        }
    }
}

/// Where a `Machine` stands: which point it waits to have evaluated.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Phase {
    /// Initial vertex k.
    Init(usize),
    Reflect,
    Expand(f64),
    Outside(f64),
    Inside,
    /// Shrunk vertex j (1..=n).
    Shrink(usize),
    Done,
}

/// `NelderMead::run` turned inside out: instead of calling the objective, the machine
/// hands out the next point (`point`) and is told its value (`tell`). It takes the same
/// steps as `run` and visits the same points in the same order, so `result` is the same,
/// bit for bit. This lets a caller evaluate the points of several independent runs
/// together (AutoETS evaluates up to eight candidate models' likelihoods in one pass).
pub struct Machine {
    simplex: Vec<Vec<f64>>,
    fs: Vec<f64>,
    order: Vec<usize>,
    best: usize,
    worst: usize,
    second: usize,
    it: usize,
    max_iter: usize,
    lower: Vec<f64>,
    upper: Vec<f64>,
    tol_std: f64,
    centroid: Vec<f64>,
    /// Running sum of the rows, as in `NelderMead`.
    total: Vec<f64>,
    xr: Vec<f64>,
    xt: Vec<f64>,
    phase: Phase,
    /// True when `order` is sorted for every vertex but `order[n]` (the worst, just
    /// replaced): one insertion then gives what the stable sort gives.
    only_last_changed: bool,
}

impl Machine {
    pub fn new(x0: &[f64], lower: &[f64], upper: &[f64], tol_std: f64, max_iter: usize) -> Self {
        let n = x0.len();
        let mut start = x0.to_vec();
        clamp_into(&mut start, lower, upper);
        let mut simplex: Vec<Vec<f64>> = vec![start; n + 1];
        for (i, row) in simplex.iter_mut().enumerate().take(n) {
            let v = row[i];
            let v = if v == 0.0 { 1.0e-4 } else { v * (1.0 + 0.05) };
            row[i] = v.max(lower[i]).min(upper[i]);
        }
        Machine {
            simplex,
            fs: vec![0.0; n + 1],
            order: (0..=n).collect(),
            best: 0,
            worst: 0,
            second: 0,
            it: 0,
            max_iter,
            lower: lower.to_vec(),
            upper: upper.to_vec(),
            tol_std,
            centroid: vec![0.0; n],
            total: vec![0.0; n],
            xr: vec![0.0; n],
            xt: vec![0.0; n],
            phase: Phase::Init(0),
            only_last_changed: false,
        }
    }

    /// The point to evaluate next; None once the run is over.
    pub fn point(&self) -> Option<&[f64]> {
        match self.phase {
            Phase::Init(k) => Some(&self.simplex[k]),
            Phase::Reflect => Some(&self.xr),
            Phase::Expand(_) | Phase::Outside(_) | Phase::Inside => Some(&self.xt),
            Phase::Shrink(j) => Some(&self.simplex[j]),
            Phase::Done => None,
        }
    }

    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// As `NelderMead::result`.
    pub fn result(&self) -> NmResult {
        NmResult { x: self.simplex[self.best].clone(), fx: self.fs[self.best], iterations: self.it }
    }

    /// Records the value of `point()` and moves to the next point.
    pub fn tell(&mut self, f: f64) {
        let n = self.centroid.len();
        let nf = n as f64;
        match self.phase {
            Phase::Init(k) => {
                self.fs[k] = f;
                if k < n {
                    self.phase = Phase::Init(k + 1);
                } else {
                    self.begin_iteration();
                }
            }
            Phase::Reflect => {
                let fr = f;
                self.it += 1;
                let (best, worst, second) = (self.best, self.worst, self.second);
                let fs = &self.fs;
                if fs[best] <= fr && fr < fs[second] {
                    replace_row(&mut self.simplex[worst], &mut self.total, &self.xr);
                    self.fs[worst] = fr;
                    self.begin_iteration();
                    return;
                }
                let (c, xr, xt) = (&self.centroid, &self.xr, &mut self.xt);
                if fr < fs[best] {
                    let gamma = 1.0 + 2.0 / nf;
                    for j in 0..n {
                        xt[j] = c[j] + gamma * (xr[j] - c[j]);
                    }
                    self.phase = Phase::Expand(fr);
                } else {
                    let rho = 0.75 - 1.0 / (2.0 * nf);
                    if fs[second] <= fr && fr < fs[worst] {
                        for j in 0..n {
                            xt[j] = c[j] + rho * (xr[j] - c[j]);
                        }
                        self.phase = Phase::Outside(fr);
                    } else {
                        for j in 0..n {
                            xt[j] = c[j] - rho * (xr[j] - c[j]);
                        }
                        self.phase = Phase::Inside;
                    }
                }
                clamp_into(&mut self.xt, &self.lower, &self.upper);
            }
            Phase::Expand(fr) => {
                let w = self.worst;
                if f < fr {
                    replace_row(&mut self.simplex[w], &mut self.total, &self.xt);
                    self.fs[w] = f;
                } else {
                    replace_row(&mut self.simplex[w], &mut self.total, &self.xr);
                    self.fs[w] = fr;
                }
                self.begin_iteration();
            }
            Phase::Outside(fr) => {
                if f <= fr {
                    let w = self.worst;
                    replace_row(&mut self.simplex[w], &mut self.total, &self.xt);
                    self.fs[w] = f;
                    self.begin_iteration();
                } else {
                    self.shrink_row(1);
                }
            }
            Phase::Inside => {
                let w = self.worst;
                if f < self.fs[w] {
                    replace_row(&mut self.simplex[w], &mut self.total, &self.xt);
                    self.fs[w] = f;
                    self.begin_iteration();
                } else {
                    self.shrink_row(1);
                }
            }
            Phase::Shrink(j) => {
                self.fs[j] = f;
                if j < n {
                    self.shrink_row(j + 1);
                } else {
                    self.begin_iteration();
                }
            }
            Phase::Done => {}
        }
    }

    /// Shrinks vertex j towards the best vertex (as `run`: rows 1..=n, one at a time).
    fn shrink_row(&mut self, j: usize) {
        let n = self.centroid.len();
        let sigma = 1.0 - 1.0 / n as f64;
        if j == 1 {
            self.xt.copy_from_slice(&self.simplex[self.best]);
            self.only_last_changed = false;
        }
        let xt = &self.xt;
        let row = &mut self.simplex[j];
        for k in 0..n {
            row[k] = xt[k] + sigma * (row[k] - xt[k]);
        }
        clamp_into(row, &self.lower, &self.upper);
        self.phase = Phase::Shrink(j);
    }

    /// The head of `run`'s loop: stop, or order the vertices and reflect the worst.
    fn begin_iteration(&mut self) {
        // `only_last_changed`: the best and second-worst vertices of the last ordering
        // still stand.
        let spread = self.only_last_changed && clearly_spread(&self.fs, self.best, self.second, self.tol_std);
        if self.it >= self.max_iter || (!spread && population_std(&self.fs) < self.tol_std) {
            self.phase = Phase::Done;
            return;
        }
        let n = self.centroid.len();
        let fs = &self.fs;
        // As `NelderMead::run`: the sums are stale before the first ordering and after a
        // shrink.
        let sums_stale = !self.only_last_changed || self.it % SUMS_REFRESH == 0;
        if self.only_last_changed {
            let order = &mut self.order;
            let cur = order[n];
            let mut pos = n;
            while pos > 0 && vertex_cmp(fs, order[pos - 1], cur) == std::cmp::Ordering::Greater {
                order[pos] = order[pos - 1];
                pos -= 1;
            }
            order[pos] = cur;
        } else {
            self.order.sort_by(|&a, &b| vertex_cmp(fs, a, b));
        }
        self.only_last_changed = true;
        self.best = self.order[0];
        self.worst = self.order[n];
        self.second = self.order[n - 1];
        if sums_stale {
            row_sums(&mut self.total, &self.simplex);
        }
        centroid_from_sums(&mut self.centroid, &self.total, &self.simplex[self.worst], n as f64);
        let (c, xr, w) = (&self.centroid, &mut self.xr, &self.simplex[self.worst]);
        for j in 0..n {
            xr[j] = c[j] + 1.0 * (c[j] - w[j]);
        }
        clamp_into(xr, &self.lower, &self.upper);
        self.phase = Phase::Reflect;
    }
}

/// Minimises `f` from `x0` within `[lower, upper]` (a complete `NelderMead` run).
pub fn nelder_mead<F>(mut f: F, x0: &[f64], lower: &[f64], upper: &[f64], max_iter: usize, tol_std: f64) -> NmResult
where
    F: FnMut(&[f64]) -> f64,
{
    let mut nm = NelderMead::new(&mut f, x0, lower, upper, tol_std);
    nm.run(&mut f, max_iter);
    nm.result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_run_visits_the_same_points() {
        let mut f = |x: &[f64]| (x[0] - 0.3).powi(2) + (x[0] * x[1] - 1.0).powi(2) + 0.1 * x[2].abs();
        let (lo, hi) = ([-5.0; 3], [5.0; 3]);
        let whole = nelder_mead(&mut f, &[1.0, 2.0, 0.5], &lo, &hi, 300, 1e-12);
        let mut nm = NelderMead::new(&mut f, &[1.0, 2.0, 0.5], &lo, &hi, 1e-12);
        nm.run(&mut f, 40);
        nm.run(&mut f, 300);
        assert_eq!(nm.result().x, whole.x);
        assert_eq!(nm.iterations(), whole.iterations);
    }

    #[test]
    fn the_machine_visits_the_points_of_run() {
        let f = |x: &[f64]| (x[0] - 0.3).powi(2) + (x[0] * x[1] - 1.0).powi(2) + 0.1 * x[2].abs() + (x[3] - x[4]).powi(2);
        let (lo, hi) = ([-5.0; 5], [5.0; 5]);
        let x0 = [1.0, 2.0, 0.5, 0.0, -1.0];
        for iters in [0, 3, 40, 500] {
            let whole = nelder_mead(f, &x0, &lo, &hi, iters, 1e-12);
            let mut m = Machine::new(&x0, &lo, &hi, 1e-12, iters);
            while let Some(x) = m.point() {
                let v = f(x);
                m.tell(v);
            }
            assert_eq!(m.result().x, whole.x);
            assert_eq!(m.result().fx, whole.fx);
            assert_eq!(m.result().iterations, whole.iterations);
        }
    }

    #[test]
    fn finds_the_minimum_of_a_bounded_quadratic() {
        let r = nelder_mead(
            |x| (x[0] - 0.3).powi(2) + 10.0 * (x[1] + 2.0).powi(2),
            &[0.5, 1.0],
            &[0.0, -1.0],
            &[1.0, 5.0],
            2000,
            1e-14,
        );
        assert!((r.x[0] - 0.3).abs() < 1e-4, "{:?}", r.x);
        assert!((r.x[1] + 1.0).abs() < 1e-6, "bound respected: {:?}", r.x);
    }
}
