//! crmkit's one random number generator (xoshiro256++ with SplitMix64 seeding) and the
//! distributions the data generator needs; k-means draws its starts from it too.
//!
//! Written here rather than taken from a crate so that a seed gives the same world and
//! the same clustering forever: a dependency upgrade can never silently change results
//! that tests and notebooks rely on. Independent `(seed, stream)` streams keep parallel
//! work deterministic whatever the number of threads.

/// SplitMix64 step: used to derive independent stream seeds from (seed, stream).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++: fast, 256-bit state, passes BigCrush.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// An independent stream for `(seed, stream)`; streams are how parallel chunks
    /// stay deterministic whatever the number of threads.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut sm = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Rng { s }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = (self.s[0].wrapping_add(self.s[3])).rotate_left(23).wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe for logarithms.
    #[inline]
    pub fn uniform_pos(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// Uniform integer in [0, n); n must be > 0.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        // Lemire's multiply-shift; the tiny bias for n << 2^64 is irrelevant here.
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn exponential(&mut self, rate: f64) -> f64 {
        -self.uniform_pos().ln() / rate
    }

    pub fn normal(&mut self) -> f64 {
        // Box-Muller; one value per call keeps streams simple to reason about.
        let u1 = self.uniform_pos();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Gamma(shape, rate) by Marsaglia & Tsang (2000), with the shape < 1 boost.
    pub fn gamma(&mut self, shape: f64, rate: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform_pos();
            return self.gamma(shape + 1.0, rate) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.uniform_pos();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v / rate;
            }
        }
    }

    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a, 1.0);
        let y = self.gamma(b, 1.0);
        x / (x + y)
    }

    /// Poisson by inversion; used only for small means.
    pub fn poisson(&mut self, mean: f64) -> usize {
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.uniform_pos();
        while p > limit && k < 1000 {
            p *= self.uniform_pos();
            k += 1;
        }
        k
    }

    /// Number of failures before the first success, success probability p in (0, 1].
    pub fn geometric(&mut self, p: f64) -> usize {
        if p >= 1.0 {
            return 0;
        }
        (self.uniform_pos().ln() / (1.0 - p).ln()).floor() as usize
    }

    /// An index drawn with the given cumulative weights (last element = total).
    pub fn weighted(&mut self, cumulative: &[f64]) -> usize {
        let total = cumulative[cumulative.len() - 1];
        let x = self.uniform() * total;
        cumulative.partition_point(|&c| c <= x).min(cumulative.len() - 1)
    }
}

/// Cumulative sums of weights, for `Rng::weighted`.
pub fn cumulative(weights: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..5).map(|_| Rng::new(7, 1).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::new(7, 1).next_u64(), Rng::new(7, 2).next_u64());
        assert_ne!(Rng::new(7, 1).next_u64(), Rng::new(8, 1).next_u64());
    }

    #[test]
    fn uniform_is_in_range_with_right_mean() {
        let mut r = Rng::new(1, 0);
        let xs: Vec<f64> = (0..200_000).map(|_| r.uniform()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let (m, v) = moments(&xs);
        assert!((m - 0.5).abs() < 0.005 && (v - 1.0 / 12.0).abs() < 0.002);
    }

    #[test]
    fn gamma_matches_its_moments_for_small_and_large_shape() {
        for &(shape, rate) in &[(0.3, 2.0), (0.75, 40.0), (6.0, 0.02), (4.0, 150.0)] {
            let mut r = Rng::new(3, 0);
            let xs: Vec<f64> = (0..300_000).map(|_| r.gamma(shape, rate)).collect();
            let (m, v) = moments(&xs);
            let (em, ev) = (shape / rate, shape / (rate * rate));
            assert!((m / em - 1.0).abs() < 0.02, "mean {m} vs {em} for shape {shape}");
            assert!((v / ev - 1.0).abs() < 0.06, "var {v} vs {ev} for shape {shape}");
        }
    }

    #[test]
    fn beta_poisson_geometric_means() {
        let mut r = Rng::new(5, 0);
        let n = 200_000;
        let b: Vec<f64> = (0..n).map(|_| r.beta(0.8, 6.0)).collect();
        assert!((moments(&b).0 - 0.8 / 6.8).abs() < 0.003);
        let p: Vec<f64> = (0..n).map(|_| r.poisson(1.3) as f64).collect();
        assert!((moments(&p).0 - 1.3).abs() < 0.02);
        let g: Vec<f64> = (0..n).map(|_| r.geometric(0.25) as f64).collect();
        assert!((moments(&g).0 - 3.0).abs() < 0.05);
    }

    #[test]
    fn weighted_follows_weights() {
        let mut r = Rng::new(9, 0);
        let cum = cumulative(&[1.0, 3.0, 0.0, 6.0]);
        let mut counts = [0usize; 4];
        for _ in 0..100_000 {
            counts[r.weighted(&cum)] += 1;
        }
        assert_eq!(counts[2], 0);
        assert!((counts[1] as f64 / 100_000.0 - 0.3).abs() < 0.01);
        assert!((counts[3] as f64 / 100_000.0 - 0.6).abs() < 0.01);
    }
}
