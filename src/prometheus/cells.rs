//! [`ThreadCells`]: a series' cells, one row per thread that records into it.
//!
//! Only a row's thread writes it (a `ThreadLocal` hands a thread's row to another only after the first has
//! exited), so an update is a load and a store, without the locked instruction a shared atomic needs; and the rows
//! of threads recording into one series sit on cache lines of their own, which a multi-threaded server's workers do
//! not take from each other. A scrape sums the rows.
//!
//! Against metrics-exporter-prometheus' shared atomics (`benches/recorder.rs`, one run each): a histogram sample
//! 16.1 → 12.0 ns from one thread and 157 → 12.4 ns from each of two threads on one series; a counter increment
//! 13.0 → 4.4 and 168 → 4.5 ns; an in-flight gauge's increment and decrement 33 → 8.5 and 381 → 10.5 ns.

use std::sync::atomic::{AtomicU64, Ordering};

use thread_local::ThreadLocal;

/// `width` cells a thread; every cell starts at 0.
#[derive(Debug)]
pub(super) struct ThreadCells {
    width: usize,
    rows: ThreadLocal<Row>,
}

impl ThreadCells {
    pub(super) fn new(width: usize) -> Self {
        Self {
            width,
            rows: ThreadLocal::new(),
        }
    }

    /// This thread's row, the only one it may write.
    pub(super) fn mine(&self) -> Mine<'_> {
        Mine(self.rows.get_or(|| Row::new(self.width)))
    }

    /// Every thread's row, those of threads that have exited included.
    pub(super) fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter()
    }

    /// Cell `i` summed over the rows, wrapping as the cells do.
    pub(super) fn total(&self, i: usize) -> u64 {
        self.rows().fold(0u64, |sum, row| sum.wrapping_add(row.get(i)))
    }

    /// Cell `i` of the rows read as `f64`, summed.
    pub(super) fn total_f64(&self, i: usize) -> f64 {
        self.rows().map(|row| row.get_f64(i)).sum()
    }
}

/// One thread's cells.
#[derive(Debug)]
pub(super) struct Row {
    lines: Box<[Line]>,
}

/// Cells aligned to a cache line, so that no other row's cells share one.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line([AtomicU64; 8]);

impl Row {
    fn new(width: usize) -> Self {
        Self {
            lines: (0..width.div_ceil(8)).map(|_| Line::default()).collect(),
        }
    }

    fn cell(&self, i: usize) -> &AtomicU64 {
        &self.lines[i / 8].0[i % 8]
    }

    pub(super) fn get(&self, i: usize) -> u64 {
        self.cell(i).load(Ordering::Relaxed)
    }

    pub(super) fn get_f64(&self, i: usize) -> f64 {
        f64::from_bits(self.get(i))
    }
}

/// The current thread's row, written by it alone.
pub(super) struct Mine<'a>(&'a Row);

impl Mine<'_> {
    pub(super) fn add(&self, i: usize, n: u64) {
        let cell = self.0.cell(i);
        cell.store(cell.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    pub(super) fn add_f64(&self, i: usize, x: f64) {
        let cell = self.0.cell(i);
        cell.store(
            (f64::from_bits(cell.load(Ordering::Relaxed)) + x).to_bits(),
            Ordering::Relaxed,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_every_thread_are_summed() {
        let cells = ThreadCells::new(10);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let cells = &cells;
                s.spawn(move || {
                    for _ in 0..1000 {
                        cells.mine().add(9, t);
                        cells.mine().add_f64(0, 0.5);
                    }
                });
            }
        });
        assert_eq!(cells.total(9), 6000);
        assert_eq!(cells.total_f64(0), 2000.0);
        assert_eq!(cells.total(1), 0);
    }
}
