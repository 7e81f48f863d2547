"""Media through a real Telethon client: every size round-trips with the expected sha256, photo
sizes, and upload.getFile's offset/limit/location rules answered as Telegram does."""
from __future__ import annotations

import asyncio
import hashlib
import random
from pathlib import Path

import pytest
from telethon import errors, types
from telethon.tl import functions

from telegram_test_server.world import media
from testkit.server import make_session, open_client, running_server

KIB, MIB = 1024, 1024 * 1024
SIZES = [0, 1, 4095, 4096, 512 * KIB, 1536 * KIB, 50 * MIB]
CHANNEL = "media_channel"
SCENARIO = {"channels": [{"id": 1600000001, "username": CHANNEL, "messages": [
    *({"id": i + 1, "text": f"{size} bytes", "media": {"type": "document", "size": size, "mime_type":
       "application/octet-stream", "file_name": f"f{size}.bin"}} for i, size in enumerate(SIZES)),
    {"id": 20, "media": {"type": "photo", "sizes": [{"type": "s", "w": 90, "h": 60, "size": 1500},
                                                    {"type": "m", "w": 320, "h": 240, "size": 12000},
                                                    {"type": "y", "w": 1280, "h": 960, "size": 300000}]}},
    {"id": 21, "media": {"type": "video", "size": 3 * MIB + 5, "file_name": "v.mp4", "duration": 3.0,
                         "w": 640, "h": 360, "round_message": True}},
    {"id": 22, "text": "geo", "media": {"type": "geo", "lat": 1.5, "long": 2.5}},
]}]}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    with running_server(SCENARIO) as server:
        yield server, make_session(server, tmp_path_factory.mktemp("media") / "media.session")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.parametrize("index, size", list(enumerate(SIZES)))
def test_document_round_trip(env, tmp_path: Path, index: int, size: int) -> None:
    server, session = env

    async def run() -> str:
        async with open_client(session) as client:
            msg = await client.get_messages(CHANNEL, ids=index + 1)
            assert msg.file.size == size
            return await client.download_media(msg, file=str(tmp_path / "out.bin"))

    path = asyncio.run(run())
    assert Path(path).stat().st_size == size
    assert file_sha(path) == sha(server.world.expected_bytes(CHANNEL, index + 1))


def test_photo_sizes(env) -> None:
    server, session = env

    async def run():
        async with open_client(session) as client:
            msg = await client.get_messages(CHANNEL, ids=20)
            assert [(s.type, s.size) for s in msg.photo.sizes] == [("s", 1500), ("m", 12000), ("y", 300000)]
            return await client.download_media(msg, file=bytes), await client.download_media(msg, file=bytes,
                                                                                             thumb="m")

    largest, medium = asyncio.run(run())
    assert largest == server.world.expected_bytes(CHANNEL, 20)
    assert medium == server.world.expected_bytes(CHANNEL, 20, thumb="m") and len(medium) == 12000
    assert largest[:12000] != medium  # each size has its own bytes


def test_video_attributes_and_bytes(env) -> None:
    server, session = env

    async def run():
        async with open_client(session) as client:
            msg = await client.get_messages(CHANNEL, ids=21)
            video = next(a for a in msg.document.attributes if isinstance(a, types.DocumentAttributeVideo))
            assert (video.w, video.h, video.round_message, msg.file.mime_type) == (640, 360, True, "video/mp4")
            assert isinstance((await client.get_messages(CHANNEL, ids=22)).media, types.MessageMediaGeo)
            return await client.download_media(msg, file=bytes)

    assert sha(asyncio.run(run())) == sha(server.world.expected_bytes(CHANNEL, 21))


def _location(msg) -> types.InputDocumentFileLocation:
    doc = msg.document
    return types.InputDocumentFileLocation(doc.id, doc.access_hash, doc.file_reference, "")


@pytest.mark.parametrize("offset, limit, precise, error", [
    (0, 1000, False, errors.LimitInvalidError),          # not a multiple of 4096
    (0, 3 * 4096, False, errors.LimitInvalidError),      # 1 MiB not divisible by limit
    (0, 2 * MIB, False, errors.LimitInvalidError),       # over 1 MiB
    (1024, 4096, False, errors.OffsetInvalidError),      # offset not 4 KiB aligned
    (MIB - 4096, 8192, False, errors.LimitInvalidError),  # crosses a 1 MiB boundary
    (0, 0, False, errors.LimitInvalidError),
    (1024, 3 * 1024, True, None),                        # precise: 1 KiB alignment is enough
    (512, 1024, True, errors.OffsetInvalidError),
])
def test_get_file_limit_rules(env, offset: int, limit: int, precise: bool, error) -> None:
    server, session = env

    async def run():
        async with open_client(session) as client:
            msg = await client.get_messages(CHANNEL, ids=6)  # 1.5 MiB
            request = functions.upload.GetFileRequest(_location(msg), offset=offset, limit=limit, precise=precise)
            if error is None:
                return await client(request)
            with pytest.raises(error):
                await client(request)

    result = asyncio.run(run())
    if error is None:
        assert result.bytes == media.file_slice(server.world.media_file(CHANNEL, 6)[0], 1536 * KIB, offset, limit)
        assert isinstance(result.type, types.storage.FilePartial)


def test_get_file_bad_locations(env) -> None:
    _, session = env

    async def run():
        async with open_client(session) as client:
            msg = await client.get_messages(CHANNEL, ids=5)
            loc = _location(msg)
            past_end = await client(functions.upload.GetFileRequest(loc, offset=2 * MIB, limit=4096))
            assert past_end.bytes == b""
            with pytest.raises(errors.FileIdInvalidError):
                await client(functions.upload.GetFileRequest(
                    types.InputDocumentFileLocation(loc.id, loc.access_hash + 1, loc.file_reference, ""), 0, 4096))
            with pytest.raises(errors.FileReferenceInvalidError):
                await client(functions.upload.GetFileRequest(
                    types.InputDocumentFileLocation(loc.id, loc.access_hash, b"garbage", ""), 0, 4096))
            with pytest.raises(errors.LocationInvalidError):
                await client(functions.upload.GetFileRequest(
                    types.InputDocumentFileLocation(loc.id, loc.access_hash, loc.file_reference, "q"), 0, 4096))
            with pytest.raises(errors.LocationInvalidError):
                await client(functions.upload.GetFileRequest(types.InputPeerPhotoFileLocation(
                    peer=types.InputPeerSelf(), photo_id=1), 0, 4096))

    asyncio.run(run())


def test_file_slices_agree_with_whole_file() -> None:
    rng = random.Random(3)
    key, size = media.file_key(1, 99), 3 * MIB + 17
    whole = media.file_bytes(key, size)
    assert len(whole) == size
    for _ in range(200):
        offset, limit = rng.randrange(0, size + 10), rng.randrange(0, 2 * MIB)
        assert media.file_slice(key, size, offset, limit) == whole[offset:offset + limit]
    parts = {media.file_slice(key, size, off, 4096) for off in range(0, size - 4096, 4096)}
    assert len(parts) == len(range(0, size - 4096, 4096))  # no two aligned parts are equal
    assert media.file_bytes(media.file_key(1, 100), 4096) != whole[:4096]
