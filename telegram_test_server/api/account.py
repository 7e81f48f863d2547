"""account.initTakeoutSession and account.finishTakeoutSession (the takeout id is checked by the router)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.protocol.rpc import CallContext, RpcError

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi

FIRST_TAKEOUT_ID = 7000


async def init_takeout_session(api: ServerApi, req: functions.account.InitTakeoutSessionRequest,
                               ctx: CallContext) -> types.account.Takeout:
    """A new open takeout session (faults such as rpc_error TAKEOUT_INIT_DELAY_X fire before this)."""
    takeouts = api.world.takeouts
    takeout_id = max(takeouts, default=FIRST_TAKEOUT_ID - 1) + 1
    takeouts[takeout_id] = None
    return types.account.Takeout(id=takeout_id)


async def finish_takeout_session(api: ServerApi, req: functions.account.FinishTakeoutSessionRequest,
                                 ctx: CallContext) -> bool:
    """Close the takeout session the call is wrapped in (invokeWithTakeout), remembering `success`."""
    takeout_id = ctx.extra.get("takeout_id")
    if takeout_id is None:
        raise RpcError(400, "TAKEOUT_REQUIRED")
    api.world.takeouts[takeout_id] = bool(req.success)
    return True


HANDLERS = {
    functions.account.InitTakeoutSessionRequest: init_takeout_session,
    functions.account.FinishTakeoutSessionRequest: finish_takeout_session,
}
UNAUTHORISED_OK: set = set()
