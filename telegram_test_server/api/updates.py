"""updates.getState / getDifference / getChannelDifference: a world without pending updates."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.api.common import input_channel, utc
from telegram_test_server.protocol.rpc import CallContext

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi

PTS = 1
SEQ = 1


async def get_state(api: ServerApi, req: functions.updates.GetStateRequest, ctx: CallContext) -> types.updates.State:
    """updates.getState: a fixed common state (no private updates ever happen)."""
    return types.updates.State(pts=PTS, qts=0, date=utc(int(time.time())), seq=SEQ, unread_count=0)


async def get_difference(api: ServerApi, req: functions.updates.GetDifferenceRequest,
                         ctx: CallContext) -> types.updates.DifferenceEmpty:
    """updates.getDifference: nothing happened."""
    return types.updates.DifferenceEmpty(date=utc(int(time.time())), seq=SEQ)


async def get_channel_difference(api: ServerApi, req: functions.updates.GetChannelDifferenceRequest,
                                 ctx: CallContext) -> types.updates.ChannelDifferenceEmpty:
    """updates.getChannelDifference: empty, at the channel's current pts."""
    state = input_channel(api.world, req.channel)
    return types.updates.ChannelDifferenceEmpty(pts=state.pts, final=True, timeout=30)


HANDLERS = {
    functions.updates.GetStateRequest: get_state,
    functions.updates.GetDifferenceRequest: get_difference,
    functions.updates.GetChannelDifferenceRequest: get_channel_difference,
}
UNAUTHORISED_OK: set = set()
