"""`resolve` and `channels` end to end: real CLI subprocesses, real Telethon, local server."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.cli import cli_env, json_error, read_app_log, run_cli
from testkit.server import make_session, running_server

ALPHA = {"id": 1111111111, "username": "alpha_news", "title": "Альфа — новости 📰"}
SCENARIO = {
    "channels": [
        {**ALPHA, "generate": {"count": 5}},
        {"id": 2614091536, "title": "No username here", "generate": {"count": 3}},
        {"id": 1333333333, "username": "outsider_pub", "title": "Outsider", "member": False},
        {"id": 1444444444, "username": "secret_club", "title": "Secret", "private": True, "member": False},
        {"id": 1555555555, "username": "talk_group", "title": "Talk group", "megagroup": True,
         "generate": {"count": 2}},
        {"id": 1666666666, "title": "Hidden", "member": False},
    ],
}


@pytest.fixture(scope="module")
def server() -> Iterator:
    with running_server(SCENARIO) as srv:
        yield srv


@pytest.fixture
def session(server, tmp_path: Path) -> str:
    """A fresh signed-in session (empty entity cache) in tmp_path; returns its --session-file name."""
    make_session(server, tmp_path / "acc.session")
    server.requests.reset()
    return "acc"


def resolve(tmp_path: Path, channel: str, session: str = "acc"):
    return run_cli(["resolve", "--channel", channel, "--session-file", session], cli_env(tmp_path))


def ok_json(result) -> object:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("form", "post_id"),
    [
        ("https://t.me/alpha_news/123", 123),
        ("http://t.me/alpha_news", None),
        ("t.me/alpha_news", None),
        ("https://telegram.me/alpha_news/7", 7),
        ("telegram.dog/alpha_news", None),
        ("@alpha_news", None),
        ("alpha_news", None),
        ("1111111111", None),
        ("-1001111111111", None),
        ("https://t.me/c/1111111111/42", 42),
    ],
)
def test_every_identifier_form(server, session: str, tmp_path: Path, form: str, post_id: int | None) -> None:
    expected = dict(ALPHA)
    if post_id is not None:
        expected["post_id"] = post_id
    result = resolve(tmp_path, form)
    assert ok_json(result) == expected
    # UTF-8 on stdout, non-ASCII kept as is
    assert "Альфа — новости 📰" in result.stdout


def test_channel_without_username_by_id_then_from_cache(server, session: str, tmp_path: Path) -> None:
    expected = {"id": 2614091536, "username": None, "title": "No username here"}
    assert ok_json(resolve(tmp_path, "2614091536")) == expected
    assert server.requests.count("messages.getDialogs") >= 1  # not cached yet: found among dialogs
    server.requests.reset()
    assert ok_json(resolve(tmp_path, "-1002614091536")) == expected
    assert server.requests.count("messages.getDialogs") == 0  # answered from the session's entity cache


def test_username_resolved_once_then_from_session_cache(server, session: str, tmp_path: Path) -> None:
    assert ok_json(resolve(tmp_path, "@alpha_news")) == ALPHA
    assert server.requests.count("contacts.resolveUsername") == 1
    server.requests.reset()
    for form in ("alpha_news", "https://t.me/alpha_news/9", "@alpha_news"):
        assert ok_json(resolve(tmp_path, form))["id"] == ALPHA["id"]
    assert server.requests.count("contacts.resolveUsername") == 0
    assert server.requests.count("channels.getChannels") == 3  # by id + access hash


def test_public_channel_not_joined(server, session: str, tmp_path: Path) -> None:
    assert ok_json(resolve(tmp_path, "https://t.me/outsider_pub")) == {
        "id": 1333333333, "username": "outsider_pub", "title": "Outsider"}


def test_megagroup_resolves(server, session: str, tmp_path: Path) -> None:
    assert ok_json(resolve(tmp_path, "@talk_group"))["id"] == 1555555555


def assert_fails(result, env: dict, code: str, fragment: str) -> dict:
    assert result.returncode == 1
    error = json_error(result, code)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], result.stderr
    assert any(line.endswith(f"error_code={code}") and fragment in line
               for line in read_app_log(env).splitlines())
    return error


@pytest.mark.parametrize(
    ("form", "code", "fragment"),
    [
        ("@nobody_has_this", "EXTERNAL_API_ERROR", "channel not found: no channel with username @nobody_has_this"),
        ("https://t.me/secret_club/3", "EXTERNAL_API_ERROR", "@secret_club is private or not accessible"),
        ("1666666666", "EXTERNAL_API_ERROR", "channel not found: no channel with id id 1666666666"),
        ("-1001999999999", "EXTERNAL_API_ERROR", "channel not found"),
        ("@test_user", "CONFIG_ERROR", "@test_user is a user, not a channel"),
        ("https://t.me/alpha_news/x", "CONFIG_ERROR", "invalid channel identifier"),
    ],
)
def test_unknown_private_or_not_a_channel(server, session: str, tmp_path: Path, form: str, code: str,
                                          fragment: str) -> None:
    env = cli_env(tmp_path)
    result = run_cli(["resolve", "--channel", form, "--session-file", session], env)
    hint = assert_fails(result, env, code, fragment)["hint"]
    if "not found" in fragment:  # what to do differs from a refused request: check the name
        assert "`channels` lists what this account sees" in hint
    elif "private" in fragment:
        assert hint.startswith("join the channel")


def test_channels_lists_member_channels_exactly(server, session: str, tmp_path: Path) -> None:
    result = run_cli(["channels", "--session-file", session], cli_env(tmp_path))
    channels = ok_json(result)
    assert isinstance(channels, list)
    assert sorted(channels, key=lambda c: c["id"]) == [
        {"id": -1002614091536, "username": None, "title": "No username here"},
        {"id": -1001555555555, "username": "talk_group", "title": "Talk group"},
        {"id": -1001111111111, "username": "alpha_news", "title": ALPHA["title"]},
    ]
    assert all(list(c) == ["id", "username", "title"] for c in channels)


def test_stdout_is_utf8_whatever_the_locale(server, session: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path, PYTHONIOENCODING="ascii", LC_ALL="C", LANG="C")
    result = run_cli(["resolve", "--channel", "@alpha_news", "--session-file", session], env)
    assert ok_json(result) == ALPHA
    assert ALPHA["title"] in result.stdout  # raw UTF-8, not \u escapes
