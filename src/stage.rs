//! Stages of a request (tokenize, generate, decode, …): a child span of the request span (with the `tracing`
//! feature) and an `inferwatch_stage_duration_seconds` observation, started from the [`RequestHandle`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project_lite::pin_project;

use crate::handle::RequestHandle;
use crate::labels::LabelValue;

/// Well-known stage names; always admitted as labels. Applications may use up to 16 more.
pub mod stage_name {
    /// Waiting for a slot in the batch.
    pub const QUEUE: &str = "queue";
    /// Turning the prompt into tokens.
    pub const TOKENIZE: &str = "tokenize";
    /// Processing the prompt (prefill).
    pub const PREFILL: &str = "prefill";
    /// Producing tokens.
    pub const GENERATE: &str = "generate";
    /// Turning tokens back into text.
    pub const DECODE: &str = "decode";
    /// Computing embeddings.
    pub const EMBED: &str = "embed";
    /// Every well-known name.
    pub const WELL_KNOWN: &[&str] = &[QUEUE, TOKENIZE, PREFILL, GENERATE, DECODE, EMBED];
}

/// Receives stage durations; the metrics observer is one.
pub(crate) trait StageSink: Send + Sync {
    fn record(&self, stage: &LabelValue, model: Option<&LabelValue>, seconds: f64);
}

/// One stage of a request, running from [`RequestHandle::stage`] until it is dropped or [`end`](Self::end)ed.
///
/// It is `Send`: move it into `spawn_blocking` or another task and the span still has the request as parent.
///
/// ```
/// # let handle = inferwatch::RequestHandle::detached();
/// // Synchronous code: a guard.
/// {
///     let _tokenize = handle.stage("tokenize").entered();
///     // ... tokenize ...
/// }
/// // Work on another thread.
/// let decode = handle.stage("decode");
/// std::thread::spawn(move || decode.in_scope(|| { /* ... decode ... */ })).join().unwrap();
/// // A future: `handle.stage("generate").instrument(async { ... }).await`
/// ```
#[must_use = "a stage ends when dropped"]
pub struct Stage {
    handle: RequestHandle,
    name: LabelValue,
    start: Instant,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Stage {
    pub(crate) fn start(handle: &RequestHandle, name: &str) -> Self {
        let name = handle.stage_label(name);
        #[cfg(feature = "tracing")]
        let span = crate::trace::stage_span(handle, name.as_str());
        Self {
            handle: handle.clone(),
            name,
            start: Instant::now(),
            #[cfg(feature = "tracing")]
            span,
        }
    }

    /// The bounded stage name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Runs `f` inside the stage's span.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        let _entered = self.span.enter();
        f()
    }

    /// Enters the stage's span until the returned guard (which also ends the stage) is dropped.
    pub fn entered(self) -> EnteredStage {
        #[cfg(feature = "tracing")]
        let entered = self.span.clone().entered();
        EnteredStage {
            #[cfg(feature = "tracing")]
            _entered: entered,
            _stage: self,
        }
    }

    /// Runs `future` inside the stage's span; the stage ends when the future completes (or is dropped).
    pub fn instrument<F: Future>(self, future: F) -> StageFuture<F> {
        StageFuture {
            inner: future,
            stage: Some(self),
        }
    }

    /// Ends the stage now.
    pub fn end(self) {}
}

impl Drop for Stage {
    fn drop(&mut self) {
        let seconds = self.start.elapsed().as_secs_f64();
        self.handle.record_stage(&self.name, seconds);
    }
}

/// A [`Stage`] whose span is entered on this thread; ends the stage when dropped.
#[must_use = "a stage ends when dropped"]
pub struct EnteredStage {
    // Exits the span before the stage records its end.
    #[cfg(feature = "tracing")]
    _entered: tracing::span::EnteredSpan,
    _stage: Stage,
}

impl std::fmt::Debug for EnteredStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnteredStage").field("stage", &self._stage).finish()
    }
}

pin_project! {
    /// A future running inside a [`Stage`]; see [`Stage::instrument`].
    pub struct StageFuture<F> {
        #[pin]
        inner: F,
        stage: Option<Stage>,
    }
}

impl<F: Future> Future for StageFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let poll = match this.stage.as_ref() {
            Some(stage) => stage.in_scope(|| this.inner.poll(cx)),
            None => this.inner.poll(cx),
        };
        if poll.is_ready() {
            this.stage.take();
        }
        poll
    }
}
