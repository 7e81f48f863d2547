"""Retry client construction + connect while the session's SQLite database is locked."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

import errors
from tgexport.modes import backoff_delay

T = TypeVar("T")

DEFAULT_RETRIES = 5
LOCKED_TEXT = "database is locked"


def is_database_locked(exc: BaseException) -> bool:
    """True for SQLite's `database is locked` (SQLITE_BUSY), not for other operational errors."""
    return isinstance(exc, sqlite3.OperationalError) and LOCKED_TEXT in str(exc)


async def retry_locked_database(
    operation: Callable[[], Awaitable[T]],
    *,
    retries: int = DEFAULT_RETRIES,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    logger: logging.Logger,
) -> T:
    """Await `operation()`, retrying up to `retries` times while it raises `database is locked`.

    `operation` must build the client and connect, and must close what it opened when it
    fails (see `tgexport.session_db.discard_session`), or its own open SQLite connection can
    keep the database locked. Exhausted retries raise `errors.SessionLockedError`.
    """
    if retries < 0:
        raise ValueError("retries must be >= 0")
    attempt = 0
    while True:
        try:
            result = await operation()
        except sqlite3.OperationalError as exc:
            if not is_database_locked(exc):
                raise
            attempt += 1
            if attempt > retries:
                raise errors.SessionLockedError(
                    f"session database is locked by another program ({exc}) after {attempt} attempt(s); "
                    "close other programs that use this session file or try again later",
                    attempts=attempt,
                ) from exc
            delay = backoff_delay(attempt)
            logger.warning(
                "connect database is locked, retry %d/%d in %g s: %s", attempt, retries, delay, exc
            )
            await sleep(delay)
            continue
        if attempt:
            logger.info("connect succeeded after %d attempt(s)", attempt + 1)
        return result
