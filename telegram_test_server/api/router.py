"""The Api the MTProto core calls: auth check, fault rules, dispatch to namespace handlers."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telethon.tl.tlobject import TLObject, TLRequest

from telegram_test_server.api import auth, channels, contacts, help, messages, updates, upload, users
from telegram_test_server.api.common import method_name
from telegram_test_server.rpc import CallContext, RpcError
from telegram_test_server.world import World

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any, CallContext], Awaitable[Any]]
_MODULES = (auth, help, users, contacts, channels, messages, upload, updates)
_SELF_FAULTED = {"upload.getFile"}  # the handler applies faults itself (it knows the media)


class ServerApi:
    """Answers unwrapped requests for one World."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.logins = auth.LoginState()
        self.handlers: dict[type, Handler] = {}
        self.unauthorised_ok: set[type] = set()
        for module in _MODULES:
            self.handlers.update(module.HANDLERS)
            self.unauthorised_ok |= module.UNAUTHORISED_OK

    def is_authorised(self, ctx: CallContext) -> bool:
        """The key is signed in as an account of this world."""
        return ctx.auth.user_for(ctx.auth_key_id) in self.world.accounts

    async def handle(self, request: TLRequest, ctx: CallContext) -> TLObject:
        """Answer one request or raise RpcError / DropConnection."""
        name = method_name(request)
        handler = self.handlers.get(type(request))
        if handler is None:
            log.warning("unsupported method %s", name)
            raise RpcError(400, "METHOD_NOT_SUPPORTED")
        if type(request) not in self.unauthorised_ok and not self.is_authorised(ctx):
            raise RpcError(401, "AUTH_KEY_UNREGISTERED")
        if name not in _SELF_FAULTED:
            await self.world.faults.before_call(name)
        return await handler(self, request, ctx)
