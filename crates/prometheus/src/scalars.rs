//! Counters and gauges in per-thread cells ([`ThreadCells`]): an increment is a load and a store of the thread's own
//! cell, where metrics-exporter-prometheus' counter is two locked additions (its value and its generation) on a
//! cache line every thread of the server shares.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{CounterFn, GaugeFn};

use super::cells::ThreadCells;

/// A counter: what `absolute` raised it to, plus every thread's increments.
#[derive(Debug)]
pub(super) struct ThreadCounter {
    base: AtomicU64,
    cells: ThreadCells,
}

impl ThreadCounter {
    pub(super) fn new() -> Self {
        Self {
            base: AtomicU64::new(0),
            cells: ThreadCells::new(1),
        }
    }

    pub(super) fn value(&self) -> u64 {
        self.base.load(Ordering::Relaxed).wrapping_add(self.cells.total(0))
    }
}

impl CounterFn for ThreadCounter {
    fn increment(&self, value: u64) {
        self.cells.mine().add(0, value);
    }

    /// Raises the counter to `value` if it is below (as metrics-exporter-prometheus does); an increment racing with
    /// it on another thread may land before or after.
    fn absolute(&self, value: u64) {
        let _ = self.base.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |base| {
            let current = base.wrapping_add(self.cells.total(0));
            (value > current).then(|| base.wrapping_add(value - current))
        });
    }
}

/// A gauge: the `f64` bits of what `set` left, plus every thread's increments and decrements since. A gauge only
/// set, or only moved (in-flight requests), reads what the exporter's would. A scrape reads the rows one after
/// another: a request that starts on one thread and ends on another, both between the scrape's reads of their
/// rows, shows in that one scrape as one less in flight.
#[derive(Debug)]
pub(super) struct ThreadGauge {
    base: AtomicU64,
    cells: ThreadCells,
}

impl ThreadGauge {
    pub(super) fn new() -> Self {
        Self {
            base: AtomicU64::new(0f64.to_bits()),
            cells: ThreadCells::new(1),
        }
    }

    pub(super) fn value(&self) -> f64 {
        f64::from_bits(self.base.load(Ordering::Relaxed)) + self.cells.total_f64(0)
    }
}

impl GaugeFn for ThreadGauge {
    fn increment(&self, value: f64) {
        self.cells.mine().add_f64(0, value);
    }

    fn decrement(&self, value: f64) {
        self.cells.mine().add_f64(0, -value);
    }

    fn set(&self, value: f64) {
        let moved = self.cells.total_f64(0);
        // Not `value - moved` regardless: an empty sum is -0.0, and `-0.0 - -0.0` is 0.0; a gauge only set reads
        // exactly what it was set to.
        let base = if moved == 0.0 { value } else { value - moved };
        self.base.store(base.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_across_threads_and_absolute_only_raises() {
        let counter = ThreadCounter::new();
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| (0..1000).for_each(|_| counter.increment(2)));
            }
        });
        assert_eq!(counter.value(), 6000);
        counter.absolute(5000);
        assert_eq!(counter.value(), 6000);
        counter.absolute(10_000);
        assert_eq!(counter.value(), 10_000);
        counter.increment(1);
        assert_eq!(counter.value(), 10_001);
    }

    #[test]
    fn gauges_moved_on_one_thread_and_back_on_another_read_zero() {
        let gauge = ThreadGauge::new();
        gauge.set(-0.0);
        assert!(
            gauge.value() == 0.0 && gauge.value().is_sign_negative(),
            "set as it was"
        );
        gauge.set(0.75);
        assert_eq!(gauge.value(), 0.75);
        gauge.set(0.25);
        assert_eq!(gauge.value(), 0.25);
        let in_flight = ThreadGauge::new();
        for _ in 0..100 {
            in_flight.increment(1.0);
            std::thread::scope(|s| {
                s.spawn(|| in_flight.decrement(1.0));
            });
        }
        in_flight.increment(1.0);
        assert_eq!(in_flight.value(), 1.0);
        in_flight.set(5.0);
        assert_eq!(in_flight.value(), 5.0);
    }
}
