//! The state behind a [`RequestHandle`](crate::RequestHandle): what the handler reported, in atomics, and the
//! hooks through which stages and content reach the layer's observers without the handle naming their type.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::event::Event;
use super::event::StageId;
use super::experiment_labels::ExperimentLabels;
use super::hooks::ObserverHooks;
use super::report::{Reported, RequestInfo};
use super::vocabulary::{FinishReason, TokenUsage, operation, stage_name};
use crate::labels::{BoundedLabels, LabelPolicy, LabelValue, MAX_NAME_BYTES};

/// Default cap on distinct model names.
pub(crate) const DEFAULT_MAX_MODELS: usize = 32;
/// Default cap on distinct operation names beyond the well-known ones.
pub(crate) const DEFAULT_MAX_OPERATIONS: usize = 16;
/// Default cap on distinct stage names beyond the well-known ones.
pub(crate) const DEFAULT_MAX_STAGES: usize = 16;
/// Default cap on distinct evaluator names beyond the declared ones.
pub(crate) const DEFAULT_MAX_EVALUATORS: usize = 16;

/// The bounded names handlers report into, shared by every request of one layer.
#[derive(Debug)]
pub(crate) struct RequestLabels {
    pub(crate) models: BoundedLabels,
    pub(crate) operations: BoundedLabels,
    pub(crate) stages: BoundedLabels,
    /// The operation of inference requests whose handler names none.
    pub(crate) default_operation: Option<LabelValue>,
    pub(crate) experiments: ExperimentLabels,
    pub(crate) evaluators: BoundedLabels,
    /// Signs response ids (`RequestHandle::response_id`), when a feedback key was given.
    #[cfg(feature = "feedback")]
    pub(crate) feedback_key: Option<super::response_id::FeedbackKey>,
}

impl RequestLabels {
    pub(crate) fn new(models: LabelPolicy, max_operations: usize, default_operation: Option<&str>) -> Self {
        let operations = BoundedLabels::with_seeds(
            LabelPolicy::Sustained(max_operations),
            MAX_NAME_BYTES,
            operation::WELL_KNOWN,
        );
        let undeclared = match &models {
            LabelPolicy::AllowList(_) => None,
            LabelPolicy::FirstN(cap) | LabelPolicy::Sustained(cap) => Some(format!(
                "no models declared (InferenceLayerBuilder::allowed_models): model labels come from what clients \
                 name, up to {cap}, half of them to the first names seen; declare the models you serve"
            )),
        };
        let models = BoundedLabels::new(models, MAX_NAME_BYTES);
        Self {
            models: match undeclared {
                Some(warning) => models.warn_on_first_admission(warning),
                None => models,
            },
            default_operation: default_operation.map(|op| operations.get(op)),
            operations,
            stages: BoundedLabels::with_seeds(
                LabelPolicy::FirstN(DEFAULT_MAX_STAGES),
                MAX_NAME_BYTES,
                stage_name::WELL_KNOWN,
            ),
            experiments: ExperimentLabels::default(),
            evaluators: BoundedLabels::new(LabelPolicy::FirstN(DEFAULT_MAX_EVALUATORS), MAX_NAME_BYTES),
            #[cfg(feature = "feedback")]
            feedback_key: None,
        }
    }
}

impl Default for RequestLabels {
    fn default() -> Self {
        Self::new(LabelPolicy::Sustained(DEFAULT_MAX_MODELS), DEFAULT_MAX_OPERATIONS, None)
    }
}

/// Label ids are `UNSET` until named.
const UNSET: u32 = u32::MAX;
/// No experiment until assigned.
const UNASSIGNED: u64 = u64::MAX;

/// One request's state: plain atomics, no lock (handlers report on every token, the layer reads once at the end),
/// and the observers' hooks last, so that the layer's concrete `RequestState<Hooks<O>>` and the handle's
/// `RequestState<dyn ObserverHooks>` are one allocation.
pub(crate) struct RequestState<H: ?Sized = dyn ObserverHooks> {
    pub(crate) info: RequestInfo,
    labels: Arc<RequestLabels>,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    model: AtomicU32,
    response_model: AtomicU32,
    operation: AtomicU32,
    /// Experiment id in the high half, variant id in the low half; `UNASSIGNED` until assigned.
    experiment: AtomicU64,
    /// Nanoseconds from the start, plus one; 0 until marked.
    first_token: AtomicU64,
    /// Index into `FinishReason::ALL`, plus one; 0 until set.
    finish_reason: AtomicU8,
    /// 0 undeclared, 1 not streamed, 2 streamed.
    stream: AtomicU8,
    /// The handler started serving (named the model or started a stage).
    serving: AtomicBool,
    /// The id of the next stage started.
    next_stage: AtomicU32,
    /// The signed response id, once the handler asked for it.
    #[cfg(feature = "feedback")]
    pub(crate) response_id: std::sync::OnceLock<Arc<str>>,
    pub(crate) hooks: H,
}

impl<H> RequestState<H> {
    pub(crate) fn new(info: RequestInfo, labels: Arc<RequestLabels>, hooks: H) -> Self {
        Self {
            info,
            labels,
            input_tokens: AtomicU64::new(0),
            output_tokens: AtomicU64::new(0),
            model: AtomicU32::new(UNSET),
            response_model: AtomicU32::new(UNSET),
            operation: AtomicU32::new(UNSET),
            experiment: AtomicU64::new(UNASSIGNED),
            first_token: AtomicU64::new(0),
            finish_reason: AtomicU8::new(0),
            stream: AtomicU8::new(0),
            serving: AtomicBool::new(false),
            next_stage: AtomicU32::new(0),
            #[cfg(feature = "feedback")]
            response_id: std::sync::OnceLock::new(),
            hooks,
        }
    }
}

impl<H: ObserverHooks + ?Sized> RequestState<H> {
    /// The first sign that the handler is serving the request, told to the observers once.
    pub(crate) fn serving(&self) {
        if !self.serving.load(Ordering::Relaxed) && !self.serving.swap(true, Ordering::AcqRel) {
            self.hooks.event(&Event::Serving);
        }
    }
}

impl<H: ?Sized> RequestState<H> {
    pub(crate) fn next_stage_id(&self) -> StageId {
        StageId(self.next_stage.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn labels(&self) -> &RequestLabels {
        &self.labels
    }

    pub(crate) fn set_model(&self, model: &LabelValue) {
        self.model.store(model.id(), Ordering::Relaxed);
    }

    pub(crate) fn set_response_model(&self, model: &LabelValue) {
        self.response_model.store(model.id(), Ordering::Relaxed);
    }

    pub(crate) fn set_experiment(&self, (experiment, variant): (u32, u32)) {
        let packed = (u64::from(experiment) << 32) | u64::from(variant);
        self.experiment.store(packed, Ordering::Relaxed);
    }

    /// The bounded experiment and variant, when assigned.
    pub(crate) fn experiment(&self) -> Option<(&LabelValue, &LabelValue)> {
        match self.experiment.load(Ordering::Relaxed) {
            UNASSIGNED => None,
            packed => {
                let e = &self.labels.experiments;
                // The halves are the two ids.
                Some((e.experiment((packed >> 32) as u32), e.variant(packed as u32)))
            }
        }
    }

    pub(crate) fn set_operation(&self, operation: &LabelValue) {
        self.operation.store(operation.id(), Ordering::Relaxed);
    }

    pub(crate) fn add_input_tokens(&self, n: u64) {
        self.input_tokens.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_output_tokens(&self, n: u64) {
        self.output_tokens.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn input_tokens(&self) -> u64 {
        self.input_tokens.load(Ordering::Relaxed)
    }

    pub(crate) fn output_tokens(&self) -> u64 {
        self.output_tokens.load(Ordering::Relaxed)
    }

    /// Fills token counts still at zero (from a [`TokenUsage`] response extension).
    pub(crate) fn fill_usage(&self, usage: TokenUsage) {
        let fill = |counter: &AtomicU64, n: u64| {
            let _ = counter.compare_exchange(0, n, Ordering::Relaxed, Ordering::Relaxed);
        };
        fill(&self.input_tokens, usage.input_tokens);
        fill(&self.output_tokens, usage.output_tokens);
    }

    /// The first mark wins.
    pub(crate) fn mark_first_token(&self) {
        if self.first_token.load(Ordering::Relaxed) != 0 {
            return;
        }
        let since_start = self.info.start.elapsed().as_nanos();
        let mark = u64::try_from(since_start).unwrap_or(u64::MAX - 1) + 1;
        let _ = self
            .first_token
            .compare_exchange(0, mark, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub(crate) fn set_finish_reason(&self, reason: FinishReason) {
        // At most 6 reasons: the index always fits.
        self.finish_reason.store(reason.index() as u8 + 1, Ordering::Relaxed);
    }

    pub(crate) fn set_stream(&self, stream: bool) {
        self.stream.store(if stream { 2 } else { 1 }, Ordering::Relaxed);
    }

    pub(crate) fn model(&self) -> Option<&LabelValue> {
        label(self.model.load(Ordering::Relaxed), &self.labels.models)
    }

    /// Everything reported so far.
    pub(crate) fn reported(&self) -> Reported<'_> {
        let labels = &*self.labels;
        let operation = label(self.operation.load(Ordering::Relaxed), &labels.operations);
        let first_token = match self.first_token.load(Ordering::Relaxed) {
            0 => None,
            mark => self.info.start.checked_add(Duration::from_nanos(mark - 1)),
        };
        let finish = usize::from(self.finish_reason.load(Ordering::Relaxed));
        Reported {
            model: self.model(),
            response_model: label(self.response_model.load(Ordering::Relaxed), &labels.models),
            experiment: self.experiment(),
            #[cfg(feature = "feedback")]
            response_id: self.response_id.get().map(|id| &**id),
            #[cfg(not(feature = "feedback"))]
            response_id: None,
            operation: operation.or(labels.default_operation.as_ref()),
            finish_reason: finish.checked_sub(1).and_then(|i| FinishReason::ALL.get(i)).copied(),
            first_token,
            stream: match self.stream.load(Ordering::Relaxed) {
                0 => None,
                s => Some(s == 2),
            },
            usage: TokenUsage {
                input_tokens: self.input_tokens(),
                output_tokens: self.output_tokens(),
            },
        }
    }
}

fn label(id: u32, set: &BoundedLabels) -> Option<&LabelValue> {
    (id != UNSET).then(|| set.by_id(id))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// What the warnings said while `f` ran, one string a line.
    fn said(f: impl FnOnce()) -> Vec<String> {
        #[derive(Clone)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink(Arc::default());
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(sink.0.lock().expect("lock").clone()).expect("utf-8");
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn models_named_by_traffic_alone_are_warned_about_once() {
        let lines = said(|| {
            let labels = RequestLabels::new(LabelPolicy::Sustained(32), DEFAULT_MAX_OPERATIONS, None);
            for model in ["llama-3-8b", "mistral-7b", "llama-3-8b"] {
                assert_eq!(labels.models.get(model).as_str(), model);
            }
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("WARN"), "{lines:?}");
        assert!(
            lines[0].contains("no models declared (InferenceLayerBuilder::allowed_models)"),
            "{lines:?}"
        );
        assert!(lines[0].contains("first=\"llama-3-8b\""), "{lines:?}");
        let declared = said(|| {
            let allowed = ["llama-3-8b".to_owned()].into_iter().collect();
            let labels = RequestLabels::new(LabelPolicy::AllowList(allowed), DEFAULT_MAX_OPERATIONS, None);
            assert_eq!(labels.models.get("llama-3-8b").as_str(), "llama-3-8b");
            assert!(labels.models.get("junk").is_other());
        });
        assert_eq!(declared, Vec::<String>::new());
    }
}
