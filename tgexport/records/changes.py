"""What changed between a record in the export and the same message read again (`--refresh-recent`).

Generic on purpose: the fresh record replaces every key it has (so keys added to records later are
refreshed too), except the local ones (`media_files`: paths of files this tool stored, replaced only
when the media changed). An edit is a change of `text`, `entities` or `edit_date`; counters (views,
forwards, reactions, replies) and the rest are updates, not edits.
"""
from __future__ import annotations

from typing import Any

LOCAL_KEYS = ("media_files", "deleted", "deleted_at")  # set by this tool, never by a fresh read
EDIT_KEYS = ("text", "entities", "edit_date")


def merged(old: dict[str, Any], fresh: dict[str, Any], media_files: list[dict[str, Any]] | None = None
           ) -> dict[str, Any]:
    """`old` updated from `fresh`; its media_files kept unless `media_files` (the replaced media) is given."""
    record = {**old, **{k: v for k, v in fresh.items() if k not in LOCAL_KEYS}}
    if media_files is not None:
        record["media_files"] = media_files
    return record


def is_edit(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when the text, its entities or the edit date differ (a counter change is not an edit); a key
    the old record lacks (an export written before it existed) is not an edit by itself."""
    return any(key in old and old[key] != new.get(key) for key in EDIT_KEYS)


def mark_deleted(old: dict[str, Any], when: str) -> dict[str, Any]:
    """The record of a message the channel no longer has: kept, with `deleted` and `deleted_at` (first seen)."""
    if old.get("deleted") is True:
        return old
    return {**old, "deleted": True, "deleted_at": when}


def has_thread(record: dict[str, Any]) -> bool:
    """A post (not deleted) whose comments are on: it has, or may get, a discussion thread."""
    replies = record.get("replies")
    return isinstance(replies, dict) and replies.get("comments") is True and not record.get("deleted")
