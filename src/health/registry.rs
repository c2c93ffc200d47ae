//! The registry: runs the checks concurrently, each under its timeout, caches the results, and remembers
//! whether the service was marked not ready.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use metrics::Gauge;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinSet;

use super::check::{Check, HealthCheck};
use super::report::{Observation, Report, Status};
use crate::contract as c;
use crate::recorder::SharedRecorder;

/// Default timeout of one check.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time results are reused for.
const DEFAULT_CACHE_FOR: Duration = Duration::from_secs(1);

/// The check reported while the service is marked not ready.
const DRAINING_CHECK: &str = "inferwatch:ready";

/// Configures a [`Health`] registry.
pub struct HealthBuilder {
    checks: Vec<Check>,
    timeout: Duration,
    cache_for: Duration,
    recorder: SharedRecorder,
}

impl fmt::Debug for HealthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthBuilder")
            .field("checks", &self.checks)
            .field("timeout", &self.timeout)
            .field("cache_for", &self.cache_for)
            .finish_non_exhaustive()
    }
}

impl HealthBuilder {
    /// Adds a readiness check named `name` (`component:measurement`) with the default timeout.
    pub fn check(self, name: impl Into<String>, check: impl HealthCheck) -> Self {
        self.add_check(Check::new(name, check))
    }

    /// Adds a configured check (a built-in from [`checks`](super::checks), or one with its own timeout or role).
    pub fn add_check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    /// Timeout of checks that name none (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long results are reused before the checks run again (default 1 s).
    pub fn cache_for(mut self, cache_for: Duration) -> Self {
        self.cache_for = cache_for;
        self
    }

    /// Where `inferwatch_health_status` is recorded (default: the global `metrics` recorder).
    pub fn recorder(mut self, recorder: SharedRecorder) -> Self {
        self.recorder = recorder;
        self
    }

    /// The registry.
    pub fn build(self) -> Health {
        let gauges = self
            .checks
            .iter()
            .map(|check| self.recorder.gauge(&c::HEALTH_STATUS, &[&check.name]))
            .collect();
        Health {
            inner: Arc::new(Inner {
                checks: self.checks,
                gauges,
                timeout: self.timeout,
                cache_for: self.cache_for,
                not_ready: AtomicBool::new(false),
                cache: Mutex::new(None),
            }),
            changed: Arc::new(Notify::new()),
        }
    }
}

/// A health registry; clones share it. See the [module docs](super).
#[derive(Clone)]
pub struct Health {
    pub(super) inner: Arc<Inner>,
    pub(super) changed: Arc<Notify>,
}

pub(super) struct Inner {
    checks: Vec<Check>,
    gauges: Vec<Gauge>,
    timeout: Duration,
    pub(super) cache_for: Duration,
    not_ready: AtomicBool,
    cache: Mutex<Option<Cached>>,
}

struct Cached {
    at: Instant,
    results: Arc<Vec<Vec<Observation>>>,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health")
            .field("checks", &self.inner.checks)
            .field("not_ready", &self.inner.not_ready.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Health {
    /// A builder with no checks, a 2 s timeout and 1 s of caching.
    pub fn builder() -> HealthBuilder {
        HealthBuilder {
            checks: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            cache_for: DEFAULT_CACHE_FOR,
            recorder: SharedRecorder::global(),
        }
    }

    /// Liveness: always pass while the process can answer. Runs no check.
    pub fn live(&self) -> Report {
        Report::new(BTreeMap::new())
    }

    /// Readiness: the readiness checks (from cache when fresh), or fail at once when marked not ready.
    pub async fn ready(&self) -> Report {
        self.report_where(|check| check.readiness).await
    }

    /// Every check, readiness or not.
    pub async fn report(&self) -> Report {
        self.report_where(|_| true).await
    }

    /// Marks the service not ready at once (for draining on SIGTERM): `/readyz` answers 503 and gRPC health
    /// NOT_SERVING until [`mark_ready`](Self::mark_ready).
    pub fn mark_not_ready(&self) {
        self.inner.not_ready.store(true, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Lets readiness follow the checks again.
    pub fn mark_ready(&self) {
        self.inner.not_ready.store(false, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Whether [`mark_not_ready`](Self::mark_not_ready) is in force.
    pub fn is_marked_not_ready(&self) -> bool {
        self.inner.not_ready.load(Ordering::SeqCst)
    }

    async fn report_where(&self, include: impl Fn(&Check) -> bool) -> Report {
        let mut checks = BTreeMap::new();
        if self.is_marked_not_ready() {
            let mut drain = Observation::fail("marked not ready (draining)").component("inferwatch", "component");
            drain.time = rfc3339(SystemTime::now());
            checks.insert(DRAINING_CHECK.to_string(), vec![drain]);
            return Report::new(checks);
        }
        let results = self.results().await;
        for (check, observations) in self.inner.checks.iter().zip(results.iter()) {
            if include(check) {
                checks.insert(check.name.clone(), observations.clone());
            }
        }
        Report::new(checks)
    }

    /// The results of every check, run now unless the cached ones are fresh. Concurrent callers wait for one run.
    async fn results(&self) -> Arc<Vec<Vec<Observation>>> {
        let mut cache = self.inner.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached.at.elapsed() < self.inner.cache_for
        {
            return cached.results.clone();
        }
        let results = Arc::new(self.run_checks().await);
        *cache = Some(Cached {
            at: Instant::now(),
            results: results.clone(),
        });
        results
    }

    async fn run_checks(&self) -> Vec<Vec<Observation>> {
        let mut tasks = JoinSet::new();
        let mut slots = Vec::with_capacity(self.inner.checks.len());
        for (index, check) in self.inner.checks.iter().enumerate() {
            let timeout = check.timeout.unwrap_or(self.inner.timeout);
            let future = check.check.check();
            let task = tasks.spawn(async move {
                match tokio::time::timeout(timeout, future).await {
                    Ok(observations) if observations.is_empty() => vec![Observation::pass()],
                    Ok(observations) => observations,
                    Err(_) => vec![Observation::fail(format!("timed out after {} ms", timeout.as_millis()))],
                }
            });
            slots.push((task.id(), index));
        }
        let mut results = vec![Vec::new(); self.inner.checks.len()];
        while let Some(joined) = tasks.join_next_with_id().await {
            let (id, observations) = match joined {
                Ok((id, observations)) => (id, observations),
                Err(error) => (error.id(), vec![Observation::fail("check panicked")]),
            };
            if let Some(&(_, index)) = slots.iter().find(|(task, _)| *task == id) {
                results[index] = observations;
            }
        }
        let time = rfc3339(SystemTime::now());
        for (observations, gauge) in results.iter_mut().zip(&self.inner.gauges) {
            let worst = observations.iter().map(|o| o.status).max().unwrap_or(Status::Pass);
            gauge.set(worst.gauge_value());
            for observation in observations.iter_mut() {
                observation.time.clone_from(&time);
            }
        }
        results
    }
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}
