"""export_layout: one encoding per message, shared by the journal, export.json and stdout."""
from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tgexport.core.atomic_json import dump_json_text
from tgexport.store.layout import EncodedRecords, encode_message, write_result

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
scalar = st.none() | st.booleans() | st.integers(-2**63, 2**63) | text
record = st.fixed_dictionaries({"id": st.integers(1, 2**31), "date": text, "text": text,
                                "media_files": st.lists(st.dictionaries(text, scalar, max_size=4), max_size=2),
                                "forwarded": st.none() | st.dictionaries(text, scalar, max_size=3)})


@given(record)
def test_encode_message_is_json_dumps_text(rec: dict[str, Any]) -> None:
    assert encode_message(rec) == json.dumps(rec, ensure_ascii=False).encode("utf-8")


def _result(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"summary": {"new_messages": len(messages), "export_dir": "/x/\"new_messages\": []"},
            "partial_failure": False, "archive": None, "new_messages": messages}


@given(st.lists(record, max_size=30), st.integers(1, 7))
def test_streamed_result_is_byte_identical_to_dump_json_text(messages: list[dict[str, Any]], chunk: int,
                                                             ) -> None:
    import tgexport.store.layout as layout

    saved, layout._RESULT_CHUNK = layout._RESULT_CHUNK, chunk
    try:
        out = io.BytesIO()
        write_result(_result(EncodedRecords(messages, [encode_message(m) for m in messages])), out)
    finally:
        layout._RESULT_CHUNK = saved
    assert out.getvalue() == dump_json_text(_result(messages)).encode("utf-8")
    assert json.loads(out.getvalue()) == _result(messages)


def test_plain_lists_and_other_values_print_as_dump_json_text() -> None:
    for value in (_result([{"id": 1, "text": "é🙂"}]), [{"id": -100, "title": "t"}], {"id": 5}):
        out = io.BytesIO()
        write_result(value, out)
        assert out.getvalue() == dump_json_text(value).encode("utf-8")
