"""Writes examples/observability/rules/anomalies.rules.test.yml: promtool tests of the anomaly and drift alerts of
inferwatch.rules.yml, over two days of generated traffic (the series a daily rhythm needs are too long to write by
hand).

    python3 scripts/anomaly_rule_tests.py > examples/observability/rules/anomalies.rules.test.yml

Jobs: "step" runs steady (10 req/s, 1 % errors, fast first tokens, with noise) and at 36 h triples its rate, its
errors jump to 10 % and its first tokens slow down: every anomaly alert fires. "daily" follows a day-night sine
between 2 and 18 req/s and "quiet" drops to 0.2 req/s every night: neither fires, at any hour.
"""

import math
import random

STEP_MIN = 2  # minutes between samples
DAYS = 2
STEP_AT = 36 * 60  # minutes
POINTS = DAYS * 24 * 60 // STEP_MIN

RUNBOOK = "https://github.com/inferwatch/inferwatch/blob/main/docs/RUNBOOK.md#"


def rates(job: str, minute: int, rng: random.Random) -> tuple:
    """(requests a second, server-error share, share of first tokens within 0.25 s, within 1 s)."""
    noise = 1 + rng.uniform(-0.03, 0.03)
    if job == "step":
        stepped = minute >= STEP_AT
        return (30 if stepped else 10) * noise, (0.10 if stepped else 0.01) * noise, 0.40 if stepped else 0.97, 0.60 if stepped else 0.995
    day = math.sin(2 * math.pi * minute / (24 * 60))
    if job == "daily":
        return (10 + 8 * day) * noise, 0.01 * noise, 0.97, 0.995
    # quiet: busy days, nights near zero
    return (12 if day > 0 else 0.2) * noise, 0.01 * noise, 0.97, 0.995


def series() -> list:
    out = []
    for job in ("step", "daily", "quiet"):
        rng = random.Random(job)
        ok = errors = fast = medium = total = 0.0
        values = {k: [] for k in ("ok", "err", "fast", "medium", "all")}
        for i in range(POINTS + 1):
            for key, value in (("ok", ok), ("err", errors), ("fast", fast), ("medium", medium), ("all", total)):
                values[key].append(round(value))
            rate, error_share, within_fast, within_medium = rates(job, i * STEP_MIN, rng)
            n = rate * STEP_MIN * 60
            ok += n * (1 - error_share)
            errors += n * error_share
            total += n
            fast += n * within_fast
            medium += n * within_medium
        base = f'job="{job}",instance="a:8080"'
        out.append((f'inferwatch_requests_total{{{base},outcome="ok"}}', values["ok"]))
        out.append((f'inferwatch_requests_total{{{base},outcome="server_error"}}', values["err"]))
        ttft = "gen_ai_server_time_to_first_token_seconds"
        out.append((f'{ttft}_bucket{{{base},le="0.25"}}', values["fast"]))
        out.append((f'{ttft}_bucket{{{base},le="1"}}', values["medium"]))
        out.append((f'{ttft}_bucket{{{base},le="+Inf"}}', values["all"]))
        out.append((f'{ttft}_count{{{base}}}', values["all"]))
    return out


def alert(name: str, job: str, summary: str, description: str) -> str:
    return (
        f"          - exp_labels: {{severity: ticket, job: {job}}}\n"
        f"            exp_annotations:\n"
        f"              summary: '{job}: {summary} unlike the last day'\n"
        f"              description: '{description}'\n"
        f"              runbook_url: '{RUNBOOK}{name.lower()}'\n"
    )


def main() -> None:
    print(__doc__.strip().replace("\n", "\n# ").join(["# ", ""]))
    print("rule_files:\n  - inferwatch.rules.yml\n\nevaluation_interval: 2m\n\ntests:")
    print(f"  - interval: {STEP_MIN}m\n    input_series:")
    for name, values in series():
        print(f"      - series: '{name}'\n        values: '{' '.join(map(str, values))}'")
    print("    alert_rule_test:")
    what = {
        "InferwatchTrafficAnomaly": "request rate",
        "InferwatchErrorRatioAnomaly": "server-error ratio",
        "InferwatchTimeToFirstTokenAnomaly": "p95 time to first token",
    }
    # Every hour of the second day for the rhythms; before and after the step for "step".
    for name, summary in what.items():
        description = (
            f"The {summary} has been more than 3 standard deviations from its mean over the last day, and far from it, "
            "for 15 minutes, with at least 1 requests a second: a change, not the daily rhythm."
        )
        # Two to three hours after the step, the step itself has widened the day's spread enough for z to fall
        # back through 3: those hours are left out rather than guessed.
        for hour in (h for h in range(25, 48) if h not in (38, 39)):
            minute = hour * 60
            firing = [alert(name, "step", summary, description)] if STEP_AT + 20 <= minute <= STEP_AT + 60 else []
            print(f"      - eval_time: {minute}m\n        alertname: {name}")
            print("        exp_alerts:" + (" []" if not firing else "\n" + "".join(firing).rstrip("\n")))
        print(f"      - eval_time: {STEP_AT + 30}m\n        alertname: {name}")
        print("        exp_alerts:\n" + alert(name, "step", summary, description).rstrip("\n"))


if __name__ == "__main__":
    main()
