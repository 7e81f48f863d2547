"""MTProto layer with a real Telethon client: ping, containers, gzip, concurrency, errors, service calls."""
from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest
from telethon import errors
from telethon.sessions import SQLiteSession
from telethon.tl.functions import (
    DestroySessionRequest,
    GetFutureSaltsRequest,
    PingDelayDisconnectRequest,
    PingRequest,
)
from telethon.tl.functions.users import GetUsersRequest
from telethon.tl.tlobject import TLRequest
from telethon.tl.types import DestroySessionNone, FutureSalts, InputUser, InputUserSelf, Pong, User

from telegram_test_server.protocol.rpc import DropConnection, RpcError
from testkit.server import MiniApi, make_session, open_client, server_call


class ScriptedApi(MiniApi):
    """MiniApi plus behaviour keyed on InputUser ids of users.getUsers (the test's levers)."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.gate = asyncio.Event()  # binds to the server loop on first use
        self.drops = 0

    async def handle(self, request, ctx):
        ids = [getattr(i, "user_id", 0) for i in getattr(request, "id", [])]
        if isinstance(request, GetUsersRequest) and ids and ids[0] >= 900:
            return await self._scripted(ids[0], len(ids))
        return await super().handle(request, ctx)

    async def _scripted(self, lever: int, count: int):
        if lever == 900:  # waits until lever 901 has been served: proves requests run concurrently
            await self.gate.wait()
        elif lever == 901:
            self.gate.set()
        elif lever == 902:  # slow-ish first of an ordered pair
            for _ in range(20):
                await asyncio.sleep(0)
        elif lever == 910:
            raise ValueError("handler bug")
        elif lever == 920 and self.drops == 0:
            self.drops += 1
            raise DropConnection()
        elif lever == 930:
            raise RpcError(420, "FLOOD_WAIT_3")
        self.order.append(lever)
        return [User(id=lever, access_hash=1, first_name="x")] * count


def _lever(n: int, count: int = 1) -> GetUsersRequest:
    return GetUsersRequest([InputUser(user_id=n, access_hash=0)] * count)


class BogusRequest(TLRequest):
    """A request with a constructor no server knows."""

    CONSTRUCTOR_ID = 0x0BADF00D
    SUBCLASS_OF_ID = 0x0BADF00D

    def _bytes(self) -> bytes:
        return struct.pack("<I", self.CONSTRUCTOR_ID)

    def to_dict(self) -> dict:
        return {"_": "BogusRequest"}


@pytest.fixture
def scripted(server_factory, tmp_path: Path):
    """(server, api, authorised session path) on ScriptedApi."""
    api = ScriptedApi()
    server = server_factory(None, api=api, gzip_threshold=256)
    path = make_session(server, tmp_path / "s.session", authorized=False)
    server_call(server, server.auth.bind, SQLiteSession(str(path)).auth_key.key_id, 100001)
    return server, api, path


def run(path: Path, body):
    async def main():
        async with open_client(path) as client:
            return await body(client)

    return asyncio.run(main())


def test_ping_and_ping_delay_disconnect(scripted):
    server, _, path = scripted

    async def body(client):
        return await client(PingRequest(ping_id=42)), await client(PingDelayDisconnectRequest(43, 75))

    pong, pong2 = run(path, body)
    assert isinstance(pong, Pong) and pong.ping_id == 42
    assert pong2.ping_id == 43
    assert server.counters["pings"] == 2
    assert server.requests.count("ping") == 0  # service messages are not RPCs in the log


def test_containers_in_and_out(scripted):
    server, _, path = scripted

    async def body(client):
        return await client([GetUsersRequest([InputUserSelf()]) for _ in range(3)])

    results = run(path, body)
    assert [r[0].id for r in results] == [100001] * 3
    assert server.counters["containers_in"] >= 1
    assert server.counters["containers_out"] >= 1


def test_gzip_in_and_out(scripted):
    server, _, path = scripted
    results = run(path, lambda client: client(_lever(950, 100)))
    assert len(results) == 100 and results[0].id == 950
    assert server.counters["gzip_in"] >= 1  # Telethon gzips requests over 512 bytes
    assert server.counters["gzip_out"] >= 1  # the server gzips answers over gzip_threshold


def test_requests_on_one_connection_are_served_concurrently(scripted):
    _, api, path = scripted

    async def body(client):
        return await asyncio.wait_for(asyncio.gather(client(_lever(900)), client(_lever(901))), 20)

    first, second = run(path, body)
    assert (first[0].id, second[0].id) == (900, 901)
    assert api.order == [901, 900]


def test_invoke_after_msg_orders_requests(scripted):
    _, api, path = scripted
    run(path, lambda client: client([_lever(902), _lever(903)], ordered=True))
    assert api.order == [902, 903]


def test_unknown_constructor_gets_an_error_and_the_server_keeps_serving(scripted):
    server, _, path = scripted

    async def body(client):
        with pytest.raises(errors.RPCError) as info:
            await client(BogusRequest())
        return info.value, (await client.get_me()).id

    error, me = run(path, body)
    assert isinstance(error, errors.InputMethodInvalidError) and error.code == 400
    assert me == 100001
    assert server.requests.entries("unknown#0badf00d")[0]["error"] == "INPUT_METHOD_INVALID"


def test_handler_exception_is_500_internal(scripted):
    server, _, path = scripted

    async def body(client):
        with pytest.raises(errors.ServerError) as info:
            await client._sender.send(_lever(910))  # the raw sender: TelegramClient would retry 500s after 2 s
        return info.value, (await client.get_me()).id

    error, me = run(path, body)
    assert (error.code, error.message) == (500, "INTERNAL")
    assert me == 100001
    assert server.counters["internal_errors"] == 1


def test_rpc_error_reaches_the_client_and_the_log(scripted):
    server, _, path = scripted

    async def body(client):
        client.flood_sleep_threshold = 0  # raise instead of sleeping through the wait
        with pytest.raises(errors.FloodWaitError) as info:
            await client(_lever(930))
        return info.value.seconds

    assert run(path, body) == 3
    [entry] = [e for e in server.requests.entries("users.getUsers") if e["params"]["id"][0].get("user_id") == 930]
    assert entry["error"] == "FLOOD_WAIT_3" and "result_bytes" not in entry


def test_drop_connection_closes_the_socket_and_telethon_resends(scripted):
    server, api, path = scripted
    result = run(path, lambda client: asyncio.wait_for(client(_lever(920)), 20))
    assert result[0].id == 920
    assert server.counters["dropped"] == 1
    assert server.counters["connections"] >= 3  # make_session, first connection, reconnection
    levers = [e for e in server.requests.entries("users.getUsers") if e["params"]["id"][0].get("user_id") == 920]
    assert [e.get("error") for e in levers] == ["DROP_CONNECTION", None]


def test_future_salts_and_destroy_session(scripted):
    _, _, path = scripted

    async def body(client):
        return await client(GetFutureSaltsRequest(num=3)), await client(DestroySessionRequest(session_id=12345))

    salts, destroyed = run(path, body)
    assert isinstance(salts, FutureSalts) and len(salts.salts) == 3
    assert isinstance(destroyed, DestroySessionNone) and destroyed.session_id == 12345


def test_unknown_auth_key_is_answered_with_404(scripted):
    server, _, path = scripted
    server_call(server, server.auth.forget, SQLiteSession(str(path)).auth_key.key_id)
    with pytest.raises(errors.AuthKeyNotFound):
        run(path, lambda client: client.get_me())
    assert server.counters["auth_key_unknown"] >= 1
