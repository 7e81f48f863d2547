"""Real proxy servers from packages (pproxy: SOCKS5/HTTP CONNECT; mtprotoproxy: MTProxy), run as subprocesses on
loopback for tests and stopped after; each may only relay to the local test server on 127.0.0.1.

The proxies listen on PROXY_HOST (127.0.0.2), so their connections to the test server come from that address
(pproxy with `@in` binds its outgoing sockets to the address it listens on; the MTProxy launcher binds them there too):
the test server's peers tell a relayed connection from a direct one (127.0.0.1)."""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROXY_HOST = "127.0.0.2"
TEST_SERVER_HOST = "127.0.0.1"
LAUNCHER = Path(__file__).with_name("mtproxy_launcher.py")
READY_TIMEOUT = 20.0


@dataclass
class ProxyProcess:
    """A running proxy: its port and its own log (stdout and stderr)."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")


def free_port(host: str = PROXY_HOST) -> int:
    """A TCP port nothing listens on at `host` now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"proxy exited with {proc.returncode}: {log_path.read_text('utf-8', 'replace')}")
        with contextlib.suppress(OSError), socket.create_connection((PROXY_HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"proxy did not listen on {PROXY_HOST}:{port} within {READY_TIMEOUT} s")


@contextlib.contextmanager
def _running(argv: list[str], port: int, log_path: Path) -> Iterator[ProxyProcess]:
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_listening(proc, port, log_path)
        yield ProxyProcess(proc, port, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def running_pproxy(scheme: str, tmp_path: Path, user: str | None = None,
                   password: str | None = None) -> Iterator[ProxyProcess]:
    """pproxy listening for `scheme` (socks5, socks4, http) on PROXY_HOST, optionally with a password; it
    refuses (blocks) every destination but the test server's host."""
    port = free_port()
    auth = f"#{user}:{password}" if user else ""
    argv = [sys.executable, "-W", "ignore", "-m", "pproxy", "-v", "-l", f"{scheme}://{PROXY_HOST}:{port}/@in{auth}",
            "-b", "{(?!" + TEST_SERVER_HOST.replace(".", r"\.") + "$).*}"]
    with _running(argv, port, tmp_path / f"pproxy-{scheme}-{port}.log") as proxy:
        yield proxy


@contextlib.contextmanager
def running_mtproxy(secret: str, server_port: int, tmp_path: Path) -> Iterator[ProxyProcess]:
    """mtprotoproxy (the PyPI package) through `testkit/mtproxy_launcher.py`: its datacenter table replaced by
    the test server, no middle proxy, no address or config lookups, every outgoing connection checked."""
    port = free_port()
    argv = [sys.executable, "-W", "ignore", str(LAUNCHER), "--listen", f"{PROXY_HOST}:{port}",
            "--server", f"{TEST_SERVER_HOST}:{server_port}", "--bind", PROXY_HOST, "--secret", secret]
    with _running(argv, port, tmp_path / f"mtproxy-{port}.log") as proxy:
        yield proxy
