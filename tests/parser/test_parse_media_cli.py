"""End-to-end: `--max-media-size` through the real CLI in a real (non-dry) run.

The limit is in MiB (`limit * 1024 * 1024` bytes) and skips only media *larger* than it
(tgexport/media/download.py): a file of exactly the limit is downloaded, one byte more is not.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from testkit.cli import cli_env, run_cli
from testkit.server import make_session

CHANNEL_ID = 1234567890
MIB = 1024 * 1024
LIMIT_MB = 1
LIMIT_BYTES = LIMIT_MB * MIB
STORED = {  # message id -> (type, size): at or under the limit, downloaded
    2: ("photo", 30000),
    3: ("document", 300 * 1024),
    7: ("document", LIMIT_BYTES),
}
SKIPPED = {  # message id -> (type, size): over the limit, never downloaded
    4: ("photo", 2 * MIB),
    5: ("document", 3 * MIB // 2),
    9: ("document", LIMIT_BYTES + 1),
    11: ("video", 3 * MIB),
}
DATA_FILES = {"export.json", "state.json", "media-index.json", "summary.json", "logs/run.log", "logs/errors.log"}
MEDIA = [
    {"ids": [2], "type": "photo", "size": 30000},
    {"ids": [3], "type": "document", "size": 300 * 1024, "mime_type": "application/pdf", "file_name": "small.pdf"},
    {"ids": [4], "type": "photo", "size": 2 * MIB},
    {"ids": [5], "type": "document", "size": 3 * MIB // 2, "mime_type": "application/zip", "file_name": "big.zip"},
    {"ids": [7], "type": "document", "size": LIMIT_BYTES, "file_name": "edge.bin"},
    {"ids": [9], "type": "document", "size": LIMIT_BYTES + 1, "file_name": "over.bin"},
    {"ids": [11], "type": "video", "size": 3 * MIB, "mime_type": "video/mp4", "file_name": "clip.mp4"},
]


def _scenario() -> dict[str, Any]:
    return {"channels": [{"id": CHANNEL_ID, "username": "size_channel", "title": "Sizes",
                          "generate": {"count": 12, "text_length": 16, "media": MEDIA}}]}


def _run_parse(server: Any, tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    session = make_session(server, tmp_path / "s.session")
    proc = run_cli(["parse", "--channel", "@size_channel", "--session-file", str(session),
                    "--output-dir", str(tmp_path / "out"), "--mode", "normal",
                    "--max-media-size", str(LIMIT_MB)], cli_env(tmp_path))
    return proc, (json.loads(proc.stdout) if proc.stdout.strip() else {})


def _items(messages: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    return {m["id"]: m["media_files"] for m in messages if m["media_files"]}


def _files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _downloaded_message_ids(server: Any) -> set[int]:
    """Message ids whose media the server was asked for (media id = channel << 24 | message id)."""
    return {e["params"]["location"]["id"] & 0xFFFFFF for e in server.requests.entries("upload.getFile")}


def test_max_media_size_skips_larger_media_and_keeps_the_rest(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario())
    proc, result = _run_parse(server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    export_dir = Path(result["export_dir"])
    export = json.loads((export_dir / "export.json").read_text("utf-8"))
    items = _items(export["messages"])
    assert items == _items(result["new_messages"])
    assert set(items) == set(STORED) | set(SKIPPED)

    for mid, (kind, size) in SKIPPED.items():
        timed = {"duration": 10.0} if kind == "video" else {}  # the server's default video duration
        assert items[mid] == [{"type": kind, "path": None, "filename": None, "size": size,
                               "skipped": "max_media_size", **timed}], mid
    stored_paths = set()
    for mid, (kind, size) in STORED.items():
        (item,) = items[mid]
        timed = {"duration"} if kind == "video" else set()
        assert set(item) == {"type", "path", "filename", "size", "sha256", *timed} and item["type"] == kind, item
        data = (export_dir / item["path"]).read_bytes()
        assert item["size"] == size == len(data) and data == server.world.expected_bytes(CHANNEL_ID, mid)
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        assert item["filename"].startswith(f"{mid}") and item["path"] == f"media/{kind}s/{item['filename']}"
        stored_paths.add(item["path"])

    # nothing of a skipped item on disk, and it was never requested from Telegram
    assert _files_under(export_dir) == stored_paths | DATA_FILES
    index = json.loads((export_dir / "media-index.json").read_text("utf-8"))["sha256_to_path"]
    assert set(index.values()) == stored_paths
    assert _downloaded_message_ids(server) == set(STORED)

    summary = result["summary"]
    assert summary["media_skipped_by_size"] == len(SKIPPED) == 4
    assert summary["media_saved"] == len(stored_paths) == len(STORED) == 3
    assert summary["media_dedup_hits"] == 0 and summary["media_errors_count"] == 0
    assert summary["partial_failure"] is False and result["partial_failure"] is False
    assert summary["known_size_mb"] == round(sum(s for _, s in STORED.values()) / MIB, 3)
    assert json.loads((export_dir / "summary.json").read_text("utf-8")) == summary
