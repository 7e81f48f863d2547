"""Change detection's building blocks over a real client: the session cache lookup (no request) and
messages.getPeerDialogs (joined channels only, their top ids and titles), on the local server."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telethon import errors, types
from telethon.tl import functions

from testkit.server import make_session, open_client
from tgexport.client.channel_ref import parse_channel_ref
from tgexport.client.flood import AppLogEvents, FloodController
from tgexport.client.resolver import cached_channel_peer, names_channel
from tgexport.history.dialogs import ChannelDialog, peer_dialogs

SCENARIO = {"channels": [
    {"id": 1210000001, "username": "pd_one", "title": "One", "generate": {"count": 4}},
    {"id": 1210000002, "title": "Two (no username)", "generate": {"count": 2, "service_every": 2}},
    {"id": 1210000003, "username": "pd_left", "title": "Left", "member": False, "generate": {"count": 2}},
]}


def test_cache_lookup_and_peer_dialogs(server_factory, tmp_path: Path) -> None:
    server = server_factory(SCENARIO)
    session = make_session(server, tmp_path / "pd.session")

    async def run() -> None:
        async with open_client(session) as client:
            assert cached_channel_peer(client, parse_channel_ref("pd_one")) is None  # never seen
            for name in ("pd_one", "pd_left"):
                await client.get_input_entity(name)
            await client.get_dialogs()  # the id-only channel reaches the cache through the dialogs
            server.requests.reset()
            refs = [parse_channel_ref(r) for r in ("@PD_ONE", "-1001210000002", "t.me/pd_left", "pd_nobody")]
            peers = [cached_channel_peer(client, ref) for ref in refs]
            assert [p.channel_id if p else None for p in peers] == [1210000001, 1210000002, 1210000003, None]
            assert server.requests.count() == 0  # the cache answered alone

            flood = FloodController(extra=0, max_wait=0, log=AppLogEvents())
            found = await peer_dialogs(client, flood, [p for p in peers if p] * 2)  # duplicates asked once
            assert server.requests.count("messages.getPeerDialogs") == 1
            assert sorted(found) == [1210000001, 1210000002]  # the channel not joined has no dialog
            two = found[1210000002]
            assert two.top_message_id == server.world.channel(1210000002).top_id == 2  # a service message
            assert two.entity.title == "Two (no username)" and two.label == "-1001210000002"
            assert found[1210000001].label == "@pd_one" and names_channel(refs[0], found[1210000001].entity)
            assert not names_channel(parse_channel_ref("pd_other"), found[1210000001].entity)

            wrong = types.InputDialogPeer(types.InputPeerChannel(1210000001, 1))
            with pytest.raises(errors.ChannelInvalidError):
                await client(functions.messages.GetPeerDialogsRequest(peers=[wrong]))
            assert isinstance(found[1210000001], ChannelDialog)

    asyncio.run(run())
