//! The registry: runs the checks concurrently, each under its timeout, caches the results, and remembers
//! whether the service was marked not ready.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use metrics::Gauge;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinSet;

use super::check::{Check, HealthCheck};
use super::report::{Observation, Report, Status};
use inferwatch_core::SharedRecorder;
use inferwatch_core::contract as c;

/// Default timeout of one check.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time between background runs of the checks.
const DEFAULT_EVERY: Duration = Duration::from_secs(10);
/// Default time results are reused for.
const DEFAULT_CACHE_FOR: Duration = Duration::from_secs(1);

/// The check reported while the service is marked not ready.
const DRAINING_CHECK: &str = "inferwatch:ready";

/// Configures a [`Health`] registry.
pub struct HealthBuilder {
    checks: Vec<Check>,
    timeout: Duration,
    cache_for: Duration,
    every: Duration,
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

    /// How often the checks run in the background, whether or not anyone probes (default 10 s), so that
    /// `inferwatch_health_status` stays current without probes. The background runs start with the registry, inside
    /// a Tokio runtime (or at the first probe, when the registry was built outside one).
    pub fn evaluate_every(mut self, every: Duration) -> Self {
        self.every = every.max(Duration::from_millis(10));
        self
    }

    /// Where `inferwatch_health_status` is recorded (default: the global `metrics` recorder).
    pub fn recorder(mut self, recorder: SharedRecorder) -> Self {
        self.recorder = recorder;
        self
    }

    /// The registry. Inside a Tokio runtime its background checks start now.
    pub fn build(self) -> Health {
        let gauges = self.checks.iter().map(|_| OnceLock::new()).collect();
        let health = Health {
            inner: Arc::new(Inner {
                checks: self.checks,
                gauges,
                recorder: self.recorder,
                timeout: self.timeout,
                cache_for: self.cache_for,
                every: self.every,
                background: AtomicBool::new(false),
                not_ready: AtomicBool::new(false),
                cache: Mutex::new(None),
            }),
            changed: Arc::new(Notify::new()),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            health.start_background();
        }
        health
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
    /// Registered at each check's first result: a check not yet evaluated has no series, rather than a 0 that
    /// reads as "fail".
    gauges: Vec<OnceLock<Gauge>>,
    recorder: SharedRecorder,
    timeout: Duration,
    pub(super) cache_for: Duration,
    every: Duration,
    background: AtomicBool,
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
            every: DEFAULT_EVERY,
            recorder: SharedRecorder::global(),
        }
    }

    /// Runs the checks every [`evaluate_every`](HealthBuilder::evaluate_every) on the current Tokio runtime, once
    /// per registry, until the registry is dropped.
    fn start_background(&self) {
        if self.inner.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let (weak, changed) = (Arc::downgrade(&self.inner), self.changed.clone());
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let every = inner.every;
                let health = Health {
                    inner,
                    changed: changed.clone(),
                };
                health.results().await;
                drop(health);
                tokio::time::sleep(every).await;
            }
        });
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
        self.start_background();
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
        let inner = &*self.inner;
        for ((observations, gauge), check) in results.iter_mut().zip(&inner.gauges).zip(&inner.checks) {
            let worst = observations.iter().map(|o| o.status).max().unwrap_or(Status::Pass);
            let gauge = gauge.get_or_init(|| inner.recorder.gauge(c::Metric::HealthStatus.def(), &[&check.name]));
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
