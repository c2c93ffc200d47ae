//! [`Rated`]: the response ids whose feedback was counted, so that one answer's rating counts once, however often
//! it is posted.
//!
//! An id is remembered until it expires (its issue time plus the accepted age): after that its feedback is no
//! longer attributed anyway. Memory is bounded: past the capacity the ids closest to expiring are forgotten first,
//! so a flood of valid ids (each one a request the flooder was answered) can make an old id count a second time,
//! never an unbounded table. Each replica remembers what it received: the same id posted to three replicas counts
//! up to three times.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Response ids remembered by default.
pub(crate) const DEFAULT_CAPACITY: usize = 100_000;

pub(crate) struct Rated {
    capacity: usize,
    /// An id's fingerprint (the first bytes of its signature) → when it expires, in seconds since the epoch.
    expiry: Mutex<HashMap<u64, u64>>,
}

impl Rated {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            expiry: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `id` is rated for the first time (and remembers it): false for a repeat.
    pub(crate) fn first(&self, id: u64, expires: u64, now: u64) -> bool {
        let mut expiry = self.expiry.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&until) = expiry.get(&id)
            && until > now
        {
            return false;
        }
        if expiry.len() >= self.capacity {
            expiry.retain(|_, &mut until| until > now);
        }
        if expiry.len() >= self.capacity {
            // Forget the eighth closest to expiring, exactly that many (ids issued in the same second tie): rare, so
            // its linear cost spreads over the inserts it makes room for.
            let mut oldest: Vec<(u64, u64)> = expiry.iter().map(|(&id, &until)| (until, id)).collect();
            let cut = (oldest.len() / 8).max(1);
            oldest.select_nth_unstable(cut - 1);
            for (_, id) in &oldest[..cut] {
                expiry.remove(id);
            }
        }
        expiry.insert(id, expires);
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.expiry.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_counts_once_until_it_expires() {
        let rated = Rated::new(10);
        assert!(rated.first(1, 100, 0));
        assert!(!rated.first(1, 100, 50));
        assert!(!rated.first(1, 100, 99));
        assert!(rated.first(2, 100, 99));
        // Expired: its feedback is no longer attributed, and the id is no longer remembered as rated.
        assert!(rated.first(1, 200, 100));
    }

    #[test]
    fn memory_stays_bounded_and_the_oldest_go_first() {
        let rated = Rated::new(1_000);
        for id in 0..100_000u64 {
            assert!(rated.first(id, 1_000 + id, 0));
            assert!(rated.len() <= 1_000);
        }
        // The newest ids are still remembered; the first ones, closest to expiring, were forgotten.
        assert!(!rated.first(99_999, 1_000 + 99_999, 0));
        assert!(rated.first(0, 1_000, 0));
        // Expired ones go before any live one.
        let rated = Rated::new(4);
        for id in 0..3 {
            assert!(rated.first(id, 10, 0));
        }
        assert!(rated.first(3, 1_000, 0));
        assert!(rated.first(4, 1_000, 20));
        assert_eq!(rated.len(), 2);
        assert!(!rated.first(3, 1_000, 20));
        // Ids that expire in the same second: making room forgets an eighth of them, not all.
        let rated = Rated::new(800);
        for id in 0..800 {
            assert!(rated.first(id, 5_000, 0));
        }
        assert!(rated.first(800, 5_000, 0));
        assert_eq!(rated.len(), 701);
        let remembered = (0..800).filter(|&id| !rated.first(id, 5_000, 0)).count();
        assert!(remembered >= 600, "{remembered} of 800 still counted as rated");
    }
}
