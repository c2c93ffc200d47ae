//! [`InferenceService`]: the service the layer wraps around the inner one.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tower_service::Service;

use crate::body::ResponseBody;
use crate::classify::Protocol;
use crate::future::ResponseFuture;
use crate::handle::RequestHandle;
use crate::in_flight::InFlight;
use crate::label_sets::LabelSets;
use crate::labels::LabelValue;
use crate::layer::Shared;
use crate::observer::{Observer, RequestInfo};

/// Measures each request of the inner service; built by [`InferenceLayer`](crate::InferenceLayer).
pub struct InferenceService<S, O> {
    inner: S,
    shared: Arc<Shared<O>>,
}

impl<S, O> InferenceService<S, O> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<O>>) -> Self {
        Self { inner, shared }
    }
}

impl<S: Clone, O> Clone for InferenceService<S, O> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, O> fmt::Debug for InferenceService<S, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InferenceService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, O, ReqBody, ResBody> Service<Request<ReqBody>> for InferenceService<S, O>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    O: Observer,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody, O>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, O>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let protocol = Protocol::of_request(request.headers());
        let route = route_of(&request, protocol, &self.shared.labels);
        let info = RequestInfo {
            method: request.method().clone(),
            protocol,
            route,
            start,
        };
        let handle = RequestHandle::new(self.shared.labels.clone(), info);
        request.extensions_mut().insert(handle.clone());
        // Created before the inner call so that a panic inside it still finishes the request.
        let in_flight = InFlight::start(self.shared.clone(), handle, request.headers());
        let future = self.inner.call(request);
        ResponseFuture::new(future, in_flight)
    }
}

/// The route label: the gRPC method path, axum's route template, or `_OTHER`.
fn route_of<B>(request: &Request<B>, protocol: Protocol, labels: &LabelSets) -> LabelValue {
    if protocol == Protocol::Grpc {
        let path = request.uri().path();
        return if is_grpc_method_path(path) {
            labels.routes.get(path)
        } else {
            labels.routes.other()
        };
    }
    #[cfg(feature = "axum")]
    if let Some(matched) = request.extensions().get::<axum::extract::MatchedPath>() {
        return labels.routes.get(matched.as_str());
    }
    labels.routes.other()
}

/// `/package.Service/Method`: two non-empty segments of identifier characters.
fn is_grpc_method_path(path: &str) -> bool {
    let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return false;
    };
    let ident = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    ident(service) && ident(method)
}

#[cfg(test)]
mod tests {
    use super::is_grpc_method_path;

    #[test]
    fn grpc_paths() {
        assert!(is_grpc_method_path("/inference.GRPCInferenceService/ModelInfer"));
        assert!(!is_grpc_method_path("/inference.GRPCInferenceService/"));
        assert!(!is_grpc_method_path("/a/b/c"));
        assert!(!is_grpc_method_path("/a b/c"));
        assert!(!is_grpc_method_path("noslash"));
    }
}
