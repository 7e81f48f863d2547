"""Scenario loading and validation, the built-in demo as a real client sees it, hostile values
served as written, and messages appended while the server runs."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from telethon import types

from telegram_test_server.world.scenario import DEMO_USERNAME, ScenarioError, load_scenario
from telegram_test_server.world.state import World
from testkit.server import make_session, open_client, server_call

SCENARIOS = Path(__file__).resolve().parents[2] / "telegram_test_server" / "scenarios"


@pytest.mark.parametrize("bad, message", [
    ({"channels": [{"id": 1, "titel": "typo"}]}, "unknown keys"),
    ({"channels": [{"id": -5}]}, "positive int"),
    ({"channels": [{"id": 1, "username": "a_b"}, {"id": 2, "username": "A_B"}]}, "duplicate channel username"),
    ({"channels": [{"id": 1, "messages": [{"id": 1, "date": 200}, {"id": 2, "date": 100}]}]}, "back in time"),
    ({"channels": [{"id": 1, "generate": {"count": 3, "gap_every": 1}}]}, "gap_every"),
    ({"channels": [{"id": 1, "messages": [{"id": 1, "media": {"type": "sticker"}}]}]}, "type must be"),
    ({"channels": [{"id": 1, "messages": [{"id": 1, "poll": {"answers": ["only one"]}}]}]}, "two answers"),
    ({"faults": [{"kind": "explode"}]}, "kind must be"),
    ({"faults": [{"kind": "flood_wait"}]}, "method is required"),
    ({"faults": [{"kind": "file_reference_expired"}]}, "message_id is required"),
    ({"accounts": [{"phone": "+1"}, {"user_id": 5, "phone": "1"}]}, "duplicate account phone"),
])
def test_invalid_scenarios_are_rejected(bad: dict, message: str) -> None:
    with pytest.raises((ScenarioError, ValueError), match=message):
        load_scenario(bad)


def test_generation_gaps_dates_and_overrides() -> None:
    scenario = load_scenario({"channels": [{"id": 7, "generate": {
        "count": 10, "first_id": 5, "gap_every": 4, "deleted": [6], "start_date": "2024-01-01T00:00:00Z",
        "date_step": 10}, "messages": [{"id": 7, "text": "explicit"}, {"id": 100, "text": "late"}]}]})
    msgs = scenario.channels[0].messages
    assert [m.id for m in msgs] == [5, 7, 9, 10, 11, 13, 14, 15, 17, 18, 100]
    assert msgs[1].text == "explicit" and msgs[1].date == 1704067200 + 20
    assert [m.date for m in msgs] == sorted(m.date for m in msgs)


def test_every_bundled_scenario_loads() -> None:
    files = sorted(SCENARIOS.glob("*.json"))
    assert {f.stem for f in files} >= {"example", "hostile"}
    for path in files:
        assert load_scenario(path).channels
        assert load_scenario(json.loads(path.read_text(encoding="utf-8"))).channels


def test_demo_has_what_the_readme_promises() -> None:
    world = World("demo")
    state = world.channel(DEMO_USERNAME)
    msgs = list(state.messages.values())
    assert len(msgs) >= 1000 and state.ids[-1] - state.ids[0] + 1 > len(msgs)  # id gaps
    assert any(m.reply_to for m in msgs) and any(m.fwd_from for m in msgs) and any(m.views for m in msgs)
    assert any(m.poll for m in msgs) and any(m.service for m in msgs)
    media = [m.media for m in msgs if m.media is not None]
    assert 20 <= len(media) <= 60
    assert any(x.type == "photo" for x in media) and any(x.type == "video" for x in media)
    assert max(x.size for x in media) > 5 * 1024 * 1024
    assert sum(x.size for x in media) < 20 * 1024 * 1024


def _fetch_all(session: Path, username: str) -> list:
    async def run():
        async with open_client(session) as client:
            return await client.get_messages(username, limit=None, wait_time=0)

    return asyncio.run(run())


def test_demo_through_telethon(demo_server, tmp_path: Path) -> None:
    msgs = _fetch_all(make_session(demo_server, tmp_path / "demo.session"), DEMO_USERNAME)
    state = demo_server.world.channel(DEMO_USERNAME)
    assert [m.id for m in msgs] == state.ids[::-1] and msgs.total == len(state.ids)
    assert all(a.date >= b.date for a, b in zip(msgs, msgs[1:], strict=False))
    assert any(isinstance(m, types.MessageService) and isinstance(m.action, types.MessageActionPinMessage)
               and m.reply_to.reply_to_msg_id for m in msgs)
    assert any(isinstance(m.action, types.MessageActionChannelCreate) for m in msgs if m.action)
    polls = [m.media.poll for m in msgs if isinstance(m.media, types.MessageMediaPoll)]
    assert polls and all(len(p.answers) == 3 for p in polls)
    fwds = [m.fwd_from for m in msgs if m.fwd_from]
    assert any(f.from_name for f in fwds) and any(f.channel_post and f.post_author for f in fwds)
    assert any(m.reply_to and m.reply_to.reply_to_msg_id for m in msgs if not m.action)
    assert all(m.views is not None for m in msgs if not m.action)
    photos = [m.photo for m in msgs if m.photo]
    assert photos and all(len(p.sizes) == 2 and isinstance(p.sizes[-1], types.PhotoSize) for p in photos)
    big = next(m for m in msgs if m.id == 1001)
    assert big.file.size > 5 * 1024 * 1024 and big.file.mime_type == "video/mp4" and big.video
    assert big.document.attributes[0].duration == 95.0 and big.file.name == "big-clip.mp4"


def test_hostile_values_are_served_as_written(server_factory, tmp_path: Path) -> None:
    server = server_factory(SCENARIOS / "hostile.json")
    msgs = {m.id: m for m in _fetch_all(make_session(server, tmp_path / "h.session"), "hostile_channel")}
    raw = json.loads((SCENARIOS / "hostile.json").read_text(encoding="utf-8"))
    by_id = {m["id"]: m for m in raw["channels"][0]["messages"]}
    for msg_id, spec in by_id.items():
        name = (spec.get("media") or {}).get("file_name")
        if name is not None:
            assert msgs[msg_id].file.name == name
    assert msgs[40].message == by_id[40]["text"] and msgs[40].post_author == "\u202eevil"
    assert msgs[1].file.name == "../../x.sh"
    assert msgs[41].file.name is None and msgs[46].media is not None
    assert msgs[47].action.title.startswith("CON\u0000\n")
    assert msgs[48].fwd_from.from_name == "../../name\u0000"


def test_append_messages_while_running(server_factory, tmp_path: Path) -> None:
    server = server_factory({"channels": [{"id": 42424242, "username": "growing", "generate": {"count": 10}}]})
    session = make_session(server, tmp_path / "g.session")

    async def newer_than(client, min_id: int) -> list[int]:
        return [m.id async for m in client.iter_messages("growing", min_id=min_id, reverse=True, wait_time=0)]

    async def run():
        async with open_client(session) as client:
            assert await newer_than(client, 0) == list(range(1, 11))
            new = server_call(server, server.world.append_messages, "growing", 3)
            explicit = server_call(server, server.world.append_messages, "growing", None,
                                   [{"text": "with media", "media": {"type": "document", "size": 5000,
                                                                    "file_name": "late.bin"}}])
            assert new == [11, 12, 13] and explicit == [14]
            assert await newer_than(client, 10) == [11, 12, 13, 14]
            last = await client.get_messages("growing", ids=14)
            assert last.message == "with media"
            assert await client.download_media(last, file=bytes) == server.world.expected_bytes("growing", 14)
            assert (await client.get_messages("growing", limit=1)).total == 14

    asyncio.run(run())


class _SignedIn:
    """AuthBindings stub: every key is the default account (handlers only, no network)."""

    def user_for(self, auth_key_id: int) -> int:
        return 100001


def test_warmed_cache_serves_the_same_bytes_as_lazy_pages() -> None:
    from telethon.tl import functions
    from telethon.tl.types import InputPeerChannel

    from telegram_test_server.api import make_api
    from telegram_test_server.protocol.rpc import CallContext

    async def pages(warm: bool) -> list[bytes]:
        world = World("demo")
        api = make_api(world)
        state = world.channel(DEMO_USERNAME)
        if warm:
            api.start_warming()
            while len(state.tl_cache) < len(state.ids):
                await asyncio.sleep(0)
        peer = InputPeerChannel(state.id, state.spec.access_hash)
        ctx = CallContext(1, 1, 1, _SignedIn())
        return [bytes(await api.handle(functions.messages.GetHistoryRequest(peer, off, None, 0, 100, 0, 0, 0), ctx))
                for off in (0, 700, 150)]

    assert asyncio.run(pages(True)) == asyncio.run(pages(False))
