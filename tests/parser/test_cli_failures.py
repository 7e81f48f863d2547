"""Runtime failures of `channels`/`resolve`: FloodWait over --max-flood-wait → RATE_LIMIT, server
unreachable → NETWORK_ERROR. Real CLI subprocesses; the FloodWait sit-out is tested with an injected sleep."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from telethon.errors import FloodWaitError
from telethon.sessions import SQLiteSession

from errors import RATE_LIMIT, RateLimitError
from telegram_parser import TelegramParser
from testkit.cli import cli_env, json_error, read_app_log, run_cli
from testkit.server import make_session, running_server

SCENARIO = {
    "channels": [{"id": 1444000111, "username": "flood_chan", "title": "Flood", "generate": {"count": 3}}],
    "faults": [
        {"kind": "flood_wait", "method": "contacts.resolveUsername", "call": 1, "seconds": 1000, "times": None},
        {"kind": "flood_wait", "method": "messages.getDialogs", "call": 1, "seconds": 40, "times": None},
    ],
}


@pytest.fixture(scope="module")
def server() -> Iterator:
    with running_server(SCENARIO) as srv:
        yield srv


def assert_fatal(result, env: dict, code: str, fragment: str) -> None:
    assert result.returncode == 1
    error = json_error(result, code)
    assert ("retry_after" in error) == (code == "RATE_LIMIT"), error  # how long Telegram asked to wait
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], result.stderr
    assert any(ln.endswith(f"error_code={code}") and fragment in ln for ln in read_app_log(env).splitlines())


def test_resolve_flood_wait_over_limit(server, tmp_path: Path) -> None:
    make_session(server, tmp_path / "acc.session")
    env = cli_env(tmp_path)
    result = run_cli(["resolve", "--channel", "@flood_chan", "--session-file", "acc"], env)
    assert_fatal(result, env, "RATE_LIMIT", "Telegram asked to wait 1000 s for resolving, more than --max-flood-wait 300 s")


def test_channels_flood_wait_over_custom_limit(server, tmp_path: Path) -> None:
    make_session(server, tmp_path / "acc.session")
    env = cli_env(tmp_path)
    result = run_cli(["channels", "--session-file", "acc", "--max-flood-wait", "30"], env)
    assert_fatal(result, env, "RATE_LIMIT", "wait 40 s for the dialog list, more than --max-flood-wait 30 s")


def test_flood_wait_under_limit_is_sat_out_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    parser = TelegramParser(1, "x", str(tmp_path / "unused"), max_flood_wait=60, sleep=fake_sleep)
    calls = iter([FloodWaitError(None, capture=7), FloodWaitError(None, capture=5), "done"])

    async def flaky() -> str:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    assert asyncio.run(parser._with_flood_wait(flaky, "a test call")) == "done"
    assert slept == [7, 5]
    assert [r.error_code for r in caplog.records if hasattr(r, "error_code")] == [RATE_LIMIT, RATE_LIMIT]

    too_long = iter([FloodWaitError(None, capture=61)])

    async def always() -> str:
        raise next(too_long)

    with pytest.raises(RateLimitError) as info:
        asyncio.run(parser._with_flood_wait(always, "a test call"))
    assert info.value.retry_after == 61 and slept == [7, 5]


@pytest.mark.slow
def test_unreachable_server_is_network_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = SQLiteSession(str(tmp_path / "dead"))
    session.set_dc(2, "127.0.0.1", port)
    session.save()
    session.close()
    env = cli_env(tmp_path)
    result = run_cli(["channels", "--session-file", "dead"], env)
    assert_fatal(result, env, "NETWORK_ERROR", "network error")
