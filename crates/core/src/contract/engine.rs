//! Queueing and engine state: how long requests wait for the engine, how many wait now, and what the engine
//! reports from its own loop (cache usage, batch size, preemptions).

use super::buckets::{BATCH_SIZE_BUCKETS, TIME_TO_FIRST_TOKEN_BUCKETS};
use super::def::{MetricDef, MetricKind};
use super::label;

/// Time requests waited in the engine's admission queue.
pub(crate) const REQUEST_QUEUE_DURATION: MetricDef = MetricDef {
    name: "inferwatch_request_queue_duration_seconds",
    otel_name: Some("inferwatch.request.queue.duration"),
    kind: MetricKind::Histogram,
    unit: "s",
    labels: &[label::GEN_AI_REQUEST_MODEL],
    buckets: TIME_TO_FIRST_TOKEN_BUCKETS,
    description: "Time requests waited in the engine's admission queue before being scheduled, by model.",
};

/// Requests waiting in the admission queue now.
pub(crate) const REQUESTS_WAITING: MetricDef = MetricDef {
    name: "inferwatch_requests_waiting",
    otel_name: Some("inferwatch.requests.waiting"),
    kind: MetricKind::Gauge,
    unit: "{request}",
    labels: &[label::GEN_AI_REQUEST_MODEL],
    buckets: &[],
    description: "Requests waiting in the engine's admission queue now, by model.",
};

/// KV-cache usage the engine reports.
pub(crate) const ENGINE_KV_CACHE_USAGE: MetricDef = MetricDef {
    name: "inferwatch_engine_kv_cache_usage_ratio",
    otel_name: Some("inferwatch.engine.kv_cache.usage"),
    kind: MetricKind::Gauge,
    unit: "1",
    labels: &[label::GEN_AI_REQUEST_MODEL],
    buckets: &[],
    description: "Share of the engine's KV cache in use, 0 to 1, by model (reported by the engine's loop).",
};

/// Running batch sizes.
pub(crate) const ENGINE_BATCH_SIZE: MetricDef = MetricDef {
    name: "inferwatch_engine_batch_size",
    otel_name: Some("inferwatch.engine.batch.size"),
    kind: MetricKind::Histogram,
    unit: "{sequence}",
    labels: &[],
    buckets: BATCH_SIZE_BUCKETS,
    description: "Sequences in each batch the engine ran.",
};

/// Preempted sequences.
pub(crate) const ENGINE_PREEMPTIONS: MetricDef = MetricDef {
    name: "inferwatch_engine_preemptions_total",
    otel_name: Some("inferwatch.engine.preemptions"),
    kind: MetricKind::Counter,
    unit: "{sequence}",
    labels: &[],
    buckets: &[],
    description: "Sequences the engine preempted (evicted from its cache, to be recomputed later).",
};
