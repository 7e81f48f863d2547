"""What a refresh counts as changed and as edited (tgexport/records/changes.py)."""
from __future__ import annotations

from tgexport.records.changes import has_thread, is_edit, mark_deleted, merged

OLD = {"id": 5, "text": "hi", "entities": [], "edit_date": None, "views": 3, "replies": None,
       "media_files": [{"type": "photo", "path": "media/photos/5.jpg"}]}


def test_a_fresh_read_replaces_every_key_but_the_local_ones() -> None:
    fresh = {**OLD, "views": 9, "media_files": [], "new_key": 1, "deleted": False}
    record = merged(OLD, fresh)
    assert record["views"] == 9 and record["new_key"] == 1
    assert record["media_files"] == OLD["media_files"] and "deleted" not in record
    assert merged(OLD, fresh, [])["media_files"] == []  # the media were replaced (here: removed)
    assert merged(OLD, dict(OLD)) == OLD


def test_edits_are_text_entities_or_edit_date_not_counters() -> None:
    assert not is_edit(OLD, {**OLD, "views": 100, "replies": {"count": 2}})
    assert is_edit(OLD, {**OLD, "text": "hello"})
    assert is_edit(OLD, {**OLD, "entities": [{"type": "bold", "offset": 0, "length": 2}]})
    assert is_edit(OLD, {**OLD, "edit_date": "2024-01-01T00:00:00Z"})
    older = {"id": 5, "text": "hi", "views": 3}  # written before entities/edit_date existed
    assert not is_edit(older, {**older, "entities": [], "edit_date": None})


def test_deleted_keeps_the_record_and_the_first_time() -> None:
    gone = mark_deleted(OLD, "2024-02-02T00:00:00Z")
    assert gone == {**OLD, "deleted": True, "deleted_at": "2024-02-02T00:00:00Z"}
    assert mark_deleted(gone, "2025-01-01T00:00:00Z") is gone


def test_threads_are_posts_with_comments_on_that_are_not_deleted() -> None:
    post = {**OLD, "replies": {"count": 0, "comments": True, "channel_id": 7}}
    assert has_thread(post) and not has_thread(OLD)
    assert not has_thread({**post, "deleted": True})
    assert not has_thread({**post, "replies": {"count": 3, "comments": False, "channel_id": None}})
