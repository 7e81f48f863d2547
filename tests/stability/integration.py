"""End-to-end session stability tests: real CLI processes, real Telethon, the local test server.

Imported by `smoke_session_stability.py` (names start with `test_integration`, skipped by
`--no-integration`); every test takes only `tmp_path`, so they also run without pytest.
"""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from hashlib import sha256
from pathlib import Path
from typing import Any

from session_lock import BUSY_MESSAGE, SessionLock, lock_path_for, session_db_path
from testkit.cli import cli_env, json_error, read_app_log, run_cli, start_cli
from testkit.server import make_session, running_server
from tests.stability.children import start_ready_child
from tests.stability.sigint import sigint_catchable

CHANNEL_ID = 1300000001
CHANNEL = "@lockchan"
MESSAGES = 30
PHOTO_EVERY = 5
WAIT_LIMIT = 60.0  # generous upper bound for waiting on a child's progress (never asserted on)
BUSY_STDERR = f"Error: {BUSY_MESSAGE}\n"


def _scenario(slow_calls: int = 0, delay: float = 0.75) -> dict[str, Any]:
    """One channel with photos; `slow_calls` getFile answers delayed to keep a first run busy."""
    faults = [{"kind": "slow", "method": "upload.getFile", "delay": delay, "times": slow_calls}] if slow_calls else []
    return {
        "channels": [{
            "id": CHANNEL_ID, "username": "lockchan", "title": "Lock channel",
            "generate": {"count": MESSAGES, "media": [{"every": PHOTO_EVERY, "type": "photo", "size": 20000}]},
        }],
        "faults": faults,
    }


# A sitecustomize that records every sqlite3.connect of the process (audit hook, Python >= 3.10).
AUDIT_HOOK = r"""
import os, sys
_out = os.environ.get("SMOKE_SQLITE_AUDIT")
if _out:
    def _hook(event, args):
        if event == "sqlite3.connect":
            with open(_out, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()}\t{os.path.realpath(os.fspath(args[0]))}\n")
    sys.addaudithook(_hook)
"""

# Holds an exclusive SQLite transaction on a database until a line arrives on stdin.
SQLITE_HOLDER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("ready", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
conn.close()
print("released", flush=True)
"""

# Holds the session lock (SessionLock) until a line arrives on stdin.
LOCK_HOLDER = r"""
import sys
from session_lock import SessionLock
with SessionLock(sys.argv[1], command="holder"):
    print("ready", flush=True)
    sys.stdin.readline()
"""


def _audited_env(tmp: Path, name: str, **overrides: str | None) -> tuple[dict[str, str], Path]:
    """cli_env rooted at tmp/name, with the sqlite3.connect audit hook on PYTHONPATH."""
    root = tmp / name
    hook_dir = tmp / "audit-hook"
    hook_dir.mkdir(parents=True, exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(AUDIT_HOOK, encoding="utf-8")
    audit = root / "sqlite-connects.tsv"
    env = cli_env(root, **overrides)
    env["PYTHONPATH"] = str(hook_dir)
    env["SMOKE_SQLITE_AUDIT"] = str(audit)
    return env, audit


def _connects(audit: Path) -> list[str]:
    """Real paths of the databases a process opened."""
    if not audit.exists():
        return []
    return [line.split("\t", 1)[1] for line in audit.read_text(encoding="utf-8").splitlines()]


def _parse_args(session: Path, out: Path, *extra: str) -> list[str]:
    return ["parse", "--channel", CHANNEL, "--session-file", str(session.with_suffix("")), "--output-dir",
            str(out), *extra]


def _start_helper(code: str, arg: Path) -> subprocess.Popen[str]:
    """Start a helper child and wait until it printed `ready`."""
    return start_ready_child(code, str(arg))


def _finish_helper(proc: subprocess.Popen[str]) -> str:
    """Tell a helper to let go; return its remaining stdout."""
    out, err = proc.communicate("go\n", timeout=WAIT_LIMIT)
    assert proc.returncode == 0, err
    return out


def _wait_for(predicate: Any, what: str, proc: subprocess.Popen[str] | None = None) -> None:
    """Poll `predicate()` until true (fails if `proc` exits first or WAIT_LIMIT passes)."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _lock_owner_pid(session: Path) -> int | None:
    try:
        return json.loads(lock_path_for(session).read_text(encoding="utf-8")).get("pid")
    except (FileNotFoundError, ValueError):
        return None


def _session_snapshot(session: Path) -> tuple[str, bytes]:
    """(integrity_check result, auth key) of a session file, read without changing it."""
    conn = sqlite3.connect(f"{session.resolve().as_uri()}?mode=ro", uri=True)
    try:
        check = conn.execute("pragma integrity_check").fetchone()[0]
        key = conn.execute("select auth_key from sessions").fetchone()[0]
    finally:
        conn.close()
    return check, key


def _assert_intact_export(result_stdout: str) -> dict[str, Any]:
    """The parse result names an export whose files are complete and consistent."""
    result = json.loads(result_stdout)
    export = json.loads(Path(result["export_json"]).read_text(encoding="utf-8"))
    ids = [m["id"] for m in export["messages"]]
    assert ids == sorted(set(ids)) and len(ids) == MESSAGES == export["total_messages"], ids
    state = json.loads(Path(result["state_json"]).read_text(encoding="utf-8"))
    assert state["last_message_id"] == ids[-1] and state["channel_id"] == CHANNEL_ID
    export_dir = Path(result["export_dir"])
    stored = [f for m in export["messages"] for f in m["media_files"] if f.get("path")]
    assert len(stored) == MESSAGES // PHOTO_EVERY
    for item in stored:
        data = (export_dir / item["path"]).read_bytes()
        assert sha256(data).hexdigest() == item["sha256"] and len(data) == item["size"]
    assert result["partial_failure"] is False
    return result


def _assert_locked_exit(run: subprocess.CompletedProcess[str], env: dict[str, str], owner_pid: int) -> None:
    """Exit 1, the exact stderr line, the JSON error on stdout, SESSION_LOCKED with the owner's PID logged."""
    assert run.returncode == 1, (run.returncode, run.stderr)
    assert run.stderr == BUSY_STDERR, run.stderr
    json_error(run, "SESSION_LOCKED")
    locked = [ln for ln in read_app_log(env, "errors.log").splitlines() if ln.endswith("error_code=SESSION_LOCKED")]
    assert len(locked) == 1 and f"PID {owner_pid}" in locked[0], locked
    assert "database is locked" not in read_app_log(env), "a refused run must not touch SQLite"


def test_integration_busy_lock_refused_without_opening_session(tmp_path: Path) -> None:
    """The lock held by another process: parse exits 1 at once and never opens the session database."""
    session = tmp_path / "acct.session"
    holder = _start_helper(LOCK_HOLDER, session)
    try:
        env, audit = _audited_env(tmp_path, "cli")
        run = run_cli(_parse_args(session, tmp_path / "out"), env, timeout=WAIT_LIMIT)
        assert holder.poll() is None, "the holder must still hold the lock"
    finally:
        _finish_helper(holder)
    _assert_locked_exit(run, env, holder.pid)
    assert str(session_db_path(session)) not in _connects(audit), _connects(audit)
    assert not session.exists() and not (tmp_path / "out").exists()


def test_integration_second_parse_is_refused(tmp_path: Path) -> None:
    """Two real parses on one session: the second is refused while the first finishes intact."""
    with running_server(_scenario(slow_calls=4, delay=1.0)) as server:
        session = make_session(server, tmp_path / "acct.session")
        out = tmp_path / "out"
        env1, audit1 = _audited_env(tmp_path, "first")
        first = start_cli(_parse_args(session, out), env1)
        try:
            _wait_for(lambda: _lock_owner_pid(session) == first.pid, "the first run holds the lock", first)
            env2, audit2 = _audited_env(tmp_path, "second")
            started = time.monotonic()
            second = run_cli(_parse_args(session, out), env2, timeout=WAIT_LIMIT)
            refused_after = time.monotonic() - started
            assert first.poll() is None, "the second run must be refused while the first still runs"
            stdout, stderr = first.communicate(timeout=WAIT_LIMIT)
        finally:
            if first.poll() is None:
                first.kill()
    print(f"second run refused after {refused_after:.2f} s")
    _assert_locked_exit(second, env2, first.pid)
    assert first.returncode == 0, stderr
    _assert_intact_export(stdout)
    real = str(session_db_path(session))
    assert real in _connects(audit1), "positive control: the audit hook sees the first run open the session"
    assert real not in _connects(audit2), "the refused run opened the session database"
    assert not lock_path_for(session).exists(), "the first run left its lock file"


def test_integration_lock_wait_then_succeeds(tmp_path: Path) -> None:
    """`--lock-wait`: a second run waits for the first, then runs (update mode, nothing new)."""
    with running_server(_scenario(slow_calls=3)) as server:
        session = make_session(server, tmp_path / "acct.session")
        out = tmp_path / "out"
        env1 = cli_env(tmp_path / "first")
        first = start_cli(_parse_args(session, out), env1)
        try:
            _wait_for(lambda: _lock_owner_pid(session) == first.pid, "the first run holds the lock", first)
            second = run_cli(_parse_args(session, out, "--lock-wait", str(WAIT_LIMIT)), cli_env(tmp_path / "second"),
                             timeout=WAIT_LIMIT * 2)
            stdout, stderr = first.communicate(timeout=WAIT_LIMIT)
        finally:
            if first.poll() is None:
                first.kill()
    assert first.returncode == 0, stderr
    first_result = _assert_intact_export(stdout)
    assert second.returncode == 0, second.stderr
    second_result = json.loads(second.stdout)
    assert second_result["export_dir"] == first_result["export_dir"]
    assert second_result["new_messages"] == [], "the second run must have started after the first finished"


def test_integration_sqlite_locked_briefly_retries(tmp_path: Path) -> None:
    """Another program holds BEGIN EXCLUSIVE on the .session: parse retries and then succeeds."""
    with running_server(_scenario()) as server:
        session = make_session(server, tmp_path / "acct.session")
        _, key_before = _session_snapshot(session)
        env = cli_env(tmp_path / "run", TELEGRAM_PARSER_SQLITE_TIMEOUT="0.2", TELEGRAM_PARSER_PAUSE_SCALE="0.25")
        holder = _start_helper(SQLITE_HOLDER, session)
        try:
            proc = start_cli(_parse_args(session, tmp_path / "out"), env)
            _wait_for(lambda: "retry 1/5" in read_app_log(env), "the first retry line", proc)
        finally:
            _finish_helper(holder)
        stdout, stderr = proc.communicate(timeout=WAIT_LIMIT)
    assert proc.returncode == 0, stderr
    _assert_intact_export(stdout)
    log = read_app_log(env)
    assert "connect database is locked, retry 1/5 in 0.5 s: database is locked" in log, log
    assert "connect succeeded after " in log and "error_code=" not in log, log
    check, key_after = _session_snapshot(session)
    assert check == "ok" and key_after == key_before


def test_integration_sqlite_locked_too_long_fails_cleanly(tmp_path: Path) -> None:
    """The exclusive transaction outlasts the retry budget: exit 1, SESSION_LOCKED, session unharmed."""
    with running_server(_scenario()) as server:
        session = make_session(server, tmp_path / "acct.session")
        _, key_before = _session_snapshot(session)
        env = cli_env(tmp_path / "run", TELEGRAM_PARSER_SQLITE_TIMEOUT="0.1", TELEGRAM_PARSER_PAUSE_SCALE="0.02")
        holder = _start_helper(SQLITE_HOLDER, session)
        try:
            run = run_cli(_parse_args(session, tmp_path / "out"), env, timeout=WAIT_LIMIT)
            assert holder.poll() is None
        finally:
            _finish_helper(holder)
    assert run.returncode == 1, (run.returncode, run.stderr)
    json_error(run, "SESSION_LOCKED")
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "database is locked" in lines[0], run.stderr
    log = read_app_log(env)
    retries = [ln for ln in log.splitlines() if "connect database is locked, retry" in ln]
    assert [ln.split("retry ", 1)[1].split(" ", 1)[0] for ln in retries] == [f"{n}/5" for n in range(1, 6)], log
    assert sum(ln.endswith("error_code=SESSION_LOCKED") for ln in read_app_log(env, "errors.log").splitlines()) == 1
    check, key_after = _session_snapshot(session)
    assert check == "ok" and key_after == key_before, "the session file was changed"
    assert not Path(str(session) + "-journal").exists()
    assert not lock_path_for(session).exists()


def _interrupt_parse(tmp_path: Path, sig: int) -> None:
    """Signal a parse that holds the lock mid-download: exit 130, lock file gone, lock free at once."""
    with running_server(_scenario(slow_calls=6, delay=2.0)) as server:
        session = make_session(server, tmp_path / "acct.session")
        env = cli_env(tmp_path / "run")
        with sigint_catchable():
            proc = start_cli(_parse_args(session, tmp_path / "out"), env)
        try:
            _wait_for(lambda: "media_download_start" in _run_log_text(tmp_path / "out"), "a media download", proc)
            proc.send_signal(sig)
            _, stderr = proc.communicate(timeout=WAIT_LIMIT)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == (130 if sig == signal.SIGINT else 143), (proc.returncode, stderr)
    assert stderr.splitlines()[-1].startswith("Error: "), stderr
    assert not lock_path_for(session).exists(), "lock file left behind"
    with SessionLock(session):
        pass
    check, _ = _session_snapshot(session)
    assert check == "ok"
    events = [json.loads(ln)["event"] for ln in _run_log_text(tmp_path / "out").splitlines()]
    assert events.count("media_download_start") == events.count("media_download_finished") >= 1, events


def _run_log_text(out: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in out.glob("*/logs/run.log"))


def test_integration_sigterm_releases_lock(tmp_path: Path) -> None:
    _interrupt_parse(tmp_path, signal.SIGTERM)


def test_integration_sigint_releases_lock(tmp_path: Path) -> None:
    _interrupt_parse(tmp_path, signal.SIGINT)
