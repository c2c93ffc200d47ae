//! Label names, spelled once.

/// Route template (axum `MatchedPath`) or gRPC method path; `_OTHER` when unmatched.
pub const ROUTE: &str = "route";
/// Bounded model name the handler reported; empty when it named none.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai_request_model";
/// `ok`, `client_error`, `server_error` or `cancelled`.
pub const OUTCOME: &str = "outcome";
/// HTTP method, `_OTHER` for non-standard ones.
pub const HTTP_REQUEST_METHOD: &str = "http_request_method";
/// Same value as `route`, under the OpenTelemetry name.
pub const HTTP_ROUTE: &str = "http_route";
/// Numeric HTTP status code; empty when the service failed without a response.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http_response_status_code";
/// Always `grpc`.
pub const RPC_SYSTEM_NAME: &str = "rpc_system_name";
/// `pkg.Service/Method`, `_OTHER` when unmatched.
pub const RPC_METHOD: &str = "rpc_method";
/// gRPC status code name (`OK`, `INTERNAL`, …), `rpc.response.status_code` in OpenTelemetry.
pub const RPC_RESPONSE_STATUS_CODE: &str = "rpc_response_status_code";
/// GenAI operation (`chat`, `text_completion`, …).
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai_operation_name";
/// Empty when the request succeeded, else a value from a fixed set (status code, gRPC code name, …).
pub const ERROR_TYPE: &str = "error_type";
/// `input` or `output`.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai_token_type";
/// The crate version.
pub const VERSION: &str = "version";
/// Stage name: a well-known one (`tokenize`, `generate`, `decode`, …), one of the application's, or `_OTHER`.
pub const STAGE: &str = "stage";
/// GPU UUID (`hw.id`).
pub const HW_ID: &str = "hw_id";
/// GPU model name (`hw.name`).
pub const HW_NAME: &str = "hw_name";
/// GPU index as NVML numbers devices.
pub const GPU: &str = "gpu";
/// Which reading failed: one of `inferwatch_operations::resources::GpuField`'s names, or `device`.
pub const FIELD: &str = "field";
/// A configured filesystem path.
pub const MOUNTPOINT: &str = "mountpoint";
/// A registered health check, `component:measurement`.
pub const CHECK: &str = "check";
/// Why telemetry was lost: `queue_full` or `export_failed`.
pub const REASON: &str = "reason";
/// The OpenTelemetry signal an export carried: `traces` or `logs`.
pub const SIGNAL: &str = "signal";
/// A declared experiment's name, or `_OTHER`.
pub const EXPERIMENT: &str = "experiment";
/// A declared variant of the experiment, or `_OTHER`.
pub const VARIANT: &str = "variant";
/// A quality evaluator's name (declared, then the first 16 seen), or `_OTHER`.
pub const EVALUATOR: &str = "evaluator";
/// A user's verdict: `positive`, `negative`, `neutral`.
pub const RATING: &str = "rating";
/// Why generation stopped: `stop`, `length`, `content_filter`, `tool_calls`, `error`, `cancelled`, `_OTHER`.
pub const GEN_AI_RESPONSE_FINISH_REASON: &str = "gen_ai_response_finish_reason";
/// The currency of the price table: `USD`, `EUR`, ...
pub const CURRENCY: &str = "currency";
/// A drift feature: `input_tokens`, `output_tokens`, `finish_reason`, or a declared one; `_OTHER` otherwise.
pub const FEATURE: &str = "feature";
/// Where a drift baseline came from: `warm-up` or `file`.
pub const SOURCE: &str = "source";
