"""Checks the tonic example's exposition against what the traffic generator says it sent with --grpc: every call
counted once, errors in the same classes, hung-up streams as cancelled or ok.

    python3 .ci/grpc_traffic_check.py --metrics http://127.0.0.1:9464/metrics --summary traffic-summary.txt
"""

import argparse
import re
import urllib.request
from collections import Counter

import traffic_summary
from checks import check

SAMPLE = re.compile(r"^(\w+)\{(.*)\} (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
# The methods the generator calls, as the route label carries them.
ROUTES = {"/inference.GRPCInferenceService/ModelInfer", "/inference.GRPCInferenceService/ModelStreamInfer"}


def samples(text: str, name: str) -> list:
    out = []
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m.group(1) == name:
            out.append((dict(LABEL.findall(m.group(2))), float(m.group(3))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--summary", required=True, help="the traffic generator's closing summary")
    args = parser.parse_args()
    sent, sent_by, received = traffic_summary.read(args.summary)
    with urllib.request.urlopen(args.metrics) as response:
        text = response.read().decode()

    seen = Counter()
    for labels, value in samples(text, "inferwatch_requests_total"):
        if labels["route"] in ROUTES:
            seen[labels["outcome"]] += value
    print(f"generator: {dict(sent_by)}; server: {dict(seen)}")
    check(sum(seen.values()) == sent, (seen, sent))
    check(seen["server_error"] == sent_by["server_error"] > 0, (seen, sent_by))
    check(seen["client_error"] == sent_by["client_error"] > 0, (seen, sent_by))
    check(seen["ok"] + seen["cancelled"] == sent_by["ok"] + sent_by["hung_up"], (seen, sent_by))
    check(seen["cancelled"] > 0, seen)

    calls = sum(v for labels, v in samples(text, "rpc_server_call_duration_seconds_count")
                if "/" + labels["rpc_method"] in ROUTES)
    check(calls == sent, (calls, sent))
    models = {labels["gen_ai_request_model"] for labels, _ in samples(text, "inferwatch_tokens_total")}
    check(models == {"toy", "toy-large"}, models)
    output = sum(v for labels, v in samples(text, "inferwatch_tokens_total") if labels["gen_ai_token_type"] == "output")
    # The server also counts the tokens it sent to clients that hung up; the generator counts none of those.
    check(output >= received > 0, (output, received))
    ttft = sum(v for _, v in samples(text, "gen_ai_server_time_to_first_token_seconds_count"))
    check(ttft > 0, ttft)
    print(f"server counted {sent} calls, {output:.0f} output tokens ({received} read to the end by the generator)")


if __name__ == "__main__":
    main()
