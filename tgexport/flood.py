"""FloodWait handling: log when a wait starts, wait `seconds + extra` up to a bound, else stop."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from telethon.errors import FloodError

from errors import RATE_LIMIT, RateLimitError

log = logging.getLogger("tgexport.flood")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class EventSink(Protocol):
    """Where `flood_wait` events go: an export's ExportLog, or AppLogEvents before one exists."""

    def info(self, event: str, **data: Any) -> None: ...

    def error(self, event: str, error_code: str | None = None, **data: Any) -> None: ...


class AppLogEvents:
    """Events into the app log (commands without an export directory, or before it is known)."""

    def info(self, event: str, **data: Any) -> None:
        log.info("%s %s", event, data)

    def error(self, event: str, error_code: str | None = None, **data: Any) -> None:
        log.warning("%s %s", event, data, extra={"error_code": error_code})


class FloodController:
    """Runs Telegram calls; every FloodWait is logged as `flood_wait` and counted in `events`."""

    def __init__(self, *, extra: float, max_wait: float, log: EventSink, sleep: Sleep = asyncio.sleep) -> None:
        self.extra = extra
        self.max_wait = max_wait
        self.log = log
        self.sleep = sleep
        self.events = 0

    async def call(self, make_call: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Await `make_call()` again after each FloodWait it gets that fits under `max_wait`."""
        while True:
            try:
                return await make_call()
            except FloodError as exc:
                seconds = int(getattr(exc, "seconds", 0) or 0)
                await self._wait_or_stop(seconds, what)

    async def _wait_or_stop(self, seconds: int, what: str) -> None:
        self.events += 1
        total = seconds + self.extra
        if total > self.max_wait:
            self.log.error("flood_wait", RATE_LIMIT, seconds=seconds, sleep=0, request=what,
                           max_flood_wait=self.max_wait, action="stop")
            raise RateLimitError(
                f"Telegram asked to wait {seconds} s for {what}, more than --max-flood-wait "
                f"{self.max_wait:g} s; retry later",
                retry_after=seconds,
            )
        self.log.error("flood_wait", RATE_LIMIT, seconds=seconds, sleep=round(total, 3), request=what)
        await self.sleep(total)
