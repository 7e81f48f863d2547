"""End-to-end: FloodWait within and above --max-flood-wait, Ctrl+C mid-export; every stop keeps a
contiguous prefix saved and the next run continues without gaps or duplicates."""
from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import errors
from testkit.cli import cli_env, read_app_log, run_cli, start_cli
from testkit.server import make_session

CHANNEL_ID = 1234567890


def _scenario(count: int, faults: list[dict[str, Any]]) -> dict[str, Any]:
    return {"channels": [{"id": CHANNEL_ID, "username": "test_channel", "title": "Test channel",
                          "generate": {"count": count, "gap_every": 11, "text_length": 24}}],
            "faults": faults}


def _args(tmp_path: Path, session: Path, *extra: str) -> list[str]:
    return ["parse", "--channel", "@test_channel", "--session-file", str(session),
            "--output-dir", str(tmp_path / "out"), *extra]


def _export_dir(tmp_path: Path) -> Path:
    (export_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir() and p.suffix != ".zip"]
    return export_dir


def _load(tmp_path: Path, name: str) -> Any:
    return json.loads((_export_dir(tmp_path) / name).read_text(encoding="utf-8"))


def _events(tmp_path: Path, name: str = "run.log") -> list[dict[str, Any]]:
    text = (_export_dir(tmp_path) / "logs" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _server_ids(server: Any) -> list[int]:
    return list(server.world.channel(CHANNEL_ID).ids)


def _assert_prefix_saved(tmp_path: Path, server: Any) -> list[int]:
    ids = [m["id"] for m in _load(tmp_path, "export.json")["messages"]]
    assert ids == _server_ids(server)[: len(ids)]  # a contiguous prefix, ascending, no duplicates
    assert _load(tmp_path, "state.json")["last_message_id"] == (ids[-1] if ids else 0)
    return ids


def test_flood_wait_within_bound_is_waited_logged_and_counted(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario(350, [{"kind": "flood_wait", "method": "messages.getHistory",
                                             "call": 2, "seconds": 1, "times": 1}]))
    session = make_session(server, tmp_path / "s.session")
    proc = run_cli(_args(tmp_path, session), cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert summary["flood_wait_events"] == 1 and "retry_after" not in summary
    flood = [e for e in _events(tmp_path) if e["event"] == "flood_wait"]
    assert len(flood) == 1 and flood[0]["data"]["seconds"] == 1 and flood[0]["data"]["sleep"] == 1
    assert flood[0]["data"]["error_code"] == "RATE_LIMIT"
    assert [m["id"] for m in _load(tmp_path, "export.json")["messages"]] == _server_ids(server)
    # a wait is visible to someone watching the app log, not only the export log
    assert any("flood_wait" in ln and ln.endswith("error_code=RATE_LIMIT") for ln in read_app_log(cli_env(tmp_path)).splitlines())


def test_flood_wait_above_bound_saves_and_stops_then_next_run_continues(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario(450, [{"kind": "flood_wait", "method": "messages.getHistory",
                                             "call": 3, "seconds": 100, "times": 1}]))
    session = make_session(server, tmp_path / "s.session")
    env = cli_env(tmp_path)
    proc = run_cli(_args(tmp_path, session, "--max-flood-wait", "10"), env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: ") and len(proc.stderr.splitlines()) == 1
    assert "error_code=RATE_LIMIT" in read_app_log(env)
    summary = _load(tmp_path, "summary.json")
    assert summary["retry_after"] == 100 and summary["flood_wait_events"] == 1
    assert summary["new_messages"] == 200
    saved = _assert_prefix_saved(tmp_path, server)
    assert len(saved) == 200  # the two pages fetched before the stop
    # stdout still reports exactly what this run saved, so a caller loses nothing
    reported = json.loads(proc.stdout)
    assert reported["error"]["error_code"] == "RATE_LIMIT" and reported["error"]["status"] == "rate_limited"
    assert reported["error"]["retry_after"] == 100 and reported["error"]["hint"] == errors.HINTS["RATE_LIMIT"]
    assert reported["summary"] == summary and [m["id"] for m in reported["new_messages"]] == saved
    finished = [e for e in _events(tmp_path) if e["event"] == "run_finished"]
    assert finished[-1]["data"]["error_code"] == "RATE_LIMIT" and finished[-1]["data"]["retry_after"] == 100

    server.requests.reset()
    proc = run_cli(_args(tmp_path, session, "--max-flood-wait", "10"), env)
    assert proc.returncode == 0, proc.stderr
    first = server.requests.entries("messages.getHistory")[0]
    assert first["params"]["offset_id"] == saved[-1] + 1
    assert [m["id"] for m in _load(tmp_path, "export.json")["messages"]] == _server_ids(server)
    assert "retry_after" not in _load(tmp_path, "summary.json")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_saves_a_contiguous_prefix_and_the_next_run_completes(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario(1500, [{"kind": "slow", "method": "messages.getHistory",
                                              "delay": 0.1, "times": None}]))
    session = make_session(server, tmp_path / "s.session")
    env = cli_env(tmp_path)
    child = start_cli(_args(tmp_path, session), env)
    deadline = time.monotonic() + 60
    while server.requests.count("messages.getHistory") < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    saved = _assert_prefix_saved(tmp_path, server)
    assert 0 < len(saved) < 1500
    reported = json.loads(out)
    assert reported["error"]["status"] == "interrupted" and reported["error"]["error_code"] is None
    assert [m["id"] for m in reported["new_messages"]] == saved
    finished = [e for e in _events(tmp_path) if e["event"] == "run_finished"]
    assert finished and finished[-1]["data"]["status"] == "interrupted"

    proc = run_cli(_args(tmp_path, session), env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert [m["id"] for m in _load(tmp_path, "export.json")["messages"]] == _server_ids(server)


def test_lost_answer_is_retried_not_hung(server_factory: Any, tmp_path: Path) -> None:
    """Telethon has no per-request timeout: a history page that never comes back is re-asked."""
    server = server_factory(_scenario(250, [{"kind": "slow", "method": "messages.getHistory", "call": 2,
                                             "delay": 3600, "times": 1}]))
    session = make_session(server, tmp_path / "s.session")
    env = cli_env(tmp_path, TELEGRAM_PARSER_REQUEST_TIMEOUT="0.5")
    proc = run_cli(_args(tmp_path, session), env)
    assert proc.returncode == 0, proc.stderr
    assert [m["id"] for m in _load(tmp_path, "export.json")["messages"]] == _server_ids(server)
    (timeout,) = [e["data"] for e in _events(tmp_path) if e["event"] == "request_timeout"]
    assert (timeout["request"], timeout["attempt"], timeout["error_code"]) == ("messages.getHistory", 1, "NETWORK_ERROR")


def test_server_that_never_answers_stops_with_network_error_and_data_saved(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario(450, [{"kind": "slow", "method": "messages.getHistory", "call": 3,
                                             "delay": 3600, "times": None}]))
    session = make_session(server, tmp_path / "s.session")
    env = cli_env(tmp_path, TELEGRAM_PARSER_REQUEST_TIMEOUT="0.3")
    proc = run_cli(_args(tmp_path, session, "--mode", "normal"), env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: no answer from Telegram to messages.getHistory within 0.3 s (4 attempt(s))")
    assert "error_code=NETWORK_ERROR" in read_app_log(env)
    saved = _assert_prefix_saved(tmp_path, server)
    assert len(saved) == 200
    timeouts = [e["data"] for e in _events(tmp_path) if e["event"] == "request_timeout"]
    assert [t["attempt"] for t in timeouts] == [1, 2, 3, 4] and timeouts[-1]["action"] == "stop"  # normal: 3 retries
    assert json.loads(proc.stdout)["error"]["error_code"] == "NETWORK_ERROR"


def test_zip_failure_reports_the_saved_data(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario(30, []))
    session = make_session(server, tmp_path / "s.session")
    env = cli_env(tmp_path)
    assert run_cli(_args(tmp_path, session), env).returncode == 0
    export_dir = _export_dir(tmp_path)
    (export_dir.parent / (export_dir.name + ".zip")).mkdir()  # something in the archive's way
    appended = server.world.append_messages(CHANNEL_ID, count=5)
    proc = run_cli(_args(tmp_path, session, "--zip"), env)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: could not write the archive")
    reported = json.loads(proc.stdout)
    assert [m["id"] for m in reported["new_messages"]] == appended and reported["archive"] is None
    assert _load(tmp_path, "state.json")["last_message_id"] == appended[-1]
    finished = [e for e in _events(tmp_path) if e["event"] == "run_finished"]
    assert finished[-1]["data"]["status"] == "failed"


def test_flood_wait_while_resolving_still_updates_the_existing_export_summary(server_factory: Any,
                                                                             tmp_path: Path) -> None:
    """An incremental run stopped before Telegram resolved the channel still records retry_after."""
    server = server_factory(_scenario(120, [{"kind": "flood_wait", "method": "channels.getChannels",
                                             "call": 2, "seconds": 1000, "times": 1}]))
    session = make_session(server, tmp_path / "s.session")
    env = cli_env(tmp_path)
    first = run_cli(_args(tmp_path, session), env)
    assert first.returncode == 0, first.stderr
    export_before = (_export_dir(tmp_path) / "export.json").read_bytes()
    proc = run_cli(_args(tmp_path, session), env)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: Telegram asked to wait 1000 s")
    summary = _load(tmp_path, "summary.json")
    assert summary["retry_after"] == 1000 and summary["new_messages"] == 0
    assert summary["run_id"] == json.loads(proc.stdout)["summary"]["run_id"] != json.loads(first.stdout)["summary"]["run_id"]
    assert json.loads(proc.stdout)["error"]["error_code"] == "RATE_LIMIT"
    assert (_export_dir(tmp_path) / "export.json").read_bytes() == export_before
    finished = [e for e in _events(tmp_path) if e["event"] == "run_finished"]
    assert finished[-1]["data"]["status"] == "rate_limited" and finished[-1]["data"]["retry_after"] == 1000
