"""The export's append-only journal (`.journal.jsonl`): checkpoints between compactions.

One JSON object per line, UTF-8, `\\n`-terminated. The first line is the header
`{"op": "journal", "version": 1, "channel_id": N}`; then, in the order they happened:

- `{"op": "messages", "after": A, "last": L, "messages": [...]}`: records committed since the
  previous checkpoint (ascending ids, all above A) and the scan position L they reach;
  A is the `last_message_id` the previous entry (or the base files) left, so a journal that
  does not continue its export is detected.
- `{"op": "media", "sha256": S, "path": P, "file_key": K|null}`: a media file was placed.
- `{"op": "update", "messages": [...]}`: records already in the export (or journaled before)
  replaced by a refresh (`--refresh-recent`): whole records, each id once, applied in order.

Every append writes whole lines (a failed write is truncated away) and fdatasyncs the file.
A reader ignores a torn last line (no newline, or it does not parse: a kill mid-write) and
refuses a damaged line anywhere else. While a run appends, it holds an flock on the file, so a
second opener can tell a live journal from one left by a killed run.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tgexport.core import fault_points, platform
from tgexport.core.atomic_json import fsync_dir
from tgexport.store.checks import SHA256_RE, PathGuard, check_message, damaged, is_int, safe_relpath

JOURNAL_NAME = ".journal.jsonl"
VERSION = 1
REFUSE = "refusing to continue (move the export directory away, or fix the file, then run again)"


def encode_line(entry: dict[str, Any]) -> bytes:
    return (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def messages_line(after: int, last: int, encoded: list[bytes]) -> bytes:
    """A messages entry from messages already encoded (each once: export.json reuses them)."""
    return b'{"op":"messages","after":%d,"last":%d,"messages":[%b]}\n' % (after, last, b",".join(encoded))


def update_line(encoded: list[bytes]) -> bytes:
    """An update entry: whole replacement records, already encoded."""
    return b'{"op":"update","messages":[%b]}\n' % b",".join(encoded)


def media_line(sha256: str, path: str, file_key: str | None) -> bytes:
    return encode_line({"op": "media", "sha256": sha256, "path": path, "file_key": file_key})


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def try_lock(fd: int) -> bool:
    """Exclusive non-blocking flock on `fd`; False when another open file holds it."""
    if not platform.has_advisory_locks():  # Windows: one writer per export is the export lock's job
        return True
    return platform.try_lock(fd)


class JournalWriter:
    """Appends entries to the journal of one export directory (created with its header on first use)."""

    def __init__(self, path: Path, channel_id: int, fd: int | None = None) -> None:
        self.path = Path(path)
        self.channel_id = channel_id
        self._fd = fd
        self._broken = False

    def _open(self) -> tuple[int, bool]:
        if self._fd is not None:
            return self._fd, False
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o666)
        if not try_lock(fd):
            os.close(fd)
            raise OSError(errno.EBUSY, f"{self.path} is being written by another process")
        self._fd = fd
        return fd, os.fstat(fd).st_size == 0

    def append(self, lines: list[bytes]) -> None:
        """Write encoded entries as whole lines, then fdatasync; on a failure the partial write is cut off."""
        if self._broken:
            raise OSError(errno.EIO, f"{self.path}: an earlier append failed and could not be undone")
        fault_points.raise_os_error("journal_append", self.path)
        fd, new = self._open()
        if new:
            lines = [encode_line({"op": "journal", "version": VERSION, "channel_id": self.channel_id}), *lines]
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            for line in lines:
                half = len(line) // 2
                _write_all(fd, line[:half])
                fault_points.hit("journal_write")
                _write_all(fd, line[half:])
            platform.sync_data(fd)
        except BaseException:
            self._undo(fd, start)
            raise
        if new:
            fsync_dir(self.path.parent)
        fault_points.hit("journal_synced")

    def _undo(self, fd: int, size: int) -> None:
        try:
            os.ftruncate(fd, size)
        except OSError:
            self._broken = True

    def remove(self) -> None:
        """Delete the journal (after a compaction made it redundant) and close it."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        fsync_dir(self.path.parent)
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class JournalReader:
    """The valid entries of a journal, in order, read one line at a time (a journal can hold a whole
    killed run's records); `torn_note` says when a torn last line was ignored. Iterating raises
    DataFormatError (naming the file and line) at damage before the end."""

    def __init__(self, path: Path, channel_id: int, guard: PathGuard) -> None:
        self.path, self.channel_id, self.guard = Path(path), channel_id, guard
        self.torn_note: str | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with open(self.path, "rb") as handle:
            lines = iter(handle)
            line, number = next(lines, b""), 0
            while line:
                following, number = next(lines, b""), number + 1
                if not line.endswith(b"\n"):  # the last line, cut short by a kill
                    self.torn_note = _torn(self.path, len(line))
                    return
                entry = self._parse(line[:-1], number, last=not following)
                if entry is None:
                    return
                if number > 1:
                    yield entry
                line = following

    def _parse(self, line: bytes, number: int, last: bool) -> dict[str, Any] | None:
        try:
            entry = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            if last:
                self.torn_note = _torn(self.path, len(line))
                return None
            raise damaged(self.path, f"line {number} is damaged ({exc})", REFUSE) from exc
        problem = _check_entry(entry, number, self.channel_id, self.guard)
        if problem:
            raise damaged(self.path, f"line {number} {problem}", REFUSE)
        return entry


def _torn(path: Path, size: int) -> str:
    return f"ignored the incomplete last line of {Path(path).name} ({size} bytes) left by an interrupted run"


def _check_entry(entry: Any, number: int, channel_id: int, guard: PathGuard) -> str | None:
    """What is wrong with one parsed line, or None."""
    if not isinstance(entry, dict):
        return "is not a JSON object"
    op = entry.get("op")
    if number == 1:
        if op != "journal" or entry.get("version") != VERSION:
            return f"is not a version {VERSION} journal header"
        if entry.get("channel_id") != channel_id:
            return f"belongs to channel {entry.get('channel_id')!r}, not {channel_id}"
        return None
    if op == "messages":
        return _check_messages_entry(entry, guard)
    if op == "update":
        return _check_update_entry(entry, guard)
    if op == "media":
        ok = (isinstance(entry.get("sha256"), str) and SHA256_RE.fullmatch(entry["sha256"])
              and safe_relpath(entry.get("path")) and guard.inside(entry["path"])
              and (entry.get("file_key") is None or isinstance(entry["file_key"], str)))
        return None if ok else "is a malformed media entry (hash, path inside the export, file key)"
    return f"has an unknown \"op\" ({op!r})"


def _check_messages_entry(entry: dict[str, Any], guard: PathGuard) -> str | None:
    after, last, messages = entry.get("after"), entry.get("last"), entry.get("messages")
    if not (is_int(after) and is_int(last) and isinstance(messages, list)):
        return "is a malformed messages entry"
    previous = after
    for item in messages:
        problem = check_message(item, guard)
        if problem:
            return f"holds {problem}"
        if not previous < item["id"] <= last:
            return f"holds message {item['id']} out of order (after {previous}, up to {last})"
        previous = item["id"]
    return None


def _check_update_entry(entry: dict[str, Any], guard: PathGuard) -> str | None:
    messages = entry.get("messages")
    if not isinstance(messages, list):
        return "is a malformed update entry"
    seen: set[int] = set()
    for item in messages:
        problem = check_message(item, guard)
        if problem:
            return f"holds {problem}"
        if item["id"] in seen:
            return f"updates message {item['id']} twice"
        seen.add(item["id"])
    return None


def lock_existing(path: Path) -> int | None:
    """Open an existing journal for appending and lock it; None when a live process holds it."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
    if try_lock(fd):
        return fd
    os.close(fd)
    return None
