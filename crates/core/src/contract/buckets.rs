//! The contract's default histogram buckets: long enough for generations that last minutes.

/// OpenTelemetry's HTTP duration buckets, extended to five minutes.
pub(crate) const HTTP_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// 0.01 s doubling to 327.68 s: generations that last minutes stay visible.
pub(crate) const GEN_AI_DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68,
];

/// OpenTelemetry's GenAI time-to-first-token buckets, extended by 20, 40 and 80 s.
pub(crate) const TIME_TO_FIRST_TOKEN_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];

/// OpenTelemetry's GenAI time-per-output-token buckets, extended by 5, 7.5 and 10 s.
pub(crate) const TIME_PER_OUTPUT_TOKEN_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// 100 µs to two minutes: a tokenizer pass and a whole generation both land inside.
pub(crate) const STAGE_DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0,
];

/// Powers of 4 from 1 to 4^12 tokens.
pub(crate) const TOKEN_COUNT_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
];

/// 0.1 wide, from 0.1 to 1: scores are in [0, 1].
pub(crate) const SCORE_BUCKETS: &[f64] = &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// Per-request cost in currency units: from 10⁻⁶, ×4 each bucket, to about 4.
pub(crate) const REQUEST_COST_BUCKETS: &[f64] = &[
    0.000001, 0.000004, 0.000016, 0.000064, 0.000256, 0.001024, 0.004096, 0.016384, 0.065536, 0.262144, 1.048576,
    4.194304,
];

/// Sequences in a batch: powers of two to 1024.
pub(crate) const BATCH_SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];
