"""Sign-in flows: first sign-in by phone, the two-run code flow, two-step verification.

The phone, code, password and api hash are never logged. The auth-state file
(`telegram_auth_state.json` in the app-log folder) holds `{created_at, phone,
phone_code_hash}` between run 1 and run 2 and is removed after a successful sign-in.
When the code was accepted but the 2FA password is still missing or wrong, the file also
gets `"password_needed": true`: Telegram has consumed the code, so the next run sends
only the password.
"""
from __future__ import annotations

import getpass
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telethon import errors as tl_errors

from errors import AUTH_ERROR, AuthError
from tgexport.config.environment import Credentials
from tgexport.core.atomic_json import write_json_atomic
from tgexport.core.timeutil import utc_now_iso

log = logging.getLogger("tgexport.client.auth")

AUTH_STATE_FILE = "telegram_auth_state.json"


def _stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _ask_on_stderr(prompt: str) -> str:
    """Read one line from stdin, prompting on stderr (stdout carries only the JSON result)."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().strip()


@dataclass
class AuthIO:
    """Console hooks, injectable for tests: a TTY check, a code prompt and a password prompt."""

    is_tty: Callable[[], bool] = _stdin_is_tty
    ask_code: Callable[[str], str] = _ask_on_stderr
    ask_password: Callable[[str], str] = getpass.getpass


def save_auth_state(path: Path, phone: str, phone_code_hash: str, *, password_needed: bool = False) -> None:
    """Atomically write `{created_at, phone, phone_code_hash}` (+ `password_needed`), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"created_at": utc_now_iso(), "phone": phone, "phone_code_hash": phone_code_hash}
    if password_needed:
        data["password_needed"] = True
    write_json_atomic(path, data, mode=0o600)  # holds the phone number: owner only


def load_auth_state(path: Path, phone: str) -> dict[str, Any] | None:
    """The saved state for `phone` with a non-empty hash, or None (no file, other phone, unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable sign-in state %s (%s); a new code will be requested",
                    path, type(exc).__name__, extra={"error_code": AUTH_ERROR})
        return None
    if not isinstance(data, dict) or data.get("phone") != phone:
        return None
    value = data.get("phone_code_hash")
    return data if isinstance(value, str) and value else None


def load_code_hash(path: Path, phone: str) -> str | None:
    """The saved phone_code_hash for `phone`, or None."""
    state = load_auth_state(path, phone)
    return state["phone_code_hash"] if state else None


def clear_auth_state(path: Path) -> None:
    """Remove the auth-state file if present."""
    path.unlink(missing_ok=True)


async def _request_code(client: Any, phone: str, state_path: Path) -> str:
    try:
        sent = await client.send_code_request(phone)
    except tl_errors.PhoneNumberInvalidError as exc:
        raise AuthError("TELEGRAM_PHONE is not a valid phone number",
                        hint="set TELEGRAM_PHONE to the account's number with its country code (+…), then run again") from exc
    except tl_errors.PhoneNumberBannedError as exc:
        raise AuthError("this phone number is banned by Telegram",
                        hint="this account cannot sign in: use another TELEGRAM_PHONE with another --session-file") from exc
    save_auth_state(state_path, phone, sent.phone_code_hash)
    log.info("login code requested; auth state saved to %s", state_path.name)
    return sent.phone_code_hash


async def _two_step(client: Any, creds: Credentials, io: AuthIO, state_path: Path) -> None:
    password = creds.password
    if not password and io.is_tty():
        password = io.ask_password("Two-step verification password: ")
    if not password:
        raise AuthError("two-step verification is enabled for this account: set TELEGRAM_2FA_PASSWORD and run again")
    try:
        await client.sign_in(password=password)
    except tl_errors.PasswordHashInvalidError as exc:
        raise AuthError("the two-step verification password is wrong (TELEGRAM_2FA_PASSWORD)",
                        hint="set TELEGRAM_2FA_PASSWORD to the account's two-step verification password and run "
                             "again (TELEGRAM_CODE is not needed again)") from exc
    except tl_errors.RPCError as exc:
        clear_auth_state(state_path)
        raise AuthError(f"the pending sign-in is no longer valid ({exc.message}): "
                        "unset TELEGRAM_CODE and run again to get a new code") from exc


async def _sign_in_with_code(client: Any, phone: str, code: str, code_hash: str, state_path: Path) -> bool:
    """Submit the code; True when 2FA is needed next. AuthError on a wrong or expired code."""
    try:
        await client.sign_in(phone=phone, code=code, phone_code_hash=code_hash)
    except tl_errors.SessionPasswordNeededError:
        return True
    except (tl_errors.PhoneCodeInvalidError, tl_errors.PhoneCodeEmptyError) as exc:
        raise AuthError("the login code is wrong: set TELEGRAM_CODE to the code Telegram sent and run again") from exc
    except (tl_errors.PhoneCodeExpiredError, tl_errors.PhoneCodeHashEmptyError) as exc:
        clear_auth_state(state_path)
        raise AuthError("the login code has expired: unset TELEGRAM_CODE and run again to get a new code") from exc
    except tl_errors.PhoneNumberUnoccupiedError as exc:
        raise AuthError("no Telegram account uses this phone number (sign up in an official app first)",
                        hint="create the account in an official Telegram app, then run again") from exc
    return False


async def ensure_authorized(
    client: Any, creds: Credentials, state_path: Path, io: AuthIO | None = None
) -> None:
    """Sign `client` in if its session is not authorised; AuthError when it cannot be done now."""
    io = io or AuthIO()
    if await client.is_user_authorized():
        return
    if not creds.phone:
        raise AuthError(
            "the session is not signed in and TELEGRAM_PHONE is not set: "
            "set TELEGRAM_PHONE (and later TELEGRAM_CODE) to sign in"
        )
    phone = creds.phone
    state = load_auth_state(state_path, phone)
    if state and state.get("password_needed"):
        await _two_step(client, creds, io, state_path)
        return _signed_in(state_path)
    code = creds.code
    code_hash = state["phone_code_hash"] if state and code else None
    if code_hash is None:
        code_hash = await _request_code(client, phone, state_path)
        if code and not io.is_tty():
            raise AuthError("no pending login was saved, so a new login code was sent: "
                            "set TELEGRAM_CODE to the new code and run again")
        code = None
    if not code and io.is_tty():
        code = io.ask_code("Login code: ").strip()
    if not code:
        raise AuthError("a login code was sent to your Telegram app: set TELEGRAM_CODE to it and run again")
    needs_password = await _sign_in_with_code(client, phone, code, code_hash, state_path)
    if needs_password:
        log.info("two-step verification required")
        save_auth_state(state_path, phone, code_hash, password_needed=True)
        await _two_step(client, creds, io, state_path)
    _signed_in(state_path)


def _signed_in(state_path: Path) -> None:
    clear_auth_state(state_path)
    log.info("signed in")
