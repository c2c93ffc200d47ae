//! `grpc.health.v1` through `tonic-health`, kept in step with readiness.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

use super::registry::{Health, Inner};
use super::report::Status;

impl Health {
    /// A `grpc.health.v1.Health` service reporting the whole server (`""`) and each of `services` SERVING while
    /// readiness passes or warns, NOT_SERVING when it fails or after [`mark_not_ready`](Self::mark_not_ready).
    ///
    /// A task on the current Tokio runtime re-evaluates readiness every cache interval (and at once on
    /// `mark_not_ready` / `mark_ready`); it ends when the registry is dropped. Call it inside a runtime.
    pub fn grpc_service<I, S>(&self, services: I) -> HealthServer<HealthService>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let reporter = HealthReporter::new();
        let server = HealthServer::new(HealthService::from_health_reporter(reporter.clone()));
        let mut names: Vec<String> = services.into_iter().map(Into::into).collect();
        names.insert(0, String::new());
        // A weak reference, so the task ends when the registry is dropped.
        tokio::spawn(follow_readiness(
            Arc::downgrade(&self.inner),
            self.changed.clone(),
            reporter,
            names,
        ));
        server
    }
}

async fn follow_readiness(inner: Weak<Inner>, changed: Arc<Notify>, reporter: HealthReporter, names: Vec<String>) {
    let mut last = None;
    loop {
        // Registered before reading readiness, so a toggle during the read is not missed.
        let toggled = changed.notified();
        let Some(inner) = inner.upgrade() else { return };
        let period = inner.cache_for.max(Duration::from_millis(100));
        let health = Health {
            inner,
            changed: changed.clone(),
        };
        let status = match health.ready().await.status {
            Status::Fail => ServingStatus::NotServing,
            Status::Pass | Status::Warn => ServingStatus::Serving,
        };
        drop(health);
        if last != Some(status) {
            for name in &names {
                reporter.set_service_status(name, status).await;
            }
            last = Some(status);
        }
        tokio::select! {
            _ = toggled => {}
            _ = tokio::time::sleep(period) => {}
        }
    }
}
