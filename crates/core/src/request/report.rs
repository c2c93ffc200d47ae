//! What observers are told about a request: [`RequestInfo`] at the start, [`RequestSummary`] at the end.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use opentelemetry::trace::SpanContext;

use super::hooks::Observers;
use super::vocabulary::{FinishReason, TokenUsage};
use crate::classify::{ErrorType, GrpcCode, Outcome, Protocol};
use crate::contract::OTHER;
use crate::labels::LabelValue;

/// What the layer knows when a request arrives.
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestInfo {
    /// The HTTP method.
    pub method: Method,
    /// HTTP or gRPC.
    pub protocol: Protocol,
    /// The bounded route: axum's `MatchedPath`, the gRPC method path, or `_OTHER`.
    pub route: LabelValue,
    /// When the layer received the request.
    pub start: Instant,
    /// A gRPC call to a method the server does not serve (known when the layer was told which it serves).
    pub(crate) unserved_method: bool,
}

impl RequestInfo {
    pub(crate) fn new(method: Method, protocol: Protocol, route: LabelValue, start: Instant) -> Self {
        Self {
            method,
            protocol,
            route,
            start,
            unserved_method: false,
        }
    }
}

/// Everything measured about a finished request.
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestSummary<'a> {
    /// The request as it arrived.
    pub info: &'a RequestInfo,
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
    /// Whether the response was streamed (declared by the handler, or more than one data frame).
    pub streamed: bool,
    /// The bounded model label, if the handler named a model.
    pub model: Option<&'a LabelValue>,
    /// The bounded model that answered, when the handler named one different from the request's
    /// (`gen_ai.response.model`: a version, a fallback).
    pub response_model: Option<&'a LabelValue>,
    /// The response id the handler asked for ([`RequestHandle::response_id`](crate::RequestHandle), feature
    /// `feedback`), as `gen_ai.response.id`.
    pub response_id: Option<&'a str>,
    /// The bounded experiment and variant the request was assigned, if any.
    pub experiment: Option<(&'a LabelValue, &'a LabelValue)>,
    /// The bounded operation label, if the handler named one (or the layer's default operation).
    pub operation: Option<&'a LabelValue>,
    /// The finish reason, if the handler set one.
    pub finish_reason: Option<FinishReason>,
    /// Tokens reported through the handle, completed from a [`TokenUsage`] response extension.
    pub usage: TokenUsage,
    /// The layer's observers, asked for the request span's context only by an observer that wants it.
    pub(crate) observers: Observers<'a>,
}

impl RequestSummary<'_> {
    /// True when the handler named a model or reported tokens: the `gen_ai_*` and token metrics apply.
    pub fn is_inference(&self) -> bool {
        self.model.is_some() || self.usage != TokenUsage::default()
    }

    /// The context of the request's span (trace and span ids, and whether the trace is sampled), from the
    /// observer that made the span ([`TracingObserver`](crate::observe::TracingObserver) with the defaults):
    /// for an exemplar, a link, or a log line of another observer's. `None` when no observer made one (no
    /// tracing observer, no subscriber, or spans filtered out). Asked of the observers on each call.
    ///
    /// ```
    /// use inferwatch_core::observe::{HeaderMap, Observer, RequestInfo, RequestSummary};
    ///
    /// /// Prints the trace id of every sampled request that failed.
    /// struct FailedTraces;
    ///
    /// impl Observer for FailedTraces {
    ///     type RequestData = ();
    ///     fn on_request(&self, _: &RequestInfo, _: &HeaderMap) {}
    ///     fn on_finish(&self, _: &(), summary: &RequestSummary<'_>) {
    ///         let sampled = summary.span_context().filter(|cx| cx.is_sampled());
    ///         if let (Some(error), Some(cx)) = (summary.error_type, sampled) {
    ///             eprintln!("{error:?}: trace {}", cx.trace_id());
    ///         }
    ///     }
    /// }
    /// ```
    pub fn span_context(&self) -> Option<SpanContext> {
        self.observers.0.span_context()
    }

    /// The model an inference request counts under, as its label's id and value (a key for caches of handles):
    /// the model named, or `_OTHER` (id 0) for tokens reported without one. `None` when the request is not
    /// inference.
    pub fn inference_model(&self) -> Option<(u32, &str)> {
        match self.model {
            Some(model) => Some((model.id(), model.as_str())),
            None if self.is_inference() => Some((0, OTHER)),
            None => None,
        }
    }
}

/// What the handler reported so far, read when the request finishes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reported<'a> {
    pub(crate) model: Option<&'a LabelValue>,
    pub(crate) response_model: Option<&'a LabelValue>,
    pub(crate) response_id: Option<&'a str>,
    pub(crate) experiment: Option<(&'a LabelValue, &'a LabelValue)>,
    pub(crate) operation: Option<&'a LabelValue>,
    pub(crate) finish_reason: Option<FinishReason>,
    /// When the handler marked the first token.
    pub(crate) first_token: Option<Instant>,
    /// Whether the handler declared the response streamed.
    pub(crate) stream: Option<bool>,
    pub(crate) usage: TokenUsage,
}
