//! The layer on a real tonic server on loopback, called by a real tonic client.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use inferwatch::prometheus::PrometheusExporter;
use support::grpc::{GenerateRequest, Generator, GeneratorClient, STREAM, UNARY};
use support::{eventually, isolated_layer, scrape};
use tokio_stream::StreamExt;
use tonic::Code;

const REQUESTS: &str = "inferwatch_requests_total";
const RPC_COUNT: &str = "rpc_server_call_duration_seconds_count";

async fn start() -> (SocketAddr, PrometheusExporter) {
    start_with(|b| b).await
}

async fn start_with(
    configure: impl FnOnce(inferwatch::InferenceLayerBuilder) -> inferwatch::InferenceLayerBuilder,
) -> (SocketAddr, PrometheusExporter) {
    let (layer, exporter) = isolated_layer(configure);
    let (addr, incoming) = support::grpc::listener().await;
    let server = tonic::transport::Server::builder().layer(layer).add_service(Generator);
    tokio::spawn(server.serve_with_incoming(incoming));
    (addr, exporter)
}

fn req(model: &str, tokens: u32, fail: Code) -> GenerateRequest {
    GenerateRequest {
        prompt: "one two three".into(),
        model: model.into(),
        tokens,
        fail_code: fail as i32,
        delay_ms: 5,
    }
}

fn rpc(method: &'static str, code: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("rpc_system_name", "grpc"),
        ("rpc_method", method),
        ("rpc_response_status_code", code),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_statuses_come_from_the_headers() {
    let (addr, exporter) = start().await;
    let client = GeneratorClient::connect(addr).await;
    for _ in 0..2 {
        assert_eq!(
            client.unary(UNARY, req("toy", 0, Code::Ok)).await.expect("ok").text,
            "hello world"
        );
    }
    let err = client
        .unary(UNARY, req("toy", 0, Code::InvalidArgument))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client
        .unary(UNARY, req("toy", 0, Code::Unavailable))
        .await
        .expect_err("unavailable");
    assert_eq!(err.code(), Code::Unavailable);

    let s = scrape(&exporter);
    let method = "test.v1.Generator/Generate";
    assert_eq!(s.get(RPC_COUNT, &rpc(method, "OK")), 2.0);
    assert_eq!(s.get(RPC_COUNT, &rpc(method, "INVALID_ARGUMENT")), 1.0);
    assert_eq!(s.get(RPC_COUNT, &rpc(method, "UNAVAILABLE")), 1.0);
    let route = ("route", UNARY);
    assert_eq!(
        s.get(REQUESTS, &[route, ("outcome", "ok"), ("gen_ai_request_model", "toy")]),
        2.0
    );
    assert_eq!(s.get(REQUESTS, &[route, ("outcome", "client_error")]), 1.0);
    assert_eq!(s.get(REQUESTS, &[route, ("outcome", "server_error")]), 1.0);
    // gRPC calls are not counted as HTTP requests.
    assert_eq!(s.series("http_server_request_duration_seconds_count"), 0);
    let tokens = [("gen_ai_request_model", "toy"), ("gen_ai_token_type", "input")];
    assert_eq!(s.get("inferwatch_tokens_total", &tokens), 4.0 * 3.0);
    let tokens = [("gen_ai_request_model", "toy"), ("gen_ai_token_type", "output")];
    assert_eq!(s.get("inferwatch_tokens_total", &tokens), 2.0 * 2.0);
    let errors = [("gen_ai_request_model", "toy"), ("error_type", "UNAVAILABLE")];
    assert_eq!(s.get("gen_ai_server_request_duration_seconds_count", &errors), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_statuses_come_from_the_trailers() {
    let (addr, exporter) = start().await;
    let client = GeneratorClient::connect(addr).await;
    let mut ok = client.stream(req("toy", 4, Code::Ok)).await.expect("stream");
    let mut texts = Vec::new();
    while let Some(reply) = ok.next().await {
        texts.push(reply.expect("message").text);
    }
    assert_eq!(texts, ["t0", "t1", "t2", "t3"]);

    let mut failing = client.stream(req("toy", 3, Code::Internal)).await.expect("stream");
    let mut received = 0;
    let mut status = None;
    while let Some(reply) = failing.next().await {
        match reply {
            Ok(_) => received += 1,
            Err(e) => status = Some(e.code()),
        }
    }
    assert_eq!((received, status), (3, Some(Code::Internal)));

    let s = scrape(&exporter);
    let method = "test.v1.Generator/GenerateStream";
    assert_eq!(s.get(RPC_COUNT, &rpc(method, "OK")), 1.0);
    assert_eq!(s.get(RPC_COUNT, &rpc(method, "INTERNAL")), 1.0);
    assert_eq!(s.get(REQUESTS, &[("route", STREAM), ("outcome", "ok")]), 1.0);
    assert_eq!(s.get(REQUESTS, &[("route", STREAM), ("outcome", "server_error")]), 1.0);
    assert_eq!(
        s.get("inferwatch_tokens_total", &[("gen_ai_token_type", "output")]),
        7.0
    );
    // Several messages make a stream: its first one is the first token, and TPOT spans the rest.
    assert_eq!(
        s.get(
            "gen_ai_server_time_to_first_token_seconds_count",
            &[("gen_ai_request_model", "toy")]
        ),
        2.0
    );
    assert_eq!(
        s.get(
            "gen_ai_server_time_per_output_token_seconds_count",
            &[("gen_ai_request_model", "toy")]
        ),
        2.0
    );
    assert_eq!(s.sum("inferwatch_requests_in_flight", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_and_dropped_streams() {
    let (addr, exporter) = start().await;
    let client = GeneratorClient::connect(addr).await;
    let err = client
        .unary("/test.v1.Generator/Nope", req("toy", 0, Code::Ok))
        .await
        .expect_err("unimplemented");
    assert_eq!(err.code(), Code::Unimplemented);
    let err = client
        .unary("/not.valid/extra/segment", req("toy", 0, Code::Ok))
        .await
        .expect_err("unimplemented");
    assert_eq!(err.code(), Code::Unimplemented);

    let mut stream = client
        .stream(GenerateRequest {
            delay_ms: 20,
            ..req("toy", 500, Code::Ok)
        })
        .await
        .expect("stream");
    stream.next().await.expect("one").expect("message");
    drop(stream);
    let settled = eventually(Duration::from_secs(5), || {
        scrape(&exporter).try_get(REQUESTS, &[("route", STREAM), ("outcome", "cancelled")]) == Some(1.0)
    })
    .await;
    assert!(settled, "a dropped stream is cancelled");

    let s = scrape(&exporter);
    assert_eq!(s.get(RPC_COUNT, &rpc("test.v1.Generator/Nope", "UNIMPLEMENTED")), 1.0);
    assert_eq!(
        s.get(REQUESTS, &[("route", "_OTHER"), ("outcome", "server_error")]),
        1.0
    );
    assert_eq!(
        s.get(RPC_COUNT, &rpc("test.v1.Generator/GenerateStream", "CANCELLED")),
        1.0
    );
    assert_eq!(s.sum("inferwatch_requests_in_flight", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_methods_cannot_take_over_the_labels_of_served_ones() {
    let (addr, exporter) = start_with(|b| b.grpc_methods([UNARY, STREAM]).max_routes(16)).await;
    let client = GeneratorClient::connect(addr).await;
    const JUNK: usize = 2_000;
    support::run_concurrently(JUNK, 16, |i| {
        let call = client.unary(format!("/a.B/M{i}"), req("toy", 0, Code::Ok));
        async move {
            assert_eq!(call.await.expect_err("junk").code(), Code::Unimplemented);
        }
    })
    .await;
    // Served methods come after the junk and keep their labels.
    client.unary(UNARY, req("toy", 0, Code::Ok)).await.expect("ok");
    let mut stream = client.stream(req("toy", 2, Code::Ok)).await.expect("stream");
    while stream.next().await.is_some() {}
    let settled = eventually(Duration::from_secs(5), || {
        let labels = [("route", STREAM), ("gen_ai_request_model", "toy"), ("outcome", "ok")];
        scrape(&exporter).try_get(REQUESTS, &labels) == Some(1.0)
    })
    .await;
    assert!(settled);

    let text = exporter.render();
    let s = support::Scrape::parse(&text);
    assert_eq!(s.get(RPC_COUNT, &rpc("test.v1.Generator/Generate", "OK")), 1.0);
    // Junk is the client's mistake, under one label, whatever it was called.
    assert_eq!(s.get(RPC_COUNT, &rpc("_OTHER", "UNIMPLEMENTED")), JUNK as f64);
    assert_eq!(
        s.sum(REQUESTS, &[("route", "_OTHER"), ("outcome", "client_error")]),
        JUNK as f64
    );
    assert_eq!(s.sum(REQUESTS, &[("outcome", "server_error")]), 0.0);
    assert!(!text.contains("/a.B/"), "no junk method became a label");
    assert!(text.len() < 64 * 1024, "{} bytes", text.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_from_descriptors_get_series_at_zero_per_model_only_when_they_name_one() {
    use prost::Message;
    use prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto,
        ServiceDescriptorProto,
    };
    let method = |name: &str| MethodDescriptorProto {
        name: Some(name.into()),
        input_type: Some(".test.v1.GenerateRequest".into()),
        ..Default::default()
    };
    let generator = FileDescriptorSet {
        file: vec![FileDescriptorProto {
            package: Some("test.v1".into()),
            message_type: vec![DescriptorProto {
                name: Some("GenerateRequest".into()),
                field: ["prompt", "model"]
                    .map(|f| FieldDescriptorProto {
                        name: Some(f.into()),
                        ..Default::default()
                    })
                    .into(),
                ..Default::default()
            }],
            service: vec![ServiceDescriptorProto {
                name: Some("Generator".into()),
                method: vec![method("Generate"), method("GenerateStream")],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let (addr, exporter) = start_with(|b| {
        b.allowed_models(["toy"])
            .operations([inferwatch::operation::TEXT_COMPLETION])
            .grpc_descriptors([generator.as_slice(), tonic_health::pb::FILE_DESCRIPTOR_SET])
            .expect("descriptor sets")
    })
    .await;
    let requests = |route, model| [("route", route), ("gen_ai_request_model", model), ("outcome", "ok")];
    let check = "/grpc.health.v1.Health/Check";
    let s = scrape(&exporter);
    assert_eq!(s.try_get(REQUESTS, &requests(UNARY, "toy")), Some(0.0));
    assert_eq!(s.try_get(REQUESTS, &requests(STREAM, "toy")), Some(0.0));
    assert_eq!(s.try_get(REQUESTS, &requests(check, "")), Some(0.0));
    // Health checks name no model: no per-model series for them.
    assert_eq!(s.try_get(REQUESTS, &requests(check, "toy")), None);
    // Only the declared operation is created ahead of traffic.
    let ttft = "gen_ai_server_time_to_first_token_seconds_count";
    let op = |name| [("gen_ai_operation_name", name), ("gen_ai_request_model", "toy")];
    assert_eq!(s.try_get(ttft, &op("text_completion")), Some(0.0));
    assert_eq!(s.try_get(ttft, &op("chat")), None);

    let client = GeneratorClient::connect(addr).await;
    client.unary(UNARY, req("toy", 0, Code::Ok)).await.expect("ok");
    let s = scrape(&exporter);
    assert_eq!(s.get(REQUESTS, &requests(UNARY, "toy")), 1.0);
}
