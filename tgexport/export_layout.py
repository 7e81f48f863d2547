"""export.json's text from message lines encoded once, and appending to an export.json this tool wrote.

The layout is `atomic_json.dump_json_text`'s: one top-level member per line, `channel_info`
outlined, then `"messages": [` with one compact message per line (4-space indent), `export_date`,
`total_messages`. Each message is encoded once, when it is journaled; compaction joins those
lines (and, for an export.json we wrote, keeps its message lines as bytes instead of parsing and
encoding them again). JSON strings never hold a raw newline, so the markers below are structural.
"""
from __future__ import annotations

import json
from typing import Any

from tgexport.atomic_json import dump_json_text

_EMPTY = b'\n  "messages": [],\n'
_OPEN = b'\n  "messages": [\n    '
_CLOSE = b'\n  ],\n  "export_date": '
_SEP = b",\n    "


def encode_message(record: dict[str, Any]) -> bytes:
    """One message as it appears on its line of export.json (and inside a journal entry)."""
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def export_bytes(channel_info: dict[str, Any], lines: list[bytes], export_date: str, total: int) -> bytes:
    """The whole export.json; `lines` are encoded messages (or runs of them joined by the separator)."""
    head = dump_json_text({"channel_info": channel_info, "messages": [], "export_date": export_date,
                           "total_messages": total}).encode("utf-8")
    if not lines:
        return head
    return head.replace(_EMPTY, _OPEN + _SEP.join(lines) + b"\n  ],\n", 1)


def message_lines(raw: bytes) -> bytes | None:
    """The message lines of an export.json in this layout, joined by the separator (b"" when it holds
    no messages); None when the layout is not recognised."""
    start = raw.find(_OPEN)
    if start < 0:
        return b"" if _EMPTY in raw else None
    end = raw.rfind(_CLOSE)
    return raw[start + len(_OPEN):end] if end > start else None
