//! ARIMA in state-space form and its exact Gaussian likelihood (Gardner, Harvey &
//! Phillips 1980; the form R's `arima` and statsforecast use). Differencing lives in the
//! state (Durbin & Koopman's diffuse treatment with a large `kappa`), so the likelihood
//! of an ARIMA(p,d,q)(P,D,Q)[s] is computed on the undifferenced series.

/// State-space form of an ARIMA model (R's `makeARIMA`).
#[derive(Debug, Clone)]
pub struct StateSpace {
    pub phi: Vec<f64>,
    /// MA coefficients padded with zeros to length r-1.
    pub theta: Vec<f64>,
    pub delta: Vec<f64>,
    pub z: Vec<f64>,
    /// Filtered state after the last observation (forecast origin).
    pub a: Vec<f64>,
    /// Filtered state covariance (rd×rd, column-major as R's).
    pub p: Vec<f64>,
    pub t: Vec<f64>,
    pub v: Vec<f64>,
    /// Initial (prior) state covariance.
    pub pn: Vec<f64>,
    pub r: usize,
    pub rd: usize,
}

impl StateSpace {
    pub fn new(phi: &[f64], theta: &[f64], delta: &[f64], kappa: f64) -> StateSpace {
        let p = phi.len();
        let q = theta.len();
        let r = p.max(q + 1);
        let d = delta.len();
        let rd = r + d;
        let mut z = vec![0.0; rd];
        z[0] = 1.0;
        z[r..].copy_from_slice(delta);
        // T is stored row-major here: t[i*rd + j].
        let mut t = vec![0.0; rd * rd];
        for i in 0..p {
            t[i * rd] = phi[i];
        }
        for i in 1..r {
            t[(i - 1) * rd + i] = 1.0;
        }
        if d > 0 {
            for j in 0..rd {
                t[r * rd + j] = z[j];
            }
            for i in 1..d {
                t[(r + i) * rd + r + i - 1] = 1.0;
            }
        }
        let mut th = theta.to_vec();
        th.resize(r - 1, 0.0);
        let mut rv = vec![0.0; rd];
        rv[0] = 1.0;
        rv[1..r].copy_from_slice(&th);
        let mut v = vec![0.0; rd * rd];
        for i in 0..rd {
            for j in 0..rd {
                v[i * rd + j] = rv[i] * rv[j];
            }
        }
        let mut pn = vec![0.0; rd * rd];
        if r > 1 {
            let q0 = get_q0(phi, &th);
            for i in 0..r {
                for j in 0..r {
                    pn[i * rd + j] = q0[i * r + j];
                }
            }
        } else {
            pn[0] = if p > 0 { 1.0 / (1.0 - phi[0] * phi[0]) } else { 1.0 };
        }
        for i in 0..d {
            pn[(r + i) * rd + r + i] = kappa;
        }
        StateSpace {
            phi: phi.to_vec(),
            theta: th,
            delta: delta.to_vec(),
            z,
            a: vec![0.0; rd],
            p: vec![0.0; rd * rd],
            t,
            v,
            pn,
            r,
            rd,
        }
    }

    /// Replaces the ARMA coefficients (R's `upARIMA`): new transition, new stationary
    /// prior for the ARMA block, state mean reset to zero.
    pub fn update(&mut self, phi: &[f64], theta: &[f64]) {
        let p = phi.len();
        let r = self.r;
        let rd = self.rd;
        self.phi.clear();
        self.phi.extend_from_slice(phi);
        for (i, th) in self.theta.iter_mut().enumerate() {
            *th = if i < theta.len() { theta[i] } else { 0.0 };
        }
        for i in 0..p {
            self.t[i * rd] = phi[i];
        }
        if r > 1 {
            let q0 = get_q0(phi, &self.theta);
            for i in 0..r {
                for j in 0..r {
                    self.pn[i * rd + j] = q0[i * r + j];
                }
            }
        } else {
            self.pn[0] = if p > 0 { 1.0 / (1.0 - phi[0] * phi[0]) } else { 1.0 };
        }
        self.a.iter_mut().for_each(|v| *v = 0.0);
    }
}

/// Result of one pass of the Kalman filter.
#[derive(Debug, Clone, Copy)]
pub struct Likelihood {
    pub ssq: f64,
    pub sumlog: f64,
    pub nu: usize,
}

/// Runs the Kalman filter over `y` (R's `ARIMA_Like`). `pn` holds the prior covariance
/// on entry and is used as scratch for the one-step predicted covariance, as in R; on
/// exit `a`/`p` hold the filtered state at the end. Standardised innovations go to
/// `resid` when given. Observations whose prediction variance is above 1e4 (the diffuse
/// start of differenced models) do not enter the likelihood.
pub fn arima_like(y: &[f64], m: &mut StateSpace, pn: &mut [f64], up: usize, mut resid: Option<&mut [f64]>) -> Likelihood {
    let n = y.len();
    let d = m.delta.len();
    let rd = m.rd;
    let r = m.r;
    let p = m.phi.len();
    let phi = &m.phi;
    let theta = &m.theta;
    let delta = &m.delta;
    let a = &mut m.a;
    let pm = &mut m.p;
    let mut ssq = 0.0;
    let mut sumlog = 0.0;
    let mut nu = 0usize;
    let mut anew = vec![0.0; rd];
    let mut mv = vec![0.0; rd];
    let mut mm = if d > 0 { vec![0.0; rd * rd] } else { Vec::new() };
    // V = R R' is added to each predicted covariance.
    let rv = r_vector(theta, r);
    // The differencing polynomial's non-zero coefficients: (1-B)(1-B^12) has 3 of 13.
    let diff_taps: Vec<(usize, f64)> = delta.iter().copied().enumerate().filter(|&(_, v)| v != 0.0).collect();
    // Indexing below is column-major (i + rd*j) as in R; the matrices are symmetric,
    // so the storage order of the prior does not matter.
    for l in 0..n {
        for i in 0..r {
            let mut tmp = if i < r - 1 { a[i + 1] } else { 0.0 };
            if i < p {
                tmp += phi[i] * a[0];
            }
            anew[i] = tmp;
        }
        if d > 0 {
            for i in (r + 1)..rd {
                anew[i] = a[i - 1];
            }
            let mut tmp = a[0];
            for i in 0..d {
                tmp += delta[i] * a[r + i];
            }
            anew[r] = tmp;
        }
        if l > up {
            if d == 0 {
                predict_covariance_arma(pm, pn, phi, &rv, r);
            } else {
                predict_covariance_differenced(pm, pn, &mut mm, phi, theta, &rv, &diff_taps, r, rd);
            }
        }
        if !y[l].is_nan() {
            let mut res = y[l] - anew[0];
            for i in 0..d {
                res -= delta[i] * anew[r + i];
            }
            // mv = Pn z (z = e_0 + sum_k delta_k e_{r+k}), column by column; zero
            // differencing coefficients add nothing.
            mv.copy_from_slice(&pn[..rd]);
            for &(k, dk) in &diff_taps {
                let col = &pn[(r + k) * rd..(r + k + 1) * rd];
                for (v, c) in mv.iter_mut().zip(col) {
                    *v += c * dk;
                }
            }
            let mut gain = mv[0];
            for &(k, dk) in &diff_taps {
                gain += dk * mv[r + k];
            }
            if gain < 1e4 {
                nu += 1;
                ssq += if gain == 0.0 { f64::INFINITY } else { res * res / gain };
                sumlog += gain.ln();
            }
            if let Some(rs) = resid.as_deref_mut() {
                rs[l] = if gain == 0.0 { f64::INFINITY } else { res / gain.sqrt() };
            }
            if gain == 0.0 {
                for i in 0..rd {
                    a[i] = f64::INFINITY;
                    for j in 0..rd {
                        pn[i + j * rd] = f64::INFINITY;
                    }
                }
            } else {
                for i in 0..rd {
                    a[i] = anew[i] + mv[i] * res / gain;
                }
                // P = Pn - mv mv' / gain, one contiguous column at a time.
                for j in 0..rd {
                    let mj = mv[j] / gain;
                    let (dst, src) = (&mut pm[j * rd..(j + 1) * rd], &pn[j * rd..(j + 1) * rd]);
                    for ((o, &s), &mi) in dst.iter_mut().zip(src).zip(mv.iter()) {
                        *o = s - mi * mj;
                    }
                }
            }
        } else {
            a.copy_from_slice(&anew);
            pm.copy_from_slice(&pn[..rd * rd]);
            if let Some(rs) = resid.as_deref_mut() {
                rs[l] = f64::NAN;
            }
        }
    }
    Likelihood { ssq, sumlog, nu }
}

/// Pn = T P T' + V for an undifferenced ARMA state (R's loops, reordered so each
/// column is written contiguously and split by which terms apply, so the inner loops
/// carry no branches; the same sums in the same order). `rv` is R = (1, theta).
#[inline]
fn predict_covariance_arma(pm: &[f64], pn: &mut [f64], phi: &[f64], rv: &[f64], r: usize) {
    let p = phi.len();
    for j in 0..r {
        let out = &mut pn[r * j..r * (j + 1)];
        match (j < p, j < r - 1) {
            (true, true) => arma_column::<true, true>(pm, out, phi, rv, r, j),
            (true, false) => arma_column::<true, false>(pm, out, phi, rv, r, j),
            (false, true) => arma_column::<false, true>(pm, out, phi, rv, r, j),
            (false, false) => arma_column::<false, false>(pm, out, phi, rv, r, j),
        }
    }
}

/// Column j of T P T' + V; JP: j < p, JN: j < r - 1.
#[inline(always)]
fn arma_column<const JP: bool, const JN: bool>(pm: &[f64], out: &mut [f64], phi: &[f64], rv: &[f64], r: usize, j: usize) {
    let p = phi.len();
    let p00 = pm[0];
    let phij = if JP { phi[j] } else { 0.0 };
    let pm_next = if JN { pm[j + 1] } else { 0.0 };
    let col_next: &[f64] = if JN { &pm[r * (j + 1)..r * (j + 2)] } else { &[] };
    let v = |i: usize| if j == 0 { rv[i] } else { rv[i] * rv[j] };
    let both = p.min(r - 1);
    // i < p and i < r - 1.
    for i in 0..both {
        let mut tmp = v(i);
        if JP {
            tmp += phi[i] * phij * p00;
        }
        if JN {
            tmp += col_next[i + 1];
            tmp += phi[i] * pm_next;
        }
        if JP {
            tmp += phij * pm[i + 1];
        }
        out[i] = tmp;
    }
    // p <= i < r - 1.
    for i in both..r - 1 {
        let mut tmp = v(i);
        if JN {
            tmp += col_next[i + 1];
        }
        if JP {
            tmp += phij * pm[i + 1];
        }
        out[i] = tmp;
    }
    // i = r - 1 (i < p only when p = r).
    let i = r - 1;
    let mut tmp = v(i);
    if p == r {
        if JP {
            tmp += phi[i] * phij * p00;
        }
        if JN {
            tmp += phi[i] * pm_next;
        }
    }
    out[i] = tmp;
}

/// Pn = T P T' + V for an ARMA state followed by the differencing states: M = T P
/// column by column, then Pn = M T'. Only the differencing polynomial's non-zero
/// coefficients (`taps`) are visited.
#[allow(clippy::too_many_arguments)]
#[inline]
fn predict_covariance_differenced(
    pm: &[f64],
    pn: &mut [f64],
    mm: &mut [f64],
    phi: &[f64],
    theta: &[f64],
    rv: &[f64],
    taps: &[(usize, f64)],
    r: usize,
    rd: usize,
) {
    let p = phi.len();
    let q = theta.len();
    let d = rd - r;
    for j in 0..rd {
        let col = &pm[rd * j..rd * (j + 1)];
        let out = &mut mm[rd * j..rd * (j + 1)];
        let p0j = col[0];
        // Row i < r of T: phi_i in column 0 (i < p), 1 in column i + 1 (i < r - 1).
        let both = p.min(r - 1);
        for i in 0..both {
            out[i] = 0.0 + phi[i] * p0j + col[i + 1];
        }
        out[both..r - 1].copy_from_slice(&col[both + 1..r]);
        out[r - 1] = if p == r { 0.0 + phi[r - 1] * p0j } else { 0.0 };
        let mut tmp = p0j;
        for &(k, dk) in taps {
            tmp += dk * col[r + k];
        }
        out[r] = tmp;
        out[r + 1..r + d].copy_from_slice(&col[r..r + d - 1]);
    }
    // Pn[:, i] = phi_i M[:, 0] + M[:, i+1] for the ARMA columns.
    for i in 0..r {
        let (head, rest) = mm.split_at(rd * (i + 1));
        let m0 = &head[..rd];
        let out = &mut pn[rd * i..rd * (i + 1)];
        match (i < p, i < r - 1) {
            (true, true) => {
                let next = &rest[..rd];
                for ((o, &a), &b) in out.iter_mut().zip(m0).zip(next) {
                    *o = 0.0 + phi[i] * a + b;
                }
            }
            (true, false) => {
                for (o, &a) in out.iter_mut().zip(m0) {
                    *o = 0.0 + phi[i] * a;
                }
            }
            (false, true) => out.copy_from_slice(&rest[..rd]),
            (false, false) => out.iter_mut().for_each(|o| *o = 0.0),
        }
    }
    {
        let (m0, _) = mm.split_at(rd);
        pn[rd * r..rd * (r + 1)].copy_from_slice(m0);
        for &(k, dk) in taps {
            let src = &mm[rd * (r + k)..rd * (r + k + 1)];
            for (o, &s) in pn[rd * r..rd * (r + 1)].iter_mut().zip(src) {
                *o += dk * s;
            }
        }
    }
    if d > 1 {
        for i in 1..d {
            let (dst, src) = (rd * (r + i), rd * (r + i - 1));
            pn[dst..dst + rd].copy_from_slice(&mm[src..src + rd]);
        }
    }
    // V = R R' on the ARMA block, a contiguous column at a time.
    let k = q.min(r - 1) + 1;
    for j in 0..k {
        let col = &mut pn[rd * j..rd * j + k];
        if j == 0 {
            for (o, &vi) in col.iter_mut().zip(&rv[..k]) {
                *o += vi;
            }
        } else {
            let tj = theta[j - 1];
            for (o, &vi) in col.iter_mut().zip(&rv[..k]) {
                *o += vi * tj;
            }
        }
    }
}

/// Stationary covariance of the ARMA state, r×r row-major.
///
/// Gardner et al.'s method (AS 154, what R and statsforecast use) costs O(r^6): about 20
/// ms at r = 26, a seasonal AR(2)[12] with two regular AR terms, and the optimiser calls it
/// at every step. For such states we solve the same Lyapunov equation P = T P T' + R R'
/// by doubling (O(r^3) per step, quadratic convergence), which gives the same matrix to
/// rounding; small states keep Gardner's algorithm.
const Q0_GARDNER_MAX_R: usize = 8;

pub fn get_q0(phi: &[f64], theta: &[f64]) -> Vec<f64> {
    let p = phi.len();
    let q = theta.len();
    let r = p.max(q + 1);
    if p > 0 && r > Q0_GARDNER_MAX_R {
        if let Some(v) = q0_autocovariance(phi, theta).or_else(|| q0_doubling(phi, theta)) {
            return v;
        }
    }
    get_q0_gardner(phi, theta)
}

/// The same stationary covariance from the ARMA autocovariances, in O(p^3 + r^2): the
/// first row is Cov(y_t, a_t[j]) = sum_m phi_{j+1+m} gamma(1+m) + theta_{j+m} psi_m (the
/// state unrolled into past values and shocks), and P = T P T' + R R' then gives each
/// entry from its upper-left neighbour,
/// P[i+1][j+1] = P[i][j] - R_i R_j - phi_{i+1} phi_{j+1} P[0][0] - phi_{i+1} P[0][j+1]
///               - phi_{j+1} P[0][i+1].
/// None when the autocovariance system is singular or the result is not a covariance
/// (a non-stationary AR part), so the caller falls back.
fn q0_autocovariance(phi: &[f64], theta: &[f64]) -> Option<Vec<f64>> {
    let p = phi.len();
    let q = theta.len();
    let r = p.max(q + 1);
    let ph = |k: usize| if (1..=p).contains(&k) { phi[k - 1] } else { 0.0 };
    let th = |k: usize| if k == 0 { 1.0 } else if k <= q { theta[k - 1] } else { 0.0 };
    // psi weights of the MA(infinity) form, psi_0..psi_r.
    let mut psi = vec![0.0; r + 1];
    for m in 0..=r {
        let mut v = th(m);
        for k in 1..=p.min(m) {
            v += phi[k - 1] * psi[m - k];
        }
        psi[m] = v;
    }
    // gamma(h) - sum_k phi_k gamma(|h-k|) = sum_{j=h}^{q} theta_j psi_{j-h}, h = 0..p.
    let c = |h: usize| (h..=q).map(|j| th(j) * psi[j - h]).sum::<f64>();
    let n = p + 1;
    let mut mat = vec![0.0; n * n];
    let mut rhs: Vec<f64> = (0..n).map(c).collect();
    for h in 0..n {
        mat[h * n + h] += 1.0;
        for k in 1..=p {
            mat[h * n + h.abs_diff(k)] -= phi[k - 1];
        }
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..n {
        let piv = (col..n).max_by(|&a, &b| mat[a * n + col].abs().total_cmp(&mat[b * n + col].abs()))?;
        if mat[piv * n + col] == 0.0 || !mat[piv * n + col].is_finite() {
            return None;
        }
        if piv != col {
            for k in 0..n {
                mat.swap(piv * n + k, col * n + k);
            }
            rhs.swap(piv, col);
        }
        let d = mat[col * n + col];
        for row in col + 1..n {
            let f = mat[row * n + col] / d;
            if f != 0.0 {
                for k in col..n {
                    mat[row * n + k] -= f * mat[col * n + k];
                }
                rhs[row] -= f * rhs[col];
            }
        }
    }
    let mut gamma = vec![0.0; r + 1];
    for row in (0..n).rev() {
        let mut v = rhs[row];
        for k in row + 1..n {
            v -= mat[row * n + k] * gamma[k];
        }
        gamma[row] = v / mat[row * n + row];
    }
    for h in n..=r {
        gamma[h] = c(h) + (1..=p).map(|k| phi[k - 1] * gamma[h - k]).sum::<f64>();
    }
    if !(gamma[0] > 0.0) || !gamma.iter().all(|g| g.is_finite()) {
        return None;
    }
    let mut out = vec![0.0; r * r];
    out[0] = gamma[0];
    for j in 1..r {
        let v: f64 = (0..r - j).map(|m| ph(j + 1 + m) * gamma[1 + m] + th(j + m) * psi[m]).sum();
        out[j] = v;
        out[j * r] = v;
    }
    for i in 0..r - 1 {
        for j in i..r - 1 {
            let v = out[i * r + j]
                - th(i) * th(j)
                - ph(i + 1) * ph(j + 1) * out[0]
                - ph(i + 1) * out[j + 1]
                - ph(j + 1) * out[i + 1];
            out[(i + 1) * r + j + 1] = v;
            out[(j + 1) * r + i + 1] = v;
        }
    }
    if !out.iter().all(|v| v.is_finite()) || (0..r).any(|i| out[i * r + i] < 0.0) {
        return None;
    }
    Some(out)
}

/// R = (1, theta_1, .., theta_{r-1}), zero-padded to the state size r.
fn r_vector(theta: &[f64], r: usize) -> Vec<f64> {
    let mut rv = vec![0.0; r];
    rv[0] = 1.0;
    for i in 1..r {
        rv[i] = if i - 1 < theta.len() { theta[i - 1] } else { 0.0 };
    }
    rv
}

fn q0_doubling(phi: &[f64], theta: &[f64]) -> Option<Vec<f64>> {
    let p = phi.len();
    let r = p.max(theta.len() + 1);
    let mut a = vec![0.0; r * r];
    for i in 0..p {
        a[i * r] = phi[i];
    }
    for i in 1..r {
        a[(i - 1) * r + i] = 1.0;
    }
    let rv = r_vector(theta, r);
    let mut pm: Vec<f64> = (0..r * r).map(|k| rv[k / r] * rv[k % r]).collect();
    let mut ap = vec![0.0; r * r];
    let mut apa = vec![0.0; r * r];
    let mut a2 = vec![0.0; r * r];
    for _ in 0..64 {
        matmul(&a, &pm, &mut ap, r, false);
        matmul(&ap, &a, &mut apa, r, true);
        let mut big = 0.0f64;
        let mut inc = 0.0f64;
        for k in 0..r * r {
            pm[k] += apa[k];
            big = big.max(pm[k].abs());
            inc = inc.max(apa[k].abs());
        }
        if !big.is_finite() {
            return None;
        }
        if inc <= 1e-17 * big {
            return Some(pm);
        }
        matmul(&a, &a, &mut a2, r, false);
        std::mem::swap(&mut a, &mut a2);
    }
    None
}

/// out = x · y (or x · y' when `transpose_y`), r×r row-major.
fn matmul(x: &[f64], y: &[f64], out: &mut [f64], r: usize, transpose_y: bool) {
    for i in 0..r {
        for j in 0..r {
            let mut s = 0.0;
            for k in 0..r {
                let yk = if transpose_y { y[j * r + k] } else { y[k * r + j] };
                s += x[i * r + k] * yk;
            }
            out[i * r + j] = s;
        }
    }
}

/// Gardner et al. (1980), AS 154.
fn get_q0_gardner(phi: &[f64], theta: &[f64]) -> Vec<f64> {
    let p = phi.len();
    let q = theta.len();
    let r = p.max(q + 1);
    let np = r * (r + 1) / 2;
    let nrbar = np * (np - 1) / 2;
    let mut res = vec![0.0; (r * r).max(np)];
    let mut v = vec![0.0; np];
    {
        let mut ind = 0;
        for j in 0..r {
            let vj = if j == 0 { 1.0 } else if j - 1 < q { theta[j - 1] } else { 0.0 };
            for i in j..r {
                let vi = if i == 0 { 1.0 } else if i - 1 < q { theta[i - 1] } else { 0.0 };
                v[ind] = vi * vj;
                ind += 1;
            }
        }
    }
    if r == 1 {
        res[0] = if p == 0 { 1.0 } else { 1.0 / (1.0 - phi[0] * phi[0]) };
        res.truncate(1);
        return res;
    }
    if p > 0 {
        let mut rbar = vec![0.0; nrbar];
        let mut thetab = vec![0.0; np];
        let mut xnext = vec![0.0; np];
        let mut xrow = vec![0.0; np];
        let mut ind = 0usize;
        let mut ind1: isize = -1;
        let npr = np - r;
        let npr1 = npr + 1;
        let mut indj = npr;
        let mut ind2 = npr as isize - 1;
        for j in 0..r {
            let phij = if j < p { phi[j] } else { 0.0 };
            let mut indi = npr1 + j;
            xnext[indj] = 0.0;
            indj += 1;
            for i in j..r {
                let ynext = v[ind];
                ind += 1;
                let phii = if i < p { phi[i] } else { 0.0 };
                if j != r - 1 {
                    xnext[indj] = -phii;
                    if i != r - 1 {
                        xnext[indi] -= phij;
                        ind1 += 1;
                        xnext[ind1 as usize] = -1.0;
                    }
                }
                xnext[npr] = -phii * phij;
                ind2 += 1;
                if ind2 as usize >= np {
                    ind2 = 0;
                }
                xnext[ind2 as usize] += 1.0;
                inclu2(&xnext, &mut xrow, ynext, &mut res[..np], &mut rbar, &mut thetab);
                xnext[ind2 as usize] = 0.0;
                if i != r - 1 {
                    xnext[indi] = 0.0;
                    indi += 1;
                    xnext[ind1 as usize] = 0.0;
                }
            }
        }
        let mut ithisr = nrbar as isize - 1;
        let mut im = np as isize - 1;
        for i in 0..np {
            let mut bi = thetab[im as usize];
            let mut jm = np as isize - 1;
            for _ in 0..i {
                bi -= rbar[ithisr as usize] * res[jm as usize];
                ithisr -= 1;
                jm -= 1;
            }
            res[im as usize] = bi;
            im -= 1;
        }
        let mut ind = npr;
        for i in 0..r {
            xnext[i] = res[ind];
            ind += 1;
        }
        let mut ind = np as isize - 1;
        let mut ind1 = npr as isize - 1;
        for _ in 0..npr {
            res[ind as usize] = res[ind1 as usize];
            ind -= 1;
            ind1 -= 1;
        }
        res[..r].copy_from_slice(&xnext[..r]);
    } else {
        let mut ind = np;
        let mut indn = np;
        for i in 0..r {
            for j in 0..=i {
                ind -= 1;
                res[ind] = v[ind];
                if j != 0 {
                    indn -= 1;
                    res[ind] += res[indn];
                }
            }
        }
    }
    // Unpack the packed upper triangle into a full symmetric r×r matrix.
    let mut ind = np;
    for i in (1..r).rev() {
        for j in (i..r).rev() {
            ind -= 1;
            res[r * i + j] = res[ind];
        }
    }
    for i in 0..r - 1 {
        for j in (i + 1)..r {
            res[i + r * j] = res[j + r * i];
        }
    }
    res.truncate(r * r);
    res
}

fn inclu2(xnext: &[f64], xrow: &mut [f64], mut ynext: f64, d: &mut [f64], rbar: &mut [f64], thetab: &mut [f64]) {
    let np = xnext.len();
    xrow.copy_from_slice(xnext);
    let mut ithisr = 0usize;
    for i in 0..np {
        if xrow[i] != 0.0 {
            let xi = xrow[i];
            let di = d[i];
            let dpi = di + xi * xi;
            d[i] = dpi;
            let (cbar, sbar) = if dpi == 0.0 { (f64::INFINITY, f64::INFINITY) } else { (di / dpi, xi / dpi) };
            for k in (i + 1)..np {
                let xk = xrow[k];
                let rbthis = rbar[ithisr];
                xrow[k] = xk - xi * rbthis;
                rbar[ithisr] = cbar * rbthis + sbar * xk;
                ithisr += 1;
            }
            let xk = ynext;
            ynext = xk - xi * thetab[i];
            thetab[i] = cbar * thetab[i] + sbar * xk;
            if di == 0.0 {
                return;
            }
        } else {
            ithisr += np - i - 1;
        }
    }
}

/// h-step forecasts and their variances (in units of sigma²) from the filtered state.
pub fn kalman_forecast(m: &StateSpace, h: usize) -> (Vec<f64>, Vec<f64>) {
    let rd = m.rd;
    let mut a = m.a.clone();
    // P is column-major in the filter; symmetric, so reading it row-major is the same.
    let mut p = m.p.clone();
    let mut na = vec![0.0; rd];
    let mut tp = vec![0.0; rd * rd];
    let mut fc = Vec::with_capacity(h);
    let mut se = Vec::with_capacity(h);
    for _ in 0..h {
        for i in 0..rd {
            na[i] = (0..rd).map(|j| m.t[i * rd + j] * a[j]).sum();
        }
        a.copy_from_slice(&na);
        fc.push((0..rd).map(|i| a[i] * m.z[i]).sum());
        for i in 0..rd {
            for j in 0..rd {
                tp[i * rd + j] = (0..rd).map(|k| m.t[i * rd + k] * p[k * rd + j]).sum();
            }
        }
        for i in 0..rd {
            for j in 0..rd {
                p[i * rd + j] = m.v[i * rd + j] + (0..rd).map(|k| tp[i * rd + k] * m.t[j * rd + k]).sum::<f64>();
            }
        }
        let mut s = 0.0;
        for i in 0..rd {
            for j in 0..rd {
                s += m.z[i] * m.z[j] * p[i * rd + j];
            }
        }
        se.push(s);
    }
    (fc, se)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Autocovariances of an ARMA(p,q) by brute force (long MA(∞) expansion).
    fn acvf(phi: &[f64], theta: &[f64], lags: usize) -> Vec<f64> {
        let k = 4000;
        let mut psi = vec![0.0; k];
        psi[0] = 1.0;
        for j in 1..k {
            let mut v = if j - 1 < theta.len() { theta[j - 1] } else { 0.0 };
            for (i, ph) in phi.iter().enumerate() {
                if j > i {
                    v += ph * psi[j - 1 - i];
                }
            }
            psi[j] = v;
        }
        (0..lags).map(|h| (0..k - h).map(|j| psi[j] * psi[j + h]).sum()).collect()
    }

    /// Coefficients of lags 1..=len, zero but at the given (lag - 1, value) places.
    fn lags(len: usize, nonzero: &[(usize, f64)]) -> Vec<f64> {
        let mut c = vec![0.0; len];
        for &(i, v) in nonzero {
            c[i] = v;
        }
        c
    }

    /// (1 - 0.5B)(1 - 0.4B^12) as AR coefficients (the -0.2 is their product): r = 13.
    fn seasonal_ar() -> Vec<f64> {
        lags(13, &[(0, 0.5), (11, 0.4), (12, -0.2)])
    }

    #[test]
    fn q0_from_autocovariances_equals_gardner_and_doubling() {
        let seasonal = seasonal_ar();
        let near_unit = lags(14, &[(0, 0.9), (11, 0.95), (12, -0.855)]);
        let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
            (vec![0.6], vec![]),
            (vec![0.5, -0.3], vec![0.4]),
            (vec![0.2], vec![0.3, -0.2, 0.1]),
            (vec![-0.7, 0.1, 0.05], vec![0.6, 0.2]),
            (vec![0.99], vec![-0.5]),
            (seasonal.clone(), vec![0.3]),
            (vec![0.4], lags(13, &[(0, -0.4), (11, -0.6), (12, 0.24)])),
            (near_unit, vec![0.2]),
        ];
        for (phi, theta) in cases {
            let a = q0_autocovariance(&phi, &theta).unwrap();
            let g = get_q0_gardner(&phi, &theta);
            let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for k in 0..g.len() {
                assert!((a[k] - g[k]).abs() < 1e-9 * scale, "{phi:?} {theta:?} {k}: {} vs {}", a[k], g[k]);
            }
            if let Some(d) = q0_doubling(&phi, &theta) {
                for k in 0..d.len() {
                    assert!((a[k] - d[k]).abs() < 1e-9 * scale, "{phi:?} {theta:?} {k}: {} vs {}", a[k], d[k]);
                }
            }
        }
        // A non-stationary AR part has no stationary covariance.
        assert!(q0_autocovariance(&[1.2], &[]).is_none());
        assert!(q0_autocovariance(&[0.5, 0.6], &[0.3]).is_none());
    }

    /// T P T' + V with dense matrices (row-major T and V from StateSpace::new).
    fn dense_prediction(m: &StateSpace, pm: &[f64]) -> Vec<f64> {
        let rd = m.rd;
        let mut tp = vec![0.0; rd * rd];
        for i in 0..rd {
            for j in 0..rd {
                tp[i * rd + j] = (0..rd).map(|k| m.t[i * rd + k] * pm[k * rd + j]).sum();
            }
        }
        let mut out = vec![0.0; rd * rd];
        for i in 0..rd {
            for j in 0..rd {
                out[i * rd + j] = (0..rd).map(|k| tp[i * rd + k] * m.t[j * rd + k]).sum::<f64>() + m.v[i * rd + j];
            }
        }
        out
    }

    #[test]
    fn covariance_prediction_equals_dense_algebra() {
        let seasonal_ar = seasonal_ar();
        let seasonal_diff = lags(13, &[(0, 1.0), (11, 1.0), (12, -1.0)]);
        let cases: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![
            (vec![0.6], vec![0.3], vec![]),
            (vec![0.5, -0.3], vec![0.4, 0.1, -0.2], vec![]),
            (vec![], vec![0.7, 0.2], vec![]),
            (vec![0.2, 0.1, 0.05], vec![], vec![]),
            (vec![0.4], vec![-0.3], vec![1.0]),
            (vec![0.1, 0.2], vec![], vec![2.0, -1.0]),
            (seasonal_ar.clone(), vec![0.3], seasonal_diff.clone()),
            (vec![], vec![-0.5], seasonal_diff.clone()),
            (seasonal_ar, vec![], vec![1.0]),
        ];
        for (phi, theta, delta) in cases {
            let m = StateSpace::new(&phi, &theta, &delta, 1e6);
            let rd = m.rd;
            // A symmetric positive definite P: L L' with a deterministic L.
            let l: Vec<f64> = (0..rd * rd).map(|k| if k % rd <= k / rd { 1.0 + ((k * 37 % 11) as f64) / 7.0 } else { 0.0 }).collect();
            let mut pm = vec![0.0; rd * rd];
            for i in 0..rd {
                for j in 0..rd {
                    pm[i * rd + j] = (0..rd).map(|k| l[i * rd + k] * l[j * rd + k]).sum();
                }
            }
            let want = dense_prediction(&m, &pm);
            let mut got = vec![0.0; rd * rd];
            if delta.is_empty() {
                let rv = r_vector(&m.theta, m.r);
                predict_covariance_arma(&pm, &mut got, &m.phi, &rv, m.r);
            } else {
                let taps: Vec<(usize, f64)> = delta.iter().copied().enumerate().filter(|&(_, v)| v != 0.0).collect();
                let mut mm = vec![0.0; rd * rd];
                let rv = r_vector(&m.theta, m.r);
                predict_covariance_differenced(&pm, &mut got, &mut mm, &m.phi, &m.theta, &rv, &taps, m.r, rd);
            }
            let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            for k in 0..rd * rd {
                assert!((got[k] - want[k]).abs() <= 1e-12 * scale, "{phi:?} {theta:?} {delta:?} {k}: {} vs {}", got[k], want[k]);
            }
        }
    }

    #[test]
    fn q0_doubling_equals_gardner() {
        // A seasonal AR(1)(1)[12] with MA(1): r = 13.
        let phi = seasonal_ar();
        let theta = [0.3];
        let g = get_q0_gardner(&phi, &theta);
        let d = q0_doubling(&phi, &theta).unwrap();
        for k in 0..g.len() {
            assert!((g[k] - d[k]).abs() < 1e-10 * g[0].abs(), "{k}: {} vs {}", g[k], d[k]);
        }
    }

    #[test]
    fn q0_matches_brute_force_state_covariance() {
        // State of the Harvey form: a_t[0] = y_t, Q0[0][0] = var(y).
        let phi = [0.5, -0.3];
        let theta = [0.4];
        let q0 = get_q0(&phi, &theta);
        let g = acvf(&phi, &theta, 3);
        assert!((q0[0] - g[0]).abs() < 1e-8, "{} vs {}", q0[0], g[0]);
        // Pure MA(2): Q0 from theta only.
        let q0 = get_q0(&[], &[0.5, 0.2]);
        let g = acvf(&[], &[0.5, 0.2], 3);
        assert!((q0[0] - g[0]).abs() < 1e-10);
    }

    /// Exact Gaussian log-likelihood by building the full covariance matrix.
    fn brute_loglik(y: &[f64], phi: &[f64], theta: &[f64]) -> f64 {
        let n = y.len();
        let g = acvf(phi, theta, n);
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] = g[(i as isize - j as isize).unsigned_abs()];
            }
        }
        // Cholesky.
        let mut l = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
                if i == j {
                    l[i * n + i] = (c[i * n + i] - s).sqrt();
                } else {
                    l[i * n + j] = (c[i * n + j] - s) / l[j * n + j];
                }
            }
        }
        let mut z = vec![0.0; n];
        for i in 0..n {
            let s: f64 = (0..i).map(|k| l[i * n + k] * z[k]).sum();
            z[i] = (y[i] - s) / l[i * n + i];
        }
        let logdet: f64 = (0..n).map(|i| 2.0 * l[i * n + i].ln()).sum();
        -0.5 * (n as f64 * (2.0 * std::f64::consts::PI).ln() + logdet + z.iter().map(|v| v * v).sum::<f64>())
    }

    #[test]
    fn kalman_likelihood_equals_brute_force_gaussian() {
        let y = [0.3, -0.5, 1.2, 0.8, -0.1, -1.3, 0.4, 0.9, 0.2, -0.7, 1.1, 0.05];
        for (phi, theta) in [(vec![0.6], vec![]), (vec![0.5, -0.3], vec![0.4]), (vec![], vec![0.7, 0.2])] {
            let mut m = StateSpace::new(&phi, &theta, &[], 1e6);
            let mut pn = m.pn.clone();
            let lk = arima_like(&y, &mut m, &mut pn, 0, None);
            // sigma² = 1: loglik = -0.5 (n log 2π + sumlog + ssq)
            let ll = -0.5 * (y.len() as f64 * (2.0 * std::f64::consts::PI).ln() + lk.sumlog + lk.ssq);
            let bf = brute_loglik(&y, &phi, &theta);
            assert!((ll - bf).abs() < 1e-6, "{phi:?} {theta:?}: {ll} vs {bf}");
        }
    }

    #[test]
    fn differenced_model_likelihood_is_that_of_the_differences() {
        // ARIMA(1,1,0) on y equals AR(1) on diff(y) (the first point is diffuse).
        let y = [1.0, 1.5, 1.2, 2.0, 2.6, 2.1, 2.9, 3.4, 3.0, 3.8];
        let dy: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
        let mut m = StateSpace::new(&[0.4], &[], &[1.0], 1e6);
        let mut pn = m.pn.clone();
        let lk = arima_like(&y, &mut m, &mut pn, 0, None);
        assert_eq!(lk.nu, 9);
        let mut m2 = StateSpace::new(&[0.4], &[], &[], 1e6);
        let mut pn2 = m2.pn.clone();
        let lk2 = arima_like(&dy, &mut m2, &mut pn2, 0, None);
        assert!((lk.ssq - lk2.ssq).abs() < 1e-4 && (lk.sumlog - lk2.sumlog).abs() < 1e-4, "{lk:?} {lk2:?}");
    }
}
