"""The CLI takes the session lock before anything opens the session, for every command."""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import session_lock
from testkit.cli import cli_env, json_error, read_app_log, run_cli, start_cli
from testkit.server import make_session, running_server

BUSY = "Error: session is locked by another process (use another --session-file or wait)\n"
SCENARIO = {"channels": [{"id": 1888000111, "username": "lock_chan", "title": "Lock", "generate": {"count": 3}}]}


@pytest.fixture(scope="module")
def server() -> Iterator:
    with running_server(SCENARIO) as srv:
        yield srv


@pytest.mark.parametrize("args", [["channels"], ["resolve", "--channel", "@lock_chan"],
                                  ["parse", "--channel", "lock_chan", "--output-dir", "out"]])
def test_busy_session_fails_at_once(server, tmp_path: Path, args: list[str]) -> None:
    session = make_session(server, tmp_path / "acc.session")
    content = session.read_bytes()
    holder = session_lock.SessionLock(tmp_path / "acc", command="test holder")
    holder.acquire()
    try:
        env = cli_env(tmp_path)
        result = run_cli([*args, "--session-file", "acc"], env, cwd=tmp_path)
    finally:
        holder.release()
    assert result.returncode == 1
    json_error(result, "SESSION_LOCKED")
    assert result.stderr == BUSY
    lines = [ln for ln in read_app_log(env).splitlines() if ln.endswith("error_code=SESSION_LOCKED")]
    assert len(lines) == 1 and f"locked by PID {os.getpid()}" in lines[0]
    assert session.read_bytes() == content  # the session database was never opened for writing
    assert not (tmp_path / "out").exists()


def test_lock_is_checked_before_the_session_exists(tmp_path: Path) -> None:
    """Busy wins over every later check: no session file is needed to see SESSION_LOCKED."""
    holder = session_lock.SessionLock(tmp_path / "ghost")
    holder.acquire()
    try:
        env = cli_env(tmp_path)
        result = run_cli(["channels", "--session-file", "ghost", "--lock-wait", "0.3"], env, cwd=tmp_path)
    finally:
        holder.release()
    assert (result.returncode, result.stderr) == (1, BUSY)
    assert not (tmp_path / "ghost.session").exists()


def test_lock_wait_takes_the_lock_when_freed(server, tmp_path: Path) -> None:
    make_session(server, tmp_path / "acc.session")
    holder = session_lock.SessionLock(tmp_path / "acc")
    holder.acquire()
    env = cli_env(tmp_path)
    proc = start_cli(["channels", "--session-file", "acc", "--lock-wait", "60"], env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while "command channels started" not in read_app_log(env):  # the CLI is now waiting for the lock
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        holder.release()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if holder.held:
            holder.release()
    assert proc.returncode == 0, err
    assert '"lock_chan"' in out
    assert not (tmp_path / "acc.session.lock").exists()


def test_python_api_takes_the_lock_too(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`TelegramParser.connect()` locks the session; a second parser on it is refused, and
    `disconnect()` frees it for the next one."""
    import asyncio

    from telegram_parser import TelegramParser
    from testkit.cli import DUMMY_API_HASH, DUMMY_API_ID

    monkeypatch.setenv("TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER", "1")
    session = make_session(server, tmp_path / "api.session")
    lock_file = session_lock.lock_path_for(session)

    def parser() -> TelegramParser:
        return TelegramParser(int(DUMMY_API_ID), DUMMY_API_HASH, str(session), auth_state_dir=tmp_path)

    async def scenario() -> list[dict]:
        first, second = parser(), parser()
        await first.connect()
        try:
            assert lock_file.is_file()
            with pytest.raises(session_lock.SessionLockBusy) as busy:
                await second.connect()
            assert busy.value.owner_pid == os.getpid()
            assert second.client is None
        finally:
            await first.disconnect()
        assert not lock_file.exists()
        third = parser()
        await third.connect()
        try:
            return await third.get_available_channels()
        finally:
            await third.disconnect()

    channels = asyncio.run(scenario())
    assert [c["username"] for c in channels] == ["lock_chan"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals to a child process")
def test_sigterm_while_waiting_for_the_lock_exits_143(tmp_path: Path) -> None:
    """A stop signal outside the event loop (here: polling for the session lock) also ends the CLI at
    once with 128 + the signal number and leaves the holder's lock file alone."""
    import signal

    holder = session_lock.SessionLock(tmp_path / "acc", command="test holder")
    holder.acquire()
    env = cli_env(tmp_path)
    proc = start_cli(["channels", "--session-file", "acc", "--lock-wait", "600"], env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while "command channels started" not in read_app_log(env):  # now polling for the lock
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert holder.held and holder.lock_path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        holder.release()
    assert (proc.returncode, err) == (143, "Error: terminated (SIGTERM)\n")
    json_error(subprocess.CompletedProcess(proc.args, 143, out, err), None)
    assert "interrupted by a signal (SIGTERM); exit 143" in read_app_log(env)
