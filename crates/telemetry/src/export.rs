//! Export made visible (feature `otlp`): spans lost on a full queue or to a failed export, and failed exports of
//! spans and log records, counted as metrics by signal; one log line when a signal's export starts failing and one
//! when it recovers, instead of the SDK's line per failed attempt.
//!
//! The SDK's batch processor counts the spans it drops but does not say how many; so this processor keeps the
//! count of spans handed to it and not yet taken by the exporter, and drops (and counts) a span itself once that
//! count reaches the queue's capacity. The SDK's queue then never overflows, and every lost span is counted here.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use metrics::Counter;
use opentelemetry::Context;
use opentelemetry::logs::Severity;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::trace::{BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};

use inferwatch_core::SharedRecorder;
use inferwatch_core::contract::{self as c, LOG_TARGET};

/// One signal's failed exports: counted, and said once when they start and once when they stop.
pub(super) struct Failures {
    /// What the signal carries, in the log lines: `span`, `log record`.
    item: &'static str,
    errors: Counter,
    /// Failed exports since the last success (0: healthy).
    failing: AtomicU64,
}

impl Failures {
    /// Spans' export failures, counted as `signal="traces"`.
    pub(super) fn traces(recorder: &SharedRecorder) -> Self {
        Self::new("span", "traces", recorder)
    }

    /// Log records' export failures, counted as `signal="logs"`.
    pub(super) fn logs(recorder: &SharedRecorder) -> Self {
        Self::new("log record", "logs", recorder)
    }

    fn new(item: &'static str, signal: &'static str, recorder: &SharedRecorder) -> Self {
        Self {
            item,
            errors: recorder.late_counter(c::Metric::TelemetryExportErrors.def(), &[signal]),
            failing: AtomicU64::new(0),
        }
    }

    fn succeeded(&self) {
        let failures = self.failing.swap(0, Ordering::AcqRel);
        if failures > 0 {
            tracing::info!(target: LOG_TARGET, failed_exports = failures, "{} export recovered", self.item);
        }
    }

    fn failed(&self, error: &dyn fmt::Display) {
        self.errors.increment(1);
        if self.failing.fetch_add(1, Ordering::AcqRel) == 0 {
            tracing::warn!(
                target: LOG_TARGET,
                %error,
                "{item} export failing; {item}s are dropped until it recovers (inferwatch_telemetry_export_errors_total counts the failures)",
                item = self.item,
            );
        }
    }

    /// The export's result, counted and said here: Ok for the SDK, which would otherwise log every failed attempt.
    fn count(&self, result: OTelSdkResult) -> OTelSdkResult {
        match result {
            Ok(()) => self.succeeded(),
            Err(error) => self.failed(&error),
        }
        Ok(())
    }
}

/// What the processor and the exporter count together.
pub(super) struct ExportStats {
    /// Spans handed to the batch processor and not yet taken by the exporter.
    pending: AtomicUsize,
    capacity: usize,
    exported: Counter,
    dropped_queue_full: Counter,
    dropped_export_failed: Counter,
    failures: Failures,
    told_queue_full: AtomicBool,
}

impl ExportStats {
    pub(super) fn new(capacity: usize, recorder: &SharedRecorder) -> Arc<Self> {
        let dropped = |reason| recorder.late_counter(c::Metric::TelemetrySpansDropped.def(), &[reason]);
        Arc::new(Self {
            pending: AtomicUsize::new(0),
            capacity,
            exported: recorder.late_counter(c::Metric::TelemetrySpansExported.def(), &[]),
            dropped_queue_full: dropped("queue_full"),
            dropped_export_failed: dropped("export_failed"),
            failures: Failures::traces(recorder),
            told_queue_full: AtomicBool::new(false),
        })
    }
}

/// The span exporter, counting what it exports and what fails.
pub(super) struct CountingExporter<E> {
    pub(super) inner: E,
    pub(super) stats: Arc<ExportStats>,
}

impl<E> fmt::Debug for CountingExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingExporter").finish_non_exhaustive()
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let stats = &self.stats;
        let spans = batch.len();
        let _ = stats
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| Some(p.saturating_sub(spans)));
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => stats.exported.increment(spans as u64),
            Err(_) => stats.dropped_export_failed.increment(spans as u64),
        }
        stats.failures.count(result)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The log record exporter, counting the exports that fail.
pub(super) struct CountingLogExporter<E> {
    pub(super) inner: E,
    pub(super) failures: Failures,
}

impl<E> fmt::Debug for CountingLogExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingLogExporter").finish_non_exhaustive()
    }
}

impl<E: LogExporter> LogExporter for CountingLogExporter<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        self.failures.count(self.inner.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The SDK's batch processor behind a gate that never lets its queue overflow.
pub(super) struct BoundedProcessor {
    pub(super) inner: BatchSpanProcessor,
    pub(super) stats: Arc<ExportStats>,
}

impl fmt::Debug for BoundedProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedProcessor")
            .field("capacity", &self.stats.capacity)
            .finish_non_exhaustive()
    }
}

impl SpanProcessor for BoundedProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let stats = &self.stats;
        let admitted = stats.pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
            (p < stats.capacity).then_some(p + 1)
        });
        if admitted.is_err() {
            stats.dropped_queue_full.increment(1);
            if !stats.told_queue_full.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    target: LOG_TARGET,
                    capacity = stats.capacity,
                    "span export queue full: spans are dropped (inferwatch_telemetry_spans_dropped_total counts them)"
                );
            }
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
