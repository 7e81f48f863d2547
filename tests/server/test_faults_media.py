"""getFile faults through a real Telethon client: expired file references (until re-fetch, and
forever), slow answers served concurrently, a stalled part, a connection dropped after k parts."""
from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from telethon import errors
from telethon.tl import functions, types

from testkit.server import make_session, open_client

KIB, MIB = 1024, 1024 * 1024
PART = 128 * KIB  # Telethon's part size for files under 100 MB
CHANNEL = "files"


def scenario(*faults: dict) -> dict:
    return {"channels": [{"id": 1800000001, "username": CHANNEL, "messages": [
        {"id": 1, "text": "doc", "media": {"type": "document", "size": MIB + 5000, "file_name": "a.bin"}},
        {"id": 2, "text": "photo", "media": {"type": "photo", "size": 200_000}},
        {"id": 3, "text": "other doc", "media": {"type": "document", "size": 300_000, "file_name": "b.bin"}},
    ]}], "faults": list(faults)}


def start(server_factory, tmp_path: Path, *faults: dict):
    server = server_factory(scenario(*faults))
    return server, make_session(server, tmp_path / "f.session")


def get_file_errors(server) -> list[str | None]:
    return [e.get("error") for e in server.requests.entries("upload.getFile")]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_document_reference_expired_until_refetch(server_factory, tmp_path: Path) -> None:
    server, session = start(server_factory, tmp_path, {"kind": "file_reference_expired", "message_id": 1})

    async def run():
        async with open_client(session) as client:
            [msg] = await client.get_messages(CHANNEL, limit=1, offset_id=2)  # getHistory: not a re-fetch
            server.requests.reset()
            return msg, await client.download_media(msg, file=bytes)  # Telethon re-fetches documents itself

    msg, data = asyncio.run(run())
    assert sha(data) == sha(server.world.expected_bytes(CHANNEL, 1))
    assert get_file_errors(server)[0] == "FILE_REFERENCE_EXPIRED"
    assert "FILE_REFERENCE_EXPIRED" not in get_file_errors(server)[1:]
    assert server.requests.count("channels.getMessages") == 1


def test_old_reference_stays_expired_after_refetch(server_factory, tmp_path: Path) -> None:
    server, session = start(server_factory, tmp_path, {"kind": "file_reference_expired", "channel": CHANNEL,
                                                       "message_id": 2})

    async def run():
        async with open_client(session) as client:
            [old] = await client.get_messages(CHANNEL, limit=1, offset_id=3)  # via getHistory
            with pytest.raises(errors.FileReferenceExpiredError):  # photos are not refreshed by Telethon
                await client.download_media(old, file=bytes)
            fresh = await client.get_messages(CHANNEL, ids=2)
            assert fresh.photo.file_reference != old.photo.file_reference
            with pytest.raises(errors.FileReferenceExpiredError):
                await client.download_media(old, file=bytes)
            return await client.download_media(fresh, file=bytes)

    assert asyncio.run(run()) == server.world.expected_bytes(CHANNEL, 2)


def test_reference_expired_forever(server_factory, tmp_path: Path) -> None:
    server, session = start(server_factory, tmp_path, {"kind": "file_reference_expired", "message_id": 1,
                                                       "forever": True})

    async def run():
        async with open_client(session) as client:
            for _ in range(2):
                msg = await client.get_messages(CHANNEL, ids=1)
                with pytest.raises(errors.FileReferenceExpiredError):
                    await client.download_media(msg.document, file=bytes)  # no message: no auto refresh
            other = await client.get_messages(CHANNEL, ids=3)
            return await client.download_media(other, file=bytes)

    assert asyncio.run(run()) == server.world.expected_bytes(CHANNEL, 3)
    assert get_file_errors(server)[:2] == ["FILE_REFERENCE_EXPIRED"] * 2


def test_slow_get_file_is_served_concurrently(server_factory, tmp_path: Path) -> None:
    server, session = start(server_factory, tmp_path, {"kind": "slow", "message_id": 1, "delay": 0.5})

    async def run():
        async with open_client(session) as client:
            doc = (await client.get_messages(CHANNEL, ids=1)).document
            loc = types.InputDocumentFileLocation(doc.id, doc.access_hash, doc.file_reference, "")
            parts = await asyncio.gather(*(client(functions.upload.GetFileRequest(loc, i * PART, PART))
                                           for i in range(4)))
            return b"".join(p.bytes for p in parts)

    assert asyncio.run(run()) == server.world.expected_bytes(CHANNEL, 1)[:4 * PART]
    [rule] = server.world.faults.rules
    assert rule.seen == 4 and rule.peak == 4  # all four were waiting at once: latency, not a queue


def test_stalled_part_is_never_answered(server_factory, tmp_path: Path) -> None:
    server, session = start(server_factory, tmp_path, {"kind": "stall", "message_id": 1, "part": 2,
                                                       "times": 1})

    async def run():
        async with open_client(session) as client:
            msg = await client.get_messages(CHANNEL, ids=1)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.download_media(msg, file=bytes), timeout=1.5)
            stalled = [e for e in server.requests.entries("upload.getFile") if e["result_bytes"] is None]
            assert [e["params"]["offset"] for e in stalled] == [2 * PART]
            return await client.download_media(msg, file=bytes)  # the rule fired once

    assert sha(asyncio.run(run())) == sha(server.world.expected_bytes(CHANNEL, 1))
    assert server.world.faults.rules[0].seen == 2


def test_connection_dropped_after_k_parts(server_factory, tmp_path: Path) -> None:
    server, session = start(server_factory, tmp_path, {"kind": "drop_connection", "after": 3})

    async def run():
        async with open_client(session) as client:
            msg = await client.get_messages(CHANNEL, ids=1)
            return await client.download_media(msg, file=bytes)  # Telethon reconnects and resends

    data = asyncio.run(run())
    assert sha(data) == sha(server.world.expected_bytes(CHANNEL, 1))
    offsets = [e["params"]["offset"] for e in server.requests.entries("upload.getFile")]
    assert offsets[:5] == [0, PART, 2 * PART, 3 * PART, 3 * PART]  # part 4 asked twice: once dropped
    assert server.counters["dropped"] == 1 and server.counters["connections"] >= 2
