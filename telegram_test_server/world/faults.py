"""Fault rules of a scenario: FLOOD_WAIT, rpc errors, slow answers, stalls, dropped connections.

`Faults.before_call` runs before a handler; it counts matching calls per rule and sleeps,
stalls, raises `RpcError` or `DropConnection`. File-reference expiry is state kept here and
consulted by the getFile handler (`reference_expired`) and re-fetches (`refetched`).
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram_test_server.protocol.rpc import DropConnection, RpcError

KINDS = {"flood_wait", "rpc_error", "file_reference_expired", "slow", "stall", "drop_connection"}
_FILE_KINDS = {"file_reference_expired", "slow", "stall", "drop_connection"}
_COMMON = {"kind", "method", "call", "times", "channel", "message_id"}
_EXTRA = {
    "flood_wait": {"seconds"},
    "rpc_error": {"code", "message"},
    "file_reference_expired": {"forever"},
    "slow": {"delay"},
    "stall": {"part", "offset"},
    "drop_connection": {"after"},
}


@dataclass(frozen=True)
class MediaTarget:
    """Which message's media a getFile call reads, which part (offset // limit) and which bytes."""

    channel_id: int
    channel_username: str | None
    message_id: int
    part: int
    offset: int = 0
    limit: int = 0

    def covers(self, byte: int) -> bool:
        """Does this call ask for the file's byte at offset `byte`?"""
        return self.offset <= byte < self.offset + self.limit


@dataclass
class Rule:
    """One validated fault rule."""

    kind: str
    method: str | None
    call: int = 1
    times: int | None = 1
    channel: int | str | None = None
    message_id: int | None = None
    seconds: int = 0
    code: int = 400
    message: str = ""
    forever: bool = False
    delay: float = 0.0
    part: int | None = None
    offset: int | None = None  # stall: calls whose [offset, offset + limit) holds this byte
    after: int = 0
    seen: int = 0  # matching calls so far
    active: int = 0  # calls of this rule waiting right now (slow, stall)
    peak: int = 0  # most calls of this rule waiting at once

    def matches_media(self, target: MediaTarget | None) -> bool:
        """True when the rule has no media filter or the call reads its message."""
        if self.message_id is None and self.channel is None:
            return True
        if target is None:
            return False
        if self.message_id is not None and target.message_id != self.message_id:
            return False
        if self.channel is None:
            return True
        if isinstance(self.channel, int):
            return self.channel == target.channel_id
        return (target.channel_username or "").lower() == str(self.channel).lstrip("@").lower()

    def in_window(self, n: int) -> bool:
        """Is the n-th matching call (1-based) one that fires?"""
        return n >= self.call and (self.times is None or n < self.call + self.times)


def _parse_rule(raw: dict[str, Any]) -> Rule:
    if not isinstance(raw, dict):
        raise ValueError(f"fault: expected an object, got {raw!r}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"fault: kind must be one of {sorted(KINDS)}, got {kind!r}")
    unknown = set(raw) - _COMMON - _EXTRA[kind]
    if unknown:
        raise ValueError(f"fault {kind}: unknown keys {sorted(unknown)}")
    method = raw.get("method", "upload.getFile" if kind in _FILE_KINDS else None)
    if method is None:
        raise ValueError(f"fault {kind}: method is required")
    default_times = None if kind in ("slow", "stall", "file_reference_expired") else 1
    rule = Rule(kind=kind, method=method, call=int(raw.get("call", 1)),
                times=raw.get("times", default_times), channel=raw.get("channel"),
                message_id=raw.get("message_id"), seconds=int(raw.get("seconds", 0)),
                code=int(raw.get("code", 400)), message=str(raw.get("message", "")),
                forever=bool(raw.get("forever", False)), delay=float(raw.get("delay", 0.0)),
                part=raw.get("part"), offset=raw.get("offset"), after=int(raw.get("after", 0)))
    _check_rule(rule)
    return rule


def _check_rule(rule: Rule) -> None:
    if rule.call < 1 or (rule.times is not None and int(rule.times) < 1):
        raise ValueError(f"fault {rule.kind}: call must be >= 1 and times >= 1 or null")
    if rule.kind == "flood_wait" and rule.seconds < 0:
        raise ValueError("fault flood_wait: seconds must be >= 0")
    if rule.kind == "rpc_error" and not rule.message:
        raise ValueError("fault rpc_error: message is required")
    if rule.kind == "file_reference_expired" and rule.message_id is None:
        raise ValueError("fault file_reference_expired: message_id is required")
    if rule.kind == "stall" and rule.part is None and rule.offset is None and rule.message_id is None:
        raise ValueError("fault stall: give part, offset and/or message_id")
    if rule.kind == "drop_connection":
        rule.call = rule.after + 1


def parse_rules(raw_rules: list[dict[str, Any]]) -> list[Rule]:
    """Validate the `faults` list of a scenario."""
    return [_parse_rule(r) for r in raw_rules]


Sleep = Callable[[float], Awaitable[None]]


class Faults:
    """Mutable fault state of one running world."""

    def __init__(self, raw_rules: list[dict[str, Any]], sleep: Sleep = asyncio.sleep) -> None:
        self.rules = parse_rules(raw_rules)
        self._sleep = sleep
        self._fresh: set[tuple[int, int]] = set()  # (channel, message) re-fetched after expiry

    def add(self, raw: dict[str, Any]) -> None:
        """Add one rule while the server runs."""
        self.rules.append(_parse_rule(raw))

    async def before_call(self, method: str, target: MediaTarget | None = None) -> None:
        """Apply every rule matching this call (counted even when it does not fire)."""
        for rule in self.rules:
            if rule.kind == "file_reference_expired" or rule.method != method:
                continue
            if not rule.matches_media(target):
                continue
            if rule.kind == "stall" and rule.part is not None and (target is None or target.part != rule.part):
                continue
            if rule.kind == "stall" and rule.offset is not None and (target is None or not target.covers(rule.offset)):
                continue
            rule.seen += 1
            if rule.in_window(rule.seen):
                await self._fire(rule)

    async def _fire(self, rule: Rule) -> None:
        if rule.kind == "flood_wait":
            raise RpcError(420, f"FLOOD_WAIT_{rule.seconds}")
        if rule.kind == "rpc_error":
            raise RpcError(rule.code, rule.message)
        if rule.kind == "drop_connection":
            raise DropConnection()
        rule.active += 1
        rule.peak = max(rule.peak, rule.active)
        try:
            if rule.kind == "slow":
                await self._sleep(rule.delay)
            elif rule.kind == "stall":
                await asyncio.Event().wait()  # never set: the call is never answered
        finally:
            rule.active -= 1

    def reference_expired(self, target: MediaTarget) -> bool:
        """Is the file reference of this media expired (a `file_reference_expired` rule)?"""
        for rule in self.rules:
            if rule.kind != "file_reference_expired" or not rule.matches_media(target):
                continue
            if rule.forever or (target.channel_id, target.message_id) not in self._fresh:
                return True
        return False

    def refetched(self, channel_id: int, message_id: int) -> None:
        """The message was fetched with channels.getMessages: its reference is fresh again."""
        self._fresh.add((channel_id, message_id))
