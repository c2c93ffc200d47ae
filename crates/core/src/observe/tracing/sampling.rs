//! Head sampling decided before the request span is built.
//!
//! A span costs its registry entry, the OpenTelemetry builder, a context activation on every poll and the SDK span
//! at close, whether or not it is sampled: at 10 % sampling nine requests in ten would pay all of it only to have
//! their trace id in the log line. Given a [`HeadSampler`] (as telemetry's
//! `TelemetryGuard::tracing_observer` gives it), the observer asks the tracer's own sampler first. A request
//! it drops gets no `tracing` span: its ids, made here, are attached as the current OpenTelemetry context while the
//! request is polled, so that log lines (JSON and OTLP records), nested spans and outgoing propagation see the same
//! unsampled trace they saw before.
//!
//! The sampler sees the trace id it will see again when the span is built: for a new trace the id chosen here is
//! handed to the tracer through [`HeadSampler::id_generator`], the provider's id generator, so that no sampler judges
//! a request on two different ids.
use std::cell::{Cell, RefCell};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, ContextGuard};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample as _};

/// The tracer provider's sampler, asked by [`TracingObserver`](super::TracingObserver) before it builds a request
/// span. The provider must have the same sampler ([`sampler`](Self::sampler)) and generate ids with
/// [`HeadSampler::id_generator`], so that a new trace is judged on the id it keeps.
///
/// ```
/// use inferwatch_core::observe::HeadSampler;
/// use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
///
/// // `parentbased_traceidratio` at 10 %.
/// let head = HeadSampler::parent_based(Sampler::TraceIdRatioBased(0.1));
/// let provider = SdkTracerProvider::builder()
///     .with_sampler(head.sampler().clone())
///     .with_id_generator(HeadSampler::id_generator())
///     .build();
/// # let _ = provider;
/// ```
#[derive(Clone, Debug)]
pub struct HeadSampler {
    sampler: Sampler,
    roots: Roots,
    ids: RandomIdGenerator,
}

/// How the sampler judges a new trace (a request without a valid incoming parent).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Roots {
    /// Every one is sampled (`always_on`, `parentbased_always_on`): nothing to decide.
    Sampled,
    /// By its trace id, at this ratio (`TraceIdRatioBased`, alone or as `ParentBased`'s root), by the SDK's rule
    /// applied in place.
    ByTraceId(f64),
    /// Otherwise: ask the sampler.
    Other,
}

impl Roots {
    /// How `sampler`, judging a trace with no parent, decides: known for the SDK's own rules, asked otherwise.
    fn of(sampler: &Sampler) -> Self {
        match sampler {
            Sampler::AlwaysOn => Self::Sampled,
            Sampler::TraceIdRatioBased(ratio) => Self::ByTraceId(*ratio),
            _ => Self::Other,
        }
    }
}

/// What the sampler decided for a request.
pub(super) enum Decision {
    /// Build the span; for a new trace, with the trace id it was judged on.
    Sample { preset: Option<TraceId> },
    /// No span: this context (the parent's baggage, and a non-recording span with the request's ids) stands in.
    Drop(Context),
}

impl HeadSampler {
    /// `sampler` judges every request (`always_on`, `always_off`, `traceidratio`, or one of the application's).
    pub fn new(sampler: Sampler) -> Self {
        Self {
            roots: Roots::of(&sampler),
            sampler,
            ids: RandomIdGenerator::default(),
        }
    }

    /// A request with an incoming parent is sampled as its parent was; `root` judges the others (the
    /// `parentbased_*` samplers). `ParentBased` hides its root, so a new trace is judged by the SDK's rule in place
    /// only when it is built here.
    pub fn parent_based(root: Sampler) -> Self {
        Self {
            roots: Roots::of(&root),
            sampler: Sampler::ParentBased(Box::new(root)),
            ids: RandomIdGenerator::default(),
        }
    }

    /// The sampler, for the tracer provider.
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// The id generator the tracer provider must have: random ids, except that a new trace a `HeadSampler` judged
    /// keeps the id it was judged on.
    pub fn id_generator() -> impl IdGenerator {
        PresetIds::default()
    }

    /// Asks the sampler about a server span named `name` under `parent` (a remote one, or none).
    pub(super) fn decide(&self, parent: Option<&Context>, name: &str) -> Decision {
        let remote = parent
            .map(|cx| cx.span().span_context().clone())
            .filter(SpanContext::is_valid);
        let Some(remote) = remote else {
            return self.decide_root(parent, name);
        };
        let result = self
            .sampler
            .should_sample(parent, remote.trace_id(), name, &SpanKind::Server, &[], &[]);
        if records(result.decision) {
            return Decision::Sample { preset: None };
        }
        self.drop(parent, remote.trace_id(), remote.trace_flags(), result.trace_state)
    }

    /// A new trace (no valid remote parent; `parent` may carry baggage).
    fn decide_root(&self, parent: Option<&Context>, name: &str) -> Decision {
        if self.roots == Roots::Sampled {
            return Decision::Sample { preset: None };
        }
        let trace_id = self.ids.new_trace_id();
        // A ratio sampler's rule, applied here rather than through `ParentBased` and a `SamplingResult`: no result
        // to build and no boxed call for the requests it does not sample. Without a valid parent the SDK's trace
        // state is the empty one. The tracer is handed the id that was judged: a sampler that judges by id must see
        // the same one again.
        let (sampled, trace_state) = match self.roots {
            Roots::ByTraceId(ratio) => (below_ratio(trace_id, ratio_bound(ratio)), TraceState::NONE),
            // `Sampled` returned above.
            Roots::Sampled | Roots::Other => {
                let result = self
                    .sampler
                    .should_sample(parent, trace_id, name, &SpanKind::Server, &[], &[]);
                (records(result.decision), result.trace_state)
            }
        };
        if sampled {
            return Decision::Sample { preset: Some(trace_id) };
        }
        self.drop(parent, trace_id, TraceFlags::default(), trace_state)
    }

    /// No span: the parent's context (its baggage) with a non-recording span of the request's ids.
    fn drop(&self, parent: Option<&Context>, trace_id: TraceId, flags: TraceFlags, state: TraceState) -> Decision {
        let ids = SpanContext::new(
            trace_id,
            self.ids.new_span_id(),
            flags.with_sampled(false),
            false,
            state,
        );
        let base = parent.cloned().unwrap_or_default();
        Decision::Drop(base.with_remote_span_context(ids))
    }
}

/// Whether the sampler's decision builds a span (recorded, and perhaps exported).
fn records(decision: SamplingDecision) -> bool {
    matches!(
        decision,
        SamplingDecision::RecordAndSample | SamplingDecision::RecordOnly
    )
}

/// The bound the SDK's `TraceIdRatioBased(ratio)` compares a trace id's low 63 bits with (a ratio of 1 or more
/// samples every trace).
fn ratio_bound(ratio: f64) -> u64 {
    if ratio >= 1.0 {
        u64::MAX
    } else {
        (ratio.max(0.0) * (1u64 << 63) as f64) as u64
    }
}

/// The SDK's ratio rule: the last 8 bytes of the trace id, big-endian, shifted right by one, below the bound.
fn below_ratio(trace_id: TraceId, bound: u64) -> bool {
    let low = u128::from_be_bytes(trace_id.to_bytes()) as u64;
    (low >> 1) < bound
}

thread_local! {
    /// The trace id the next new trace built on this thread takes (see [`PresetIds`]).
    static PRESET_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
    /// The contexts of unsampled requests being polled on this thread, innermost last.
    static ATTACHED: RefCell<Vec<ContextGuard>> = const { RefCell::new(Vec::new()) };
}

/// The tracer provider's id generator under head sampling (see [`HeadSampler::id_generator`]).
#[derive(Debug, Default)]
struct PresetIds(RandomIdGenerator);

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
    let guard = cx.clone().attach();
    ATTACHED.with_borrow_mut(|stack| stack.push(guard));
}

/// Ends the innermost [`attach`].
pub(super) fn detach() {
    let guard = ATTACHED.with_borrow_mut(Vec::pop);
    drop(guard);
}

#[cfg(test)]
mod tests {
    use opentelemetry::baggage::BaggageExt as _;

    use super::*;

    fn sdk_samples(ratio: f64, trace_id: TraceId) -> bool {
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)));
        let result = sampler.should_sample(None, trace_id, "POST /v1/completions", &SpanKind::Server, &[], &[]);
        result.decision == SamplingDecision::RecordAndSample
    }

    /// The ratio rule applied in place decides as the SDK's sampler does, for the ids the head sampler makes and for
    /// the ids on either side of the bound.
    #[test]
    fn the_ratio_rule_is_the_sdks() {
        let ids = RandomIdGenerator::default();
        for ratio in [0.0, 1e-9, 0.1, 0.5, 0.999_999, 1.0, 2.0, -1.0] {
            let bound = ratio_bound(ratio);
            let mut edges = vec![0u64, 1, u64::MAX, u64::MAX - 1];
            if bound > 0 && bound < u64::MAX {
                // Shifted right by one, these land on the bound and just below it.
                edges.extend([bound << 1, (bound << 1) | 1, (bound - 1) << 1, ((bound - 1) << 1) | 1]);
            }
            let random = (0..2000).map(|_| ids.new_trace_id());
            let edges = edges
                .into_iter()
                .map(|low| TraceId::from(u128::from(low) | (7u128 << 64)));
            for trace_id in random.chain(edges) {
                assert_eq!(
                    below_ratio(trace_id, bound),
                    sdk_samples(ratio, trace_id),
                    "{ratio} {trace_id}"
                );
            }
        }
    }

    /// A new trace's decision is the SDK's on the id it hands over (sampled) or leaves in the context (dropped), and
    /// a dropped one keeps the parent's baggage with an unsampled, valid, empty-state span context.
    #[test]
    fn new_traces_are_judged_on_the_id_they_keep() {
        let ratio = 0.25;
        let head = HeadSampler::parent_based(Sampler::TraceIdRatioBased(ratio));
        assert_eq!(head.roots, Roots::ByTraceId(ratio));
        let baggage = Context::new().with_baggage([opentelemetry::KeyValue::new("tenant", "a")]);
        let (mut sampled, mut dropped) = (0, 0);
        for i in 0..4000 {
            let parent = (i % 2 == 0).then_some(&baggage);
            match head.decide(parent, "POST /v1/completions") {
                Decision::Sample { preset } => {
                    let trace_id = preset.expect("a ratio sampler's new trace hands its id over");
                    assert!(sdk_samples(ratio, trace_id));
                    sampled += 1;
                }
                Decision::Drop(cx) => {
                    let span = cx.span();
                    let ids = span.span_context();
                    assert!(ids.is_valid() && !ids.is_sampled() && ids.trace_state().header().is_empty());
                    assert!(!sdk_samples(ratio, ids.trace_id()));
                    assert_eq!(cx.baggage().len(), usize::from(parent.is_some()));
                    dropped += 1;
                }
            }
        }
        // 1000 expected; the binomial's standard deviation is about 27.
        assert!((850..1150).contains(&sampled), "{sampled} sampled, {dropped} dropped");
    }

    /// A sampler whose root it cannot see (`ParentBased` built by the application) is asked, and a new trace it
    /// samples hands the tracer the id it judged, which the provider's id generator gives the span, once.
    #[test]
    fn an_opaque_samplers_new_traces_keep_the_judged_id() {
        let ratio = 0.25;
        let head = HeadSampler::new(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))));
        assert_eq!(head.roots, Roots::Other);
        let ids = PresetIds::default();
        let mut sampled = 0;
        for _ in 0..4000 {
            match head.decide(None, "POST /v1/completions") {
                Decision::Sample { preset } => {
                    let trace_id = preset.expect("a new trace hands its id over");
                    assert!(sdk_samples(ratio, trace_id));
                    let mut built = None;
                    with_trace_id(trace_id, || built = Some(ids.new_trace_id()));
                    assert_eq!(built, Some(trace_id));
                    assert_ne!(ids.new_trace_id(), trace_id, "the preset id is used once");
                    sampled += 1;
                }
                Decision::Drop(cx) => assert!(!sdk_samples(ratio, cx.span().span_context().trace_id())),
            }
        }
        assert!((850..1150).contains(&sampled), "{sampled} sampled");
    }

    #[test]
    fn the_sdks_own_rules_are_applied_in_place() {
        assert_eq!(HeadSampler::new(Sampler::AlwaysOn).roots, Roots::Sampled);
        assert_eq!(HeadSampler::parent_based(Sampler::AlwaysOn).roots, Roots::Sampled);
        assert_eq!(
            HeadSampler::new(Sampler::TraceIdRatioBased(0.5)).roots,
            Roots::ByTraceId(0.5)
        );
        assert_eq!(HeadSampler::parent_based(Sampler::AlwaysOff).roots, Roots::Other);
        let never = HeadSampler::new(Sampler::AlwaysOff);
        assert!((0..100).all(|_| matches!(never.decide(None, "GET /"), Decision::Drop(_))));
    }
}
