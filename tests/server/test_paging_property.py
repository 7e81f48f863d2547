"""getHistory paging: `paging.history_page` against brute force, and real Telethon `iter_messages`
against a brute-force model of what it should return, on channels with id gaps and shared dates."""
from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telethon import TelegramClient

from telegram_test_server.session_file import DUMMY_API_HASH, DUMMY_API_ID
from telegram_test_server.world.paging import history_page
from testkit.server import make_session, running_server

START = 1_700_000_000


def _sparse_messages() -> list[dict[str, Any]]:
    """Random id gaps (up to 40), dates shared by runs of up to 4 messages."""
    rng = random.Random(7)
    out, msg_id, date = [], 0, START
    for _ in range(180):
        msg_id += rng.randint(1, 40)
        if rng.random() < 0.6:
            date += 60
        out.append({"id": msg_id, "date": date, "text": f"m{msg_id}"})
    return out


SCENARIO = {"channels": [
    {"id": 1100000001, "username": "dense_channel", "generate": {"count": 140, "start_date": START, "date_step": 60}},
    {"id": 1100000002, "username": "gappy_channel",
     "generate": {"count": 230, "first_id": 3, "gap_every": 3, "deleted": [10, 11, 12, 13, 100, 101, 200],
                  "start_date": START, "date_step": 60}},
    {"id": 1100000003, "username": "sparse_channel", "messages": _sparse_messages()},
]}
CHANNELS = [c["username"] for c in SCENARIO["channels"]]


# --- pure function vs brute force ----------------------------------------------------------

def brute_page(msgs: list[tuple[int, int]], offset_id: int, offset_date: int, add_offset: int, limit: int,
               max_id: int, min_id: int) -> list[int]:
    """The rules spelled out over a newest-first list."""
    desc = [m for m in sorted(msgs, reverse=True) if m[0] > min_id and (not max_id or m[0] < max_id)]

    def before_anchor(m: tuple[int, int]) -> bool:
        return (not offset_id or m[0] < offset_id) and (not offset_date or (m[1], m[0]) < (offset_date, offset_id))

    anchor = next((i for i, m in enumerate(desc) if before_anchor(m)), len(desc))
    start, end = anchor + add_offset, anchor + add_offset + max(0, min(limit, 100))
    return [desc[i][0] for i in range(max(start, 0), min(end, len(desc)))]


@st.composite
def channel_and_request(draw: st.DrawFn) -> tuple[list[tuple[int, int]], dict[str, int]]:
    ids = sorted(draw(st.sets(st.integers(1, 300), max_size=60)))
    steps = draw(st.lists(st.integers(0, 2), min_size=len(ids), max_size=len(ids)))
    dates, date = [], START
    for step in steps:
        date += step * 10
        dates.append(date)
    req = {
        "offset_id": draw(st.sampled_from([0, *ids[:3], *ids[-3:], 150, 301])),
        "offset_date": draw(st.sampled_from([0, START, START + 5, START + 10, START + 200, *dates[:2], *dates[-2:]])),
        "add_offset": draw(st.integers(-120, 40)),
        "limit": draw(st.integers(-1, 130)),
        "max_id": draw(st.sampled_from([0, 1, 50, 150, 299])),
        "min_id": draw(st.sampled_from([0, 1, 50, 150])),
    }
    return list(zip(ids, dates, strict=True)), req


@settings(max_examples=400, deadline=None)
@given(channel_and_request())
def test_history_page_matches_brute_force(case: tuple[list[tuple[int, int]], dict[str, int]]) -> None:
    msgs, req = case
    ids, dates = [m[0] for m in msgs], [m[1] for m in msgs]
    assert history_page(ids, dates, **req) == brute_page(msgs, **req)


def test_history_page_known_answers() -> None:
    ids = [1, 2, 4, 5, 9, 10]
    dates = [100, 110, 120, 120, 130, 140]
    assert history_page(ids, dates) == [10, 9, 5, 4, 2, 1]
    assert history_page(ids, dates, limit=2) == [10, 9]
    assert history_page(ids, dates, offset_id=5) == [4, 2, 1]
    assert history_page(ids, dates, offset_id=5, add_offset=-2, limit=2) == [9, 5]
    assert history_page(ids, dates, offset_id=1, add_offset=-3, limit=3) == [4, 2, 1]
    assert history_page(ids, dates, offset_date=120) == [2, 1]
    assert history_page(ids, dates, offset_date=120, offset_id=5) == [4, 2, 1]  # same date, smaller id
    assert history_page(ids, dates, max_id=9, min_id=1) == [5, 4, 2]
    assert history_page(ids, dates, limit=1000) == [10, 9, 5, 4, 2, 1]
    assert len(history_page(list(range(1, 500)), list(range(1, 500)), limit=1000)) == 100


# --- real Telethon against the model -------------------------------------------------------

class Harness:
    """One server, one signed-in client and one event loop for the whole module."""

    def __init__(self, server: Any, session: Path) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.client = TelegramClient(str(session), DUMMY_API_ID, DUMMY_API_HASH, loop=self.loop)
        self.loop.run_until_complete(self.client.connect())
        self.entities = {u: self.run(self.client.get_input_entity(u)) for u in CHANNELS}

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        async def disconnect() -> None:
            await self.client.disconnect()

        self.run(disconnect())
        self.loop.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_server(SCENARIO) as server:
        session = make_session(server, tmp_path_factory.mktemp("paging") / "paging.session")
        h = Harness(server, session)
        try:
            yield h
        finally:
            h.close()


def model(msgs: list[tuple[int, int]], reverse: bool, limit: int | None, offset_id: int, min_id: int,
          max_id: int, offset_date: int | None) -> list[int]:
    """What iter_messages promises: exclusive bounds, oldest first when reversed.

    Telethon's own rule: going forward, offset_id = max(offset_id, max_id) is the upper bound.
    """
    if reverse:
        keep = [m for m in msgs if m[0] > max(min_id, offset_id) and (not max_id or m[0] < max_id)
                and (offset_date is None or m[1] > offset_date)]
    else:
        upper = max(offset_id, max_id)
        keep = [m for m in reversed(msgs) if m[0] > min_id and (not upper or m[0] < upper)
                and (offset_date is None or m[1] < offset_date)]
    ids = [m[0] for m in keep]
    return ids if limit is None else ids[:limit]


def channel_messages(harness: Harness, username: str) -> list[tuple[int, int]]:
    state = harness.server.world.channel(username)
    return list(zip(state.ids, state.dates, strict=True))


@st.composite
def iteration(draw: st.DrawFn) -> dict[str, Any]:
    username = draw(st.sampled_from(CHANNELS))
    reverse = draw(st.booleans())
    top, minutes_top = {"dense_channel": (140, 140), "gappy_channel": (360, 360),
                        "sparse_channel": (3800, 120)}[username]
    id_value = st.one_of(st.just(0), st.integers(1, top + 5))
    args = {"limit": draw(st.one_of(st.none(), st.integers(0, 260))), "offset_id": draw(id_value),
            "min_id": draw(id_value), "max_id": draw(id_value)}
    if draw(st.booleans()):
        # half a minute off the minute grid: never equal to a message date
        minutes = draw(st.integers(-2, minutes_top + 5))
        args["offset_date"] = START + minutes * 60 + 30
        if reverse:  # Telethon sends min_id/offset_id as offset_id: the date is then not applied alone
            args["offset_id"] = args["min_id"] = 0
    return {"username": username, "reverse": reverse, **args}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(iteration())
def test_iter_messages_matches_model(harness: Harness, it: dict[str, Any]) -> None:
    username, reverse = it["username"], it["reverse"]
    offset_date = it.get("offset_date")
    kwargs = {k: it[k] for k in ("limit", "offset_id", "min_id", "max_id")}
    if offset_date is not None:
        kwargs["offset_date"] = datetime.fromtimestamp(offset_date, UTC)

    async def collect() -> list[int]:
        return [m.id async for m in harness.client.iter_messages(
            harness.entities[username], reverse=reverse, wait_time=0, **kwargs)]

    got = harness.run(collect())
    expected = model(channel_messages(harness, username), reverse, it["limit"], it["offset_id"], it["min_id"],
                     it["max_id"], offset_date)
    assert got == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(CHANNELS), st.lists(st.integers(1, 400), min_size=1, max_size=150))
def test_get_messages_by_ids(harness: Harness, username: str, ids: list[int]) -> None:
    existing = {m[0] for m in channel_messages(harness, username)}

    async def fetch() -> list[int | None]:
        got = await harness.client.get_messages(harness.entities[username], ids=ids)
        return [m.id if m is not None else None for m in got]

    assert harness.run(fetch()) == [i if i in existing else None for i in ids]


def test_total_count_is_channel_size(harness: Harness) -> None:
    for username in CHANNELS:
        got = harness.run(harness.client.get_messages(harness.entities[username], limit=3))
        assert got.total == len(channel_messages(harness, username))
        assert [m.id for m in got] == [m[0] for m in channel_messages(harness, username)][::-1][:3]
