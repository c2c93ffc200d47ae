//! One request between its arrival and its end: collects what the future and the body see, and finishes the
//! request exactly once, whether it completes, fails, panics or is dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};

use crate::classify::{End, GrpcCode, Protocol, classify};
use crate::handle::TokenUsage;
use crate::layer::Shared;
use crate::observer::{Observer, RequestInfo, RequestSummary};

pub(crate) struct InFlight<O: Observer> {
    shared: Arc<Shared<O>>,
    info: RequestInfo,
    data: Option<O::Data>,
    status: Option<StatusCode>,
    grpc_code: Option<GrpcCode>,
    usage_extension: Option<TokenUsage>,
    first_frame: Option<Instant>,
    data_frames: u32,
}

impl<O: Observer> InFlight<O> {
    pub(crate) fn start(shared: Arc<Shared<O>>, info: RequestInfo, headers: &HeaderMap) -> Self {
        let data = shared.observer.on_request(&info, headers);
        Self {
            shared,
            info,
            data: Some(data),
            status: None,
            grpc_code: None,
            usage_extension: None,
            first_frame: None,
            data_frames: 0,
        }
    }

    pub(crate) fn on_response<B>(&mut self, response: &http::Response<B>) {
        self.status = Some(response.status());
        if self.info.protocol == Protocol::Grpc {
            self.grpc_code = GrpcCode::from_headers(response.headers());
        }
        self.usage_extension = response.extensions().get::<TokenUsage>().copied();
    }

    pub(crate) fn on_data_frame(&mut self) {
        if self.first_frame.is_none() {
            self.first_frame = Some(Instant::now());
        }
        self.data_frames = self.data_frames.saturating_add(1);
    }

    pub(crate) fn on_trailers(&mut self, trailers: &HeaderMap) {
        if self.info.protocol == Protocol::Grpc
            && let Some(code) = GrpcCode::from_headers(trailers)
        {
            self.grpc_code = Some(code);
        }
    }

    /// Finishes the request now. Dropping an unfinished `InFlight` finishes it as dropped (or panicked).
    pub(crate) fn finish(mut self, end: End) {
        self.complete(end);
    }

    fn complete(&mut self, end: End) {
        let Some(data) = self.data.take() else { return };
        let now = Instant::now();
        let start = self.info.start;
        let mut reported = self.info.handle.reported();
        if reported.operation.is_none() {
            reported.operation = self.shared.labels.default_operation.clone();
        }
        if let Some(ext) = self.usage_extension {
            let usage = &mut reported.usage;
            if usage.input_tokens == 0 {
                usage.input_tokens = ext.input_tokens;
            }
            if usage.output_tokens == 0 {
                usage.output_tokens = ext.output_tokens;
            }
        }
        let streamed = reported.stream.unwrap_or(self.data_frames > 1);
        let first_token = reported
            .first_token
            .or(if streamed { self.first_frame } else { None });
        let time_per_output_token = match (first_token, reported.usage.output_tokens) {
            (Some(first), n) if n >= 2 => {
                Some(per_token(now.saturating_duration_since(first), n - 1))
            }
            _ => None,
        };
        let (outcome, error_type) = classify(self.info.protocol, end, self.status, self.grpc_code);
        let grpc_code = match self.info.protocol {
            Protocol::Grpc => crate::classify::grpc_status(self.status, self.grpc_code, end),
            Protocol::Http => None,
        };
        let summary = RequestSummary {
            info: &self.info,
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
        let end = if std::thread::panicking() {
            End::Panic
        } else {
            End::Dropped
        };
        self.complete(end);
    }
}
