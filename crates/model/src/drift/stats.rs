//! The drift statistics, on binned counts: the Population Stability Index, the Kolmogorov–Smirnov statistic of
//! the binned distributions, and Pearson's chi-square test of the window against the baseline.
//!
//! Shares are smoothed the same way for PSI and chi-square: a bin's share is its count over the total, an empty
//! bin counts as [`EPSILON`] instead of 0, and the shares are then scaled to sum to 1. Identical distributions
//! give a PSI of exactly 0; an empty bin never makes it infinite. `scripts/drift_fixtures.py` computes the same
//! numbers with numpy and scipy; the tests compare them to 1e-9.

use statrs::function::gamma::checked_gamma_ur;

/// The share an empty bin counts as, before the shares are scaled to sum to 1.
pub const EPSILON: f64 = 1e-4;

/// The sum of `counts`, which no number of counts can overflow.
fn total(counts: &[u64]) -> u128 {
    counts.iter().map(|&c| u128::from(c)).sum()
}

/// Smoothed shares of `counts` (empty when there are no observations).
fn shares(counts: &[u64]) -> Vec<f64> {
    let total = total(counts);
    if total == 0 {
        return Vec::new();
    }
    let raw: Vec<f64> = counts
        .iter()
        .map(|&c| if c == 0 { EPSILON } else { c as f64 / total as f64 })
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.into_iter().map(|s| s / sum).collect()
}

/// PSI = Σ (pᵢ − qᵢ) ln(pᵢ / qᵢ), p the window's smoothed shares and q the baseline's. `None` when either has no
/// observation or their bins differ.
pub fn psi(baseline: &[u64], window: &[u64]) -> Option<f64> {
    let (q, p) = (shares(baseline), shares(window));
    if q.is_empty() || p.is_empty() || q.len() != p.len() {
        return None;
    }
    Some(p.iter().zip(&q).map(|(p, q)| (p - q) * (p / q).ln()).sum())
}

/// The largest distance between the two cumulative distributions at the bins' upper edges (raw shares, no
/// smoothing): the Kolmogorov–Smirnov statistic of the binned distributions, a lower bound of the exact one.
pub fn ks(baseline: &[u64], window: &[u64]) -> Option<f64> {
    let (nb, nw) = (total(baseline), total(window));
    if nb == 0 || nw == 0 || baseline.len() != window.len() {
        return None;
    }
    let (mut cb, mut cw, mut d) = (0u128, 0u128, 0.0f64);
    for (&b, &w) in baseline.iter().zip(window) {
        cb += u128::from(b);
        cw += u128::from(w);
        d = d.max((cb as f64 / nb as f64 - cw as f64 / nw as f64).abs());
    }
    Some(d)
}

/// The p-value of Pearson's chi-square test that the window's counts come from the baseline's (smoothed)
/// shares: χ² = Σ (oᵢ − n·qᵢ)² / (n·qᵢ) with k − 1 degrees of freedom, p = Q((k − 1)/2, χ²/2). 1 for a single
/// bin.
pub fn chi_square_p_value(baseline: &[u64], window: &[u64]) -> Option<f64> {
    let q = shares(baseline);
    let n = total(window);
    if q.is_empty() || n == 0 || q.len() != window.len() {
        return None;
    }
    if q.len() == 1 {
        return Some(1.0);
    }
    let n = n as f64;
    let chi2: f64 = window
        .iter()
        .zip(&q)
        .map(|(&o, q)| {
            let e = n * q;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    let df = (q.len() - 1) as f64;
    // Q(a, x) is defined for x > 0: a statistic of 0 (the window matches exactly) has p = 1, an infinite one 0.
    match chi2 {
        x if x <= 0.0 => Some(1.0),
        x if x.is_infinite() => Some(0.0),
        x => checked_gamma_ur(df / 2.0, x / 2.0).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, baseline, window, psi, ks, chi-square p-value) computed by `scripts/drift_fixtures.py`.
    type Fixture = (&'static str, &'static [u64], &'static [u64], f64, f64, f64);
    const FIXTURES: &[Fixture] = include!("../../tests/data/drift-fixtures.rs.txt");

    fn close(got: f64, want: f64) -> bool {
        got == want || (got - want).abs() <= 1e-9 * want.abs().max(1e-300)
    }

    #[test]
    fn statistics_match_numpy_and_scipy() {
        assert!(FIXTURES.len() >= 8);
        for &(name, baseline, window, want_psi, want_ks, want_p) in FIXTURES {
            let psi = psi(baseline, window).expect(name);
            let ks = ks(baseline, window).expect(name);
            let p = chi_square_p_value(baseline, window).expect(name);
            assert!(close(psi, want_psi), "{name}: psi {psi} vs {want_psi}");
            assert!(close(ks, want_ks), "{name}: ks {ks} vs {want_ks}");
            assert!(close(p, want_p), "{name}: p {p} vs {want_p}");
        }
    }

    #[test]
    fn identical_distributions_do_not_drift() {
        let counts = [10, 0, 30, 60];
        assert_eq!(psi(&counts, &counts), Some(0.0));
        assert_eq!(ks(&counts, &counts), Some(0.0));
        assert_eq!(
            psi(&counts, &[20, 0, 60, 120]),
            Some(0.0),
            "the same shares at another size"
        );
        assert_eq!(chi_square_p_value(&[5], &[7]), Some(1.0), "a single bin");
    }

    #[test]
    fn nothing_to_compare_is_no_number() {
        assert_eq!(psi(&[], &[]), None);
        assert_eq!(psi(&[0, 0], &[1, 2]), None);
        assert_eq!(psi(&[1, 2], &[0, 0]), None);
        assert_eq!(psi(&[1, 2], &[1, 2, 3]), None);
        assert_eq!(ks(&[1, 2], &[0, 0]), None);
        assert_eq!(chi_square_p_value(&[1, 2], &[0, 0]), None);
    }

    #[test]
    fn counts_near_the_limit_give_numbers() {
        let huge = [u64::MAX, 1, 0, 0];
        let half = [1u64 << 63, 1 << 63];
        for (baseline, window) in [(&huge[..], &[5u64, 1, 0, 0][..]), (&half, &[3, 1]), (&[1, 1], &half)] {
            let values = [
                psi(baseline, window),
                ks(baseline, window),
                chi_square_p_value(baseline, window),
            ];
            for v in values {
                assert!(v.is_some_and(f64::is_finite), "{baseline:?} {window:?}: {values:?}");
            }
        }
        assert_eq!(ks(&half, &half), Some(0.0));
    }
}
