"""Parallel downloads and the bounded pipeline (real CLI): `normal` (two downloads at once, history
paging going on meanwhile) writes exactly the export a sequential `safe` run writes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from media_testkit import MIB, USERNAME, doc, scenario

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, running_server


def _media(mid: int) -> dict[str, Any] | None:
    if mid % 7:
        return None
    kind = (mid // 7) % 5
    if kind == 0:
        return {"type": "photo", "size": 90_000 + mid, "w": 800, "h": 600}
    if kind == 1:
        return doc(mid, MIB + 4096 * mid, f"big{mid}.bin")["media"]
    if kind == 2 and mid > 14:
        return {"type": "document", "file_name": f"copy{mid}.bin", "content_of": 14}  # same bytes as 14
    return doc(mid, 3000 + mid, f"f{mid}.txt")["media"]


MESSAGES = [{"id": i, "text": f"t{i}", **({"media": m} if (m := _media(i)) else {})} for i in range(1, 251)]
FAULTS = [{"kind": "slow", "method": "upload.getFile", "delay": 0.05, "times": None}]


def _run(server: Any, root: Path, mode: str) -> Path:
    make_session(server, root / "acc.session")
    done = run_cli(["parse", "--channel", f"@{USERNAME}", "--session-file", str(root / "acc"),
                    "--output-dir", str(root / "out"), "--mode", mode], cli_env(root))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # not a terminal: no progress display
    json.loads(done.stdout)  # stdout is one JSON document
    export, = (root / "out").glob(f"{USERNAME}__*")
    return export


def _content(export: Path) -> dict[str, Any]:
    data = json.loads((export / "export.json").read_text(encoding="utf-8"))
    files = {p.relative_to(export).as_posix(): p.read_bytes() for p in (export / "media").rglob("*") if p.is_file()}
    index = json.loads((export / "media-index.json").read_text(encoding="utf-8"))
    raw_state = json.loads((export / "state.json").read_text(encoding="utf-8"))
    state = {k: raw_state[k] for k in ("channel_id", "channel_username", "last_message_id", "messages_total",
                                       "media_total")}
    return {"messages": data["messages"], "files": files, "index": index, "state": state}


@pytest.mark.slow
def test_parallel_export_equals_sequential(tmp_path: Path) -> None:
    with running_server(scenario(MESSAGES, FAULTS)) as server:
        sequential = _content(_run(server, tmp_path / "safe", "safe"))
        server.requests.reset()
        parallel = _content(_run(server, tmp_path / "normal", "normal"))
        log = server.requests.entries()
    assert parallel == sequential
    ids = [m["id"] for m in parallel["messages"]]
    assert ids == list(range(1, 251))
    items = {m["id"]: m["media_files"] for m in parallel["messages"]}
    assert items[49][0]["path"] == items[84][0]["path"] == items[14][0]["path"]  # identical bytes: the earliest message's copy
    # the pipeline: the second history page was asked for while page one's media still downloaded
    methods = [e["method"] for e in log]
    history = [i for i, m in enumerate(methods) if m == "messages.getHistory"]
    files = [i for i, m in enumerate(methods) if m == "upload.getFile"]
    assert len(history) >= 3 and history[1] < files[-1]
