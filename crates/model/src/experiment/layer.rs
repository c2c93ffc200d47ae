//! [`ExperimentLayer`]: assigns each request a variant, before the handler runs.

use std::task::{Context, Poll};

use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use super::definition::Experiment;
use inferwatch_core::RequestHandle;

impl Experiment {
    /// The [`ExperimentLayer`] that assigns this experiment's variants to requests.
    pub fn layer(&self) -> ExperimentLayer {
        ExperimentLayer::new(self.clone())
    }
}

/// Assigns requests a variant of one [`Experiment`]: puts the [`Assignment`](super::definition::Assignment) into the request's
/// extensions and onto its [`RequestHandle`], so the handler can route to the variant's model and the
/// [`InferenceLayer`](inferwatch_core::InferenceLayer) records it. Place it inside the `InferenceLayer` (whose handle it
/// reads); a request outside the experiment (no key, and [`WithoutKey::Unassigned`](super::definition::WithoutKey)) passes
/// untouched. Nothing of the response is touched.
#[derive(Clone, Debug)]
pub struct ExperimentLayer {
    experiment: Experiment,
}

impl ExperimentLayer {
    /// A layer assigning `experiment`'s variants.
    pub fn new(experiment: Experiment) -> Self {
        Self { experiment }
    }
}

impl<S> Layer<S> for ExperimentLayer {
    type Service = ExperimentService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ExperimentService {
            inner,
            experiment: self.experiment.clone(),
        }
    }
}

/// The service of an [`ExperimentLayer`].
#[derive(Clone, Debug)]
pub struct ExperimentService<S> {
    inner: S,
    experiment: Experiment,
}

impl<S, B> Service<Request<B>> for ExperimentService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !self.experiment.assigns() {
            return self.inner.call(request);
        }
        let (mut parts, body) = request.into_parts();
        let assignment = {
            let key = self.experiment.key(&parts);
            self.experiment.assign(key.as_deref())
        };
        if let Some(assignment) = assignment {
            if let Some(handle) = parts.extensions.get::<RequestHandle>() {
                handle.set_variant(assignment.experiment(), assignment.variant());
            }
            parts.extensions.insert(assignment);
        }
        self.inner.call(Request::from_parts(parts, body))
    }
}
