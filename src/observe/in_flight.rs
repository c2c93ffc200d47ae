//! [`InFlightCounter`]: requests in flight, counted in process, for a saturation check.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::HeaderMap;

use super::{LabelValue, Observer, RequestInfo, RequestSummary};

/// Counts the layer's requests in flight, for [`checks::saturation`](crate::health::checks::saturation) or
/// anything else that wants the number. Add it to the layer with
/// [`InferenceLayerBuilder::build_with`](crate::InferenceLayerBuilder::build_with).
///
/// ```
/// use inferwatch::InferenceLayer;
/// use inferwatch::observe::InFlightCounter;
///
/// let in_flight = InFlightCounter::new();
/// let layer = InferenceLayer::builder().build_with(in_flight.clone());
/// assert_eq!(in_flight.get(), 0);
/// # let _ = layer;
/// ```
#[derive(Clone, Debug, Default)]
pub struct InFlightCounter {
    count: Arc<AtomicUsize>,
}

impl InFlightCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests in flight now.
    pub fn get(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

impl Observer for InFlightCounter {
    type RequestData = ();
    type StageData = ();

    fn on_request(&self, _: &RequestInfo, _: &HeaderMap) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn on_stage_start(&self, _: &(), _: &LabelValue) {}

    // The lifecycle calls this exactly once per request, whichever way it ends.
    fn on_finish(&self, _: &(), _: &RequestSummary<'_>) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}
