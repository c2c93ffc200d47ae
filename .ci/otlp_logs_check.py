"""Reads rotel's detailed debug log (`--debug-log traces --debug-log logs`) after the axum example exported to it,
and checks the OTLP log records: the requests' summary lines arrived, each with the trace id and span id of its
request's span (which arrived too), and no prompt text anywhere.

With `--unsampled` (the example ran with `OTEL_TRACES_SAMPLER=always_off`) no request span may arrive, and every
summary record must still carry its request's trace and span ids, distinct per request.

    python3 .ci/otlp_logs_check.py COLLECTOR_LOG --prompt "traced request" --requests 5
    python3 .ci/otlp_logs_check.py COLLECTOR_LOG --prompt "untraced request" --unsampled --requests 3
"""

import argparse
import re

from checks import check


def records(text: str) -> list:
    """Each LogRecord block as (body, attributes, trace id, span id)."""
    found = []
    for block in re.split(r"\nLogRecord #\d+\n", text)[1:]:
        block = re.split(r"\n(?:ResourceSpans|ResourceLogs|ScopeLogs|ScopeSpans) #", block)[0]
        body = re.search(r"Body: Str\((.*)\)", block)
        trace = re.search(r"Trace ID\s*: ([0-9a-f]{32})", block)
        span = re.search(r"Span ID\s*: ([0-9a-f]{16})", block)
        attributes = dict(re.findall(r"-> (\w+): \w+\((.*)\)", block))
        found.append((body[1] if body else "", attributes, trace[1] if trace else "", span[1] if span else ""))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log")
    parser.add_argument("--prompt", required=True, help="text that was sent as a prompt and must appear nowhere")
    parser.add_argument("--unsampled", action="store_true", help="no span was sampled: none may have arrived")
    parser.add_argument("--requests", type=int, required=True,
                        help="requests to /v1/completions the example served: one summary each, each its own trace")
    args = parser.parse_args()
    text = open(args.log, errors="replace").read()
    summaries = [r for r in records(text) if r[0] == "request finished" and r[1].get("route") == "/v1/completions"]
    check(summaries, "no 'request finished' log record for /v1/completions reached the collector")
    # Exported spans print "    ID             : <span id>" (log records print "Span ID").
    span_ids = set(re.findall(r"\n {4}ID\s*: ([0-9a-f]{16})\b", text))
    for body, attributes, trace, span in summaries:
        check(trace and span, ("a record without trace context", attributes))
        check((attributes.get("trace_id"), attributes.get("span_id")) == (trace, span), (attributes, trace, span))
        if args.unsampled:
            check(span not in span_ids, f"span {span} of an unsampled request was exported")
        else:
            check(span in span_ids, f"span {span} of a log record was not exported")
    if args.unsampled:
        check(not re.search(r"Name *: POST /v1/completions", text), "a request span was exported without sampling")
    check(args.requests > 0, "--requests: at least one request, or there is nothing to check")
    check(len(summaries) == args.requests, f"{len(summaries)} request summaries for {args.requests} requests")
    traces = {trace for _, _, trace, _ in summaries}
    check(len(traces) == args.requests, f"{len(traces)} distinct traces for {args.requests} requests")
    check(args.prompt not in text, "prompt text reached the collector")
    print(f"collector received {len(records(text))} log records, {len(summaries)} request summaries, each with its "
          f"request's trace and span ids; no prompt text")


if __name__ == "__main__":
    main()
