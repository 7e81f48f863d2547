"""channels.getChannels / getFullChannel / getMessages / readHistory."""
from __future__ import annotations

from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.api.common import channel_tl, input_channel, readable_channel
from telegram_test_server.api.render import chats_for, message_tl
from telegram_test_server.protocol.rpc import CallContext, RpcError
from telegram_test_server.world.state import ChannelState

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi


async def get_channels(api: ServerApi, req: functions.channels.GetChannelsRequest,
                       ctx: CallContext) -> types.messages.Chats:
    """channels.getChannels: channelForbidden for private ones, CHANNEL_INVALID for unknown ones."""
    states = [input_channel(api.world, c) for c in req.id]
    return types.messages.Chats(chats=[channel_tl(s) for s in states])


async def get_full_channel(api: ServerApi, req: functions.channels.GetFullChannelRequest,
                           ctx: CallContext) -> types.messages.ChatFull:
    """channels.getFullChannel: ChannelFull with about, counters and pts."""
    state = readable_channel(api.world, req.channel)
    full = types.ChannelFull(
        id=state.id, about=state.spec.about, read_inbox_max_id=state.top_id, read_outbox_max_id=state.top_id,
        unread_count=0, chat_photo=types.PhotoEmpty(id=0), notify_settings=types.PeerNotifySettings(),
        bot_info=[], pts=state.pts, participants_count=state.spec.participants_count)
    return types.messages.ChatFull(full_chat=full, chats=[channel_tl(state)], users=[])


def _wanted_id(state: ChannelState, item) -> int | None:
    if isinstance(item, types.InputMessageID):
        return item.id
    if isinstance(item, types.InputMessageReplyTo):
        msg = state.messages.get(item.id)
        return msg.reply_to if msg else None
    return None


def _fetch(api: ServerApi, state: ChannelState, msg_id: int | None):
    if msg_id is None or msg_id not in state.messages:
        return types.MessageEmpty(id=msg_id or 0, peer_id=types.PeerChannel(state.id))
    api.world.refetched(state.id, msg_id)
    return message_tl(api.world, state, msg_id)


async def get_messages(api: ServerApi, req: functions.channels.GetMessagesRequest,
                       ctx: CallContext) -> types.messages.ChannelMessages:
    """channels.getMessages: messageEmpty for missing ids; a re-fetch refreshes file references."""
    state = readable_channel(api.world, req.channel)
    if not req.id:
        raise RpcError(400, "MESSAGE_IDS_EMPTY")
    messages = [_fetch(api, state, _wanted_id(state, item)) for item in req.id]
    return types.messages.ChannelMessages(pts=state.pts, count=len(messages), messages=messages, topics=[],
                                          chats=chats_for(api.world, state, messages), users=[])


async def read_history(api: ServerApi, req: functions.channels.ReadHistoryRequest, ctx: CallContext) -> bool:
    """channels.readHistory: accepted."""
    readable_channel(api.world, req.channel)
    return True


HANDLERS = {
    functions.channels.GetChannelsRequest: get_channels,
    functions.channels.GetFullChannelRequest: get_full_channel,
    functions.channels.GetMessagesRequest: get_messages,
    functions.channels.ReadHistoryRequest: read_history,
}
UNAUTHORISED_OK: set = set()
