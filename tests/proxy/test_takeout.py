"""`parse --takeout` end to end against the local server: every call of the run wrapped in invokeWithTakeout and
the takeout finished with success; TAKEOUT_INIT_DELAY_X is TAKEOUT_DELAY with retry_after; a run killed inside a
takeout leaves the next run starting a fresh one (the stale id answers TAKEOUT_INVALID) instead of failing."""
from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from testkit.cli import cli_env, run_cli, start_cli
from testkit.server import make_session
from tests.proxy.proxy_kit import CHANNEL_ID, USERNAME, assert_full_export, scenario

WRAPPED = ("channels.getMessages", "messages.getHistory", "upload.getFile")
FIRST_ID = 7000  # the test server's first takeout id


def parse_args(session: Path, tmp_path: Path) -> list[str]:
    return ["parse", "--channel", f"@{USERNAME}", "--session-file", str(session), "--output-dir",
            str(tmp_path / "out"), "--mode", "normal", "--takeout"]


def session_takeout_id(session: Path) -> int | None:
    """What Telethon keeps in the session file for an open takeout."""
    with sqlite3.connect(session) as db:
        return db.execute("select takeout_id from sessions").fetchone()[0]


def after_init(server: Any) -> list[dict[str, Any]]:
    """The request log from the (last) account.initTakeoutSession on."""
    entries = server.requests.entries()
    starts = [i for i, e in enumerate(entries) if e["method"] == "account.initTakeoutSession"]
    assert starts, [e["method"] for e in entries]
    return entries[starts[-1]:]


def test_takeout_wraps_every_call_and_finishes_with_success(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(scenario())
    session = make_session(server, tmp_path / "s.session")
    proc = run_cli(parse_args(session, tmp_path), cli_env(tmp_path))
    assert_full_export(server, proc)
    entries = after_init(server)
    init, *calls, finish = entries
    assert init["params"]["message_channels"] is True and init["params"]["files"] is True
    assert "takeout_id" not in init
    assert finish["method"] == "account.finishTakeoutSession" and finish["params"]["success"] is True
    assert all(e.get("takeout_id") == FIRST_ID for e in [*calls, finish]), entries
    assert {e["method"] for e in calls} >= {"messages.getHistory", "upload.getFile"}
    assert server.world.takeouts == {FIRST_ID: True}
    assert session_takeout_id(session) is None


def test_takeout_delay_is_reported_with_retry_after(server_factory: Any, tmp_path: Path) -> None:
    fault = {"kind": "rpc_error", "method": "account.initTakeoutSession", "code": 420,
             "message": "TAKEOUT_INIT_DELAY_3600", "times": None}
    server = server_factory({**scenario(), "faults": [fault]})
    session = make_session(server, tmp_path / "s.session")
    proc = run_cli(parse_args(session, tmp_path), cli_env(tmp_path))
    assert proc.returncode == 1
    printed = json.loads(proc.stdout)
    error = printed["error"]
    assert error["error_code"] == "TAKEOUT_DELAY" and error["retry_after"] == 3600
    assert "confirm" in error["message"] and f"Error: {error['message']}" in proc.stderr.splitlines()
    summary = json.loads(Path(printed["summary_json"]).read_text("utf-8"))
    assert summary["retry_after"] == 3600 and summary["new_messages"] == 0
    run_log = (Path(printed["export_dir"]) / "logs" / "run.log").read_text("utf-8")
    assert "TAKEOUT_DELAY" in run_log and "3600" in run_log
    app_logs = "".join(p.read_text("utf-8") for p in (tmp_path / "applogs").rglob("*.log"))
    assert "TAKEOUT_DELAY" in app_logs
    assert not server.requests.entries("messages.getHistory") and server.world.takeouts == {}
    assert session_takeout_id(session) is None


def _wait_for(condition: Any, proc: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)


def test_a_stopped_run_finishes_its_takeout_unsuccessfully(server_factory: Any, tmp_path: Path) -> None:
    stall = {"kind": "stall", "channel": CHANNEL_ID, "message_id": 4}
    server = server_factory({**scenario(), "faults": [stall]})
    session = make_session(server, tmp_path / "s.session")
    proc = start_cli(parse_args(session, tmp_path), cli_env(tmp_path))
    try:
        _wait_for(lambda: any(e.get("takeout_id") == FIRST_ID for e in server.requests.entries("upload.getFile")),
                  proc, "download inside the takeout")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert json.loads(out)["error"]["error_code"] is None  # interrupted
    finish = server.requests.entries("account.finishTakeoutSession")
    assert [e["takeout_id"] for e in finish] == [FIRST_ID] and finish[0]["params"]["success"] is False
    assert server.world.takeouts == {FIRST_ID: False}
    assert session_takeout_id(session) is None


def test_killed_takeout_then_a_fresh_one(server_factory: Any, tmp_path: Path) -> None:
    stall = {"kind": "stall", "channel": CHANNEL_ID, "message_id": 4}  # the document's download never answers
    server = server_factory({**scenario(), "faults": [stall]})
    session = make_session(server, tmp_path / "s.session")
    env = cli_env(tmp_path)
    proc = start_cli(parse_args(session, tmp_path), env)
    try:
        _wait_for(lambda: any(e.get("takeout_id") == FIRST_ID for e in server.requests.entries("upload.getFile")),
                  proc, "download inside the takeout")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert session_takeout_id(session) == FIRST_ID  # what Telethon left in the session file
    server.world.faults.rules.clear()
    server.world.takeouts[FIRST_ID] = False  # Telegram closed it meanwhile (expired): TAKEOUT_INVALID
    server.requests.reset()

    proc = run_cli(parse_args(session, tmp_path), env)
    assert_full_export(server, proc)
    stale = server.requests.entries("account.finishTakeoutSession")[0]
    assert stale["takeout_id"] == FIRST_ID and stale["error"] == "TAKEOUT_INVALID"
    assert server.world.takeouts == {FIRST_ID: False, FIRST_ID + 1: True}
    assert all(e.get("takeout_id") == FIRST_ID + 1 for e in after_init(server)[1:])
    assert session_takeout_id(session) is None
