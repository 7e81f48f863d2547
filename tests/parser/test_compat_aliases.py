"""The names scripts of the original tool import keep working: `session_lock.session_lock`,
`telegram_parser.MODE_PRESETS` / `ModeConfig`, `exit_codes`, `telegram_parser_skill.build_parser` / `run`."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import errors
import exit_codes
import session_lock
import telegram_parser
import telegram_parser_skill
from testkit.cli import DUMMY_API_HASH, DUMMY_API_ID
from testkit.server import make_session


def test_session_lock_yields_true_when_acquired_false_when_busy(tmp_path: Path) -> None:
    name = tmp_path / "acct"
    with session_lock.session_lock(name) as first:
        assert first is True and session_lock.lock_path_for(name).is_file()
        with session_lock.session_lock(str(name) + ".session") as second:  # the same file, another holder
            assert second is False
    with session_lock.session_lock(name) as again:  # released on leaving the block
        assert again is True


def test_session_lock_released_on_an_exception(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), session_lock.session_lock(tmp_path / "acct"):
        raise RuntimeError("boom")
    with session_lock.session_lock(tmp_path / "acct") as acquired:
        assert acquired is True


def test_mode_presets_are_the_contract_presets() -> None:
    safe, normal = telegram_parser.MODE_PRESETS["safe"], telegram_parser.MODE_PRESETS["normal"]
    assert isinstance(safe, telegram_parser.ModeConfig) and set(telegram_parser.MODE_PRESETS) == {"safe", "normal"}
    assert (safe.page_pause, safe.flood_extra, safe.retries, safe.parallel_downloads, safe.media_timeout) == (
        (0.8, 1.5), 5.0, 5, 1, 1800.0)
    assert (normal.page_pause, normal.flood_extra, normal.retries, normal.parallel_downloads,
            normal.media_timeout) == ((0.3, 0.8), 3.0, 3, 2, 900.0)


def test_exit_codes_under_old_and_new_names() -> None:
    assert (exit_codes.EXIT_SUCCESS, exit_codes.EXIT_FAILURE, exit_codes.EXIT_PARTIAL,
            exit_codes.EXIT_INTERRUPTED, exit_codes.EXIT_TERMINATED) == (0, 1, 2, 130, 143)
    assert (exit_codes.EXIT_OK, exit_codes.EXIT_FATAL) == (errors.EXIT_OK, errors.EXIT_FATAL)


def test_build_parser_is_the_cli_parser() -> None:
    args = telegram_parser_skill.build_parser().parse_args(["parse", "--channel", "@x", "--mode", "normal"])
    assert (args.command, args.channel, args.mode, args.session_file) == ("parse", "@x", "normal", "telegram_session")
    with pytest.raises(errors.ConfigError, match="invalid choice"):
        telegram_parser_skill.build_parser().parse_args(["export"])


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TELEGRAM_API_ID", DUMMY_API_ID)
    monkeypatch.setenv("TELEGRAM_API_HASH", DUMMY_API_HASH)
    monkeypatch.setenv("TELEGRAM_PARSER_ENV_FILE", str(tmp_path / "none" / ".env"))
    monkeypatch.setenv("TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER", "1")


@pytest.mark.usefixtures("api_env")
def test_run_returns_what_the_cli_prints(demo_server, tmp_path: Path) -> None:
    session = make_session(demo_server, tmp_path / "acct.session")
    args = telegram_parser_skill.build_parser().parse_args(
        ["resolve", "--channel", "https://t.me/demo_channel/5", "--session-file", str(session)])
    result = asyncio.run(telegram_parser_skill.run(args, "0badc0de"))
    assert result == {"id": 1987654321, "username": "demo_channel", "title": result["title"], "post_id": 5}
    assert not session_lock.lock_path_for(session).exists()  # its session lock was released


@pytest.mark.usefixtures("api_env")
def test_run_takes_the_session_lock_unless_told_the_caller_holds_it(demo_server, tmp_path: Path) -> None:
    session = make_session(demo_server, tmp_path / "acct.session")
    args = telegram_parser_skill.build_parser().parse_args(["channels", "--session-file", str(session)])
    with session_lock.session_lock(session) as acquired:
        assert acquired
        with pytest.raises(errors.SessionLockedError):
            asyncio.run(telegram_parser_skill.run(args))
        channels = asyncio.run(telegram_parser_skill.run(args, lock_session=False))
    assert any(c["username"] == "demo_channel" for c in channels)
