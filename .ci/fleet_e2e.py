"""A fleet: two jobs of three replicas of the axum example each (one `job`, distinct `instance`s), scraped by one
real Prometheus with the shipped rules, each under the traffic generator spreading requests round-robin.

    python3 .ci/fleet_e2e.py --server target/debug/examples/axum_server --traffic target/debug/examples/traffic

fleet-thin: every replica fails a few percent of requests (the generator asks for 5 % server errors). The fleet's
availability burn-rate alert fires, once, for the job; no replica stands out from the others, so the per-replica
outlier alert never fires: the cause is fleet-wide. fleet-hard: one replica fails every request (--fail-rate 1),
the others none. The fleet's alert fires, and InferwatchInstanceErrorsOutlier names that replica, and only it.
In both, the requests Prometheus counts, summed over the replicas and per replica, equal the generator's totals.
"""

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import traffic_summary
from faults import free_port, wait_for
from promql import alerts, query
from checks import check

RULES = Path(__file__).resolve().parent.parent / "examples/observability/rules/inferwatch.rules.yml"
BURN = "InferwatchAvailabilityBurnRate"
OUTLIER = "InferwatchInstanceErrorsOutlier"
# The shipped rules: recording every 30 s, the fast page after 2 minutes: firing within about 3 minutes.
TRAFFIC_S = 220
JOBS = {
    "fleet-thin": {"fail_rates": [0.0, 0.0, 0.0], "server_error_rate": 0.05},
    "fleet-hard": {"fail_rates": [1.0, 0.0, 0.0], "server_error_rate": 0.0},
}


def watch(prometheus: str, seen: dict) -> None:
    """Adds the alerts now pending or firing to `seen`, by alert, job and instance; firing is never overwritten."""
    for alert in alerts(prometheus):
        labels = alert["labels"]
        key = (labels["alertname"], labels.get("job"), labels.get("instance"))
        if alert["state"] == "firing" or key not in seen:
            seen[key] = alert["state"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="the axum example's binary")
    parser.add_argument("--traffic", required=True, help="the traffic generator's binary")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleet-"))
    processes = []
    try:
        replicas = {}
        for job, spec in JOBS.items():
            replicas[job] = []
            for i, fail_rate in enumerate(spec["fail_rates"]):
                addr = f"127.0.0.1:{free_port()}"
                log = open(work / f"{job}-{i}.log", "w")
                command = [args.server, "--addr", addr, "--token-delay-ms", "2", "--fail-rate", str(fail_rate)]
                processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
                replicas[job].append(addr)
        for addrs in replicas.values():
            for addr in addrs:
                wait_for(f"http://{addr}/livez")
        prom_port = free_port()
        prometheus = f"http://127.0.0.1:{prom_port}"
        scrape = "\n".join(
            f"  - job_name: {job}\n    static_configs: [{{targets: {json.dumps(addrs)}}}]"
            for job, addrs in replicas.items()
        )
        (work / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: [{json.dumps(str(RULES))}]\nscrape_configs:\n{scrape}\n"
        )
        processes.append(
            subprocess.Popen(
                ["prometheus", f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                stdout=open(work / "prometheus.log", "w"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_for(f"{prometheus}/-/ready")
        time.sleep(3)  # the first scrapes: every series at its value before the traffic
        before = {
            (r["metric"]["job"], r["metric"]["instance"]): float(r["value"][1])
            for r in query(prometheus, 'sum by (job, instance) (inferwatch_requests_total{route=~"/v1/.*"})')
        }
        generators = {}
        for job, spec in JOBS.items():
            urls = ",".join(f"http://{a}" for a in replicas[job])
            command = [args.traffic, "--url", urls, "--duration-s", str(TRAFFIC_S), "--concurrency", "3",
                       "--server-error-rate", str(spec["server_error_rate"])]
            generators[job] = subprocess.Popen(
                command, stdout=open(work / f"{job}.summary", "w"), stderr=open(work / f"{job}.progress", "w")
            )

        # Every alert state seen while the traffic runs, by alert, job and instance.
        seen = {}
        while any(g.poll() is None for g in generators.values()):
            watch(prometheus, seen)
            time.sleep(5)
        check(all(g.returncode == 0 for g in generators.values()), {j: g.returncode for j, g in generators.items()})
        time.sleep(3)  # the last scrapes
        watch(prometheus, seen)
        print("alerts seen:", {f"{a} {j} {i or ''}".strip(): s for (a, j, i), s in sorted(seen.items(), key=str)})

        ratios = {
            (r["metric"]["job"], r["metric"]["instance"]): float(r["value"][1])
            for r in query(prometheus, "job_instance:inferwatch_availability_errors:ratio_rate5m")
        }
        fleet = {
            r["metric"]["job"]: float(r["value"][1])
            for r in query(prometheus, "job:inferwatch_availability_errors:ratio_rate5m")
        }
        for job in JOBS:
            each = ", ".join(f"{ratios.get((job, a), float('nan')):.3f}" for a in replicas[job])
            print(f"{job}: server-error ratio of the fleet {fleet.get(job, float('nan')):.3f}, of each replica {each}")

        # Thin errors: the fleet pages, for the job and not per replica; no replica stands out.
        check(seen.get((BURN, "fleet-thin", None)) == "firing", seen)
        # Pending is not an alert: a replica may look apart for a moment; for 2 minutes it must not.
        check(not [k for k, state in seen.items() if k[0] == OUTLIER and k[1] == "fleet-thin" and state == "firing"], seen)
        check(not [k for k in seen if k[0] == BURN and k[2] is not None], "burn-rate alerts are per job")
        # One bad replica: the fleet pages, and the outlier alert names that replica alone.
        bad = replicas["fleet-hard"][0]
        check(seen.get((BURN, "fleet-hard", None)) == "firing", seen)
        named = sorted(k[2] for k, state in seen.items() if k[0] == OUTLIER and state == "firing")
        check(named == [bad], (named, bad))

        for job in JOBS:
            summary = traffic_summary.read(str(work / f"{job}.summary"))
            per_replica = traffic_summary.replicas(str(work / f"{job}.summary"))
            counted = {
                r["metric"]["instance"]: float(r["value"][1]) - before.get((job, r["metric"]["instance"]), 0)
                for r in query(prometheus, f'sum by (instance) (inferwatch_requests_total{{job="{job}",route=~"/v1/.*"}})')
            }
            total = sum(counted.values())
            errors = query(prometheus, f'sum(inferwatch_requests_total{{job="{job}",outcome="server_error"}})')
            errors = float(errors[0]["value"][1]) if errors else 0.0
            print(
                f"{job}: generator sent {summary.sent} ({dict(summary.outcomes)}), per replica {per_replica}; "
                f"Prometheus counts {total:.0f}, per replica {({k: int(v) for k, v in counted.items()})}, "
                f"{errors:.0f} server errors"
            )
            check(total == summary.sent, (job, total, summary.sent))
            check(counted == {a: float(n) for a, n in per_replica.items()}, (job, counted, per_replica))
            check(errors == summary.outcomes.get("server_error", 0), (job, errors, summary.outcomes))
        print("fleet: sums over replicas equal the generator's totals; the alerts judge the fleet and name the bad replica")
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
