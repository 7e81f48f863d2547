"""Unit tests of the export store: directory choice, strict loading, repair, atomic saves.

The journal, compaction and recovery are tested in tests/reliability/test_store_journal.py.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from errors import DataFormatError
from tgexport.core.atomic_json import dump_json_text
from tgexport.store.export import ChannelInfo, ExportStore, channel_slug, find_export_dir

CHANNEL = ChannelInfo(42, "my_chan", "My chan")
T1 = datetime(2024, 5, 1, 10, 5, tzinfo=UTC)


def _msg(i: int, media: int = 0) -> dict:
    return {"id": i, "date": "2024-01-01T00:00:00Z", "text": f"m{i}", "forwarded": None,
            "reply_to_msg_id": None, "views": None, "forwards": None,
            "media_files": [{"type": "photo", "path": None, "filename": None, "error": "download_timeout"}] * media}


def _saved(tmp_path: Path, ids: list[int]) -> ExportStore:
    store = ExportStore.open(tmp_path, CHANNEL, now=T1)
    store.create_dir()
    store.append([_msg(i) for i in ids])
    store.save(T1)
    return store


def test_slug() -> None:
    assert channel_slug("Some_Name", 1) == "Some_Name"
    assert channel_slug(None, 77) == "channel_77"
    assert channel_slug("../..", 5) == "channel_5"


def test_new_directory_name_and_files(tmp_path: Path) -> None:
    store = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert store.export_dir == tmp_path.resolve() / "my_chan__2024-05-01_10-05"
    assert not store.export_dir.exists()
    store.create_dir()
    store.append([_msg(2, media=1), _msg(1), _msg(3)])
    store.save(T1)
    export = json.loads(store.export_json.read_text(encoding="utf-8"))
    assert export["channel_info"] == {"id": 42, "username": "my_chan", "title": "My chan"}
    assert [m["id"] for m in export["messages"]] == [1, 2, 3] and export["total_messages"] == 3
    assert export["export_date"] == "2024-05-01T10:05:00Z"
    state = json.loads(store.state_json.read_text(encoding="utf-8"))
    check = state.pop("export_check")
    assert state == {"channel_id": 42, "channel_username": "my_chan", "last_message_id": 3,
                     "last_update_at": "2024-05-01T10:05:00Z", "messages_total": 3, "media_total": 1}
    assert check == {"sha256": hashlib.sha256(store.export_json.read_bytes()).hexdigest(), "messages_total": 3,
                     "media_total": 1, "max_id": 3, "channel_info": export["channel_info"], "layout": 1}
    assert json.loads(store.media_index_json.read_text(encoding="utf-8")) == {"sha256_to_path": {}}
    assert store.export_json.read_text(encoding="utf-8") == dump_json_text(export)  # the one layout
    assert sorted(p.name for p in store.export_dir.iterdir()) == ["export.json", "media-index.json", "state.json"]


def test_reuses_newest_directory_of_the_channel(tmp_path: Path) -> None:
    for name in ("my_chan__2024-01-01_00-00", "my_chan__2024-02-01_00-00", "my_chan_x__2025-01-01_00-00",
                 "other__2026-01-01_00-00"):
        (tmp_path / name).mkdir()
    assert find_export_dir(tmp_path, "my_chan", 42).name == "my_chan__2024-02-01_00-00"
    store = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert store.existed and store.export_dir.name == "my_chan__2024-02-01_00-00"


def test_directory_of_another_channel_with_the_same_slug_is_skipped(tmp_path: Path) -> None:
    old = tmp_path / "my_chan__2024-01-01_00-00"
    old.mkdir()
    (old / "state.json").write_text(json.dumps({"channel_id": 999, "last_message_id": 1}), encoding="utf-8")
    assert find_export_dir(tmp_path, "my_chan", 42) is None


def test_renamed_channel_finds_its_directory_through_state(tmp_path: Path) -> None:
    _saved(tmp_path, [1, 2])
    renamed = ExportStore.open(tmp_path, ChannelInfo(42, "new_name", "t"), now=T1)
    assert renamed.existed and renamed.last_message_id == 2 and len(renamed.messages) == 2


def test_loading_continues_after_last_message_id(tmp_path: Path) -> None:
    _saved(tmp_path, [1, 2, 3])
    store = ExportStore.open(tmp_path, CHANNEL, now=T1)
    added = store.append([_msg(2), _msg(4), _msg(4), _msg(5)], position=7)
    assert [m["id"] for m in added] == [4, 5]
    assert [m["id"] for m in store.messages] == [1, 2, 3, 4, 5] and store.last_message_id == 7


@pytest.mark.parametrize("name", ["export.json", "state.json", "media-index.json"])
def test_corrupt_file_is_data_format_error_and_untouched(tmp_path: Path, name: str) -> None:
    store = _saved(tmp_path, [1, 2])
    target = store.export_dir / name
    target.write_text('{"messages": [', encoding="utf-8")
    before = {p.name: p.read_bytes() for p in store.export_dir.iterdir()}
    with pytest.raises(DataFormatError):
        ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert {p.name: p.read_bytes() for p in store.export_dir.iterdir()} == before


@pytest.mark.parametrize("payload", [[], {"messages": {}}, {"messages": [{"id": "1"}]}, {"messages": [{"id": True}]}])
def test_wrong_shape_export_is_data_format_error(tmp_path: Path, payload: object) -> None:
    store = _saved(tmp_path, [1])
    store.export_json.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(DataFormatError):
        ExportStore.open(tmp_path, CHANNEL, now=T1)


def test_state_without_export_is_refused(tmp_path: Path) -> None:
    store = _saved(tmp_path, [1])
    store.export_json.unlink()
    with pytest.raises(DataFormatError):
        ExportStore.open(tmp_path, CHANNEL, now=T1)


def test_duplicates_and_order_are_repaired_on_load(tmp_path: Path) -> None:
    store = _saved(tmp_path, [1])
    data = json.loads(store.export_json.read_text(encoding="utf-8"))
    data["messages"] = [_msg(3), _msg(1), _msg(3), _msg(2)]
    store.export_json.write_text(json.dumps(data), encoding="utf-8")
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert [m["id"] for m in again.messages] == [1, 2, 3]
    assert again.last_message_id == 3 and again.repairs


def test_media_index_drops_entries_whose_file_is_missing(tmp_path: Path) -> None:
    store = _saved(tmp_path, [1])
    (store.export_dir / "media" / "photos").mkdir(parents=True)
    (store.export_dir / "media" / "photos" / "1_a.jpg").write_bytes(b"x")
    good, gone = "a" * 64, "d" * 64
    index = {"sha256_to_path": {good: "media/photos/1_a.jpg", gone: "media/photos/none.jpg"},
             "file_id_to_sha256": {"photo:1": good, "photo:2": gone}}
    store.media_index_json.write_text(json.dumps(index), encoding="utf-8")
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert again.sha_index == {good: "media/photos/1_a.jpg"} and again.file_index == {"photo:1": good}
    assert again.repairs == ["dropped 1 media-index.json entr(ies) whose file is missing"]
    assert json.loads(store.media_index_json.read_text("utf-8")) == {  # repaired on disk at once
        "sha256_to_path": {good: "media/photos/1_a.jpg"}, "file_id_to_sha256": {"photo:1": good}}


@pytest.mark.parametrize("rel", ["../escape", "/etc/passwd", "media\\photos\\1.jpg", "C:/x.jpg", "media/../../x",
                                 "", "media/link/x.jpg", "media/photos/out.jpg"])
def test_media_index_with_a_path_outside_the_export_is_refused(tmp_path: Path, rel: str) -> None:
    store = _saved(tmp_path, [1])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.jpg").write_bytes(b"x")
    (store.export_dir / "media" / "photos").mkdir(parents=True)
    os.symlink(outside, store.export_dir / "media" / "link")
    os.symlink(outside / "x.jpg", store.export_dir / "media" / "photos" / "out.jpg")
    store.media_index_json.write_text(json.dumps({"sha256_to_path": {"b" * 64: rel}}), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in store.export_dir.iterdir() if p.is_file()}
    with pytest.raises(DataFormatError, match="media-index.json: a path outside the export directory"):
        ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert {p.name: p.read_bytes() for p in store.export_dir.iterdir() if p.is_file()} == before


def test_empty_directory_from_a_dry_run_is_a_fresh_export(tmp_path: Path) -> None:
    (tmp_path / "my_chan__2024-01-01_00-00" / "logs").mkdir(parents=True)
    store = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert store.existed and store.messages == [] and store.last_message_id == 0


def test_save_leaves_no_temp_files(tmp_path: Path) -> None:
    store = _saved(tmp_path, [1, 2])
    store.write_summary({"a": 1})
    assert not [p for p in store.export_dir.iterdir() if p.name.endswith(".tmp")]


def test_known_channel_finds_an_export_by_username_or_id_without_network(tmp_path: Path) -> None:
    from tgexport.store.export import known_channel

    _saved(tmp_path, [1, 2])
    other = tmp_path / "news__2024-01-01_00-00"
    other.mkdir()
    (other / "state.json").write_text(json.dumps({"channel_id": 7, "channel_username": "news"}), encoding="utf-8")
    broken = tmp_path / "broken__2024-01-01_00-00"
    broken.mkdir()
    (broken / "state.json").write_text("{", encoding="utf-8")
    assert known_channel(tmp_path, "My_Chan", None) == ChannelInfo(42, "my_chan", None)
    assert known_channel(tmp_path, None, 42) == ChannelInfo(42, "my_chan", None)
    assert known_channel(tmp_path, None, 7) == ChannelInfo(7, "news", None)
    assert known_channel(tmp_path, "unknown", 8) is None
    assert known_channel(tmp_path / "missing", "news", None) is None
