"""export.json's text from message lines encoded once, and appending to an export.json this tool wrote.

The layout is `atomic_json.dump_json_text`'s: one top-level member per line, `channel_info`
outlined, then `"messages": [` with one compact message per line (4-space indent), `export_date`,
`total_messages`. Each message is encoded once, when it is journaled; compaction joins those
lines (and, for an export.json we wrote, keeps its message lines as bytes instead of parsing and
encoding them again). JSON strings never hold a raw newline, so the markers below are structural.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, BinaryIO

from errors import DataFormatError
from tgexport.core.atomic_json import dump_json_text

try:  # one C encoder for every message: json.dumps(..., ensure_ascii=False) builds a new encoder per call
    from json.encoder import c_make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has it
    _c_make_encoder = None

_EMPTY = b'\n  "messages": [],\n'
_OPEN = b'\n  "messages": [\n    '
_CLOSE = b'\n  ],\n  "export_date": '
_SEP = LINE_SEPARATOR = b",\n    "  # between two message lines


def _not_serializable(value: Any) -> None:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_ENCODER = (_c_make_encoder(None, _not_serializable, encode_basestring, None, ": ", ", ", False, False, True)
            if _c_make_encoder is not None else None)
_CHUNK = 1 << 20  # bytes per read/write when export.json's lines are copied or printed
_HEAD_LIMIT = 1 << 20  # export.json's head (channel_info) is read up to this many bytes
_TAIL_LIMIT = 4096  # ... and its end (export_date, total_messages) from this many last bytes
_RESULT_CHUNK = 1000  # messages per piece when export_parts writes export.json
_BIG = 1 << 20  # a line this long is written on its own (never copied into a run)


def encode_message(record: dict[str, Any]) -> bytes:
    """One message as it appears on its line of export.json (and inside a journal entry and on stdout):
    the same text as `json.dumps(record, ensure_ascii=False)`."""
    if _ENCODER is None:  # pragma: no cover
        return json.dumps(record, ensure_ascii=False).encode("utf-8")
    return "".join(_ENCODER(record, 0)).encode("utf-8")


def write_result(result: Any, out: BinaryIO) -> None:
    """`dump_json_text(result)` as UTF-8 on `out`, byte for byte; a trailing `new_messages` of
    RecordLines is streamed from export.json's bytes instead of being built as one string (and closed)."""
    messages = result.get("new_messages") if isinstance(result, dict) else None
    if not isinstance(messages, RecordLines):
        out.write(dump_json_text(result).encode("utf-8"))
        return
    if not messages:
        messages.close()
        out.write(dump_json_text({**result, "new_messages": []}).encode("utf-8"))
        return
    # a top-level member is the only place where this text follows a newline and two spaces
    head, _, tail = dump_json_text({**result, "new_messages": []}).partition('\n  "new_messages": []')
    out.write((head + '\n  "new_messages": [\n    ').encode("utf-8"))
    try:
        for chunk in messages.chunks():
            out.write(chunk)
    finally:
        messages.close()
    out.write(("\n  ]" + tail).encode("utf-8"))


def _frame(channel_info: dict[str, Any], export_date: str, total: int) -> tuple[bytes, bytes]:
    full = dump_json_text({"channel_info": channel_info, "messages": [], "export_date": export_date,
                           "total_messages": total}).encode("utf-8")
    at = full.index(_EMPTY)
    return full[:at], full[at + len(_EMPTY):]


def export_head(channel_info: dict[str, Any]) -> bytes:
    """export.json up to its `"messages"` member (it depends on channel_info alone)."""
    return _frame(channel_info, "", 0)[0]


def line_prefix(first: bool) -> bytes:
    """What goes before a message line: the opening of the list for the first, else the separator."""
    return _OPEN if first else _SEP


def export_end(channel_info: dict[str, Any], export_date: str, total: int, has_lines: bool) -> bytes:
    """export.json after its message lines (`has_lines` False: after `"messages": [],`)."""
    return (b"\n  ],\n" if has_lines else _EMPTY) + _frame(channel_info, export_date, total)[1]


def message_span(path: Path) -> tuple[int, int] | None:
    """Byte offsets [start, end) of the message lines of an export.json in this layout that holds
    messages, read from its first and last bytes only; None when not recognised."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        start = handle.read(_HEAD_LIMIT).find(_OPEN)
        handle.seek(max(0, size - _TAIL_LIMIT))
        tail = handle.read()
    end = tail.rfind(_CLOSE)
    if start < 0 or end < 0:
        return None
    start, end = start + len(_OPEN), size - len(tail) + end
    return (start, end) if end > start else None


def read_span(path: Path, start: int, end: int, sha256: str) -> Iterator[bytes]:
    """The file's bytes [start, end) in chunks, the whole file hashed on the way: DataFormatError
    at the end when it is no longer the file whose sha256 was recorded."""
    digest, at = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            low, high = max(start, at), min(end, at + len(chunk))
            if low < high:
                yield chunk[low - at:high - at]
            at += len(chunk)
    if digest.hexdigest() != sha256:
        raise DataFormatError(f"{path} changed while this run was going; refusing to overwrite it")


def lines_backwards(path: Path, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(byte offset, bytes) of each message line in [start, end) of an export.json in this layout,
    the last line first, read from the end in chunks (memory ∝ the lines taken, not the file)."""
    with open(path, "rb") as handle:
        pos, buf = end, b""
        while pos > start:
            size = min(_CHUNK, pos - start)
            pos -= size
            handle.seek(pos)
            buf = handle.read(size) + buf
            stop = len(buf)
            while (cut := buf.rfind(_SEP, 0, stop)) >= 0:
                yield pos + cut + len(_SEP), buf[cut + len(_SEP):stop]
                stop = cut
            buf = buf[:stop]
        if buf:
            yield start, buf


class RecordLines:
    """`count` message lines that export.json holds in bytes [start, end) (a run's new records),
    read back from the file when printed or iterated, never held in memory. The file is opened
    at once (while the export is locked): a later rename of another version over it does not
    move these bytes (POSIX; on Windows such a rename waits until `close()`)."""

    def __init__(self, path: Path, start: int, end: int, count: int) -> None:
        self.start, self.end, self.count = start, end, count
        self._handle: BinaryIO = open(path, "rb")  # noqa: SIM115 - kept open until close()

    def __len__(self) -> int:
        return self.count

    def chunks(self) -> Iterator[bytes]:
        """The lines as they are in export.json: encoded messages joined by the separator."""
        self._handle.seek(self.start)
        left = self.end - self.start
        while left > 0:
            chunk = self._handle.read(min(_CHUNK, left))
            if not chunk:
                raise DataFormatError(f"{self._handle.name} ended before its new messages")
            left -= len(chunk)
            yield chunk

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Each record, parsed from its line."""
        self._handle.seek(self.start)
        while self._handle.tell() < self.end:
            yield json.loads(self._handle.readline().strip().removesuffix(b","))

    def close(self) -> None:
        self._handle.close()


def export_parts(channel_info: dict[str, Any], lines: list[bytes], export_date: str, total: int) -> Iterator[bytes]:
    """export.json in pieces (written one after the other, never joined: at 100,000 messages the
    whole file is ≈ 75 MB); `lines` are encoded messages (or runs of them joined by the separator)."""
    head = dump_json_text({"channel_info": channel_info, "messages": [], "export_date": export_date,
                           "total_messages": total}).encode("utf-8")
    if not lines:
        yield head
        return
    before, _, after = head.partition(_EMPTY)
    yield before + _OPEN
    for index, group in enumerate(_groups(lines)):
        if index:
            yield _SEP
        yield group
    yield b"\n  ],\n" + after


def _groups(lines: list[bytes]) -> Iterator[bytes]:
    """`lines` joined by the separator in runs of _RESULT_CHUNK; a long run of lines already joined
    (the kept lines of an export.json we wrote) is passed on as it is, never copied."""
    batch: list[bytes] = []
    for line in lines:
        if len(line) >= _BIG:
            if batch:
                yield _SEP.join(batch)
                batch = []
            yield line
            continue
        batch.append(line)
        if len(batch) == _RESULT_CHUNK:
            yield _SEP.join(batch)
            batch = []
    if batch:
        yield _SEP.join(batch)


def export_bytes(channel_info: dict[str, Any], lines: list[bytes], export_date: str, total: int) -> bytes:
    """The whole export.json as one bytes object (`export_parts` joined)."""
    return b"".join(export_parts(channel_info, lines, export_date, total))


def message_lines(raw: bytes) -> bytes | None:
    """The message lines of an export.json in this layout, joined by the separator (b"" when it holds
    no messages); None when the layout is not recognised."""
    start = raw.find(_OPEN)
    if start < 0:
        return b"" if _EMPTY in raw else None
    end = raw.rfind(_CLOSE)
    return raw[start + len(_OPEN):end] if end > start else None
