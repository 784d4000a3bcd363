//! Minimisers for the small (3-4 parameter) likelihood problems of the BTYD models.
//! Parameters live on the log scale (so they stay positive). With an analytic
//! Hessian the step is a damped Newton step (Levenberg-Marquardt); without one,
//! BFGS with an Armijo line search. Both stop on the gradient norm.

/// One evaluation of the objective on the log-parameter scale.
pub struct Objective {
    pub value: f64,
    pub grad: Vec<f64>,
    /// Row-major n x n, when the model provides it.
    pub hess: Option<Vec<f64>>,
}

pub struct Minimum {
    /// The Hessian at `x`, when the objective provides one.
    pub hess: Option<Vec<f64>>,
    pub x: Vec<f64>,
    pub value: f64,
    pub grad: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

/// Cholesky solve of (A) x = b for a small symmetric matrix; None when A is not
/// positive definite.
pub fn cholesky_solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if !(s > 0.0) || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * y[k];
        }
        y[i] = s / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    Some(x)
}

/// Inverse of a small symmetric positive definite matrix (column by column).
pub fn inverse_spd(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut inv = vec![0.0; n * n];
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        let col = cholesky_solve(a, &e, n)?;
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    Some(inv)
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

const MAX_STEP: f64 = 3.0;

/// Minimises `f` from `x0`. `f` may return a non-finite value for parameters where
/// the likelihood cannot be evaluated: the line search then shortens the step.
pub fn minimize<F>(f: F, x0: &[f64], gtol: f64, max_iter: usize) -> Minimum
where
    F: Fn(&[f64], bool) -> Objective,
{
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut cur = f(&x, true);
    let use_newton = cur.hess.is_some();
    // BFGS inverse-Hessian approximation.
    let mut hinv: Vec<f64> = (0..n * n).map(|k| if k % (n + 1) == 0 { 1.0 } else { 0.0 }).collect();
    let mut lambda = 1e-3;
    let mut iterations = 0;
    let mut stalled = 0;
    while iterations < max_iter {
        if !cur.value.is_finite() {
            break;
        }
        if max_abs(&cur.grad) < gtol {
            return Minimum { hess: cur.hess, x, value: cur.value, grad: cur.grad, iterations, converged: true };
        }
        iterations += 1;
        let mut dir: Vec<f64> = if use_newton {
            let h = cur.hess.clone().unwrap_or_else(|| vec![0.0; n * n]);
            let neg_g: Vec<f64> = cur.grad.iter().map(|g| -g).collect();
            let mut step = None;
            let mut lam = lambda;
            for _ in 0..40 {
                let mut hd = h.clone();
                let scale = (0..n).map(|i| h[i * n + i].abs()).fold(1e-12, f64::max);
                for i in 0..n {
                    hd[i * n + i] += lam * scale;
                }
                if let Some(d) = cholesky_solve(&hd, &neg_g, n) {
                    step = Some(d);
                    break;
                }
                lam = (lam * 10.0).max(1e-8);
            }
            lambda = (lam / 10.0).max(1e-12);
            match step {
                Some(d) => d,
                None => neg_g,
            }
        } else {
            (0..n).map(|i| -(0..n).map(|j| hinv[i * n + j] * cur.grad[j]).sum::<f64>()).collect()
        };
        let mut slope: f64 = dir.iter().zip(&cur.grad).map(|(d, g)| d * g).sum();
        if !(slope < 0.0) {
            // Not a descent direction: fall back to steepest descent and reset BFGS.
            dir = cur.grad.iter().map(|g| -g).collect();
            slope = -cur.grad.iter().map(|g| g * g).sum::<f64>();
            for k in 0..n * n {
                hinv[k] = if k % (n + 1) == 0 { 1.0 } else { 0.0 };
            }
        }
        let norm = max_abs(&dir);
        let mut t = if norm > MAX_STEP { MAX_STEP / norm } else { 1.0 };
        let mut accepted = None;
        for trial in 0..40 {
            let xn: Vec<f64> = x.iter().zip(&dir).map(|(a, d)| a + t * d).collect();
            // The first trial usually succeeds: evaluate it in full so it is not
            // computed twice.
            let eval = f(&xn, trial == 0);
            if eval.value.is_finite() && eval.value <= cur.value + 1e-4 * t * slope {
                accepted = Some((xn, if trial == 0 { Some(eval) } else { None }));
                break;
            }
            t *= 0.5;
        }
        let Some((xn, full)) = accepted else {
            // No decrease possible along the direction: we are at the floor of
            // floating point precision, which counts as converged if the gradient is small.
            let ok = max_abs(&cur.grad) < gtol.sqrt();
            return Minimum { hess: cur.hess, x, value: cur.value, grad: cur.grad, iterations, converged: ok };
        };
        let next = match full {
            Some(e) => e,
            None => f(&xn, true),
        };
        if !use_newton {
            let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
            let y: Vec<f64> = next.grad.iter().zip(&cur.grad).map(|(a, b)| a - b).collect();
            let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
            if sy > 1e-300 {
                if iterations == 1 {
                    let yy: f64 = y.iter().map(|v| v * v).sum();
                    let g0 = sy / yy;
                    for k in 0..n * n {
                        hinv[k] = if k % (n + 1) == 0 { g0 } else { 0.0 };
                    }
                }
                let rho = 1.0 / sy;
                let hy: Vec<f64> = (0..n).map(|i| (0..n).map(|j| hinv[i * n + j] * y[j]).sum()).collect();
                let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
                for i in 0..n {
                    for j in 0..n {
                        hinv[i * n + j] += -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
                    }
                }
            }
        }
        let change = (cur.value - next.value).abs();
        stalled = if change <= 1e-15 * (1.0 + cur.value.abs()) { stalled + 1 } else { 0 };
        x = xn;
        cur = next;
        if stalled >= 3 {
            let ok = max_abs(&cur.grad) < gtol.sqrt();
            return Minimum { hess: cur.hess, x, value: cur.value, grad: cur.grad, iterations, converged: ok };
        }
    }
    let ok = cur.value.is_finite() && max_abs(&cur.grad) < gtol;
    Minimum { hess: cur.hess, x, value: cur.value, grad: cur.grad, iterations, converged: ok }
}

/// Hessian by central differences of an analytic gradient (symmetrised).
pub fn hessian_from_gradient<G>(grad: G, x: &[f64]) -> Vec<f64>
where
    G: Fn(&[f64]) -> Vec<f64>,
{
    let n = x.len();
    let mut h = vec![0.0; n * n];
    for j in 0..n {
        let step = 1e-5 * (1.0 + x[j].abs());
        let mut xp = x.to_vec();
        xp[j] += step;
        let mut xm = x.to_vec();
        xm[j] -= step;
        let gp = grad(&xp);
        let gm = grad(&xm);
        for i in 0..n {
            h[i * n + j] = (gp[i] - gm[i]) / (2.0 * step);
        }
    }
    for i in 0..n {
        for j in 0..i {
            let m = 0.5 * (h[i * n + j] + h[j * n + i]);
            h[i * n + j] = m;
            h[j * n + i] = m;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosen(x: &[f64], _h: bool, with_hess: bool) -> Objective {
        let (a, b) = (x[0], x[1]);
        let value = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
        let grad = vec![-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)];
        let hess = with_hess.then(|| vec![2.0 - 400.0 * (b - 3.0 * a * a), -400.0 * a, -400.0 * a, 200.0]);
        Objective { value, grad, hess }
    }

    #[test]
    fn newton_and_bfgs_find_the_rosenbrock_minimum() {
        for with_hess in [true, false] {
            let m = minimize(|x, h| rosen(x, h, with_hess), &[-1.2, 1.0], 1e-9, 2000);
            assert!(m.converged, "with_hess={with_hess}");
            assert!((m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6, "{:?}", m.x);
        }
    }

    #[test]
    fn cholesky_rejects_indefinite() {
        assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0], 2).is_none());
        let inv = inverse_spd(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
        let want = [3.0 / 8.0, -2.0 / 8.0, -2.0 / 8.0, 4.0 / 8.0];
        for (a, b) in inv.iter().zip(want) {
            assert!((a - b).abs() < 1e-14);
        }
    }

    #[test]
    fn numeric_hessian_of_quadratic_is_exact() {
        let h = hessian_from_gradient(|x| vec![2.0 * x[0] + x[1], x[0] + 6.0 * x[1]], &[0.3, -0.2]);
        assert!((h[0] - 2.0).abs() < 1e-8 && (h[1] - 1.0).abs() < 1e-8 && (h[3] - 6.0).abs() < 1e-8);
    }
}
