"""`parse --comments`: the discussion threads of exported posts, into `comments/<post id>.json`.

Runs after the history scan. The posts looked at: those past `comments/state.json`'s `checked_up_to`
(new posts; on the first --comments run every exported post), its `pending` ones (left by a stopped
run), and posts re-read by --refresh-recent whose replies changed or that have no thread file yet.
Only posts with `replies.comments` true and `replies.count` > 0 cost requests: a new thread costs
getDiscussionMessage + getReplies, a known one only getReplies with `min_id = last_comment_id`.
Comment media are described, not downloaded (`"skipped": "comment_media"`), unless --comments-media.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tgexport.history.replies import ThreadReader
from tgexport.media import MediaDownloader, describe_media, no_file_item
from tgexport.records.changes import has_thread
from tgexport.records.extras import AttachmentReader
from tgexport.records.message import message_to_record
from tgexport.store.comments import CommentsStore, Thread
from tgexport.store.export import ExportStore

SKIPPED_COMMENT_MEDIA = "comment_media"
MakeDownloader = Callable[[Any], MediaDownloader]


@dataclass
class CommentsResult:
    threads: int = 0  # comment files written this run
    comments: int = 0  # comments added to them

    def summary_keys(self) -> dict[str, int]:
        return {"comment_threads_updated": self.threads, "new_comments": self.comments}


def has_comments(record: dict[str, Any]) -> bool:
    """A post with a thread and a comment count above 0 (a post without comments costs no request)."""
    return has_thread(record) and (record["replies"].get("count") or 0) > 0


class CommentsStep:
    """Brings the comment files of one export up to date (see the module docstring)."""

    def __init__(self, store: ExportStore, reader: ThreadReader, attachments: AttachmentReader,
                 make_downloader: MakeDownloader | None) -> None:
        self.store = store
        self.files = CommentsStore(store.export_dir)
        self.reader = reader
        self.attachments = attachments
        self.make_downloader = make_downloader  # None: comment media are described only
        self._downloaders: dict[int, MediaDownloader] = {}

    async def run(self, start_last_id: int, new_records: list[dict[str, Any]], refreshed: dict[int, bool],
                  result: CommentsResult) -> None:
        """`refreshed`: id → whether its replies changed, for the posts --refresh-recent re-read."""
        checked, pending = self.files.read_state()
        top = self.store.last_message_id
        wanted = set(pending) | {post_id for post_id, changed in refreshed.items()
                                 if changed or not self.files.thread_path(post_id).is_file()}
        posts = [r for r in self._records(wanted, checked, start_last_id, new_records) if has_comments(r)]
        if not posts and checked >= top and not pending:
            return
        self.files.write_state(checked, [p["id"] for p in posts])
        for post in posts:
            await self._thread(post["id"], result)
        self.files.write_state(max(checked, top), [])

    def _records(self, wanted: set[int], checked: int, start_last_id: int,
                 new_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records of `wanted` ids and of every id above `checked`, ascending."""
        if checked >= start_last_id and not wanted:
            return [r for r in new_records if r["id"] > checked]  # the usual run: no need to read the export
        messages = self.store.messages
        start = bisect.bisect_right(messages, checked, key=lambda m: m["id"])
        found = {m["id"]: m for m in messages[start:]}
        for post_id in wanted - found.keys():
            index = bisect.bisect_left(messages, post_id, key=lambda m: m["id"])
            if index < len(messages) and messages[index]["id"] == post_id:
                found[post_id] = messages[index]
        return [found[i] for i in sorted(found)]

    async def _thread(self, post_id: int, result: CommentsResult) -> None:
        thread = self.files.read_thread(post_id)
        if thread is None:
            discussion = await self.reader.discussion(post_id)
            if discussion is None:
                return
            thread = Thread(post_id, discussion.chat_id, discussion.msg_id)
        new = await self.reader.comments_after(post_id, thread.last_comment_id)
        if not new and self.files.thread_path(post_id).is_file():
            return
        thread.comments.extend([await self._record(m, thread.discussion_chat_id) for m in new])
        self.files.write_thread(thread)
        result.threads += 1
        result.comments += len(new)

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
