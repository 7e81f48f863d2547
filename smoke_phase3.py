"""Smoke test, phase 3: the output contract of `parse` (docs/contract.md sections 4-6).

Every key and type of the stdout result, export.json, state.json, media-index.json and
summary.json, and an incremental run that appends exactly the messages added on the server in
between — real CLI subprocesses against the local test server (no network, no account).
Run standalone (`python smoke_phase3.py`: PASS/FAIL lines, exit 0/1) or through pytest.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from telegram_test_server.world.scenario import demo_dict
from testkit.cli import cli_env, run_cli
from testkit.server import make_session, running_server, server_call
from testkit.smoke import run_smoke

CHANNEL = "demo_channel"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SHA = re.compile(r"^[0-9a-f]{64}$")
NUL = type(None)

RESULT_KEYS = {"summary": dict, "partial_failure": bool, "export_dir": str, "export_json": str, "state_json": str,
               "media_index_json": str, "summary_json": str, "archive": (str, NUL), "new_messages": list,
               "updated_messages": list}  # added: records --refresh-recent changed ([] without it)
SUMMARY_KEYS = {"run_at": str, "run_id": str, "channel_id": int, "channel_username": (str, NUL), "mode": str,
                "dry_run": bool, "date_from": (str, NUL), "date_to": (str, NUL), "scanned_messages": int,
                "new_messages": int, "media_saved": int, "media_skipped_by_size": int, "media_dedup_hits": int,
                "media_errors_count": int, "partial_failure": bool, "known_size_mb": float,
                "unknown_size_count": int, "flood_wait_events": int, "export_dir": str}
MESSAGE_KEYS = {"id": int, "date": str, "text": str, "media_files": list, "forwarded": (dict, NUL),
                "reply_to_msg_id": (int, NUL), "views": (int, NUL), "forwards": (int, NUL),
                "entities": list, "text_markdown": str, "edit_date": (str, NUL), "grouped_id": (int, NUL),
                "post_author": (str, NUL), "pinned": bool, "reactions": (dict, NUL), "replies": (dict, NUL),
                "web_page": (dict, NUL), "attachment": (dict, NUL)}
SUBTYPES = ("voice", "audio", "sticker", "animation", "round_video")
FORWARD_KEYS = {"from_name": (str, NUL), "date": (str, NUL), "channel_post_id": (int, NUL),
                "post_author": (str, NUL)}
STATE_KEYS = {"channel_id": int, "channel_username": (str, NUL), "last_message_id": int,
              "last_update_at": (str, NUL), "messages_total": int, "media_total": int}
CHANNEL_INFO_KEYS = {"id": int, "username": (str, NUL), "title": (str, NUL)}
MEDIA_TYPES = ("photo", "video", "document")
KIND_DIRS = {"photo": "photos", "video": "videos", "document": "documents"}
MEDIA_ERRORS = ("file_reference_expired", "download_timeout", "retry_exhausted")
NULL_ITEM_KEYS = {"type": str, "path": NUL, "filename": NUL}
STORED_ITEM_KEYS = {"type": str, "path": str, "filename": str, "size": int, "sha256": str}


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


def check_media_item(item: dict[str, Any], export_dir: Path, where: str, msg_id: int, seen: dict[str, str]) -> str:
    """One export.json `media_files` item against its documented shape; returns the shape's name.

    `seen` maps each stored path met so far (earlier items of the export) to its sha256: the first
    item naming a path is the stored copy, later ones are dedup hits (which may omit `size`).
    """
    assert isinstance(item, dict) and item.get("type") in MEDIA_TYPES, f"{where}: bad media item {item!r}"
    item = without_timing(item, where)
    if "error" in item:
        check_keys(item, {"type": str, "path": NUL, "filename": NUL, "error": str}, where, exact=True)
        assert item["error"] in MEDIA_ERRORS, f"{where}: error {item['error']!r}"
        return "error"
    if "skipped" in item:
        check_keys(item, {**NULL_ITEM_KEYS, "size": int, "skipped": str}, where, exact=True)
        assert item["skipped"] == "max_media_size" and item["size"] > 0, f"{where}: {item!r}"
        return "skipped"
    dedup = isinstance(item.get("path"), str) and item["path"] in seen
    keys = dict(STORED_ITEM_KEYS)
    if dedup and "size" not in item:
        del keys["size"]  # contract: a dedup hit may omit size
    check_keys(item, keys, where, exact=True)  # a null path without error/skipped fails here
    path, sha = item["path"], item["sha256"]
    assert SHA.match(sha), f"{where}: sha256 {sha!r}"
    parts = path.split("/")
    assert not path.startswith("/") and "\\" not in path and ".." not in parts and "" not in parts, where
    assert len(parts) == 3 and parts[:2] == ["media", KIND_DIRS[item["type"]]], f"{where}: {path}"
    assert item["filename"] == parts[-1], f"{where}: filename {item['filename']!r} vs {path}"
    stored = export_dir / path
    assert stored.is_file() and not stored.is_symlink(), f"{where}: {path} missing"
    if "size" in item:
        assert item["size"] == stored.stat().st_size, f"{where}: size {item['size']} vs file"
    if dedup:
        assert seen[path] == sha, f"{where}: dedup hit of {path} with another sha256"
        return "dedup"
    assert re.match(rf"{msg_id}[._]", item["filename"]), f"{where}: {item['filename']!r} does not start with the id"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha, f"{where}: sha256 does not match {path}"
    seen[path] = sha
    return "stored"


def without_timing(item: dict[str, Any], where: str) -> dict[str, Any]:
    """The item without its optional `subtype` and `duration`, after checking them."""
    assert item.get("subtype", "voice") in SUBTYPES, f"{where}: subtype {item.get('subtype')!r}"
    duration = item.get("duration", 0)
    assert isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0, where
    return {k: v for k, v in item.items() if k not in ("subtype", "duration")}


def check_dry_item(item: dict[str, Any], where: str) -> None:
    """A dry-run item: `{"type", "path": null, "filename": null, "size": known size or null}`."""
    assert isinstance(item, dict) and item.get("type") in MEDIA_TYPES, f"{where}: bad media item {item!r}"
    item = without_timing(item, where)
    check_keys(item, {**NULL_ITEM_KEYS, "size": (int, NUL)}, where, exact=True)
    assert item["size"] is None or item["size"] >= 0, where


def check_message(msg: dict[str, Any], export_dir: Path, seen: dict[str, str]) -> list[str]:
    """One export.json message; returns the shapes of its media items."""
    where = f"message {msg.get('id')}"
    check_keys(msg, MESSAGE_KEYS, where)
    assert ISO.match(msg["date"]), where
    if msg["forwarded"] is not None:
        check_keys(msg["forwarded"], FORWARD_KEYS, where + " forwarded", exact=True)
        assert msg["forwarded"]["date"] is None or ISO.match(msg["forwarded"]["date"]), where
    return [check_media_item(item, export_dir, where, msg["id"], seen) for item in msg["media_files"]]


def check_ascending_unique(messages: list[dict[str, Any]]) -> None:
    ids = [m["id"] for m in messages]
    assert ids == sorted(set(ids)), "message ids are not ascending and unique"


def load(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def parse(tmp_path: Path, session: Path, *extra: str, exit_code: int = 0) -> dict[str, Any]:
    args = ["parse", "--channel", f"https://t.me/{CHANNEL}", "--session-file", str(session),
            "--output-dir", str(tmp_path / "out"), "--mode", "normal", *extra]
    proc = run_cli(args, cli_env(tmp_path), timeout=300)
    assert proc.returncode == exit_code, f"exit {proc.returncode}: {proc.stderr}"
    return json.loads(proc.stdout)


def check_files(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Counter[str]]:
    """Check every file the result names; return (export.json, state.json, media item shapes seen)."""
    export_dir = Path(result["export_dir"])
    assert export_dir.is_absolute() and export_dir.is_dir()
    assert re.fullmatch(rf"{CHANNEL}__\d{{4}}-\d{{2}}-\d{{2}}_\d{{2}}-\d{{2}}", export_dir.name), export_dir.name
    export = load(result["export_json"])
    check_keys(export, {"channel_info": dict, "messages": list, "export_date": str, "total_messages": int},
               "export.json")
    check_keys(export["channel_info"], CHANNEL_INFO_KEYS, "channel_info")
    assert ISO.match(export["export_date"]) and export["total_messages"] == len(export["messages"])
    check_ascending_unique(export["messages"])
    seen: dict[str, str] = {}
    shapes = Counter(shape for msg in export["messages"] for shape in check_message(msg, export_dir, seen))
    by_id = {m["id"]: m for m in export["messages"]}
    assert all(by_id.get(m["id"]) == m for m in result["new_messages"]), "stdout new_messages differ from export"
    state = load(result["state_json"])
    check_keys(state, STATE_KEYS, "state.json")
    assert state["messages_total"] == len(export["messages"])
    assert state["last_message_id"] == export["messages"][-1]["id"]
    assert state["media_total"] == sum(len(m["media_files"]) for m in export["messages"])
    index = load(result["media_index_json"])
    check_keys(index, {"sha256_to_path": dict}, "media-index.json")
    assert set(index) <= {"sha256_to_path", "file_id_to_sha256"}, f"media-index.json: unexpected keys {sorted(index)}"
    assert index["sha256_to_path"] == {sha: path for path, sha in seen.items()}, "media-index vs stored items"
    summary = load(result["summary_json"])
    check_keys(summary, SUMMARY_KEYS, "summary.json")
    assert summary == result["summary"]
    return export, state, shapes


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
    export, state, shapes = check_files(result)
    assert shapes["stored"] == result["summary"]["media_saved"] > 0 and set(shapes) == {"stored"}
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
    export, state, _ = check_files(second)
    assert second["export_dir"] == first["export_dir"], "update mode must reuse the export directory"
    assert [m["id"] for m in second["new_messages"]] == new_ids
    assert export["messages"][: len(before)] == before
    assert [m["id"] for m in export["messages"][len(before):]] == new_ids
    assert state["last_message_id"] == new_ids[-1] and second["summary"]["new_messages"] == 150
    assert history_calls <= 150 // 100 + 2, f"{history_calls} getHistory calls for 150 new messages"
    assert resolves == 0, "the incremental run resolved the username again"



def _all_shapes_scenario() -> dict[str, Any]:
    """The demo channel plus two same-bytes media (dedup hits) and one media that always fails."""
    scenario = demo_dict()
    channel = scenario["channels"][0]
    channel["messages"] += [
        {"id": 1151, "text": "same bytes as 901", "media": {"type": "document", "content_of": 901,
                                                            "file_name": "copy.pdf", "mime_type": "application/pdf"}},
        {"id": 1153, "text": "same photo as 50", "media": {"type": "photo", "content_of": 50}},
    ]
    scenario["faults"] = [{"kind": "file_reference_expired", "channel": channel["id"], "message_id": 37,
                           "forever": True}]
    return scenario


def test_media_item_shapes(tmp_path: Path) -> None:
    """Dry-run items, then stored, dedup-hit, skipped (--max-media-size 1) and failed items, each in its exact shape."""
    with running_server(_all_shapes_scenario()) as server:
        session = make_session(server, tmp_path / "s.session")
        dry = parse(tmp_path, session, "--dry-run", "--max-media-size", "1")
        real = parse(tmp_path, session, "--max-media-size", "1", exit_code=2)
    check_result(dry)
    dry_items = [(m["id"], i) for m in dry["new_messages"] for i in m["media_files"]]
    for mid, item in dry_items:
        check_dry_item(item, f"dry-run message {mid}")
    assert dry_items and dry["summary"]["dry_run"] is True and dry["summary"]["media_skipped_by_size"] == 2
    check_result(real)
    _, _, shapes = check_files(real)
    summary = real["summary"]
    assert set(shapes) == {"stored", "dedup", "skipped", "error"}, shapes
    assert shapes["stored"] == summary["media_saved"] and shapes["dedup"] == summary["media_dedup_hits"] == 2
    assert shapes["skipped"] == summary["media_skipped_by_size"] == 2  # 11 (1.5 MiB) and 1001 (6 MiB)
    assert shapes["error"] == summary["media_errors_count"] == 1 and real["partial_failure"] is True
    assert sum(shapes.values()) == len(dry_items)


if __name__ == "__main__":
    sys.exit(run_smoke(globals()))
