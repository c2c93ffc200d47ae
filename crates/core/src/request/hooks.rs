//! How the handle and a finished request's summary reach the layer's observers, without knowing their type.

use std::fmt;

use opentelemetry::trace::SpanContext;

use super::event::Event;

/// The layer's observers as the handle reaches them. The layer implements it over its observer and the request's
/// observer state; a detached handle has [`NoHooks`].
pub(crate) trait ObserverHooks: Send + Sync + 'static {
    fn event(&self, event: &Event<'_>);
    fn span_context(&self) -> Option<SpanContext>;
}

/// The hooks of a handle that no layer observes.
pub(crate) struct NoHooks;

impl ObserverHooks for NoHooks {
    fn event(&self, _: &Event<'_>) {}
    fn span_context(&self) -> Option<SpanContext> {
        None
    }
}

/// The request's observers, as a finished request's summary reaches them.
#[derive(Clone, Copy)]
pub(crate) struct Observers<'a>(pub(crate) &'a dyn ObserverHooks);

impl fmt::Debug for Observers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observers")
    }
}
