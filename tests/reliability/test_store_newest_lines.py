"""The newest records of a big export without parsing export.json: `recent`, `iter_from` and updates
of the last lines (--refresh-recent, --comments) read export.json from its end, line by line, and
compaction copies the untouched lines as bytes. Everything must equal what the parse-everything path
gives, after a kill too; export.json is never parsed whole on these paths (memory follows the records
asked for, not the export)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reliability.test_store_journal import check_consistent, msg, opened
from tgexport.store import layout
from tgexport.store.export import ExportStore


def _export(tmp_path: Path, count: int) -> Path:
    store = opened(tmp_path)
    store.append([{**msg(i), "text": f"m{i} " + "é" * (i % 7)} for i in range(1, count + 1)], count)
    store.save()
    store.close()
    return store.export_dir


@pytest.fixture
def never_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing a trusted export.json whole fails the test (the paths below must not need it)."""
    def refuse(self: ExportStore) -> list[dict[str, Any]]:
        raise AssertionError("export.json was parsed whole")

    monkeypatch.setattr(ExportStore, "_parse_trusted_export", refuse)


def _messages(export_dir: Path) -> list[dict[str, Any]]:
    return json.loads((export_dir / "export.json").read_text("utf-8"))["messages"]


def test_recent_and_iter_from_read_only_the_end(tmp_path: Path, never_parsed: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    export_dir = _export(tmp_path, 40)
    expected = _messages(export_dir)
    monkeypatch.setattr(layout, "_CHUNK", 64)  # many chunk edges inside lines
    store = opened(tmp_path)
    assert store.recent(5) == expected[-5:]
    assert store.recent(100) == expected
    assert list(store.iter_from(31)) == expected[30:]
    assert list(store.iter_from(41)) == []
    store.close()


def test_updates_of_the_last_lines_keep_the_others_as_bytes(tmp_path: Path, never_parsed: None) -> None:
    export_dir = _export(tmp_path, 30)
    before = (export_dir / "export.json").read_bytes()
    store = opened(tmp_path)
    old = store.recent(3)
    edited = [{**old[0], "text": "edited"}, {**old[2], "media_files": [{"type": "photo", "path": None,
                                                                     "filename": None}]}]
    store.update(edited)
    assert [m["text"] for m in store.iter_from(28)] == ["edited", old[1]["text"], old[2]["text"]]
    store.save()
    store.close()
    export = check_consistent(export_dir)
    assert export["messages"][27] == edited[0] and export["messages"][29] == edited[1]
    after = (export_dir / "export.json").read_bytes()
    cut = before.index(b'{"id": 28')
    assert after[:cut] == before[:cut]  # the 27 older lines copied as they were
    assert json.loads((export_dir / "state.json").read_text("utf-8"))["media_total"] == 1


def test_an_update_of_the_last_lines_is_replayed_after_a_kill(tmp_path: Path, never_parsed: None) -> None:
    export_dir = _export(tmp_path, 12)
    store = opened(tmp_path)
    edited = {**store.recent(1)[0], "text": "edited"}
    store.update([edited])
    store.checkpoint()
    store.close()  # killed: the journal holds the update
    opened(tmp_path).close()  # replays it, reading only export.json's last line, and compacts
    export = check_consistent(export_dir)
    assert export["messages"][-1] == edited and len(export["messages"]) == 12


@settings(max_examples=40)
@given(count=st.integers(1, 60), depth=st.integers(1, 60), picks=st.lists(st.integers(0, 59), max_size=6),
       chunk=st.sampled_from([16, 61, 1 << 20]), later=st.integers(0, 60))
def test_reading_the_end_equals_parsing_everything(tmp_path_factory: pytest.TempPathFactory, count: int, depth: int,
                                                   picks: list[int], chunk: int, later: int) -> None:
    """The same updates (ids among the newest `depth`, in two calls, the second reaching `later`
    lines further back) give byte-identical export.json and state.json either way."""
    ids = sorted({count - (p % min(depth, count)) for p in picks})
    further = sorted({max(1, count - later)})
    results = []
    for parse_first in (True, False):
        root = tmp_path_factory.mktemp("same")
        export_dir = _export(root, count)
        layout_chunk, layout._CHUNK = layout._CHUNK, chunk
        try:
            store = opened(root)
            if parse_first:
                assert len(store.messages) == count  # the old path: export.json parsed whole
            store.update([{**msg(i), "text": f"new {i}"} for i in ids])
            store.update([{**msg(i), "text": f"newer {i}"} for i in further])
            assert [m["id"] for m in store.iter_from(1)] == list(range(1, count + 1))
            store.save()
            store.close()
        finally:
            layout._CHUNK = layout_chunk
        results.append(((export_dir / "export.json").read_bytes().split(b'"export_date"')[0],
                        json.loads((export_dir / "state.json").read_text("utf-8"))["export_check"]["messages_total"]))
    assert results[0] == results[1]
