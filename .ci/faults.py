"""Faults on the real example servers, on loopback.

    python3 .ci/faults.py panic-http --server http://127.0.0.1:18080
    python3 .ci/faults.py panic-grpc --grpc 127.0.0.1:50051 --metrics http://127.0.0.1:9464
    python3 .ci/faults.py slow-client --binary target/debug/examples/axum_server
    python3 .ci/faults.py slow-client --binary target/debug/examples/tonic_server --grpc-server

panic-*: a handler that panics (`x-inferwatch-fault: panic`) counts one more server error for its route and model,
and leaves nothing in flight. slow-client: a client holding a partial request (an HTTP body one byte short, a gRPC
stream that never ends) does not keep the server alive past its --shutdown-timeout-s after SIGINT.
"""

import argparse
import http.client
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

FAULT = "x-inferwatch-fault"


def scrape(metrics: str) -> str:
    return urllib.request.urlopen(f"{metrics}/metrics").read().decode()


def sample(text: str, line_prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def check_counted(metrics: str, before: str, route: str) -> None:
    errors = f'inferwatch_requests_total{{route="{route}",gen_ai_request_model="toy",outcome="server_error"}}'
    in_flight = f'inferwatch_requests_in_flight{{route="{route}"}}'
    for _ in range(50):
        after = scrape(metrics)
        if sample(after, errors) == sample(before, errors) + 1:
            break
        time.sleep(0.1)
    assert sample(after, errors) == sample(before, errors) + 1, (sample(before, errors), sample(after, errors))
    assert sample(after, in_flight) == 0, sample(after, in_flight)
    print(f"panic on {route}: one more server error ({sample(after, errors):.0f}), nothing in flight")


def panic_http(server: str) -> None:
    before = scrape(server)
    body = json.dumps({"model": "toy", "prompt": "panic please", "max_tokens": 2}).encode()
    request = urllib.request.Request(f"{server}/v1/completions", body,
                                     {"content-type": "application/json", FAULT: "panic"})
    try:
        urllib.request.urlopen(request, timeout=10).read()
        raise AssertionError("a panicking handler answered")
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
        raise AssertionError("a panicking handler answered")
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


def slow_client(binary: str, grpc_server: bool, bound: float) -> None:
    port, metrics_port = free_port(), free_port()
    command = [binary, "--addr", f"127.0.0.1:{port}", "--shutdown-timeout-s", str(bound)]
    if grpc_server:
        command += ["--metrics-addr", f"127.0.0.1:{metrics_port}", "--request-timeout-s", "600"]
        health = f"http://127.0.0.1:{metrics_port}/livez"
    else:
        command += ["--body-timeout-s", "600"]
        health = f"http://127.0.0.1:{port}/livez"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    keep = []
    try:
        wait_for(health)
        if grpc_server:
            import grpc
            import threading

            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            blocked = threading.Event()

            def never_ending():
                blocked.wait()
                yield b""

            call = channel.stream_stream("/inference.GRPCInferenceService/ModelStreamInfer")(never_ending())
            keep += [channel, call, blocked]
            time.sleep(0.5)  # the stream is open on the server
        else:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                         b"content-length: 100\r\n\r\n{")
            keep.append(sock)
            time.sleep(0.5)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=bound + 10)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {bound + 10:.0f} s after SIGINT with a slow client connected")
        took = time.monotonic() - start
        # The bound, plus the flush of telemetry and the process's exit.
        assert took < bound + 3, f"exit took {took:.1f} s (bound {bound} s)"
        print(f"{binary.rsplit('/', 1)[-1]}: a slow client held a partial request; exit {took:.1f} s after SIGINT "
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
