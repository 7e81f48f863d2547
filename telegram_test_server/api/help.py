"""help.getConfig (DC list pointing at this server) and help.getNearestDc."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.api.common import utc
from telegram_test_server.protocol.rpc import CallContext

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi


def server_address(api: ServerApi, ctx: CallContext) -> tuple[str, int]:
    """Where clients reach this server: `world.address` (set by the server), else ctx.extra["server"]."""
    if api.world.address is not None:
        return api.world.address
    info = ctx.extra.get("server") or ctx.extra
    return str(info.get("host") or "127.0.0.1"), int(info.get("port") or 0)


def _limits() -> dict[str, int]:
    return dict(
        chat_size_max=200, megagroup_size_max=200000, forwarded_count_max=100, online_update_period_ms=210000,
        offline_blur_timeout_ms=5000, offline_idle_timeout_ms=30000, online_cloud_timeout_ms=300000,
        notify_cloud_delay_ms=30000, notify_default_delay_ms=1500, push_chat_period_ms=60000, push_chat_limit=2,
        edit_time_limit=172800, revoke_time_limit=2147483647, revoke_pm_time_limit=2147483647, rating_e_decay=2419200,
        stickers_recent_limit=200, channels_read_media_period=604800, call_receive_timeout_ms=20000,
        call_ring_timeout_ms=90000, call_connect_timeout_ms=30000, call_packet_timeout_ms=10000,
        caption_length_max=1024, message_length_max=4096)


async def get_config(api: ServerApi, req: functions.help.GetConfigRequest, ctx: CallContext) -> types.Config:
    """help.getConfig: one DC (the scenario's dc_id) at this server's host/port."""
    host, port = server_address(api, ctx)
    now = int(time.time())
    option = types.DcOption(id=api.world.dc_id, ip_address=host, port=port, ipv6=":" in host or None)
    return types.Config(
        date=utc(now), expires=utc(now + 3600), test_mode=False, this_dc=api.world.dc_id, dc_options=[option],
        dc_txt_domain_name="localhost", me_url_prefix="https://t.me/", webfile_dc_id=api.world.dc_id,
        **_limits())


async def get_nearest_dc(api: ServerApi, req: functions.help.GetNearestDcRequest,
                         ctx: CallContext) -> types.NearestDc:
    """help.getNearestDc: this DC."""
    return types.NearestDc(country="ZZ", this_dc=api.world.dc_id, nearest_dc=api.world.dc_id)


HANDLERS = {
    functions.help.GetConfigRequest: get_config,
    functions.help.GetNearestDcRequest: get_nearest_dc,
}
UNAUTHORISED_OK = set(HANDLERS)
