"""`--refresh-recent` in process (real client, local server, injected time): 100 ids a request, the mode's
pause between requests, FloodWaits sat out through the FloodController, a dry run changes nothing."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testkit.inproc import FakeTime, generated_channel, run_parse_inprocess
from testkit.server import make_session, server_call
from tgexport.config.options import ParseOptions

CHANNEL_ID = 1222000333


def test_refresh_is_paced_batched_and_waits_out_flood_waits(server_factory: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_PARSER_PAUSE_SCALE", raising=False)
    faults = [{"kind": "flood_wait", "method": "channels.getMessages", "call": 2, "seconds": 7, "times": 1}]
    server = server_factory(generated_channel(CHANNEL_ID, "paced", "Paced", 250, faults))
    session = make_session(server, tmp_path / "s.session")
    out = tmp_path / "out"
    run_parse_inprocess(session, ParseOptions.build("@paced", out, mode="normal"), FakeTime())
    server_call(server, server.world.edit_message, CHANNEL_ID, 250, {"text": "changed"})

    dry = run_parse_inprocess(session, ParseOptions.build("@paced", out, mode="normal", dry_run=True,
                                                          refresh_recent=1), FakeTime())
    assert [m["text"] for m in dry["updated_messages"]] == ["changed"]
    export_json = Path(dry["export_json"])
    assert json.loads(export_json.read_text("utf-8"))["messages"][-1]["text"] != "changed"  # a dry run writes none

    server.requests.reset()
    rec = FakeTime()
    result = run_parse_inprocess(session, ParseOptions.build("@paced", out, mode="normal", refresh_recent=250), rec)
    asked = [e["params"]["id"] for e in server.requests.entries("channels.getMessages")]
    # 100 ids a request (the log keeps the first 50 of each); the server's 2nd getMessages call (the dry run
    # made the 1st) got a FloodWait and was asked again after the wait
    assert [ids[0]["id"] if isinstance(ids[0], dict) else ids[0] for ids in asked] == [1, 1, 101, 201]
    assert result["summary"]["refreshed_messages"] == 250 and result["summary"]["flood_wait_events"] == 1
    assert [m["id"] for m in result["updated_messages"]] == [250] and result["summary"]["edited_messages"] == 1
    assert [s for s in rec.sleeps if s >= 7] == [7 + 3.0]  # normal: FloodWait seconds + 3 s extra
    pauses = [s for s in rec.sleeps if s < 7]
    assert len(pauses) == 2 + server.requests.count("messages.getHistory") - 1  # between requests only
    assert all(0.3 <= s <= 0.8 for s in pauses)
