//! Sampling helpers: alias tables, Zipf weights and ranks.

use rand::RngExt;
use rand_distr::Distribution;
use rand_distr::weighted::WeightedAliasIndex;

use crate::seed::StreamRng;

pub(crate) fn zipf_weights(n: usize, s: f64) -> Vec<f64> {
    (1..=n).map(|k| (k as f64).powf(-s)).collect()
}

pub(crate) fn alias(weights: Vec<f64>) -> WeightedAliasIndex<f64> {
    WeightedAliasIndex::new(weights).expect("weights are positive and finite")
}

/// Zipf-distributed ranks over populations too large for a table per rank.
/// Ranks are grouped in buckets (the first 256 alone, then 1% wide); a bucket
/// is drawn by its exact or integrated weight, then a rank uniformly inside
/// it. Within a bucket, true Zipf weights differ by under 1%.
pub(crate) struct RankSampler {
    starts: Vec<u64>,
    pick: WeightedAliasIndex<f64>,
}

impl RankSampler {
    pub(crate) fn new(n: u64, s: f64) -> RankSampler {
        let mut starts = Vec::new();
        let mut r = 0u64;
        while r < n {
            starts.push(r);
            r += if r < 256 { 1 } else { (r / 100).max(1) };
        }
        starts.push(n);
        let weight = |a: u64, b: u64| -> f64 {
            // Sum of k^-s for ranks k in a+1..=b.
            if b - a <= 64 {
                return (a + 1..=b).map(|k| (k as f64).powf(-s)).sum();
            }
            let (lo, hi) = (a as f64 + 0.5, b as f64 + 0.5);
            if (s - 1.0).abs() < 1e-12 {
                (hi / lo).ln()
            } else {
                (hi.powf(1.0 - s) - lo.powf(1.0 - s)) / (1.0 - s)
            }
        };
        let weights = starts.windows(2).map(|w| weight(w[0], w[1])).collect();
        RankSampler {
            starts,
            pick: alias(weights),
        }
    }

    /// A 0-based rank.
    #[inline]
    pub(crate) fn sample(&self, rng: &mut StreamRng) -> u64 {
        let b = self.pick.sample(rng);
        let (lo, hi) = (self.starts[b], self.starts[b + 1]);
        if hi - lo == 1 {
            lo
        } else {
            rng.random_range(lo..hi)
        }
    }
}

/// Index in 0..n with Zipf(1) weights, for small lists.
pub(crate) fn zipf_pick(rng: &mut StreamRng, n: usize) -> usize {
    let total: f64 = (1..=n).map(|k| 1.0 / k as f64).sum();
    let mut x = rng.random::<f64>() * total;
    for k in 0..n {
        x -= 1.0 / (k + 1) as f64;
        if x < 0.0 {
            return k;
        }
    }
    n - 1
}

pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::stream;

    #[test]
    fn rank_sampler_follows_zipf_head() {
        let r = RankSampler::new(1_000_000, 1.0);
        let mut rng = stream(&[1]);
        let mut counts = [0u32; 2];
        let mut tail = 0u32;
        for _ in 0..200_000 {
            match r.sample(&mut rng) {
                0 => counts[0] += 1,
                1 => counts[1] += 1,
                k if k >= 1000 => tail += 1,
                _ => {}
            }
        }
        // Zipf(1): rank 1 is drawn twice as often as rank 2.
        let ratio = counts[0] as f64 / counts[1] as f64;
        assert!((ratio - 2.0).abs() < 0.1, "ratio {ratio}");
        // P(rank > 1000) = (H(1e6) - H(1e3)) / H(1e6) = 0.4875 for n = 1e6.
        let share = tail as f64 / 200_000.0;
        assert!((share - 0.4875).abs() < 0.01, "tail share {share}");
    }
}
