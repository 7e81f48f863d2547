"""Smoke test, phase 3: the output contract of `parse` (contract sections 5-7).

Every key and type of the stdout result, export.json, state.json, media-index.json and
summary.json, and an incremental run that appends exactly the messages added on the server in
between — real CLI subprocesses against the local test server (no network, no account).
Run standalone (`python smoke_phase3.py`: PASS/FAIL lines, exit 0/1) or through pytest.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, running_server, server_call
from testkit.smoke import run_smoke

CHANNEL = "demo_channel"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SHA = re.compile(r"^[0-9a-f]{64}$")
NUL = type(None)

RESULT_KEYS = {"summary": dict, "partial_failure": bool, "export_dir": str, "export_json": str, "state_json": str,
               "media_index_json": str, "summary_json": str, "archive": (str, NUL), "new_messages": list}
SUMMARY_KEYS = {"run_at": str, "run_id": str, "channel_id": int, "channel_username": (str, NUL), "mode": str,
                "dry_run": bool, "date_from": (str, NUL), "date_to": (str, NUL), "scanned_messages": int,
                "new_messages": int, "media_saved": int, "media_skipped_by_size": int, "media_dedup_hits": int,
                "media_errors_count": int, "partial_failure": bool, "known_size_mb": float,
                "unknown_size_count": int, "flood_wait_events": int, "export_dir": str}
MESSAGE_KEYS = {"id": int, "date": str, "text": str, "media_files": list, "forwarded": (dict, NUL),
                "reply_to_msg_id": (int, NUL), "views": (int, NUL), "forwards": (int, NUL)}
FORWARD_KEYS = {"from_name": (str, NUL), "date": (str, NUL), "channel_post_id": (int, NUL),
                "post_author": (str, NUL)}
STATE_KEYS = {"channel_id": int, "channel_username": (str, NUL), "last_message_id": int,
              "last_update_at": (str, NUL), "messages_total": int, "media_total": int}
CHANNEL_INFO_KEYS = {"id": int, "username": (str, NUL), "title": (str, NUL)}


def check_keys(obj: Any, spec: dict[str, Any], where: str, exact: bool = False) -> None:
    """Every key of `spec` is present with its type (bool is never an int here)."""
    assert isinstance(obj, dict), f"{where}: not an object"
    for key, types in spec.items():
        assert key in obj, f"{where}: missing key {key!r}"
        value = obj[key]
        allowed = types if isinstance(types, tuple) else (types,)
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        assert ok, f"{where}: {key!r} = {value!r} is not {allowed}"
    if exact:
        assert set(obj) == set(spec), f"{where}: unexpected keys {sorted(set(obj) - set(spec))}"


def check_media_item(item: dict[str, Any], export_dir: Path, where: str) -> None:
    assert item["type"] in ("photo", "video", "document"), where
    if item.get("error") is not None:
        assert item["path"] is None and item["filename"] is None, where
        assert item["error"] in ("file_reference_expired", "download_timeout", "retry_exhausted"), where
        return
    if item["path"] is None:  # skipped by size
        assert item["filename"] is None, where
        return
    check_keys(item, {"path": str, "filename": str, "sha256": str}, where)
    assert SHA.match(item["sha256"]), where
    assert not item["path"].startswith("/") and ".." not in item["path"].split("/") and "\\" not in item["path"]
    assert item["path"].startswith(f"media/{item['type']}s/"), where
    assert (export_dir / item["path"]).is_file(), f"{where}: {item['path']} missing"
    if "size" in item:
        assert isinstance(item["size"], int) and (export_dir / item["path"]).stat().st_size == item["size"], where


def check_message(msg: dict[str, Any], export_dir: Path) -> None:
    where = f"message {msg.get('id')}"
    check_keys(msg, MESSAGE_KEYS, where)
    assert ISO.match(msg["date"]), where
    if msg["forwarded"] is not None:
        check_keys(msg["forwarded"], FORWARD_KEYS, where + " forwarded", exact=True)
        assert msg["forwarded"]["date"] is None or ISO.match(msg["forwarded"]["date"]), where
    for item in msg["media_files"]:
        check_media_item(item, export_dir, where)


def check_ascending_unique(messages: list[dict[str, Any]]) -> None:
    ids = [m["id"] for m in messages]
    assert ids == sorted(set(ids)), "message ids are not ascending and unique"


def load(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def parse(tmp_path: Path, session: Path, *extra: str) -> dict[str, Any]:
    args = ["parse", "--channel", f"https://t.me/{CHANNEL}", "--session-file", str(session),
            "--output-dir", str(tmp_path / "out"), "--mode", "normal", *extra]
    proc = run_cli(args, cli_env(tmp_path), timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    return json.loads(proc.stdout)


def check_files(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check every file the result names; return (export.json, state.json)."""
    export_dir = Path(result["export_dir"])
    assert export_dir.is_absolute() and export_dir.is_dir()
    assert re.fullmatch(rf"{CHANNEL}__\d{{4}}-\d{{2}}-\d{{2}}_\d{{2}}-\d{{2}}", export_dir.name), export_dir.name
    export = load(result["export_json"])
    check_keys(export, {"channel_info": dict, "messages": list, "export_date": str, "total_messages": int},
               "export.json")
    check_keys(export["channel_info"], CHANNEL_INFO_KEYS, "channel_info")
    assert ISO.match(export["export_date"]) and export["total_messages"] == len(export["messages"])
    check_ascending_unique(export["messages"])
    for msg in export["messages"]:
        check_message(msg, export_dir)
    state = load(result["state_json"])
    check_keys(state, STATE_KEYS, "state.json")
    assert state["messages_total"] == len(export["messages"])
    assert state["last_message_id"] == export["messages"][-1]["id"]
    assert state["media_total"] == sum(len(m["media_files"]) for m in export["messages"])
    index = load(result["media_index_json"])
    check_keys(index, {"sha256_to_path": dict}, "media-index.json", exact=True)
    for sha, rel in index["sha256_to_path"].items():
        assert SHA.match(sha) and (export_dir / rel).is_file(), rel
    summary = load(result["summary_json"])
    check_keys(summary, SUMMARY_KEYS, "summary.json")
    assert summary == result["summary"]
    return export, state


def check_result(result: dict[str, Any]) -> None:
    check_keys(result, RESULT_KEYS, "stdout result", exact=True)
    summary = result["summary"]
    check_keys(summary, SUMMARY_KEYS, "summary")
    assert re.fullmatch(r"[0-9a-f]{8}", summary["run_id"]) and ISO.match(summary["run_at"])
    assert summary["known_size_mb"] == round(summary["known_size_mb"], 3)
    assert summary["export_dir"] == result["export_dir"] and Path(summary["export_dir"]).is_absolute()
    assert result["partial_failure"] == summary["partial_failure"]
    assert summary["new_messages"] == len(result["new_messages"])
    for name in ("export_json", "state_json", "media_index_json", "summary_json"):
        assert Path(result[name]).parent == Path(result["export_dir"]), name


def check_logs(export_dir: Path, run_id: str) -> None:
    lines = (export_dir / "logs" / "run.log").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    for event in events:
        check_keys(event, {"ts": str, "level": str, "event": str, "data": dict}, "run.log line", exact=True)
        assert event["level"] in ("INFO", "ERROR") and ISO.match(event["ts"])
    mine = [e for e in events if e["data"].get("run_id") == run_id]
    names = [e["event"] for e in mine]
    assert names[0] == "run_started" and names[-1] == "run_finished", names
    assert mine[-1]["data"]["new_messages"] >= 0 and mine[-1]["data"]["run_id"] == run_id


def test_output_contract(tmp_path: Path) -> None:
    """Every key and type of the stdout result and of the four JSON files, plus the export logs."""
    with running_server("demo") as server:
        session = make_session(server, tmp_path / "s.session")
        result = parse(tmp_path, session)
    check_result(result)
    export, state = check_files(result)
    assert export["channel_info"]["username"] == CHANNEL and state["channel_username"] == CHANNEL
    assert result["summary"]["new_messages"] == len(export["messages"]) == 1200
    assert result["summary"]["media_saved"] > 0 and result["summary"]["dry_run"] is False
    assert any(m["media_files"] for m in export["messages"]) and any(m["forwarded"] for m in export["messages"])
    check_logs(Path(result["export_dir"]), result["summary"]["run_id"])


def test_incremental_run_appends_exactly_the_new_messages(tmp_path: Path) -> None:
    """A second run after 150 messages were added on the server appends exactly those, with ~N/100 requests."""
    with running_server("demo") as server:
        session = make_session(server, tmp_path / "s.session")
        first = parse(tmp_path, session)
        before = load(first["export_json"])["messages"]
        new_ids = server_call(server, server.world.append_messages, CHANNEL, 150)
        server.requests.reset()
        second = parse(tmp_path, session)
        history_calls = server.requests.count("messages.getHistory")
        resolves = server.requests.count("contacts.resolveUsername")
    check_result(second)
    export, state = check_files(second)
    assert second["export_dir"] == first["export_dir"], "update mode must reuse the export directory"
    assert [m["id"] for m in second["new_messages"]] == new_ids
    assert export["messages"][: len(before)] == before
    assert [m["id"] for m in export["messages"][len(before):]] == new_ids
    assert state["last_message_id"] == new_ids[-1] and second["summary"]["new_messages"] == 150
    assert history_calls <= 150 // 100 + 2, f"{history_calls} getHistory calls for 150 new messages"
    assert resolves == 0, "the incremental run resolved the username again"


if __name__ == "__main__":
    sys.exit(run_smoke(globals()))
