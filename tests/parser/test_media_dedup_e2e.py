"""SHA-256 media dedup end to end: the real CLI against the test server, where different messages
carry different documents/photos (own ids) with identical bytes (`content_of`)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, running_server, server_call

CHANNEL = "dedup_chan"
DOC_SIZE = 300 * 1024
PHOTO_SIZE = 90_000


def doc(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "document", "mime_type": "application/octet-stream", "file_name": name, **extra}


MESSAGES = [
    {"id": 1, "text": "no media"},
    {"id": 2, "media": doc("a.bin", size=DOC_SIZE)},
    {"id": 3, "media": {"type": "photo", "size": PHOTO_SIZE, "w": 800, "h": 600}},
    {"id": 4, "media": doc("b.bin", content_of=2)},
    {"id": 5, "media": doc("c.bin", content_of=2)},
    {"id": 6, "media": {"type": "photo", "content_of": 3}},
    {"id": 7, "media": doc("d.bin", size=DOC_SIZE)},  # same size, other bytes: stored on its own
]
SCENARIO = {"channels": [{"id": 1999000222, "username": CHANNEL, "title": "Dedup", "messages": MESSAGES}]}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse(tmp_path: Path, mode: str) -> dict[str, Any]:
    env = cli_env(tmp_path)
    result = run_cli(["parse", "--channel", CHANNEL, "--session-file", "acc", "--output-dir", "out",
                      "--mode", mode], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stored_files(export_dir: Path) -> list[str]:
    return sorted(p.relative_to(export_dir).as_posix() for p in (export_dir / "media").rglob("*") if p.is_file())


def items_by_id(export_dir: Path) -> dict[int, list[dict[str, Any]]]:
    export = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    return {m["id"]: m["media_files"] for m in export["messages"]}


def check_export(export_dir: Path, server: Any, groups: list[list[int]]) -> dict[int, str]:
    """Each group (ids with the same bytes): one stored file, indexed, every item the same; {first id: path}."""
    items = items_by_id(export_dir)
    index = json.loads((export_dir / "media-index.json").read_text(encoding="utf-8"))["sha256_to_path"]
    paths = {}
    for first, *others in groups:
        expected = server.world.expected_bytes(CHANNEL, first)
        [item] = items[first]
        assert item["sha256"] == sha(expected) and item["size"] == len(expected)
        assert (export_dir / item["path"]).read_bytes() == expected
        assert index[item["sha256"]] == item["path"]
        for mid in others:  # a dedup hit keeps every key (media.py docstring): size is the downloaded size
            assert items[mid] == [item], mid
        paths[first] = item["path"]
    assert stored_files(export_dir) == sorted(index.values())
    assert len(index) == len(groups)
    return paths


FIRST_PATHS = {2: "media/documents/2_a.bin", 3: "media/photos/3.jpg", 7: "media/documents/7_d.bin"}


@pytest.mark.parametrize("mode", ["safe", "normal"])
def test_identical_bytes_are_stored_once_across_runs(tmp_path: Path, mode: str) -> None:
    with running_server(SCENARIO) as server:
        make_session(server, tmp_path / "acc.session")
        first = parse(tmp_path, mode)
        export_dir = Path(first["export_dir"])
        summary = first["summary"]
        assert (summary["media_saved"], summary["media_dedup_hits"], summary["media_errors_count"]) == (3, 3, 0)
        paths = check_export(export_dir, server, [[2, 4, 5], [3, 6], [7]])
        if mode == "safe":  # one download at a time, in id order: the first message owns the copy
            assert paths == FIRST_PATHS
        files_before = stored_files(export_dir)

        new_ids = server_call(server, server.world.append_messages, CHANNEL, None, [
            {"media": doc("late.bin", content_of=5)}, {"media": {"type": "photo", "content_of": 6}}])
        second = parse(tmp_path, mode)
        assert second["export_dir"] == first["export_dir"]
        assert [m["id"] for m in second["new_messages"]] == new_ids
        summary = second["summary"]
        assert (summary["media_saved"], summary["media_dedup_hits"], summary["media_errors_count"]) == (0, 2, 0)
        assert stored_files(export_dir) == files_before
        assert check_export(export_dir, server, [[2, 4, 5, new_ids[0]], [3, 6, new_ids[1]], [7]]) == paths
        state = json.loads((export_dir / "state.json").read_text(encoding="utf-8"))
        assert (state["last_message_id"], state["media_total"]) == (new_ids[-1], 8)


def test_parallel_downloads_keep_the_first_message_copy(tmp_path: Path) -> None:
    """Message 2 finishes last, yet its copy is the stored one: storing follows id order."""
    slow_first = {**SCENARIO, "faults": [{"kind": "slow", "channel": CHANNEL, "message_id": 2, "delay": 0.5}]}
    with running_server(slow_first) as server:
        make_session(server, tmp_path / "acc.session")
        export_dir = Path(parse(tmp_path, "normal")["export_dir"])
        assert check_export(export_dir, server, [[2, 4, 5], [3, 6], [7]]) == FIRST_PATHS
