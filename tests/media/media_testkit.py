"""Shared helpers of the media tests: scenarios, CLI runs against the local server, logs, request log."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from testkit.cli import cli_env, run_cli

MIB = 1024 * 1024
CHANNEL_ID = 1777000111
USERNAME = "media_chan"


def doc(mid: int, size: int, name: str = "file.bin", **extra: Any) -> dict[str, Any]:
    return {"id": mid, "text": f"m{mid}", "media": {"type": "document", "size": size,
                                                   "mime_type": "application/octet-stream",
                                                   "file_name": name, **extra}}


def scenario(messages: list[dict[str, Any]], faults: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"channels": [{"id": CHANNEL_ID, "access_hash": 4242, "username": USERNAME, "title": "Media",
                          "messages": messages}], "faults": faults or []}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_args(tmp_path: Path, *extra: str, mode: str = "normal") -> list[str]:
    return ["parse", "--channel", f"@{USERNAME}", "--session-file", str(tmp_path / "acc"),
            "--output-dir", str(tmp_path / "out"), "--mode", mode, *extra]


def env_for(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    return cli_env(tmp_path, **overrides)


def parse(tmp_path: Path, *extra: str, mode: str = "normal", expect: int | None = 0,
          **env: str | None) -> Any:
    """Run `parse` to completion; checks the exit code when `expect` is given."""
    done = run_cli(parse_args(tmp_path, *extra, mode=mode), env_for(tmp_path, **env))
    if expect is not None:
        assert done.returncode == expect, (done.returncode, done.stderr)
    return done


def export_dir(tmp_path: Path) -> Path:
    found = [p for p in (tmp_path / "out").glob(f"{USERNAME}__*") if p.is_dir()]
    assert len(found) == 1, found
    return found[0]


def events(export: Path, name: str | None = None) -> list[dict[str, Any]]:
    lines = (export / "logs" / "run.log").read_text(encoding="utf-8").splitlines()
    evts = [json.loads(line) for line in lines if line.strip()]
    return [e["data"] for e in evts if name is None or e["event"] == name]


def outcomes(export: Path, mid: int) -> list[str]:
    return [e["outcome"] for e in events(export, "media_download_finished") if e["message_id"] == mid]


def messages(export: Path) -> dict[int, dict[str, Any]]:
    data = json.loads((export / "export.json").read_text(encoding="utf-8"))
    return {m["id"]: m for m in data["messages"]}


def offsets(server: Any, mid: int) -> list[tuple[int, int]]:
    """(offset, limit) of every upload.getFile the server saw for message `mid`'s media, in order."""
    calls = server.requests.entries("upload.getFile")
    return [(c["params"]["offset"], c["params"]["limit"]) for c in calls
            if c["params"]["location"]["id"] & 0xFFFFFF == mid]


def check_stored(export: Path, server: Any, mid: int) -> dict[str, Any]:
    """The message's one item is stored with the server's bytes; returns the item."""
    expected = server.world.expected_bytes(USERNAME, mid)
    [item] = messages(export)[mid]["media_files"]
    assert item["sha256"] == sha(expected) and item["size"] == len(expected)
    assert sha((export / item["path"]).read_bytes()) == item["sha256"]
    return item
