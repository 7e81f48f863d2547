"""The contract between the MTProto core and the API handlers of the test server."""
from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

from telethon.tl.tlobject import TLObject, TLRequest


class RpcError(Exception):
    """Answer the call with rpc_error (code, message), exactly as Telegram would."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class DropConnection(Exception):
    """Close the TCP connection without answering this call (fault injection)."""


@dataclass
class CallContext:
    """What a handler knows about the call it serves."""

    auth_key_id: int
    session_id: int
    connection_id: int
    auth: AuthBindings
    layer: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class AuthBindings(Protocol):
    """Which account (user id) an auth key is signed in as; persisted with --state-dir."""

    def user_for(self, auth_key_id: int) -> int | None: ...

    def bind(self, auth_key_id: int, user_id: int) -> None: ...

    def unbind(self, auth_key_id: int) -> None: ...


class Api(Protocol):
    """Answers one unwrapped request (invokeWithLayer/initConnection already removed)."""

    def handle(self, request: TLRequest, ctx: CallContext) -> Awaitable[TLObject]: ...
