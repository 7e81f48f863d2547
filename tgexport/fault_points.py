"""Test-only fault points: `hit(name)` kills this process (SIGKILL) on the n-th hit of a named point.

Set `TELEGRAM_PARSER_FAULT_KILL=<point>:<n>` (e.g. `history_page:3`, `media_part:17`,
`journal_write:2`). Unset (always, outside tests) `hit()` costs one comparison. When the
process kills itself it first appends `<point> <n>` to `TELEGRAM_PARSER_FAULT_REPORT` (if set),
so a test can say which instant it hit.

`raise_os_error(name)` is the same for disk faults: with
`TELEGRAM_PARSER_FAULT_OSERROR=<point>:<n>:<ENOSPC|EACCES|EIO|EDQUOT>` the n-th pass through a
write point raises that OSError (points: `json_write`, `journal_append`, `media_place`).
"""
from __future__ import annotations

import errno
import os
import signal

FAULT_ENV = "TELEGRAM_PARSER_FAULT_KILL"
REPORT_ENV = "TELEGRAM_PARSER_FAULT_REPORT"
OSERROR_ENV = "TELEGRAM_PARSER_FAULT_OSERROR"

POINTS = (
    "history_page",  # a getHistory answer arrived, before its messages are processed
    "media_part",  # a part of a media file was written to its part file
    "media_placed",  # a finished media file took its final name, before the index records it
    "journal_write",  # half of a journal entry is written (torn line), before the rest
    "journal_synced",  # a journal entry is complete and fsynced
    "compact_write",  # a compacted export file is written to its temp file, before the rename
    "compact_renamed",  # export.json was renamed into place, before state.json
)
WRITE_POINTS = (
    "json_write",  # atomic_json.atomic_file, before the temp file is written
    "journal_append",  # the export journal, before an entry is appended
    "media_place",  # a finished media file, before it takes its final name
)

_counts: dict[str, int] = {}
_os_counts: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    point, _, count = os.environ.get(FAULT_ENV, "").partition(":")
    if not point or not count.isdigit() or int(count) < 1:
        return None
    return point, int(count)


def _os_target() -> tuple[str, int, int] | None:
    point, _, rest = os.environ.get(OSERROR_ENV, "").partition(":")
    count, _, name = rest.partition(":")
    code = getattr(errno, name or "ENOSPC", None)
    if not point or not count.isdigit() or int(count) < 1 or not isinstance(code, int):
        return None
    return point, int(count), code


_TARGET = _target()
_OS_TARGET = _os_target()


def _passes(counts: dict[str, int], name: str) -> int:
    counts[name] = counts.get(name, 0) + 1
    return counts[name]


def hit(name: str) -> None:
    """Count one pass through fault point `name`; SIGKILL this process on the configured pass."""
    if _TARGET is None or _TARGET[0] != name or _passes(_counts, name) != _TARGET[1]:
        return
    report = os.environ.get(REPORT_ENV)
    if report:
        with open(report, "a", encoding="utf-8") as handle:
            handle.write(f"{name} {_counts[name]}\n")
            handle.flush()
            os.fsync(handle.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


def raise_os_error(name: str) -> None:
    """Count one pass through write point `name`; raise the configured OSError on the configured pass."""
    if _OS_TARGET is None or _OS_TARGET[0] != name or _passes(_os_counts, name) != _OS_TARGET[1]:
        return
    code = _OS_TARGET[2]
    raise OSError(code, f"{os.strerror(code)} (injected at {name})")


def reload_from_env() -> None:
    """Re-read the environment (for unit tests that set the variables in-process)."""
    global _TARGET, _OS_TARGET
    _TARGET, _OS_TARGET = _target(), _os_target()
    _counts.clear()
    _os_counts.clear()
