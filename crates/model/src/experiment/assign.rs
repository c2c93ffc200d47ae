//! Deterministic assignment: a key always lands in the same bucket of an experiment, in any process, in any
//! language.
//!
//! The bucket of a key is `xxh3_64(key, seed) mod 10000`, where `seed = xxh3_64(experiment name)` and xxh3_64 is
//! XXH3's 64-bit hash ([xxHash](https://github.com/Cyan4973/xxHash) 0.8). Variants take consecutive bucket
//! ranges in the order they were declared, each as wide as its share of 10,000. In Python:
//!
//! ```text
//! import xxhash
//! seed = xxhash.xxh3_64_intdigest(b"model-rollout")
//! bucket = xxhash.xxh3_64_intdigest(b"user-42", seed=seed) % 10000
//! ```

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// How many buckets a split is made of: shares are exact to 0.01 %.
pub const BUCKETS: u32 = 10_000;

/// The seed of an experiment's hash: its name's xxh3_64.
pub(crate) fn seed(experiment: &str) -> u64 {
    xxh3_64(experiment.as_bytes())
}

/// The bucket, in `0..BUCKETS`, of `key` in the experiment whose seed is `seed`.
pub(crate) fn bucket(seed: u64, key: &[u8]) -> u32 {
    // The remainder is below 10,000: it fits.
    (xxh3_64_with_seed(key, seed) % u64::from(BUCKETS)) as u32
}

/// The exclusive upper bucket of each variant, from their weights (positive and finite): cumulative shares of
/// [`BUCKETS`], rounded, the last one exactly `BUCKETS`.
pub(crate) fn upper_bounds(weights: &[f64]) -> Vec<u32> {
    let total: f64 = weights.iter().sum();
    let mut cumulative = 0.0;
    let mut bounds: Vec<u32> = weights
        .iter()
        .map(|w| {
            cumulative += w;
            (cumulative / total * f64::from(BUCKETS)).round() as u32
        })
        .collect();
    if let Some(last) = bounds.last_mut() {
        *last = BUCKETS;
    }
    bounds
}

/// The variant whose range holds `bucket`.
pub(crate) fn variant_of(bounds: &[u32], bucket: u32) -> usize {
    bounds
        .iter()
        .position(|&upper| bucket < upper)
        .unwrap_or(bounds.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with Python's `xxhash` 3.x (`scripts/experiment_vectors.py`): another service reproduces these.
    const VECTORS: &[(&str, &str, u64, u32)] = include!("../../tests/data/experiment-vectors.rs.txt");

    #[test]
    fn buckets_match_the_reference_implementation() {
        for &(experiment, key, hash, expected) in VECTORS {
            let seed = seed(experiment);
            assert_eq!(xxh3_64_with_seed(key.as_bytes(), seed), hash, "{experiment}/{key}");
            assert_eq!(bucket(seed, key.as_bytes()), expected, "{experiment}/{key}");
        }
    }

    #[test]
    fn bounds_follow_the_weights() {
        assert_eq!(upper_bounds(&[0.5, 0.5]), [5_000, 10_000]);
        assert_eq!(upper_bounds(&[9.0, 1.0]), [9_000, 10_000]);
        assert_eq!(upper_bounds(&[1.0, 1.0, 1.0]), [3_333, 6_667, 10_000]);
        assert_eq!(variant_of(&[5_000, 10_000], 4_999), 0);
        assert_eq!(variant_of(&[5_000, 10_000], 5_000), 1);
    }
}
