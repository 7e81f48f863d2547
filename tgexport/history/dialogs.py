"""Each joined channel's newest message id from the account's dialogs, in as few requests as possible.

`messages.getPeerDialogs` answers up to 100 cached channels a request (their Channel objects with the
current title, and each dialog's `top_message`, service messages included); `--all-channels` reads the
whole dialog list (`messages.getDialogs`, 100 a page), which carries the same. A channel whose top id the
export's scan already passed needs no getHistory (tgexport/run/parse.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telethon import errors as tl_errors
from telethon import types, utils
from telethon.tl import functions

from tgexport.client.flood import FloodController
from tgexport.client.resolver import channel_username

log = logging.getLogger("tgexport.history.dialogs")
PEERS_PER_REQUEST = 100


@dataclass(frozen=True)
class ChannelDialog:
    """A joined channel: its full Channel object and the id of its newest message."""

    entity: types.Channel
    top_message_id: int

    @property
    def label(self) -> str:
        """`@username`, else the marked id (`-100…`): how a `--all-channels` result names the channel."""
        username = channel_username(self.entity)
        return f"@{username}" if username else str(utils.get_peer_id(self.entity))


def _by_channel(result: Any) -> dict[int, ChannelDialog]:
    chats = {c.id: c for c in result.chats if isinstance(c, types.Channel)}
    found: dict[int, ChannelDialog] = {}
    for dialog in result.dialogs:
        peer = dialog.peer
        if isinstance(peer, types.PeerChannel) and peer.channel_id in chats:
            found[peer.channel_id] = ChannelDialog(chats[peer.channel_id], int(dialog.top_message or 0))
    return found


async def peer_dialogs(client: Any, flood: FloodController, peers: list[types.InputPeerChannel]) -> dict[int, ChannelDialog]:
    """Dialogs of `peers` by channel id (missing: not joined or not answered); up to 100 peers a request.

    A request Telegram refuses (other than FloodWait and lost answers, which the FloodController
    bounds) only costs change detection: those channels take the usual path.
    """
    found: dict[int, ChannelDialog] = {}
    unique = list({p.channel_id: p for p in peers}.values())
    for start in range(0, len(unique), PEERS_PER_REQUEST):
        chunk = [types.InputDialogPeer(p) for p in unique[start:start + PEERS_PER_REQUEST]]
        request = functions.messages.GetPeerDialogsRequest(peers=chunk)
        try:
            result = await flood.call(lambda r=request: client(r), what="messages.getPeerDialogs")
        except (tl_errors.UnauthorizedError, tl_errors.AuthKeyError):
            raise  # the sign-in is gone: an account-wide stop, not a refused request
        except tl_errors.RPCError as exc:
            log.warning("messages.getPeerDialogs refused (%s): %d channel(s) resolved one by one", exc, len(chunk))
            continue
        found.update(_by_channel(result))
    return found


async def joined_channels(client: Any, flood: FloodController) -> list[ChannelDialog]:
    """Every channel among the account's dialogs (what `channels` lists), newest dialog first."""
    async def collect() -> list[ChannelDialog]:
        found: dict[int, ChannelDialog] = {}
        async for dialog in client.iter_dialogs():
            entity = dialog.entity
            if isinstance(entity, types.Channel) and entity.id not in found:
                found[entity.id] = ChannelDialog(entity, int(dialog.dialog.top_message or 0))
        return list(found.values())

    return await flood.call(collect, what="the dialog list")
