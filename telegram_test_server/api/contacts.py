"""contacts.resolveUsername: channels and accounts by username, with Telegram's errors."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.api.common import channel_tl, user_tl
from telegram_test_server.protocol.rpc import CallContext, RpcError

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi

USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,30}[A-Za-z0-9]$")


async def resolve_username(api: ServerApi, req: functions.contacts.ResolveUsernameRequest,
                           ctx: CallContext) -> types.contacts.ResolvedPeer:
    """contacts.resolveUsername: USERNAME_INVALID for malformed names, USERNAME_NOT_OCCUPIED when free."""
    name = req.username or ""
    if not USERNAME_RE.match(name) or "__" in name:
        raise RpcError(400, "USERNAME_INVALID")
    try:
        state = api.world.channel(name)
    except KeyError:
        state = None
    if state is not None:
        return types.contacts.ResolvedPeer(peer=types.PeerChannel(state.id), chats=[channel_tl(state)], users=[])
    me = ctx.auth.user_for(ctx.auth_key_id)
    for account in api.world.accounts.values():
        if (account.username or "").lower() == name.lower():
            user = user_tl(account, is_self=account.user_id == me)
            return types.contacts.ResolvedPeer(peer=types.PeerUser(account.user_id), chats=[], users=[user])
    raise RpcError(400, "USERNAME_NOT_OCCUPIED")


HANDLERS = {functions.contacts.ResolveUsernameRequest: resolve_username}
UNAUTHORISED_OK: set = set()
