"""The session lock (docs/contract.md section 9): one process per Telethon session file at a time.

The implementation lives in `tgexport/session/lock.py` (the session lock and the session file's
naming rule) and `tgexport/core/path_lock.py` (the OS lock machinery it shares with the export
lock); this module keeps the names scripts import from `session_lock`, also the original tool's
`session_lock(session_file)` context manager (yields True when acquired, False when busy).
"""
from __future__ import annotations

from tgexport.core.path_lock import LOCK_FILE_MODE, POLL_INTERVAL, PathLock, owner_pid
from tgexport.session.lock import (
    BUSY_MESSAGE,
    LOCK_SUFFIX,
    SESSION_EXTENSION,
    SessionLock,
    SessionLockBusy,
    lock_path_for,
    session_db_path,
    session_file_name,
    session_lock,
)

__all__ = [
    "BUSY_MESSAGE", "LOCK_FILE_MODE", "LOCK_SUFFIX", "POLL_INTERVAL", "SESSION_EXTENSION", "PathLock",
    "SessionLock", "SessionLockBusy", "lock_path_for", "owner_pid", "session_db_path", "session_file_name",
    "session_lock",
]
