//! [`ResponseFuture`]: waits for the inner service's response and wraps its body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::Response;
use pin_project_lite::pin_project;

use super::body::ResponseBody;
use super::lifecycle::InFlight;
use crate::classify::End;
use crate::observe::Observer;

pin_project! {
    /// The response future of [`InferenceService`](crate::InferenceService).
    pub struct ResponseFuture<F, O: Observer> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight<O>>,
    }
}

impl<F, O: Observer> ResponseFuture<F, O> {
    pub(crate) fn new(inner: F, in_flight: InFlight<O>) -> Self {
        Self {
            inner,
            in_flight: Some(in_flight),
        }
    }
}

impl<F, O, B, E> Future for ResponseFuture<F, O>
where
    F: Future<Output = Result<Response<B>, E>>,
    O: Observer,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B, O>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Held to the end of the poll: a request that finishes here finishes inside its scope.
        let _entered = this.in_flight.as_ref().map(InFlight::enter);
        let result = ready!(this.inner.poll(cx));
        let mut in_flight = this.in_flight.take();
        match result {
            Ok(mut response) => {
                if let Some(in_flight) = in_flight.as_mut() {
                    in_flight.on_response(&mut response);
                }
                let (parts, body) = response.into_parts();
                // An empty body may never be polled: the request ends with its headers.
                if body.is_end_stream()
                    && let Some(in_flight) = in_flight.take()
                {
                    in_flight.finish(End::Complete, Instant::now());
                }
                Poll::Ready(Ok(Response::from_parts(parts, ResponseBody::new(body, in_flight))))
            }
            Err(error) => {
                if let Some(in_flight) = in_flight {
                    in_flight.finish(End::ServiceError, Instant::now());
                }
                Poll::Ready(Err(error))
            }
        }
    }
}
