"""`parse --refresh-recent N`: re-read the N newest exported messages and update what changed.

Runs before the history scan. Messages are re-read by id (history/refetch.py: 100 a request, paced,
through the FloodController). A changed record replaces the exported one through the store's
journal (`update` entries, applied at compaction: export.json is rewritten once, and not at all
when nothing changed). A message the channel no longer has keeps its record, marked `deleted`.
Media replaced by an edit are downloaded with the usual naming and dedup rules; old files stay.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tgexport.core.timeutil import utc_iso
from tgexport.history.refetch import MessageRefetcher
from tgexport.media import MediaDownloader, describe_media, media_changed
from tgexport.records.changes import has_thread, is_edit, mark_deleted, merged
from tgexport.records.extras import AttachmentReader
from tgexport.records.message import message_to_record
from tgexport.store.export import ExportStore


@dataclass
class RefreshResult:
    """What a refresh found: counts for the summary and the changed records (stdout `updated_messages`)."""

    refreshed: int = 0
    edited: int = 0
    deleted: int = 0
    updated: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[int, bool] = field(default_factory=dict)  # re-read posts with comments → replies changed

    def summary_keys(self) -> dict[str, int]:
        return {"refreshed_messages": self.refreshed, "edited_messages": self.edited,
                "deleted_messages": self.deleted}


class Refresher:
    """Re-reads recent records of one store and updates them (see the module docstring)."""

    def __init__(self, store: ExportStore, refetcher: MessageRefetcher, attachments: AttachmentReader,
                 downloader: MediaDownloader | None) -> None:
        self.store = store
        self.refetcher = refetcher
        self.attachments = attachments
        self.downloader = downloader  # None: a dry run (nothing is downloaded or stored)

    async def run(self, count: int, result: RefreshResult) -> None:
        """Refresh the `count` newest records; `result` is filled as the work goes (a stop keeps it)."""
        if count <= 0 or self.store.messages_total() == 0:
            return
        old = self.store.recent(count)
        fetched = await self.refetcher.fetch([r["id"] for r in old])
        result.refreshed = len(old)
        now = utc_iso(datetime.now(UTC))
        changed: list[dict[str, Any]] = []
        for record in old:
            message = fetched.get(record["id"])
            new = mark_deleted(record, now) if message is None else await self._fresh(record, message)
            if has_thread(new):
                result.replies[new["id"]] = new.get("replies") != record.get("replies")
            if new == record:
                continue
            changed.append(new)
            result.deleted += message is None
            result.edited += message is not None and is_edit(record, new)
        if self.downloader is not None and changed:
            self.store.update(changed)
        result.updated = changed

    async def _fresh(self, old: dict[str, Any], message: Any) -> dict[str, Any]:
        fresh = message_to_record(message, attachments=self.attachments)
        media = None
        if self.downloader is not None and media_changed(old.get("media_files") or [], message,
                                                         self.store.file_index):
            media = await self.downloader.download(message, describe_media(message))
        return merged(old, fresh, media)
