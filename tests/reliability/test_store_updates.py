"""The store's `update` journal entries (`--refresh-recent`): replaced records are journaled, replayed
after a kill, applied once at compaction; a damaged or foreign update entry is refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from errors import DataFormatError
from tests.reliability.test_store_journal import CHANNEL, check_consistent, msg, opened
from tgexport.store.journal import JOURNAL_NAME, encode_line


def _base(tmp_path: Path) -> Path:
    store = opened(tmp_path)
    store.append([msg(i) for i in range(1, 6)], 5)
    store.save()
    store.close()
    return store.export_dir


def test_updates_are_replayed_from_the_journal_of_a_killed_run(tmp_path: Path) -> None:
    export_dir = _base(tmp_path)
    store = opened(tmp_path)
    edited = {**msg(4), "text": "edited", "media_files": [{"type": "photo", "path": None, "filename": None}]}
    store.update([edited, {**msg(5), "deleted": True, "deleted_at": "2024-01-02T00:00:00Z"}])
    store.append([msg(6)], 6)
    store.checkpoint()
    store.close()  # killed here: the journal holds the update, export.json does not
    assert json.loads((export_dir / "export.json").read_text("utf-8"))["messages"][3] == msg(4)

    again = opened(tmp_path)  # replays and compacts
    export = check_consistent(export_dir)
    assert [m["id"] for m in export["messages"]] == [1, 2, 3, 4, 5, 6]
    assert export["messages"][3] == edited and export["messages"][4]["deleted"] is True
    assert json.loads((export_dir / "state.json").read_text("utf-8"))["media_total"] == 1
    assert any("2 refreshed message(s)" in note for note in again.repairs)
    again.close()


def test_an_unchanged_store_writes_no_export_json(tmp_path: Path) -> None:
    export_dir = _base(tmp_path)
    before = (export_dir / "export.json").stat()
    store = opened(tmp_path)
    store.update([])
    store.save()
    store.close()
    after = (export_dir / "export.json").stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


@pytest.mark.parametrize("entry", [
    {"op": "update", "messages": [msg(99)]},  # a message the export does not hold
    {"op": "update", "messages": [msg(2), msg(2)]},  # the same id twice
    {"op": "update", "messages": "nope"},
    {"op": "update", "messages": [{**msg(2), "deleted": "yes"}]},
])
def test_a_bad_update_entry_is_refused(tmp_path: Path, entry: dict) -> None:
    export_dir = _base(tmp_path)
    header = {"op": "journal", "version": 1, "channel_id": CHANNEL.id}
    journal = export_dir / JOURNAL_NAME
    journal.write_bytes(encode_line(header) + encode_line(entry) + encode_line({"op": "media", "sha256": "ab" * 32,
                                                                                 "path": "media/x.jpg",
                                                                                 "file_key": None}))
    files = {p.name: p.read_bytes() for p in export_dir.iterdir() if p.is_file()}
    with pytest.raises(DataFormatError):
        opened(tmp_path)
    assert {p.name: p.read_bytes() for p in export_dir.iterdir() if p.is_file()} == files


def _photo(record: dict) -> dict:
    return {**record, "text": "edited", "media_files": [{"type": "photo", "path": None, "filename": None}]}


def test_an_update_after_records_went_to_the_next_export_json_rebuilds_it(tmp_path: Path) -> None:
    """Records already spooled into the next export.json (and export.json's own) are replaced there."""
    export_dir = _base(tmp_path)
    store = opened(tmp_path)
    store.append([msg(i) for i in range(6, 9)], 8)
    store.checkpoint()  # 6..8 journaled and out of memory, in the next export.json's temp file
    assert store.pending_records() == 0
    store.update([_photo(msg(2)), _photo(msg(7))])
    store.append([msg(9)], 9)
    store.save()
    export = check_consistent(export_dir)
    assert [m["id"] for m in export["messages"]] == list(range(1, 10))
    assert export["messages"][1] == _photo(msg(2)) and export["messages"][6] == _photo(msg(7))
    assert [m["id"] for m in store.written_records()] == [6, 7, 8, 9]
    assert store.media_total() == 2
    store.close()


def test_an_update_of_a_record_written_in_the_same_journal_is_replayed(tmp_path: Path) -> None:
    export_dir = _base(tmp_path)
    store = opened(tmp_path)
    store.append([msg(6), msg(7)], 7)
    store.checkpoint()
    store.update([_photo(msg(6)), {**msg(3), "deleted": True, "deleted_at": "2024-01-02T00:00:00Z"}])
    store.checkpoint()
    store.close()  # killed: the journal holds messages 6-7, then an update of 6 (and of 3, in export.json)
    again = opened(tmp_path)  # replays (6 and 7 go to the next export.json at once) and compacts
    export = check_consistent(export_dir)
    assert [m["id"] for m in export["messages"]] == [1, 2, 3, 4, 5, 6, 7]
    assert export["messages"][5] == _photo(msg(6)) and export["messages"][2]["deleted"] is True
    assert any("2 refreshed message(s)" in note for note in again.repairs)
    again.close()

