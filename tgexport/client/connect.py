"""Client construction and connect: a Telethon client on the checked session file, retried while the
session's SQLite database is locked."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telethon import TelegramClient

import errors
from errors import is_database_locked
from tgexport.client.proxy import ProxySpec, require_loopback_proxy
from tgexport.config.environment import require_local_server
from tgexport.config.modes import backoff_delay
from tgexport.session import database as session_db

T = TypeVar("T")
log = logging.getLogger("tgexport.client.connect")

DEFAULT_RETRIES = 5
async def retry_locked_database(
    operation: Callable[[], Awaitable[T]],
    *,
    retries: int = DEFAULT_RETRIES,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    logger: logging.Logger,
) -> T:
    """Await `operation()`, retrying up to `retries` times while it raises `database is locked`.

    `operation` must build the client and connect, and must close what it opened when it
    fails (see `tgexport.session.database.discard_session`), or its own open SQLite connection can
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
                    hint="close the other program that has this .session file open (a Telethon script, "
                         "an SQLite viewer), or use another --session-file; then run again",
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


# Through a proxy, a refused, unreachable or credential-rejecting proxy fails within about
# (PROXY_CONNECT_RETRIES + 1) * (PROXY_CONNECT_TIMEOUT + PROXY_RETRY_DELAY) seconds (+2 s a try for MTProxy).
PROXY_CONNECT_RETRIES = 1
PROXY_CONNECT_TIMEOUT = 5
PROXY_RETRY_DELAY = 1
# The whole connect through a proxy, however Telethon retries: an MTProxy with a wrong secret accepts every
# TCP connection and then closes it, which Telethon's reconnect loop would retry without end.
PROXY_CONNECT_DEADLINE = 30.0


def _client_kwargs(proxy: ProxySpec | None) -> dict[str, Any]:
    if proxy is None:
        return {}
    return {**proxy.client_kwargs(), "connection_retries": PROXY_CONNECT_RETRIES,
            "retry_delay": PROXY_RETRY_DELAY, "timeout": PROXY_CONNECT_TIMEOUT}


async def open_client(session_file: str, api_id: int, api_hash: str, proxy: ProxySpec | None = None) -> TelegramClient:
    """Build a client on the session file (loopback-checked when required) and connect it, through
    `proxy` when given; on failure everything opened is closed again (the SQLite connection too, so a
    retry is not blocked by it). A proxy that cannot be used raises NetworkError naming it (redacted)."""
    if require_local_server():
        require_loopback_proxy(proxy)
    session = session_db.open_checked_session(session_file, require_local_server())
    client = TelegramClient(session, api_id, api_hash, flood_sleep_threshold=0, receive_updates=False,
                            **_client_kwargs(proxy))
    if proxy is not None:
        log.info("connecting through proxy %s", proxy.display)
    try:
        async with asyncio.timeout(PROXY_CONNECT_DEADLINE if proxy is not None else None):
            await client.connect()
    except BaseException as exc:
        await quiet_disconnect(client)
        session_db.discard_session(session)
        if proxy is not None and isinstance(exc, OSError | TimeoutError):
            raise _proxy_error(proxy, exc) from exc
        raise
    return client


def _proxy_error(proxy: ProxySpec, exc: BaseException) -> errors.NetworkError:
    """NETWORK_ERROR naming the proxy (redacted) and why connecting through it failed."""
    if isinstance(exc, TimeoutError):
        reason = f"no working connection within {PROXY_CONNECT_DEADLINE:g} s"
    elif str(exc).startswith("Connection to Telegram failed"):  # Telethon's words once its retries are used up
        reason = f"{PROXY_CONNECT_RETRIES + 1} connection attempts failed; the app log has each attempt's reason"
    else:
        reason = errors.one_line(exc)
    wrong = "the secret is wrong" if proxy.kind == "mtproxy" else "rejected the credentials"
    return errors.NetworkError(
        f"cannot reach Telegram through proxy {proxy.display}: the proxy refused the connection, {wrong} "
        f"or is unreachable ({reason})", proxy=proxy.display)


async def quiet_disconnect(client: TelegramClient) -> None:
    """Disconnect, ignoring errors of a half-open client."""
    try:
        await client.disconnect()
    except Exception as exc:  # noqa: BLE001 - best effort on the way out
        log.debug("disconnect failed: %s", exc)
