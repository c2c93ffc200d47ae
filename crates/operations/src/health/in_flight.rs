//! [`InFlightCounter`]: requests in flight, counted in process, for a saturation check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use inferwatch_core::observe::{Event, HeaderMap, Observer, RequestInfo, RequestSummary};

/// Counts the layer's requests in flight, for [`checks::saturation`](super::checks::saturation) or
/// anything else that wants the number. Add it to the layer with
/// [`InferenceLayerBuilder::with`](inferwatch_core::InferenceLayerBuilder::with).
///
/// ```
/// use inferwatch_core::InferenceLayer;
/// use inferwatch_operations::health::InFlightCounter;
///
/// let in_flight = InFlightCounter::new();
/// let layer = InferenceLayer::builder().with(in_flight.clone()).build();
/// assert_eq!(in_flight.get(), 0);
/// # let _ = layer;
/// ```
#[derive(Clone, Debug, Default)]
pub struct InFlightCounter {
    count: Arc<AtomicUsize>,
    serving_only: bool,
}

impl InFlightCounter {
    /// Counts every request from its arrival to its end.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts requests from when their handler starts serving them (names the model or starts a stage) to their
    /// end: the work the server is doing, not uploads still arriving from slow clients. What a saturation check
    /// should read.
    pub fn serving() -> Self {
        Self {
            count: Arc::default(),
            serving_only: true,
        }
    }

    /// Requests in flight now.
    pub fn get(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// A request not counted (yet), counted, or finished (a handle used after the end must not count it again).
const WAITING: u8 = 0;
const COUNTED: u8 = 1;
const FINISHED: u8 = 2;

impl Observer for InFlightCounter {
    /// `WAITING`, `COUNTED` or `FINISHED`.
    type RequestData = AtomicU8;

    fn on_request(&self, _: &RequestInfo, _: &HeaderMap) -> AtomicU8 {
        if self.serving_only {
            return AtomicU8::new(WAITING);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        AtomicU8::new(COUNTED)
    }

    fn on_event(&self, state: &AtomicU8, event: &Event<'_>) {
        if let Event::Serving = event
            && self.serving_only
            && state
                .compare_exchange(WAITING, COUNTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    // The lifecycle calls this exactly once per request, whichever way it ends.
    fn on_finish(&self, state: &AtomicU8, _: &RequestSummary<'_>) {
        if state.swap(FINISHED, Ordering::AcqRel) == COUNTED {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
