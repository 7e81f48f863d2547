"""`parse --comments`: the discussion threads of exported posts, into `comments/<post id>.json`.

Runs after the history scan. The posts looked at: those past `comments/state.json`'s `checked_up_to`
(new posts; on the first --comments run every exported post), its `pending` ones (left by a stopped
run), and posts re-read by --refresh-recent whose replies changed.
Only posts with `replies.comments` true and `replies.count` > 0 cost requests: a new thread costs
getDiscussionMessage + getReplies, a known one only getReplies with `min_id = last_comment_id`.
Comment media are described, not downloaded (`"skipped": "comment_media"`), unless --comments-media.
When a refreshed post counts fewer comments than its file holds (alive), the file's comments are
re-read by id in the discussion group and the gone ones marked `deleted` (as refreshed posts are).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from errors import EXTERNAL_API_ERROR
from tgexport.core.timeutil import utc_iso
from tgexport.history.refetch import MessageRefetcher
from tgexport.history.replies import ThreadReader, ThreadUnavailable
from tgexport.media import MediaDownloader, describe_media, no_file_item
from tgexport.records.changes import has_thread, mark_deleted
from tgexport.records.extras import AttachmentReader
from tgexport.records.message import message_to_record
from tgexport.store.comments import CommentsStore, Thread
from tgexport.store.export import ExportStore

SKIPPED_COMMENT_MEDIA = "comment_media"
MakeDownloader = Callable[[Any], MediaDownloader]
MakeRefetcher = Callable[[Any], MessageRefetcher]


@dataclass
class CommentsResult:
    threads: int = 0  # comment files written this run
    comments: int = 0  # comments added to them
    deleted: int = 0  # comments found deleted from the discussion
    failed: int = 0  # threads Telegram refused (logged as comments_unavailable)

    def summary_keys(self) -> dict[str, int]:
        return {"comment_threads_updated": self.threads, "new_comments": self.comments,
                "deleted_comments": self.deleted, "comment_threads_failed": self.failed}


def has_comments(record: dict[str, Any]) -> bool:
    """A post with a thread and a comment count above 0 (a post without comments costs no request)."""
    return has_thread(record) and (record["replies"].get("count") or 0) > 0


class CommentsStep:
    """Brings the comment files of one export up to date (see the module docstring)."""

    def __init__(self, store: ExportStore, reader: ThreadReader, attachments: AttachmentReader,
                 make_downloader: MakeDownloader | None, make_refetcher: MakeRefetcher, log: Any) -> None:
        self.store = store
        self.files = CommentsStore(store.export_dir)
        self.reader = reader
        self.attachments = attachments
        self.make_downloader = make_downloader  # None: comment media are described only
        self.make_refetcher = make_refetcher
        self.log = log  # the export log: one `comments_unavailable` event per refused thread
        self._downloaders: dict[int, MediaDownloader] = {}
        self._fresh_counts: set[int] = set()  # posts whose replies.count was read by this run

    async def run(self, start_last_id: int, new_records: list[dict[str, Any]], refreshed: dict[int, bool],
                  result: CommentsResult) -> None:
        """`new_records`: the posts this run committed (their `id` and `replies` are enough);
        `refreshed`: id → whether its replies changed, for the posts --refresh-recent re-read."""
        self._fresh_counts = set(refreshed)
        checked, pending = self.files.read_state()
        top = self.store.last_message_id
        wanted = set(pending) | {post_id for post_id, changed in refreshed.items() if changed}
        posts = [r for r in self._records(wanted, checked, start_last_id, new_records) if has_comments(r)]
        if not posts and checked >= top and not pending:
            return
        if posts:
            self.files.write_state(checked, [p["id"] for p in posts])
        for post in posts:
            try:
                await self._thread(post, result)
            except ThreadUnavailable as exc:  # this post's thread only: the others go on
                result.failed += 1
                self.log.error("comments_unavailable", EXTERNAL_API_ERROR, post_id=post["id"], error=str(exc))
        self.files.write_state(max(checked, top), [])

    def _records(self, wanted: set[int], checked: int, start_last_id: int,
                 new_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`id` and `replies` of the posts with comments among `wanted` ids and every id above `checked`, ascending."""
        if checked >= start_last_id and not wanted:
            return [r for r in new_records if r["id"] > checked]  # the usual run: no need to read the export
        # wanted ids are refreshed posts, among the newest: the export is read from there on, one
        # record at a time, and only what the step uses is kept (a first run covers every post)
        low = min([checked + 1, *wanted])
        return [{"id": m["id"], "replies": m.get("replies")} for m in self.store.iter_from(low)
                if (m["id"] > checked or m["id"] in wanted) and has_comments(m)]

    async def _thread(self, post: dict[str, Any], result: CommentsResult) -> None:
        post_id = post["id"]
        thread = self.files.read_thread(post_id)
        if thread is None:
            discussion = await self.reader.discussion(post_id)
            if discussion is None:
                return
            thread = Thread(post_id, discussion.chat_id, discussion.msg_id)
        new = await self.reader.comments_after(post_id, thread.last_comment_id)
        thread.comments.extend([await self._record(m, thread.discussion_chat_id) for m in new])
        deleted = await self._mark_deleted(thread, post) if post_id in self._fresh_counts else 0
        if not new and not deleted and self.files.thread_path(post_id).is_file():
            return
        self.files.write_thread(thread)
        result.threads += 1
        result.comments += len(new)
        result.deleted += deleted

    async def _mark_deleted(self, thread: Thread, post: dict[str, Any]) -> int:
        """When the post counts fewer comments than the file holds alive: re-read those by id, mark the gone."""
        alive = [c["id"] for c in thread.comments if not c.get("deleted")]
        entity = self.reader.groups.get(thread.discussion_chat_id)
        if len(alive) <= (post["replies"].get("count") or 0) or entity is None:
            return 0
        fetched = await self.make_refetcher(entity).fetch(alive)
        now = utc_iso(datetime.now(UTC))
        gone = {i for i in alive if fetched.get(i) is None}
        thread.comments = [mark_deleted(c, now) if c["id"] in gone else c for c in thread.comments]
        return len(gone)

    async def _record(self, message: Any, chat_id: int) -> dict[str, Any]:
        record = message_to_record(message, attachments=self.attachments)
        info = describe_media(message)
        if info is None:
            return record
        downloader = self._downloader(chat_id)
        if downloader is None:
            record["media_files"] = [no_file_item(info, size=info.known_size, skipped=SKIPPED_COMMENT_MEDIA)]
        else:
            record["media_files"] = await downloader.download(message, info)
        return record

    def _downloader(self, chat_id: int) -> MediaDownloader | None:
        entity = self.reader.groups.get(chat_id)
        if self.make_downloader is None or entity is None:
            return None
        if chat_id not in self._downloaders:
            self._downloaders[chat_id] = self.make_downloader(entity)
        return self._downloaders[chat_id]
