//! The request lifecycle every signal plugs into, and the observers that ship with inferwatch.
//!
//! An [`Observer`] is told when a request starts, while its service and body are polled, when its response
//! headers go out, what the handler reports along the way (stages, content, queue, features, scores: one
//! [`Event`] each), and, exactly once, when it finishes (at the end of the response body, on error, on panic or
//! when the response is dropped), with everything the layer measured in a [`RequestSummary`]. Per-request state,
//! the state of its stages included, travels in [`Observer::RequestData`], so observers keep no global maps.
//!
//! Observers compose: `(A, B)` calls both, `Option<O>` calls `O` when it is `Some` (a choice made at run time),
//! `()` does nothing. [`MetricsObserver`] records the metric contract, [`TracingObserver`]
//! makes spans and the summary log line; other crates add theirs (cost, drift, requests in flight for a readiness
//! check).
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! use inferwatch_core::InferenceLayer;
//! use inferwatch_core::classify::Outcome;
//! use inferwatch_core::observe::{HeaderMap, Observer, RequestInfo, RequestSummary};
//!
//! /// Counts server errors, and nothing else.
//! #[derive(Default)]
//! struct ServerErrors(AtomicU64);
//!
//! impl Observer for ServerErrors {
//!     type RequestData = ();
//!     fn on_request(&self, _: &RequestInfo, _: &HeaderMap) {}
//!     fn on_finish(&self, _: &(), summary: &RequestSummary<'_>) {
//!         if summary.outcome == Outcome::ServerError {
//!             self.0.fetch_add(1, Ordering::Relaxed);
//!         }
//!     }
//! }
//!
//! // The default metrics, spans and log lines, then the counter; the application keeps a handle to read it.
//! let errors = Arc::new(ServerErrors::default());
//! let layer = InferenceLayer::builder().with(errors.clone()).build();
//! # let _ = layer;
//! assert_eq!(errors.0.load(Ordering::Relaxed), 0);
//! ```
//!
//! [`InferenceLayerBuilder::observer`](crate::InferenceLayerBuilder::observer) replaces the default
//! observers instead, for a choice made at run time (metrics only, say).

mod metrics;
mod observer;
mod tracing;

pub use self::metrics::MetricsObserver;
pub use self::metrics::cache::HandleCache;
/// What other crates' tests need of the summary line: lines with every kind of field set, logged as the observer
/// logs them (feature `test-util`; not part of the API).
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub mod testing {
    pub use super::tracing::{log_visited, route_shared, test_values};
}
pub use self::tracing::{
    HeadSampler, REQUEST_SPAN_NAME, RequestSpan, SUMMARY_MESSAGE, SummaryLine, SummaryWriter, TracingObserver,
};
pub use crate::request::{Event, FeatureValue, LayerEvent, RequestInfo, RequestSummary, StageId};
/// The request and response headers observers see (re-exported, so that an observer needs no `http` dependency).
pub use http::HeaderMap;
pub use observer::Observer;
/// The request span's context and ids as observers are given them (re-exported, so that an observer needs no
/// `opentelemetry` dependency).
pub use opentelemetry::trace::{SpanContext, SpanId, TraceId};
