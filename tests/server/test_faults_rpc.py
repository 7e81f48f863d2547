"""Call-counting faults through a real Telethon client: FLOOD_WAIT_N and generic rpc errors on the
k-th call of a method, and the Faults engine's counting rules."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telethon import errors

from telegram_test_server.protocol.rpc import DropConnection, RpcError
from telegram_test_server.world.faults import Faults, MediaTarget
from testkit.server import make_session, open_client

CHANNEL = {"id": 1700000001, "username": "faulty", "generate": {"count": 250}}


def scenario(*faults: dict) -> dict:
    return {"channels": [CHANNEL], "faults": list(faults)}


def history_calls(server) -> list[str | None]:
    return [e.get("error") for e in server.requests.entries("messages.getHistory")]


def test_flood_wait_on_the_kth_call_raises_with_seconds(server_factory, tmp_path: Path) -> None:
    server = server_factory(scenario({"kind": "flood_wait", "method": "messages.getHistory", "call": 2,
                                      "seconds": 7}))
    session = make_session(server, tmp_path / "s.session")

    async def run():
        async with open_client(session, flood_sleep_threshold=0) as client:
            first = await client.get_messages("faulty", limit=10)
            with pytest.raises(errors.FloodWaitError) as info:
                await client.get_messages("faulty", limit=10)
            return first, info.value.seconds

    first, seconds = asyncio.run(run())
    assert len(first) == 10 and seconds == 7
    assert history_calls(server) == [None, "FLOOD_WAIT_7"]


def test_flood_wait_window_of_several_calls(server_factory, tmp_path: Path) -> None:
    server = server_factory(scenario({"kind": "flood_wait", "method": "messages.getHistory", "call": 1,
                                      "seconds": 0, "times": 2}))
    session = make_session(server, tmp_path / "s.session")

    async def run():
        async with open_client(session, flood_sleep_threshold=0) as client:  # raise, never sleep
            for _ in range(2):
                with pytest.raises(errors.FloodWaitError):
                    await client.get_messages("faulty", limit=5)
            return await client.get_messages("faulty", limit=5)

    assert [m.id for m in asyncio.run(run())] == [250, 249, 248, 247, 246]
    assert history_calls(server) == ["FLOOD_WAIT_0", "FLOOD_WAIT_0", None]


def test_rpc_error_on_the_kth_call_only(server_factory, tmp_path: Path) -> None:
    server = server_factory(scenario({"kind": "rpc_error", "method": "channels.getMessages", "call": 2,
                                      "code": 400, "message": "MSG_ID_INVALID"}))
    session = make_session(server, tmp_path / "s.session")

    async def run():
        async with open_client(session) as client:
            assert (await client.get_messages("faulty", ids=5)).id == 5
            with pytest.raises(errors.MsgIdInvalidError):
                await client.get_messages("faulty", ids=6)
            assert (await client.get_messages("faulty", ids=7)).id == 7

    asyncio.run(run())
    assert [e.get("error") for e in server.requests.entries("channels.getMessages")] == [None, "MSG_ID_INVALID",
                                                                                          None]


def test_rpc_error_forever_from_the_kth_call(server_factory, tmp_path: Path) -> None:
    server = server_factory(scenario({"kind": "rpc_error", "method": "contacts.resolveUsername", "call": 1,
                                      "times": None, "code": 420, "message": "FLOOD_PREMIUM_WAIT_3"}))
    session = make_session(server, tmp_path / "s.session")

    async def run():
        async with open_client(session, flood_sleep_threshold=0) as client:
            for _ in range(2):
                with pytest.raises(errors.FloodPremiumWaitError):
                    await client.get_input_entity("faulty")
                client._flood_waited_requests.clear()  # Telethon blocks the request type locally otherwise

    asyncio.run(run())
    assert server.requests.count("contacts.resolveUsername") == 2


# --- the engine itself (no network) --------------------------------------------------------

def test_engine_windows_and_filters() -> None:
    faults = Faults([
        {"kind": "flood_wait", "method": "m.a", "call": 2, "times": 2, "seconds": 3},
        {"kind": "drop_connection", "method": "upload.getFile", "after": 1, "message_id": 9},
        {"kind": "rpc_error", "method": "m.b", "code": 500, "message": "X", "channel": "Chan"},
    ])
    outcomes = []
    for _ in range(5):
        try:
            asyncio.run(faults.before_call("m.a"))
            outcomes.append("ok")
        except RpcError as exc:
            outcomes.append(exc.message)
    assert outcomes == ["ok", "FLOOD_WAIT_3", "FLOOD_WAIT_3", "ok", "ok"]
    other, ours = MediaTarget(1, "chan", 8, 0), MediaTarget(1, "chan", 9, 0)
    asyncio.run(faults.before_call("upload.getFile", other))
    asyncio.run(faults.before_call("upload.getFile", ours))
    with pytest.raises(DropConnection):
        asyncio.run(faults.before_call("upload.getFile", ours))
    asyncio.run(faults.before_call("upload.getFile", ours))
    asyncio.run(faults.before_call("m.b"))  # no media target: a channel filter does not match
    with pytest.raises(RpcError):
        asyncio.run(faults.before_call("m.b", other))  # username matched case-insensitively


def test_engine_slow_uses_the_injected_sleep() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    faults = Faults([{"kind": "slow", "method": "upload.getFile", "delay": 2.5}], sleep=fake_sleep)
    for _ in range(3):
        asyncio.run(faults.before_call("upload.getFile", MediaTarget(1, None, 1, 0)))
    assert slept == [2.5, 2.5, 2.5]
