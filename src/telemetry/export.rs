//! Span export made visible (feature `otlp`): spans lost on a full queue or to a failed export, and failed
//! exports, counted as metrics; one log line when export starts failing and one when it recovers, instead of the
//! SDK's line per failed attempt.
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
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};

use crate::contract::{self as c, LOG_TARGET};
use crate::recorder::SharedRecorder;

/// What the processor and the exporter count together.
pub(super) struct ExportStats {
    /// Spans handed to the batch processor and not yet taken by the exporter.
    pending: AtomicUsize,
    capacity: usize,
    exported: Counter,
    dropped_queue_full: Counter,
    dropped_export_failed: Counter,
    export_errors: Counter,
    /// Failed exports since the last success (0: healthy).
    failing: AtomicU64,
    told_queue_full: AtomicBool,
}

impl ExportStats {
    pub(super) fn new(capacity: usize, recorder: &SharedRecorder) -> Arc<Self> {
        let dropped = |reason| recorder.counter(&c::TELEMETRY_SPANS_DROPPED, &[reason]);
        Arc::new(Self {
            pending: AtomicUsize::new(0),
            capacity,
            exported: recorder.counter(&c::TELEMETRY_SPANS_EXPORTED, &[]),
            dropped_queue_full: dropped("queue_full"),
            dropped_export_failed: dropped("export_failed"),
            export_errors: recorder.counter(&c::TELEMETRY_EXPORT_ERRORS, &[]),
            failing: AtomicU64::new(0),
            told_queue_full: AtomicBool::new(false),
        })
    }
}

/// The exporter, counting what it exports and what fails.
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
        match self.inner.export(batch).await {
            Ok(()) => {
                stats.exported.increment(spans as u64);
                let failures = stats.failing.swap(0, Ordering::AcqRel);
                if failures > 0 {
                    tracing::info!(target: LOG_TARGET, failed_exports = failures, "span export recovered");
                }
            }
            Err(error) => {
                stats.export_errors.increment(1);
                stats.dropped_export_failed.increment(spans as u64);
                if stats.failing.fetch_add(1, Ordering::AcqRel) == 0 {
                    tracing::warn!(
                        target: LOG_TARGET,
                        %error,
                        "span export failing; spans are dropped until it recovers (inferwatch_telemetry_export_errors_total counts the failures)"
                    );
                }
            }
        }
        // Counted and said once here: the SDK would otherwise log an error for every failed attempt.
        Ok(())
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
