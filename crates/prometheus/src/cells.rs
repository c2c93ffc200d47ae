//! [`ThreadCells`]: a series' cells, one row per thread that records into it.
//!
//! A thread claims one of [`SLOTS`] slots the first time it records and gives it back when it exits; the thread
//! that claims it next carries on with the same rows. So only a row's thread writes it, and an update is a load and
//! a store, without the locked instruction a shared atomic needs; and the rows of threads recording into one series
//! sit on cache lines of their own, which a multi-threaded server's workers do not take from each other. A scrape
//! sums the rows.
//!
//! Against metrics-exporter-prometheus' shared atomics (`benches/recorder.rs` compares them) this costs a few
//! instructions to find the thread's row, and saves the locked ones, which cost cycles rather than instructions,
//! and more still when another core holds the line.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Threads that may hold a row of their own at once. Any further thread writes a series' shared row, with locked
/// instructions, as metrics-exporter-prometheus' atomics do.
const SLOTS: usize = 64;
/// The slot of a thread writing the shared row.
const SHARED: usize = SLOTS;
/// The slot of a thread that has not recorded yet.
const UNCLAIMED: usize = usize::MAX;

static CLAIMED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];

thread_local! {
    /// This thread's slot. Read on every update, so it has no destructor: reading it is a plain load.
    static SLOT: Cell<usize> = const { Cell::new(UNCLAIMED) };
    /// Gives the slot back when the thread exits.
    static HOLDER: Holder = const { Holder(Cell::new(SHARED)) };
}

struct Holder(Cell<usize>);

impl Drop for Holder {
    fn drop(&mut self) {
        // Whatever this thread records while it exits goes to the shared row.
        let _ = SLOT.try_with(|slot| slot.set(SHARED));
        if let Some(claimed) = CLAIMED.get(self.0.get()) {
            // Publishes the row's last values to the thread that claims the slot next.
            claimed.store(false, Ordering::Release);
        }
    }
}

fn slot() -> usize {
    match SLOT.with(Cell::get) {
        UNCLAIMED => claim(),
        slot => slot,
    }
}

#[cold]
fn claim() -> usize {
    let free = CLAIMED.iter().position(|claimed| {
        claimed
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    });
    let slot = match free {
        // Held only once the holder's destructor is registered; a thread already exiting cannot have one.
        Some(slot) if HOLDER.try_with(|holder| holder.0.set(slot)).is_ok() => slot,
        Some(slot) => {
            CLAIMED[slot].store(false, Ordering::Release);
            SHARED
        }
        None => SHARED,
    };
    SLOT.with(|cell| cell.set(slot));
    slot
}

/// Slots whose rows a series keeps inline; threads claim the lowest free slot, so a server with few threads
/// recording never allocates the others' table.
const INLINE: usize = 4;

/// `width` cells a thread; every cell starts at 0.
#[derive(Debug)]
pub(super) struct ThreadCells {
    width: usize,
    first: [OnceLock<Row>; INLINE],
    /// The rows of slots from `INLINE` on, allocated with the first of them: about 100 bytes a series rather
    /// than 1.6 KB where few threads record (as many users' own high-cardinality series are).
    rest: OnceLock<Box<[OnceLock<Row>]>>,
    shared: OnceLock<Row>,
}

impl ThreadCells {
    pub(super) fn new(width: usize) -> Self {
        Self {
            width,
            first: [const { OnceLock::new() }; INLINE],
            rest: OnceLock::new(),
            shared: OnceLock::new(),
        }
    }

    /// This thread's cells: its own row, the only one it may write, or the shared one.
    pub(super) fn mine(&self) -> Mine<'_> {
        let new = || Row::new(self.width);
        let slot = slot();
        if let Some(row) = self.first.get(slot) {
            return Mine::Own(row.get_or_init(new));
        }
        if slot < SLOTS {
            let rest = self
                .rest
                .get_or_init(|| (INLINE..SLOTS).map(|_| OnceLock::new()).collect());
            if let Some(row) = rest.get(slot - INLINE) {
                return Mine::Own(row.get_or_init(new));
            }
        }
        Mine::Shared(self.shared.get_or_init(new))
    }

    /// Every row, those of threads that have exited included.
    pub(super) fn rows(&self) -> impl Iterator<Item = &Row> {
        let rest = self.rest.get().map(|rest| &rest[..]).unwrap_or_default();
        self.first
            .iter()
            .chain(rest)
            .chain([&self.shared])
            .filter_map(OnceLock::get)
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

/// The cells a thread updates.
pub(super) enum Mine<'a> {
    /// Its own row, written by it alone: a load and a store.
    Own(&'a Row),
    /// The row threads without a slot share: locked updates.
    Shared(&'a Row),
}

impl Mine<'_> {
    pub(super) fn add(&self, i: usize, n: u64) {
        match self {
            Mine::Own(row) => {
                let cell = row.cell(i);
                cell.store(cell.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
            }
            Mine::Shared(row) => {
                row.cell(i).fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    pub(super) fn add_f64(&self, i: usize, x: f64) {
        let add = |bits: u64| (f64::from_bits(bits) + x).to_bits();
        match self {
            Mine::Own(row) => {
                let cell = row.cell(i);
                cell.store(add(cell.load(Ordering::Relaxed)), Ordering::Relaxed);
            }
            Mine::Shared(row) => {
                let _ = row
                    .cell(i)
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some(add(bits)));
            }
        }
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

    /// More threads at once than there are slots: those without one share a row, and nothing is lost.
    #[test]
    fn threads_beyond_the_slots_share_a_row() {
        let cells = ThreadCells::new(2);
        let threads = SLOTS + 6;
        let all_recorded = std::sync::Barrier::new(threads);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    cells.mine().add(1, 3);
                    cells.mine().add_f64(0, 0.5);
                    // Every thread holds its slot until all have recorded.
                    all_recorded.wait();
                    cells.mine().add(1, 1);
                });
            }
        });
        assert!(cells.rest.get().is_some(), "threads beyond the inline slots");
        assert!(cells.shared.get().is_some(), "some thread had no slot");
        assert_eq!(cells.total(1), 4 * threads as u64);
        assert_eq!(cells.total_f64(0), 0.5 * threads as f64);
    }

    /// What a series costs before any thread beyond the first few records into it.
    #[test]
    fn a_series_is_small_until_many_threads_record() {
        assert!(
            std::mem::size_of::<ThreadCells>() <= 160,
            "{}",
            std::mem::size_of::<ThreadCells>()
        );
        let cells = ThreadCells::new(1);
        cells.mine().add(0, 1);
        if slot() < INLINE {
            assert!(cells.rest.get().is_none());
        }
        assert_eq!(cells.total(0), 1);
    }
}
