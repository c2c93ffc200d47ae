"""Queries a real Prometheus that scrapes the axum example, and checks that what it computes agrees with the
traffic sent.

    python3 .ci/prometheus_e2e.py first-burst --prometheus http://127.0.0.1:19090 --server http://127.0.0.1:18080
    python3 .ci/prometheus_e2e.py traffic --prometheus http://127.0.0.1:19090 --summary traffic-summary.txt --before 20

first-burst: right after start-up (one scrape taken), 20 streamed requests; `increase()` counts all of them and the
TTFT p95 is a number, because their series existed at zero before they came. traffic: after the traffic generator,
every request it sent counted once (plus the --before ones), in the same classes, and the recording rules healthy.
"""

import argparse
import json
import time
import urllib.request

import traffic_summary
from promql import query
from checks import check


def scalar(base: str, promql: str) -> float:
    result = query(base, promql)
    check(len(result) == 1, f"{promql}: {result}")
    return float(result[0]["value"][1])


def eventually(base: str, promql: str, timeout: float = 90.0) -> list:
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = query(base, promql)
        if result:
            return result
        time.sleep(2)
    raise AssertionError(f"no result for {promql} within {timeout} s")


BURST = 20
BURST_SERIES = 'inferwatch_requests_total{route="/v1/completions",gen_ai_request_model="toy",outcome="ok"}'


def first_burst(base: str, server: str) -> None:
    # The burst's series exist, at zero, in the first scrape: before any request.
    result = eventually(base, BURST_SERIES, timeout=30)
    check(float(result[0]["value"][1]) == 0, result)
    body = json.dumps({"model": "toy", "prompt": "first burst", "max_tokens": 4, "stream": True}).encode()
    for _ in range(BURST):
        request = urllib.request.Request(f"{server}/v1/completions", body, {"content-type": "application/json"})
        with urllib.request.urlopen(request) as response:
            check(b"data: [DONE]" in response.read(), "a stream ends with data: [DONE]")
    time.sleep(4)  # a few scrapes after the burst
    counted = scalar(base, f"sum(increase({BURST_SERIES}[1m]))")
    # increase() extrapolates to the window's end, so a little over the burst; a series born at 20 would give 0.
    check(BURST - 0.01 <= counted < BURST * 1.5, counted)
    ttft = scalar(
        base,
        'histogram_quantile(0.95, sum by (le) (rate(gen_ai_server_time_to_first_token_seconds_bucket{gen_ai_request_model="toy"}[1m])))',
    )
    check(0 < ttft < 5, ttft)
    print(f"prometheus: the first burst of {BURST} counted by increase() as {counted:.1f}, p95 TTFT {ttft * 1000:.0f} ms")


def traffic(base: str, summary: str, before: int) -> None:
    sent, outcomes, _ = traffic_summary.read(summary)
    print(f"generator sent {sent} requests: {outcomes}")

    # Every request the generator sent was counted once (hang-ups count as cancelled or ok, by timing).
    counted = scalar(base, 'sum(inferwatch_requests_total{route=~"/v1/.*"})') - before
    check(counted == sent, (counted, sent))
    server_errors = scalar(base, 'sum(inferwatch_requests_total{outcome="server_error"})')
    check(server_errors == outcomes.get("server_error", 0), (server_errors, outcomes))
    client_errors = scalar(base, 'sum(inferwatch_requests_total{outcome="client_error"})')
    check(client_errors == outcomes.get("client_error", 0), (client_errors, outcomes))

    rate = scalar(base, "sum(rate(inferwatch_requests_total[1m]))")
    check(rate > 0, rate)
    ratio = scalar(
        base,
        'sum(increase(inferwatch_requests_total{outcome="server_error"}[5m])) / sum(increase(inferwatch_requests_total[5m]))',
    )
    expected = server_errors / (counted + before)
    check(abs(ratio - expected) < 0.02, (ratio, expected))

    p95 = scalar(base, "histogram_quantile(0.95, sum by (le) (rate(gen_ai_server_request_duration_seconds_bucket[5m])))")
    ttft = scalar(base, "histogram_quantile(0.95, sum by (le) (rate(gen_ai_server_time_to_first_token_seconds_bucket[5m])))")
    check(0 < ttft <= p95 < 5, (ttft, p95))

    # The recording rules run every 30 s: an evaluation from before the traffic can stand for up to that long.
    deadline = time.time() + 40
    while True:
        value = float(eventually(base, "job:inferwatch_availability_errors:ratio_rate5m")[0]["value"][1])
        if abs(value - expected) < 0.05 or time.time() > deadline:
            break
        time.sleep(2)
    check(abs(value - expected) < 0.05, (value, expected))
    eventually(base, "job:inferwatch_ttft_errors:ratio_rate5m")
    rules = json.load(urllib.request.urlopen(f"{base}/api/v1/rules"))["data"]["groups"]
    unhealthy = [r["name"] for g in rules for r in g["rules"] if r.get("health") != "ok"]
    check(not unhealthy, unhealthy)
    print(
        f"prometheus: {counted:.0f} requests counted, {rate:.1f} req/s, server-error ratio {ratio:.3f} "
        f"(sent {expected:.3f}), p95 latency {p95 * 1000:.0f} ms, p95 TTFT {ttft * 1000:.0f} ms, "
        f"availability ratio_rate5m {value:.3f}, {sum(len(g['rules']) for g in rules)} rules healthy"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["first-burst", "traffic"])
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--server", help="first-burst: the example's base URL")
    parser.add_argument("--summary", help="traffic: the traffic generator's closing summary")
    parser.add_argument("--before", type=int, default=0, help="traffic: requests sent before the generator ran")
    args = parser.parse_args()
    if args.check == "first-burst":
        first_burst(args.prometheus, args.server)
    else:
        traffic(args.prometheus, args.summary, args.before)


if __name__ == "__main__":
    main()
