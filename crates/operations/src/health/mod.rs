//! Health: a registry of named checks, the `/livez`, `/readyz` and `/health` routes, and `grpc.health.v1`.
//!
//! - `/livez` answers 200 while the process serves and runs no check, so a GPU or dependency outage never turns
//!   into a restart storm.
//! - `/readyz` runs the readiness checks: 200 for pass or warn, 503 for fail, or at once 503 after
//!   [`Health::mark_not_ready`] (draining on SIGTERM).
//! - `/health` shows every check with its details.
//!
//! Bodies are `application/health+json` in the shape of the IETF draft "Health Check Response Format for HTTP
//! APIs". Results are cached for [`HealthBuilder::cache_for`], so a probe storm runs the checks once per
//! interval; every check has a timeout and one that runs past it fails with "timed out".
//!
//! ```
//! use std::time::Duration;
//! use inferwatch_operations::health::{Health, Observation, checks};
//! use inferwatch_operations::resources::ResourceSampler;
//!
//! # async fn demo() {
//! let sampler = ResourceSampler::builder().spawn();
//! let health = Health::builder()
//!     .add_check(checks::gpu_memory(sampler.snapshots(), Default::default()))
//!     .add_check(checks::host_memory(sampler.snapshots(), Default::default()))
//!     .check("model:loaded", || async { Observation::pass().output("toy model warmed up") })
//!     .cache_for(Duration::from_secs(2))
//!     .build();
//! let app: axum::Router = axum::Router::new().merge(health.router());
//! # let _ = app;
//! # }
//! ```

mod check;
pub mod checks;
#[cfg(feature = "grpc-health")]
mod grpc;
mod in_flight;
mod registry;
mod report;
mod routes;

pub use check::{Check, CheckFuture, HealthCheck, IntoObservations};
pub use in_flight::InFlightCounter;
pub use registry::{Health, HealthBuilder};
pub use report::{CONTENT_TYPE, Observation, Report, Status};
