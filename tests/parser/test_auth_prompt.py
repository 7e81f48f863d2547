"""Console sign-in (stdin is a terminal): code and 2FA password are asked, through `TelegramParser.connect()`
with a real Telethon client against the local server; only the console hooks are injected."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from errors import AuthError
from telegram_parser import TelegramParser
from testkit.cli import DUMMY_API_HASH, DUMMY_API_ID
from testkit.server import make_session, running_server
from tgexport.client.auth import AuthIO
from tgexport.config.environment import Credentials

PHONE, CODE, PASSWORD = "+15557770555", "24680", "console-pass"
SCENARIO = {
    "accounts": [{"user_id": 300001, "phone": PHONE, "code": CODE, "password": PASSWORD}],
    "channels": [{"id": 1300000001, "username": "tty_chan", "title": "TTY", "generate": {"count": 2}}],
}


@pytest.fixture(scope="module")
def server() -> Iterator:
    with running_server(SCENARIO) as srv:
        yield srv


@pytest.fixture(autouse=True)
def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER", "1")


def connect_and_list(session: Path, state_dir: Path, creds: Credentials, io: AuthIO) -> list[dict]:
    async def go() -> list[dict]:
        parser = TelegramParser(int(DUMMY_API_ID), DUMMY_API_HASH, str(session), auth_state_dir=state_dir,
                                credentials=creds, auth_io=io)
        try:
            await parser.connect()
            return await parser.get_available_channels()
        finally:
            await parser.disconnect()

    return asyncio.run(go())


def test_terminal_prompts_for_code_and_password(server, tmp_path: Path) -> None:
    make_session(server, tmp_path / "tty.session", authorized=False)
    asked: list[str] = []

    def ask(answer: str):
        def prompt(text: str) -> str:
            asked.append(text)
            return answer
        return prompt

    io = AuthIO(is_tty=lambda: True, ask_code=ask(CODE), ask_password=ask(PASSWORD))
    channels = connect_and_list(tmp_path / "tty", tmp_path, Credentials(phone=PHONE), io)
    assert channels == [{"id": -1001300000001, "username": "tty_chan", "title": "TTY"}]
    assert asked == ["Login code: ", "Two-step verification password: "]
    assert not (tmp_path / "telegram_auth_state.json").exists()


def test_no_terminal_means_no_prompt(server, tmp_path: Path) -> None:
    make_session(server, tmp_path / "bg.session", authorized=False)

    def never(text: str) -> str:
        raise AssertionError("prompted without a terminal")

    io = AuthIO(is_tty=lambda: False, ask_code=never, ask_password=never)
    with pytest.raises(AuthError, match="set TELEGRAM_CODE"):
        connect_and_list(tmp_path / "bg", tmp_path, Credentials(phone=PHONE), io)
    with pytest.raises(AuthError, match="set TELEGRAM_2FA_PASSWORD"):
        connect_and_list(tmp_path / "bg", tmp_path, Credentials(phone=PHONE, code=CODE), io)
    channels = connect_and_list(tmp_path / "bg", tmp_path, Credentials(phone=PHONE, password=PASSWORD), io)
    assert [c["username"] for c in channels] == ["tty_chan"]
