"""Entities through a real Telethon client: resolve by username/link/id, private channels, full
channel, dialogs with pagination, help.getConfig pointing at this server."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telethon import errors, types
from telethon.tl import functions

from testkit.server import make_session, open_client

MANY = 105  # more than one getDialogs page (100)
SCENARIO = {
    "channels": [
        {"id": 1400000000 + i, "username": f"chan_{i:03d}", "title": f"Channel {i}",
         "generate": {"count": 2, "start_date": 1_700_000_000 + i * 1000}}
        for i in range(MANY)
    ] + [
        {"id": 1500000001, "username": "not_joined", "title": "Not joined", "member": False,
         "about": "public, not a member", "participants_count": 77, "generate": {"count": 3}},
        {"id": 1500000002, "username": "closed_one", "title": "Closed", "private": True, "member": False,
         "generate": {"count": 3}},
        {"id": 1500000003, "username": None, "title": "No username", "generate": {"count": 1, "start_date": 1}},
    ],
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    from testkit.server import running_server

    with running_server(SCENARIO) as server:
        yield server, make_session(server, tmp_path_factory.mktemp("ent") / "ent.session")


def run_with_client(session: Path, fn):
    async def run():
        async with open_client(session) as client:
            return await fn(client)

    return asyncio.run(run())


def test_resolve_username_forms(env) -> None:
    server, session = env

    async def check(client):
        for ref in ("not_joined", "@not_joined", "https://t.me/not_joined", "t.me/not_joined"):
            entity = await client.get_entity(ref)
            assert (entity.id, entity.username, entity.left) == (1500000001, "not_joined", True)
        return await client.get_entity("chan_007")

    entity = run_with_client(session, check)
    assert isinstance(entity, types.Channel) and entity.broadcast and entity.title == "Channel 7"
    assert entity.access_hash == server.world.channel("chan_007").spec.access_hash


def test_resolve_errors(env) -> None:
    _, session = env

    async def check(client):
        with pytest.raises(ValueError):
            await client.get_entity("nobody_has_this")
        with pytest.raises(errors.UsernameNotOccupiedError):
            await client(functions.contacts.ResolveUsernameRequest("nobody_has_this"))
        for bad in ("ab", "1starts_with_digit", "has-dash", "x" * 40, "ends_", "double__underscore"):
            with pytest.raises(errors.UsernameInvalidError):
                await client(functions.contacts.ResolveUsernameRequest(bad))
        user = await client.get_entity("test_user")
        assert user.is_self

    run_with_client(session, check)


def test_channel_by_id_and_wrong_access_hash(env) -> None:
    _, session = env

    async def check(client):
        entity = await client.get_entity("chan_001")
        by_id = await client.get_entity(types.PeerChannel(entity.id))  # from the session cache
        assert by_id.id == entity.id
        with pytest.raises(errors.ChannelInvalidError):
            await client(functions.channels.GetChannelsRequest([types.InputChannel(entity.id, 12345)]))
        with pytest.raises(errors.ChannelInvalidError):
            await client(functions.channels.GetChannelsRequest([types.InputChannel(999, 1)]))
        chats = await client(functions.channels.GetChannelsRequest([types.InputChannel(entity.id, entity.access_hash)]))
        assert [c.id for c in chats.chats] == [entity.id]

    run_with_client(session, check)


def test_private_channel(env) -> None:
    _, session = env

    async def check(client):
        entity = await client.get_entity("closed_one")
        assert isinstance(entity, types.ChannelForbidden)
        with pytest.raises(errors.ChannelPrivateError):
            await client.get_messages(entity, limit=5)
        with pytest.raises(errors.ChannelPrivateError):
            await client(functions.channels.GetFullChannelRequest(entity))

    run_with_client(session, check)


def test_full_channel(env) -> None:
    server, session = env

    async def check(client):
        return await client(functions.channels.GetFullChannelRequest(await client.get_entity("not_joined")))

    full = run_with_client(session, check)
    state = server.world.channel("not_joined")
    assert (full.full_chat.about, full.full_chat.participants_count) == ("public, not a member", 77)
    assert full.full_chat.read_inbox_max_id == state.top_id and full.chats[0].id == state.id


def test_dialogs_paginate_over_member_channels(env) -> None:
    server, session = env
    server.requests.reset()

    async def check(client):
        return [(d.entity.id, d.message.id) async for d in client.iter_dialogs()]

    dialogs = run_with_client(session, check)
    members = [s for s in server.world.channels.values() if s.spec.member and not s.spec.private]
    expected = sorted(members, key=lambda s: s.dates[-1], reverse=True)
    assert dialogs == [(s.id, s.top_id) for s in expected]
    assert len(dialogs) == MANY + 1
    assert server.requests.count("messages.getDialogs") == 2


def test_config_points_at_this_server(env) -> None:
    server, session = env

    async def check(client):
        nearest = await client(functions.help.GetNearestDcRequest())
        full = await client(functions.users.GetFullUserRequest(types.InputUserSelf()))
        assert nearest.this_dc == nearest.nearest_dc == server.world.dc_id
        assert full.users[0].is_self and full.full_user.id == full.users[0].id
        return await client(functions.help.GetConfigRequest())

    config = run_with_client(session, check)
    assert config.this_dc == server.world.dc_id
    assert [(o.id, o.ip_address, o.port) for o in config.dc_options] == [(server.dc_id, server.host, server.port)]
