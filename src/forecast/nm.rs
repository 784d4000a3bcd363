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
        let (centroid, xr, xt) = (&mut self.centroid, &mut self.xr, &mut self.xt);
        while self.it < max_iter && !self.converged {
            if population_std(fs) < self.tol_std {
                self.converged = true;
                break;
            }
            // NaN sorts last so a failed evaluation is the first vertex replaced.
            self.order.sort_by(|&a, &b| fs[a].partial_cmp(&fs[b]).unwrap_or_else(|| fs[a].is_nan().cmp(&fs[b].is_nan())));
            self.best = self.order[0];
            let best = self.best;
            let worst = self.order[n];
            let second = self.order[n - 1];
            for (j, c) in centroid.iter_mut().enumerate() {
                let mut s = 0.0;
                for (k, row) in simplex.iter().enumerate() {
                    if k != worst {
                        s += row[j];
                    }
                }
                *c = s / nf;
            }
            for j in 0..n {
                xr[j] = centroid[j] + alpha * (centroid[j] - simplex[worst][j]);
            }
            clamp_into(xr, lower, upper);
            let fr = f(xr);
            self.it += 1;
            if fs[best] <= fr && fr < fs[second] {
                simplex[worst].copy_from_slice(xr);
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
                    simplex[worst].copy_from_slice(xt);
                    fs[worst] = fe;
                } else {
                    simplex[worst].copy_from_slice(xr);
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
                    simplex[worst].copy_from_slice(xt);
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
                    simplex[worst].copy_from_slice(xt);
                    fs[worst] = fc;
                    continue;
                }
            }
            // Shrink towards the best vertex (statsforecast shrinks rows 1..=n, whatever the
            // best row's index; the best row maps onto itself).
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
