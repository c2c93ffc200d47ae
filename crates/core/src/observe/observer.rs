//! The [`Observer`] trait, and how observers compose: tuples, `Option`, `()`, `Arc`.

use http::HeaderMap;

use opentelemetry::trace::SpanContext;

use crate::request::{Event, LayerEvent, RequestInfo, RequestSummary};

/// Callbacks for the request lifecycle. Only [`on_request`](Self::on_request) and [`on_finish`](Self::on_finish)
/// must be written; the rest do nothing by default.
///
/// The hot path has methods of its own (a request arrives, is polled, sends headers, finishes); everything rarer
/// that happens during a request, stages included, arrives as one [`Event`] through [`on_event`](Self::on_event),
/// and what is not tied to a request (the layer was built, feedback arrived) as a [`LayerEvent`].
pub trait Observer: Send + Sync + 'static {
    /// Per-request state, created at the start. It lives as long as the request's handle, shared with its
    /// stages; [`on_finish`](Self::on_finish) marks the end. An observer that follows stages keeps their state
    /// here, by [`StageId`](crate::observe::StageId).
    type RequestData: Send + Sync + 'static;

    /// Something not tied to one request: the layer was built, or feedback on an earlier answer arrived.
    fn on_layer_event(&self, _event: &LayerEvent<'_>) {}

    /// A request arrived; runs before the inner service is called.
    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> Self::RequestData;

    /// The inner service's future or the response body is about to be polled (so the handler's logs can nest
    /// under the request). Paired with [`exit`](Self::exit), on the same thread.
    fn enter(&self, _request: &Self::RequestData) {}

    /// The poll that [`enter`](Self::enter) announced is over.
    fn exit(&self, _request: &Self::RequestData) {}

    /// The inner service produced a response; `headers` are about to be sent. Observers must leave them alone
    /// unless the user asked for a change (e.g. `traceparent` in responses).
    fn on_response_headers(&self, _request: &Self::RequestData, _headers: &mut HeaderMap) {}

    /// The handler reported something during the request: see [`Event`].
    fn on_event(&self, _request: &Self::RequestData, _event: &Event<'_>) {}

    /// The context of the request's span (its trace and span ids, and whether it is sampled), if this observer
    /// made one. Response ids carry its ids, so that feedback can link to the request, and every observer can ask
    /// for it at the end through [`RequestSummary::span_context`].
    fn span_context(&self, _request: &Self::RequestData) -> Option<SpanContext> {
        None
    }

    /// The request finished. Called exactly once per request, on every path, inside the request's scope (between
    /// [`enter`](Self::enter) and [`exit`](Self::exit)).
    fn on_finish(&self, request: &Self::RequestData, summary: &RequestSummary<'_>);
}

/// Both, in order; exits in the reverse order, so that scopes nest.
impl<A: Observer, B: Observer> Observer for (A, B) {
    type RequestData = (A::RequestData, B::RequestData);

    fn on_layer_event(&self, event: &LayerEvent<'_>) {
        self.0.on_layer_event(event);
        self.1.on_layer_event(event);
    }

    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> Self::RequestData {
        (self.0.on_request(info, headers), self.1.on_request(info, headers))
    }

    fn enter(&self, (a, b): &Self::RequestData) {
        self.0.enter(a);
        self.1.enter(b);
    }

    fn exit(&self, (a, b): &Self::RequestData) {
        self.1.exit(b);
        self.0.exit(a);
    }

    fn on_response_headers(&self, (a, b): &Self::RequestData, headers: &mut HeaderMap) {
        self.0.on_response_headers(a, headers);
        self.1.on_response_headers(b, headers);
    }

    fn on_event(&self, (a, b): &Self::RequestData, event: &Event<'_>) {
        if let Event::StageExit(_) = event {
            self.1.on_event(b, event);
            self.0.on_event(a, event);
        } else {
            self.0.on_event(a, event);
            self.1.on_event(b, event);
        }
    }

    fn span_context(&self, (a, b): &Self::RequestData) -> Option<SpanContext> {
        self.0.span_context(a).or_else(|| self.1.span_context(b))
    }

    fn on_finish(&self, (a, b): &Self::RequestData, summary: &RequestSummary<'_>) {
        self.0.on_finish(a, summary);
        self.1.on_finish(b, summary);
    }
}

/// Calls the observer when it is `Some`: an observer switched on or off at run time, with one layer type.
impl<O: Observer> Observer for Option<O> {
    type RequestData = Option<O::RequestData>;

    fn on_layer_event(&self, event: &LayerEvent<'_>) {
        if let Some(o) = self {
            o.on_layer_event(event);
        }
    }

    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> Self::RequestData {
        self.as_ref().map(|o| o.on_request(info, headers))
    }

    fn enter(&self, request: &Self::RequestData) {
        if let (Some(o), Some(r)) = (self, request) {
            o.enter(r);
        }
    }

    fn exit(&self, request: &Self::RequestData) {
        if let (Some(o), Some(r)) = (self, request) {
            o.exit(r);
        }
    }

    fn on_response_headers(&self, request: &Self::RequestData, headers: &mut HeaderMap) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_response_headers(r, headers);
        }
    }

    fn on_event(&self, request: &Self::RequestData, event: &Event<'_>) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_event(r, event);
        }
    }

    fn span_context(&self, request: &Self::RequestData) -> Option<SpanContext> {
        match (self, request) {
            (Some(o), Some(r)) => o.span_context(r),
            _ => None,
        }
    }

    fn on_finish(&self, request: &Self::RequestData, summary: &RequestSummary<'_>) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_finish(r, summary);
        }
    }
}

/// An observer that does nothing.
impl Observer for () {
    type RequestData = ();

    fn on_request(&self, _: &RequestInfo, _: &HeaderMap) {}

    fn on_finish(&self, _: &(), _: &RequestSummary<'_>) {}
}

/// An observer the application keeps a handle to (to read what it gathered), shared with the layer.
impl<O: Observer> Observer for std::sync::Arc<O> {
    type RequestData = O::RequestData;

    fn on_layer_event(&self, event: &LayerEvent<'_>) {
        (**self).on_layer_event(event);
    }

    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> Self::RequestData {
        (**self).on_request(info, headers)
    }

    fn enter(&self, request: &Self::RequestData) {
        (**self).enter(request);
    }

    fn exit(&self, request: &Self::RequestData) {
        (**self).exit(request);
    }

    fn on_response_headers(&self, request: &Self::RequestData, headers: &mut HeaderMap) {
        (**self).on_response_headers(request, headers);
    }

    fn on_event(&self, request: &Self::RequestData, event: &Event<'_>) {
        (**self).on_event(request, event);
    }

    fn span_context(&self, request: &Self::RequestData) -> Option<SpanContext> {
        (**self).span_context(request)
    }

    fn on_finish(&self, request: &Self::RequestData, summary: &RequestSummary<'_>) {
        (**self).on_finish(request, summary);
    }
}
