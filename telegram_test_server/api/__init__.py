"""API handlers of the test server, one module per TL namespace; `make_api(world)` builds the Api."""
from __future__ import annotations

from telegram_test_server.protocol.rpc import Api
from telegram_test_server.world.state import World


def make_api(world: World) -> Api:
    """The Api object the MTProto core calls for every unwrapped request."""
    from telegram_test_server.api.router import ServerApi

    return ServerApi(world)
