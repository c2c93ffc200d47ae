"""Asks a real Prometheus, which evaluates the example's experiment rules while the traffic generator runs,
whether the verdict is the expected one.

    python3 .ci/experiment_e2e.py --prometheus http://127.0.0.1:19090 --expect worse
    python3 .ci/experiment_e2e.py --prometheus http://127.0.0.1:19090 --expect equal

worse: the treatment fails more and is rated worse; the error and feedback regression alerts fire for the
treatment (and no alert names the control). equal: both variants have enough requests and ratings for a verdict,
their z statistics are computed and below 3, and no experiment alert is pending or firing.
"""

import argparse
import json
import time

import promql
from promql import query
from checks import check

WINDOW = "1m"
MIN_SAMPLES = 100


def by_variant(base: str, promql: str) -> dict:
    return {r["metric"].get("variant"): float(r["value"][1]) for r in query(base, promql)}


def alerts(base: str) -> list:
    return [a for a in promql.alerts(base) if a["labels"]["alertname"].startswith("InferwatchExperiment")]


def dashboard(base: str, path: str) -> None:
    """Every dashboard query parses and runs; the quality and experiment panels show data."""
    panels = json.load(open(path))["panels"]
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    shown = 0
    for expr in exprs:
        promql = expr.replace("$job", ".*").replace("$instance", ".*").replace("$__rate_interval", "1m")
        result = query(base, promql)
        model_half = ("inferwatch_experiment_", "inferwatch_quality_score", "inferwatch_feedback_total")
        if any(name in expr for name in model_half):
            check(result, f"no data for {expr}")
            shown += 1
    check(shown > 0, f"no quality or experiment panel found in {path}: nothing was checked")
    print(f"dashboard: {len(exprs)} queries run, {shown} quality and experiment queries with data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--expect", choices=["worse", "equal"], required=True)
    parser.add_argument("--dashboard", help="also run every query of this Grafana dashboard")
    args = parser.parse_args()
    base = args.prometheus
    if args.dashboard:
        dashboard(base, args.dashboard)
    requests = by_variant(base, f"experiment_variant:inferwatch_requests:{WINDOW}")
    feedback = by_variant(base, f"experiment_variant:inferwatch_feedback:{WINDOW}")
    print(f"requests in the window: {requests}; ratings: {feedback}")
    for variant in ("control", "treatment"):
        check(requests.get(variant, 0) >= MIN_SAMPLES, (variant, requests))
        check(feedback.get(variant, 0) >= MIN_SAMPLES, (variant, feedback))

    if args.expect == "worse":
        wanted = {"InferwatchExperimentErrorRegression", "InferwatchExperimentFeedbackRegression"}
        deadline = time.time() + 30
        while True:
            firing = [a for a in alerts(base) if a["state"] == "firing"]
            names = {a["labels"]["alertname"] for a in firing if a["labels"].get("variant") == "treatment"}
            if wanted <= names or time.time() > deadline:
                break
            time.sleep(1)
        check(wanted <= names, (wanted, firing))
        check(not [a for a in alerts(base) if a["labels"].get("variant") == "control"], alerts(base))
        z = by_variant(base, f"experiment_variant:inferwatch_error_z:{WINDOW}")
        zf = by_variant(base, f"experiment_variant:inferwatch_negative_feedback_z:{WINDOW}")
        print(f"firing for the treatment: {sorted(names)}; error z {z}, negative-feedback z {zf}")
    else:
        time.sleep(5)  # a few evaluations after the traffic
        zf = by_variant(base, f"experiment_variant:inferwatch_negative_feedback_z:{WINDOW}")
        check(set(zf) == {"treatment"} and abs(zf["treatment"]) < 3, zf)
        ratio = by_variant(base, f"experiment_variant:inferwatch_negative_feedback_ratio:{WINDOW}")
        pending = alerts(base)
        check(not pending, pending)
        print(f"equal variants: negative-feedback ratios {ratio}, z {zf}; no experiment alert pending or firing")


if __name__ == "__main__":
    main()
