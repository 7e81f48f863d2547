"""The bounded pipeline between history pages and the export store.

Messages enter in scan order (ascending ids); a message with media starts its download at once
(the downloader bounds how many run: `parallel_downloads`), so paging and processing go on while
media download. Records leave strictly in ascending id order, a message only when all its media
items are final: `commit(records, position)` gets the longest finished prefix, with the page's
scan position once a whole page is through (so `last_message_id` never passes a message that is
still waiting). At most `max_waiting` messages wait at once: `add_page` blocks when full, so
memory stays bounded however many media are queued. Downloads chain through `after`, so the
earliest message keeps the stored copy of identical bytes, exactly as a sequential run.
A stop either cancels everything queued (`cancel`: Ctrl+C, local errors) or first lets the fetched
messages' downloads end and commits them (`settle`: an account-wide stop keeps what was fetched).
"""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_WAITING = 200  # messages waiting for media (two history pages)
Commit = Callable[[list[dict[str, Any]], int], None]


@dataclass
class _Entry:
    record: dict[str, Any] | None  # None: the end of a page
    task: asyncio.Future[list[dict[str, Any]]] | None = None
    position: int = 0  # scan position after the page (page ends only)


class MediaPipeline:
    """Queue of (message record, media download) in id order; see the module docstring."""

    def __init__(self, downloader: Any, commit: Commit, max_waiting: int = MAX_WAITING) -> None:
        self.downloader = downloader
        self.commit = commit
        self.max_waiting = max(1, max_waiting)
        self._queue: deque[_Entry] = deque()
        self._waiting = 0  # message entries in the queue
        self._last: asyncio.Future[Any] | None = None

    @property
    def waiting(self) -> int:
        return self._waiting

    async def add_page(self, kept: list[tuple[Any, dict[str, Any], Any]], position: int) -> None:
        """Queue one page's kept (message, record, media info) and its scan position; commit what is final."""
        for message, record, info in kept:
            while self._waiting >= self.max_waiting:
                await self._wait_some()
            task = None
            if info is not None:
                task = asyncio.ensure_future(self.downloader.download(message, info, after=self._last))
                self._last = task
            self._queue.append(_Entry(record, task))
            self._waiting += 1
        self._queue.append(_Entry(None, position=position))
        self._commit_ready()
        self._raise_failed()

    async def drain(self) -> None:
        """Wait for every queued download and commit everything."""
        while self._queue:
            self._raise_failed()
            if self._head_task_pending():
                await self._wait_some()
            self._commit_ready()

    async def settle(self, *, run_queued: bool) -> None:
        """An account-wide stop that keeps what was fetched: downloads already running finish (bounded
        by their own timeouts), queued ones run too with `run_queued` or are cancelled; then every
        record up to the first one that did not end well is committed. Never raises a download's error."""
        tasks = [e.task for e in self._queue if e.task is not None and not e.task.done()]
        if not run_queued:
            for entry in self._queue:
                task = entry.task
                if task is not None and not task.done() and entry.record is not None \
                        and not self.downloader.running(entry.record["id"]):
                    task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._commit_ready()

    async def cancel(self) -> None:
        """Stop every queued download (a stopped run); nothing more is committed."""
        tasks = [e.task for e in self._queue if e.task is not None and not e.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for entry in self._queue:  # mark every outcome as seen
            if entry.task is not None and entry.task.done() and not entry.task.cancelled():
                entry.task.exception()
        self._queue.clear()
        self._waiting = 0

    def _head_task_pending(self) -> bool:
        """The head's download still runs (or failed: a failure is raised, never committed)."""
        task = self._queue[0].task
        return task is not None and (not task.done() or task.cancelled() or task.exception() is not None)

    async def _wait_some(self) -> None:
        """Until some download finishes; a failed one (a fatal error) is raised at once."""
        pending = {e.task for e in self._queue if e.task is not None and not e.task.done()}
        if pending:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        self._commit_ready()
        self._raise_failed()

    def _raise_failed(self) -> None:
        for entry in self._queue:
            task = entry.task
            if task is not None and task.done():
                if task.cancelled():
                    raise asyncio.CancelledError()
                if task.exception() is not None:
                    raise task.exception()

    def _commit_ready(self) -> None:
        records: list[dict[str, Any]] = []
        position = 0
        while self._queue and not self._head_task_pending():
            entry = self._queue.popleft()
            if entry.record is None:
                position = max(position, entry.position)
                continue
            self._waiting -= 1
            entry.record["media_files"] = list(entry.task.result()) if entry.task is not None else []
            records.append(entry.record)
        if records or position:
            self.commit(records, position)
