"""Every operating-system branch of the parser, in one place (docs/windows.md says what runs where).

Each decision takes the platform name (`sys.platform` unless given) so that it can be checked on
any machine; the functions that act on files or streams use the running platform.
- locks: `flock` on POSIX; on Windows `msvcrt.locking` of one byte far past the owner JSON.
- `replace`: `os.replace`; on Windows a target another process holds open (an antivirus, an
  indexer, a viewer) raises PermissionError for a moment, so it is retried with a bounded back-off.
- `sync_data`: `fdatasync` where it exists, else `fsync`.
- `fsync_dir`: makes a rename durable on POSIX; Windows cannot open directories (skipped).
- `set_mode`: 0600-style modes on POSIX; Windows has no such modes (the folder's ACL decides).
- `long_path`: Windows paths of 248+ characters get the `\\\\?\\` prefix that lifts the 260 limit.
- `utf8_stdio`: UTF-8 stdout/stderr whatever the console code page.
- `stop_signal_names`: SIGINT and SIGTERM; on Windows also SIGBREAK (Ctrl+Break).
"""
from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

WINDOWS = "win32"
_WIN_LOCK_OFFSET = 1 << 30  # Windows: lock a byte far past the owner JSON so it stays readable
REPLACE_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)  # Windows: ~3 s in all for a target held open
WIN_LONG_PATH = 248  # below MAX_PATH (260) minus room for a temp name's suffix
_EXTENDED_PREFIX = "\\\\?\\"


def is_windows(system: str | None = None) -> bool:
    return (system or sys.platform) == WINDOWS


# -- locks -------------------------------------------------------------------------------------

def try_lock(fd: int) -> bool:
    """Exclusive non-blocking OS lock on open file `fd`; False when another open file holds it."""
    if is_windows():  # pragma: no cover - never run on the Linux CI (docs/windows.md)
        import msvcrt

        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def unlock(fd: int) -> None:
    if is_windows():  # pragma: no cover - never run on the Linux CI
        import msvcrt

        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def can_unlink_open_files(system: str | None = None) -> bool:
    """POSIX unlinks a file that is open (and locked); Windows refuses, so a lock is dropped first."""
    return not is_windows(system)


def has_advisory_locks(system: str | None = None) -> bool:
    """`flock` exists (POSIX); on Windows the journal relies on the export lock alone."""
    return not is_windows(system)


# -- atomic replace, durable renames, modes, long paths ----------------------------------------

def replace_delays(system: str | None = None) -> tuple[float, ...]:
    """Pauses between retries of a replace refused with PermissionError: none on POSIX (a real
    permission error), a bounded back-off on Windows (a target held open by another process)."""
    return REPLACE_DELAYS if is_windows(system) else ()


def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, system: str | None = None,
            sleep: Callable[[float], None] = time.sleep,
            do_replace: Callable[[Any, Any], None] = os.replace) -> None:
    """`os.replace(src, dst)`, retried after `replace_delays()` while the target is held open."""
    for delay in (*replace_delays(system), None):
        try:
            do_replace(src, dst)
            return
        except PermissionError:
            if delay is None:
                raise
            sleep(delay)


def sync_data(fd: int) -> None:
    """Flush a file's data to disk: `fdatasync` where it exists (Linux), else `fsync` (macOS, Windows)."""
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def fsync_dir_supported(system: str | None = None) -> bool:
    return not is_windows(system)


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename inside `directory` durable; skipped where directories cannot be opened."""
    if not fsync_dir_supported():
        return  # pragma: no cover - Windows
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def has_file_modes(system: str | None = None) -> bool:
    """POSIX permission bits (0600 for secrets); Windows has only a read-only flag."""
    return not is_windows(system)


def set_mode(fd: int, mode: int) -> None:
    """`fchmod(fd, mode)` where modes exist; best effort for 0600 (a foreign file keeps its mode)."""
    if has_file_modes() and hasattr(os, "fchmod"):
        os.fchmod(fd, mode)


def long_path(path: str | os.PathLike[str], *, system: str | None = None) -> str:
    """`path` as a string; on Windows an absolute path of WIN_LONG_PATH+ characters gets the `\\\\?\\`
    prefix (`\\\\?\\UNC\\` for a share), which lifts the 260-character limit of the Win32 API."""
    text = os.fspath(path)
    if not is_windows(system) or len(text) < WIN_LONG_PATH or text.startswith(_EXTENDED_PREFIX):
        return text
    win = text.replace("/", "\\")
    if win.startswith("\\\\"):
        return _EXTENDED_PREFIX + "UNC\\" + win[2:]
    if len(win) > 2 and win[1] == ":" and win[2] == "\\":
        return _EXTENDED_PREFIX + win
    return text  # relative: the prefix needs an absolute path


# -- console and signals -------------------------------------------------------------------------

def utf8_stdio(streams: Iterable[Any] | None = None) -> None:
    """Re-encode stdout/stderr as UTF-8 (a Windows console or a pipe may default to a code page)."""
    for stream in streams if streams is not None else (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")


def stop_signal_names(system: str | None = None) -> tuple[str, ...]:
    """The signals that stop a run: SIGINT (Ctrl+C) and SIGTERM; on Windows also SIGBREAK (Ctrl+Break)."""
    return ("SIGINT", "SIGTERM", "SIGBREAK") if is_windows(system) else ("SIGINT", "SIGTERM")
