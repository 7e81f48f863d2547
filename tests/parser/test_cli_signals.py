"""Ctrl+C (SIGINT) and SIGTERM end the CLI with exit 130 / 143, a log line, and the session lock released."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.cli import cli_env, json_error, read_app_log, start_cli
from testkit.server import make_session, running_server

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals to a child process")

SCENARIO = {
    "channels": [{"id": 1777000111, "username": "slow_chan", "title": "Slow", "generate": {"count": 3}}],
    # every dialog list hangs for a minute: the CLI is mid-request when the signal arrives
    "faults": [{"kind": "slow", "method": "messages.getDialogs", "delay": 60, "times": None}],
}
LINE = r"^\S+ \S+ WARNING \[[0-9a-f]{8}\] telegram_parser_skill: interrupted by a signal"


@pytest.fixture(scope="module")
def server() -> Iterator:
    with running_server(SCENARIO) as srv:
        yield srv


def wait_for(predicate, what: str, limit: float = 60.0) -> None:
    """Poll `predicate` until true (a readiness wait, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize(("sig", "code", "line"), [(signal.SIGINT, 130, "Error: interrupted\n"),
                                                  (signal.SIGTERM, 143, "Error: terminated (SIGTERM)\n")])
def test_signal_mid_request_exits_130_or_143(server, tmp_path: Path, sig: signal.Signals, code: int,
                                             line: str) -> None:
    make_session(server, tmp_path / "acc.session")
    before = server.requests.count("messages.getDialogs")
    env = cli_env(tmp_path)
    proc = start_cli(["channels", "--session-file", "acc"], env, cwd=tmp_path)
    try:
        wait_for(lambda: server.requests.count("messages.getDialogs") > before, "the dialogs request")
        assert (tmp_path / "acc.session.lock").exists()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    json_error(subprocess.CompletedProcess(proc.args, code, out, err), None)  # an interruption has no code
    assert err == line
    lines = [ln for ln in read_app_log(env).splitlines() if re.match(LINE, ln)]
    assert len(lines) == 1 and lines[0].endswith(f"({sig.name}); exit {code}"), read_app_log(env)
    assert not (tmp_path / "acc.session.lock").exists()
