"""Test-only fault points: `hit(name)` kills this process (SIGKILL) on the n-th hit of a named point.

Set `TELEGRAM_PARSER_FAULT_KILL=<point>:<n>` (e.g. `history_page:3`, `media_part:17`,
`journal_write:2`). Unset (always, outside tests) `hit()` costs two comparisons. When the
process kills itself it first appends `<point> <n>` to `TELEGRAM_PARSER_FAULT_REPORT` (if set),
so a test can say which instant it hit. With `TELEGRAM_PARSER_FAULT_COUNTS=<file>` every point's
passes are counted and written to that file as a JSON object when the process exits (or kills
itself), so a test can learn how often a run passes each point and aim its kills.

`raise_os_error(name, path)` is the same for disk faults: with
`TELEGRAM_PARSER_FAULT_OSERROR=<point>:<n>:<ENOSPC|EACCES|EIO|EDQUOT>` the n-th pass through a
write point raises that OSError (points: `json_write`, `journal_append`, `media_place`); `<n>+`
(e.g. `json_write:2+:ENOSPC`) fails the n-th and every later pass, like a disk that stays full;
several rules are separated by commas (`json_write:1+:ENOSPC,journal_append:1+:ENOSPC`).
The OSError names `path` (the file being written) as a real one from `open()` would.
"""
from __future__ import annotations

import atexit
import errno
import json
import os
import signal

FAULT_ENV = "TELEGRAM_PARSER_FAULT_KILL"
REPORT_ENV = "TELEGRAM_PARSER_FAULT_REPORT"
OSERROR_ENV = "TELEGRAM_PARSER_FAULT_OSERROR"
COUNTS_ENV = "TELEGRAM_PARSER_FAULT_COUNTS"

POINTS = (
    "history_page",  # a getHistory answer arrived, before its messages are processed
    "refetch_page",  # a channels.getMessages answer (--refresh-recent) arrived, before it is used
    "comments_page",  # a messages.getReplies answer (--comments) arrived, before it is used
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


def _os_rule(text: str) -> tuple[str, tuple[int, int, bool]] | None:
    point, _, rest = text.strip().partition(":")
    count, _, name = rest.partition(":")
    persistent = count.endswith("+")
    count = count.removesuffix("+")
    code = getattr(errno, name or "ENOSPC", None)
    if not point or not count.isdigit() or int(count) < 1 or not isinstance(code, int):
        return None
    return point, (int(count), code, persistent)


def _os_target() -> dict[str, tuple[int, int, bool]] | None:
    """Point → (pass, errno, persistent) from a comma-separated list of `<point>:<n>[+]:<ERRNO>`."""
    rules = [_os_rule(part) for part in os.environ.get(OSERROR_ENV, "").split(",")]
    return dict(rule for rule in rules if rule is not None) or None


_TARGET = _target()
_OS_TARGET = _os_target()
_COUNTS_PATH = os.environ.get(COUNTS_ENV) or None


def _passes(counts: dict[str, int], name: str) -> int:
    counts[name] = counts.get(name, 0) + 1
    return counts[name]


def hit(name: str) -> None:
    """Count one pass through fault point `name`; SIGKILL this process on the configured pass."""
    if _COUNTS_PATH is None and (_TARGET is None or _TARGET[0] != name):
        return
    passes = _passes(_counts, name)
    if _TARGET is None or (name, passes) != _TARGET:
        return
    report = os.environ.get(REPORT_ENV)
    if report:
        _append_line(report, f"{name} {passes}\n")
    write_counts()
    os.kill(os.getpid(), signal.SIGKILL)


def _append_line(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def write_counts() -> None:
    """Write the passes counted so far to `TELEGRAM_PARSER_FAULT_COUNTS` (if set) as a JSON object."""
    if _COUNTS_PATH is None:
        return
    with open(_COUNTS_PATH, "w", encoding="utf-8") as handle:
        json.dump(dict(sorted(_counts.items())), handle)
        handle.flush()
        os.fsync(handle.fileno())


atexit.register(write_counts)


def raise_os_error(name: str, path: str | os.PathLike[str] | None = None) -> None:
    """Count one pass through write point `name`; raise the configured OSError (naming `path`)
    on the configured pass (and, with `<n>+`, on every later one)."""
    rule = None if _OS_TARGET is None else _OS_TARGET.get(name)
    if rule is None:
        return
    count, code, persistent = rule
    passes = _passes(_os_counts, name)
    if passes < count or (passes > count and not persistent):
        return
    message = f"{os.strerror(code)} (injected at {name})"
    if path is None:
        raise OSError(code, message)
    raise OSError(code, message, os.fspath(path))


def reload_from_env() -> None:
    """Re-read the environment (for unit tests that set the variables in-process)."""
    global _TARGET, _OS_TARGET, _COUNTS_PATH
    _TARGET, _OS_TARGET = _target(), _os_target()
    _COUNTS_PATH = os.environ.get(COUNTS_ENV) or None
    _counts.clear()
    _os_counts.clear()
