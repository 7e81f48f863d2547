"""Lean raw-Telethon helpers (imports only Telethon): open a client on a loopback-only session file."""
from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

from telethon import TelegramClient
from telethon.sessions import SQLiteSession

DUMMY_API_ID = 12345
DUMMY_API_HASH = "0123456789abcdef0123456789abcdef"


def _loopback(host: str) -> bool:
    """Same rule as telegram_test_server.session_file.is_loopback, kept here so the raw baseline's
    process imports nothing but Telethon (its start-up time is part of the measured ratio)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_session(path: str | Path) -> SQLiteSession:
    """Open an existing session file that names a loopback server, else raise (never dial out)."""
    if not Path(path).is_file():
        raise FileNotFoundError(path)
    session = SQLiteSession(str(path))
    if not _loopback(session.server_address or ""):
        session.close()
        raise RuntimeError(f"session {path} does not point at a loopback server")
    return session


@contextlib.asynccontextmanager
async def raw_client(path: str | Path) -> AsyncIterator[TelegramClient]:
    """A connected TelegramClient (same flags as the parser: no update loop, no auto flood sleep)."""
    client = TelegramClient(checked_session(path), DUMMY_API_ID, DUMMY_API_HASH,
                            flood_sleep_threshold=0, receive_updates=False)
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()
