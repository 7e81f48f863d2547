"""Shared benchmark plumbing: the test server as a separate process, session copies, stats, env."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SCENARIO = BENCH_DIR / "scenarios" / "bench.json"
HISTORY_CHANNEL = "bench_history"
DOWNLOAD_CHANNEL = "bench_download"
MEDIA_CHANNEL = "bench_media"
MB = 1_000_000

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from telegram_test_server.session_file import is_loopback  # noqa: E402
from testkit.cli import cli_env  # noqa: E402


@dataclass
class Server:
    """A running `python -m telegram_test_server serve` process and its ready-file data."""

    proc: subprocess.Popen[bytes]
    ready_file: Path
    info: dict
    session: Path  # pristine authorised session made by `make-session`


def _wait_ready(proc: subprocess.Popen[bytes], ready: Path, timeout: float = 60) -> dict:
    """Poll for the ready file; fail if the server exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        if ready.exists():
            with contextlib.suppress(json.JSONDecodeError):
                info = json.loads(ready.read_text(encoding="utf-8"))
                if info.get("port"):
                    return info
        time.sleep(0.05)
    raise TimeoutError("server did not write its ready file")


def _stop(proc: subprocess.Popen[bytes], pid: int | None) -> None:
    """SIGTERM the server by the pid from its ready file (fallback: our Popen pid), then reap it."""
    if proc.poll() is None:
        os.kill(pid or proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextlib.contextmanager
def serve(workdir: Path, profile_to: Path | None = None, scenario: Path = SCENARIO,
          request_log: Path | None = None) -> Iterator[Server]:
    """Start the server as its own process (optionally under cProfile, optionally logging every RPC
    to `request_log` as JSONL), make a session, stop it on exit."""
    ready = workdir / "ready.json"
    prefix = [sys.executable] + (["-m", "cProfile", "-o", str(profile_to)] if profile_to else [])
    argv = prefix + ["-m", "telegram_test_server", "serve", "--scenario", str(scenario),
                     "--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready)]
    if request_log is not None:
        argv += ["--request-log", str(request_log)]
    with open(workdir / "server.err", "wb") as err:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err)
    info: dict = {}
    try:
        info = _wait_ready(proc, ready)
        if not is_loopback(str(info["host"])):
            raise RuntimeError(f"server is not on loopback: {info['host']}")
        session = workdir / "pristine.session"
        subprocess.run([sys.executable, "-m", "telegram_test_server", "make-session", "--ready", str(ready),
                        "--out", str(session)], cwd=REPO_ROOT, check=True, capture_output=True)
        yield Server(proc, ready, info, session)
    finally:
        _stop(proc, info.get("pid"))


class RequestCounter:
    """Counts the server's logged RPCs (its `--request-log` JSONL file) between two moments."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _methods(self) -> list[str]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["method"] for line in lines if line.strip()]

    def mark(self) -> int:
        """The number of requests logged so far (the server logs a call before it answers it)."""
        return len(self._methods())

    def methods_since(self, mark: int) -> list[str]:
        """Every method logged after `mark`, in order."""
        return self._methods()[mark:]

    def since(self, mark: int, method: str) -> int:
        """How many `method` calls were logged after `mark`."""
        return sum(1 for name in self._methods()[mark:] if name == method)


def fresh_session(server: Server, dest_dir: Path, name: str = "s") -> Path:
    """A copy of the pristine session (cold entity cache) as `dest_dir/name.session`."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{name}.session"
    shutil.copyfile(server.session, dest)
    return dest


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary directory removed on exit."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def parser_env(root: Path) -> dict[str, str]:
    """The CLI environment: dummy credentials, pause scale 0, loopback guard, logs under `root`."""
    return cli_env(root)


def run_timed(argv: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> tuple[float, str]:
    """Run a subprocess to completion; (wall seconds including start-up, stdout). Raises on failure."""
    t0 = time.perf_counter()
    done = subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed, done.stdout


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max of repeated measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt(stat: dict[str, float], digits: int = 2) -> str:
    """'median (min–max)'."""
    return f"{stat['median']:.{digits}f} ({stat['min']:.{digits}f}–{stat['max']:.{digits}f})"


def machine() -> dict[str, str]:
    """nproc, Python, Telethon and cryptg versions, CPU model."""
    from importlib.metadata import version

    import telethon
    from telethon.crypto import aes

    cpu = ""
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    return {"nproc": str(os.cpu_count()), "python": sys.version.split()[0], "telethon": telethon.__version__,
            "cryptg": version("cryptg"), "telethon_uses_cryptg": str(aes.cryptg is not None), "cpu": cpu,
            "git": _git_state()}


def _git_state() -> str:
    """Commit of the measured code, plus '+dirty' (outside bench/) when the tree has local changes."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    dirty = git("status", "--porcelain", "--", ".", ":!bench", ":!BENCHMARKS.md")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def publish(result: dict, text: str, json_path: Path | None) -> None:
    """Print a benchmark's report; with --json, write the result dict (machine included) there."""
    print(text)
    if json_path:
        json_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
