//! [`Stage`]: one named part of a request (tokenize, generate, decode, …), started from the
//! [`RequestHandle`](crate::RequestHandle) and reported to the layer's observers when it ends.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project_lite::pin_project;

use super::event::Event;
use super::event::StageId;
use super::state::RequestState;
use crate::labels::LabelValue;

/// One stage of a request, running from [`RequestHandle::stage`](crate::RequestHandle::stage) until it is dropped
/// or [`end`](Self::end)ed.
///
/// It is `Send`: move it into `spawn_blocking` or another task and its span still has the request as parent.
///
/// ```
/// # let handle = inferwatch_core::RequestHandle::detached();
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
    request: Arc<RequestState>,
    name: LabelValue,
    start: Instant,
    id: StageId,
    /// Observers were told it ended.
    ended: bool,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Stage {
    /// Starts a stage, told to the request's observers.
    pub(crate) fn start(request: Arc<RequestState>, name: LabelValue) -> Self {
        let id = request.next_stage_id();
        request.hooks.event(&Event::StageStart { id, name: &name });
        Self {
            request,
            name,
            start: Instant::now(),
            id,
            ended: false,
        }
    }

    fn tell(&self, event: &Event<'_>) {
        if !self.ended {
            self.request.hooks.event(event);
        }
    }

    /// The bounded stage name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Runs `f` inside the stage (its span, with the default observers).
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// Enters the stage until the returned guard, which also ends the stage, is dropped.
    pub fn entered(self) -> EnteredStage {
        self.tell(&Event::StageEnter(self.id));
        EnteredStage {
            stage: self,
            _not_send: PhantomData,
        }
    }

    /// Runs `future` inside the stage; the stage ends when the future completes (or is dropped).
    pub fn instrument<F: Future>(self, future: F) -> StageFuture<F> {
        StageFuture {
            inner: future,
            stage: Some(self),
        }
    }

    /// Ends the stage now.
    pub fn end(self) {}

    fn enter(&self) -> Exit<'_> {
        self.tell(&Event::StageEnter(self.id));
        Exit(self)
    }
}

/// Exits the stage when dropped, also on unwinding.
struct Exit<'a>(&'a Stage);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        self.0.tell(&Event::StageExit(self.0.id));
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        self.request.hooks.event(&Event::StageEnd {
            id: self.id,
            name: &self.name,
            model: self.request.model(),
            duration: self.start.elapsed(),
        });
    }
}

/// A [`Stage`] entered on this thread; exits and ends the stage when dropped. Not `Send`: it must be dropped on
/// the thread that entered it.
#[must_use = "a stage ends when dropped"]
pub struct EnteredStage {
    stage: Stage,
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for EnteredStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnteredStage").field("stage", &self.stage).finish()
    }
}

impl Drop for EnteredStage {
    fn drop(&mut self) {
        // Exits before the stage itself ends (its field is dropped after this).
        self.stage.tell(&Event::StageExit(self.stage.id));
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
