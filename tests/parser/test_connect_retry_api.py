"""`TelegramParser.connect()` retries a locked session database with injected back-off sleeps."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from errors import SessionLockedError
from telegram_parser import TelegramParser
from testkit.cli import DUMMY_API_HASH, DUMMY_API_ID
from testkit.server import make_session, running_server

SCENARIO = {"channels": [{"id": 1777000111, "username": "retry_chan", "title": "Retry", "generate": {"count": 2}}]}


@pytest.fixture(scope="module")
def server() -> Iterator:
    with running_server(SCENARIO) as srv:
        yield srv


@pytest.fixture
def session(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER", "1")
    monkeypatch.setenv("TELEGRAM_PARSER_SQLITE_TIMEOUT", "0.05")
    monkeypatch.delenv("TELEGRAM_PARSER_PAUSE_SCALE", raising=False)
    return make_session(server, tmp_path / "acc.session")


def exclusive_holder(session: Path) -> sqlite3.Connection:
    """Another program's open exclusive transaction on the session database."""
    holder = sqlite3.connect(session, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "telegram_parser" and "connect" in r.getMessage()]


def test_connect_waits_out_a_brief_lock(session: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = exclusive_holder(session)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            holder.execute("COMMIT")  # the other program finishes during the second back-off

    async def go() -> list[dict]:
        parser = TelegramParser(int(DUMMY_API_ID), DUMMY_API_HASH, str(session), auth_state_dir=tmp_path, sleep=sleep)
        await parser.connect()
        try:
            return await parser.get_available_channels()
        finally:
            await parser.disconnect()

    with caplog.at_level(logging.INFO, logger="telegram_parser"):
        channels = asyncio.run(go())
    holder.close()
    assert [c["username"] for c in channels] == ["retry_chan"]
    assert slept == [2.0, 4.0]
    assert retry_lines(caplog) == [
        "connect database is locked, retry 1/5 in 2 s: database is locked",
        "connect database is locked, retry 2/5 in 4 s: database is locked",
        "connect succeeded after 3 attempt(s)",
        "connected",
    ]


def test_connect_gives_up_after_five_retries_and_leaves_the_session_intact(
    session: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = hashlib.sha256(session.read_bytes()).hexdigest()
    holder = exclusive_holder(session)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    parser = TelegramParser(int(DUMMY_API_ID), DUMMY_API_HASH, str(session), auth_state_dir=tmp_path, sleep=sleep)
    with caplog.at_level(logging.INFO, logger="telegram_parser"), pytest.raises(SessionLockedError) as failed:
        asyncio.run(parser.connect())
    holder.execute("ROLLBACK")
    holder.close()
    assert slept == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert "after 6 attempt(s)" in failed.value.message and failed.value.code == "SESSION_LOCKED"
    assert len(retry_lines(caplog)) == 5 and parser.client is None
    assert hashlib.sha256(session.read_bytes()).hexdigest() == before
    with sqlite3.connect(session) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
