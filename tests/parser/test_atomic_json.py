"""Atomic JSON files: the written text round-trips, a failed write leaves the old file, bad JSON is refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errors import DataFormatError
from tgexport.atomic_json import atomic_file, dump_json_text, read_json_strict, write_json_atomic

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=40,
)


@given(JSON_VALUES)
def test_dump_json_text_round_trips(value: object) -> None:
    assert json.loads(dump_json_text(value)) == value


def test_layout_is_one_message_per_line_and_keeps_unicode() -> None:
    text = dump_json_text({"messages": [{"id": 1, "text": "Привет"}, {"id": 2, "text": ""}], "total_messages": 2})
    assert text.splitlines() == [
        "{",
        '  "messages": [',
        '    {"id": 1, "text": "Привет"},',
        '    {"id": 2, "text": ""}',
        "  ],",
        '  "total_messages": 2',
        "}",
    ]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_json_atomic(target, {"last_message_id": 5})
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write(b'{"last_message_id": ')
        raise RuntimeError("crash mid-write")
    assert read_json_strict(target) == {"last_message_id": 5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_unparsable_file_is_refused_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    target.write_bytes(b'{"messages": [')
    with pytest.raises(DataFormatError, match="export.json is not valid JSON"):
        read_json_strict(target)
    assert target.read_bytes() == b'{"messages": ['


def test_files_get_the_usual_permissions_not_mkstemp_0600(tmp_path: Path) -> None:
    """mkstemp alone would leave every export file readable by its owner only."""
    import os
    import stat

    from tgexport.atomic_json import DEFAULT_FILE_MODE

    mask = os.umask(0)
    os.umask(mask)
    assert 0o666 & ~mask == DEFAULT_FILE_MODE
    target = tmp_path / "export.json"
    write_json_atomic(target, {"a": 1})
    assert stat.S_IMODE(target.stat().st_mode) == DEFAULT_FILE_MODE
    secret = tmp_path / "auth.json"
    write_json_atomic(secret, {"phone": "x"}, mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
