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

/// Minimises `f` from `x0` within `[lower, upper]`.
/// Initial simplex: `x0` plus one vertex per coordinate scaled by `1 + init_step`
/// (or set to `zero_pert` when the coordinate is 0).
pub fn nelder_mead<F>(mut f: F, x0: &[f64], lower: &[f64], upper: &[f64], max_iter: usize, tol_std: f64) -> NmResult
where
    F: FnMut(&[f64]) -> f64,
{
    let n = x0.len();
    let init_step = 0.05;
    let zero_pert = 1.0e-4;
    let alpha = 1.0;
    let nf = n as f64;
    let gamma = 1.0 + 2.0 / nf;
    let rho = 0.75 - 1.0 / (2.0 * nf);
    let sigma = 1.0 - 1.0 / nf;

    let mut start = x0.to_vec();
    clamp_into(&mut start, lower, upper);
    let mut simplex: Vec<Vec<f64>> = vec![start; n + 1];
    for i in 0..n {
        let v = simplex[i][i];
        let v = if v == 0.0 { zero_pert } else { v * (1.0 + init_step) };
        simplex[i][i] = v.max(lower[i]).min(upper[i]);
    }
    let mut fs: Vec<f64> = simplex.iter().map(|x| f(x)).collect();
    let mut order: Vec<usize> = (0..=n).collect();
    let mut best = 0usize;
    let mut it = 0usize;
    let mut centroid = vec![0.0; n];
    let mut xr = vec![0.0; n];
    let mut xt = vec![0.0; n];
    while it < max_iter {
        if population_std(&fs) < tol_std {
            break;
        }
        // NaN sorts last so a failed evaluation is the first vertex replaced.
        order.sort_by(|&a, &b| fs[a].partial_cmp(&fs[b]).unwrap_or_else(|| fs[a].is_nan().cmp(&fs[b].is_nan())));
        best = order[0];
        let worst = order[n];
        let second = order[n - 1];
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
        clamp_into(&mut xr, lower, upper);
        let fr = f(&xr);
        it += 1;
        if fs[best] <= fr && fr < fs[second] {
            simplex[worst].copy_from_slice(&xr);
            fs[worst] = fr;
            continue;
        }
        if fr < fs[best] {
            for j in 0..n {
                xt[j] = centroid[j] + gamma * (xr[j] - centroid[j]);
            }
            clamp_into(&mut xt, lower, upper);
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
                xt[j] = centroid[j] + rho * (xr[j] - centroid[j]);
            }
            clamp_into(&mut xt, lower, upper);
            let fc = f(&xt);
            if fc <= fr {
                simplex[worst].copy_from_slice(&xt);
                fs[worst] = fc;
                continue;
            }
        } else {
            for j in 0..n {
                xt[j] = centroid[j] - rho * (xr[j] - centroid[j]);
            }
            clamp_into(&mut xt, lower, upper);
            let fc = f(&xt);
            if fc < fs[worst] {
                simplex[worst].copy_from_slice(&xt);
                fs[worst] = fc;
                continue;
            }
        }
        // Shrink towards the best vertex (statsforecast shrinks rows 1..=n, whatever the
        // best row's index; the best row maps onto itself).
        let b = simplex[best].clone();
        for j in 1..=n {
            for k in 0..n {
                simplex[j][k] = b[k] + sigma * (simplex[j][k] - b[k]);
            }
            let (lo, hi) = (lower, upper);
            clamp_into(&mut simplex[j], lo, hi);
            fs[j] = f(&simplex[j]);
        }
    }
    // As statsforecast: the vertex that was best at the last ordering.
    NmResult { x: simplex[best].clone(), fx: fs[best], iterations: it }
}

#[cfg(test)]
mod tests {
    use super::*;

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
