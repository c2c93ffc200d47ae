"""Drives the axum example with the traffic generator and asks a real Prometheus for the drift verdicts.

    python3 .ci/drift_e2e.py shift --server URL --prometheus URL --traffic PATH --baseline-out FILE
    python3 .ci/drift_e2e.py restarted --server URL --prometheus URL --traffic PATH

shift: the generator changes its prompts (longer, other languages) halfway. Before the change the PSI of input
tokens and of the language stays under 0.1 for every model; the window is then saved as a baseline document
(`GET /v1/drift/baseline`); after the change both rise above 0.25.
restarted: a server started with that baseline (no warm-up) gets the changed traffic from the start and reaches
the same verdict, its baseline labelled `source="file"`.
"""

import argparse
import json
import subprocess
import time
import urllib.error
import urllib.request

from promql import query
from checks import check

FEATURES = ("input_tokens", "language")


def model_values(base: str, expr: str) -> dict:
    """{model: value} of an instant query."""
    return {r["metric"].get("gen_ai_request_model", ""): float(r["value"][1]) for r in query(base, expr)}


def psi(base: str, feature: str) -> dict:
    return model_values(base, f'inferwatch_drift_psi{{feature="{feature}"}}')


def wait_for(what: str, condition, timeout: float = 20.0):
    deadline = time.time() + timeout
    while True:
        result = condition()
        if result:
            return result
        check(time.time() < deadline, f"{what}: not within {timeout} s")
        time.sleep(1)


def traffic(path: str, server: str, duration: float, shift_after: float) -> subprocess.Popen:
    return subprocess.Popen(
        [path, "--url", server, "--duration-s", str(duration), "--shift-after-s", str(shift_after),
         "--concurrency", "4", "--hangup-rate", "0", "--invalid-rate", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def drifted(base: str) -> dict:
    """{feature: {model: psi}} once every feature of every model with data is past 0.25, else None."""
    verdict = {f: psi(base, f) for f in FEATURES}
    if all(v and all(x > 0.25 for x in v.values()) for v in verdict.values()):
        return verdict
    return None


def shift(args) -> None:
    generator = traffic(args.traffic, args.server, 30, 15)
    time.sleep(13)
    before = {f: psi(args.prometheus, f) for f in FEATURES}
    observed = model_values(args.prometheus, 'inferwatch_drift_window_observations{feature="input_tokens"}')
    print(f"before the shift: PSI {before}; window observations of input tokens {observed}")
    for feature, by_model in before.items():
        check(by_model, f"no PSI of {feature} before the shift")
        check(all(v < 0.1 for v in by_model.values()), (feature, by_model))
    # The baseline route tells what clients send: operators only.
    url = f"{args.server}/v1/drift/baseline"
    for headers in ({}, {"authorization": "Bearer not-the-token"}):
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers))
            raise SystemExit(f"check failed: {url} answered without the operators' token ({headers})")
        except urllib.error.HTTPError as e:
            check(e.code == 401, f"{url} without the operators' token: {e.code}, expected 401")
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {args.operator_token}"})
    with urllib.request.urlopen(request) as response:
        document = response.read()
    series = json.loads(document)["series"]
    check({s["feature"] for s in series} >= set(FEATURES), series)
    open(args.baseline_out, "wb").write(document)
    print(f"baseline saved: {len(series)} series")
    check(generator.wait(timeout=60) == 0, "the traffic generator exited 0")
    after = wait_for("PSI above 0.25 after the shift", lambda: drifted(args.prometheus))
    print(f"after the shift: PSI {after}")


def restarted(args) -> None:
    generator = traffic(args.traffic, args.server, 12, 0)
    sources = wait_for(
        "baselines from the file",
        lambda: model_values(args.prometheus, 'inferwatch_drift_baseline_info{feature="input_tokens",source="file"}'),
    )
    check(generator.wait(timeout=60) == 0, "the traffic generator exited 0")
    after = wait_for("PSI above 0.25 against the saved baseline", lambda: drifted(args.prometheus))
    print(f"restarted with the saved baseline ({sorted(sources)}): PSI {after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["shift", "restarted"])
    parser.add_argument("--server", required=True)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--traffic", required=True)
    parser.add_argument("--baseline-out")
    parser.add_argument("--operator-token", required=True, help="the server's --operator-token")
    args = parser.parse_args()
    shift(args) if args.mode == "shift" else restarted(args)


if __name__ == "__main__":
    main()
