"""export_layout: one encoding per message, shared by the journal, export.json and stdout."""
from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tgexport.core.atomic_json import dump_json_text
from tgexport.store.layout import RecordLines, encode_message, export_bytes, message_span, write_result

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
scalar = st.none() | st.booleans() | st.integers(-2**63, 2**63) | text
record = st.fixed_dictionaries({"id": st.integers(1, 2**31), "date": text, "text": text,
                                "media_files": st.lists(st.dictionaries(text, scalar, max_size=4), max_size=2),
                                "forwarded": st.none() | st.dictionaries(text, scalar, max_size=3)})


@given(record)
def test_encode_message_is_json_dumps_text(rec: dict[str, Any]) -> None:
    assert encode_message(rec) == json.dumps(rec, ensure_ascii=False).encode("utf-8")


def _result(messages: Any) -> dict[str, Any]:  # `new_messages` not last: a stopped run adds `error` after it
    return {"summary": {"new_messages": len(messages), "export_dir": "/x/\n  \"new_messages\": []"},
            "partial_failure": False, "archive": None, "new_messages": messages,
            "error": {"message": "\n  \"new_messages\": []"}}


def _lines_of(messages: list[dict[str, Any]], directory: str) -> RecordLines:
    """RecordLines over an export.json holding `messages` (all of them are the "new" ones)."""
    path = Path(directory) / "export.json"
    path.write_bytes(export_bytes({"id": 1, "username": None, "title": "t"}, [encode_message(m) for m in messages],
                                  "2026-01-01T00:00:00Z", len(messages)))
    start, end = message_span(path)
    return RecordLines(path, start, end, len(messages))


@given(st.lists(record, min_size=1, max_size=30), st.integers(1, 64))
def test_streamed_result_is_byte_identical_to_dump_json_text(messages: list[dict[str, Any]], chunk: int,
                                                             ) -> None:
    import tgexport.store.layout as layout

    saved, layout._CHUNK = layout._CHUNK, chunk
    try:
        with tempfile.TemporaryDirectory() as directory:
            lines = _lines_of(messages, directory)
            assert list(lines) == messages and len(lines) == len(messages)
            out = io.BytesIO()
            write_result(_result(lines), out)
    finally:
        layout._CHUNK = saved
    assert out.getvalue() == dump_json_text(_result(messages)).encode("utf-8")
    assert json.loads(out.getvalue()) == _result(messages)


def test_plain_lists_and_other_values_print_as_dump_json_text() -> None:
    for value in (_result([{"id": 1, "text": "é🙂"}]), [{"id": -100, "title": "t"}], {"id": 5}):
        out = io.BytesIO()
        write_result(value, out)
        assert out.getvalue() == dump_json_text(value).encode("utf-8")


def test_a_text_only_stdout_gets_the_same_text(tmp_path: Path, monkeypatch: Any) -> None:
    import sys

    from tgexport.cli.output import emit

    messages = [{"id": i, "text": "é🙂" * 300} for i in range(1, 2000)]  # chunks end inside characters
    monkeypatch.setattr("tgexport.store.layout._CHUNK", 4097)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    emit(_result(_lines_of(messages, str(tmp_path))))
    assert out.getvalue() == dump_json_text(_result(messages))
