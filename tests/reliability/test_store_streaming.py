"""Flat memory in the export store: journaled records leave memory for the next export.json (a temp
file written during the run), compaction finishes that file, and a run's new records are read back
from export.json's bytes; the same bytes as building the file at once, and every guarantee kept."""
from __future__ import annotations

import errno
import gc
import hashlib
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from errors import DataFormatError
from tests.reliability.test_store_journal import CHANNEL, T1, check_consistent, msg, opened
from tgexport.core import fault_points
from tgexport.store.export import ExportStore
from tgexport.store.journal import JOURNAL_NAME
from tgexport.store.layout import encode_message, export_bytes
from tgexport.store.next_export import NextExport

INFO = CHANNEL.as_dict()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 5), max_size=6), st.integers(0, 3), st.booleans())
def test_next_export_writes_the_bytes_export_bytes_builds(tmp_path_factory: Any, batches: list[int], kept: int,
                                                          kept_as_bytes: bool) -> None:
    directory = tmp_path_factory.mktemp("next")
    path = directory / "export.json"
    old = [msg(i) for i in range(1, kept + 1)]
    path.write_bytes(export_bytes(INFO, [encode_message(m) for m in old], "2024-01-01T00:00:00Z", kept))
    records, at = [], kept + 1
    nxt = NextExport(path, INFO)
    if kept and kept_as_bytes:
        raw = path.read_bytes()
        start = raw.index(b'[\n    ') + len(b'[\n    ')
        nxt.keep(start, raw.rindex(b'\n  ],'), kept, hashlib.sha256(raw).hexdigest())
    else:
        nxt.keep_encoded([encode_message(m) for m in old])
    for size in batches:
        batch = [msg(i) for i in range(at, at + size)]
        records += batch
        at += size
        nxt.add([encode_message(m) for m in batch])
    sha, (start, end) = nxt.finish("2024-05-01T00:00:00Z")
    raw = path.read_bytes()
    everything = [encode_message(m) for m in old + records]
    assert raw == export_bytes(INFO, everything, "2024-05-01T00:00:00Z", len(everything))
    assert sha == hashlib.sha256(raw).hexdigest()
    assert raw[start:end] == b",\n    ".join(encode_message(m) for m in records)
    assert [p.name for p in directory.iterdir()] == ["export.json"]  # no temp file left


def test_checkpointed_records_leave_memory_and_the_run_reads_them_back(tmp_path: Path) -> None:
    store = opened(tmp_path)
    store.append([msg(i) for i in range(1, 51)], 0)
    store.save(T1)
    for start in (51, 61, 71):
        store.append([msg(i) for i in range(start, start + 10)], start + 9)
        assert store.checkpoint() and store.pending_records() == 0 and store._tail == []
    assert [m["id"] for m in store.messages] == list(range(1, 81))  # the view reads them back from disk
    store.append([msg(81), msg(82)], 90)  # the last ones are not journaled before the final compaction
    store.save(T1)
    export = check_consistent(store.export_dir)
    assert [m["id"] for m in export["messages"]] == list(range(1, 83)) and store.messages_total() == 82
    lines = store.written_records()
    assert lines is not None and len(lines) == 32
    assert list(lines) == [msg(i) for i in range(51, 83)]
    raw = b"".join(lines.chunks())
    lines.close()
    assert raw == b",\n    ".join(encode_message(msg(i)) for i in range(51, 83))
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert again.last_message_id == 90 and again.messages_total() == 82
    store.close()


def test_an_unchanged_store_neither_rewrites_export_json_nor_opens_a_next_one(tmp_path: Path) -> None:
    store = opened(tmp_path)
    store.append([msg(1)], 0)
    store.save(T1)
    before = (store.export_dir / "export.json").stat().st_mtime_ns
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert not again.checkpoint()
    again.save(T1)
    assert (again.export_dir / "export.json").stat().st_mtime_ns == before and again.written_records() is None
    assert not [p for p in again.export_dir.iterdir() if p.name.endswith(".tmp")]


def test_export_json_changed_during_the_run_is_not_overwritten(tmp_path: Path) -> None:
    store = opened(tmp_path)
    store.append([msg(1)], 0)
    store.save(T1)
    store.append([msg(2)], 0)
    assert store.checkpoint()  # its lines were copied into the next export.json
    edited = (store.export_dir / "export.json").read_bytes().replace(b"m1 ", b"M1 ")
    (store.export_dir / "export.json").write_bytes(edited)
    with pytest.raises(DataFormatError, match="changed while this run was going"):
        store.save(T1)
    store.close()
    assert (store.export_dir / "export.json").read_bytes() == edited
    assert (store.export_dir / JOURNAL_NAME).exists()  # message 2 is kept for the next run


def test_a_failed_write_of_the_next_export_keeps_the_journal_and_refuses_to_compact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = opened(tmp_path)
    store.append([msg(1)], 0)
    store.save(T1)
    before = (store.export_dir / "export.json").read_bytes()
    store.append([msg(2), msg(3)], 0)
    monkeypatch.setenv(fault_points.OSERROR_ENV, "json_write:1:ENOSPC")
    fault_points.reload_from_env()
    try:
        with pytest.raises(OSError) as info:
            store.checkpoint()  # journaled, then the next export.json could not be opened
    finally:
        monkeypatch.delenv(fault_points.OSERROR_ENV)
        fault_points.reload_from_env()
    assert info.value.errno == errno.ENOSPC
    with pytest.raises(OSError):  # compacting now would drop messages 2 and 3 from export.json
        store.save(T1)
    store.close()
    assert (store.export_dir / "export.json").read_bytes() == before
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)  # the next run recovers them from the journal
    assert [m["id"] for m in check_consistent(again.export_dir)["messages"]] == [1, 2, 3]


def test_memory_held_by_the_store_does_not_grow_with_the_records_it_saved(tmp_path: Path) -> None:
    store = opened(tmp_path)
    held = []
    tracemalloc.start()
    try:
        for batch in range(16):
            store.append([msg(i) for i in range(batch * 1000 + 1, batch * 1000 + 1001)], 0)
            store.checkpoint()
            if batch in (3, 15):
                gc.collect()
                held.append(tracemalloc.get_traced_memory()[0])
        store.save(T1)
    finally:
        tracemalloc.stop()
    assert held[1] - held[0] < 64 * 1024, held  # 12,000 more records saved, no more memory held
    assert json.loads((store.export_dir / "state.json").read_text("utf-8"))["messages_total"] == 16_000


def test_a_killed_runs_journal_is_replayed_entry_by_entry(tmp_path: Path) -> None:
    store = opened(tmp_path)
    for batch in range(16):
        store.append([msg(i) for i in range(batch * 1000 + 1, batch * 1000 + 1001)], 0)
        store.checkpoint()
    store.close()  # as if killed: the journal stays, the unfinished next export.json is gone
    gc.collect()
    tracemalloc.start()
    try:
        again = ExportStore.open(tmp_path, CHANNEL, now=T1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert again.repairs[-1].startswith("recovered 16000 message(s)")
    assert peak < 6 * 1024 * 1024, peak  # one journal entry (1,000 records) at a time, not 16,000
    assert len(check_consistent(again.export_dir)["messages"]) == 16_000
