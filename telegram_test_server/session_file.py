"""Create a real Telethon SQLite session that points at the local server (handshake, optional sign-in)."""
from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from telethon import TelegramClient
from telethon.errors import SessionPasswordNeededError
from telethon.sessions import SQLiteSession

from telegram_test_server.protocol import keys

DUMMY_API_ID = 12345
DUMMY_API_HASH = "0123456789abcdef0123456789abcdef"
_FALLBACK_PHONE, _FALLBACK_CODE = "+15550100001", "12345"


class SessionError(Exception):
    """The session could not be created (non-loopback address, existing file, sign-in refused)."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_ready(ready: str | Path | dict[str, Any]) -> dict[str, Any]:
    """Load a ready file (or pass a dict through) and check it names a loopback server."""
    info = dict(ready) if isinstance(ready, dict) else json.loads(Path(ready).read_text(encoding="utf-8"))
    if not is_loopback(str(info["host"])):
        raise SessionError(f"refusing non-loopback server address {info['host']!r}")
    return info


def _defaults() -> tuple[str, str]:
    try:
        from telegram_test_server.world.scenario import DEFAULT_CODE, DEFAULT_PHONE
    except ImportError:  # handlers not installed yet: the documented default account
        return _FALLBACK_PHONE, _FALLBACK_CODE
    return DEFAULT_PHONE, DEFAULT_CODE


def _new_session(out: Path, host: str, port: int, dc_id: int) -> SQLiteSession:
    if out.suffix != ".session":
        raise SessionError(f"session path must end in .session: {out}")
    if out.exists():
        raise SessionError(f"session file already exists: {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    session = SQLiteSession(str(out))
    session.set_dc(dc_id, host, port)
    session.save()
    return session


async def _sign_in(client: TelegramClient, phone: str, code: str, password: str | None) -> None:
    await client.sign_in(phone)
    try:
        await client.sign_in(phone, code)
    except SessionPasswordNeededError:
        if password is None:
            raise SessionError("the account has a 2FA password; pass password=") from None
        await client.sign_in(password=password)
    if not await client.is_user_authorized():
        raise SessionError("sign-in did not authorise the session")


async def make_session(ready: str | Path | dict[str, Any], out: str | Path, *, authorized: bool = True,
                       phone: str | None = None, code: str | None = None, password: str | None = None) -> Path:
    """Create `out` (.session): real handshake with the server, then (authorized=True) real sign-in."""
    info = read_ready(ready)
    out = Path(out)
    keys.register_with_telethon()
    session = _new_session(out, str(info["host"]), int(info["port"]), int(info.get("dc_id", 2)))
    client = TelegramClient(session, DUMMY_API_ID, DUMMY_API_HASH, receive_updates=False)
    try:
        await client.connect()
        if authorized:
            default_phone, default_code = _defaults()
            await _sign_in(client, phone or default_phone, code or default_code, password)
    except BaseException:
        await client.disconnect()
        out.unlink(missing_ok=True)
        raise
    await client.disconnect()
    return out
