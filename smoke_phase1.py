"""Smoke phase 1: exit codes and partial failure of the real CLI against the local test server.

    python smoke_phase1.py        # PASS/FAIL lines, exit 0/1 (also collected by pytest)

Media faults (an expired file reference that stays expired, a stalled download, a download
that fails every retry) must end `parse` with exit 2, the right per-item `error` values,
`media_errors_count`, `partial_failure: true` and PARTIAL_FAILURE in `run_finished`; a
clean run exits 0; missing configuration exits 1.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from testkit.cli import cli_env, read_app_log, run_cli
from testkit.server import make_session, running_server

CHANNEL = {"id": 1234567890, "access_hash": 555, "username": "smoke_media", "title": "Smoke media"}
PART = 128 * 1024


def _messages() -> list[dict[str, Any]]:
    """1 photo, 2 pdf, 3 video, 4 text-only: the clean part of every scenario."""
    return [
        {"id": 1, "text": "photo", "media": {"type": "photo", "size": 40000}},
        {"id": 2, "text": "pdf", "media": {"type": "document", "size": 3 * PART, "mime_type": "application/pdf",
                                           "file_name": "../../report.pdf"}},
        {"id": 3, "text": "video", "media": {"type": "video", "size": 150000, "mime_type": "video/mp4",
                                             "file_name": "clip.mp4"}},
        {"id": 4, "text": "plain"},
    ]


def _bad(mid: int) -> dict[str, Any]:
    return {"id": mid, "text": f"bad {mid}", "media": {"type": "document", "size": 3 * PART,
                                                      "mime_type": "application/zip", "file_name": f"bad{mid}.zip"}}


FAULTS = {
    "file_reference_expired": {"kind": "file_reference_expired", "message_id": 5, "forever": True},
    "download_timeout": {"kind": "stall", "message_id": 5, "offset": 0, "times": None},
    "retry_exhausted": {"kind": "rpc_error", "method": "upload.getFile", "message_id": 5, "times": None,
                        "code": 502, "message": "BAD_GATEWAY"},
}


def _parse(tmp_path: Path, scenario: dict[str, Any], **env_extra: str) -> tuple[Any, Any, dict[str, Any]]:
    """Run `parse --mode normal` on the scenario; (server, completed process, env)."""
    with running_server(scenario) as server:
        make_session(server, tmp_path / "acc.session")
        env = cli_env(tmp_path, TELEGRAM_PARSER_MEDIA_TIMEOUT="2", **env_extra)
        result = run_cli(["parse", "--channel", "@smoke_media", "--mode", "normal", "--session-file",
                          str(tmp_path / "acc"), "--output-dir", str(tmp_path / "out")], env, timeout=90)
        return server, result, env


def _export_dir(tmp_path: Path) -> Path:
    dirs = sorted((tmp_path / "out").glob("smoke_media__*"))
    assert len(dirs) == 1, dirs
    return dirs[0]


def _events(export_dir: Path) -> list[dict[str, Any]]:
    text = (export_dir / "logs" / "run.log").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _items(export_dir: Path) -> dict[int, list[dict[str, Any]]]:
    export = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    return {m["id"]: m["media_files"] for m in export["messages"]}


def _check_download_events(events: list[dict[str, Any]]) -> None:
    """One finished per start, per message; no names or text in them."""
    starts = sorted(e["data"]["message_id"] for e in events if e["event"] == "media_download_start")
    ends = [e["data"] for e in events if e["event"] == "media_download_finished"]
    assert starts == sorted(e["message_id"] for e in ends), (starts, ends)
    assert all(e["outcome"] in ("success", "timeout", "error") for e in ends)
    dumped = json.dumps([e for e in events if e["event"].startswith("media_download")])
    assert "report" not in dumped and "clip.mp4" not in dumped and "plain" not in dumped


def _check_clean_items(server: Any, export_dir: Path, items: dict[int, list[dict[str, Any]]]) -> None:
    assert items[4] == []
    for mid, path in ((1, "media/photos/1.jpg"), (2, "media/documents/2_report.pdf"),
                      (3, "media/videos/3_clip.mp4")):
        item, = items[mid]
        expected = server.world.expected_bytes(CHANNEL["id"], mid)
        assert item["path"] == path, item
        assert item["sha256"] == hashlib.sha256(expected).hexdigest() == hashlib.sha256(
            (export_dir / path).read_bytes()).hexdigest()
        assert item["size"] == len(expected)


def _check_partial(tmp_path: Path, error: str) -> list[dict[str, Any]]:
    scenario = {"channels": [{**CHANNEL, "messages": _messages() + [_bad(5)]}], "faults": [FAULTS[error]]}
    server, result, _ = _parse(tmp_path, scenario)
    assert result.returncode == 2, (result.returncode, result.stderr)
    out = json.loads(result.stdout)
    export_dir = _export_dir(tmp_path)
    items = _items(export_dir)
    assert items[5] == [{"type": "document", "path": None, "filename": None, "error": error}], items[5]
    _check_clean_items(server, export_dir, items)
    summary = json.loads((export_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["media_errors_count"] == 1 and summary["partial_failure"] is True
    assert summary["media_saved"] == 3
    assert out["partial_failure"] is True and out["summary"] == summary
    events = _events(export_dir)
    finished, = [e for e in events if e["event"] == "run_finished"]
    assert finished["data"]["error_code"] == "PARTIAL_FAILURE"
    assert finished["data"]["media_errors_count"] == 1
    _check_download_events(events)
    assert not list(export_dir.rglob("*.part")), "temp files of failed downloads were left"
    return events


def test_expired_reference_stays_expired_exit_2(tmp_path):
    events = _check_partial(tmp_path, "file_reference_expired")
    names = [e["event"] for e in events]
    assert "file_reference_expired" in names and "file_reference_retry_failed" in names


def test_download_timeout_exit_2(tmp_path):
    events = _check_partial(tmp_path, "download_timeout")
    outcomes = [e["data"]["outcome"] for e in events
                if e["event"] == "media_download_finished" and e["data"]["message_id"] == 5]
    assert outcomes == ["timeout"] * 4  # normal mode: the first attempt and 3 retries, each stalled


def test_retry_exhausted_exit_2(tmp_path):
    events = _check_partial(tmp_path, "retry_exhausted")
    retries = [e["data"]["attempt"] for e in events if e["event"] == "retry"]
    assert retries == [1, 2, 3]  # normal mode: 3 retries
    assert [e["event"] for e in events].count("retry_exhausted") == 1


def test_all_three_failures_in_one_run_exit_2(tmp_path):
    faults = [dict(FAULTS["file_reference_expired"], message_id=5), dict(FAULTS["download_timeout"], message_id=6),
              dict(FAULTS["retry_exhausted"], message_id=7)]
    scenario = {"channels": [{**CHANNEL, "messages": _messages() + [_bad(5), _bad(6), _bad(7)]}], "faults": faults}
    server, result, _ = _parse(tmp_path, scenario)
    assert result.returncode == 2, result.stderr
    export_dir = _export_dir(tmp_path)
    items = _items(export_dir)
    assert [items[m][0]["error"] for m in (5, 6, 7)] == ["file_reference_expired", "download_timeout",
                                                         "retry_exhausted"]
    summary = json.loads((export_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["media_errors_count"] == 3 and summary["partial_failure"] is True
    _check_clean_items(server, export_dir, items)
    _check_download_events(_events(export_dir))


def test_clean_run_exit_0(tmp_path):
    scenario = {"channels": [{**CHANNEL, "messages": _messages()}]}
    server, result, _ = _parse(tmp_path, scenario)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["partial_failure"] is False and out["summary"]["media_errors_count"] == 0
    export_dir = _export_dir(tmp_path)
    items = _items(export_dir)
    _check_clean_items(server, export_dir, items)
    index = json.loads((export_dir / "media-index.json").read_text(encoding="utf-8"))["sha256_to_path"]
    assert sorted(index.values()) == sorted(items[m][0]["path"] for m in (1, 2, 3))
    events = _events(export_dir)
    finished, = [e for e in events if e["event"] == "run_finished"]
    assert "error_code" not in finished["data"]
    _check_download_events(events)
    assert [e["data"]["outcome"] for e in events if e["event"] == "media_download_finished"] == ["success"] * 3


def test_missing_config_exit_1(tmp_path):
    env = cli_env(tmp_path, TELEGRAM_API_ID=None, TELEGRAM_API_HASH=None)
    result = run_cli(["parse", "--channel", "@smoke_media", "--output-dir", str(tmp_path / "out")], env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "error_code=CONFIG_ERROR" in read_app_log(env)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


if __name__ == "__main__":
    from testkit.smoke import run_smoke

    sys.exit(run_smoke(globals()))
