"""Resumable, parallel upload.getFile download of one Telegram file into its part file.

The part file (`<temp>/document-<id>.part`) only ever holds a contiguous prefix of the file:
parts may arrive out of order (several in flight on one connection), but they are written in
order, each one flushed before `fault_points.hit("media_part")`. The next attempt (after a
timeout, a retry, a stopped or a killed run) truncates the part file to a multiple of 4 KiB (a
torn last write is dropped) and asks only for what is missing, so no written byte is requested
again: a request at offset `o` asks for the largest power of two up to the part size that divides
`o`, so after an odd resume point the parts grow back to full size within a few requests.

getFile rules (Telegram, and the local server's `check_part`): `limit` a multiple of 4 KiB up to
1 MiB with `1 MiB % limit == 0`, and a part never crosses a 1 MiB boundary (here: every offset
is a multiple of its limit, and every limit a power of two). Parts in flight are bounded per file (a window that adapts to the measured rate so
a slow link is not mistaken for a stall) and overall (a semaphore shared by every file).

An attempt that starts from an empty part file also hashes it while writing (sha256 of each part
as it is written, on the event loop: about 1 ms per 1 MiB part), so the finished file need not be
read again to be hashed; a resumed attempt leaves the hashing to the caller.

Files this module cannot fetch raise `FallbackNeeded` (a CDN redirect, another data centre,
an unknown size); the caller then uses Telethon's own `download_file` (no resume).
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from telethon import errors as tl_errors
from telethon.tl import functions, types

from tgexport.core import fault_points

KIB = 1024
ALIGN = 4 * KIB  # getFile offsets and limits are multiples of this
MAX_PART = 1024 * KIB  # the largest part Telegram serves
MIN_PART = 64 * KIB  # smallest part used after repeated stalls
PER_FILE = 8  # parts in flight per file (upper bound of the window)
OVERALL = 16  # parts in flight over all files
START_WINDOW = 4
# write() size: on the bench VM (ext4) one 1 MiB write() costs ~3 ms of CPU, ~12x the same bytes
# in 256 KiB writes (measured; bench/results and the media report have the numbers)
WRITE_CHUNK = 256 * KIB
Clock = Callable[[], float]
OnBytes = Callable[[int], None]


class FallbackNeeded(Exception):
    """This file must go through Telethon's download_file (reason: cdn | dc | unknown_size)."""

    def __init__(self, reason: str, dc_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.dc_id = dc_id


class PartError(OSError):
    """A part came back with the wrong length; transient (the attempt is retried)."""


def part_size_for(stalls: int, largest: int = MAX_PART) -> int:
    """`largest` (1 MiB), halved after each stalled attempt of the same file (not below 64 KiB
    unless `largest` is smaller: tests use 4 KiB parts)."""
    return max(min(MIN_PART, largest), largest >> max(0, stalls))


def limit_at(offset: int, part_size: int) -> int:
    """The getFile limit for a request at `offset`: the largest power of two ≤ part_size dividing it."""
    return min(part_size, offset & -offset) if offset else part_size


def resume_offset(path: Path, size: int) -> int:
    """Bytes of `path` kept for resuming: its length rounded down to 4 KiB (all of it when
    complete); the file is truncated to that (a torn last write is dropped)."""
    try:
        length = path.stat().st_size
    except FileNotFoundError:
        return 0
    keep = size if length == size else min(length, size) // ALIGN * ALIGN
    if keep != length:
        with open(path, "r+b") as handle:
            handle.truncate(keep)
    return keep


def window_for(rate: float, stall_sec: float, part_size: int, cap: int = PER_FILE) -> int:
    """Parts in flight such that one window takes at most a quarter of the stall timeout at `rate`."""
    if rate <= 0:
        return min(cap, START_WINDOW)
    return max(1, min(cap, int(rate * stall_sec / (4 * part_size))))


class PartFetcher:
    """Fetches files part by part; one instance per downloader (it owns the overall bound)."""

    def __init__(self, client: Any, *, per_file: int = PER_FILE, overall: int = OVERALL,
                 clock: Clock = time.monotonic) -> None:
        self.client = client
        self.per_file = max(1, per_file)
        self._overall = asyncio.Semaphore(max(1, overall))
        self.clock = clock

    def check(self, location: Any, size: int | None, dc_id: int | None) -> None:
        """FallbackNeeded unless this module can fetch the file."""
        if size is None or size < 0:
            raise FallbackNeeded("unknown_size")
        home = getattr(getattr(self.client, "session", None), "dc_id", None)
        if dc_id is not None and home is not None and dc_id != home:
            raise FallbackNeeded("dc", dc_id)

    async def fetch(self, location: Any, size: int, path: Path, *, part_size: int, stall_sec: float,
                    on_bytes: OnBytes) -> str | None:
        """Complete `path` (a prefix may already be there) to `size` bytes; the sha256 hex digest of
        the whole file when this attempt wrote all of it, else None (not hashed here)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        done = resume_offset(path, size)
        if done >= size:
            path.touch()
            return None
        digest = None if done else hashlib.sha256()
        with open(path, "ab", buffering=0) as out:
            await _Transfer(self, location, size, out, done, part_size, stall_sec, on_bytes, digest).run()
        return None if digest is None else digest.hexdigest()

    async def get_part(self, location: Any, offset: int, limit: int) -> bytes:
        """One upload.getFile answer (bounded overall); FallbackNeeded on a CDN redirect or migration."""
        async with self._overall:
            try:
                result = await self.client(functions.upload.GetFileRequest(location, offset, limit))
            except tl_errors.FileMigrateError as exc:
                raise FallbackNeeded("dc", exc.new_dc) from None
        if isinstance(result, types.upload.FileCdnRedirect):
            raise FallbackNeeded("cdn", result.dc_id)
        return result.bytes


class _Transfer:
    """The state of one attempt on one file: parts in flight, parts received early, written prefix."""

    def __init__(self, fetcher: PartFetcher, location: Any, size: int, out: Any, done: int,
                 part_size: int, stall_sec: float, on_bytes: OnBytes, digest: Any) -> None:
        self.f, self.location, self.size, self.out, self.digest = fetcher, location, size, out, digest
        self.done = self.next = done
        self.part, self.stall_sec, self.on_bytes = part_size, stall_sec, on_bytes
        self.pending: dict[asyncio.Future[bytes], tuple[int, int]] = {}
        self.early: dict[int, bytes] = {}
        self.started, self.received = fetcher.clock(), 0
        self.window = min(fetcher.per_file, START_WINDOW)

    async def run(self) -> None:
        try:
            while self.done < self.size:
                self._request_more()
                finished, _ = await asyncio.wait(self.pending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    self._received(*self.pending.pop(task), task.result())
                self._write_ready()
        finally:
            await _cancel(self.pending)

    def _request_more(self) -> None:
        while self.next < self.size and len(self.pending) + len(self.early) < self.window:
            limit = limit_at(self.next, self.part)
            task = asyncio.ensure_future(self.f.get_part(self.location, self.next, limit))
            self.pending[task] = (self.next, limit)
            self.next += limit

    def _received(self, offset: int, limit: int, data: bytes) -> None:
        expected = min(limit, self.size - offset)
        if len(data) != expected:
            raise PartError(f"part at {offset}: {len(data)} bytes, expected {expected}")
        self.received += len(data)
        self.early[offset] = data
        self.on_bytes(len(data))
        elapsed = self.f.clock() - self.started
        if elapsed > 0:
            self.window = window_for(self.received / elapsed, self.stall_sec, self.part, self.f.per_file)

    def _write_ready(self) -> None:
        while self.done in self.early:
            data = self.early.pop(self.done)
            view = memoryview(data)
            while view:  # unbuffered: the bytes are in the file when write returns
                view = view[self.out.write(view[:WRITE_CHUNK]):]
            if self.digest is not None:
                self.digest.update(data)
            self.done += len(data)
            fault_points.hit("media_part")


async def _cancel(pending: dict[asyncio.Future[bytes], tuple[int, int]]) -> None:
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
