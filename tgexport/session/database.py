"""Telethon SQLite sessions with a configurable SQLite busy timeout.

Telethon 1.45 opens the database lazily in `SQLiteSession._cursor()` with
`sqlite3.connect(filename, check_same_thread=False)` (busy timeout 5 s). The
constructor already calls it (reads `sqlite_master`, may create tables and
commit), and `TelegramClient.connect()` writes the DC and auth key
(`set_dc`/`auth_key` setter → `_update_session_table`, then `save()` = commit).
So `database is locked` can come from both; we only change the wait.

The session holds the auth key: before SQLite opens it, a missing file is created empty with
mode 0600 and an existing one loses its group/other bits (POSIX). SQLite gives its `-journal`
the database file's mode, so the journal is owner-only too.
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

from telethon.sessions import SQLiteSession

from errors import ConfigError, is_database_locked
from tgexport.config.environment import env_number
from tgexport.core import platform
from tgexport.session.lock import session_db_path, session_file_name

SQLITE_TIMEOUT_ENV = "TELEGRAM_PARSER_SQLITE_TIMEOUT"
DEFAULT_SQLITE_TIMEOUT = 5.0  # Python's sqlite3 default, which Telethon uses
OWNER_ONLY = 0o600
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def sqlite_timeout() -> float:
    """Busy timeout in seconds from TELEGRAM_PARSER_SQLITE_TIMEOUT; 5 when unset or invalid."""
    return env_number(SQLITE_TIMEOUT_ENV, DEFAULT_SQLITE_TIMEOUT)


class TimeoutSQLiteSession(SQLiteSession):
    """`SQLiteSession` whose connection waits `busy_timeout` seconds for a locked database."""

    def __init__(self, session_id: str, *, busy_timeout: float) -> None:
        self.busy_timeout = busy_timeout  # set first: the base constructor opens the database
        super().__init__(session_id)

    def _cursor(self) -> sqlite3.Cursor:
        """Same as Telethon's, plus the timeout (Telethon 1.45 `SQLiteSession._cursor`)."""
        if self._conn is None:
            self._conn = sqlite3.connect(self.filename, check_same_thread=False, timeout=self.busy_timeout)
        return self._conn.cursor()


def make_owner_only(path: str | Path) -> None:
    """Create `path` empty with mode 0600 if it is missing, else drop its group/other permission bits.

    Where file modes exist (not Windows: there the folder's ACL protects it); best effort (a missing
    folder or a foreign file is left for SQLite to report)."""
    if not platform.has_file_modes():
        return
    try:
        os.close(os.open(path, _CREATE_FLAGS, OWNER_ONLY))
    except FileExistsError:
        _drop_group_other(path)
    except OSError:
        pass


def _drop_group_other(path: str | Path) -> None:
    """chmod go-rwx on an existing regular file; nothing when it is missing or not ours."""
    with contextlib.suppress(OSError):
        info = os.stat(path)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISREG(info.st_mode) and mode & 0o077:
            os.chmod(path, mode & ~0o077)


def open_session(session_file: str) -> SQLiteSession:
    """Open the session `session_file` (Telethon naming) with the configured busy timeout; the file
    is owner-only (0600) before SQLite touches it."""
    name = session_file_name(session_file)
    make_owner_only(name)
    if platform.has_file_modes():
        _drop_group_other(name + "-journal")  # a hot journal left by a crash holds session data too
    return TimeoutSQLiteSession(str(session_file), busy_timeout=sqlite_timeout())


def discard_session(session: object) -> None:
    """Roll back and close a session's SQLite connection without committing; never raises.

    Use after a failed connect attempt: `client.disconnect()` would commit first, which can
    itself fail while the database is locked and leave the connection (and its lock) open.
    """
    conn = getattr(session, "_conn", None)
    if conn is None:
        return
    with contextlib.suppress(sqlite3.Error):
        conn.rollback()
    with contextlib.suppress(sqlite3.Error):
        conn.close()
    session._conn = None  # type: ignore[attr-defined]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip()).is_loopback
    except ValueError:
        return False


def open_checked_session(session_file: str | Path, require_local: bool) -> Any:
    """Open the session via `open_session`; with `require_local`, ConfigError unless the file exists
    and names a loopback server. `database is locked` propagates (the caller retries it)."""
    name = session_file_name(session_file)  # as the user wrote it, for messages
    if require_local and not session_db_path(session_file).is_file():
        raise ConfigError(f"session file {name} does not exist (TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER is set)")
    try:
        session = open_session(str(session_file))
    except sqlite3.DatabaseError as exc:
        if is_database_locked(exc):
            raise
        raise ConfigError(f"session file {name} is not a Telethon session: {exc}") from exc
    address = getattr(session, "server_address", None)
    if require_local and not (address and is_loopback(str(address))):
        discard_session(session)
        raise ConfigError(
            f"session file {name} does not point at a loopback server "
            "(TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER is set); refusing to connect"
        )
    return session
