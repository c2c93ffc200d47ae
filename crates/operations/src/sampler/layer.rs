//! The sampler as a tower layer: it runs while the service stack it is part of exists.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::{Sampler, SamplerHandle, Snapshots};

/// Starts the sampler the first time it wraps a service and stops it when the last wrapped service is dropped.
///
/// Requests never touch the sampler: the wrapped service calls straight through. A layer applied to many routes
/// (as axum's `Router::layer` does) shares one sampler between them.
///
/// ```
/// use inferwatch_operations::sampler::Sampler;
/// use tower::ServiceBuilder;
///
/// let sampling = Sampler::builder().layer();
/// let snapshots = sampling.snapshots();
/// let service = ServiceBuilder::new()
///     .layer(sampling)
///     .service_fn(|_req: http::Request<String>| async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) });
/// # let _ = (service, snapshots);
/// ```
#[derive(Clone)]
pub struct SamplingLayer {
    snapshots: Snapshots,
    state: Arc<Mutex<State>>,
}

struct State {
    pending: Option<Sampler>,
    running: Weak<SamplerHandle>,
}

impl fmt::Debug for SamplingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SamplingLayer")
            .field("interval", &self.snapshots.interval())
            .finish_non_exhaustive()
    }
}

impl SamplingLayer {
    /// A layer that will run `sampler`.
    pub fn new(sampler: Sampler) -> Self {
        let snapshots = sampler.snapshots();
        let state = State {
            pending: Some(sampler),
            running: Weak::new(),
        };
        Self {
            snapshots,
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Where the sampler publishes its snapshots.
    pub fn snapshots(&self) -> Snapshots {
        self.snapshots.clone()
    }

    fn running(&self) -> Option<Arc<SamplerHandle>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = state.running.upgrade() {
            return Some(running);
        }
        let running = Arc::new(state.pending.take()?.spawn());
        state.running = Arc::downgrade(&running);
        Some(running)
    }
}

impl<S> Layer<S> for SamplingLayer {
    type Service = Sampled<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Sampled {
            inner,
            _sampler: self.running(),
        }
    }
}

/// A service wrapped by [`SamplingLayer`]: calls pass straight through; it keeps the sampler alive.
#[derive(Clone)]
pub struct Sampled<S> {
    inner: S,
    _sampler: Option<Arc<SamplerHandle>>,
}

impl<S: fmt::Debug> fmt::Debug for Sampled<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampled")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, R> Service<R> for Sampled<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.inner.call(request)
    }
}
