//! The layer on a real axum router, served on loopback, observed through its parsed exposition.

mod support;

use std::time::Duration;

use http_body_util::BodyExt;
use support::app::routes;
use support::{client, eventually, get, isolated_layer, scrape, send, serve};
use tower::ServiceBuilder;

const REQUESTS: &str = "inferwatch_requests_total";
const IN_FLIGHT: &str = "inferwatch_requests_in_flight";
const HTTP_DURATION: &str = "http_server_request_duration_seconds";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_each_outcome_by_route() {
    let (layer, exporter) = isolated_layer(|b| b);
    let addr = serve(routes().layer(ServiceBuilder::new().layer(layer))).await;
    let c = client();
    for _ in 0..3 {
        assert_eq!(get(&c, addr, "/ok").await.status, 200);
    }
    assert_eq!(get(&c, addr, "/client-error").await.status, 400);
    assert_eq!(get(&c, addr, "/server-error").await.status, 503);
    assert_eq!(get(&c, addr, "/server-error").await.status, 503);
    assert_eq!(get(&c, addr, "/no/such/route").await.status, 404);
    assert_eq!(get(&c, addr, "/empty").await.status, 204);

    let s = scrape(&exporter);
    assert_eq!(
        s.get(
            REQUESTS,
            &[("route", "/ok"), ("outcome", "ok"), ("gen_ai_request_model", "")]
        ),
        3.0
    );
    assert_eq!(
        s.get(REQUESTS, &[("route", "/client-error"), ("outcome", "client_error")]),
        1.0
    );
    assert_eq!(
        s.get(REQUESTS, &[("route", "/server-error"), ("outcome", "server_error")]),
        2.0
    );
    assert_eq!(
        s.get(REQUESTS, &[("route", "_OTHER"), ("outcome", "client_error")]),
        1.0
    );
    assert_eq!(s.get(REQUESTS, &[("route", "/empty"), ("outcome", "ok")]), 1.0);
    assert_eq!(s.sum(REQUESTS, &[]), 8.0);
    let ok = [
        ("http_request_method", "GET"),
        ("http_route", "/ok"),
        ("http_response_status_code", "200"),
    ];
    assert_eq!(s.get(&format!("{HTTP_DURATION}_count"), &ok), 3.0);
    let unavailable = [("http_route", "/server-error"), ("http_response_status_code", "503")];
    assert_eq!(s.get(&format!("{HTTP_DURATION}_count"), &unavailable), 2.0);
    assert_eq!(s.sum(IN_FLIGHT, &[]), 0.0);
    // Requests that named no model and reported no tokens are not inference requests.
    assert_eq!(s.series("gen_ai_server_request_duration_seconds_count"), 0);
    assert_eq!(
        s.get("inferwatch_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    assert_eq!(s.types[HTTP_DURATION], "histogram");
    assert!(s.help.contains_key(REQUESTS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_duration_ttft_and_tpot_follow_the_body() {
    let (layer, exporter) = isolated_layer(|b| b);
    let addr = serve(routes().layer(layer)).await;
    // First token after 150 ms, then 4 more 40 ms apart: ≥ 310 ms in all, TTFT ≥ 150 ms, TPOT ≥ 40 ms.
    let r = get(&client(), addr, "/stream?tokens=5&first_delay_ms=150&delay_ms=40").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        (0..5).map(|i| format!("data: token{i}\n\n")).collect::<String>()
    );

    let s = scrape(&exporter);
    let route = [("http_route", "/stream")];
    assert_eq!(s.get(&format!("{HTTP_DURATION}_count"), &route), 1.0);
    let total = s.get(&format!("{HTTP_DURATION}_sum"), &route);
    assert!(
        (0.31..1.5).contains(&total),
        "duration {total} must include the last frame"
    );
    // The duration histogram puts it above the 0.25 s bucket: the headers alone took far less.
    assert_eq!(
        s.get(
            &format!("{HTTP_DURATION}_bucket"),
            &[("http_route", "/stream"), ("le", "0.25")]
        ),
        0.0
    );

    let model = [
        ("gen_ai_request_model", "toy"),
        ("gen_ai_operation_name", "text_completion"),
    ];
    let ttft = "gen_ai_server_time_to_first_token_seconds";
    assert_eq!(s.get(&format!("{ttft}_count"), &model), 1.0);
    let first = s.get(&format!("{ttft}_sum"), &model);
    assert!((0.15..0.6).contains(&first), "ttft {first}");
    let tpot = "gen_ai_server_time_per_output_token_seconds";
    assert_eq!(s.get(&format!("{tpot}_count"), &model), 1.0);
    let per_token = s.get(&format!("{tpot}_sum"), &model);
    assert!((0.04..0.3).contains(&per_token), "tpot {per_token}");
    let genai = [("gen_ai_request_model", "toy"), ("error_type", "")];
    assert_eq!(s.get("gen_ai_server_request_duration_seconds_count", &genai), 1.0);
    let tokens = "inferwatch_tokens_total";
    assert_eq!(
        s.get(
            tokens,
            &[("gen_ai_request_model", "toy"), ("gen_ai_token_type", "input")]
        ),
        7.0
    );
    assert_eq!(
        s.get(
            tokens,
            &[("gen_ai_request_model", "toy"), ("gen_ai_token_type", "output")]
        ),
        5.0
    );
    let per_request = [
        ("gen_ai_request_model", "toy"),
        ("gen_ai_token_type", "output"),
        ("le", "4"),
    ];
    assert_eq!(s.get("inferwatch_request_tokens_bucket", &per_request), 0.0);
    let per_request = [
        ("gen_ai_request_model", "toy"),
        ("gen_ai_token_type", "output"),
        ("le", "16"),
    ];
    assert_eq!(s.get("inferwatch_request_tokens_bucket", &per_request), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_first_token_mark_wins_over_the_first_frame() {
    let (layer, exporter) = isolated_layer(|b| b);
    let addr = serve(routes().layer(layer)).await;
    // Marked at 100 ms, first frame at 200 ms.
    get(
        &client(),
        addr,
        "/stream?tokens=2&first_delay_ms=200&delay_ms=10&mark=true",
    )
    .await;
    let s = scrape(&exporter);
    let ttft = s.get(
        "gen_ai_server_time_to_first_token_seconds_sum",
        &[("gen_ai_request_model", "toy")],
    );
    assert!(
        (0.1..0.19).contains(&ttft),
        "ttft {ttft} should be the mark, not the frame"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_hanging_up_mid_stream_is_cancelled_and_leaves_nothing_in_flight() {
    let (layer, exporter) = isolated_layer(|b| b);
    let addr = serve(routes().layer(layer)).await;
    let request = http::Request::get(format!("http://{addr}/stream?tokens=200&first_delay_ms=0&delay_ms=20"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let response = client().request(request).await.expect("response");
    let mut body = response.into_body();
    for _ in 0..2 {
        body.frame().await.expect("a frame").expect("no error");
    }
    assert_eq!(scrape(&exporter).get(IN_FLIGHT, &[("route", "/stream")]), 1.0);
    drop(body);

    let settled = eventually(Duration::from_secs(5), || {
        scrape(&exporter).get(IN_FLIGHT, &[("route", "/stream")]) == 0.0
    })
    .await;
    assert!(settled, "in-flight must return to 0 after the client hangs up");
    let s = scrape(&exporter);
    assert_eq!(s.get(REQUESTS, &[("route", "/stream"), ("outcome", "cancelled")]), 1.0);
    assert_eq!(s.sum(REQUESTS, &[("route", "/stream")]), 1.0);
    let genai = [("gen_ai_request_model", "toy"), ("error_type", "cancelled")];
    assert_eq!(s.get("gen_ai_server_request_duration_seconds_count", &genai), 1.0);
    // The tokens produced before the hang-up are counted: at least the two frames read.
    let output = s.get("inferwatch_tokens_total", &[("gen_ai_token_type", "output")]);
    assert!((2.0..200.0).contains(&output), "output tokens {output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_leaves_nothing_in_flight() {
    let (layer, exporter) = isolated_layer(|b| b);
    let addr = serve(routes().layer(layer)).await;
    let request = http::Request::get(format!("http://{addr}/panic"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    assert!(
        client().request(request).await.is_err(),
        "the connection dies with the panicking task"
    );
    // The client can see the connection close before the unwinding task has finished recording.
    let duration_count = format!("{HTTP_DURATION}_count");
    let recorded = eventually(Duration::from_secs(5), || {
        scrape(&exporter).try_get(&duration_count, &[("http_route", "/panic")]) == Some(1.0)
    })
    .await;
    assert!(recorded, "the panicked request is recorded");
    let s = scrape(&exporter);
    assert_eq!(s.get(IN_FLIGHT, &[("route", "/panic")]), 0.0);
    assert_eq!(
        s.get(REQUESTS, &[("route", "/panic"), ("outcome", "server_error")]),
        1.0
    );
    assert_eq!(
        s.get(
            &format!("{HTTP_DURATION}_count"),
            &[("http_route", "/panic"), ("http_response_status_code", "")]
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_usage_from_response_extensions() {
    let (layer, exporter) = isolated_layer(|b| b.default_operation("chat"));
    let addr = serve(routes().layer(layer)).await;
    get(&client(), addr, "/usage").await;
    let s = scrape(&exporter);
    let m = ("gen_ai_request_model", "ext-model");
    assert_eq!(
        s.get("inferwatch_tokens_total", &[m, ("gen_ai_token_type", "input")]),
        11.0
    );
    assert_eq!(
        s.get("inferwatch_tokens_total", &[m, ("gen_ai_token_type", "output")]),
        13.0
    );
    assert_eq!(
        s.get(
            "gen_ai_server_request_duration_seconds_count",
            &[m, ("gen_ai_operation_name", "chat")]
        ),
        1.0
    );
    // A single JSON body is not a stream: no time to first token without a mark.
    assert_eq!(s.series("gen_ai_server_time_to_first_token_seconds_count"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_distinct_paths_and_models_stay_bounded() {
    let (layer, exporter) = isolated_layer(|b| b);
    let addr = serve(routes().layer(layer)).await;
    let c = client();
    support::run_concurrently(10_000, 16, |i| {
        let c = c.clone();
        async move {
            let r = get(&c, addr, &format!("/unmatched/{i}")).await;
            assert_eq!(r.status, 404);
            let model = format!("model-{i}");
            let r = send(&c, addr, "GET", "/model", &[("x-model", &model)], "").await;
            assert_eq!(r.status, 200);
        }
    })
    .await;
    // Invalid names: not UTF-8, empty, too long.
    let c2 = client();
    let long = "m".repeat(129);
    for bad in ["", long.as_str()] {
        send(&c2, addr, "GET", "/model", &[("x-model", bad)], "").await;
    }
    let request = http::Request::get(format!("http://{addr}/model"))
        .header(
            "x-model",
            http::HeaderValue::from_bytes(&[0xff, 0xfe, b'a']).expect("opaque header"),
        )
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    assert_eq!(c2.request(request).await.expect("response").status(), 200);

    // Then a real model's steady traffic: the flood took only the first-come half of the 32 places, and the
    // eighth request of a model that keeps coming gets it a label of its own.
    for n in 1..=20 {
        let r = send(&c2, addr, "GET", "/model", &[("x-model", "llama-3-8b")], "").await;
        assert_eq!(r.status, 200, "request {n}");
    }

    let s = scrape(&exporter);
    assert_eq!(s.sum(REQUESTS, &[]), 20_023.0);
    let routes = s.label_values(REQUESTS, "route");
    assert_eq!(routes.into_iter().collect::<Vec<_>>(), ["/model", "_OTHER"]);
    let models = s.label_values(REQUESTS, "gen_ai_request_model");
    assert_eq!(
        models.len(),
        16 + 1 + 2,
        "16 first come, llama-3-8b, _OTHER, and empty for the 404s"
    );
    assert!(models.contains("_OTHER") && models.contains(""));
    let model = |m| [("route", "/model"), ("gen_ai_request_model", m)];
    assert_eq!(
        s.get(REQUESTS, &model("llama-3-8b")),
        13.0,
        "from its eighth request on"
    );
    assert_eq!(s.get(REQUESTS, &model("_OTHER")), 10_000.0 - 16.0 + 3.0 + 7.0);
    assert_eq!(s.series(REQUESTS), 16 + 1 + 1 + 1);
    assert_eq!(s.series("inferwatch_tokens_total"), (16 + 1 + 1) * 2);
    assert_eq!(s.series(IN_FLIGHT), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_identical_with_and_without_the_layer() {
    let (layer, _exporter) = isolated_layer(|b| b);
    let plain = serve(routes()).await;
    let wrapped = serve(routes().layer(layer)).await;
    let cases: &[(&str, &str, &str)] = &[
        ("GET", "/ok", ""),
        ("POST", "/json", "{\"prompt\":\"hello\"}"),
        ("GET", "/client-error", ""),
        ("GET", "/server-error", ""),
        ("GET", "/empty", ""),
        ("GET", "/nowhere", ""),
        ("GET", "/stream?tokens=4&first_delay_ms=5&delay_ms=5", ""),
        ("GET", "/usage", ""),
        ("GET", "/trailers", ""),
    ];
    for c in [support::client(), support::h2_client()] {
        for (method, path, body) in cases {
            let a = send(&c, plain, method, path, &[("te", "trailers")], body).await;
            let b = send(&c, wrapped, method, path, &[("te", "trailers")], body).await;
            let strip = |mut h: http::HeaderMap| {
                h.remove("date");
                h
            };
            assert_eq!(a.status, b.status, "{path}");
            assert_eq!(strip(a.headers), strip(b.headers), "{path}");
            assert_eq!(a.body, b.body, "{path}");
            assert_eq!(a.trailers, b.trailers, "{path}");
        }
    }
    let h2 = send(&support::h2_client(), wrapped, "GET", "/trailers", &[], "").await;
    assert_eq!(h2.trailers.expect("trailers over HTTP/2")["x-checksum"], "abc123");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_of_known_labels_exist_at_zero_before_the_first_request() {
    let (layer, exporter) = isolated_layer(|b| b.allowed_models(["toy", "other"]).http_routes(["/stream"]));
    let s = scrape(&exporter);
    let requests = |model, outcome| {
        [
            ("route", "/stream"),
            ("gen_ai_request_model", model),
            ("outcome", outcome),
        ]
    };
    for model in ["toy", "other", ""] {
        for outcome in ["ok", "client_error", "server_error", "cancelled"] {
            assert_eq!(
                s.try_get("inferwatch_requests_total", &requests(model, outcome)),
                Some(0.0)
            );
        }
    }
    let op_model = [
        ("gen_ai_operation_name", "text_completion"),
        ("gen_ai_request_model", "toy"),
    ];
    assert_eq!(
        s.try_get("gen_ai_server_time_to_first_token_seconds_count", &op_model),
        Some(0.0)
    );
    // Without declared operations, every well-known one; embeddings have no tokens to time.
    let embeddings = [("gen_ai_operation_name", "embeddings"), ("gen_ai_request_model", "toy")];
    assert_eq!(
        s.try_get("gen_ai_server_request_duration_seconds_count", &embeddings),
        Some(0.0)
    );
    assert_eq!(
        s.try_get("gen_ai_server_time_to_first_token_seconds_count", &embeddings),
        None
    );
    let tokens = [("gen_ai_request_model", "other"), ("gen_ai_token_type", "output")];
    assert_eq!(s.try_get("inferwatch_tokens_total", &tokens), Some(0.0));
    assert_eq!(
        s.try_get("inferwatch_requests_in_flight", &[("route", "/stream")]),
        Some(0.0)
    );

    // The first requests then count from zero.
    let addr = serve(routes().layer(layer)).await;
    let http = client();
    for _ in 0..3 {
        let r = get(&http, addr, "/stream?tokens=2&first_delay_ms=1&delay_ms=1").await;
        assert_eq!(r.status, 200);
    }
    let s = scrape(&exporter);
    assert_eq!(s.get("inferwatch_requests_total", &requests("toy", "ok")), 3.0);
    assert_eq!(s.get("gen_ai_server_time_to_first_token_seconds_count", &op_model), 3.0);
    assert_eq!(
        s.get(
            "inferwatch_tokens_total",
            &[("gen_ai_request_model", "toy"), ("gen_ai_token_type", "output")]
        ),
        6.0
    );
}
