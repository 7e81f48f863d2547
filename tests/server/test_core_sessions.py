"""Auth keys and sessions: two clients at once, restarts with and without --state-dir, request log."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from telethon import errors
from telethon.sessions import SQLiteSession
from telethon.tl.functions.auth import SendCodeRequest
from telethon.tl.functions.messages import GetHistoryRequest
from telethon.tl.functions.upload import GetFileRequest
from telethon.tl.types import CodeSettings, InputDocumentFileLocation, InputPeerChannel

from telegram_test_server.protocol.request_log import method_name, params_of
from testkit.server import MiniApi, make_session, open_client, running_server, server_call


def _key_id(path: Path) -> int:
    return SQLiteSession(str(path)).auth_key.key_id


def _signed_in(server, path: Path, user_id: int) -> Path:
    make_session(server, path, authorized=False)
    server_call(server, server.auth.bind, _key_id(path), user_id)
    return path


def _get_me(path: Path) -> int:
    async def main():
        async with open_client(path) as client:
            return (await client.get_me()).id

    return asyncio.run(main())


def test_two_clients_on_two_sessions_at_once(server_factory, tmp_path: Path):
    server = server_factory(None, api=MiniApi())
    first = _signed_in(server, tmp_path / "one.session", 100001)
    second = _signed_in(server, tmp_path / "two.session", 100002)

    async def main():
        async with open_client(first) as a, open_client(second) as b:
            assert server.connections == 2
            me_a, me_b = await asyncio.gather(a.get_me(), b.get_me())
            return me_a.id, me_b.id

    assert asyncio.run(main()) == (100001, 100002)
    keys = {e["auth_key_id"] for e in server.requests.entries("users.getUsers")}
    assert keys == {f"{_key_id(first):016x}", f"{_key_id(second):016x}"}


def test_restart_with_state_dir_keeps_the_session(tmp_path: Path):
    state = tmp_path / "state"
    with running_server(None, api=MiniApi(), state_dir=state) as server:
        path = _signed_in(server, tmp_path / "s.session", 100001)
        port = server.port
    with running_server(None, api=MiniApi(), state_dir=state, port=port) as server:
        assert _get_me(path) == 100001
        assert server.handshakes == 0
        [entry, *_] = server.requests.entries("users.getUsers")
        assert entry["auth_key_id"] == f"{_key_id(path):016x}"


def test_restart_without_state_dir_forgets_the_key(tmp_path: Path):
    with running_server(None, api=MiniApi()) as server:
        path = _signed_in(server, tmp_path / "s.session", 100001)
        port = server.port
    with running_server(None, api=MiniApi(), port=port) as server, pytest.raises(errors.AuthKeyNotFound):
        _get_me(path)
    assert server.handshakes == 0


def test_request_log_file_has_one_json_line_per_call(server_factory, tmp_path: Path):
    log_path = tmp_path / "requests.jsonl"
    server = server_factory(None, api=MiniApi(), request_log=log_path)
    _signed_in(server, tmp_path / "s.session", 100001)
    lines = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    assert [line["method"] for line in lines] == [e["method"] for e in server.requests.entries()]
    assert {"t", "auth_key_id", "method", "params"} <= set(lines[0])
    server.requests.reset()
    assert server.requests.count() == 0


def test_method_names_and_params():
    history = GetHistoryRequest(InputPeerChannel(5, 99), offset_id=10, offset_date=None, add_offset=-5,
                                limit=100, max_id=0, min_id=3, hash=0)
    assert method_name(history) == "messages.getHistory"
    assert params_of(history) == {"peer": {"_": "InputPeerChannel", "channel_id": 5}, "offset_id": 10,
                                  "offset_date": None, "add_offset": -5, "limit": 100, "max_id": 0,
                                  "min_id": 3, "hash": 0}
    get_file = GetFileRequest(InputDocumentFileLocation(7, 8, b"ref!", ""), offset=4096, limit=1024)
    assert method_name(get_file) == "upload.getFile"
    assert params_of(get_file)["location"] == {"_": "InputDocumentFileLocation", "id": 7, "file_reference": 4,
                                               "thumb_size": ""}
    assert params_of(get_file)["offset"] == 4096


def test_secrets_never_reach_the_request_log():
    send_code = SendCodeRequest("+15550100001", 12345, "0123456789abcdef0123456789abcdef", CodeSettings())
    text = json.dumps(params_of(send_code))
    assert "15550100001" not in text and "0123456789abcdef" not in text and "12345" not in text
    assert method_name(send_code) == "auth.sendCode"


SMALL = {"channels": [{"id": 4242, "username": "small_channel", "generate": {"count": 3}}]}


@pytest.mark.parametrize("local_server", [SMALL], indirect=True)
def test_root_fixtures_give_a_signed_in_session(local_server, authorized_session: Path):
    async def main():
        async with open_client(authorized_session) as client:
            channel = await client.get_entity("small_channel")
            return (await client.get_me()).id, [m.id for m in await client.get_messages(channel, limit=10)]

    assert asyncio.run(main()) == (100001, [3, 2, 1])
    assert local_server.requests.count("auth.signIn") == 1


def test_demo_server_fixture(demo_server, tmp_path: Path):
    path = make_session(demo_server, tmp_path / "d.session")

    async def main():
        async with open_client(path) as client:
            return (await client.get_entity("demo_channel")).username

    assert asyncio.run(main()) == "demo_channel"
