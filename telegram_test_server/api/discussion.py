"""messages.getDiscussionMessage and messages.getReplies: the comments under a channel post.

A post's comments are messages of its linked discussion group (a megagroup) that reply to the
post's discussion message (World.add_comments). getReplies pages them like getHistory (paging.py:
offset_id, offset_date, add_offset, limit, max_id, min_id), newest first, whether it is asked with
the channel and the post id or with the group and the discussion message id.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.api.common import channel_tl, readable_channel, ts
from telegram_test_server.api.render import chats_for, message_tl
from telegram_test_server.protocol.rpc import CallContext, RpcError
from telegram_test_server.world.paging import history_page
from telegram_test_server.world.state import ChannelState, World

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi


def _thread(world: World, state: ChannelState, msg_id: int) -> tuple[int, int]:
    """(channel, post) of the thread that `state`/`msg_id` names (the post, or its discussion message)."""
    if (state.id, msg_id) in world.threads:
        return state.id, msg_id
    for key, (group_id, top_id) in world.threads.items():
        if (group_id, top_id) == (state.id, msg_id):
            return key
    raise RpcError(400, "MSG_ID_INVALID")  # no such message, or a post without a discussion thread


async def get_discussion_message(api: ServerApi, req: functions.messages.GetDiscussionMessageRequest,
                                 ctx: CallContext) -> types.messages.DiscussionMessage:
    """The post's discussion message in its linked group, and the thread's newest comment id."""
    state = readable_channel(api.world, req.peer)
    key = _thread(api.world, state, req.msg_id)
    group_id, top_id = api.world.threads[key]
    group = api.world.channels[group_id]
    ids = api.world.thread_ids(*key)
    top = message_tl(api.world, group, top_id)
    newest = ids[-1] if ids else None
    return types.messages.DiscussionMessage(
        messages=[top], max_id=newest, read_inbox_max_id=newest, read_outbox_max_id=newest, unread_count=0,
        chats=[*chats_for(api.world, group, [top]), channel_tl(api.world.channels[key[0]])], users=[])


async def get_replies(api: ServerApi, req: functions.messages.GetRepliesRequest,
                      ctx: CallContext) -> types.messages.ChannelMessages:
    """One page of a thread's comments, newest first; `count` is the thread's total."""
    state = readable_channel(api.world, req.peer)
    key = _thread(api.world, state, req.msg_id)
    group = api.world.channels[api.world.threads[key][0]]
    ids = api.world.thread_ids(*key)
    dates = [group.messages[i].date for i in ids]
    page = history_page(ids, dates, offset_id=req.offset_id, offset_date=ts(req.offset_date),
                        add_offset=req.add_offset, limit=req.limit, max_id=req.max_id, min_id=req.min_id)
    messages = [message_tl(api.world, group, i) for i in page]
    return types.messages.ChannelMessages(pts=group.pts, count=len(ids), messages=messages, topics=[],
                                          chats=chats_for(api.world, group, messages), users=[])


HANDLERS = {
    functions.messages.GetDiscussionMessageRequest: get_discussion_message,
    functions.messages.GetRepliesRequest: get_replies,
}
UNAUTHORISED_OK: set = set()
