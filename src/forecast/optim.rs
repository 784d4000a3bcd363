//! Small derivative-free and quasi-Newton minimisers used by the ARIMA and CES kernels.
//!
//! `bfgs` reproduces scipy's `minimize(method="BFGS")`, which statsforecast uses for ARIMA,
//! step for step: forward-difference gradients with an absolute step of sqrt(eps), the
//! cached last evaluation, the MINPACK-2 line search (dcsrch) with scipy's fallback to its
//! Wolfe zoom, the same inverse-Hessian update and status codes (0 converged, 1 iteration
//! limit, 2 precision loss). Following the same path matters: statsforecast's likelihood
//! surface for differenced models is not smooth between evaluations (see `arima.rs`), so
//! where its optimiser stops is part of what it reports. `nelder_mead`
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

/// The objective as scipy's `ScalarFunction` sees it: the value at the last point is
/// cached (asking again for the same point does not re-evaluate), gradients are forward
/// differences with an absolute step of sqrt(eps) that do not touch the cache.
struct Objective<F> {
    f: F,
    last_x: Vec<f64>,
    last_f: f64,
    has: bool,
    work: Vec<f64>,
}

impl<F: FnMut(&[f64]) -> f64> Objective<F> {
    fn fun(&mut self, x: &[f64]) -> f64 {
        if self.has && self.last_x.as_slice() == x {
            return self.last_f;
        }
        let v = (self.f)(x);
        self.last_x.clear();
        self.last_x.extend_from_slice(x);
        self.last_f = v;
        self.has = true;
        v
    }

    fn grad(&mut self, x: &[f64], g: &mut [f64]) {
        let fx = self.fun(x);
        self.work.clear();
        self.work.extend_from_slice(x);
        for i in 0..x.len() {
            let old = x[i];
            let mut h = (old + FD_STEP) - old;
            if h == 0.0 {
                let sign = if old >= 0.0 { 1.0 } else { -1.0 };
                h = FD_STEP * sign * old.abs().max(1.0);
            }
            self.work[i] = old + h;
            let dx = self.work[i] - old;
            g[i] = ((self.f)(&self.work) - fx) / dx;
            self.work[i] = old;
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    // numpy's amax(abs(.)) propagates NaN.
    a.iter().fold(0.0f64, |m, v| if m.is_nan() || v.is_nan() { f64::NAN } else { m.max(v.abs()) })
}

fn norm2(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Python's max over floats: the first element wins unless a later one compares greater.
fn pymax3(a: f64, b: f64, c: f64) -> f64 {
    let mut m = a;
    if b > m {
        m = b;
    }
    if c > m {
        m = c;
    }
    m
}

fn sign(v: f64) -> f64 {
    if v.is_nan() {
        f64::NAN
    } else if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// One-dimensional view of the objective along a direction (phi, derphi).
struct Line<'a, F> {
    obj: &'a mut Objective<F>,
    xk: &'a [f64],
    pk: &'a [f64],
    xt: Vec<f64>,
    gval: Vec<f64>,
    gval_alpha: Option<f64>,
}

impl<'a, F: FnMut(&[f64]) -> f64> Line<'a, F> {
    fn point(&mut self, a: f64) {
        self.xt.clear();
        self.xt.extend(self.xk.iter().zip(self.pk).map(|(x, p)| x + a * p));
    }
    fn phi(&mut self, a: f64) -> f64 {
        self.point(a);
        let xt = std::mem::take(&mut self.xt);
        let v = self.obj.fun(&xt);
        self.xt = xt;
        v
    }
    fn derphi(&mut self, a: f64) -> f64 {
        self.point(a);
        let xt = std::mem::take(&mut self.xt);
        let mut g = std::mem::take(&mut self.gval);
        g.resize(xt.len(), 0.0);
        self.obj.grad(&xt, &mut g);
        let d = dot(&g, self.pk);
        self.gval = g;
        self.xt = xt;
        self.gval_alpha = Some(a);
        d
    }
}

/// MINPACK-2 dcsrch (Moré & Thuente), as scipy's `DCSRCH`; returns the step or None.
struct Dcsrch {
    ftol: f64,
    gtol: f64,
    xtol: f64,
    stpmin: f64,
    stpmax: f64,
    brackt: bool,
    stage: u8,
    finit: f64,
    ginit: f64,
    gtest: f64,
    width: f64,
    width1: f64,
    stx: f64,
    fx: f64,
    gx: f64,
    sty: f64,
    fy: f64,
    gy: f64,
    stmin: f64,
    stmax: f64,
}

#[derive(PartialEq, Clone, Copy)]
enum Task {
    Start,
    Fg,
    Conv,
    Warn,
    Error,
}

impl Dcsrch {
    fn new(ftol: f64, gtol: f64, xtol: f64, stpmin: f64, stpmax: f64) -> Self {
        Dcsrch {
            ftol,
            gtol,
            xtol,
            stpmin,
            stpmax,
            brackt: false,
            stage: 1,
            finit: 0.0,
            ginit: 0.0,
            gtest: 0.0,
            width: 0.0,
            width1: 0.0,
            stx: 0.0,
            fx: 0.0,
            gx: 0.0,
            sty: 0.0,
            fy: 0.0,
            gy: 0.0,
            stmin: 0.0,
            stmax: 0.0,
        }
    }

    fn iterate(&mut self, mut stp: f64, f: f64, g: f64, task: Task) -> (f64, Task) {
        let (p5, p66, xtrapl, xtrapu) = (0.5, 0.66, 1.1, 4.0);
        if task == Task::Start {
            if stp < self.stpmin || stp > self.stpmax || g >= 0.0 || self.stpmax < self.stpmin {
                return (stp, Task::Error);
            }
            self.brackt = false;
            self.stage = 1;
            self.finit = f;
            self.ginit = g;
            self.gtest = self.ftol * self.ginit;
            self.width = self.stpmax - self.stpmin;
            self.width1 = self.width / p5;
            self.stx = 0.0;
            self.fx = self.finit;
            self.gx = self.ginit;
            self.sty = 0.0;
            self.fy = self.finit;
            self.gy = self.ginit;
            self.stmin = 0.0;
            self.stmax = stp + xtrapu * stp;
            return (stp, Task::Fg);
        }
        let ftest = self.finit + stp * self.gtest;
        if self.stage == 1 && f <= ftest && g >= 0.0 {
            self.stage = 2;
        }
        let mut t = Task::Fg;
        if self.brackt && (stp <= self.stmin || stp >= self.stmax) {
            t = Task::Warn;
        }
        if self.brackt && self.stmax - self.stmin <= self.xtol * self.stmax {
            t = Task::Warn;
        }
        if stp == self.stpmax && f <= ftest && g <= self.gtest {
            t = Task::Warn;
        }
        if stp == self.stpmin && (f > ftest || g >= self.gtest) {
            t = Task::Warn;
        }
        if f <= ftest && g.abs() <= self.gtol * -self.ginit {
            t = Task::Conv;
        }
        if t == Task::Warn || t == Task::Conv {
            return (stp, t);
        }
        if self.stage == 1 && f <= self.fx && f > ftest {
            let fm = f - stp * self.gtest;
            let mut fxm = self.fx - self.stx * self.gtest;
            let mut fym = self.fy - self.sty * self.gtest;
            let gm = g - self.gtest;
            let mut gxm = self.gx - self.gtest;
            let mut gym = self.gy - self.gtest;
            let r = dcstep(self.stx, fxm, gxm, self.sty, fym, gym, stp, fm, gm, self.brackt, self.stmin, self.stmax);
            (self.stx, fxm, gxm, self.sty, fym, gym, stp, self.brackt) = r;
            self.fx = fxm + self.stx * self.gtest;
            self.fy = fym + self.sty * self.gtest;
            self.gx = gxm + self.gtest;
            self.gy = gym + self.gtest;
        } else {
            let r = dcstep(self.stx, self.fx, self.gx, self.sty, self.fy, self.gy, stp, f, g, self.brackt, self.stmin, self.stmax);
            (self.stx, self.fx, self.gx, self.sty, self.fy, self.gy, stp, self.brackt) = r;
        }
        if self.brackt {
            if (self.sty - self.stx).abs() >= p66 * self.width1 {
                stp = self.stx + p5 * (self.sty - self.stx);
            }
            self.width1 = self.width;
            self.width = (self.sty - self.stx).abs();
        }
        if self.brackt {
            self.stmin = self.stx.min(self.sty);
            self.stmax = self.stx.max(self.sty);
        } else {
            self.stmin = stp + xtrapl * (stp - self.stx);
            self.stmax = stp + xtrapu * (stp - self.stx);
        }
        stp = stp.max(self.stpmin).min(self.stpmax);
        if (self.brackt && (stp <= self.stmin || stp >= self.stmax)) || (self.brackt && self.stmax - self.stmin <= self.xtol * self.stmax) {
            stp = self.stx;
        }
        (stp, Task::Fg)
    }
}

#[allow(clippy::too_many_arguments)]
fn dcstep(
    mut stx: f64,
    mut fx: f64,
    mut dx: f64,
    mut sty: f64,
    mut fy: f64,
    mut dy: f64,
    stp: f64,
    fp: f64,
    dp: f64,
    mut brackt: bool,
    stpmin: f64,
    stpmax: f64,
) -> (f64, f64, f64, f64, f64, f64, f64, bool) {
    let sgnd = sign(dp) * sign(dx);
    let stpf;
    if fp > fx {
        let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        let s = pymax3(theta.abs(), dx.abs(), dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (dx / s) * (dp / s)).sqrt();
        if stp < stx {
            gamma = -gamma;
        }
        let p = (gamma - dx) + theta;
        let q = ((gamma - dx) + gamma) + dp;
        let r = p / q;
        let stpc = stx + r * (stp - stx);
        let stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx);
        stpf = if (stpc - stx).abs() <= (stpq - stx).abs() { stpc } else { stpc + (stpq - stpc) / 2.0 };
        brackt = true;
    } else if sgnd < 0.0 {
        let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        let s = pymax3(theta.abs(), dx.abs(), dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (dx / s) * (dp / s)).sqrt();
        if stp > stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + dx;
        let r = p / q;
        let stpc = stp + r * (stx - stp);
        let stpq = stp + (dp / (dp - dx)) * (stx - stp);
        stpf = if (stpc - stp).abs() > (stpq - stp).abs() { stpc } else { stpq };
        brackt = true;
    } else if dp.abs() < dx.abs() {
        let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        let s = pymax3(theta.abs(), dx.abs(), dp.abs());
        let rad = (theta / s).powi(2) - (dx / s) * (dp / s);
        // Python's max(0, nan) is 0.
        let rad = if rad > 0.0 { rad } else { 0.0 };
        let mut gamma = s * rad.sqrt();
        if stp > stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = (gamma + (dx - dp)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            stp + r * (stx - stp)
        } else if stp > stx {
            stpmax
        } else {
            stpmin
        };
        let stpq = stp + (dp / (dp - dx)) * (stx - stp);
        if brackt {
            let mut v = if (stpc - stp).abs() < (stpq - stp).abs() { stpc } else { stpq };
            if stp > stx {
                v = (stp + 0.66 * (sty - stp)).min(v);
            } else {
                v = (stp + 0.66 * (sty - stp)).max(v);
            }
            stpf = v;
        } else {
            let v = if (stpc - stp).abs() > (stpq - stp).abs() { stpc } else { stpq };
            stpf = v.max(stpmin).min(stpmax);
        }
    } else if brackt {
        let theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
        let s = pymax3(theta.abs(), dy.abs(), dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (dy / s) * (dp / s)).sqrt();
        if stp > sty {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + dy;
        let r = p / q;
        stpf = stp + r * (sty - stp);
    } else if stp > stx {
        stpf = stpmax;
    } else {
        stpf = stpmin;
    }
    if fp > fx {
        sty = stp;
        fy = fp;
        dy = dp;
    } else {
        if sgnd < 0.0 {
            sty = stx;
            fy = fx;
            dy = dx;
        }
        stx = stp;
        fx = fp;
        dx = dp;
    }
    (stx, fx, dx, sty, fy, dy, stpf, brackt)
}

/// scipy's `line_search_wolfe1`: (step, f at step, f at 0); gradient left in `line.gval`.
fn wolfe1<F: FnMut(&[f64]) -> f64>(line: &mut Line<'_, F>, phi0: f64, old_phi0: f64, derphi0: f64) -> Option<(f64, f64)> {
    let mut alpha1 = if derphi0 != 0.0 { (1.01 * 2.0 * (phi0 - old_phi0) / derphi0).min(1.0) } else { 1.0 };
    if alpha1 < 0.0 || alpha1.is_nan() {
        // min(1.0, nan) is 1.0 in Python; a negative guess is replaced by 1.
        alpha1 = 1.0;
    }
    let mut ds = Dcsrch::new(1e-4, 0.9, 1e-14, 1e-100, 1e100);
    let mut phi1 = phi0;
    let mut derphi1 = derphi0;
    let mut task = Task::Start;
    for _ in 0..100 {
        let (stp, t) = ds.iterate(alpha1, phi1, derphi1, task);
        task = t;
        if !stp.is_finite() {
            return None;
        }
        if task == Task::Fg {
            alpha1 = stp;
            phi1 = line.phi(stp);
            derphi1 = line.derphi(stp);
        } else {
            if task == Task::Conv {
                return Some((stp, phi1));
            }
            return None;
        }
    }
    None
}

fn cubicmin(a: f64, fa: f64, fpa: f64, b: f64, fb: f64, c: f64, fc: f64) -> Option<f64> {
    let cc = fpa;
    let db = b - a;
    let dc = c - a;
    let denom = (db * dc).powi(2) * (db - dc);
    if denom == 0.0 || !denom.is_finite() {
        return None;
    }
    let v0 = fb - fa - cc * db;
    let v1 = fc - fa - cc * dc;
    let mut aa = dc * dc * v0 + (-db * db) * v1;
    let mut bb = (-dc * dc * dc) * v0 + db * db * db * v1;
    aa /= denom;
    bb /= denom;
    let radical = bb * bb - 3.0 * aa * cc;
    if radical < 0.0 || aa == 0.0 || !radical.is_finite() {
        return None;
    }
    let x = a + (-bb + radical.sqrt()) / (3.0 * aa);
    if x.is_finite() { Some(x) } else { None }
}

fn quadmin(a: f64, fa: f64, fpa: f64, b: f64, fb: f64) -> Option<f64> {
    let db = b - a;
    if db * db == 0.0 {
        return None;
    }
    let bb = (fb - fa - fpa * db) / (db * db);
    if bb == 0.0 || !bb.is_finite() {
        return None;
    }
    let x = a - fpa / (2.0 * bb);
    if x.is_finite() { Some(x) } else { None }
}

#[allow(clippy::too_many_arguments)]
fn zoom<F: FnMut(&[f64]) -> f64>(
    line: &mut Line<'_, F>,
    mut a_lo: f64,
    mut a_hi: f64,
    mut phi_lo: f64,
    mut phi_hi: f64,
    mut derphi_lo: f64,
    phi0: f64,
    derphi0: f64,
) -> Option<(f64, f64)> {
    let (c1, c2) = (1e-4, 0.9);
    let (delta1, delta2) = (0.2, 0.1);
    let mut phi_rec = phi0;
    let mut a_rec = 0.0;
    let mut i = 0;
    loop {
        let dalpha = a_hi - a_lo;
        let (a, b) = if dalpha < 0.0 { (a_hi, a_lo) } else { (a_lo, a_hi) };
        let mut a_j = None;
        let mut cchk = 0.0;
        if i > 0 {
            cchk = delta1 * dalpha;
            a_j = cubicmin(a_lo, phi_lo, derphi_lo, a_hi, phi_hi, a_rec, phi_rec);
        }
        let bad = |v: Option<f64>, chk: f64| match v {
            None => true,
            Some(x) => x > b - chk || x < a + chk,
        };
        if i == 0 || bad(a_j, cchk) {
            let qchk = delta2 * dalpha;
            a_j = quadmin(a_lo, phi_lo, derphi_lo, a_hi, phi_hi);
            if bad(a_j, qchk) {
                a_j = Some(a_lo + 0.5 * dalpha);
            }
        }
        let a_j = a_j.unwrap_or(a_lo + 0.5 * dalpha);
        let phi_aj = line.phi(a_j);
        if phi_aj > phi0 + c1 * a_j * derphi0 || phi_aj >= phi_lo {
            phi_rec = phi_hi;
            a_rec = a_hi;
            a_hi = a_j;
            phi_hi = phi_aj;
        } else {
            let derphi_aj = line.derphi(a_j);
            if derphi_aj.abs() <= -c2 * derphi0 {
                return Some((a_j, phi_aj));
            }
            if derphi_aj * (a_hi - a_lo) >= 0.0 {
                phi_rec = phi_hi;
                a_rec = a_hi;
                a_hi = a_lo;
                phi_hi = phi_lo;
            } else {
                phi_rec = phi_lo;
                a_rec = a_lo;
            }
            a_lo = a_j;
            phi_lo = phi_aj;
            derphi_lo = derphi_aj;
        }
        i += 1;
        if i > 10 {
            return None;
        }
    }
}

/// scipy's `line_search_wolfe2` (the fallback). Returns (step, f at step, gradient known).
fn wolfe2<F: FnMut(&[f64]) -> f64>(line: &mut Line<'_, F>, phi0: f64, old_phi0: f64, derphi0: f64) -> Option<(f64, f64, bool)> {
    let (c1, c2, amax) = (1e-4, 0.9, 1e100);
    let mut alpha0 = 0.0;
    let mut alpha1 = if derphi0 != 0.0 { (1.01 * 2.0 * (phi0 - old_phi0) / derphi0).min(1.0) } else { 1.0 };
    if alpha1.is_nan() {
        alpha1 = 1.0;
    }
    if alpha1 < 0.0 {
        alpha1 = 1.0;
    }
    alpha1 = alpha1.min(amax);
    let mut phi_a1 = line.phi(alpha1);
    let mut phi_a0 = phi0;
    let mut derphi_a0 = derphi0;
    for i in 0..10 {
        if alpha1 == 0.0 || alpha0 > amax {
            return None;
        }
        if phi_a1 > phi0 + c1 * alpha1 * derphi0 || (phi_a1 >= phi_a0 && i > 0) {
            return zoom(line, alpha0, alpha1, phi_a0, phi_a1, derphi_a0, phi0, derphi0).map(|(a, f)| (a, f, true));
        }
        let derphi_a1 = line.derphi(alpha1);
        if derphi_a1.abs() <= -c2 * derphi0 {
            return Some((alpha1, phi_a1, true));
        }
        if derphi_a1 >= 0.0 {
            return zoom(line, alpha1, alpha0, phi_a1, phi_a0, derphi_a1, phi0, derphi0).map(|(a, f)| (a, f, true));
        }
        let alpha2 = (2.0 * alpha1).min(amax);
        alpha0 = alpha1;
        alpha1 = alpha2;
        phi_a0 = phi_a1;
        phi_a1 = line.phi(alpha1);
        derphi_a0 = derphi_a1;
    }
    // Not converged: scipy still takes the last step, without a gradient there.
    Some((alpha1, phi_a1, false))
}

/// Quasi-Newton BFGS with numerical gradients, step for step as scipy's
/// `minimize(method="BFGS")` (which statsforecast's ARIMA uses).
pub fn bfgs<F: FnMut(&[f64]) -> f64>(f: F, x0: &[f64], gtol: f64, maxiter: usize) -> Minimum {
    let n = x0.len();
    let mut obj = Objective { f, last_x: Vec::with_capacity(n), last_f: f64::NAN, has: false, work: Vec::with_capacity(n) };
    let mut xk = x0.to_vec();
    let mut old_fval = obj.fun(&xk);
    let mut gfk = vec![0.0; n];
    obj.grad(&xk, &mut gfk);
    let mut h = vec![0.0; n * n];
    for i in 0..n {
        h[i * n + i] = 1.0;
    }
    let mut old_old = old_fval + norm2(&gfk) / 2.0;
    let mut warn = 0u8;
    let mut k = 0usize;
    let mut gnorm = max_abs(&gfk);
    let mut pk = vec![0.0; n];
    let mut gnew = vec![0.0; n];
    let mut tmp = vec![0.0; n * n];
    while gnorm > gtol && k < maxiter {
        for i in 0..n {
            pk[i] = -(0..n).map(|j| h[i * n + j] * gfk[j]).sum::<f64>();
        }
        let derphi0 = dot(&gfk, &pk);
        let xk_now = xk.clone();
        let mut line = Line { obj: &mut obj, xk: &xk_now, pk: &pk, xt: Vec::with_capacity(n), gval: gfk.clone(), gval_alpha: None };
        let mut step = wolfe1(&mut line, old_fval, old_old, derphi0).map(|(a, f)| (a, f, true));
        if step.is_none() {
            line.gval_alpha = None;
            step = wolfe2(&mut line, old_fval, old_old, derphi0);
        }
        let Some((alpha, fnew, have_grad)) = step else {
            warn = 2;
            break;
        };
        let have_grad = have_grad && line.gval_alpha.is_some();
        if have_grad {
            gnew.copy_from_slice(&line.gval);
        }
        drop(line);
        old_old = old_fval;
        old_fval = fnew;
        let sk: Vec<f64> = pk.iter().map(|p| alpha * p).collect();
        for i in 0..n {
            xk[i] += sk[i];
        }
        if !have_grad {
            obj.grad(&xk, &mut gnew);
        }
        let yk: Vec<f64> = gnew.iter().zip(&gfk).map(|(a, b)| a - b).collect();
        gfk.copy_from_slice(&gnew);
        k += 1;
        gnorm = max_abs(&gfk);
        if gnorm <= gtol {
            break;
        }
        if alpha * norm2(&pk) <= 0.0 {
            break;
        }
        if !old_fval.is_finite() {
            warn = 2;
            break;
        }
        let rhok_inv = dot(&yk, &sk);
        let rhok = if rhok_inv == 0.0 { 1000.0 } else { 1.0 / rhok_inv };
        // H <- A1 (H A2) + rho s s', A1 = I - rho s y', A2 = I - rho y s'.
        for i in 0..n {
            for j in 0..n {
                // (H A2)[i][j] = H[i][j] - rho * (H y)[i] * s[j]
                let hy_i: f64 = (0..n).map(|l| h[i * n + l] * yk[l]).sum();
                tmp[i * n + j] = h[i * n + j] - rhok * hy_i * sk[j];
            }
        }
        for i in 0..n {
            for j in 0..n {
                // (A1 T)[i][j] = T[i][j] - rho * s[i] * (y' T)[j]
                let yt_j: f64 = (0..n).map(|l| yk[l] * tmp[l * n + j]).sum();
                h[i * n + j] = tmp[i * n + j] - rhok * sk[i] * yt_j + rhok * sk[i] * sk[j];
            }
        }
    }
    let status = if warn == 2 {
        2
    } else if k >= maxiter {
        1
    } else if gnorm.is_nan() || old_fval.is_nan() || xk.iter().any(|v| v.is_nan()) {
        3
    } else {
        0
    };
    Minimum { x: xk, fun: old_fval, hess_inv: h, status }
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
        // Interior minimum: found; a minimum outside the box: the point stays inside.
        let f = |x: &[f64]| (x[0] - 1.5).powi(2) + (x[1] - 0.5).powi(2);
        let m = nelder_mead(f, &[1.0, 1.0], &[0.0, 0.0], &[2.0, 2.0], 0.05, 1e-4, 1000, 1e-12);
        assert!((m.x[0] - 1.5).abs() < 1e-3 && (m.x[1] - 0.5).abs() < 1e-3, "{:?}", m);
        let g = |x: &[f64]| (x[0] - 3.0).powi(2) + (x[1] - 0.5).powi(2);
        let m = nelder_mead(g, &[1.0, 1.0], &[0.0, 0.0], &[2.0, 2.0], 0.05, 1e-4, 1000, 1e-12);
        assert!(m.x.iter().all(|v| (0.0..=2.0).contains(v)) && m.fun < 1.3, "{:?}", m);
    }

}
