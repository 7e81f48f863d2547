"""End-to-end: an account-wide stop (FloodWait over --max-flood-wait on a history request) with
media downloads in flight saves every message fetched: the queued downloads run, the whole page is
committed with its media, stdout lists it, and the next run does not fetch that page again."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from testkit.cli import cli_env, run_cli
from testkit.server import make_session
from tgexport.core.atomic_json import dump_json_text

CHANNEL_ID = 1234567890
COUNT = 150  # a first page of 100, then the refused second getHistory


def _scenario() -> dict[str, Any]:
    media = [{"every": 20, "type": "photo", "size": 30000}]
    faults = [{"kind": "flood_wait", "method": "messages.getHistory", "call": 2, "seconds": 100, "times": 1},
              {"kind": "slow", "method": "upload.getFile", "delay": 0.2, "times": 2}]
    return {"channels": [{"id": CHANNEL_ID, "username": "test_channel", "title": "Test channel",
                          "generate": {"count": COUNT, "text_length": 16, "media": media}}], "faults": faults}


def _export_dir(tmp_path: Path) -> Path:
    (export_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    return export_dir


def _events(export_dir: Path) -> list[dict[str, Any]]:
    lines = (export_dir / "logs" / "run.log").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_flood_wait_on_history_saves_the_fetched_page_with_its_media(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario())
    session = make_session(server, tmp_path / "s.session")
    env = cli_env(tmp_path)
    args = ["parse", "--channel", "@test_channel", "--session-file", str(session),
            "--output-dir", str(tmp_path / "out"), "--max-flood-wait", "10"]
    proc = run_cli(args, env)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: "), proc.stderr
    export_dir = _export_dir(tmp_path)
    ids = list(server.world.channel(CHANNEL_ID).ids)
    page = ids[:100]
    export = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    assert [m["id"] for m in export["messages"]] == page  # the whole first page, media messages included
    with_media = [m for m in export["messages"] if m["media_files"]]
    assert len(with_media) == len([i for i in page if i % 20 == 0]) > 0
    for message in with_media:
        (item,) = message["media_files"]
        data = (export_dir / item["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert data == server.world.expected_bytes(CHANNEL_ID, message["id"])
    state = json.loads((export_dir / "state.json").read_text(encoding="utf-8"))
    assert state["last_message_id"] == page[-1]

    events = _events(export_dir)
    names = [e["event"] for e in events]
    saving = [e for e in events if e["event"] == "saving_fetched"]
    assert len(saving) == 1 and saving[0]["data"]["queued_downloads"] == "run"
    assert saving[0]["data"]["reason"] == "RATE_LIMIT" and saving[0]["data"]["waiting"] > 0
    assert names.index("flood_wait") < names.index("saving_fetched")
    finished = [e for e in events if e["event"] == "media_download_finished"]
    assert sorted(e["data"]["message_id"] for e in finished) == [m["id"] for m in with_media]
    assert {e["data"]["outcome"] for e in finished} == {"success"}
    assert events.index(finished[-1]) > events.index(saving[0])  # downloads still ran when the stop came
    assert events[-1]["event"] == "run_finished" and events[-1]["data"]["error_code"] == "RATE_LIMIT"

    reported = json.loads(proc.stdout)  # stdout lists exactly what was committed
    assert proc.stdout == dump_json_text(reported)  # streamed from export.json, byte for byte the contract's text
    assert reported["error"]["error_code"] == "RATE_LIMIT"
    assert reported["new_messages"] == export["messages"]
    assert reported["summary"]["new_messages"] == 100 and reported["summary"]["media_saved"] == len(with_media)

    server.requests.reset()
    again = run_cli(args, env)
    assert again.returncode == 0, again.stderr
    first = server.requests.entries("messages.getHistory")[0]
    assert first["params"]["offset_id"] == page[-1] + 1  # the saved page is not fetched again
    assert server.requests.count("upload.getFile") == len([i for i in ids[100:] if i % 20 == 0])
    final = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    assert [m["id"] for m in final["messages"]] == ids
    result = json.loads(again.stdout)
    assert again.stdout == dump_json_text(result) and result["new_messages"] == final["messages"][100:]
