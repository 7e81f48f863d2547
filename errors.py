"""Error codes, exit codes and the exception hierarchy of the parser (docs/contract.md section 8)."""
from __future__ import annotations

import asyncio
import errno
import socket
import sqlite3
from pathlib import Path
from typing import Any

CONFIG_ERROR = "CONFIG_ERROR"
AUTH_ERROR = "AUTH_ERROR"
RATE_LIMIT = "RATE_LIMIT"
NETWORK_ERROR = "NETWORK_ERROR"
DATA_FORMAT_ERROR = "DATA_FORMAT_ERROR"
EXTERNAL_API_ERROR = "EXTERNAL_API_ERROR"
PARTIAL_FAILURE = "PARTIAL_FAILURE"
SESSION_LOCKED = "SESSION_LOCKED"
STORAGE_ERROR = "STORAGE_ERROR"  # added: a file of the export (or a log) could not be written
EXPORT_LOCKED = "EXPORT_LOCKED"  # added: another process is writing the same export
TAKEOUT_DELAY = "TAKEOUT_DELAY"  # added: Telegram waits for the user to confirm a takeout (data export)
ERROR_CODES = (CONFIG_ERROR, AUTH_ERROR, RATE_LIMIT, NETWORK_ERROR, DATA_FORMAT_ERROR, EXTERNAL_API_ERROR,
               PARTIAL_FAILURE, SESSION_LOCKED, STORAGE_ERROR, EXPORT_LOCKED, TAKEOUT_DELAY)

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_PARTIAL = 2
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl+C): 128 + 2
EXIT_TERMINATED = 143  # SIGTERM: 128 + 15

# OSErrors that mean "the disk refused the write" (full, quota, permissions, I/O, read-only).
STORAGE_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EACCES", "EPERM", "EIO", "EROFS", "EFBIG")
    if hasattr(errno, name)
)

# Per-item media error values written into export.json `media_files[].error`.
MEDIA_FILE_REFERENCE_EXPIRED = "file_reference_expired"
MEDIA_DOWNLOAD_TIMEOUT = "download_timeout"
MEDIA_RETRY_EXHAUSTED = "retry_exhausted"


class ParserError(Exception):
    """A fatal, user-facing error: one readable message plus a contract error code."""

    code: str = EXTERNAL_API_ERROR
    exit_code: int = EXIT_FATAL

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.log_message = message  # what the app log says; subclasses may add detail
        if code is not None:
            self.code = code
        self.hint = hint  # what to do next, when more specific than the code's hint (HINTS)
        self.details = details


# What to do next, one hint per error code: the `hint` of every JSON error (SKILL.md lists them too).
HINTS = {
    CONFIG_ERROR: "fix the option or setting the message names (see --help); TELEGRAM_API_ID and "
                  "TELEGRAM_API_HASH come from the environment or .env",
    AUTH_ERROR: "sign in: set TELEGRAM_PHONE and run once (Telegram sends a code), then set TELEGRAM_CODE "
                "(and TELEGRAM_2FA_PASSWORD if two-step verification is on) and run again",
    RATE_LIMIT: "Telegram asked to wait: run again after retry_after seconds (a parse continues where it "
                "stopped), or raise --max-flood-wait to sit such waits out",
    NETWORK_ERROR: "check the network (and the proxy), then run again; a parse continues where it stopped",
    DATA_FORMAT_ERROR: "a file the message names is damaged or was changed by someone else: repair, move or "
                       "delete it as the message says, then run again",
    EXTERNAL_API_ERROR: "Telegram refused the request or something unexpected failed: check the channel and "
                        "the app log (logs/errors.log), then run again",
    PARTIAL_FAILURE: "the messages and summary are saved, some media failed (media_files[].error); later runs "
                     "do not retry them: parse into a new --output-dir to fetch them again",
    SESSION_LOCKED: "another process uses this session: run again later, pass --lock-wait SECONDS to wait "
                    "for it, or use another --session-file",
    STORAGE_ERROR: "free disk space or fix the permissions of the path the message names, then run again; "
                   "a parse continues where it stopped",
    EXPORT_LOCKED: "another process is writing this channel's export in this --output-dir: wait until it "
                   "finishes, or use another --output-dir",
    TAKEOUT_DELAY: "confirm the data-export request in a Telegram app (Telegram sends a service message), "
                   "then run again after retry_after seconds",
}
INTERRUPTED_HINT = "the run was stopped by a signal: run the same command again; a parse continues where it stopped"


class ConfigError(ParserError):
    code = CONFIG_ERROR


class AuthError(ParserError):
    code = AUTH_ERROR


class WaitError(ParserError):
    """Telegram asked to wait: `retry_after` is in seconds (the base of RateLimitError and TakeoutDelayError)."""

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class RateLimitError(WaitError):
    """FloodWait longer than the allowed maximum."""

    code = RATE_LIMIT


class TakeoutDelayError(WaitError):
    """Telegram holds a takeout (data export) until the user confirms it (TAKEOUT_INIT_DELAY_X)."""

    code = TAKEOUT_DELAY


class NetworkError(ParserError):
    code = NETWORK_ERROR


class DataFormatError(ParserError):
    code = DATA_FORMAT_ERROR


class ExternalApiError(ParserError):
    code = EXTERNAL_API_ERROR


class SessionLockedError(ParserError):
    """The session file is held by another process, or SQLite stayed locked."""

    code = SESSION_LOCKED


class ExportLockedError(ParserError):
    """Another process is writing the same channel's export in the same output directory."""

    code = EXPORT_LOCKED


class StorageError(ParserError):
    """Writing a file failed (disk full, quota, permissions, I/O error); `path` names it."""

    code = STORAGE_ERROR


def is_storage_error(exc: BaseException) -> bool:
    """True for an OSError that is a refused write (ENOSPC, EDQUOT, EACCES, EPERM, EIO, EROFS, EFBIG)."""
    return (isinstance(exc, OSError) and not isinstance(exc, ConnectionError | TimeoutError)
            and exc.errno in STORAGE_ERRNOS)


def storage_error(exc: OSError, where: str | Path | None = None) -> StorageError:
    """`StorageError("cannot write <path>: <reason>")`: the OSError's file, else `where`."""
    path = exc.filename if exc.filename is not None else where
    reason = exc.strerror or str(exc) or type(exc).__name__
    target = f"cannot write {path}" if path is not None else "cannot write the export"
    return StorageError(f"{target}: {reason}", path=None if path is None else str(path), errno=exc.errno)


DATABASE_LOCKED_TEXT = "database is locked"


def is_database_locked(exc: BaseException) -> bool:
    """True for SQLite's `database is locked` (SQLITE_BUSY), not for other operational errors."""
    return isinstance(exc, sqlite3.OperationalError) and DATABASE_LOCKED_TEXT in str(exc)


def as_parser_error(exc: BaseException) -> ParserError:
    """Map an unexpected exception to a contract error (code + one readable message)."""
    if isinstance(exc, ParserError):
        return exc
    from telethon import errors as tl_errors  # lazy: the CLI loads Telethon only after validation

    if isinstance(exc, tl_errors.FloodError):
        seconds = int(getattr(exc, "seconds", 0) or 0)
        return RateLimitError(f"Telegram asked to wait {seconds} s; retry later", retry_after=seconds)
    if isinstance(exc, tl_errors.UnauthorizedError | tl_errors.AuthKeyError):
        return AuthError(f"the session is no longer authorised ({exc}); sign in again")
    if isinstance(exc, tl_errors.RPCError):
        return ExternalApiError(f"Telegram API error: {exc}")
    if is_database_locked(exc):
        return SessionLockedError(f"session database is locked: {exc}")
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror | asyncio.TimeoutError):
        return NetworkError(f"network error: {exc or type(exc).__name__}")
    if is_storage_error(exc):
        assert isinstance(exc, OSError)
        return storage_error(exc)
    return ExternalApiError(f"unexpected error: {type(exc).__name__}: {exc}")


def error_code_of(exc: BaseException) -> str | None:
    """The contract error code for `exc`; None for an interruption (CancelledError, Ctrl+C)."""
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return None
    return as_parser_error(exc).code


def hint_for(exc: BaseException) -> str:
    """What to do next after `exc`: its own hint, else its code's (an interruption has its own)."""
    code = error_code_of(exc)
    if code is None:
        return INTERRUPTED_HINT
    return getattr(as_parser_error(exc), "hint", None) or HINTS.get(code, HINTS[EXTERNAL_API_ERROR])


def error_json(exc: BaseException, message: str | None = None) -> dict[str, Any]:
    """`{"error_code", "message", "hint", "retry_after" (when known)}` for `exc`; null code if interrupted."""
    code = error_code_of(exc)
    error: dict[str, Any] = {"error_code": code, "message": message or one_line(exc), "hint": hint_for(exc)}
    error_obj = as_parser_error(exc) if code is not None else None
    retry_after = getattr(error_obj, "retry_after", None) or getattr(error_obj, "details", {}).get("retry_after")
    if retry_after is not None:
        error["retry_after"] = retry_after
    return error


def one_line(text_or_exc: str | BaseException) -> str:
    """Whitespace collapsed to single spaces; an exception gives its `message`, str() or type name."""
    if isinstance(text_or_exc, BaseException):
        exc = text_or_exc
        text_or_exc = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text_or_exc).split())
