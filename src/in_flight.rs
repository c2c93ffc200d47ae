//! One request between its arrival and its end: collects what the future and the body see, and finishes the
//! request exactly once, whether it completes, fails, panics or is dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};

use crate::classify::{End, GrpcCode, Protocol, classify, grpc_status};
use crate::handle::{RequestHandle, TokenUsage};
use crate::layer::Shared;
use crate::observer::{Observer, RequestSummary};

/// Kept small: it travels inside the response future and body, which servers move around; what is fixed for
/// the request lives in the handle's allocation.
pub(crate) struct InFlight<O: Observer> {
    shared: Arc<Shared<O>>,
    handle: RequestHandle,
    data: Option<O::Data>,
    first_frame: Option<Instant>,
    data_frames: u32,
    status: Option<StatusCode>,
    grpc_code: Option<GrpcCode>,
    /// Entered while the inner service and body are polled, so their logs and spans nest under the request.
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl<O: Observer> InFlight<O> {
    pub(crate) fn start(shared: Arc<Shared<O>>, handle: RequestHandle, headers: &HeaderMap) -> Self {
        let data = shared.observer.on_request(&handle, headers);
        Self {
            #[cfg(feature = "tracing")]
            span: handle.span(),
            shared,
            handle,
            data: Some(data),
            first_frame: None,
            data_frames: 0,
            status: None,
            grpc_code: None,
        }
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn enter(&self) -> tracing::span::Entered<'_> {
        self.span.enter()
    }

    #[cfg(not(feature = "tracing"))]
    pub(crate) fn enter(&self) {}

    pub(crate) fn on_response<B>(&mut self, response: &mut http::Response<B>) {
        if let Some(data) = &self.data {
            self.shared.observer.on_response_headers(data, response.headers_mut());
        }
        self.status = Some(response.status());
        if self.handle.info().protocol == Protocol::Grpc {
            self.grpc_code = GrpcCode::from_headers(response.headers());
        }
        if let Some(usage) = response.extensions().get::<TokenUsage>() {
            self.handle.fill_usage(*usage);
        }
    }

    /// Notes a data frame; returns when it came, so that a frame that ends the body also ends the request.
    pub(crate) fn on_data_frame(&mut self) -> Instant {
        let now = Instant::now();
        if self.first_frame.is_none() {
            self.first_frame = Some(now);
        }
        self.data_frames = self.data_frames.saturating_add(1);
        now
    }

    pub(crate) fn on_trailers(&mut self, trailers: &HeaderMap) {
        if self.handle.info().protocol == Protocol::Grpc
            && let Some(code) = GrpcCode::from_headers(trailers)
        {
            self.grpc_code = Some(code);
        }
    }

    /// Finishes the request now. Dropping an unfinished `InFlight` finishes it as dropped (or panicked).
    pub(crate) fn finish(self, end: End) {
        self.finish_at(end, Instant::now());
    }

    /// Finishes the request, as of `now`.
    pub(crate) fn finish_at(mut self, end: End, now: Instant) {
        self.complete(end, now);
    }

    fn complete(&mut self, end: End, now: Instant) {
        let Some(data) = self.data.take() else { return };
        let info = self.handle.info();
        let start = info.start;
        let reported = self.handle.reported();
        let streamed = reported.stream.unwrap_or(self.data_frames > 1);
        let first_token = reported.first_token.or(if streamed { self.first_frame } else { None });
        let time_per_output_token = match (first_token, reported.usage.output_tokens) {
            (Some(first), n) if n >= 2 => Some(per_token(now.saturating_duration_since(first), n - 1)),
            _ => None,
        };
        let grpc_code = match info.protocol {
            Protocol::Grpc => grpc_status(self.status, self.grpc_code, end),
            Protocol::Http => None,
        };
        let (outcome, error_type) = classify(info.protocol, end, self.status, grpc_code);
        let summary = RequestSummary {
            info,
            handle: &self.handle,
            end,
            outcome,
            error_type,
            status: self.status,
            grpc_code,
            duration: now.saturating_duration_since(start),
            time_to_first_token: first_token.map(|t| t.saturating_duration_since(start)),
            time_per_output_token,
            reported,
            streamed,
        };
        self.shared.observer.on_finish(data, &summary);
    }
}

fn per_token(total: Duration, intervals: u64) -> Duration {
    let nanos = total.as_nanos() / u128::from(intervals);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

impl<O: Observer> Drop for InFlight<O> {
    fn drop(&mut self) {
        if self.data.is_none() {
            return;
        }
        let end = if std::thread::panicking() {
            End::Panic
        } else {
            End::Dropped
        };
        self.complete(end, Instant::now());
    }
}
