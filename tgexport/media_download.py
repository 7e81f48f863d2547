"""MediaDownloader: one message's media → `media_files` items, with events, deadlines and retries.

Per item: size limit first; then download attempts into the temp dir. Every attempt logs
`media_download_start` and exactly one `media_download_finished` (outcome success | timeout |
error; a cancelled attempt, e.g. Ctrl+C, is outcome error with `"error": "cancelled"`). FILE_REFERENCE_EXPIRED → re-fetch the message once; transient errors →
back-off 2**attempt s × pause_scale() up to preset.retries; FloodWait → FloodController
(RateLimitError propagates). A finished file is hashed, deduplicated via the sha256 index
or renamed atomically into `media/<kind>/`.
"""
from __future__ import annotations

import asyncio
import contextlib
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
)
from tgexport.config import env_number
from tgexport.export_log import ExportLog
from tgexport.flood import FloodController
from tgexport.media_kind import MediaInfo, MediaSource, describe_media, media_source
from tgexport.media_names import stored_name
from tgexport.media_store import MediaStore, sha256_file
from tgexport.media_timeout import media_timeout
from tgexport.media_watchdog import DownloadTimeout, Progress, run_with_watchdog
from tgexport.modes import ModePreset, backoff_delay

MEDIA_TIMEOUT_ENV = "TELEGRAM_PARSER_MEDIA_TIMEOUT"
NO_PROGRESS_CAP_SEC = 300.0  # no part at all for this long (or the base timeout, if shorter) = stalled
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


def is_transient(exc: BaseException) -> bool:
    """Connection trouble, OS errors and RPC 5xx are worth a retry; other RPC errors are not."""
    if isinstance(exc, tl_errors.RPCError):
        return abs(exc.code or 500) >= 500
    return isinstance(exc, (OSError, asyncio.IncompleteReadError, BufferError))


def error_label(exc: BaseException) -> str:
    """Short, secret-free description of an error for `retry` events."""
    if isinstance(exc, tl_errors.RPCError):
        return f"{type(exc).__name__}({exc.code} {exc.message})"
    return type(exc).__name__


def limit_bytes(max_media_size_mb: float | None) -> int | None:
    """`--max-media-size` in MB → whole bytes (int(mb × 1024 × 1024)); None = no limit."""
    return None if max_media_size_mb is None else int(max_media_size_mb * 1024 * 1024)


def exceeds_limit(info: MediaInfo, max_bytes: int | None) -> bool:
    """True when the known size is larger than `max_bytes` (unknown sizes never exceed it)."""
    return max_bytes is not None and info.known_size is not None and info.known_size > max_bytes


def no_file_item(kind: str, **extra: Any) -> dict[str, Any]:
    """A `media_files` item without a stored file: `extra` is `error`, `size` (+ `skipped`) or,
    in a dry run, `size` alone."""
    return {"type": kind, "path": None, "filename": None, **extra}


class MediaDownloader:
    """Downloads media of one channel's messages into an export directory."""

    def __init__(self, *, client: Any, entity: Any, export_dir: Path, temp_dir: Path, preset: ModePreset,
                 log: ExportLog, flood: FloodController, sha_index: dict[str, str],
                 max_media_size_mb: float | None, run_id: str, base_timeout: float | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.entity, self.preset = client, entity, preset
        self.export_dir, self.temp_dir = Path(export_dir), Path(temp_dir)
        self.log, self.flood, self.run_id = log, flood, run_id
        self.sleep, self.clock = sleep, clock
        self.store = MediaStore(self.export_dir, sha_index)
        self.max_bytes = limit_bytes(max_media_size_mb)
        self.base_timeout = (base_timeout if base_timeout is not None
                             else env_media_timeout() or preset.media_timeout)
        self.stall_sec = min(self.base_timeout, NO_PROGRESS_CAP_SEC)
        self.stats = MediaStats()
        self._slots = asyncio.Semaphore(max(1, preset.parallel_downloads))

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
            return [no_file_item(info.kind, size=info.known_size, skipped=SKIPPED_BY_SIZE)]
        async with self._slots:
            try:
                tmp = await self._download_item(message, info)
            except _ItemFailed as failed:
                self.stats.errors += 1
                return [no_file_item(info.kind, error=failed.error)]
        try:
            if after is not None:
                await asyncio.wait([after])
        except BaseException:
            _remove(tmp)
            raise
        return [await self._keep(tmp, message.id, info)]

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
        current, refreshed, failures = message, False, 0
        while True:
            source = media_source(current)
            try:
                tmp = await self.flood.call(lambda s=source: self._attempt(message.id, info, s),
                                            what="upload.getFile", bounded=False)  # own watchdog
            except DownloadTimeout as exc:
                self.log.error("download_timeout", NETWORK_ERROR, message_id=message.id,
                               media_type=info.kind, reason=exc.reason)
                raise _ItemFailed(MEDIA_DOWNLOAD_TIMEOUT) from None
            except _FILE_REF_ERRORS:
                current = await self._refresh(message.id, info, refreshed)
                refreshed = True
                continue
            except ParserError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below; the run goes on
                failures = await self._after_failure(message.id, info, exc, failures)
                continue
            return tmp

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
        """Back off and return the new failure count, or fail the item when retries are used up."""
        transient = is_transient(exc)
        failures += 1
        if not transient or failures > self.preset.retries:
            self.log.error("retry_exhausted", NETWORK_ERROR if transient else EXTERNAL_API_ERROR,
                           message_id=message_id, media_type=info.kind, attempts=failures,
                           error=error_label(exc))
            raise _ItemFailed(MEDIA_RETRY_EXHAUSTED) from None
        delay = backoff_delay(failures)
        self.log.info("retry", message_id=message_id, media_type=info.kind, attempt=failures,
                      sleep=round(delay, 3), error=error_label(exc))
        await self.sleep(delay)
        return failures

    async def _attempt(self, message_id: int, info: MediaInfo, source: MediaSource) -> Path:
        """One download attempt into a fresh temp file, framed by start/finished events."""
        timeout = media_timeout(self.base_timeout, info.known_size)
        tmp = self._temp_path(message_id)  # may raise: before the start event, so events stay paired
        self.log.info("media_download_start", message_id=message_id, media_type=info.kind,
                      known_size=info.known_size, timeout_sec=round(timeout, 3))
        started, outcome, error = self.clock(), "error", None
        try:
            progress = Progress(self.clock)
            await run_with_watchdog(self._fetch(source, tmp, progress), deadline_sec=timeout,
                                    stall_sec=self.stall_sec, progress=progress, clock=self.clock,
                                    sleep=self.sleep)
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
            if outcome != "success":
                _remove(tmp)
            extra = {"error": error} if error else {}
            self.log.info("media_download_finished", message_id=message_id, media_type=info.kind,
                          duration_sec=round(self.clock() - started, 3), outcome=outcome, **extra)

    def _temp_path(self, message_id: int) -> Path:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        return self.temp_dir / f"{self.run_id}-{message_id}-{uuid.uuid4().hex[:12]}.part"

    async def _fetch(self, source: MediaSource, tmp: Path, progress: Progress) -> None:
        if source.inline_bytes is not None:
            tmp.write_bytes(source.inline_bytes)
            return
        await self.client.download_file(source.location, str(tmp), file_size=source.file_size,
                                        progress_callback=progress)

    async def _keep(self, tmp: Path, message_id: int, info: MediaInfo) -> dict[str, Any]:
        """Hash the finished file, then point at an existing copy or store it."""
        try:
            size = tmp.stat().st_size
            sha = await asyncio.to_thread(sha256_file, tmp)
            rel = self.store.existing(sha)
            if rel is not None:
                self.stats.dedup_hits += 1
            else:
                name = stored_name(message_id, info.original_name, info.mime_type, info.kind)
                # fsyncs run in a thread so they never stall the other download in flight
                rel = await asyncio.to_thread(self.store.place, tmp, info.kind, name, sha)
                self.stats.saved += 1
        finally:
            _remove(tmp)
        return {"type": info.kind, "path": rel, "filename": rel.rsplit("/", 1)[-1], "size": size,
                "sha256": sha}


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
