//! Small derivative-free and quasi-Newton minimisers used by the ARIMA and CES kernels.
//!
//! `bfgs` follows the conventions of scipy's `minimize(method="BFGS")` that statsforecast
//! uses for ARIMA (forward-difference gradient with an absolute step of sqrt(eps), identity
//! start for the inverse Hessian, `gtol` on the max-norm, a strong-Wolfe line search, status
//! 0 = converged, 1 = iteration limit, 2 = line search could not improve). `nelder_mead`
//! is the bounded, adaptive simplex statsforecast uses for CES, step for step, so the
//! same starting point reaches the same optimum.

/// Outcome of a minimisation.
#[derive(Debug, Clone)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub fun: f64,
    /// Inverse Hessian approximation (row-major, n×n); empty for Nelder–Mead.
    pub hess_inv: Vec<f64>,
    /// 0 converged, 1 iteration limit, 2 precision loss in the line search.
    pub status: u8,
}

const FD_STEP: f64 = 1.4901161193847656e-08;

fn fd_grad<F: FnMut(&[f64]) -> f64>(f: &mut F, x: &[f64], fx: f64, g: &mut [f64], work: &mut Vec<f64>) {
    work.clear();
    work.extend_from_slice(x);
    for i in 0..x.len() {
        let old = work[i];
        work[i] = old + FD_STEP;
        let h = work[i] - old;
        g[i] = (f(work) - fx) / h;
        work[i] = old;
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, v| if v.is_nan() { f64::NAN } else { m.max(v.abs()) })
}

/// Quasi-Newton BFGS with numerical gradients.
pub fn bfgs<F: FnMut(&[f64]) -> f64>(mut f: F, x0: &[f64], gtol: f64, maxiter: usize) -> Minimum {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut fx = f(&x);
    let mut g = vec![0.0; n];
    let mut work = Vec::with_capacity(n);
    if n == 0 {
        return Minimum { x, fun: fx, hess_inv: vec![], status: 0 };
    }
    fd_grad(&mut f, &x, fx, &mut g, &mut work);
    let mut h = vec![0.0; n * n];
    for i in 0..n {
        h[i * n + i] = 1.0;
    }
    let gnorm2: f64 = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut old_old = fx + gnorm2 / 2.0;
    let mut status = 0u8;
    let mut k = 0usize;
    let mut p = vec![0.0; n];
    let mut xn = vec![0.0; n];
    let mut gn = vec![0.0; n];
    let mut s = vec![0.0; n];
    let mut y = vec![0.0; n];
    let mut hy = vec![0.0; n];
    while max_abs(&g) > gtol && k < maxiter {
        for i in 0..n {
            p[i] = -(0..n).map(|j| h[i * n + j] * g[j]).sum::<f64>();
        }
        let derphi0 = dot(&g, &p);
        if !(derphi0 < 0.0) || !fx.is_finite() {
            status = 2;
            break;
        }
        let mut alpha1 = 1.0;
        let a = 1.01 * 2.0 * (fx - old_old) / derphi0;
        if a.is_finite() && a > 0.0 {
            alpha1 = a.min(1.0);
        }
        let found = wolfe_search(&mut f, &x, &p, fx, derphi0, alpha1, &mut xn, &mut gn, &mut work);
        let Some((alpha, fnew)) = found else {
            status = 2;
            break;
        };
        for i in 0..n {
            s[i] = alpha * p[i];
            xn[i] = x[i] + s[i];
            y[i] = gn[i] - g[i];
        }
        old_old = fx;
        x.copy_from_slice(&xn);
        g.copy_from_slice(&gn);
        fx = fnew;
        k += 1;
        if max_abs(&g) <= gtol {
            break;
        }
        if !fx.is_finite() {
            status = 2;
            break;
        }
        let ys = dot(&y, &s);
        let rho = if ys == 0.0 { 1000.0 } else { 1.0 / ys };
        // H <- (I - rho s y') H (I - rho y s') + rho s s'
        for i in 0..n {
            hy[i] = (0..n).map(|j| h[i * n + j] * y[j]).sum();
        }
        let yhy = dot(&y, &hy);
        // H is symmetric, so y'H = (Hy)'.
        for i in 0..n {
            for j in 0..n {
                h[i * n + j] += -rho * (s[i] * hy[j] + hy[i] * s[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
            }
        }
    }
    if status == 0 && k >= maxiter && max_abs(&g) > gtol {
        status = 1;
    }
    if g.iter().any(|v| v.is_nan()) || !fx.is_finite() {
        status = 2.max(status);
    }
    Minimum { x, fun: fx, hess_inv: h, status }
}

/// Strong-Wolfe line search (Nocedal & Wright, algorithms 3.5/3.6) with cubic
/// interpolation in the zoom phase. Returns the step and f there; `xn`/`gn` hold the
/// point and its gradient.
#[allow(clippy::too_many_arguments)]
fn wolfe_search<F: FnMut(&[f64]) -> f64>(
    f: &mut F,
    x: &[f64],
    p: &[f64],
    f0: f64,
    d0: f64,
    alpha1: f64,
    xn: &mut [f64],
    gn: &mut [f64],
    work: &mut Vec<f64>,
) -> Option<(f64, f64)> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let n = x.len();
    let mut eval = |alpha: f64, xn: &mut [f64], gn: &mut [f64], work: &mut Vec<f64>| -> (f64, f64) {
        for i in 0..n {
            xn[i] = x[i] + alpha * p[i];
        }
        let fa = f(xn);
        if !fa.is_finite() {
            return (fa, f64::NAN);
        }
        fd_grad(f, xn, fa, gn, work);
        (fa, dot(gn, p))
    };
    let mut a_prev = 0.0;
    let mut f_prev = f0;
    let mut d_prev = d0;
    let mut a = alpha1;
    for i in 0..20 {
        let (fa, da) = eval(a, xn, gn, work);
        if !fa.is_finite() {
            // Step into an invalid region: shrink.
            a = 0.5 * (a_prev + a);
            if a - a_prev < 1e-12 {
                return None;
            }
            continue;
        }
        if fa > f0 + C1 * a * d0 || (i > 0 && fa >= f_prev) {
            return zoom(&mut eval, f0, d0, a_prev, f_prev, d_prev, a, fa, da, xn, gn, work);
        }
        if da.abs() <= -C2 * d0 {
            return Some((a, fa));
        }
        if da >= 0.0 {
            return zoom(&mut eval, f0, d0, a, fa, da, a_prev, f_prev, d_prev, xn, gn, work);
        }
        a_prev = a;
        f_prev = fa;
        d_prev = da;
        a *= 2.0;
        if a > 1e10 {
            return None;
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn zoom<E: FnMut(f64, &mut [f64], &mut [f64], &mut Vec<f64>) -> (f64, f64)>(
    eval: &mut E,
    f0: f64,
    d0: f64,
    mut a_lo: f64,
    mut f_lo: f64,
    mut d_lo: f64,
    mut a_hi: f64,
    mut f_hi: f64,
    mut d_hi: f64,
    xn: &mut [f64],
    gn: &mut [f64],
    work: &mut Vec<f64>,
) -> Option<(f64, f64)> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    for _ in 0..30 {
        let (lo, hi) = if a_lo < a_hi { (a_lo, a_hi) } else { (a_hi, a_lo) };
        let width = hi - lo;
        if width <= 1e-14 * hi.abs().max(1e-10) {
            break;
        }
        // Cubic interpolation between the two ends, kept inside the bracket.
        let mut a = f64::NAN;
        if d_hi.is_finite() && f_hi.is_finite() {
            let d1 = d_lo + d_hi - 3.0 * (f_lo - f_hi) / (a_lo - a_hi);
            let disc = d1 * d1 - d_lo * d_hi;
            if disc >= 0.0 {
                let d2 = disc.sqrt() * (a_hi - a_lo).signum();
                let c = a_hi - (a_hi - a_lo) * (d_hi + d2 - d1) / (d_hi - d_lo + 2.0 * d2);
                if c.is_finite() {
                    a = c;
                }
            }
        }
        if !(a > lo + 0.1 * width && a < hi - 0.1 * width) {
            a = 0.5 * (lo + hi);
        }
        let (fa, da) = eval(a, xn, gn, work);
        if !fa.is_finite() || fa > f0 + C1 * a * d0 || fa >= f_lo {
            a_hi = a;
            f_hi = fa;
            d_hi = da;
        } else {
            if da.abs() <= -C2 * d0 {
                return Some((a, fa));
            }
            if da * (a_hi - a_lo) >= 0.0 {
                a_hi = a_lo;
                f_hi = f_lo;
                d_hi = d_lo;
            }
            a_lo = a;
            f_lo = fa;
            d_lo = da;
        }
    }
    // No point satisfied the curvature condition: accept the best decrease found, as
    // long as it is a decrease (the caller's gradient is refreshed at that point).
    if a_lo > 0.0 && f_lo < f0 {
        let (fa, _) = eval(a_lo, xn, gn, work);
        return Some((a_lo, fa));
    }
    None
}

/// Bounded Nelder–Mead simplex with adaptive coefficients (statsforecast's CES optimiser).
#[allow(clippy::too_many_arguments)]
pub fn nelder_mead<F: FnMut(&[f64]) -> f64>(
    mut f: F,
    x: &[f64],
    lower: &[f64],
    upper: &[f64],
    init_step: f64,
    zero_pert: f64,
    max_iter: usize,
    tol_std: f64,
) -> Minimum {
    let n = x.len();
    let clamp = |v: &mut [f64]| {
        for i in 0..v.len() {
            v[i] = v[i].max(lower[i]).min(upper[i]);
        }
    };
    let mut x0 = x.to_vec();
    clamp(&mut x0);
    let nf = n as f64;
    let alpha = 1.0;
    let gamma = 1.0 + 2.0 / nf;
    let rho = 0.75 - 1.0 / (2.0 * nf);
    let sigma = 1.0 - 1.0 / nf;
    let mut simplex: Vec<Vec<f64>> = (0..=n).map(|_| x0.clone()).collect();
    for i in 0..n {
        let mut val = simplex[i][i];
        if val == 0.0 {
            val = zero_pert;
        } else {
            val *= 1.0 + init_step;
        }
        simplex[i][i] = val.max(lower[i]).min(upper[i]);
    }
    let mut fs: Vec<f64> = simplex.iter().map(|s| f(s)).collect();
    let mut best = 0usize;
    let mut order: Vec<usize> = (0..=n).collect();
    let mut xo = vec![0.0; n];
    let mut xr = vec![0.0; n];
    let mut xt = vec![0.0; n];
    for _ in 0..max_iter {
        for (i, o) in order.iter_mut().enumerate() {
            *o = i;
        }
        // A stable sort by value, as std::sort on distinct keys; ties keep index order.
        order.sort_by(|&a, &b| fs[a].partial_cmp(&fs[b]).unwrap_or(std::cmp::Ordering::Equal));
        best = order[0];
        let worst = order[n];
        let second = order[n - 1];
        let mean = fs.iter().sum::<f64>() / (n + 1) as f64;
        let sd = (fs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n + 1) as f64).sqrt();
        if sd < tol_std {
            break;
        }
        for j in 0..n {
            let s: f64 = simplex.iter().map(|r| r[j]).sum();
            xo[j] = (s - simplex[worst][j]) / nf;
        }
        for j in 0..n {
            xr[j] = xo[j] + alpha * (xo[j] - simplex[worst][j]);
        }
        clamp(&mut xr);
        let fr = f(&xr);
        if fs[best] <= fr && fr < fs[second] {
            simplex[worst].copy_from_slice(&xr);
            fs[worst] = fr;
            continue;
        }
        if fr < fs[best] {
            for j in 0..n {
                xt[j] = xo[j] + gamma * (xr[j] - xo[j]);
            }
            clamp(&mut xt);
            let fe = f(&xt);
            if fe < fr {
                simplex[worst].copy_from_slice(&xt);
                fs[worst] = fe;
            } else {
                simplex[worst].copy_from_slice(&xr);
                fs[worst] = fr;
            }
            continue;
        }
        if fs[second] <= fr && fr < fs[worst] {
            for j in 0..n {
                xt[j] = xo[j] + rho * (xr[j] - xo[j]);
            }
            clamp(&mut xt);
            let fc = f(&xt);
            if fc <= fr {
                simplex[worst].copy_from_slice(&xt);
                fs[worst] = fc;
                continue;
            }
        } else {
            for j in 0..n {
                xt[j] = xo[j] - rho * (xr[j] - xo[j]);
            }
            clamp(&mut xt);
            let fc = f(&xt);
            if fc < fs[worst] {
                simplex[worst].copy_from_slice(&xt);
                fs[worst] = fc;
                continue;
            }
        }
        let bx = simplex[best].clone();
        for j in 0..=n {
            if j == best {
                continue;
            }
            for c in 0..n {
                simplex[j][c] = bx[c] + sigma * (simplex[j][c] - bx[c]);
            }
            clamp(&mut simplex[j]);
            fs[j] = f(&simplex[j]);
        }
    }
    Minimum { x: simplex[best].clone(), fun: fs[best], hess_inv: vec![], status: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfgs_finds_rosenbrock_minimum() {
        let f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = bfgs(f, &[-1.2, 1.0], 1e-8, 200);
        assert!((m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4, "{:?}", m);
    }

    #[test]
    fn bfgs_inverse_hessian_of_quadratic() {
        // f = x'Ax/2 with A = [[2, 0.5], [0.5, 1]]: H^-1 = A^-1.
        let f = |x: &[f64]| 0.5 * (2.0 * x[0] * x[0] + x[0] * x[1] + x[1] * x[1]) + x[0];
        let m = bfgs(f, &[1.0, 1.0], 1e-8, 100);
        let det = 2.0 - 0.25;
        let inv = [1.0 / det, -0.5 / det, -0.5 / det, 2.0 / det];
        for i in 0..4 {
            assert!((m.hess_inv[i] - inv[i]).abs() < 1e-3, "{:?}", m.hess_inv);
        }
    }

    #[test]
    fn nelder_mead_respects_bounds() {
        let f = |x: &[f64]| (x[0] - 3.0).powi(2) + (x[1] - 0.5).powi(2);
        let m = nelder_mead(f, &[1.0, 1.0], &[0.0, 0.0], &[2.0, 2.0], 0.05, 1e-4, 1000, 1e-10);
        assert!((m.x[0] - 2.0).abs() < 1e-3 && (m.x[1] - 0.5).abs() < 1e-3, "{:?}", m);
    }
}
