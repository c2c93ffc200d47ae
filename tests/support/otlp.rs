//! An OTLP/gRPC trace receiver on loopback that keeps every span it is sent, and a telemetry fixture around it.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use inferwatch::telemetry::{OtlpProtocol, TelemetryBuilder, TelemetryGuard};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;

#[derive(Clone, Default)]
pub struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("lock");
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("lock").clone()
    }
}

/// Log lines written by the subscriber, kept for the tests to parse.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().expect("lock").clone();
        String::from_utf8(bytes)
            .expect("utf-8 logs")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}")))
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8 logs")
    }
}

/// One per test binary: the global subscriber exporting to a receiver; both on a runtime that outlives tests.
pub struct Fixture {
    pub receiver: Receiver,
    pub logs: Captured,
    pub guard: TelemetryGuard,
    _runtime: tokio::runtime::Runtime,
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    // Built on a thread of its own: tests call this from inside their runtimes, where blocking is not allowed.
    FIXTURE.get_or_init(|| std::thread::spawn(build_fixture).join().expect("fixture"))
}

/// A receiver served on loopback from a runtime of its own (kept alive by the caller); its endpoint.
pub fn serve_receiver() -> (Receiver, String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let receiver = Receiver::default();
    let addr = runtime.block_on(async {
        let (addr, incoming) = super::grpc::listener().await;
        let server = tonic::transport::Server::builder().add_service(TraceServiceServer::new(receiver.clone()));
        tokio::spawn(server.serve_with_incoming(incoming));
        addr
    });
    (receiver, format!("http://{addr}"), runtime)
}

fn build_fixture() -> Fixture {
    let (receiver, endpoint, runtime) = serve_receiver();
    let logs = Captured::default();
    let writer = logs.clone();
    let guard = runtime.block_on(async {
        TelemetryBuilder::new()
            .service_name("inferwatch-tests")
            .otlp_endpoint(endpoint)
            .otlp_protocol(OtlpProtocol::Grpc)
            .default_log_filter("info")
            .writer(writer)
            .log_queue(0)
            .init()
            .expect("telemetry")
    });
    Fixture {
        receiver,
        logs,
        guard,
        _runtime: runtime,
    }
}

impl Fixture {
    /// Flushes and returns every span received so far that `keep` selects, waiting up to 5 s for `min` of them.
    pub fn spans_where(&self, min: usize, keep: impl Fn(&Span) -> bool) -> Vec<Span> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            self.guard.flush();
            let found: Vec<Span> = self.receiver.spans().into_iter().filter(|s| keep(s)).collect();
            if found.len() >= min || std::time::Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

pub fn attr_str<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key) {
        Some(Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

pub fn attr_int(span: &Span, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(Value::IntValue(i)) => Some(*i),
        _ => None,
    }
}

pub fn attr_bool(span: &Span, key: &str) -> Option<bool> {
    match attr(span, key) {
        Some(Value::BoolValue(b)) => Some(*b),
        _ => None,
    }
}

/// Every string anywhere in the span's attributes, events and name.
pub fn all_text(span: &Span) -> String {
    format!("{span:?}")
}
