//! [`TelemetrySubscriber`]: the subscriber `telemetry` builds, its layers wrapped with the head sampler.
//!
//! The request observer looks the head sampler up twice a request (`Dispatch::downcast_ref`), to decide before it
//! builds a span and to hand the summary line over. Held as a layer, it would be found by a walk down the stack
//! of layered subscribers and per-layer filters, each comparing type ids, on every request. Held here, it is the
//! first type id compared. It cannot simply be the outermost layer: a layer without a filter of its own turns the
//! callsites that every filter below disables from "never" into "sometimes", so that every disabled `debug!` in
//! the application would ask the filters again.

use std::any::TypeId;

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_core::span::Current;

use crate::observe::HeadSampler;

/// `inner` with `head` to be found first; every call is `inner`'s.
pub(super) struct TelemetrySubscriber<S> {
    head: Option<HeadSampler>,
    inner: S,
}

impl<S> TelemetrySubscriber<S> {
    pub(super) fn new(head: Option<HeadSampler>, inner: S) -> Self {
        Self { head, inner }
    }
}

impl<S: Subscriber> Subscriber for TelemetrySubscriber<S> {
    #[inline]
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    #[inline]
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    #[inline]
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    #[inline]
    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    #[inline]
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.inner.new_span(span)
    }

    #[inline]
    fn record(&self, span: &Id, values: &Record<'_>) {
        self.inner.record(span, values);
    }

    #[inline]
    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.inner.record_follows_from(span, follows);
    }

    #[inline]
    fn event_enabled(&self, event: &Event<'_>) -> bool {
        self.inner.event_enabled(event)
    }

    #[inline]
    fn event(&self, event: &Event<'_>) {
        self.inner.event(event);
    }

    #[inline]
    fn enter(&self, span: &Id) {
        self.inner.enter(span);
    }

    #[inline]
    fn exit(&self, span: &Id) {
        self.inner.exit(span);
    }

    #[inline]
    fn clone_span(&self, id: &Id) -> Id {
        self.inner.clone_span(id)
    }

    #[inline]
    #[allow(deprecated)]
    fn drop_span(&self, id: Id) {
        self.inner.drop_span(id);
    }

    #[inline]
    fn try_close(&self, id: Id) -> bool {
        self.inner.try_close(id)
    }

    #[inline]
    fn current_span(&self) -> Current {
        self.inner.current_span()
    }

    #[inline]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<HeadSampler>() {
            return self.head.as_ref().map(|head| head as *const HeadSampler as *const ());
        }
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        // SAFETY: the caller's contract (a pointer returned for `id` points to a value of that type) is `inner`'s.
        unsafe { self.inner.downcast_raw(id) }
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::registry::LookupSpan;

    use super::*;
    use crate::observe::Roots;

    fn layers() -> impl Subscriber + for<'a> LookupSpan<'a> {
        let filter = Targets::new().with_target("app", Level::DEBUG);
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::sink)
                .with_filter(filter),
        )
    }

    fn head() -> HeadSampler {
        HeadSampler::new(opentelemetry_sdk::trace::Sampler::AlwaysOn, Roots::Sampled)
    }

    /// Wrapped, the layers' answers are the same, and the head sampler and the layers' own types are found.
    #[test]
    fn answers_as_its_layers_do_and_finds_the_head_sampler() {
        static DISABLED: tracing::callsite::DefaultCallsite = tracing::callsite::DefaultCallsite::new(&META);
        static META: Metadata<'static> = tracing::metadata!(
            name: "disabled",
            target: "elsewhere",
            level: Level::DEBUG,
            fields: &[],
            callsite: &DISABLED,
            kind: tracing::metadata::Kind::EVENT,
        );
        let bare = layers();
        let wrapped = TelemetrySubscriber::new(Some(head()), layers());
        assert_eq!(bare.max_level_hint(), Some(LevelFilter::DEBUG));
        assert_eq!(wrapped.max_level_hint(), bare.max_level_hint());
        // A callsite every filter disables stays disabled for good, not "sometimes".
        assert!(bare.register_callsite(&META).is_never());
        assert!(wrapped.register_callsite(&META).is_never());
        let wrapped = Dispatch::new(wrapped);
        assert!(wrapped.downcast_ref::<HeadSampler>().is_some());
        assert!(wrapped.downcast_ref::<tracing_subscriber::Registry>().is_some());
        let without = Dispatch::new(TelemetrySubscriber::new(None, layers()));
        assert!(without.downcast_ref::<HeadSampler>().is_none());
    }

    /// Spans open, nest and close through the wrapper as through the layers.
    #[test]
    fn spans_pass_through() {
        let wrapped = Dispatch::new(TelemetrySubscriber::new(Some(head()), layers()));
        tracing::dispatcher::with_default(&wrapped, || {
            let outer = tracing::info_span!(target: "app", "outer");
            let _entered = outer.enter();
            let inner = tracing::debug_span!(target: "app", "inner");
            let _inner = inner.enter();
            assert_eq!(tracing::Span::current().metadata().map(Metadata::name), Some("inner"));
        });
    }
}
