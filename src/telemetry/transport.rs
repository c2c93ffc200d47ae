//! The transport settings every OTLP exporter shares, whatever its signal (feature `otlp`): the protocol, the
//! endpoint with the signal's path, the timeout, and TLS for `https://` endpoints.

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};

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
