"""The part fetcher hashes a file it writes from the start (the sha256 the store then uses) and
leaves resumed or already complete files to the caller (None)."""
from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from telethon.tl import types

from tgexport.media.fetch import ALIGN, MAX_PART, WRITE_CHUNK, PartFetcher

DATA = bytes(range(256)) * (3 * MAX_PART // 256) + b"tail" * 1000  # 3 full parts and a short one


class FakeFiles:
    """An upload.getFile stand-in answering slices of DATA; records (offset, limit)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    async def __call__(self, request):
        self.calls.append((request.offset, request.limit))
        await asyncio.sleep(0)
        data = DATA[request.offset:request.offset + request.limit]
        return types.upload.File(type=types.storage.FilePartial(), mtime=None, bytes=data)


def _fetch(client: FakeFiles, path: Path) -> str | None:
    fetcher = PartFetcher(client)
    return asyncio.run(fetcher.fetch(object(), len(DATA), path, part_size=MAX_PART, stall_sec=60,
                                     on_bytes=lambda n: None))


def test_a_fresh_file_is_hashed_while_written(tmp_path: Path) -> None:
    assert MAX_PART > WRITE_CHUNK  # every full part goes to the file in several writes
    path = tmp_path / "document-1.part"
    digest = _fetch(FakeFiles(), path)
    assert path.read_bytes() == DATA
    assert digest == hashlib.sha256(DATA).hexdigest()


def test_a_resumed_file_is_completed_but_not_hashed(tmp_path: Path) -> None:
    path = tmp_path / "document-1.part"
    kept = 5 * ALIGN
    path.write_bytes(DATA[:kept + 100])  # a torn last write: dropped by the resume
    client = FakeFiles()
    assert _fetch(client, path) is None
    assert path.read_bytes() == DATA
    assert client.calls[0][0] == kept
    client.calls.clear()
    assert _fetch(client, path) is None and client.calls == []  # complete: nothing asked
