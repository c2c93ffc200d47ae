//! The transport settings every OTLP exporter shares, whatever its signal (feature `otlp`): the protocol, the
//! endpoint with the signal's path, the timeout, and TLS for `https://` endpoints.

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use tokio::runtime::Runtime;

use super::{OtlpProtocol, TelemetryBuilder, TelemetryError, tls};

/// What differs between signals: the infix of their `OTEL_EXPORTER_OTLP_<SIGNAL>_*` variables and the path
/// appended to an HTTP base URL.
#[derive(Clone, Copy)]
pub(super) struct Signal {
    pub(super) env: &'static str,
    pub(super) path: &'static str,
}

pub(super) const TRACES: Signal = Signal {
    env: "TRACES",
    path: "/v1/traces",
};

pub(super) const LOGS: Signal = Signal {
    env: "LOGS",
    path: "/v1/logs",
};

/// The transport: the builder's, else `OTEL_EXPORTER_OTLP_PROTOCOL` (default HTTP/protobuf).
pub(super) fn protocol(config: &TelemetryBuilder) -> Result<OtlpProtocol, TelemetryError> {
    Ok(match config.protocol {
        Some(p) => p,
        None => match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").ok().as_deref() {
            None | Some("") | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("grpc") => OtlpProtocol::Grpc,
            Some(other) => return Err(TelemetryError::UnsupportedProtocol(other.to_owned())),
        },
    })
}

/// The protocol and the CA bundle of `signal`'s exporter, with the TLS provider installed.
pub(super) fn prepare(
    config: &TelemetryBuilder,
    signal: Signal,
) -> Result<(OtlpProtocol, Option<Vec<u8>>), TelemetryError> {
    tls::install_provider();
    Ok((protocol(config)?, tls::ca_bundle(config, signal.env)?))
}

/// A gRPC exporter builder with the timeout, the endpoint and, for `https://`, TLS.
pub(super) fn grpc<B: WithExportConfig + WithTonicConfig>(
    builder: B,
    config: &TelemetryBuilder,
    signal: Signal,
    ca: Option<&[u8]>,
) -> B {
    let mut b = builder.with_timeout(config.export_timeout);
    if let Some(endpoint) = &config.endpoint {
        b = b.with_endpoint(endpoint.clone());
    }
    if tls::is_https(config, signal.env) {
        b = b.with_tls_config(tls::grpc(ca));
    }
    b
}

/// An HTTP/protobuf exporter builder with the timeout, the endpoint (a base URL, as in
/// `OTEL_EXPORTER_OTLP_ENDPOINT`: the signal's path is appended), and a client trusting `ca`.
pub(super) fn http<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    config: &TelemetryBuilder,
    signal: Signal,
    ca: Option<&[u8]>,
) -> Result<B, TelemetryError> {
    let mut b = builder
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_timeout(config.export_timeout);
    if let Some(endpoint) = &config.endpoint {
        b = b.with_endpoint(format!("{}{}", endpoint.trim_end_matches('/'), signal.path));
    }
    if let Some(pem) = ca {
        b = b.with_http_client(tls::http_client(pem, config.export_timeout)?);
    }
    Ok(b)
}

/// The runtime that gRPC exporters' connections run on: one thread of its own, so that sending spans and records
/// never takes a turn on the application's runtime (under a current-thread runtime, its only thread), and so that
/// telemetry can be set up outside any runtime. Started by the first gRPC exporter that needs it.
#[derive(Default)]
pub(super) struct ExportRuntime(Option<Runtime>);

impl ExportRuntime {
    /// Runs `build` (a tonic exporter's, which spawns its connection's tasks) inside the runtime.
    pub(super) fn build<T>(&mut self, build: impl FnOnce() -> T) -> Result<T, TelemetryError> {
        let runtime = match &mut self.0 {
            Some(runtime) => runtime,
            None => self.0.insert(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("inferwatch-otlp")
                    .enable_all()
                    .build()
                    .map_err(|e| TelemetryError::Exporter(format!("starting the export thread: {e}")))?,
            ),
        };
        let _entered = runtime.enter();
        Ok(build())
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        // Dropped after the providers' shutdown, which has sent what was left; without blocking, since the guard
        // may be dropped inside the application's runtime.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
