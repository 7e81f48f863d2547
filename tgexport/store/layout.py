"""export.json's text from message lines encoded once, and appending to an export.json this tool wrote.

The layout is `atomic_json.dump_json_text`'s: one top-level member per line, `channel_info`
outlined, then `"messages": [` with one compact message per line (4-space indent), `export_date`,
`total_messages`. Each message is encoded once, when it is journaled; compaction joins those
lines (and, for an export.json we wrote, keeps its message lines as bytes instead of parsing and
encoding them again). JSON strings never hold a raw newline, so the markers below are structural.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring
from typing import Any, BinaryIO

from tgexport.core.atomic_json import dump_json_text

try:  # one C encoder for every message: json.dumps(..., ensure_ascii=False) builds a new encoder per call
    from json.encoder import c_make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has it
    _c_make_encoder = None

_EMPTY = b'\n  "messages": [],\n'
_OPEN = b'\n  "messages": [\n    '
_CLOSE = b'\n  ],\n  "export_date": '
_SEP = b",\n    "


def _not_serializable(value: Any) -> None:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_ENCODER = (_c_make_encoder(None, _not_serializable, encode_basestring, None, ": ", ", ", False, False, True)
            if _c_make_encoder is not None else None)
_RESULT_CHUNK = 1000  # messages per write when printing a result or writing export.json
_BIG = 1 << 20  # a line this long is written on its own (never copied into a run)


def encode_message(record: dict[str, Any]) -> bytes:
    """One message as it appears on its line of export.json (and inside a journal entry and on stdout):
    the same text as `json.dumps(record, ensure_ascii=False)`."""
    if _ENCODER is None:  # pragma: no cover
        return json.dumps(record, ensure_ascii=False).encode("utf-8")
    return "".join(_ENCODER(record, 0)).encode("utf-8")


class EncodedRecords(list):
    """Message records plus their `encode_message` bytes (`encoded`, same order), so a result that
    lists them is printed without encoding them again."""

    def __init__(self, records: Iterable[dict[str, Any]], encoded: list[bytes]) -> None:
        super().__init__(records)
        self.encoded = encoded


def write_result(result: Any, out: BinaryIO) -> None:
    """`dump_json_text(result)` as UTF-8 on `out`, byte for byte; a trailing `new_messages` list of
    EncodedRecords is streamed from its bytes instead of being built as one string."""
    messages = result.get("new_messages") if isinstance(result, dict) else None
    if not isinstance(messages, EncodedRecords) or not messages or list(result)[-1] != "new_messages":
        out.write(dump_json_text(result).encode("utf-8"))
        return
    head, marker, tail = dump_json_text({**result, "new_messages": []}).rpartition('"new_messages": []')
    out.write((head + '"new_messages": [\n    ').encode("utf-8"))
    lines = messages.encoded
    for start in range(0, len(lines), _RESULT_CHUNK):
        out.write((b",\n    " if start else b"") + _SEP.join(lines[start:start + _RESULT_CHUNK]))
    out.write(("\n  ]" + tail).encode("utf-8"))


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
