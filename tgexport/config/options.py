"""Validated options of one `parse` run (`ParseOptions.build` raises ConfigError with a clear message)."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from errors import ConfigError
from tgexport.config.modes import MODES, ModePreset

DEFAULT_MAX_FLOOD_WAIT = 300.0


def parse_day(value: str | date | None, option: str) -> date | None:
    """`YYYY-MM-DD` (or a date) → date; None stays None; anything else is a ConfigError."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} must be a date as YYYY-MM-DD, got {value!r}") from None


def parse_non_negative(value: Any, option: str) -> float | None:
    """A finite number ≥ 0 (int, float or numeric string); None stays None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{option} must be a number ≥ 0, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} must be a number ≥ 0, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"{option} must be a number ≥ 0, got {value!r}")
    return number


def parse_count(value: Any, option: str) -> int:
    """A whole number ≥ 0 (int or numeric string); None or "" is 0."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise ConfigError(f"{option} must be a whole number ≥ 0, got {value!r}")
    return int(text)


def parse_keywords(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Keyword list (a string is split on whitespace); empty words dropped, order kept, no repeats."""
    if value is None:
        return ()
    words = value.split() if isinstance(value, str) else [str(w) for w in value]
    seen: set[str] = set()  # casefolded
    kept: list[str] = []
    for word in words:
        word = word.strip()
        folded = word.casefold()
        if word and folded not in seen:
            seen.add(folded)
            kept.append(word)
    return tuple(kept)


def _mode(name: str) -> ModePreset:
    preset = MODES.get(str(name).strip().lower()) if name is not None else None
    if preset is None:
        raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got {name!r}")
    return preset


@dataclass(frozen=True)
class ParseOptions:
    """Everything `run_parse` needs besides the client and the run id."""

    channel: str
    output_dir: Path
    preset: ModePreset
    date_from: date | None = None
    date_to: date | None = None
    keywords: tuple[str, ...] = ()
    max_media_size_mb: float | None = None
    dry_run: bool = False
    zip_output: bool = False
    cleanup_temp: bool = True
    max_flood_wait: float = DEFAULT_MAX_FLOOD_WAIT
    media_stall_timeout: float | None = None  # None: $TELEGRAM_PARSER_MEDIA_STALL_TIMEOUT or the mode's
    takeout: bool = False  # added: history and media through a takeout session (--takeout)
    refresh_recent: int = 0  # re-read this many of the newest exported messages (edits, counters, deletions)
    comments: bool = False  # export the discussion threads of posts with comments
    comments_media: bool = False  # with `comments`: download the comments' media too

    @property
    def mode(self) -> str:
        return self.preset.name

    @classmethod
    def build(
        cls,
        channel: str,
        output_dir: str | Path,
        mode: str = "safe",
        date_from: str | date | None = None,
        date_to: str | date | None = None,
        keyword_filter: str | Iterable[str] | None = None,
        max_media_size_mb: Any = None,
        dry_run: bool = False,
        zip_output: bool = False,
        cleanup_temp: bool = True,
        max_flood_wait: Any = DEFAULT_MAX_FLOOD_WAIT,
        media_stall_timeout: Any = None,
        takeout: bool = False,
        refresh_recent: Any = 0,
        comments: bool = False,
        comments_media: bool = False,
    ) -> ParseOptions:
        """Validate raw values (CLI strings or Python objects); ConfigError names the bad option."""
        if channel is None or not str(channel).strip():
            raise ConfigError("--channel is required for parse")
        if output_dir is None or not str(output_dir).strip():
            raise ConfigError("--output-dir must not be empty")
        start = parse_day(date_from, "--date-from")
        end = parse_day(date_to, "--date-to")
        if start and end and start > end:
            raise ConfigError(f"--date-from {start.isoformat()} is after --date-to {end.isoformat()}")
        flood = parse_non_negative(max_flood_wait, "--max-flood-wait")
        stall = parse_non_negative(media_stall_timeout, "--media-stall-timeout")
        if stall == 0:
            raise ConfigError("--media-stall-timeout must be a number > 0, got 0")
        return cls(
            channel=str(channel).strip(),
            output_dir=Path(output_dir).expanduser(),
            preset=_mode(mode),
            date_from=start,
            date_to=end,
            keywords=parse_keywords(keyword_filter),
            max_media_size_mb=parse_non_negative(max_media_size_mb, "--max-media-size"),
            dry_run=bool(dry_run),
            zip_output=bool(zip_output),
            cleanup_temp=bool(cleanup_temp),
            max_flood_wait=DEFAULT_MAX_FLOOD_WAIT if flood is None else flood,
            media_stall_timeout=stall,
            takeout=bool(takeout),
            refresh_recent=parse_count(refresh_recent, "--refresh-recent"),
            comments=bool(comments) or bool(comments_media),
            comments_media=bool(comments_media),
        )
