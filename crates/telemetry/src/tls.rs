//! TLS for OTLP export to `https://` endpoints (feature `otlp`): the platform's root certificates, plus a CA
//! bundle from `OTEL_EXPORTER_OTLP_CERTIFICATE` (or [`TelemetryBuilder::otlp_certificate`]) for a collector with a
//! private CA. rustls over ring for both transports; request headers (`OTEL_EXPORTER_OTLP_HEADERS`, API keys) are
//! read by the exporters themselves.

use std::time::Duration;

use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig};

use super::{TelemetryBuilder, TelemetryError};

/// The PEM bundle to trust besides the platform's roots, if one is configured.
pub(super) fn ca_bundle(config: &TelemetryBuilder, signal: &str) -> Result<Option<Vec<u8>>, TelemetryError> {
    let path = config.certificate.clone().or_else(|| {
        [
            format!("OTEL_EXPORTER_OTLP_{signal}_CERTIFICATE"),
            "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
        ]
        .iter()
        .find_map(|var| std::env::var_os(var).filter(|v| !v.is_empty()))
        .map(Into::into)
    });
    let Some(path) = path else { return Ok(None) };
    std::fs::read(&path)
        .map(Some)
        .map_err(|e| TelemetryError::Certificate(format!("{}: {e}", path.display())))
}

/// rustls needs one process-wide cryptography provider; ring is the one both transports are built with here. A
/// provider the application installed first is kept.
// rustls 0.23.48 deprecates its ring provider for lacking post-quantum key exchange; aws-lc-rs, which has it,
// needs a C toolchain and cmake to build, and tonic's and reqwest's TLS here are built on ring.
#[allow(deprecated)]
pub(super) fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The gRPC channel's TLS settings.
pub(super) fn grpc(ca: Option<&[u8]>) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new().with_enabled_roots();
    match ca {
        Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
        None => tls,
    }
}

/// A blocking HTTP client that also trusts `ca`. Built on a thread of its own: reqwest's blocking client refuses
/// to be built (or dropped) inside an async runtime, where `telemetry::init` is often called.
pub(super) fn http_client(ca: &[u8], timeout: Duration) -> Result<reqwest::blocking::Client, TelemetryError> {
    let certificates =
        reqwest::Certificate::from_pem_bundle(ca).map_err(|e| TelemetryError::Certificate(e.to_string()))?;
    std::thread::spawn(move || {
        certificates
            .into_iter()
            .fold(reqwest::blocking::Client::builder(), |b, c| b.add_root_certificate(c))
            .timeout(timeout)
            .build()
    })
    .join()
    .map_err(|_| TelemetryError::Certificate("building the HTTP client panicked".into()))?
    .map_err(|e| TelemetryError::Certificate(e.to_string()))
}

/// Whether the endpoint the exporter will use is `https://`: the builder's, or the signal's or the general
/// endpoint variable.
pub(super) fn is_https(config: &TelemetryBuilder, signal: &str) -> bool {
    let endpoint = config.endpoint.clone().or_else(|| {
        [
            format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"),
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
        ]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
    });
    endpoint.is_some_and(|e| e.trim_start().to_ascii_lowercase().starts_with("https://"))
}
