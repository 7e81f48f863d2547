"""users.getUsers (self and known accounts) and users.getFullUser."""
from __future__ import annotations

from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.api.common import user_tl
from telegram_test_server.protocol.rpc import CallContext, RpcError

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi


def _user(api: ServerApi, ctx: CallContext, input_user) -> types.User | types.UserEmpty:
    me = ctx.auth.user_for(ctx.auth_key_id)
    if isinstance(input_user, types.InputUserSelf):
        return user_tl(api.world.accounts[me], is_self=True)
    user_id = getattr(input_user, "user_id", None)
    account = api.world.accounts.get(user_id) if user_id is not None else None
    if account is None:
        return types.UserEmpty(id=user_id or 0)
    return user_tl(account, is_self=user_id == me)


async def get_users(api: ServerApi, req: functions.users.GetUsersRequest, ctx: CallContext) -> list:
    """users.getUsers: Vector<User>; unknown users are left out, as Telegram does."""
    users = [_user(api, ctx, u) for u in req.id]
    return [u for u in users if not isinstance(u, types.UserEmpty)]


async def get_full_user(api: ServerApi, req: functions.users.GetFullUserRequest,
                        ctx: CallContext) -> types.users.UserFull:
    """users.getFullUser for a known account."""
    user = _user(api, ctx, req.id)
    if isinstance(user, types.UserEmpty):
        raise RpcError(400, "USER_ID_INVALID")
    full = types.UserFull(id=user.id, settings=types.PeerSettings(), notify_settings=types.PeerNotifySettings(),
                          common_chats_count=0)
    return types.users.UserFull(full_user=full, chats=[], users=[user])


HANDLERS = {
    functions.users.GetUsersRequest: get_users,
    functions.users.GetFullUserRequest: get_full_user,
}
UNAUTHORISED_OK: set = set()
