"""`TelegramParser.parse_channels`: the batch through the Python API (real client, local server)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from testkit.server import DUMMY_API_HASH, DUMMY_API_ID, make_session
from tgexport.run.parser import TelegramParser

SCENARIO = {"channels": [
    {"id": 1220000001, "username": "api_one", "title": "One", "generate": {"count": 3}},
    {"id": 1220000002, "title": "Two", "generate": {"count": 2}},
]}


def test_parse_channels_lines_in_order(server_factory, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TELEGRAM_PARSER_PAUSE_SCALE", "0")
    session = make_session(server_factory(SCENARIO), tmp_path / "api.session")
    seen: list[str] = []

    async def go() -> tuple[list[dict], list[dict]]:
        parser = TelegramParser(int(DUMMY_API_ID), DUMMY_API_HASH, str(session), auth_state_dir=tmp_path)
        await parser.connect()
        try:
            named = await parser.parse_channels(["api_one", "api_nobody"], tmp_path / "out", mode="normal",
                                                on_line=lambda line: seen.append(line["channel"]))
            every = await parser.parse_channels(None, tmp_path / "out", mode="normal", dry_run=True)
            return named, every
        finally:
            await parser.disconnect()

    named, every = asyncio.run(go())
    assert seen == ["api_one", "api_nobody"]
    assert [len(line.get("new_messages", [])) for line in named] == [3, 0]
    assert named[1]["error"]["error_code"] == "EXTERNAL_API_ERROR" and named[1]["started"]
    assert {line["channel"]: len(line["new_messages"]) for line in every} == {"@api_one": 0, "-1001220000002": 2}
