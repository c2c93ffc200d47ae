//! [`InferenceService`]: the service the layer wraps around the inner one.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tower_service::Service;

use super::body::ResponseBody;
use super::future::ResponseFuture;
use super::lifecycle::InFlight;
use super::route::route_of;
use super::shared::LayerState;
use crate::classify::Protocol;
use crate::observe::{Observer, RequestInfo};

/// Measures each request of the inner service; built by [`InferenceLayer`](crate::InferenceLayer).
pub struct InferenceService<S, O> {
    inner: S,
    layer: Arc<LayerState<O>>,
}

impl<S, O> InferenceService<S, O> {
    pub(crate) fn new(inner: S, layer: Arc<LayerState<O>>) -> Self {
        Self { inner, layer }
    }
}

impl<S: Clone, O> Clone for InferenceService<S, O> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
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
        let (route, unserved) = route_of(&request, protocol, &self.layer.routes, self.layer.grpc_methods_declared);
        let mut info = RequestInfo::new(request.method().clone(), protocol, route, start);
        info.unserved_method = unserved;
        // Started before the inner call so that a panic inside it still finishes the request.
        let (in_flight, handle) = InFlight::start(&self.layer, info, request.headers());
        request.extensions_mut().insert(handle);
        let future = self.inner.call(request);
        ResponseFuture::new(future, in_flight)
    }
}
