//! [`Money`]: an exact, lock-free running total in picounits (10⁻¹² of the currency), and its decimal rendering.
//!
//! Prices are whole micro-units per million tokens, so one token costs a whole number of picounits and a request's
//! cost is an exact integer. Totals never drift however many requests are added, unlike a float that would round
//! at every addition.

use std::sync::atomic::{AtomicU64, Ordering};

/// Picounits in one micro-unit.
const PICOS_PER_MICRO: u128 = 1_000_000;
/// Picounits in one unit of the currency.
pub(crate) const PICOS_PER_UNIT: u128 = 1_000_000_000_000;

/// A running total, kept as whole micro-units plus the picounits below them (each addition carries its own
/// remainder, so neither atomic can overflow before 10¹³ units of currency or 10¹³ additions).
#[derive(Debug, Default)]
pub(crate) struct Money {
    micros: AtomicU64,
    picos: AtomicU64,
}

impl Money {
    pub(crate) fn add(&self, picos: u128) {
        // Division by a constant in 64 bits is a multiplication; in 128 bits a library call. Amounts below 1.8·10⁷
        // units of currency (every request's) take the fast path.
        let (micros, rest) = match u64::try_from(picos) {
            Ok(p) => (p / PICOS_PER_MICRO as u64, p % PICOS_PER_MICRO as u64),
            // Above 1.8·10¹³ units of currency: saturate.
            Err(_) => (
                u64::try_from(picos / PICOS_PER_MICRO).unwrap_or(u64::MAX),
                (picos % PICOS_PER_MICRO) as u64,
            ),
        };
        if micros > 0 {
            self.micros.fetch_add(micros, Ordering::Relaxed);
        }
        if rest > 0 {
            self.picos.fetch_add(rest, Ordering::Relaxed);
        }
    }

    /// The total in picounits.
    pub(crate) fn picos(&self) -> u128 {
        u128::from(self.micros.load(Ordering::Relaxed)) * PICOS_PER_MICRO
            + u128::from(self.picos.load(Ordering::Relaxed))
    }
}

/// `picos` as a decimal number of currency units, exactly (`12.000345`, `0`, `0.000000000001`).
pub(crate) fn decimal(picos: u128) -> String {
    let (units, fraction) = (picos / PICOS_PER_UNIT, picos % PICOS_PER_UNIT);
    if fraction == 0 {
        return units.to_string();
    }
    let digits = format!("{fraction:012}");
    format!("{units}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_requests_sum_exactly() {
        // $0.15 and $0.60 per million tokens: a token costs 150,000 and 600,000 picounits. Request i has
        // i % 1000 + 1 input tokens and i % 500 output tokens.
        let (input_price, output_price) = (150_000u128, 600_000u128);
        let money = Money::default();
        let mut naive = 0.0f64;
        for i in 0..1_000_000u128 {
            let (input, output) = (i % 1000 + 1, i % 500);
            money.add(input * input_price + output * output_price);
            naive += (input as f64 * 0.15 + output as f64 * 0.60) / 1e6;
        }
        // Closed form: 1,000 cycles of 1..=1000 input tokens, 2,000 cycles of 0..500 output tokens.
        let input_tokens = 1_000 * (1_000 * 1_001 / 2);
        let output_tokens = 2_000 * (499 * 500 / 2);
        let exact = input_tokens * input_price + output_tokens * output_price;
        assert_eq!(money.picos(), exact);
        assert_eq!(decimal(money.picos()), "224.775");
        // Adding floats would have drifted from it.
        assert_ne!(naive, 224.775);
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(0), "0");
        assert_eq!(decimal(1), "0.000000000001");
        assert_eq!(decimal(12 * PICOS_PER_UNIT + 345_000_000), "12.000345");
        assert_eq!(decimal(u128::from(u64::MAX) * PICOS_PER_MICRO), "18446744073709.551615");
    }
}
