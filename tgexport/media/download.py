"""MediaDownloader: one message's media → `media_files` items, with events, deadlines and retries.

Per item: size limit first; then the Telegram file id (`document:<id>` / `photo:<id>`): a file
already stored in this export is not downloaded again (a dedup hit). Otherwise download attempts
into the file's deterministic part file in the temp dir (`media_fetch`: resumable, several 1 MiB
parts in flight). Every attempt logs `media_download_start` and exactly one
`media_download_finished` (outcome success | timeout | error; a cancelled attempt, e.g. Ctrl+C,
is outcome error with `"error": "cancelled"`), plus `media_download_progress` while it runs
longer than the progress interval. No bytes for the stall timeout, or the size-adaptive deadline
passed → outcome timeout, retried like transient errors (back-off 2**attempt s × pause_scale() up
to preset.retries; then the item fails with `download_timeout`); FILE_REFERENCE_EXPIRED →
re-fetch the message once; FloodWait → FloodController (RateLimitError propagates). A finished
file is size-checked, hashed, deduplicated via the sha256 index or renamed atomically into
`media/<kind>/`; the index is updated through `on_placed` (the export store journals it).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telethon import errors as tl_errors

from errors import (
    EXTERNAL_API_ERROR,
    MEDIA_DOWNLOAD_TIMEOUT,
    MEDIA_FILE_REFERENCE_EXPIRED,
    MEDIA_RETRY_EXHAUSTED,
    NETWORK_ERROR,
    ParserError,
    is_storage_error,
)
from tgexport.client.flood import FloodController
from tgexport.config.environment import env_number
from tgexport.config.modes import ModePreset, backoff_delay
from tgexport.media.fetch import (
    MAX_PART,
    OVERALL,
    PER_FILE,
    FallbackNeeded,
    PartError,
    PartFetcher,
    part_size_for,
    resume_offset,
)
from tgexport.media.kind import MediaInfo, MediaSource, describe_media, media_source
from tgexport.media.names import stored_name
from tgexport.media.progress import DownloadProgress, TerminalProgress, progress_interval
from tgexport.media.store import MediaStore, OnPlaced, sha256_file
from tgexport.media.timeout import media_timeout
from tgexport.media.watchdog import DownloadTimeout, run_with_watchdog
from tgexport.store.log import ExportLog

MEDIA_TIMEOUT_ENV = "TELEGRAM_PARSER_MEDIA_TIMEOUT"
STALL_TIMEOUT_ENV = "TELEGRAM_PARSER_MEDIA_STALL_TIMEOUT"
SKIPPED_BY_SIZE = "max_media_size"
_FILE_REF_ERRORS = (tl_errors.FileReferenceExpiredError, tl_errors.FilerefUpgradeNeededError)


@dataclass
class MediaStats:
    saved: int = 0
    skipped_by_size: int = 0
    dedup_hits: int = 0
    errors: int = 0


class _ItemFailed(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def env_media_timeout() -> float | None:
    """`TELEGRAM_PARSER_MEDIA_TIMEOUT` in seconds (> 0), or None when unset or invalid."""
    return env_number(MEDIA_TIMEOUT_ENV, None, positive=True)


def env_stall_timeout() -> float | None:
    """`TELEGRAM_PARSER_MEDIA_STALL_TIMEOUT` in seconds (> 0), or None when unset or invalid."""
    return env_number(STALL_TIMEOUT_ENV, None, positive=True)


def is_transient(exc: BaseException) -> bool:
    """Connection trouble, OS errors and RPC 5xx are worth a retry; other RPC errors are not."""
    if isinstance(exc, tl_errors.RPCError):
        return abs(exc.code or 500) >= 500
    return isinstance(exc, (OSError, asyncio.IncompleteReadError, BufferError, DownloadTimeout))


def error_label(exc: BaseException) -> str:
    """Short, secret-free description of an error for `retry` events."""
    if isinstance(exc, tl_errors.RPCError):
        return f"{type(exc).__name__}({exc.code} {exc.message})"
    if isinstance(exc, DownloadTimeout):
        return f"DownloadTimeout({exc.reason})"
    return type(exc).__name__


def limit_bytes(max_media_size_mb: float | None) -> int | None:
    """`--max-media-size` in MB → whole bytes (int(mb × 1024 × 1024)); None = no limit."""
    return None if max_media_size_mb is None else int(max_media_size_mb * 1024 * 1024)


def exceeds_limit(info: MediaInfo, max_bytes: int | None) -> bool:
    """True when the known size is larger than `max_bytes` (unknown sizes never exceed it)."""
    return max_bytes is not None and info.known_size is not None and info.known_size > max_bytes


def no_file_item(info: MediaInfo, **extra: Any) -> dict[str, Any]:
    """A `media_files` item without a stored file: `extra` is `error`, `size` (+ `skipped`) or,
    in a dry run, `size` alone; then `subtype`/`duration` when known."""
    return {"type": info.kind, "path": None, "filename": None, **extra, **info.item_extras()}


class MediaDownloader:
    """Downloads media of one channel's messages into an export directory."""

    def __init__(self, *, client: Any, entity: Any, export_dir: Path, temp_dir: Path, preset: ModePreset,
                 log: ExportLog, flood: FloodController, sha_index: dict[str, str],
                 max_media_size_mb: float | None, run_id: str, base_timeout: float | None = None,
                 stall_timeout: float | None = None, file_index: dict[str, str] | None = None,
                 on_placed: OnPlaced | None = None, terminal: TerminalProgress | None = None,
                 per_file: int = PER_FILE, overall: int = OVERALL, max_part: int = MAX_PART,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.entity, self.preset = client, entity, preset
        self.export_dir, self.temp_dir = Path(export_dir), Path(temp_dir)
        self.log, self.flood, self.run_id = log, flood, run_id
        self.sleep, self.clock = sleep, clock
        self.store = MediaStore(self.export_dir, sha_index, file_index, on_placed)
        self.max_bytes = limit_bytes(max_media_size_mb)
        self.base_timeout = (base_timeout if base_timeout is not None
                             else env_media_timeout() or preset.media_timeout)
        stall = stall_timeout or env_stall_timeout() or preset.stall_timeout
        self.stall_sec = min(self.base_timeout, stall)
        self.terminal = terminal
        self.interval = progress_interval()
        self.fetcher = PartFetcher(client, per_file=per_file, overall=overall, clock=clock)
        self.max_part = max_part
        self.stats = MediaStats()
        self._slots = asyncio.Semaphore(max(1, preset.parallel_downloads))
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._digests: dict[Path, str] = {}  # finished file → sha256 computed while it was written
        self.started: set[int] = set()  # message ids whose download took a slot and has not ended

    async def download(self, message: Any, info: MediaInfo | None = None, *,
                       after: asyncio.Future[Any] | None = None) -> list[dict[str, Any]]:
        """The `media_files` items for one message ([] when it has nothing downloadable).

        `info` is the message's `describe_media` result when the caller already has it.
        With `after` (the previous message's download), the finished file is deduplicated and
        stored only once that one is done, so the earliest message keeps the stored copy.
        """
        info = describe_media(message) if info is None else info
        if info is None:
            return []
        if exceeds_limit(info, self.max_bytes):
            self.stats.skipped_by_size += 1
            return [no_file_item(info, size=info.known_size, skipped=SKIPPED_BY_SIZE)]
        source = media_source(message)
        key = source.file_key if source is not None else None
        while key is not None and key in self._inflight:  # the same file for an earlier message
            await asyncio.wait([self._inflight[key]])
        known = self._known_item(info, key)
        if known is not None:
            return [known]
        if key is None:
            return await self._download_new(message, info, key, after)
        done = self._inflight[key] = asyncio.get_running_loop().create_future()
        try:
            return await self._download_new(message, info, key, after)
        finally:
            del self._inflight[key]
            done.set_result(None)

    def _known_item(self, info: MediaInfo, key: str | None) -> dict[str, Any] | None:
        """A dedup hit by Telegram file id: the item of the copy already stored, or None."""
        found = self.store.known_file(key)
        if found is None:
            return None
        rel, sha, size = found
        self.stats.dedup_hits += 1
        return {"type": info.kind, "path": rel, "filename": rel.rsplit("/", 1)[-1], "size": size, "sha256": sha,
                **info.item_extras()}

    async def _download_new(self, message: Any, info: MediaInfo, key: str | None,
                            after: asyncio.Future[Any] | None) -> list[dict[str, Any]]:
        if self.terminal is not None:
            self.terminal.expect(info.known_size)
        try:
            async with self._slots:
                self.started.add(message.id)
                try:
                    tmp = await self._download_item(message, info)
                except _ItemFailed as failed:
                    self.stats.errors += 1
                    self._drop_part(message)  # the item is final: nobody will resume it
                    return [no_file_item(info, error=failed.error)]
            if after is not None:
                await asyncio.wait([after])  # a stop here keeps the finished part file for the next run
            return [await self._keep(tmp, message.id, info, key)]
        finally:
            self.started.discard(message.id)

    def running(self, message_id: int) -> bool:
        """The message's download has begun (it holds or held a slot) and has not ended yet."""
        return message_id in self.started

    def _drop_part(self, message: Any) -> None:
        source = media_source(message)
        if source is not None and source.part_name is not None:
            with contextlib.suppress(OSError):
                (self.temp_dir / source.part_name).unlink()

    async def download_many(self, messages: Iterable[Any], infos: Mapping[int, MediaInfo | None] | None = None,
                            ) -> dict[int, list[dict[str, Any]]]:
        """Items per message id, `preset.parallel_downloads` at once, stored in ascending id order;
        the first fatal error cancels the rest. `infos`: known `describe_media` results by id."""
        infos = infos or {}
        tasks: dict[int, asyncio.Future[list[dict[str, Any]]]] = {}
        previous: asyncio.Future[Any] | None = None
        for message in sorted(messages, key=lambda m: m.id):
            previous = tasks[message.id] = asyncio.ensure_future(
                self.download(message, infos.get(message.id), after=previous))
        try:
            if tasks:
                await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_EXCEPTION)
            for task in tasks.values():
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()
            return {mid: task.result() for mid, task in tasks.items()}
        finally:
            pending = [t for t in tasks.values() if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _download_item(self, message: Any, info: MediaInfo) -> Path:
        """The finished temp file of one message's media, or _ItemFailed."""
        current, refreshed, failures, stalls = message, False, 0, 0
        while True:
            source = media_source(current)
            try:
                return await self.flood.call(lambda s=source, n=stalls: self._attempt(message.id, info, s, n),
                                             what="upload.getFile", bounded=False)  # own watchdog
            except DownloadTimeout as exc:
                self.log.error("download_timeout", NETWORK_ERROR, message_id=message.id,
                               media_type=info.kind, reason=exc.reason, attempt=failures + 1)
                stalls += exc.reason == "no_progress"
                failures = await self._after_failure(message.id, info, exc, failures)
            except _FILE_REF_ERRORS:
                current = await self._refresh(message.id, info, refreshed)
                refreshed = True
            except ParserError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below; the run goes on
                if is_storage_error(exc):  # a full disk stops the run; it is not this item's failure
                    raise
                failures = await self._after_failure(message.id, info, exc, failures)

    async def _refresh(self, message_id: int, info: MediaInfo, already: bool) -> Any:
        """Re-fetch the message once for a fresh file reference; a second expiry fails the item."""
        if already:
            self._fail_file_reference(message_id, info, "still_expired")
        self.log.info("file_reference_expired", message_id=message_id, media_type=info.kind)
        try:
            fresh = await self.flood.call(
                lambda: self.client.get_messages(self.entity, ids=message_id), what="channels.getMessages")
        except ParserError:
            raise
        except Exception:  # noqa: BLE001 - a failed re-fetch fails this item only
            self._fail_file_reference(message_id, info, "refetch_failed")
        if fresh is None or media_source(fresh) is None:
            self._fail_file_reference(message_id, info, "media_gone")
        return fresh

    def _fail_file_reference(self, message_id: int, info: MediaInfo, reason: str) -> None:
        self.log.error("file_reference_retry_failed", EXTERNAL_API_ERROR, message_id=message_id,
                       media_type=info.kind, reason=reason)
        raise _ItemFailed(MEDIA_FILE_REFERENCE_EXPIRED)

    async def _after_failure(self, message_id: int, info: MediaInfo, exc: Exception, failures: int) -> int:
        """Back off and return the new failure count, or fail the item when retries are used up
        (`download_timeout` when the last attempt timed out, else `retry_exhausted`)."""
        transient = is_transient(exc)
        failures += 1
        if not transient or failures > self.preset.retries:
            self.log.error("retry_exhausted", NETWORK_ERROR if transient else EXTERNAL_API_ERROR,
                           message_id=message_id, media_type=info.kind, attempts=failures,
                           error=error_label(exc))
            timed_out = isinstance(exc, DownloadTimeout)
            raise _ItemFailed(MEDIA_DOWNLOAD_TIMEOUT if timed_out else MEDIA_RETRY_EXHAUSTED) from None
        delay = backoff_delay(failures)
        self.log.info("retry", message_id=message_id, media_type=info.kind, attempt=failures,
                      sleep=round(delay, 3), error=error_label(exc))
        await self.sleep(delay)
        return failures

    async def _attempt(self, message_id: int, info: MediaInfo, source: MediaSource, stalls: int) -> Path:
        """One download attempt into the file's part file, framed by start/finished events."""
        timeout = media_timeout(self.base_timeout, info.known_size)
        part_size = part_size_for(stalls, self.max_part)
        # may raise: before the start event, so events stay paired
        tmp, resumed = self._temp_path(source, message_id, part_size)
        extra_start = {"resumed_bytes": resumed} if resumed else {}
        self.log.info("media_download_start", message_id=message_id, media_type=info.kind,
                      known_size=info.known_size, timeout_sec=round(timeout, 3), **extra_start)
        started, outcome, error = self.clock(), "error", None
        try:
            progress = DownloadProgress(self.log, message_id=message_id, media_type=info.kind,
                                        total=source.file_size, clock=self.clock, interval=self.interval,
                                        terminal=self.terminal)
            progress.resumed(resumed)
            self._digests.pop(tmp, None)
            digest = await run_with_watchdog(self._fetch(source, tmp, progress, part_size), deadline_sec=timeout,
                                             stall_sec=self.stall_sec, progress=progress, clock=self.clock,
                                             sleep=self.sleep)
            _check_size(tmp, source.file_size)
            if digest is not None:
                self._digests[tmp] = digest
            outcome = "success"
            return tmp
        except DownloadTimeout:
            outcome = "timeout"
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            error = "cancelled"  # the contract's outcomes are success | timeout | error
            raise
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            if outcome != "success" and source.part_name is None:
                _remove(tmp)  # part files of Telegram files stay: the next attempt resumes them
            extra = {"error": error} if error else {}
            self.log.info("media_download_finished", message_id=message_id, media_type=info.kind,
                          duration_sec=round(self.clock() - started, 3), outcome=outcome, **extra)

    def _temp_path(self, source: MediaSource, message_id: int, part_size: int) -> tuple[Path, int]:
        """The attempt's file and the bytes already in it: `<temp>/<kind>-<id>.part` for a Telegram
        file (resumable), a fresh name for inline bytes."""
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        name = source.part_name
        if name is None:
            return self.temp_dir / f"{self.run_id}-{message_id}-{uuid.uuid4().hex[:12]}.tmp", 0
        path = self.temp_dir / name
        if source.file_size is None:
            return path, 0
        return path, resume_offset(path, source.file_size)

    async def _fetch(self, source: MediaSource, tmp: Path, progress: DownloadProgress,
                     part_size: int) -> str | None:
        """Fill `tmp`; the sha256 of the file when it was computed while writing, else None."""
        if source.inline_bytes is not None:
            tmp.write_bytes(source.inline_bytes)
            return None
        try:
            self.fetcher.check(source.location, source.file_size, source.dc_id)
            return await self.fetcher.fetch(source.location, source.file_size or 0, tmp, part_size=part_size,
                                            stall_sec=self.stall_sec, on_bytes=progress.add)
        except FallbackNeeded as why:
            self.log.info("media_download_fallback", message_id=progress.message_id, reason=why.reason)
            await self.client.download_file(source.location, str(tmp), file_size=source.file_size,
                                            progress_callback=progress, dc_id=why.dc_id)
            return None

    async def _keep(self, tmp: Path, message_id: int, info: MediaInfo, key: str | None) -> dict[str, Any]:
        """Hash the finished file, then point at an existing copy or store it; index it either way."""
        size = tmp.stat().st_size
        sha = self._digests.pop(tmp, None) or await asyncio.to_thread(sha256_file, tmp)
        rel = self.store.existing(sha)
        if rel is not None:
            self.stats.dedup_hits += 1
            self.store.record(sha, rel, key)
            _remove(tmp)  # only once the record is durable: a kill before it must not cost the bytes
        else:
            name = stored_name(message_id, info.original_name, info.mime_type, info.kind)
            # fsyncs run in a thread so they never stall the other downloads in flight
            rel = await asyncio.to_thread(self.store.place, tmp, info.kind, name, sha)
            self.stats.saved += 1
            self.store.record(sha, rel, key)
        return {"type": info.kind, "path": rel, "filename": rel.rsplit("/", 1)[-1], "size": size,
                "sha256": sha, **info.item_extras()}


def _check_size(path: Path, expected: int | None) -> None:
    """PartError (and the file removed) when a finished file is not the size Telegram announced."""
    if expected is None:
        return
    size = os.stat(path).st_size
    if size != expected:
        _remove(path)
        raise PartError(f"downloaded {size} bytes, expected {expected}")


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
