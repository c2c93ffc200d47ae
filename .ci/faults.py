"""Faults on the real example servers, on loopback.

    python3 .ci/faults.py panic-http --server http://127.0.0.1:18080
    python3 .ci/faults.py panic-grpc --grpc 127.0.0.1:50051 --metrics http://127.0.0.1:9464
    python3 .ci/faults.py slow-client --binary target/debug/examples/axum_server
    python3 .ci/faults.py slow-client --binary target/debug/examples/tonic_server --grpc-server

panic-*: a handler that panics (`x-inferwatch-fault: panic`) counts one more server error for its route and model,
and leaves nothing in flight. slow-client: a client holding a partial request (an HTTP body one byte short, a gRPC
stream that never ends), seen in flight by the server, is waited for after SIGINT for --shutdown-timeout-s and no
longer: the server says it cut the connection, says it stopped, and exits 0.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from checks import check

FAULT = "x-inferwatch-fault"


def scrape(metrics: str) -> str:
    return urllib.request.urlopen(f"{metrics}/metrics").read().decode()


def sample_or_none(text: str, series: str):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def sample(text: str, series: str) -> float:
    """The value of `series`; a series that is not there is an error, never a 0."""
    value = sample_or_none(text, series)
    check(value is not None, f"no series {series} in the exposition")
    return value


def check_counted(metrics: str, before: str, route: str) -> None:
    errors = f'inferwatch_requests_total{{route="{route}",gen_ai_request_model="toy",outcome="server_error"}}'
    in_flight = f'inferwatch_requests_in_flight{{route="{route}"}}'
    # Before the first server error on the route its series does not exist yet: that, and only that, counts as 0.
    previous = sample_or_none(before, errors) or 0.0
    for _ in range(50):
        after = scrape(metrics)
        if sample_or_none(after, errors) == previous + 1:
            break
        time.sleep(0.1)
    check(sample(after, errors) == previous + 1, (previous, sample_or_none(after, errors)))
    check(sample(after, in_flight) == 0, sample(after, in_flight))
    print(f"panic on {route}: one more server error ({sample(after, errors):.0f}), nothing in flight")


def panic_http(server: str) -> None:
    before = scrape(server)
    body = json.dumps({"model": "toy", "prompt": "panic please", "max_tokens": 2}).encode()
    request = urllib.request.Request(f"{server}/v1/completions", body,
                                     {"content-type": "application/json", FAULT: "panic"})
    try:
        urllib.request.urlopen(request, timeout=10).read()
        raise SystemExit("check failed: a panicking handler answered")
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
        pass  # the connection is cut without a response
    check_counted(server, before, "/v1/completions")


def panic_grpc(grpc_addr: str, metrics: str) -> None:
    import numpy as np
    import tritonclient.grpc as triton
    from tritonclient.utils import InferenceServerException

    before = scrape(metrics)
    client = triton.InferenceServerClient(grpc_addr)
    prompt = triton.InferInput("text_input", [1], "BYTES")
    prompt.set_data_from_numpy(np.array([b"panic please"], dtype=np.object_))
    try:
        client.infer("toy", [prompt], headers={FAULT: "panic"})
        raise SystemExit("check failed: a panicking handler answered")
    except InferenceServerException as e:
        print(f"panicking ModelInfer answered: {e.status()}")
    check_counted(metrics, before, "/inference.GRPCInferenceService/ModelInfer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} never answered")


def log_messages(path: str) -> list:
    """The messages of the JSON log lines the server wrote."""
    messages = []
    with open(path) as f:
        for line in f:
            if line.startswith("{"):
                messages.append(json.loads(line).get("message", ""))
    return messages


def slow_client(binary: str, grpc_server: bool, bound: float) -> None:
    port, metrics_port = free_port(), free_port()
    command = [binary, "--addr", f"127.0.0.1:{port}", "--shutdown-timeout-s", str(bound)]
    if grpc_server:
        command += ["--metrics-addr", f"127.0.0.1:{metrics_port}", "--request-timeout-s", "600"]
        metrics = f"http://127.0.0.1:{metrics_port}"
        route = "/inference.GRPCInferenceService/ModelStreamInfer"
        cut = "shutdown: calls still open after the timeout are cut"
    else:
        command += ["--body-timeout-s", "600"]
        metrics = f"http://127.0.0.1:{port}"
        route = "/v1/completions"
        cut = "shutdown: connections still open after the timeout are closed"
    name = binary.rsplit("/", 1)[-1]
    log_fd, log = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    proc = subprocess.Popen(command, stdout=log_fd, stderr=subprocess.STDOUT)
    os.close(log_fd)
    keep = []
    try:
        wait_for(f"{metrics}/livez")
        if grpc_server:
            import grpc
            import threading

            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            blocked = threading.Event()

            def never_ending():
                blocked.wait()
                yield b""

            call = channel.stream_stream(route)(never_ending())
            keep += [channel, call, blocked]
        else:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                         b"content-length: 100\r\n\r\n{")
            keep.append(sock)
        # The server holds the partial request: it is in flight on its route (not merely sent).
        in_flight = f'inferwatch_requests_in_flight{{route="{route}"}}'
        for _ in range(100):
            if sample_or_none(scrape(metrics), in_flight) == 1:
                break
            time.sleep(0.05)
        check(sample(scrape(metrics), in_flight) == 1, f"the slow client's request never reached the server ({in_flight})")
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=bound + 10)
        except subprocess.TimeoutExpired:
            raise SystemExit(f"check failed: still running {bound + 10:.0f} s after SIGINT with a slow client connected")
        took = time.monotonic() - start
        messages = log_messages(log)
        output = open(log).read()[-4000:]
        check(code == 0, f"exit status {code} after SIGINT\n{output}")
        # The shutdown waited for the open request the whole timeout, then cut it: not sooner (the request was not
        # dropped at once), and not much later (the bound, plus the flush of telemetry and the process's exit).
        check(cut in messages, f"no {cut!r} in the server's log\n{output}")
        check("stopped" in messages and messages.index(cut) < messages.index("stopped"),
              f"the server did not say 'stopped' after cutting the request\n{output}")
        check(bound <= took < bound + 3, f"exit took {took:.1f} s (bound {bound} s)")
        print(f"{name}: a slow client held a partial request; cut at the timeout, exit 0 {took:.1f} s after SIGINT "
              f"(--shutdown-timeout-s {bound:g})")
    finally:
        if proc.poll() is None:
            proc.kill()
        for item in keep:
            if isinstance(item, socket.socket):
                item.close()
            elif hasattr(item, "set"):
                item.set()
            elif hasattr(item, "cancel"):
                item.cancel()
        os.unlink(log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["panic-http", "panic-grpc", "slow-client"])
    parser.add_argument("--server", help="panic-http: the axum example's base URL")
    parser.add_argument("--grpc", help="panic-grpc: the tonic example's gRPC address")
    parser.add_argument("--metrics", help="panic-grpc: the tonic example's metrics base URL")
    parser.add_argument("--binary", help="slow-client: the example binary to start")
    parser.add_argument("--grpc-server", action="store_true", help="slow-client: the binary is the tonic example")
    parser.add_argument("--bound", type=float, default=2.0, help="slow-client: --shutdown-timeout-s")
    args = parser.parse_args()
    if args.check == "panic-http":
        panic_http(args.server)
    elif args.check == "panic-grpc":
        panic_grpc(args.grpc, args.metrics)
    else:
        slow_client(args.binary, args.grpc_server, args.bound)


if __name__ == "__main__":
    sys.exit(main())
