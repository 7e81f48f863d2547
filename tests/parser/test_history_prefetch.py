"""HistoryReader asks for the next page while the caller processes the current one, and only when the
sequential scan would ask for it too (same requests, same count); a stop cancels the page asked ahead.

A fake client answers `messages.getHistory` from a list of ids (no Telethon internals are mocked:
the reader calls `client(request)` and gets real TL objects back).
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telethon.errors import FloodWaitError
from telethon.tl import functions, types

from errors import RateLimitError
from testkit.inproc import generated_channel
from testkit.server import make_session, open_client
from tgexport.client.flood import FloodController
from tgexport.history.pages import DateWindow, HistoryReader, ScanProgress

PEER = types.InputPeerChannel(channel_id=1, access_hash=0)
DAY = datetime(2024, 1, 1, tzinfo=UTC)


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **data: Any) -> None:
        self.seen.append((event, data))

    def error(self, event: str, error_code: str | None = None, **data: Any) -> None:
        self.seen.append((event, data))


class FakeHistory:
    """Answers getHistory like a channel of ids 1..count, one message an hour from DAY."""

    def __init__(self, count: int, *, hang_after: int | None = None, flood_on_call: int | None = None) -> None:
        self.count = count
        self.calls: list[int] = []  # offset_id of each request, in the order asked
        self.hang_after = hang_after  # calls after this many never answer (until cancelled)
        self.flood_on_call = flood_on_call
        self.cancelled = 0

    async def __call__(self, request: Any) -> Any:
        assert isinstance(request, functions.messages.GetHistoryRequest)
        self.calls.append(request.offset_id)
        if self.flood_on_call == len(self.calls):
            raise FloodWaitError(request=None, capture=3600)
        if self.hang_after is not None and len(self.calls) > self.hang_after:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        low = request.offset_id
        ids = range(min(low + request.limit - 1, self.count), low - 1, -1)  # newest first, as Telegram
        messages = [types.Message(id=i, peer_id=types.PeerChannel(1), date=DAY + timedelta(hours=i), message=str(i))
                    for i in ids]
        return types.messages.ChannelMessages(pts=1, count=self.count, messages=messages, topics=[], chats=[],
                                              users=[])


def _reader(client: FakeHistory, events: Events | None = None) -> HistoryReader:
    flood = FloodController(extra=0, max_wait=60, log=events or Events(), request_timeout=None)
    return HistoryReader(client, PEER, flood)


def test_next_page_is_asked_for_before_this_one_is_processed() -> None:
    client = FakeHistory(250)
    asked_when_yielded: list[list[int]] = []

    async def scan() -> list[int]:
        ids: list[int] = []
        async for page in _reader(client).pages(0, DateWindow(), ScanProgress(position=0)):
            asked_when_yielded.append(list(client.calls))
            ids += [m.id for m in page]
        return ids

    ids = asyncio.run(scan())
    assert ids == list(range(1, 251))
    # a short page does not end a scan (a channel may answer short pages): the empty answer does,
    # and that last page asks for nothing more
    assert asked_when_yielded == [[1, 101], [1, 101, 201], [1, 101, 201, 251], [1, 101, 201, 251]]
    assert client.calls == [1, 101, 201, 251]


def test_a_full_last_page_is_followed_by_one_request_as_before() -> None:
    client = FakeHistory(200)

    async def scan() -> int:
        return sum([len(page) async for page in _reader(client).pages(0, DateWindow(), ScanProgress(position=0))])

    assert asyncio.run(scan()) == 200
    assert client.calls == [1, 101, 201]  # the empty answer after a full page ends the scan, as it always did


@pytest.mark.parametrize("until_id, window, expected_calls", [
    (150, DateWindow(), [1, 101]),  # the dialog's top id reached: nothing asked after it
    (None, DateWindow(date_to=date(2024, 1, 2)), [1]),  # a message after --date-to: the scan ends there
])
def test_no_page_is_asked_for_once_the_scan_knows_it_is_done(until_id: int | None, window: DateWindow,
                                                              expected_calls: list[int]) -> None:
    client = FakeHistory(250)

    async def scan() -> None:
        async for _ in _reader(client).pages(0, window, ScanProgress(position=0), until_id=until_id):
            pass

    asyncio.run(scan())
    assert client.calls == expected_calls


def test_a_stop_cancels_the_page_asked_ahead_and_leaves_no_task() -> None:
    client = FakeHistory(500, hang_after=1)

    async def scan() -> set[asyncio.Task[Any]]:
        pages = _reader(client).pages(0, DateWindow(), ScanProgress(position=0))
        with pytest.raises(KeyboardInterrupt):
            async with contextlib.aclosing(pages):
                async for _ in pages:
                    raise KeyboardInterrupt  # what a stop looks like to the reader: the caller leaves
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert asyncio.run(scan()) == set()
    assert client.calls == [1, 101]
    assert client.cancelled == 1


def test_a_flood_wait_on_the_page_asked_ahead_is_handled_when_the_caller_asks_for_it() -> None:
    client = FakeHistory(500, flood_on_call=2)
    events = Events()
    got: list[int] = []

    async def scan() -> None:
        async for page in _reader(client, events).pages(0, DateWindow(), ScanProgress(position=0)):
            for _ in range(50):  # the caller gives the loop many turns while it processes the page
                await asyncio.sleep(0)
            assert events.seen == []  # the wait is the caller's, once it asks for the next page
            got.append(len(page))

    with pytest.raises(RateLimitError) as stop:
        asyncio.run(scan())
    assert got == [100]  # the first page reached the caller before the stop
    assert stop.value.retry_after == 3600
    assert [name for name, _ in events.seen] == ["flood_wait"]


def test_the_page_asked_ahead_reaches_the_server_before_the_caller_works(server_factory: Any, tmp_path: Path) -> None:
    """Real Telethon, real TCP: while the caller holds the event loop (CPU-bound work on a page),
    the next getHistory is already on the wire, so the server (its own thread) receives it."""
    server = server_factory(generated_channel(777, "ahead", "Ahead", 250))
    session = make_session(server, tmp_path / "s.session")
    received: list[int] = []

    async def scan() -> None:
        async with open_client(session) as client:
            entity = await client.get_entity("ahead")
            reader = HistoryReader(client, entity, FloodController(extra=0, max_wait=60, log=Events()))
            async for _ in reader.pages(0, DateWindow(), ScanProgress(position=0)):
                if not received:  # block the loop, as building a page's records does
                    received.append(_wait_for_requests(server, 2))

    asyncio.run(scan())
    assert received == [2]


def _wait_for_requests(server: Any, count: int, bound: float = 10.0) -> int:
    """The server's getHistory count once it reaches `count`, or what it is after `bound` seconds."""
    deadline = time.monotonic() + bound
    while server.requests.count("messages.getHistory") < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.requests.count("messages.getHistory")
