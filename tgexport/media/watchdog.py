"""Deadlines for one download: an overall size-adaptive deadline plus a no-progress watchdog."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
CANCEL_GRACE_SEC = 5.0


class DownloadTimeout(Exception):
    """The download passed its deadline (`reason="deadline"`) or made no progress (`"no_progress"`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Progress:
    """A `progress_callback` for Telethon that records when the last part arrived."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.last = clock()

    def __call__(self, current: int, total: int | None) -> None:
        self.last = self._clock()


async def _stop(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait (bounded) until it has unwound, so its file handle is closed."""
    if not task.done():
        task.cancel()
        try:
            await asyncio.wait({task}, timeout=CANCEL_GRACE_SEC)
        finally:
            _retrieve(task)
    _retrieve(task)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a finished task's exception as seen (the caller reports errors its own way)."""
    if task.done() and not task.cancelled():
        task.exception()


async def run_with_watchdog(coro: Coroutine[Any, Any, T], *, deadline_sec: float, stall_sec: float,
                            progress: Any, clock: Clock, sleep: Sleep) -> T:
    """Await `coro`; raise DownloadTimeout when `deadline_sec` passes or no progress for `stall_sec`.

    `progress.last` is when bytes last arrived; a progress with `tick()` and `interval` is also
    ticked at least once per interval (progress events of a download that receives nothing).
    """
    start = clock()
    task = asyncio.ensure_future(coro)
    tick = getattr(progress, "tick", None)
    interval = getattr(progress, "interval", None) if tick is not None else None
    try:
        while True:
            now = clock()
            if now - start >= deadline_sec:
                raise DownloadTimeout("deadline")
            if now - progress.last >= stall_sec:
                raise DownloadTimeout("no_progress")
            if tick is not None:
                tick()
            remaining = min(start + deadline_sec, progress.last + stall_sec) - now
            if interval:
                remaining = min(remaining, interval)
            sleeper = asyncio.ensure_future(sleep(remaining))
            try:
                await asyncio.wait({task, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
            if task.done():
                return task.result()
    finally:
        await _stop(task)
