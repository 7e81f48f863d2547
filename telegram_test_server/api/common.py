"""Shared handler helpers: TL method names, input-peer lookup, Channel/User TL objects."""
from __future__ import annotations

from datetime import UTC, datetime

from telethon.tl import types
from telethon.tl.tlobject import TLObject

from telegram_test_server.protocol.rpc import RpcError
from telegram_test_server.world.scenario import Account
from telegram_test_server.world.state import ChannelState, World


def method_name(request: TLObject) -> str:
    """`telethon.tl.functions.messages.GetHistoryRequest` → `messages.getHistory`."""
    cls = type(request)
    name = cls.__name__.removesuffix("Request")
    namespace = cls.__module__.rpartition("telethon.tl.functions")[2].lstrip(".")
    name = name[:1].lower() + name[1:]
    return f"{namespace}.{name}" if namespace else name


def utc(ts: int) -> datetime:
    """Unix seconds → aware datetime."""
    return datetime.fromtimestamp(ts, UTC)


def ts(value: datetime | int | None) -> int:
    """Aware datetime (or int/None) → unix seconds (0 for None)."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


# --- channels ------------------------------------------------------------------------------

def lookup_channel(world: World, channel_id: int, access_hash: int | None) -> ChannelState:
    """The channel named by an input peer; CHANNEL_INVALID when unknown or the hash is wrong."""
    state = world.channels.get(channel_id)
    if state is None or (access_hash is not None and access_hash != state.spec.access_hash):
        raise RpcError(400, "CHANNEL_INVALID")
    return state


def input_channel(world: World, peer: TLObject) -> ChannelState:
    """Resolve InputChannel / InputPeerChannel (PEER_ID_INVALID for other peers)."""
    if isinstance(peer, types.InputChannel | types.InputPeerChannel):
        return lookup_channel(world, peer.channel_id, peer.access_hash)
    if isinstance(peer, types.InputChannelFromMessage | types.InputPeerChannelFromMessage):
        return lookup_channel(world, peer.channel_id, None)
    if isinstance(peer, types.InputChannelEmpty | types.InputPeerEmpty):
        raise RpcError(400, "CHANNEL_INVALID")
    raise RpcError(400, "PEER_ID_INVALID")


def readable_channel(world: World, peer: TLObject) -> ChannelState:
    """Like input_channel, plus CHANNEL_PRIVATE for channels the account cannot read."""
    state = input_channel(world, peer)
    if state.spec.private:
        raise RpcError(400, "CHANNEL_PRIVATE")
    return state


def channel_tl(state: ChannelState) -> types.Channel | types.ChannelForbidden:
    """The Channel object as the signed-in account sees it."""
    spec = state.spec
    if spec.private:
        return types.ChannelForbidden(id=spec.id, access_hash=spec.access_hash, title=spec.title,
                                      broadcast=not spec.megagroup or None, megagroup=spec.megagroup or None)
    return types.Channel(
        id=spec.id, title=spec.title, photo=types.ChatPhotoEmpty(), date=utc(spec.date),
        access_hash=spec.access_hash, username=spec.username, left=not spec.member,
        broadcast=not spec.megagroup or None, megagroup=spec.megagroup or None,
        participants_count=spec.participants_count,
    )


def foreign_channel_tl(channel_id: int) -> types.Channel:
    """A `min` channel for a forward source that is not in the scenario."""
    return types.Channel(id=channel_id, title=f"Channel {channel_id}", photo=types.ChatPhotoEmpty(),
                         date=utc(0), min=True, broadcast=True, access_hash=0)


# --- users ---------------------------------------------------------------------------------

def user_tl(account: Account, is_self: bool) -> types.User:
    """The User object of an account (with phone only for self)."""
    return types.User(
        id=account.user_id, is_self=is_self or None, access_hash=account.user_id * 7919 + 13,
        first_name=account.first_name, last_name=account.last_name, username=account.username,
        phone=account.phone.lstrip("+") if is_self else None, status=types.UserStatusRecently(),
    )


def self_user(world: World, user_id: int) -> types.User:
    """The signed-in account as a User with `self` set."""
    return user_tl(world.accounts[user_id], is_self=True)
