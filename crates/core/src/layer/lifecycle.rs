//! [`InFlight`]: one request between its arrival and its end. Collects what the future and the body see and
//! finishes the request exactly once, whether it completes, fails, panics or is dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};

use super::shared::{Hooks, LayerState, ObservedRequest};
use crate::classify::{self, End, GrpcCode, Outcome, Protocol};
use crate::observe::{Observer, RequestInfo, RequestSummary};
use crate::request::state::RequestState;
use crate::request::{Observers, RequestHandle, TokenUsage};

/// Kept small: it travels inside the response future and body, which servers move around; what is fixed for
/// the request lives in the request state's allocation, shared with the handle.
pub(crate) struct InFlight<O: Observer> {
    /// `None` once finished.
    request: Option<Arc<ObservedRequest<O>>>,
    first_frame: Option<Instant>,
    data_frames: u32,
    status: Option<StatusCode>,
    grpc_code: Option<GrpcCode>,
}

impl<O: Observer> InFlight<O> {
    /// Tells the observer the request started, and returns the handle for the request's extensions.
    pub(crate) fn start(layer: &Arc<LayerState<O>>, info: RequestInfo, headers: &HeaderMap) -> (Self, RequestHandle) {
        let data = layer.observer.on_request(&info, headers);
        let hooks = Hooks {
            layer: layer.clone(),
            data,
        };
        let request = Arc::new(RequestState::new(info, layer.labels.clone(), hooks));
        let handle = RequestHandle::new(request.clone());
        let in_flight = Self {
            request: Some(request),
            first_frame: None,
            data_frames: 0,
            status: None,
            grpc_code: None,
        };
        (in_flight, handle)
    }

    /// Tells the observer that the request's code runs on this thread until the guard is dropped. The guard
    /// holds the request itself, so the request may finish while it is held.
    pub(crate) fn enter(&self) -> Entered<O> {
        Entered::new(self.request.clone())
    }

    pub(crate) fn on_response<B>(&mut self, response: &mut http::Response<B>) {
        let Some(request) = self.request.as_deref() else { return };
        let hooks = &request.hooks;
        hooks
            .layer
            .observer
            .on_response_headers(&hooks.data, response.headers_mut());
        self.status = Some(response.status());
        if request.info.protocol == Protocol::Grpc {
            self.grpc_code = GrpcCode::from_headers(response.headers());
        }
        if let Some(usage) = response.extensions().get::<TokenUsage>() {
            request.fill_usage(*usage);
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
        let grpc = self.request.as_ref().is_some_and(|r| r.info.protocol == Protocol::Grpc);
        if grpc && let Some(code) = GrpcCode::from_headers(trailers) {
            self.grpc_code = Some(code);
        }
    }

    /// Finishes the request as of `now`. Dropping an unfinished `InFlight` finishes it as dropped (or panicked).
    pub(crate) fn finish(mut self, end: End, now: Instant) {
        self.finish_once(end, now);
    }

    fn finish_once(&mut self, end: End, now: Instant) {
        let Some(request) = self.request.take() else { return };
        let info = &request.info;
        let reported = request.reported();
        let streamed = reported.stream.unwrap_or(self.data_frames > 1);
        let first_token = reported.first_token.or(if streamed { self.first_frame } else { None });
        let time_per_output_token = match (first_token, reported.usage.output_tokens) {
            (Some(first), n) if n >= 2 => Some(per_token(now.saturating_duration_since(first), n - 1)),
            _ => None,
        };
        let (grpc_code, (outcome, error_type)) = match info.protocol {
            Protocol::Http => (None, classify::http(end, self.status)),
            Protocol::Grpc => {
                let code = classify::grpc_status(self.status, self.grpc_code, end);
                let (outcome, error) = classify::grpc(end, code);
                // Calling a method the server does not serve is the client's mistake, as an HTTP 404 is.
                let outcome = match outcome {
                    Outcome::ServerError if info.unserved_method && end == End::Complete => Outcome::ClientError,
                    outcome => outcome,
                };
                (code, (outcome, error))
            }
        };
        let summary = RequestSummary {
            info,
            outcome,
            error_type,
            status: self.status,
            grpc_code,
            duration: now.saturating_duration_since(info.start),
            time_to_first_token: first_token.map(|t| t.saturating_duration_since(info.start)),
            time_per_output_token,
            streamed,
            model: reported.model,
            response_model: reported.response_model,
            response_id: reported.response_id,
            experiment: reported.experiment,
            operation: reported.operation,
            finish_reason: reported.finish_reason,
            usage: reported.usage,
            observers: Observers(&request.hooks),
        };
        request.hooks.layer.observer.on_finish(&request.hooks.data, &summary);
    }
}

fn per_token(total: Duration, intervals: u64) -> Duration {
    let nanos = total.as_nanos() / u128::from(intervals);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

impl<O: Observer> Drop for InFlight<O> {
    fn drop(&mut self) {
        if self.request.is_none() {
            return;
        }
        let end = if std::thread::panicking() {
            End::Panic
        } else {
            End::Dropped
        };
        let _entered = self.enter();
        self.finish_once(end, Instant::now());
    }
}

/// See [`InFlight::enter`]; exits on drop, unwinding included.
pub(crate) struct Entered<O: Observer>(Option<Arc<ObservedRequest<O>>>);

impl<O: Observer> Entered<O> {
    fn new(request: Option<Arc<ObservedRequest<O>>>) -> Self {
        if let Some(request) = &request {
            request.hooks.layer.observer.enter(&request.hooks.data);
        }
        Self(request)
    }
}

impl<O: Observer> Drop for Entered<O> {
    fn drop(&mut self) {
        if let Some(request) = &self.0 {
            request.hooks.layer.observer.exit(&request.hooks.data);
        }
    }
}
