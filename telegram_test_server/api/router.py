"""The Api the MTProto core calls: auth check, fault rules, dispatch to namespace handlers."""
from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from telethon.tl.tlobject import TLObject, TLRequest

from telegram_test_server.api import (
    account,
    auth,
    channels,
    contacts,
    discussion,
    help,
    messages,
    updates,
    upload,
    users,
)
from telegram_test_server.api.common import method_name
from telegram_test_server.api.render import message_tl
from telegram_test_server.protocol.rpc import CallContext, RpcError
from telegram_test_server.world.state import ChannelState, World

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any, CallContext], Awaitable[Any]]
_MODULES = (auth, account, help, users, contacts, channels, messages, discussion, upload, updates)
_SELF_FAULTED = {"upload.getFile"}  # the handler applies faults itself (it knows the media)
_WARM_CHUNK = 200


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
        self._warming = False

    def _warm_items(self) -> Iterator[tuple[ChannelState, int]]:
        for state in list(self.world.channels.values()):
            if not state.spec.private:
                for msg_id in state.ids[::-1]:
                    yield state, msg_id

    def start_warming(self) -> None:
        """Build and serialise every message once, newest first, in small loop callbacks.

        Callbacks (not a task): a loop closed mid-way just drops them, with no warnings.
        """
        self._warming = True
        loop = asyncio.get_running_loop()
        todo = self._warm_items()

        def step() -> None:
            built = 0
            try:
                for state, msg_id in itertools.islice(todo, _WARM_CHUNK):
                    message_tl(self.world, state, msg_id)
                    built += 1
            except Exception:  # noqa: BLE001 - warming is an optimisation; pages build lazily anyway
                log.exception("warming the message cache failed")
                return
            if built == _WARM_CHUNK:
                loop.call_soon(step)

        loop.call_soon(step)

    def is_authorised(self, ctx: CallContext) -> bool:
        """The key is signed in as an account of this world."""
        return ctx.auth.user_for(ctx.auth_key_id) in self.world.accounts

    async def handle(self, request: TLRequest, ctx: CallContext) -> TLObject:
        """Answer one request or raise RpcError / DropConnection."""
        if not self._warming:  # the first call (help.getConfig) starts warming the message cache
            self.start_warming()
        name = method_name(request)
        handler = self.handlers.get(type(request))
        if handler is None:
            log.warning("unsupported method %s", name)
            raise RpcError(400, "METHOD_NOT_SUPPORTED")
        if type(request) not in self.unauthorised_ok and not self.is_authorised(ctx):
            raise RpcError(401, "AUTH_KEY_UNREGISTERED")
        takeout_id = ctx.extra.get("takeout_id")
        if takeout_id is not None and self.world.takeouts.get(takeout_id, False) is not None:
            raise RpcError(400, "TAKEOUT_INVALID")  # unknown or already finished
        if name not in _SELF_FAULTED:
            await self.world.faults.before_call(name)
        return await handler(self, request, ctx)
