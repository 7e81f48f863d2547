"""messages.getHistory (paging.py rules), messages.getDialogs, messages.getPeerDialogs, messages.getMessages."""
from __future__ import annotations

from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.api.common import input_channel, readable_channel, ts, utc
from telegram_test_server.api.render import chats_for, message_tl
from telegram_test_server.protocol.rpc import CallContext, RpcError
from telegram_test_server.world.paging import MAX_LIMIT, history_page
from telegram_test_server.world.state import ChannelState

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi


async def get_history(api: ServerApi, req: functions.messages.GetHistoryRequest,
                      ctx: CallContext) -> types.messages.ChannelMessages:
    """messages.getHistory of a channel, newest first; `count` is the channel's total."""
    if not isinstance(req.peer, types.InputPeerChannel | types.InputPeerChannelFromMessage):
        raise RpcError(400, "PEER_ID_INVALID")
    state = readable_channel(api.world, req.peer)
    ids, dates = state.ids, state.dates  # snapshot: appends replace the lists
    page = history_page(ids, dates, offset_id=req.offset_id, offset_date=ts(req.offset_date),
                        add_offset=req.add_offset, limit=req.limit, max_id=req.max_id, min_id=req.min_id)
    messages = [message_tl(api.world, state, i) for i in page]
    return types.messages.ChannelMessages(pts=state.pts, count=len(ids), messages=messages, topics=[],
                                          chats=chats_for(api.world, state, messages), users=[])


def _dialog_order(api: ServerApi) -> list[ChannelState]:
    members = [s for s in api.world.channels.values() if s.spec.member and not s.spec.private and s.ids]
    return sorted(members, key=lambda s: (s.dates[-1], s.top_id, s.id), reverse=True)


def _after_offset(order: list[ChannelState], req: functions.messages.GetDialogsRequest) -> list[ChannelState]:
    peer_id = getattr(req.offset_peer, "channel_id", None)
    index = next((i for i, s in enumerate(order) if s.id == peer_id), None)
    if index is not None:
        return order[index + 1:]
    offset_date = ts(req.offset_date)
    if offset_date:
        return [s for s in order if (s.dates[-1], s.top_id) < (offset_date, req.offset_id or 2**31)]
    return order


def _dialog(state: ChannelState) -> types.Dialog:
    return types.Dialog(peer=types.PeerChannel(state.id), top_message=state.top_id, read_inbox_max_id=state.top_id,
                        read_outbox_max_id=state.top_id, unread_count=0, unread_mentions_count=0,
                        unread_reactions_count=0, unread_poll_votes_count=0,
                        notify_settings=types.PeerNotifySettings(), pts=state.pts)


async def get_dialogs(api: ServerApi, req: functions.messages.GetDialogsRequest, ctx: CallContext):
    """messages.getDialogs over the channels the account is a member of (newest top message first)."""
    if req.folder_id:
        return types.messages.Dialogs(dialogs=[], messages=[], chats=[], users=[])
    order = _dialog_order(api)
    page = _after_offset(order, req)[:max(0, min(req.limit, MAX_LIMIT))]
    messages = [message_tl(api.world, s, s.top_id) for s in page]
    chats = {c.id: c for s, m in zip(page, messages, strict=True) for c in chats_for(api.world, s, [m])}
    parts = dict(dialogs=[_dialog(s) for s in page], messages=messages, chats=list(chats.values()), users=[])
    if len(page) == len(order):
        return types.messages.Dialogs(**parts)
    return types.messages.DialogsSlice(count=len(order), **parts)


def _dialog_peer(api: ServerApi, item: object) -> ChannelState | None:
    """The joined, readable channel an InputDialogPeer names; None for any other peer."""
    peer = getattr(item, "peer", None)
    if not isinstance(peer, types.InputPeerChannel):
        return None
    state = input_channel(api.world, peer)
    return state if state.spec.member and not state.spec.private and state.ids else None


async def get_peer_dialogs(api: ServerApi, req: functions.messages.GetPeerDialogsRequest,
                           ctx: CallContext) -> types.messages.PeerDialogs:
    """messages.getPeerDialogs: the dialogs of the joined channels among `peers` (others left out)."""
    if not req.peers or len(req.peers) > MAX_LIMIT:
        raise RpcError(400, "PEERS_INVALID" if req.peers else "INPUT_REQUEST_INVALID")
    states = [s for s in (_dialog_peer(api, item) for item in req.peers) if s is not None]
    messages = [message_tl(api.world, s, s.top_id) for s in states]
    chats = {c.id: c for s, m in zip(states, messages, strict=True) for c in chats_for(api.world, s, [m])}
    state = types.updates.State(pts=1, qts=0, date=utc(0), seq=0, unread_count=0)
    return types.messages.PeerDialogs(dialogs=[_dialog(s) for s in states], messages=messages,
                                      chats=list(chats.values()), users=[], state=state)


async def get_messages(api: ServerApi, req: functions.messages.GetMessagesRequest,
                       ctx: CallContext) -> types.messages.Messages:
    """messages.getMessages (private chats/basic groups): none exist here."""
    ids = [getattr(i, "id", 0) for i in req.id]
    return types.messages.Messages(messages=[types.MessageEmpty(id=i) for i in ids], chats=[], users=[])


async def read_history(api: ServerApi, req: functions.messages.ReadHistoryRequest,
                       ctx: CallContext) -> types.messages.AffectedMessages:
    """messages.readHistory: nothing to mark."""
    return types.messages.AffectedMessages(pts=1, pts_count=0)


HANDLERS = {
    functions.messages.GetHistoryRequest: get_history,
    functions.messages.GetDialogsRequest: get_dialogs,
    functions.messages.GetPeerDialogsRequest: get_peer_dialogs,
    functions.messages.GetMessagesRequest: get_messages,
    functions.messages.ReadHistoryRequest: read_history,
}
UNAUTHORISED_OK: set = set()
