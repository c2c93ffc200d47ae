#!/usr/bin/env python3
"""Soak: the axum example under the traffic generator for a while, on loopback. Memory must stay flat and every
request must be counted exactly.

    cargo build --release --all-features --example axum_server --example traffic
    scripts/soak.py --duration-s 60                     # the long form (docs/OPERATIONS.md's figures)
    scripts/soak.py --build debug --duration-s 20       # the short form .ci/run runs

The generator mixes streamed and whole completions over two models with invalid requests, asked-for server
errors and clients that hang up mid-stream. The server's resident set size is sampled every 0.5 s; after the
warm-up (the first quarter of the run) its peak may exceed its value at the end of the warm-up by at most 10 %.
Afterwards the exposition must hold exactly the generator's counts: requests sent, server errors, client errors,
and ok + cancelled = ok + hung up (a hang-up after the last token can still finish as ok). Bounded by
--duration-s; exit status 1 on a failed check.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".ci"))
import traffic_summary  # noqa: E402
from cardinality import check, stop, value, value_or_zero  # noqa: E402


ROUTES = ("/v1/completions", "/v1/chat/completions")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", choices=["release", "debug"], default="release")
    parser.add_argument("--duration-s", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-growth", type=float, default=0.10, help="allowed RSS growth after the warm-up")
    args = parser.parse_args()
    target = os.path.join(os.path.dirname(__file__), "..", "target", args.build, "examples")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [os.path.join(target, "axum_server"), "--addr", f"127.0.0.1:{port}", "--token-delay-ms", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, RUST_LOG="warn"))
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/livez", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        samples = []
        done = threading.Event()

        def sample() -> None:
            start = time.monotonic()
            while not done.is_set():
                samples.append((time.monotonic() - start, rss_kib(server.pid)))
                done.wait(0.5)

        sampler = threading.Thread(target=sample)
        sampler.start()
        with tempfile.NamedTemporaryFile("w+", suffix=".txt") as summary:
            subprocess.run(
                [os.path.join(target, "traffic"), "--url", base, "--duration-s", str(args.duration_s),
                 "--concurrency", str(args.concurrency), "--server-error-rate", "0.05", "--invalid-rate", "0.05",
                 "--hangup-rate", "0.1"],
                stdout=summary, stderr=subprocess.DEVNULL, check=True, timeout=args.duration_s + 60)
            done.set()
            sampler.join()
            sent, outcomes, _ = traffic_summary.read(summary.name)
        time.sleep(0.5)
        text = urllib.request.urlopen(base + "/metrics").read().decode()

        warm = [kib for t, kib in samples if t >= args.duration_s / 4]
        baseline, peak, end = warm[0], max(warm), warm[-1]
        print(f"{sent} requests in {args.duration_s:.0f} s ({sent / args.duration_s:.0f}/s, {args.build} build): "
              f"{dict(outcomes)}")
        print(f"     RSS: {samples[0][1] / 1024:.1f} MiB at start, {baseline / 1024:.1f} MiB after the warm-up, "
              f"peak {peak / 1024:.1f} MiB, {end / 1024:.1f} MiB at the end ({len(samples)} samples)")
        growth = peak / baseline - 1
        check(growth <= args.max_growth, f"RSS grew {growth * 100:.1f} % after the warm-up "
                                         f"(at most {args.max_growth * 100:.0f} %)")
        def count(**labels) -> float:
            # Both routes must be there; an outcome one route never had reads as 0 (the metric itself must exist).
            if not labels:
                return sum(value(text, "inferwatch_requests_total", route=route) for route in ROUTES)
            return sum(value_or_zero(text, "inferwatch_requests_total", route=route, **labels) for route in ROUTES)

        counted = count()
        check(counted == sent, f"server counted {counted:.0f} requests, generator sent {sent}")
        for outcome in ("server_error", "client_error"):
            check(count(outcome=outcome) == outcomes[outcome],
                  f"{outcome}: server {count(outcome=outcome):.0f}, generator {outcomes[outcome]}")
        finished = count(outcome="ok") + count(outcome="cancelled")
        check(finished == outcomes["ok"] + outcomes["hung_up"],
              f"ok + cancelled: server {finished:.0f}, generator ok + hung up {outcomes['ok'] + outcomes['hung_up']}")
        check(value(text, "inferwatch_requests_in_flight") == 0, "nothing left in flight")
        stop(server)
    finally:
        if server.poll() is None:
            server.kill()


if __name__ == "__main__":
    main()
