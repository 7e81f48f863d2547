"""Secrets stay secret (issue 5.8): a full sign-in (two-run code flow, then 2FA) and a zipped parse
against the local server with distinctive credentials; afterwards no file the runs produced, nor
stdout/stderr, holds the API hash, phone, code, password or auth key in any common encoding, and
the files that hold secrets or session data are owner-only (0600) on POSIX.
"""
from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from session_lock import SessionLock
from testkit.cli import cli_env, run_cli
from testkit.server import make_session, running_server
from tgexport.session.database import open_session
from tgexport.store.lock import ExportLock

API_HASH = "5ec0a91d0c4e2fb8a6d3c9e7f1b04277"
PHONE_DIGITS = "491573918264"
PHONE = "+49 1573 918264"  # as a user might write it in .env
CODE = "7304918"
PASSWORD = "Sphinx of black quartz-9!ü"
WRONG_PASSWORD = "Judge-my-vow-42?"
SCENARIO = {
    "accounts": [{"user_id": 300001, "phone": PHONE_DIGITS, "code": CODE, "password": PASSWORD,
                  "first_name": "Sec"}],
    "channels": [{"id": 1333444555, "username": "secret_chan", "title": "Secrets",
                  "generate": {"count": 40, "media": [{"every": 10, "type": "document", "size": 3000,
                                                       "file_name": "doc.bin"}]}}],
}
POSIX = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
STATE_FILE = "telegram_auth_state.json"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _forms(secret: str) -> set[str]:
    """A secret as plain text, upper/lower case, URL-encoded, hex and base64 of its UTF-8 bytes."""
    raw = secret.encode("utf-8")
    forms = {secret, secret.upper(), secret.lower(), urllib.parse.quote(secret), urllib.parse.quote_plus(secret),
             urllib.parse.quote(secret, safe=""), raw.hex(), raw.hex().upper(),
             base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return {f for f in forms if f}


def _phone_forms() -> set[str]:
    d = PHONE_DIGITS
    written = {PHONE, "+" + d, d, d[2:], f"{d[:2]} {d[2:6]} {d[6:]}", f"+{d[:2]}-{d[2:6]}-{d[6:]}",
               f"+{d[:2]} {d[2:5]} {d[5:8]} {d[8:]}", f"({d[2:6]}) {d[6:]}"}
    return set().union(*(_forms(p) for p in written))


def _key_forms(key: bytes) -> set[str]:
    """The 256-byte auth key (and its first 16 bytes, a partial leak) in hex and base64 forms."""
    forms = set()
    for part in (key, key[:16]):
        forms |= {part.hex(), part.hex().upper(), base64.b64encode(part).decode(),
                  base64.urlsafe_b64encode(part).decode(), base64.b64encode(part).decode().rstrip("=")}
    return forms


def _auth_key(session: Path) -> bytes:
    conn = sqlite3.connect(session)
    try:
        key = conn.execute("select auth_key from sessions").fetchone()[0]
    finally:
        conn.close()
    assert isinstance(key, bytes) and len(key) == 256
    return key


def _texts(tmp: Path) -> dict[str, str]:
    """Every file under `tmp` except the session database, zips unpacked, as text (bytes kept as latin-1)."""
    out: dict[str, str] = {}
    for path in sorted(p for p in tmp.rglob("*") if p.is_file() and p.suffix != ".session"):
        data = path.read_bytes()
        out[str(path)] = data.decode("utf-8", "replace") + data.decode("latin-1")
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    member = archive.read(name)
                    out[f"{path}!{name}"] = member.decode("utf-8", "replace") + member.decode("latin-1")
    return out


class Flow:
    """Records every CLI result (stdout and stderr are searched too) and the auth-state modes seen."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.results: list[subprocess.CompletedProcess[str]] = []
        self.state_modes: list[int] = []

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        result = run_cli([*args, "--session-file", "acc"], cli_env(self.tmp, TELEGRAM_API_HASH=API_HASH, **env))
        self.results.append(result)
        state = self.tmp / "applogs" / STATE_FILE
        if state.exists():
            self.state_modes.append(mode_of(state))
        return result


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory) -> Iterator[tuple[Path, Flow]]:
    """Handshake-only session, then: run 1 (phone) → run 2 (code, 2FA needed) → wrong password →
    run 4 (password) signs in and parses with --zip; then `channels`, `resolve`, a second parse."""
    tmp = tmp_path_factory.mktemp("secrets")
    with running_server(SCENARIO) as server:
        session = make_session(server, tmp / "acc.session", authorized=False)
        session.chmod(0o644)  # as a user's umask may leave it
        flow = Flow(tmp)
        parse = ("parse", "--channel", "secret_chan", "--output-dir", str(tmp / "out"), "--zip")
        first = flow.run(*parse, TELEGRAM_PHONE=PHONE)
        assert first.returncode == 1 and "set TELEGRAM_CODE" in first.stderr, first.stderr
        second = flow.run(*parse, TELEGRAM_PHONE=PHONE, TELEGRAM_CODE=CODE)
        assert second.returncode == 1 and "TELEGRAM_2FA_PASSWORD" in second.stderr, second.stderr
        wrong = flow.run(*parse, TELEGRAM_PHONE=PHONE, TELEGRAM_CODE=CODE, TELEGRAM_2FA_PASSWORD=WRONG_PASSWORD)
        assert wrong.returncode == 1 and "password is wrong" in wrong.stderr, wrong.stderr
        done = flow.run(*parse, TELEGRAM_PHONE=PHONE, TELEGRAM_CODE=CODE, TELEGRAM_2FA_PASSWORD=PASSWORD)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["summary"]["media_saved"] == 4
        for args in (("channels",), ("resolve", "--channel", "@secret_chan"), parse):
            again = flow.run(*args)  # signed in for good: no phone, code or password any more
            assert again.returncode == 0, again.stderr
        assert server.requests.count("auth.checkPassword") >= 2
        yield tmp, flow


@pytest.mark.slow
def test_no_secret_in_any_output(signed_in) -> None:
    tmp, flow = signed_in
    key = _auth_key(tmp / "acc.session")
    secrets = {
        "api hash": _forms(API_HASH), "phone": _phone_forms(), "login code": _forms(CODE),
        "2FA password": _forms(PASSWORD), "wrong 2FA password": _forms(WRONG_PASSWORD), "auth key": _key_forms(key),
    }
    texts = _texts(tmp)
    names = {Path(p.split("!")[0]).name for p in texts}
    assert {"app.log", "errors.log", "run.log", "export.json", "state.json", "summary.json",
            "media-index.json"} <= names and any(p.endswith(".zip") for p in texts)
    assert any("!media/documents/" in p for p in texts)
    for i, result in enumerate(flow.results):
        texts[f"run {i} stdout"], texts[f"run {i} stderr"] = result.stdout, result.stderr
    leaks = [(what, where) for what, forms in secrets.items() for where, text in texts.items()
             if any(form in text for form in forms)]
    assert leaks == [], f"secrets found (kind, file): {leaks}"


def test_auth_state_is_owner_only_and_gone_after_sign_in(signed_in) -> None:
    tmp, flow = signed_in
    assert flow.state_modes, "the two-run flow saved no auth state"
    if os.name == "posix":
        assert set(flow.state_modes) == {0o600}
    assert not list((tmp / "applogs").glob("*auth_state*"))  # deleted, no temp copy left


def test_no_session_journal_or_lock_left(signed_in) -> None:
    tmp, _ = signed_in
    leftovers = [p.name for p in tmp.iterdir() if p.name.startswith("acc.session") and p.name != "acc.session"]
    assert leftovers == []


@POSIX
def test_session_file_is_owner_only(signed_in) -> None:
    tmp, _ = signed_in
    assert mode_of(tmp / "acc.session") == 0o600  # was 0644 before the first run


@POSIX
def test_new_session_and_its_journal_are_owner_only(tmp_path: Path) -> None:
    """A session the tool creates is 0600 before SQLite writes to it; SQLite's journal follows it.

    Only the SQLite session object is used here: no client, nothing connects anywhere."""
    session = open_session(str(tmp_path / "new"))
    try:
        db = tmp_path / "new.session"
        assert mode_of(db) == 0o600
        session.set_dc(2, "127.0.0.1", 1)
        conn = session._conn
        conn.execute("update sessions set port = 2")  # an open write transaction has a rollback journal
        journal = tmp_path / "new.session-journal"
        assert journal.exists() and mode_of(journal) == 0o600
        conn.rollback()
    finally:
        session.close()


@POSIX
def test_existing_session_is_tightened_on_open(tmp_path: Path) -> None:
    db = tmp_path / "old.session"
    open_session(str(db)).close()
    db.chmod(0o664)
    open_session(str(tmp_path / "old")).close()
    assert mode_of(db) == 0o600


@POSIX
@pytest.mark.parametrize("make_lock", [
    lambda tmp: SessionLock(tmp / "acc"),  # session_lock.py
    lambda tmp: ExportLock(tmp / "out", 1333444555),  # tgexport/store/lock.py
], ids=["session-lock", "export-lock"])
def test_lock_files_are_owner_only(tmp_path: Path, make_lock) -> None:
    """Lock files name their owner (PID, host, command): 0600 while held, removed on release."""
    lock = make_lock(tmp_path)
    lock.acquire()
    try:
        assert mode_of(lock.lock_path) == 0o600
    finally:
        lock.release()
    assert not lock.lock_path.exists()
