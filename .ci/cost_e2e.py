"""Checks spend, queueing and engine state of the axum example after the traffic generator ran against it, through
the exposition and through a real Prometheus that scrapes it with the shipped rules.

    python3 .ci/cost_e2e.py spend --metrics URL --prometheus URL --summary FILE --dashboard FILE
    python3 .ci/cost_e2e.py overload --metrics URL --summary FILE

spend: the exposition's inferwatch_cost_total of each model is exactly the generator's own cost, computed from the
usage the server returned (same decimal string); Prometheus's view equals it within float printing; requests
waited in the queue (the generator ran above --max-batch) and none is waiting now; the engine reported its batches
and its cache; the dashboard's queue and cost panels have data.
overload: a burst far above --max-batch plus --queue-capacity got 429s, and every waiting request left the gauge.
"""

import argparse
import json
import re
import time
import urllib.request

from promql import query
from checks import check

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def exposition(url: str) -> list:
    """(name, labels, raw value) of every sample."""
    text = urllib.request.urlopen(url).read().decode()
    samples = []
    for line in text.splitlines():
        match = SERIES.match(line)
        if match and not line.startswith("#"):
            samples.append((match[1], dict(LABEL.findall(match[2] or "")), match[3]))
    return samples


def values(samples: list, name: str, **labels) -> list:
    return [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items())]


def total(samples: list, name: str, **labels) -> float:
    """The sum over the matching samples; none matching fails (a renamed series must not read as 0)."""
    found = values(samples, name, **labels)
    check(found, f"no series {name}{labels or ''} in the exposition")
    return sum(float(v) for v in found)


def summary_costs(path: str) -> dict:
    """{model or 'total': decimal string} from the generator's `cost <model> <currency> <amount>` lines."""
    costs = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 4 and parts[0] == "cost":
            costs[parts[1]] = parts[3]
    check("total" in costs, f"no cost lines in the generator's summary: {open(path).read()}")
    return costs


def outcomes(path: str) -> dict:
    found = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            found[parts[0]] = int(parts[1])
    return found


def spend(args) -> None:
    expected = summary_costs(args.summary)
    samples = exposition(args.metrics)
    for model, amount in expected.items():
        if model == "total":
            continue
        got = values(samples, "inferwatch_cost_total", gen_ai_request_model=model)
        check(got == [amount], f"{model}: exposition {got}, generator {amount}")
    print(f"exposition: inferwatch_cost_total equals the generator's cost exactly: {expected}")

    # Prometheus scrapes every second; wait for a scrape that saw the end of the traffic.
    deadline = time.time() + 15
    while True:
        result = query(args.prometheus, "sum(inferwatch_cost_total)")
        seen = float(result[0]["value"][1]) if result else None
        if seen is not None and abs(seen - float(expected["total"])) <= 1e-12 * max(1.0, seen):
            break
        check(time.time() < deadline, f"Prometheus sees {seen}, the generator computed {expected['total']}")
        time.sleep(0.5)
    print(f"Prometheus: sum(inferwatch_cost_total) = {seen!r} = {expected['total']}")

    waited = total(samples, "inferwatch_request_queue_duration_seconds_sum")
    scheduled = total(samples, "inferwatch_request_queue_duration_seconds_count")
    check(waited > 0 and scheduled > 0, (waited, scheduled))
    check(total(samples, "inferwatch_requests_waiting") == 0, values(samples, "inferwatch_requests_waiting"))
    batches = total(samples, "inferwatch_engine_batch_size_count")
    sequences = total(samples, "inferwatch_engine_batch_size_sum")
    check(batches > 0 and sequences / batches > 1, (batches, sequences))
    check(values(samples, "inferwatch_engine_kv_cache_usage_ratio", gen_ai_request_model="toy"), "no cache usage")
    print(f"queue: {scheduled:.0f} requests scheduled after {waited / scheduled * 1000:.1f} ms on average; "
          f"batches: {batches:.0f}, {sequences / batches:.2f} sequences each")

    # The recording rules run every 30 s.
    deadline = time.time() + 40
    while True:
        spend_rate = query(args.prometheus, "job:inferwatch_spend:rate1h")
        if spend_rate and float(spend_rate[0]["value"][1]) > 0:
            break
        check(time.time() < deadline, f"job:inferwatch_spend:rate1h is {spend_rate}")
        time.sleep(1)
    panels = json.load(open(args.dashboard))["panels"]
    shown = 0
    for panel in panels:
        for target in panel.get("targets", []):
            expr = target["expr"]
            promql = expr.replace("$job", ".*").replace("$instance", ".*").replace("$__rate_interval", "1m")
            result = query(args.prometheus, promql)
            gpu_only = "gpu" in expr or "energy" in expr
            if any(k in expr for k in ("cost", "queue", "waiting", "engine_")) and not gpu_only:
                check(result, f"no data for {expr}")
                shown += 1
    check(shown > 0, f"no queue or cost panel found in {args.dashboard}: nothing was checked")
    print(f"dashboard: {shown} queue and cost queries with data")


def overload(args) -> None:
    samples = exposition(args.metrics)
    refused = total(samples, "http_server_request_duration_seconds_count", http_response_status_code="429")
    check(refused > 0, "no 429 although the burst exceeded the queue")
    counted = outcomes(args.summary)
    check(counted.get("client_error", 0) >= refused, (counted, refused))
    check(total(samples, "inferwatch_requests_waiting") == 0, values(samples, "inferwatch_requests_waiting"))
    print(f"overload: {refused:.0f} requests refused with 429; the waiting gauge is back to 0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["spend", "overload"])
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--summary", required=True)
    parser.add_argument("--prometheus")
    parser.add_argument("--dashboard")
    args = parser.parse_args()
    spend(args) if args.mode == "spend" else overload(args)


if __name__ == "__main__":
    main()
