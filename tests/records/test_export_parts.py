"""export.json written in pieces: the same bytes as one dump, with runs of 1,000 lines and a large
block of kept lines passed through whole."""
from __future__ import annotations

import json

from tgexport.core.atomic_json import dump_json_text
from tgexport.store.layout import _BIG, _RESULT_CHUNK, encode_message, export_parts, message_lines

INFO = {"id": 1, "username": "c", "title": "T"}


def _record(i: int, size: int = 10) -> dict:
    return {"id": i, "text": "ж" * size, "entities": [], "pinned": False}


def test_parts_join_to_the_full_dump_and_keep_a_big_block_whole() -> None:
    old = [_record(i, 600) for i in range(1, 2 * _BIG // 1200 + 2)]
    raw = b"".join(export_parts(INFO, [encode_message(m) for m in old], "d", len(old)))
    assert raw.decode() == dump_json_text({"channel_info": INFO, "messages": old, "export_date": "d",
                                           "total_messages": len(old)})
    kept = message_lines(raw)
    assert kept is not None and len(kept) >= _BIG
    new = [_record(i) for i in range(len(old) + 1, len(old) + 2 * _RESULT_CHUNK + 7)]
    parts = list(export_parts(INFO, [kept] + [encode_message(m) for m in new], "e", len(old) + len(new)))
    assert any(part is kept for part in parts)  # passed on, not copied into a run
    assert max(len(p) for p in parts if p is not kept) < len(kept)
    assert json.loads(b"".join(parts))["messages"] == old + new
