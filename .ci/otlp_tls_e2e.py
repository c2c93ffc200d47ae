"""OTLP export over TLS, end to end: a CA and a server certificate made here (openssl), a TLS front
(.ci/tls_front.py) before a real collector (rotel), and the axum example exporting to `https://localhost` over gRPC
and over HTTP/protobuf. With the CA given (OTEL_EXPORTER_OTLP_CERTIFICATE) its spans arrive; with another CA they
are refused: the failures are counted (inferwatch_telemetry_export_errors_total), said once in the log, and
requests are served as ever. And OTEL_EXPORTER_OTLP_HEADERS (an API key) is on every HTTP export request.

    python3 .ci/otlp_tls_e2e.py --rotel PATH --server ./target/debug/examples/axum_server
"""

import argparse
import http.server
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

from faults import check, free_port, wait_for


def openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def certificates(directory: str) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=inferwatch test CA", cwd=directory)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
            "/CN=localhost", cwd=directory)
    with open(os.path.join(directory, "san.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "server.pem", "-days", "1", "-extfile", "san.cnf", cwd=directory)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days",
            "1", "-subj", "/CN=another CA", cwd=directory)


def complete(base: str, prompt: str) -> int:
    body = json.dumps({"model": "toy", "prompt": prompt, "max_tokens": 3}).encode()
    request = urllib.request.Request(f"{base}/v1/completions", body, {"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return response.status


class Capture(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that keeps the headers of what it receives and answers 200."""

    headers_seen: list = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        Capture.headers_seen.append((self.path, dict(self.headers)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def headers(server: str) -> None:
    """The API key of OTEL_EXPORTER_OTLP_HEADERS on every export request."""
    capture = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=capture.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{capture.server_address[1]}"
    os.environ["OTEL_EXPORTER_OTLP_HEADERS"] = "x-api-key=s3cret,x-tenant=demo"
    try:
        run(server, endpoint, "http/protobuf", "", os.devnull)
    finally:
        del os.environ["OTEL_EXPORTER_OTLP_HEADERS"]
        capture.shutdown()
    traces = [h for path, h in Capture.headers_seen if path == "/v1/traces"]
    check(bool(traces), f"no export reached the capture: {Capture.headers_seen}")
    check(all(h.get("x-api-key") == "s3cret" and h.get("x-tenant") == "demo" for h in traces), traces)
    print(f"OTEL_EXPORTER_OTLP_HEADERS: the API key was on all {len(traces)} span exports")


def run(server: str, endpoint: str, protocol: str, ca: str, log_path: str) -> tuple:
    """Runs the example exporting to `endpoint`, sends 5 requests, and returns (export errors, log lines)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
               OTEL_BSP_SCHEDULE_DELAY="200")
    if ca:
        env["OTEL_EXPORTER_OTLP_CERTIFICATE"] = ca
    with open(log_path, "w") as log:
        process = subprocess.Popen([server, "--addr", f"127.0.0.1:{port}", "--token-delay-ms", "1"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"{base}/livez")
        for i in range(5):
            check(complete(base, f"tls request {i}") == 200, f"request {i} answered 200")
        time.sleep(1.5)  # several export attempts
        metrics = urllib.request.urlopen(f"{base}/metrics").read().decode()
        found = re.findall(r"^inferwatch_telemetry_export_errors_total(?:\{[^}]*\})? (\S+)$", metrics, re.M)
        # The counter is there from the start: a missing series is an error, never 0 failed exports.
        check(len(found) == 1, f"one inferwatch_telemetry_export_errors_total series, found {found}")
        errors = float(found[0])
        process.send_signal(signal.SIGINT)  # graceful: flushes what it can
        code = process.wait(timeout=30)
        check(code == 0, f"the example exited with status {code} after SIGINT (0 expected); log {log_path}")
    finally:
        if process.poll() is None:
            process.kill()
    lines = [json.loads(line) for line in open(log_path) if line.startswith("{")]
    return errors, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rotel", required=True)
    parser.add_argument("--server", required=True)
    args = parser.parse_args()
    headers(args.server)
    directory = tempfile.mkdtemp()
    certificates(directory)
    grpc, http = free_port(), free_port()
    collector_log = os.path.join(directory, "collector.log")
    children = [subprocess.Popen(
        [args.rotel, "start", "--otlp-grpc-endpoint", f"127.0.0.1:{grpc}", "--otlp-http-endpoint",
         f"127.0.0.1:{http}", "--exporter", "blackhole", "--debug-log", "traces", "--debug-log-verbosity",
         "detailed"], stdout=open(collector_log, "w"), stderr=subprocess.STDOUT)]
    fronts = {}
    for name, upstream in (("grpc", grpc), ("http/protobuf", http)):
        fronts[name] = free_port()
        children.append(subprocess.Popen(
            ["python3", os.path.join(os.path.dirname(__file__), "tls_front.py"), "--listen", str(fronts[name]),
             "--to", f"127.0.0.1:{upstream}", "--cert", os.path.join(directory, "server.pem"), "--key",
             os.path.join(directory, "server.key")]))
    time.sleep(1)
    try:
        received = 0
        for protocol, port in fronts.items():
            endpoint = f"https://localhost:{port}"
            errors, _ = run(args.server, endpoint, protocol, os.path.join(directory, "ca.pem"),
                            os.path.join(directory, "right.log"))
            time.sleep(1)
            now = len(re.findall(r"Name *: POST /v1/completions", open(collector_log).read()))
            check(now >= received + 5, f"{protocol} over TLS with the CA: {now - received} request spans arrived")
            check(errors == 0, f"{protocol}: {errors} failed exports with the right CA")
            print(f"{protocol} over TLS with the CA given: {now - received} request spans arrived, no export error")
            received = now
            errors, lines = run(args.server, endpoint, protocol, os.path.join(directory, "other.pem"),
                                os.path.join(directory, "wrong.log"))
            failing = [l for l in lines if l.get("message", "").startswith("span export failing")]
            check(errors >= 1, f"{protocol} with another CA: no failed export counted")
            check(len(failing) == 1, f"{protocol} with another CA: said {len(failing)} times")
            time.sleep(1)
            now = len(re.findall(r"Name *: POST /v1/completions", open(collector_log).read()))
            check(now == received, f"{protocol}: spans arrived although the certificate is not trusted")
            print(f"{protocol} with another CA: refused, {errors:.0f} failed exports counted, said once: "
                  f"{failing[0]['fields'].get('error', '')[:100]}")
    finally:
        for child in children:
            child.terminate()


if __name__ == "__main__":
    main()
