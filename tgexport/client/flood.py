"""Guarded Telegram calls: FloodWaits and request deadlines, each logged when its wait starts.

FloodWait: wait `seconds + extra` when that is at most `max_wait`, else stop with RATE_LIMIT.
Deadline: a call that gets no answer within `request_timeout` is retried with 2**attempt s
back-off (× pause scale) up to `timeout_retries` times, then stops with NETWORK_ERROR: Telethon
has no per-request timeout, so without this a lost answer would hang the run forever.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from telethon.errors import FloodError

from errors import NETWORK_ERROR, RATE_LIMIT, NetworkError, RateLimitError
from tgexport.config.environment import env_number
from tgexport.config.modes import backoff_delay

log = logging.getLogger("tgexport.client.flood")
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
REQUEST_TIMEOUT_ENV = "TELEGRAM_PARSER_REQUEST_TIMEOUT"
DEFAULT_REQUEST_TIMEOUT = 60.0


def request_timeout_from_env() -> float:
    """Seconds to wait for one answer (`TELEGRAM_PARSER_REQUEST_TIMEOUT`, default 60)."""
    return env_number(REQUEST_TIMEOUT_ENV, DEFAULT_REQUEST_TIMEOUT, positive=True)


class EventSink(Protocol):
    """Where `flood_wait` / `request_timeout` events go: an ExportLog, the app log, or both."""

    def info(self, event: str, **data: Any) -> None: ...

    def error(self, event: str, error_code: str | None = None, **data: Any) -> None: ...


class AppLogEvents:
    """Events into the app log (commands without an export directory, or before it is known)."""

    def info(self, event: str, **data: Any) -> None:
        log.info("%s %s", event, data)

    def error(self, event: str, error_code: str | None = None, **data: Any) -> None:
        log.warning("%s %s", event, data, extra={"error_code": error_code})


class TeeEvents:
    """Every event to several sinks (a parse logs waits in its export log and in the app log)."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def info(self, event: str, **data: Any) -> None:
        for sink in self.sinks:
            sink.info(event, **data)

    def error(self, event: str, error_code: str | None = None, **data: Any) -> None:
        for sink in self.sinks:
            sink.error(event, error_code, **data)


class FloodController:
    """Runs Telegram calls; every FloodWait is logged as `flood_wait` and counted in `events`."""

    def __init__(self, *, extra: float, max_wait: float, log: EventSink, sleep: Sleep = asyncio.sleep,
                 request_timeout: float | None = None, timeout_retries: int = 3) -> None:
        self.extra = extra
        self.max_wait = max_wait
        self.log = log
        self.sleep = sleep
        self.request_timeout = request_timeout
        self.timeout_retries = timeout_retries
        # Set by the owner once it has data to save (the parse run saves before a long wait).
        self.before_wait: Callable[[], None] | None = None
        self.events = 0

    async def call(self, make_call: Callable[[], Awaitable[T]], *, what: str, bounded: bool = True) -> T:
        """Await `make_call()`, again after each FloodWait under `max_wait` and each missed deadline.

        `bounded=False` for calls that keep their own deadline (media downloads).
        """
        timeouts = 0
        while True:
            try:
                if bounded and self.request_timeout:
                    # not wait_for: on 3.11 it drops a stop (cancel) that lands as the call finishes
                    async with asyncio.timeout(self.request_timeout):
                        return await make_call()
                return await make_call()
            except FloodError as exc:
                await self._wait_or_stop(int(getattr(exc, "seconds", 0) or 0), what)
            except TimeoutError:
                if not bounded:
                    raise
                timeouts += 1
                await self._retry_or_stop(timeouts, what)

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
        await self._pause(total)

    async def _retry_or_stop(self, attempt: int, what: str) -> None:
        timeout = self.request_timeout or 0.0
        if attempt > self.timeout_retries:
            self.log.error("request_timeout", NETWORK_ERROR, request=what, timeout_sec=timeout,
                           attempt=attempt, action="stop")
            raise NetworkError(f"no answer from Telegram to {what} within {timeout:g} s "
                               f"({attempt} attempt(s)); retry later")
        delay = backoff_delay(attempt)
        self.log.error("request_timeout", NETWORK_ERROR, request=what, timeout_sec=timeout,
                       attempt=attempt, sleep=round(delay, 3))
        await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        if self.before_wait is not None and seconds > 0:
            self.before_wait()
        await self.sleep(seconds)
