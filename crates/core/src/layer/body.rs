//! [`ResponseBody`]: passes the inner body through frame by frame and notices its first frame and its end.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::lifecycle::InFlight;
use crate::classify::End;
use crate::observe::Observer;

pin_project! {
    /// The response body of [`InferenceService`](crate::InferenceService): the inner body, unchanged.
    ///
    /// The request ends when this body yields its last frame (or trailers), yields an error, or is dropped.
    pub struct ResponseBody<B, O: Observer> {
        #[pin]
        inner: B,
        in_flight: Option<InFlight<O>>,
    }
}

impl<B, O: Observer> ResponseBody<B, O> {
    pub(crate) fn new(inner: B, in_flight: Option<InFlight<O>>) -> Self {
        Self { inner, in_flight }
    }
}

impl<B: Body, O: Observer> Body for ResponseBody<B, O> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        // Held to the end of the poll: a request that finishes here finishes inside its scope.
        let _entered = this.in_flight.as_ref().map(InFlight::enter);
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let Some(in_flight) = this.in_flight.as_mut() else {
            return Poll::Ready(frame);
        };
        let mut at = None;
        let end = match &frame {
            Some(Ok(frame)) => {
                if frame.is_data() {
                    at = Some(in_flight.on_data_frame());
                } else if let Some(trailers) = frame.trailers_ref() {
                    in_flight.on_trailers(trailers);
                }
                // Trailers are the last frame, and a server stops polling once the body says it has ended.
                (frame.is_trailers() || this.inner.is_end_stream()).then_some(End::Complete)
            }
            Some(Err(_)) => Some(End::BodyError),
            None => Some(End::Complete),
        };
        if let Some(end) = end
            && let Some(in_flight) = this.in_flight.take()
        {
            in_flight.finish(end, at.unwrap_or_else(Instant::now));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
