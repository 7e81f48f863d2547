"""The test server's discussion threads (getDiscussionMessage, getReplies as Telethon's
`iter_messages(reply_to=…)` pages them), runtime edits and deletions, as a real client sees them."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telethon import errors, functions

from testkit.server import make_session, open_client, server_call

CHANNEL, GROUP = 1333000111, 1333000222
REPLIES = {"count": 0, "comments": True, "channel_id": GROUP}
SCENARIO = {"channels": [
    {"id": CHANNEL, "username": "threads", "messages": [
        {"id": 1, "text": "a"}, {"id": 2, "text": "b", "replies": REPLIES},
        {"id": 3, "text": "c", "replies": REPLIES, "media": {"type": "document", "size": 9000, "file_name": "a.bin"}}]},
    {"id": GROUP, "title": "threads chat", "megagroup": True, "member": False}],
    "comments": [{"channel": CHANNEL, "post": 2, "count": 130}]}


def test_threads_edits_and_deletions(server_factory, tmp_path: Path) -> None:
    server = server_factory(SCENARIO)
    session = make_session(server, tmp_path / "t.session")
    world = server.world

    async def run() -> None:
        async with open_client(session) as client:
            comments = [m async for m in client.iter_messages("threads", reply_to=2, reverse=True, wait_time=0)]
            ids = world.thread_ids(CHANNEL, 2)
            assert [m.id for m in comments] == ids and len(ids) == 130
            assert comments[0].message == "comment 1" and comments[0].peer_id.channel_id == GROUP
            newest = [m.id async for m in client.iter_messages("threads", reply_to=2, limit=5, wait_time=0)]
            assert newest == ids[:-6:-1]
            entity = await client.get_entity("threads")
            found = await client(functions.messages.GetDiscussionMessageRequest(peer=entity, msg_id=2))
            assert found.max_id == ids[-1] and found.messages[0].fwd_from.channel_post == 2
            page = await client(functions.messages.GetRepliesRequest(
                peer=entity, msg_id=2, offset_id=ids[-3] + 1, offset_date=None, add_offset=-100, limit=100,
                max_id=0, min_id=ids[-3], hash=0))
            assert sorted(m.id for m in page.messages) == ids[-2:]
            with pytest.raises(errors.MsgIdInvalidError):
                await client(functions.messages.GetDiscussionMessageRequest(peer=entity, msg_id=1))

            [post] = await client.get_messages("threads", ids=[2])
            assert post.replies.replies == 130 and post.replies.channel_id == GROUP
            server_call(server, world.add_comments, CHANNEL, 2, 2)
            server_call(server, world.delete_messages, GROUP, ids[:3])
            [post] = await client.get_messages("threads", ids=[2])
            assert post.replies.replies == 129

            old = (await client.get_messages("threads", ids=[3]))[0].media.document.id
            server_call(server, world.edit_message, CHANNEL, 3, {"text": "c2", "views": 7,
                                                                "media": {"type": "document", "size": 5000, "file_name": "b.bin"}})
            server_call(server, world.delete_messages, CHANNEL, [1])
            gone, edited = await client.get_messages("threads", ids=[1, 3])
            assert gone is None and edited.message == "c2" and edited.views == 7
            assert edited.media.document.id != old and edited.media.document.size == 5000
            assert await client.download_media(edited, file=bytes) == world.expected_bytes(CHANNEL, 3)
            assert [m.id async for m in client.iter_messages("threads", wait_time=0)] == [3, 2]

    asyncio.run(run())
