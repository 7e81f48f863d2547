"""The session lock: one process per Telethon session file at a time (docs/contract.md section 9).

A `PathLock` on `<real session file>.lock`, keyed on the real `.session` file (symlinks
resolved), plus Telethon's one naming rule for session files (`session_file_name`).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import errors
from tgexport.core.path_lock import POLL_INTERVAL, PathLock, owner_pid

SESSION_EXTENSION = ".session"  # Telethon appends it unless the name already ends with it
LOCK_SUFFIX = ".lock"
BUSY_MESSAGE = "session is locked by another process (use another --session-file or wait)"


def session_file_name(session_file: str | os.PathLike[str]) -> str:
    """Telethon's naming rule: the session name with `.session` appended unless already there."""
    name = os.fspath(session_file)
    return name if name.endswith(SESSION_EXTENSION) else name + SESSION_EXTENSION


def session_db_path(session_file: str | os.PathLike[str]) -> Path:
    """The SQLite file Telethon opens for `session_file`, absolute and resolved through symlinks."""
    # resolve() follows every symlink that exists; a missing file keeps its name under the resolved folder.
    return Path(os.path.abspath(session_file_name(session_file))).resolve()


def lock_path_for(session_file: str | os.PathLike[str]) -> Path:
    """The lock file beside the real session file: `<name>.session.lock`."""
    db = session_db_path(session_file)
    return db.with_name(db.name + LOCK_SUFFIX)


class SessionLockBusy(errors.SessionLockedError):
    """Another process holds the session lock; `owner` is what its lock file says."""

    def __init__(self, lock_path: Path, owner: dict[str, Any]) -> None:
        self.owner = owner
        self.owner_pid = owner_pid(owner)
        self.lock_path = lock_path
        super().__init__(BUSY_MESSAGE, lock_path=str(lock_path), owner_pid=self.owner_pid)
        holder = f"PID {self.owner_pid}" if self.owner_pid is not None else "a process that has not written its PID yet"
        self.log_message = f"session {lock_path} is locked by {holder}"


class SessionLock(PathLock):
    """Exclusive inter-process lock keyed on the real `.session` file of `session_file`."""

    def __init__(
        self,
        session_file: str | os.PathLike[str],
        *,
        command: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        super().__init__(lock_path_for(session_file), clock=clock, sleep=sleep, poll_interval=poll_interval)
        self.session_path = session_db_path(session_file)
        self.command = command

    def _owner_fields(self) -> dict[str, Any]:
        return {"command": self.command, "session": self.session_path.name}

    def _busy(self, owner: dict[str, Any]) -> BaseException:
        return SessionLockBusy(self.lock_path, owner)

    def _open_failed(self, exc: OSError) -> BaseException:
        if isinstance(exc, FileNotFoundError):
            return errors.ConfigError(f"session folder does not exist: {self.lock_path.parent}")
        return errors.ConfigError(f"cannot open session lock file {self.lock_path}: {exc.strerror}")

    def __enter__(self) -> SessionLock:
        self.acquire()
        return self


@contextmanager
def session_lock(session_file: str | os.PathLike[str], *, command: str | None = None,
                 wait: float = 0.0) -> Iterator[bool]:
    """The original tool's form: `with session_lock(name) as acquired:`; True while this process holds
    the lock (released on leaving), False when another process holds it (after `wait` seconds)."""
    lock = SessionLock(session_file, command=command)
    try:
        lock.acquire(wait=wait)
    except SessionLockBusy:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
