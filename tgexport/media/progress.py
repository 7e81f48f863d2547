"""Download progress: `media_download_progress` events in run.log and a tqdm display on a terminal.

- `DownloadProgress`: the bytes of one download attempt. It feeds the stall watchdog (`last`:
  when bytes last arrived) and writes `media_download_progress` (message_id, media_type,
  bytes_done, bytes_total, rate in bytes/s over the last interval) at most once per interval,
  only once the download has run longer than one interval. The watchdog calls `tick()` every
  interval, so a hung download shows as events with rate 0 and unchanged bytes_done.
- `TerminalProgress`: two tqdm bars on stderr (history messages scanned, media bytes) when
  stderr is an interactive terminal; otherwise nothing at all. stdout is never touched.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from tgexport.config.environment import env_number

PROGRESS_INTERVAL_ENV = "TELEGRAM_PARSER_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_SEC = 10.0
Clock = Callable[[], float]


def progress_interval() -> float:
    """Seconds between progress events of one download (`TELEGRAM_PARSER_PROGRESS_INTERVAL`, default 10)."""
    return env_number(PROGRESS_INTERVAL_ENV, DEFAULT_INTERVAL_SEC, positive=True)


def _screen(stream: TextIO) -> tuple[int, int]:
    """The terminal's (columns, rows), 80×24 where it reports none (tqdm draws nothing at 0)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 80, 24
    return size.columns or 80, size.lines or 24


class TerminalProgress:
    """History and media-bytes bars on an interactive stderr; a no-op everywhere else."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        stream = sys.stderr if stream is None else stream
        if enabled is None:
            enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.enabled = enabled
        self._pages: Any = None
        self._media: Any = None
        if enabled:
            from tqdm import tqdm  # only loaded for a terminal

            cols, rows = _screen(stream)
            self._pages = tqdm(desc="history", unit=" msg", file=stream, position=0, leave=True,
                               ncols=cols, nrows=rows)
            self._media = tqdm(desc="media", total=0, unit="B", unit_scale=True, unit_divisor=1024,
                               file=stream, position=1, leave=True, ncols=cols, nrows=rows)

    def scanned(self, messages: int) -> None:
        """The history scan has looked at `messages` messages so far."""
        if self._pages is not None and messages > self._pages.n:
            self._pages.update(messages - self._pages.n)

    def expect(self, nbytes: int | None) -> None:
        """A download of `nbytes` (None: unknown) was queued."""
        if self._media is not None and nbytes:
            self._media.total = (self._media.total or 0) + nbytes
            self._media.refresh()

    def media_bytes(self, nbytes: int) -> None:
        """`nbytes` more media bytes arrived (or were found in a part file)."""
        if self._media is not None and nbytes:
            self._media.update(nbytes)

    def close(self) -> None:
        for bar in (self._media, self._pages):
            if bar is not None:
                bar.close()
        self._pages = self._media = None


class DownloadProgress:
    """Bytes of one attempt; `add(n)` per part, `tick()` from the watchdog; see the module docstring."""

    def __init__(self, log: Any, *, message_id: int, media_type: str, total: int | None, clock: Clock = time.monotonic,
                 interval: float = DEFAULT_INTERVAL_SEC, terminal: TerminalProgress | None = None) -> None:
        self.log, self.message_id, self.media_type, self.total = log, message_id, media_type, total
        self.clock, self.interval, self.terminal = clock, interval, terminal
        self.started = self.last = self._event_at = clock()
        self.done = self._event_done = 0
        self._telethon_seen = 0
        self.events = 0

    def resumed(self, nbytes: int) -> None:
        """`nbytes` were already in the part file when the attempt started (not counted in the rate)."""
        self.done += nbytes
        self._event_done += nbytes
        if self.terminal is not None:
            self.terminal.media_bytes(nbytes)

    def add(self, nbytes: int) -> None:
        """`nbytes` more bytes arrived."""
        self.done += nbytes
        self.last = self.clock()
        if self.terminal is not None:
            self.terminal.media_bytes(nbytes)
        self.tick()

    def __call__(self, current: int, total: int | None) -> None:
        """Telethon's `progress_callback` (the fallback path): absolute bytes → `add(delta)`."""
        delta, self._telethon_seen = current - self._telethon_seen, current
        self.add(max(0, delta))

    def tick(self) -> None:
        """Write an event when the attempt has run an interval and the last event is an interval old."""
        now = self.clock()
        if now - self.started < self.interval or now - self._event_at < self.interval:
            return
        rate = (self.done - self._event_done) / (now - self._event_at)
        self.log.info("media_download_progress", message_id=self.message_id, media_type=self.media_type,
                      bytes_done=self.done, bytes_total=self.total, rate=round(rate))
        self._event_at, self._event_done = now, self.done
        self.events += 1
