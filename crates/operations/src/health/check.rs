//! One named check: what it runs, its timeout, and whether readiness depends on it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::report::Observation;

/// The future a check returns.
pub type CheckFuture = Pin<Box<dyn Future<Output = Vec<Observation>> + Send + 'static>>;

/// Something that can be checked. Any `Fn() -> impl Future<Output = impl IntoObservations>` is one.
///
/// Checks run on the Tokio runtime with a timeout; one that blocks its thread instead of awaiting can't be cut
/// short, so do blocking work in `spawn_blocking`.
pub trait HealthCheck: Send + Sync + 'static {
    /// Runs the check once.
    fn check(&self) -> CheckFuture;
}

impl<F, Fut, R> HealthCheck for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoObservations,
{
    fn check(&self) -> CheckFuture {
        let future = self();
        Box::pin(async move { future.await.into_observations() })
    }
}

/// What a check may return: one observation or several (one per GPU, per filesystem, …).
pub trait IntoObservations {
    /// The observations.
    fn into_observations(self) -> Vec<Observation>;
}

impl IntoObservations for Observation {
    fn into_observations(self) -> Vec<Observation> {
        vec![self]
    }
}

impl IntoObservations for Vec<Observation> {
    fn into_observations(self) -> Vec<Observation> {
        self
    }
}

/// A check with its name (`component:measurement`), timeout and role.
#[derive(Clone)]
pub struct Check {
    pub(crate) name: String,
    pub(crate) check: Arc<dyn HealthCheck>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) readiness: bool,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("readiness", &self.readiness)
            .finish()
    }
}

impl Check {
    /// A readiness check named `name` (`component:measurement`, e.g. `model:loaded`).
    pub fn new(name: impl Into<String>, check: impl HealthCheck) -> Self {
        Self {
            name: name.into(),
            check: Arc::new(check),
            timeout: None,
            readiness: true,
        }
    }

    /// Its timeout, instead of the registry's default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Shown in `/health` only: `/readyz` and gRPC health ignore it.
    pub fn informational(mut self) -> Self {
        self.readiness = false;
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
