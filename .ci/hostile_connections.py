"""Connections that never finish their request headers, and a server out of file descriptors, against the axum
example on loopback.

    python3 .ci/hostile_connections.py held --binary target/debug/examples/axum_server
    python3 .ci/hostile_connections.py descriptors --binary target/debug/examples/axum_server

held: a connection that sends nothing, one that sends half an HTTP/1 request head, and an HTTP/2 connection whose
HEADERS frame never ends (no END_HEADERS, no CONTINUATION) are each closed by the server once the header read
timeout (--header-read-timeout-s) has passed, not before; a complete request on another connection is answered
meanwhile.

descriptors: with its descriptor limit lowered, the server is sent connections until it can accept no more. While
they are held it does not spin (its CPU time over two seconds stays low) and, once they are closed, it answers
/livez again.
"""

import argparse
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from checks import check

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary: str, port: int, extra: list, limit_fds=None):
    log = tempfile.NamedTemporaryFile(prefix="hostile-", suffix=".log", delete=False)

    def lower_limit():
        if limit_fds is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit_fds, limit_fds))

    process = subprocess.Popen(
        [binary, "--addr", f"127.0.0.1:{port}", *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lower_limit,
    )
    for _ in range(200):
        if alive(port):
            return process, log.name
        check(process.poll() is None, f"the server exited with {process.returncode}: {open(log.name).read()}")
        time.sleep(0.05)
    raise SystemExit(f"check failed: the server did not answer /livez: {open(log.name).read()}")


def alive(port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def stop(process, log: str) -> None:
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=30)
    check(code == 0, f"the server exited with {code}: {open(log).read()[-2000:]}")


def closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes `sock` (reads until end of stream or a reset); `limit` at most."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        return limit
    return time.monotonic() - started


def h2_headers_without_end() -> bytes:
    """SETTINGS (empty), then HEADERS on stream 1 carrying part of a header block: END_STREAM, no END_HEADERS."""
    settings = (0).to_bytes(3, "big") + bytes([0x4, 0x0]) + (0).to_bytes(4, "big")
    # HPACK: :method GET (indexed 2), :scheme http (indexed 6), :path / (indexed 4); the block never ends.
    block = bytes([0x82, 0x86, 0x84])
    headers = len(block).to_bytes(3, "big") + bytes([0x1, 0x1]) + (1).to_bytes(4, "big") + block
    return H2_PREFACE + settings + headers


def held(binary: str) -> None:
    timeout = 2.0
    port = free_port()
    process, log = start(binary, port, ["--header-read-timeout-s", str(timeout)])
    try:
        cases = {
            "sends nothing": b"",
            "half an HTTP/1 head": b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ",
            "HTTP/2 HEADERS without END_HEADERS": h2_headers_without_end(),
        }
        sockets = {}
        opened = time.monotonic()
        for name, data in cases.items():
            sock = socket.create_connection(("127.0.0.1", port))
            if data:
                sock.sendall(data)
            sockets[name] = sock
        # A request that completes is answered while the others hang.
        check(alive(port), "/livez while connections hang")
        limit = timeout + 5.0
        for name, sock in sockets.items():
            remaining = limit - (time.monotonic() - opened)
            took = (time.monotonic() - opened) + closed_after(sock, max(remaining, 0.1))
            sock.close()
            print(f"{name}: closed by the server after {took:.1f} s (header read timeout {timeout} s)")
            check(took < limit, f"{name}: still open after {took:.1f} s")
            check(took >= timeout - 0.2, f"{name}: closed after {took:.1f} s, before the timeout")
    finally:
        stop(process, log)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime, the 14th and 15th fields of the whole line.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descriptors(binary: str) -> None:
    port = free_port()
    limit = 256
    process, log = start(binary, port, ["--header-read-timeout-s", "30"], limit_fds=limit)
    held = []
    try:
        # More connections than the server has descriptors: the kernel completes the handshakes (the listen
        # backlog), the server's accept fails with EMFILE.
        for _ in range(limit + 64):
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        time.sleep(0.5)
        before = cpu_seconds(process.pid)
        time.sleep(2.0)
        used = cpu_seconds(process.pid) - before
        print(f"{len(held)} connections held: the server used {used:.2f} s of CPU in 2 s")
        check(used < 0.5, f"the server spins while out of descriptors: {used:.2f} s of CPU in 2 s")
        for sock in held:
            sock.close()
        held = []
        deadline = time.monotonic() + 10
        while not alive(port, timeout=0.5):
            check(time.monotonic() < deadline, "/livez does not answer after the connections closed")
            time.sleep(0.1)
        print("descriptors freed: /livez answers again")
    finally:
        for sock in held:
            sock.close()
        stop(process, log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=["held", "descriptors"])
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    {"held": held, "descriptors": descriptors}[args.case](args.binary)


if __name__ == "__main__":
    main()
