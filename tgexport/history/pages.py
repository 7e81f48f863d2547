"""Channel history, oldest → newest, asking only for what is needed (`messages.getHistory` pages).

Pages run upwards from `after_id` (exclusive): offset_id = last id + 1 with add_offset = -limit
is how Telethon's `iter_messages(reverse=True, min_id=…)` asks too, so an unchanged channel costs
one request and N new messages about N/100. A first export with `--date-from` starts at that day
(offset_date); the scan stops at the first message after the `--date-to` day. Every request goes
through the FloodController; the mode's random pause (× pause_scale) separates pages. The next
page is asked for (after that pause) as soon as a page arrives, so the server's answer travels while
the caller processes this one; it is asked for only when the sequential scan would ask for it too.
"""
from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from telethon import utils
from telethon.tl import functions, types

from tgexport.client.flood import FloodController
from tgexport.core import fault_points

PAGE_SIZE = 100
# Event-loop turns a request just started needs to reach the socket: Telethon passes it from the
# caller's task to the sender's send loop and then to the connection's (3 to 5 turns, measured; 8 leaves room).
HAND_OFF_TURNS = 8
Sleep = Callable[[float], Awaitable[None]]


async def random_pause(pause: tuple[float, float], sleep: Sleep) -> None:
    """Sleep a random time within the mode's (low, high) pause between requests (none when high is 0)."""
    low, high = pause
    seconds = random.uniform(low, high) if high > 0 else 0.0
    if seconds > 0:
        await sleep(seconds)


async def _hand_off() -> None:
    """Let a request started just now reach the socket before CPU-bound work holds the loop."""
    for _ in range(HAND_OFF_TURNS):
        await asyncio.sleep(0)


def day_start(day: date) -> datetime:
    """00:00:00 UTC of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class DateWindow:
    """Inclusive whole UTC days; either side may be open."""

    date_from: date | None = None
    date_to: date | None = None

    @cached_property  # computed once: before()/after() run for every message
    def start(self) -> datetime | None:
        return day_start(self.date_from) if self.date_from else None

    @cached_property
    def end(self) -> datetime | None:
        """Exclusive end: 00:00 UTC of the day after `date_to`."""
        return day_start(self.date_to + timedelta(days=1)) if self.date_to else None

    def before(self, moment: datetime) -> bool:
        return self.start is not None and _aware(moment) < self.start

    def after(self, moment: datetime) -> bool:
        return self.end is not None and _aware(moment) >= self.end


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class ScanProgress:
    """Where the scan stands: `position` is the highest id of the contiguous scanned prefix;
    `scanned` counts the messages looked at (before the `--date-to` stop)."""

    position: int
    pages: int = 0
    scanned: int = 0
    done: bool = False


class HistoryReader:
    """Yields pages of messages (ascending ids) newer than `after_id` within the date window."""

    def __init__(
        self,
        client: Any,
        entity: Any,
        flood: FloodController,
        *,
        page_pause: tuple[float, float] = (0.0, 0.0),
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.peer = utils.get_input_peer(entity)
        self.flood = flood
        self.page_pause = page_pause
        self.sleep = sleep

    def _request(self, offset_id: int, offset_date: datetime | None) -> functions.messages.GetHistoryRequest:
        return functions.messages.GetHistoryRequest(
            peer=self.peer, offset_id=offset_id, offset_date=offset_date, add_offset=-PAGE_SIZE,
            limit=PAGE_SIZE, max_id=0, min_id=0, hash=0,
        )

    def _ask(self, offset_id: int) -> asyncio.Future[Any]:
        """The next page's first attempt, started now (after the mode's pause): the answer travels
        while the caller processes the page before it. A FloodWait or missed deadline is handled in
        `_fetch` when the caller asks for the page, after it committed the one before (as page by page)."""
        async def first_attempt() -> Any:
            await self._pause()
            return await self.client(self._request(offset_id, None))
        return asyncio.ensure_future(first_attempt())

    async def _fetch(self, offset_id: int, offset_date: datetime | None,
                     started: asyncio.Future[Any] | None = None) -> Any:
        """One page through the FloodController; `started` is its first attempt when already under way."""
        def attempt() -> Awaitable[Any]:
            nonlocal started
            first, started = started, None
            return first if first is not None else self.client(self._request(offset_id, offset_date))
        return await self.flood.call(attempt, what="messages.getHistory")

    async def _pause(self) -> None:
        await random_pause(self.page_pause, self.sleep)

    async def pages(self, after_id: int, window: DateWindow, progress: ScanProgress,
                    until_id: int | None = None) -> AsyncIterator[list[Any]]:
        """One list per request (maybe empty): in-window messages with id > after_id, ascending.

        `progress.position` already covers the yielded page (and any filtered-out messages in it).
        `until_id` (the newest id the dialog list gave) ends the scan once passed: no empty last request.
        """
        progress.position = max(progress.position, after_id)
        # A first export with --date-from starts at that day; one second early so the day's
        # first message is included whatever the server's offset_date boundary is.
        offset_date = window.start - timedelta(seconds=1) if window.start and after_id <= 0 else None
        offset_id = progress.position + 1 if (progress.position > 0 or offset_date is None) else 0
        result = await self._fetch(offset_id, offset_date)
        while True:
            fault_points.hit("history_page")  # an answer arrived; nothing of it is processed yet
            progress.pages += 1
            page = self._take(result, window, progress)
            if until_id is not None and progress.position >= until_id:
                progress.done = True
            if progress.done:
                yield page
                return
            offset_id = progress.position + 1
            ahead = self._ask(offset_id)  # the page a page-by-page scan would ask for next
            try:
                await _hand_off()
                yield page
                result = await self._fetch(offset_id, None, started=ahead)
            finally:  # after a stop the page asked ahead is not wanted; its outcome is seen either way
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)

    def _take(self, result: Any, window: DateWindow, progress: ScanProgress) -> list[Any]:
        """The in-window messages of one response; advances `progress` and decides when to stop."""
        by_id = {m.id: m for m in result.messages if m.id > progress.position}
        if not by_id or isinstance(result, types.messages.Messages):
            progress.done = True
        kept: list[Any] = []
        for message_id in sorted(by_id):
            message = by_id[message_id]
            if isinstance(message, types.MessageEmpty):
                progress.position = message_id
                continue
            if window.after(message.date):
                progress.done = True
                break
            progress.position = message_id
            progress.scanned += 1
            if not window.before(message.date):
                kept.append(message)
        self._bind(kept)
        return kept

    def _bind(self, messages: list[Any]) -> None:
        """Bind messages to the client and the channel's input peer (`message.client`, `get_input_chat()`).

        Deliberately not Telethon's `_finish_init` (what `iter_messages` does): it resolves the
        sender, chat, forward and reply entities of every message, which an export never reads
        (records use the raw TL fields), and it was ~15 % of a full export's CPU (BENCHMARKS.md).
        Telethon's getters (`get_chat()`, `get_sender()`) still fetch entities on demand.
        """
        client, peer = self.client, self.peer
        for message in messages:
            message._client = client
            message._input_chat = peer
