"""One `parse` run: resolve, scan history, build records, download media, save, summarise, zip.

`run_parse(client, options, run_id)` returns the dict `parse` prints (docs/contract.md section 4).
Committed records go to the export's journal at checkpoints (every CHECKPOINT_RECORDS records or
CHECKPOINT_SEC seconds, and before every wait); the journal is compacted into the JSON files at the
end and on every stop (RATE_LIMIT, signals, errors); summary.json and `run_finished` are written on
every exit (docs/reliability.md).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from errors import (
    EXTERNAL_API_ERROR,
    PARTIAL_FAILURE,
    RATE_LIMIT,
    AuthError,
    NetworkError,
    ParserError,
    RateLimitError,
    WaitError,
    as_parser_error,
    error_code_of,
    error_json,
    is_storage_error,
    one_line,
    storage_error,
)
from tgexport.client.channel_ref import parse_channel_ref
from tgexport.client.flood import AppLogEvents, FloodController, TeeEvents, request_timeout_from_env
from tgexport.client.resolver import channel_username, resolve_channel
from tgexport.client.takeout import takeout_session
from tgexport.config.environment import env_number
from tgexport.config.modes import pause_scale
from tgexport.config.options import ParseOptions
from tgexport.core.timeutil import utc_iso
from tgexport.history.pages import DateWindow, HistoryReader, ScanProgress
from tgexport.history.refetch import MessageRefetcher
from tgexport.history.replies import ThreadReader
from tgexport.media import MediaDownloader, describe_media, exceeds_limit, limit_bytes, no_file_item
from tgexport.media.pipeline import MediaPipeline
from tgexport.media.progress import TerminalProgress
from tgexport.records.extras import AttachmentReader
from tgexport.records.message import KeywordMatcher, message_to_record
from tgexport.run import signals
from tgexport.run.comments import CommentsResult, CommentsStep, has_comments
from tgexport.run.refresh import Refresher, RefreshResult
from tgexport.store import archive
from tgexport.store.export import ChannelInfo, ExportStore, known_channel
from tgexport.store.layout import RecordLines
from tgexport.store.lock import ExportLock
from tgexport.store.log import ExportLog

__all__ = ["KnownChannel", "ParseOptions", "error_object", "run_parse"]

log = logging.getLogger("tgexport.run.parse")
CHECKPOINT_SEC = 5.0  # journal committed records at least this often (seconds) ...
CHECKPOINT_RECORDS = 5000  # ... or every this many records, whichever comes first
CHECKPOINT_RECORDS_ENV = "TELEGRAM_PARSER_CHECKPOINT_RECORDS"  # overrides CHECKPOINT_RECORDS (tests, tuning)
MB = 1024 * 1024
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
ResultSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class KnownChannel:
    """A channel resolved before the run (a batch's dialogs): its entity and, when known, the id of
    its newest message (`top_message_id`), which spares the getHistory of an unchanged channel."""

    entity: Any
    top_message_id: int | None = None


def checkpoint_records() -> int:
    """Records between checkpoints: `TELEGRAM_PARSER_CHECKPOINT_RECORDS` when a positive number, else 5,000."""
    return max(1, int(env_number(CHECKPOINT_RECORDS_ENV, CHECKPOINT_RECORDS, positive=True) or CHECKPOINT_RECORDS))


@dataclass
class Estimate:
    """Known media sizes of the kept messages (the dry run's answer; also reported by real runs)."""

    known_bytes: int = 0
    unknown: int = 0
    over_limit: int = 0

    def add(self, info: Any, max_bytes: int | None) -> None:
        if info.known_size is None:
            self.unknown += 1
        elif exceeds_limit(info, max_bytes):
            self.over_limit += 1
        else:
            self.known_bytes += info.known_size


class ParseRun:
    """State of one run; `execute()` does the work."""

    def __init__(self, client: Any, options: ParseOptions, run_id: str, *, sleep: Sleep, clock: Clock,
                 on_result: ResultSink | None = None, known: KnownChannel | None = None,
                 stream_records: bool = False) -> None:
        self.client = client
        self.known = known
        self.on_result = on_result
        self.stream_records = stream_records
        self.options = options
        self.run_id = run_id
        self.sleep = sleep
        self.clock = clock
        self.started = datetime.now(UTC)
        self.flood = run_flood_controller(options, sleep)
        self.progress = ScanProgress(position=0)
        self.estimate = Estimate()
        self.max_bytes = limit_bytes(options.max_media_size_mb)
        self.matches = KeywordMatcher(options.keywords)
        self.attachments = AttachmentReader()  # one warning per unknown media kind and run
        self.new_messages: list[dict[str, Any]] = []  # a dry run's records (a real run's stay on disk)
        self.committed = 0  # records a real run added to the export
        self.commented: list[dict[str, Any]] = []  # --comments: id and replies of committed posts with comments
        self.in_history = False  # a history request is under way (where an exception comes from)
        self.refreshed = RefreshResult()
        self.comments = CommentsResult()
        self.progress_start = 0  # last_message_id when the scan started
        self.downloader: MediaDownloader | None = None
        self.comment_downloaders: list[MediaDownloader] = []  # --comments-media: one per discussion group
        self.pipeline: MediaPipeline | None = None
        self.terminal: TerminalProgress | None = None  # tqdm on an interactive stderr only
        self.retry_after: int | None = None
        self.interrupted = False  # stopped by SIGINT/SIGTERM (CLI) or cancellation / Ctrl+C (Python API)
        self.last_save = clock()
        self.checkpoint_records = checkpoint_records()

    async def execute(self) -> dict[str, Any]:
        # Every FloodWait must reach the FloodController (logged, bounded), never be slept inside Telethon.
        self.client.flood_sleep_threshold = 0
        channel = self.known.entity if self.known is not None else await self._resolve()
        info = ChannelInfo(int(channel.id), channel_username(channel), getattr(channel, "title", None))
        lock = self._export_lock(info)
        lock.acquire()  # one writer per export, taken before the export directory is even looked for
        try:
            self.store = ExportStore.open(self.options.output_dir, info)
            self.store.create_dir()
            self.log = ExportLog(self.store.export_dir, self.run_id)
            # Waits show in the export log and the app log; fetched data is saved before each one.
            self.flood.log = TeeEvents(self.log, AppLogEvents())
            self.flood.before_wait = self._checkpoint
            try:
                return await self._logged_run(channel)
            finally:
                self.log.close()
        finally:
            lock.release()

    async def _resolve(self) -> Any:
        try:
            return await self.flood.call(lambda: resolve_channel(self.client, self.options.channel),
                                         what="channel resolution")
        except (ParserError, asyncio.CancelledError, KeyboardInterrupt) as exc:
            self._report_unresolved(exc)
            raise

    def _unchanged(self) -> bool:
        """The dialog's top message (service messages too) is one the scan already passed: no getHistory."""
        top = self.known.top_message_id if self.known is not None else None
        return top is not None and top <= self.store.last_message_id

    def _export_lock(self, info: ChannelInfo) -> ExportLock:
        return ExportLock(self.options.output_dir, info.id, channel_name=info.username, run_id=self.run_id)

    def _report_unresolved(self, exc: BaseException) -> None:
        """Resolving failed or was interrupted (e.g. a FloodWait over the bound, a signal): when the
        channel already has an export that no other run is writing, its summary.json and logs still get
        this run (with `retry_after` / `interrupted`); nothing else changes."""
        ref = parse_channel_ref(self.options.channel)
        info = known_channel(self.options.output_dir, ref.username, ref.channel_id)
        if info is None:
            return
        lock = self._export_lock(info)
        try:
            lock.acquire()
        except ParserError:
            return  # another run is writing that export: its summary is that run's
        try:
            self._record_unresolved(info, exc)
        finally:
            lock.release()

    def _record_unresolved(self, info: ChannelInfo, exc: BaseException) -> None:
        try:
            self.store = ExportStore.open(self.options.output_dir, info)
        except ParserError:
            return  # a damaged export is reported by the next run that gets that far
        self._as_stop(exc)
        self.log = ExportLog(self.store.export_dir, self.run_id)
        try:
            self.log.info("run_started", **self._start_data())
            summary = self.summary()
            self.store.write_summary(summary)
            self._stopped(summary, exc)
        finally:
            self.log.close()

    async def _logged_run(self, channel: Any) -> dict[str, Any]:
        for note in self.store.repairs:
            self.log.info("export_repaired", note=note)
        self.log.info("run_started", **self._start_data())
        self.progress.position = self.progress_start = self.store.last_message_id
        try:
            await self._scan_maybe_in_takeout(channel)
        except BaseException as exc:
            stop = self._as_stop(exc)
            self._stopped(self._finish(stop), stop)
            if stop is exc:
                raise
            raise stop from exc
        try:
            summary = self._finish(None)
        except OSError as exc:  # the final save failed (e.g. disk full): logged by _finish
            if not is_storage_error(exc):
                raise
            raise storage_error(exc, self.store.export_dir) from exc
        try:
            archive_path = self._zip()
        except BaseException as exc:
            self._stopped(summary, exc)
            raise
        self._log_finished(summary, None)
        return self._report(self._result(summary, archive_path))

    def _as_stop(self, exc: BaseException) -> BaseException:
        """Note why the run stops (`retry_after`, `interrupted`); a write the disk refused becomes
        STORAGE_ERROR naming its file (or, when the OSError names none, the export directory)."""
        if isinstance(exc, WaitError):
            self.retry_after = exc.retry_after
        if _interruption(exc):
            self.interrupted = True
        if is_storage_error(exc):
            assert isinstance(exc, OSError)
            return storage_error(exc, self.store.export_dir)
        return exc

    def _stopped(self, summary: dict[str, Any], exc: BaseException) -> None:
        """A run that stops after the export directory is open still logs and reports what it saved."""
        if not summary:
            return
        self._log_finished(summary, exc)
        result = self._result(summary, None)
        result["error"] = error_object(exc)
        self._report(result)

    def _report(self, result: dict[str, Any]) -> dict[str, Any]:
        if self.on_result is not None:
            self.on_result(result)
        return result

    def _checkpoint(self) -> None:
        """Journal what was committed since the last checkpoint (cost ∝ that): by the policy of
        `_after_commit`, and before every FloodWait/retry pause starts."""
        if not self.options.dry_run:
            self.store.checkpoint()
            self.last_save = self.clock()

    def _start_data(self) -> dict[str, Any]:
        o = self.options
        return {"channel_id": self.store.channel.id, "channel_username": self.store.channel.username,
                "mode": o.mode, "dry_run": o.dry_run, "date_from": _day(o.date_from), "date_to": _day(o.date_to),
                "keyword_count": len(o.keywords), "max_media_size_mb": o.max_media_size_mb,
                "last_message_id": self.store.last_message_id, "export_dir": str(self.store.export_dir),
                "resumed": self.store.existed}

    @property
    def temp_dir(self) -> Path:
        return self.store.export_dir / archive.TEMP_DIR_NAME

    def _make_downloader(self, channel: Any) -> MediaDownloader:
        return MediaDownloader(
            client=self.client, entity=channel, export_dir=self.store.export_dir, temp_dir=self.temp_dir,
            preset=self.options.preset, log=self.log, flood=self.flood, sha_index=self.store.sha_index,
            max_media_size_mb=self.options.max_media_size_mb, run_id=self.run_id,
            stall_timeout=self.options.media_stall_timeout, file_index=self.store.file_index,
            on_placed=self.store.record_media, terminal=self.terminal, clock=self.clock,
        )

    async def _scan_maybe_in_takeout(self, channel: Any) -> None:
        """`_scan`, inside a takeout session with --takeout (asking for files unless a dry run)."""
        if not self.options.takeout:
            return await self._scan(channel)
        async with takeout_session(self.client, files=not self.options.dry_run, max_file_size=self.max_bytes,
                                   timeout=self.flood.request_timeout or None):
            await self._scan(channel)

    def _page_pause(self) -> tuple[float, float]:
        low, high = self.options.preset.page_pause
        scale = pause_scale()
        return low * scale, high * scale

    def _refetcher(self, entity: Any) -> MessageRefetcher:
        return MessageRefetcher(self.client, entity, self.flood, pause=self._page_pause(), sleep=self.sleep)

    async def _refresh(self, channel: Any) -> None:
        """--refresh-recent: re-read the newest exported messages before looking for new ones."""
        if self.options.refresh_recent <= 0:
            return
        refetcher = self._refetcher(channel)
        await Refresher(self.store, refetcher, self.attachments, self.downloader).run(
            self.options.refresh_recent, self.refreshed)
        r = self.refreshed
        self.log.info("refresh_finished", refreshed_messages=r.refreshed, edited_messages=r.edited,
                      deleted_messages=r.deleted, updated_messages=len(r.updated), requests=refetcher.requests)
        self._checkpoint()

    def _comment_downloader(self, group: Any) -> MediaDownloader:
        downloader = self._make_downloader(group)
        self.comment_downloaders.append(downloader)
        return downloader

    async def _comments(self, channel: Any) -> None:
        """--comments: bring the threads of new (and refreshed) posts up to date (after the scan)."""
        if not self.options.comments or self.options.dry_run:
            return
        reader = ThreadReader(self.client, channel, self.flood, pause=self._page_pause(), sleep=self.sleep)
        make = self._comment_downloader if self.options.comments_media else None
        step = CommentsStep(self.store, reader, self.attachments, make, self._refetcher, self.log)
        await step.run(self.progress_start, self.commented, self.refreshed.replies, self.comments)
        self.log.info("comments_finished", requests=reader.requests, **self.comments.summary_keys())

    async def _scan(self, channel: Any) -> None:
        o = self.options
        reader = HistoryReader(self.client, channel, self.flood, page_pause=self._page_pause(), sleep=self.sleep)
        self.terminal = TerminalProgress()
        if not o.dry_run:
            self.downloader = self._make_downloader(channel)
            self.pipeline = MediaPipeline(self.downloader, self._commit_records)
        try:
            await self._refresh(channel)
            signals.raise_if_stopping()
            if self._unchanged():
                self.log.info("history_unchanged", top_message_id=self.known.top_message_id,
                              last_message_id=self.store.last_message_id)
            else:
                await self._read(reader)
            signals.raise_if_stopping()
            if self.pipeline is not None:
                await self.pipeline.drain()
            await self._comments(channel)
        except Exception as exc:
            if _account_wide(exc):
                await self._save_fetched(exc, self.in_history)
            raise
        finally:
            if self.pipeline is not None:
                await self.pipeline.cancel()  # a stop: queued downloads end, their part files stay
            self.terminal.close()

    async def _save_fetched(self, exc: Exception, in_history: bool) -> None:
        """An account-wide stop keeps what was fetched: running downloads finish, queued ones run too
        when a history request was refused by a FloodWait; their messages are committed."""
        if self.pipeline is None or not self.pipeline.waiting:
            return
        run_queued = in_history and isinstance(as_parser_error(exc), RateLimitError)
        self.log.info("saving_fetched", reason=error_code_of(exc), waiting=self.pipeline.waiting,
                      queued_downloads="run" if run_queued else "cancelled")
        await self.pipeline.settle(run_queued=run_queued)

    async def _read(self, reader: HistoryReader) -> None:
        o = self.options
        top = self.known.top_message_id if self.known is not None else None
        window = DateWindow(o.date_from, o.date_to)
        self.in_history = True  # an exception now comes from a history request
        pages = reader.pages(self.store.last_message_id, window, self.progress, until_id=top)
        async with contextlib.aclosing(pages):
            async for page in pages:
                self.in_history = False
                signals.raise_if_stopping()
                await self._process_page(page)
                self.in_history = True
        self.in_history = False

    async def _process_page(self, page: list[Any]) -> None:
        """Records of the kept messages; media downloaded (or estimated) before the page is committed."""
        o = self.options
        kept = [(m, message_to_record(m, attachments=self.attachments)) for m in page]
        kept = [(m, r) for m, r in kept if self.matches(r)]
        infos = {m.id: describe_media(m) for m, _ in kept}
        if self.terminal is not None:
            self.terminal.scanned(self.progress.scanned)
        if o.dry_run:
            self._add_dry(kept, infos)
        else:
            await self._add_real(kept, infos)
        for media_info in infos.values():
            if media_info is not None:
                self.estimate.add(media_info, self.max_bytes)

    def _add_dry(self, kept: list[tuple[Any, dict[str, Any]]], infos: dict[int, Any]) -> None:
        for message, record in kept:
            info = infos[message.id]
            if info is not None:
                record["media_files"] = [no_file_item(info, size=info.known_size)]
            self.new_messages.append(record)

    async def _add_real(self, kept: list[tuple[Any, dict[str, Any]]], infos: dict[int, Any]) -> None:
        """Queue the page: media download in the background, records committed in id order when final."""
        assert self.pipeline is not None
        await self.pipeline.add_page([(m, r, infos[m.id]) for m, r in kept], self.progress.position)

    def _commit_records(self, records: list[dict[str, Any]], position: int) -> None:
        """The pipeline's commit: records whose media are final (ascending ids), up to scan `position`."""
        added = self.store.append(records, position)
        self.committed += len(added)
        if self.options.comments:  # only what the comments step reads: the records leave memory
            self.commented.extend({"id": r["id"], "replies": r["replies"]} for r in added if has_comments(r))
        self._after_commit()

    def _after_commit(self) -> None:
        """Checkpoint policy after records were committed: every `checkpoint_records` records or
        CHECKPOINT_SEC seconds, whichever comes first (placed media are journaled as they land)."""
        if self.store.pending_records() >= self.checkpoint_records or self.clock() - self.last_save >= CHECKPOINT_SEC:
            self._checkpoint()

    def _save(self) -> None:
        """End of a run (finished or stopped): checkpoint, then compact into the JSON files."""
        self.store.save()
        self.last_save = self.clock()

    def _stat(self, name: str) -> int:
        """A media counter over the channel's downloads and the comments' (--comments-media)."""
        return sum(int(getattr(getattr(d, "stats", None), name, 0) or 0)
                   for d in [self.downloader, *self.comment_downloaders])

    def summary(self) -> dict[str, Any]:
        o = self.options
        dry = o.dry_run
        errors = 0 if dry else self._stat("errors")
        summary: dict[str, Any] = {
            "run_at": utc_iso(self.started), "run_id": self.run_id,
            "channel_id": self.store.channel.id, "channel_username": self.store.channel.username,
            "mode": o.mode, "dry_run": dry, "date_from": _day(o.date_from), "date_to": _day(o.date_to),
            "scanned_messages": self.progress.scanned,
            "new_messages": len(self.new_messages) if dry else self.committed,
            "media_saved": 0 if dry else self._stat("saved"),
            "media_skipped_by_size": self.estimate.over_limit if dry else self._stat("skipped_by_size"),
            "media_dedup_hits": 0 if dry else self._stat("dedup_hits"),
            "media_errors_count": errors, "partial_failure": errors > 0,
            "known_size_mb": round(self.estimate.known_bytes / MB, 3),
            "unknown_size_count": self.estimate.unknown,
            "flood_wait_events": self.flood.events, "export_dir": str(self.store.export_dir),
            **self.refreshed.summary_keys(), **self.comments.summary_keys(),
        }
        if self.retry_after is not None:
            summary["retry_after"] = self.retry_after
        if self.interrupted:  # added key: only on a stop by SIGINT/SIGTERM/cancellation
            summary["interrupted"] = True
        return summary

    def _finish(self, exc: BaseException | None) -> dict[str, Any]:
        """Save data (real runs), write summary.json, clean the temp folder; {} if saving failed on a stop."""
        try:
            if not self.options.dry_run:
                self._save()
            summary = self.summary()
            self.store.write_summary(summary)
        except Exception as save_exc:
            self.log.error("save_failed", error_code_of(save_exc), error=f"{type(save_exc).__name__}: {save_exc}")
            if exc is None:
                raise
            return {}
        finally:
            self._cleanup_temp(exc is None)
            self.store.close()
        return summary

    def _log_finished(self, summary: dict[str, Any], exc: BaseException | None) -> None:
        if exc is None and not summary["partial_failure"]:
            self.log.info("run_finished", **summary)
            log.info("parse finished: %d new message(s), export %s", summary["new_messages"], summary["export_dir"])
        elif exc is None:
            self.log.error("run_finished", PARTIAL_FAILURE, **summary)
        else:
            self.log.error("run_finished", error_code_of(exc), status=_status(exc), error=one_line(exc), **summary)

    def _cleanup_temp(self, completed: bool) -> None:
        """Remove the temp folder (part files included) only when the run completed; a stopped or
        failed run keeps its part files for the next run to resume."""
        if completed and self.options.cleanup_temp and not self.options.dry_run:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _zip(self) -> str | None:
        if not self.options.zip_output or self.options.dry_run:
            return None
        try:
            path = archive.make_archive(self.store.export_dir)
        except OSError as exc:
            self.log.error("archive_failed", EXTERNAL_API_ERROR, error=str(exc))
            raise ParserError(f"could not write the archive of {self.store.export_dir}: {exc}") from exc
        return str(path)

    def _result(self, summary: dict[str, Any], archive_path: str | None) -> dict[str, Any]:
        store = self.store
        return {
            "summary": summary, "partial_failure": summary["partial_failure"],
            "export_dir": str(store.export_dir), "export_json": str(store.export_json),
            "state_json": str(store.state_json), "media_index_json": str(store.media_index_json),
            "summary_json": str(store.summary_json), "archive": archive_path,
            "updated_messages": self.refreshed.updated,
            "new_messages": self._new_messages_out(),
        }

    def _new_messages_out(self) -> list[dict[str, Any]] | RecordLines:
        """The records added by this run: read back from export.json, streamed (RecordLines, for
        `write_result`) or as a list."""
        if self.options.dry_run:
            return self.new_messages
        lines = self.store.written_records() if self.committed else None  # not a journal recovered at open
        if lines is None:
            return []
        if self.stream_records:
            return lines
        try:
            return list(lines)
        finally:
            lines.close()


def error_object(exc: BaseException) -> dict[str, Any]:
    """The `error` of a result: `{status, error_code, message, hint[, retry_after]}` (a signal's stop
    message when interrupted)."""
    message = signals.stop_message(signals.received()) if _interruption(exc) else one_line(exc)
    return {"status": _status(exc), **error_json(exc, message)}


def _status(exc: BaseException) -> str:
    code = error_code_of(exc)
    return "rate_limited" if code == RATE_LIMIT else ("interrupted" if code is None else "failed")


def _account_wide(exc: Exception) -> bool:
    """A stop of the whole account, not of this channel: FloodWait over the cap, the connection lost
    after retries, the sign-in revoked."""
    return isinstance(as_parser_error(exc), RateLimitError | NetworkError | AuthError)


def _interruption(exc: BaseException) -> bool:
    """A stop by a signal (CLI) or by cancelling the task / Ctrl+C (Python API)."""
    return isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)


def run_flood_controller(options: ParseOptions, sleep: Sleep) -> FloodController:
    """The guarded calls of a parse run: the mode's extra FloodWait pause (× pause scale) and retries,
    `--max-flood-wait`, the request deadline; events to the app log until an export log exists."""
    preset = options.preset
    return FloodController(extra=preset.flood_extra * pause_scale(), max_wait=options.max_flood_wait,
                           log=AppLogEvents(), sleep=sleep, request_timeout=request_timeout_from_env(),
                           timeout_retries=preset.retries)


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def run_parse(
    client: Any, options: ParseOptions, run_id: str, *, sleep: Sleep = asyncio.sleep, clock: Clock = time.monotonic,
    on_result: ResultSink | None = None, known: KnownChannel | None = None, stream_records: bool = False,
) -> dict[str, Any]:
    """Run one `parse` and return the dict printed on stdout (docs/contract.md section 4).

    `on_result` also receives that dict when the run stops early (RATE_LIMIT, Ctrl+C, errors)
    after its export directory is open, with an added `error` key: what was saved is reported.
    `known` (a batch) skips resolving and, for an unchanged channel, the history request.
    `new_messages` is a list; with `stream_records` a real run gives a RecordLines instead (read
    from export.json when printed by `write_result`, never held: memory stays flat; close it after).
    """
    return await ParseRun(client, options, run_id, sleep=sleep, clock=clock, on_result=on_result,
                          known=known, stream_records=stream_records).execute()
