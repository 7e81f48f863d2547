"""An exclusive inter-process lock on one lock file that names its owner (PID, host, time, ...).

The lock is an OS lock (`flock` on POSIX, `msvcrt.locking` on Windows: tgexport/core/platform.py)
held on the lock file;
the kernel frees it when the holder dies, so a lock file left behind by a crash never blocks
(the PID inside is for people only). After taking the OS lock we check that the path still
names the inode we locked, which closes the race with a releasing holder that unlinks the file.
The session lock and the export lock are this machinery, keyed on different files.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import errors
from tgexport.core import platform
from tgexport.core.timeutil import utc_now_iso

POLL_INTERVAL = 0.2  # seconds between attempts while waiting (--lock-wait)
_OWNER_MAX_BYTES = 64 * 1024
_OPEN_FLAGS = (
    os.O_RDWR
    | os.O_CREAT
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOINHERIT", 0)
)

def owner_pid(owner: dict[str, Any]) -> int | None:
    pid = owner.get("pid")
    return pid if isinstance(pid, int) and not isinstance(pid, bool) else None


def _read_owner(fd: int) -> dict[str, Any]:
    """Parse the owner JSON of an open lock file; {} when empty or unreadable."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, _OWNER_MAX_BYTES)
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_owner_settled(fd: int, attempts: int = 20) -> dict[str, Any]:
    """Read the owner, giving a holder that has just locked a moment to write its JSON."""
    owner = _read_owner(fd)
    for _ in range(attempts - 1):
        if owner:
            break
        time.sleep(0.01)
        owner = _read_owner(fd)
    return owner


def _same_file(fd: int, path: Path) -> bool:
    """True when `path` still names the file open as `fd` (not unlinked or replaced)."""
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)


LOCK_FILE_MODE = 0o600  # lock files name the owner (PID, host, command): readable by the owner only


class PathLock:
    """Exclusive inter-process lock on one lock file holding its owner's JSON (PID, host, time, ...).

    Subclasses say what the owner JSON adds (`_owner_fields`), what "busy" raises (`_busy`) and
    how an unusable lock file is reported (`_open_failed`).
    """

    def __init__(
        self,
        lock_path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self.lock_path = Path(lock_path)
        self._clock = clock
        self._sleep = sleep
        self._poll_interval = poll_interval
        self._fd: int | None = None
        self._owner_pid: int | None = None  # pid that acquired; a forked child must not unlink

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _owner_fields(self) -> dict[str, Any]:
        """Extra keys of the owner JSON (after pid, host, started_at)."""
        return {}

    def _busy(self, owner: dict[str, Any]) -> BaseException:
        """The exception `acquire` raises when another holder (described by `owner`) keeps the lock."""
        return RuntimeError(f"{self.lock_path} is locked by PID {owner_pid(owner)}")

    def _open_failed(self, exc: OSError) -> BaseException:
        """The exception for a lock file that cannot be opened or created."""
        return errors.ConfigError(f"cannot open lock file {self.lock_path}: {exc.strerror}")

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock or raise `_busy(owner)`; with `wait` > 0 retry until that many seconds pass."""
        if self._fd is not None:
            raise RuntimeError(f"lock already held: {self.lock_path}")
        deadline = self._clock() + max(wait, 0.0)
        while True:
            owner = self._try_acquire()
            if owner is None:
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise self._busy(owner)
            self._sleep(min(self._poll_interval, remaining))

    def _open_lock_file(self) -> int:
        try:
            return os.open(self.lock_path, _OPEN_FLAGS, LOCK_FILE_MODE)
        except OSError as exc:  # missing or read-only folder, foreign owner, a symlink or folder in the way
            raise self._open_failed(exc) from exc

    def _try_acquire(self) -> dict[str, Any] | None:
        """One non-blocking attempt: None when acquired, else the current owner's info."""
        while True:
            fd = self._open_lock_file()
            try:
                if not platform.try_lock(fd):
                    owner = _read_owner_settled(fd)
                    os.close(fd)
                    return owner
                if platform.can_unlink_open_files() and not _same_file(fd, self.lock_path):
                    os.close(fd)  # the holder unlinked it after our open: lock the new file instead
                    continue
            except BaseException:
                os.close(fd)
                raise
            try:
                self._write_owner(fd)
            except BaseException:  # e.g. Ctrl+C right after locking: leave no lock file behind
                if platform.can_unlink_open_files() and _same_file(fd, self.lock_path):
                    _unlink_quietly(self.lock_path)
                os.close(fd)
                raise
            self._fd = fd
            self._owner_pid = os.getpid()
            return None

    def _write_owner(self, fd: int) -> None:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": utc_now_iso(),
                 **self._owner_fields()}
        data = (json.dumps(owner, ensure_ascii=False) + "\n").encode("utf-8")
        _owner_only(fd)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)

    def release(self) -> None:
        """Remove the lock file and drop the OS lock; a no-op when not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        mine = self._owner_pid == os.getpid()
        try:
            if not platform.can_unlink_open_files():  # pragma: no cover - Windows: unlock, close, then unlink
                platform.unlock(fd)
                os.close(fd)
                fd = None
                if mine:
                    _unlink_quietly(self.lock_path)
            elif mine and _same_file(fd, self.lock_path):
                # Unlink while still locked: a waiter that opened this inode re-checks and retries.
                _unlink_quietly(self.lock_path)
        finally:
            if fd is not None:
                os.close(fd)

    def __enter__(self) -> PathLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _owner_only(fd: int) -> None:
    """Mode 0600 where modes exist, also for a lock file left behind (created earlier with another mode)."""
    with contextlib.suppress(OSError):
        platform.set_mode(fd, LOCK_FILE_MODE)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        os.unlink(path)
