"""Error codes, exit codes and the exception hierarchy of the parser (contract section 9)."""
from __future__ import annotations

from typing import Any

CONFIG_ERROR = "CONFIG_ERROR"
AUTH_ERROR = "AUTH_ERROR"
RATE_LIMIT = "RATE_LIMIT"
NETWORK_ERROR = "NETWORK_ERROR"
DATA_FORMAT_ERROR = "DATA_FORMAT_ERROR"
EXTERNAL_API_ERROR = "EXTERNAL_API_ERROR"
PARTIAL_FAILURE = "PARTIAL_FAILURE"
SESSION_LOCKED = "SESSION_LOCKED"

ERROR_CODES = (
    CONFIG_ERROR,
    AUTH_ERROR,
    RATE_LIMIT,
    NETWORK_ERROR,
    DATA_FORMAT_ERROR,
    EXTERNAL_API_ERROR,
    PARTIAL_FAILURE,
    SESSION_LOCKED,
)

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_PARTIAL = 2
EXIT_INTERRUPTED = 130

# Per-item media error values written into export.json `media_files[].error`.
MEDIA_FILE_REFERENCE_EXPIRED = "file_reference_expired"
MEDIA_DOWNLOAD_TIMEOUT = "download_timeout"
MEDIA_RETRY_EXHAUSTED = "retry_exhausted"


class ParserError(Exception):
    """A fatal, user-facing error: one readable message plus a contract error code."""

    code: str = EXTERNAL_API_ERROR
    exit_code: int = EXIT_FATAL

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class ConfigError(ParserError):
    code = CONFIG_ERROR


class AuthError(ParserError):
    code = AUTH_ERROR


class RateLimitError(ParserError):
    """FloodWait longer than the allowed maximum; `retry_after` is in seconds."""

    code = RATE_LIMIT

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class NetworkError(ParserError):
    code = NETWORK_ERROR


class DataFormatError(ParserError):
    code = DATA_FORMAT_ERROR


class ExternalApiError(ParserError):
    code = EXTERNAL_API_ERROR


class SessionLockedError(ParserError):
    """The session file is held by another process, or SQLite stayed locked."""

    code = SESSION_LOCKED
