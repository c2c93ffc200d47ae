//! Head sampling decided before the request span is built.
//!
//! A span costs its registry entry, the OpenTelemetry builder, a context activation on every poll and the SDK span
//! at close, whether or not it is sampled: at 10 % sampling nine requests in ten paid all of it only to have their
//! trace id in the log line. When the subscriber carries a [`HeadSampler`] (as
//! [`telemetry::init`](crate::telemetry) sets it up), the observer asks the tracer's own sampler first. A request
//! it drops gets no `tracing` span: its ids, made here, are attached as the current OpenTelemetry context while the
//! request is polled, so that log lines (JSON and OTLP records), nested spans and outgoing propagation see the same
//! unsampled trace they saw before.
//!
//! The sampler sees the trace id it will see again when the span is built: for a new trace the id chosen here is
//! handed to the tracer through [`PresetIds`], the provider's id generator, so that a ratio sampler never judges a
//! request twice on two different ids.
// Half of what is here serves telemetry's subscriber and JSON lines (feature `telemetry`).
#![cfg_attr(not(feature = "telemetry"), allow(dead_code))]

use std::cell::{Cell, RefCell};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId};
use opentelemetry::{Context, ContextGuard};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample as _};

use super::summary::DirectSummaries;

/// The tracer provider's sampler, known to the subscriber so that [`TracingObserver`](super::TracingObserver) can
/// find it (`Dispatch::downcast_ref`); `telemetry` adds it as a layer that does nothing else.
#[derive(Clone, Debug)]
pub(crate) struct HeadSampler {
    sampler: Sampler,
    roots: Roots,
    ids: RandomIdGenerator,
    /// Where the subscriber takes summary lines directly, if it does; found here, with the sampler, by one lookup.
    summaries: Option<DirectSummaries>,
}

/// How the sampler judges a new trace (a request without a valid incoming parent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Roots {
    /// Every one is sampled (`always_on`, `parentbased_always_on`, the default): nothing to decide.
    Sampled,
    /// By its trace id (a ratio): the tracer must be handed the id that was judged.
    ByTraceId,
    /// Otherwise (`always_off`): ask the sampler.
    Other,
}

/// What the sampler decided for a request.
pub(super) enum Decision {
    /// Build the span; for a new trace judged by its id, with this trace id.
    Sample { preset: Option<TraceId> },
    /// No span: this context (the parent's baggage, and a non-recording span with the request's ids) stands in.
    Drop(Context),
}

impl HeadSampler {
    /// `roots` must say how `sampler` judges new traces.
    pub(crate) fn new(sampler: Sampler, roots: Roots) -> Self {
        Self {
            sampler,
            roots,
            ids: RandomIdGenerator::default(),
            summaries: None,
        }
    }

    /// The subscriber takes summary lines as `summaries` says, if it takes them directly at all.
    pub(crate) fn with_summaries(mut self, summaries: Option<DirectSummaries>) -> Self {
        self.summaries = summaries;
        self
    }

    pub(super) fn summaries(&self) -> Option<&DirectSummaries> {
        self.summaries.as_ref()
    }

    /// Asks the sampler about a server span named `name` under `parent` (a remote one, or none).
    pub(super) fn decide(&self, parent: Option<&Context>, name: &str) -> Decision {
        let remote = parent
            .map(|cx| cx.span().span_context().clone())
            .filter(SpanContext::is_valid);
        if remote.is_none() && self.roots == Roots::Sampled {
            return Decision::Sample { preset: None };
        }
        let trace_id = remote
            .as_ref()
            .map_or_else(|| self.ids.new_trace_id(), SpanContext::trace_id);
        let result = self
            .sampler
            .should_sample(parent, trace_id, name, &SpanKind::Server, &[], &[]);
        if result.decision == SamplingDecision::RecordAndSample || result.decision == SamplingDecision::RecordOnly {
            let preset = (remote.is_none() && self.roots == Roots::ByTraceId).then_some(trace_id);
            return Decision::Sample { preset };
        }
        let flags = remote.as_ref().map_or(TraceFlags::default(), SpanContext::trace_flags);
        let ids = SpanContext::new(
            trace_id,
            self.ids.new_span_id(),
            flags.with_sampled(false),
            false,
            result.trace_state,
        );
        let base = parent.cloned().unwrap_or_default();
        Decision::Drop(base.with_remote_span_context(ids))
    }
}

thread_local! {
    /// The trace id the next new trace built on this thread takes (see [`PresetIds`]).
    static PRESET_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
    /// The contexts of unsampled requests being polled on this thread, innermost last.
    static ATTACHED: RefCell<Vec<(TraceId, SpanId, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

/// The provider's id generator: random ids, except the trace id [`with_trace_id`] hands over.
#[derive(Debug, Default)]
pub(crate) struct PresetIds(RandomIdGenerator);

impl IdGenerator for PresetIds {
    fn new_trace_id(&self) -> TraceId {
        PRESET_TRACE_ID.take().unwrap_or_else(|| self.0.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

/// Runs `build` (which starts the span's OpenTelemetry side) with `trace_id` as the next new trace's id.
pub(super) fn with_trace_id(trace_id: TraceId, build: impl FnOnce()) {
    PRESET_TRACE_ID.set(Some(trace_id));
    build();
    // Unused when the span turned out disabled: it must not leak to the next trace.
    PRESET_TRACE_ID.set(None);
}

/// Makes `cx` (an unsampled request's) the current OpenTelemetry context until [`detach`].
pub(super) fn attach(cx: &Context) {
    let span = cx.span();
    let ids = span.span_context();
    let entry = (ids.trace_id(), ids.span_id(), cx.clone().attach());
    ATTACHED.with_borrow_mut(|stack| stack.push(entry));
}

/// Ends the innermost [`attach`].
pub(super) fn detach() {
    let guard = ATTACHED.with_borrow_mut(Vec::pop);
    drop(guard);
}

/// The trace and span ids of the unsampled request being polled on this thread, if any: what a log line written
/// in it carries in place of a span's.
pub(crate) fn current_request() -> Option<(TraceId, SpanId)> {
    ATTACHED.with_borrow(|stack| stack.last().map(|(trace, span, _)| (*trace, *span)))
}
