"""`content_of` media: separate photos/documents (own id, own file reference) with the same bytes,
downloaded through a real Telethon client; and the load-time checks of the key."""
from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest

from telegram_test_server.world.scenario import ScenarioError, load_scenario
from testkit.server import make_session, open_client, running_server, server_call

KIB = 1024
CHANNEL = "same_bytes"
CHANNEL_ID = 1600000077
DOC = {"type": "document", "size": 300 * KIB, "mime_type": "application/zip", "file_name": "a.zip"}
PHOTO = {"type": "photo", "size": 90_000, "w": 800, "h": 600}
MESSAGES = [
    {"id": 1, "media": DOC},
    {"id": 2, "media": {"type": "document", "content_of": 1, "mime_type": "application/pdf", "file_name": "b.pdf"}},
    {"id": 3, "media": {"type": "video", "content_of": 2, "file_name": "c.mp4"}},  # chain: 3 → 2 → 1
    {"id": 4, "media": {**DOC, "file_name": "other.zip"}},  # same size, own bytes
    {"id": 10, "media": PHOTO},
    {"id": 11, "media": {"type": "photo", "content_of": 10}},
]
SCENARIO = {"channels": [{"id": CHANNEL_ID, "username": CHANNEL, "messages": MESSAGES}]}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    with running_server(SCENARIO) as server:
        yield server, make_session(server, tmp_path_factory.mktemp("content_of") / "acc.session")


def download_all(session: Path, ids: list[int], thumb: Any = None) -> dict[int, tuple[Any, bytes]]:
    """{id: (message, downloaded bytes)} through Telethon's download_media."""
    async def run() -> dict[int, tuple[Any, bytes]]:
        async with open_client(session) as client:
            out = {}
            for msg in await client.get_messages(CHANNEL, ids=ids):
                out[msg.id] = (msg, await client.download_media(msg, file=bytes, thumb=thumb))
            return out
    return asyncio.run(run())


def media_object(msg: Any) -> Any:
    return msg.photo if msg.photo is not None else msg.document


def test_documents_share_bytes_not_ids(env) -> None:
    server, session = env
    got = download_all(session, [1, 2, 3, 4])
    shas = {mid: sha(data) for mid, (_, data) in got.items()}
    assert shas[1] == shas[2] == shas[3] == sha(server.world.expected_bytes(CHANNEL, 1))
    assert len(got[1][1]) == 300 * KIB and shas[4] != shas[1]
    docs = {mid: media_object(msg) for mid, (msg, _) in got.items()}
    assert len({d.id for d in docs.values()}) == 4
    assert len({bytes(d.file_reference) for d in docs.values()}) == 4
    assert [got[m][0].file.name for m in (1, 2, 3)] == ["a.zip", "b.pdf", "c.mp4"]
    assert [docs[m].mime_type for m in (1, 2, 3)] == ["application/zip", "application/pdf", "video/mp4"]
    assert {docs[m].size for m in (1, 2, 3)} == {300 * KIB}


@pytest.mark.parametrize("thumb", [None, "m"])
def test_photo_copies_every_size(env, thumb: str | None) -> None:
    server, session = env
    got = download_all(session, [10, 11], thumb=thumb)
    (first, a), (second, b) = got[10], got[11]
    assert sha(a) == sha(b) == sha(server.world.expected_bytes(CHANNEL, 10, thumb=thumb)) and a
    assert first.photo.id != second.photo.id
    assert bytes(first.photo.file_reference) != bytes(second.photo.file_reference)
    assert [(s.type, s.size) for s in first.photo.sizes] == [(s.type, s.size) for s in second.photo.sizes]


def test_appended_message_can_copy_content(env) -> None:
    server, session = env
    [new_id] = server_call(server, server.world.append_messages, CHANNEL, None,
                           [{"media": {"type": "document", "content_of": 2, "file_name": "late.bin"}}])
    got = download_all(session, [1, new_id])
    assert sha(got[new_id][1]) == sha(got[1][1]) == sha(server.world.expected_bytes(CHANNEL, new_id))
    assert got[new_id][0].document.id != got[1][0].document.id


def test_append_rejects_a_bad_reference_and_changes_nothing(env) -> None:
    server, _ = env
    before = list(server.world.channel(CHANNEL).ids)
    with pytest.raises(ScenarioError, match="content_of 10"):
        server_call(server, server.world.append_messages, CHANNEL, None,
                    [{"media": DOC}, {"media": {"type": "document", "content_of": 10}}])
    assert server.world.channel(CHANNEL).ids == before


def scenario_with(*messages: dict) -> dict:
    return {"channels": [{"id": CHANNEL_ID, "messages": [{"id": 1, "media": DOC}, {"id": 2, "media": PHOTO},
                                                         {"id": 3, "text": "no media"}, *messages]}]}


@pytest.mark.parametrize("media, message", [
    ({"type": "document", "content_of": 9}, "not an earlier message"),  # later id
    ({"type": "document", "content_of": 5}, "not an earlier message"),  # itself
    ({"type": "document", "content_of": 4}, "not an earlier message"),  # missing id
    ({"type": "document", "content_of": 3}, "not an earlier message"),  # no media
    ({"type": "document", "content_of": 2}, "not an earlier message"),  # photo → document
    ({"type": "photo", "content_of": 1}, "not an earlier message"),  # document → photo
    ({"type": "document", "content_of": 1, "size": 10}, "come from message 1"),
    ({"type": "photo", "content_of": 2, "w": 10}, "come from message 2"),
    ({"type": "geo", "content_of": 1}, "not allowed on 'geo'"),
    ({"type": "document", "content_of": True}, "positive message id"),
    ({"type": "document", "content_of": "1"}, "positive message id"),
    ({"type": "document", "content_of": 0}, "positive message id"),
])
def test_bad_content_of_is_rejected(media: dict, message: str) -> None:
    later = {"id": 9, "media": DOC}
    with pytest.raises(ScenarioError, match=message):
        load_scenario(scenario_with({"id": 5, "media": media}, later))


def test_generated_media_may_copy_content() -> None:
    raw = {"channels": [{"id": CHANNEL_ID, "generate": {"count": 6, "media": [
        {"ids": [2], **DOC}, {"every": 3, "type": "document", "content_of": 2, "file_name": "g.bin"}]}}]}
    msgs = {m.id: m for m in load_scenario(raw).channels[0].messages}
    assert [(m.media.content_of, m.media.size, m.media.file_name) for m in (msgs[3], msgs[6])] == [
        (2, 300 * KIB, "g.bin")] * 2
