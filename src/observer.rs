//! The per-request lifecycle every signal plugs into: metrics now, spans, logs and health later.
//!
//! An [`Observer`] is told when a request starts and, exactly once, when it finishes (at the end of the response
//! body, on error, on panic or when the response is dropped), with everything the layer measured in a
//! [`RequestSummary`]. Per-request state travels in [`Observer::Data`], so observers keep no maps of their own.

use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode};

use crate::classify::{End, ErrorType, GrpcCode, Outcome, Protocol};
use crate::handle::{Reported, RequestHandle, TokenUsage};
use crate::labels::LabelValue;

/// What the layer knows when a request arrives.
#[derive(Debug)]
pub struct RequestInfo {
    /// The HTTP method.
    pub method: Method,
    /// HTTP or gRPC.
    pub protocol: Protocol,
    /// The bounded route: axum's `MatchedPath`, the gRPC method path, or `_OTHER`.
    pub route: LabelValue,
    /// When the layer received the request.
    pub start: Instant,
}

/// Everything measured about a finished request.
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestSummary<'a> {
    /// The request as it arrived.
    pub info: &'a RequestInfo,
    /// The handle the handler reported through.
    pub handle: &'a RequestHandle,
    /// How the response stream ended.
    pub end: End,
    /// How the request is classified.
    pub outcome: Outcome,
    /// Why it failed, if it did.
    pub error_type: Option<ErrorType>,
    /// The HTTP status sent, if a response was produced.
    pub status: Option<StatusCode>,
    /// The gRPC status (gRPC only; `None` when the call was dropped before any status).
    pub grpc_code: Option<GrpcCode>,
    /// From receipt to the end of the response body.
    pub duration: Duration,
    /// From receipt to the first output token, when one was marked or a streamed body yielded data.
    pub time_to_first_token: Option<Duration>,
    /// `(end - first token) / (output tokens - 1)`, when there were at least 2 output tokens.
    pub time_per_output_token: Option<Duration>,
    /// What the handler reported, with token counts completed from a
    /// [`TokenUsage`](crate::TokenUsage) response extension.
    pub reported: Reported<'a>,
    /// Whether the response was streamed (declared by the handler, or more than one data frame).
    pub streamed: bool,
}

impl RequestSummary<'_> {
    /// True when the handler named a model or reported tokens: the `gen_ai_*` and token metrics apply.
    pub fn is_inference(&self) -> bool {
        self.reported.model.is_some() || self.reported.usage != TokenUsage::default()
    }
}

/// Callbacks for the request lifecycle.
///
/// Observers compose as tuples: `(A, B)` is an observer that calls both.
pub trait Observer: Send + Sync + 'static {
    /// Per-request state, created at the start and handed back at the finish.
    type Data: Send + 'static;

    /// A request arrived; runs before the inner service is called.
    fn on_request(&self, handle: &RequestHandle, headers: &HeaderMap) -> Self::Data;

    /// The inner service produced a response; `headers` are about to be sent. Observers must leave them alone
    /// unless the user asked for a change (e.g. `traceparent` in responses).
    fn on_response_headers(&self, _data: &Self::Data, _headers: &mut HeaderMap) {}

    /// The request finished. Called exactly once per request, on every path.
    fn on_finish(&self, data: Self::Data, summary: &RequestSummary<'_>);
}

impl<A: Observer, B: Observer> Observer for (A, B) {
    type Data = (A::Data, B::Data);

    fn on_request(&self, handle: &RequestHandle, headers: &HeaderMap) -> Self::Data {
        (self.0.on_request(handle, headers), self.1.on_request(handle, headers))
    }

    fn on_response_headers(&self, (a, b): &Self::Data, headers: &mut HeaderMap) {
        self.0.on_response_headers(a, headers);
        self.1.on_response_headers(b, headers);
    }

    fn on_finish(&self, (a, b): Self::Data, summary: &RequestSummary<'_>) {
        self.0.on_finish(a, summary);
        self.1.on_finish(b, summary);
    }
}

/// An observer that does nothing.
impl Observer for () {
    type Data = ();

    fn on_request(&self, _: &RequestHandle, _: &HeaderMap) {}

    fn on_finish(&self, _: (), _: &RequestSummary<'_>) {}
}
