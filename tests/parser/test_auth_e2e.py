"""Sign-in end to end on handshake-only sessions: two-run code flow, 2FA, errors, and no secrets
in any log or output. Real CLI subprocesses against the local server."""
from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.cli import DUMMY_API_HASH, cli_env, json_error, read_app_log, run_cli
from testkit.server import make_session, running_server

PHONE, CODE = "+15557770123", "86420"
PHONE_2FA, CODE_2FA, PASSWORD = "+15557770999", "97531", "pa55-Secret-2fa"
SCENARIO = {
    "accounts": [
        {"user_id": 200001, "phone": PHONE, "code": CODE},
        {"user_id": 200002, "phone": PHONE_2FA, "code": CODE_2FA, "password": PASSWORD, "hint": "usual"},
    ],
    "channels": [{"id": 1222333444, "username": "auth_chan", "title": "Auth channel", "generate": {"count": 3}}],
}
STATE = "telegram_auth_state.json"


@pytest.fixture(scope="module")
def server() -> Iterator:
    with running_server(SCENARIO) as srv:
        yield srv


@pytest.fixture
def session(server, tmp_path: Path) -> str:
    """A handshake-only (not signed in) session in tmp_path; returns its --session-file name."""
    make_session(server, tmp_path / "fresh.session", authorized=False)
    return "fresh"


def channels(tmp_path: Path, **env: str | None):
    e = cli_env(tmp_path, **env)
    return run_cli(["channels", "--session-file", "fresh"], e), e


def assert_auth_error(result, env: dict, fragment: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    json_error(result, "AUTH_ERROR")
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], result.stderr
    assert any(ln.endswith("error_code=AUTH_ERROR") and fragment in ln for ln in read_app_log(env).splitlines())


def state_file(tmp_path: Path) -> Path:
    return tmp_path / "applogs" / STATE


def test_unauthorised_session_without_phone(session: str, tmp_path: Path) -> None:
    result, env = channels(tmp_path)
    assert_auth_error(result, env, "the session is not signed in and TELEGRAM_PHONE is not set")
    assert not state_file(tmp_path).exists()


def test_two_run_code_flow(server, session: str, tmp_path: Path) -> None:
    result, env = channels(tmp_path, TELEGRAM_PHONE=PHONE)
    assert_auth_error(result, env, "set TELEGRAM_CODE to it and run again")
    saved = json.loads(state_file(tmp_path).read_text(encoding="utf-8"))
    assert set(saved) == {"created_at", "phone", "phone_code_hash"}
    assert saved["phone"] == PHONE and saved["phone_code_hash"]
    assert server.requests.count("auth.sendCode") >= 1
    sent_before = server.requests.count("auth.sendCode")

    result, env = channels(tmp_path, TELEGRAM_PHONE=PHONE, TELEGRAM_CODE=CODE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"id": -1001222333444, "username": "auth_chan", "title": "Auth channel"}]
    assert server.requests.count("auth.sendCode") == sent_before  # the saved hash was used
    assert not state_file(tmp_path).exists()

    result, _ = channels(tmp_path)  # signed in for good: no phone needed any more
    assert result.returncode == 0, result.stderr


def test_login_code_alias(session: str, tmp_path: Path) -> None:
    channels(tmp_path, TELEGRAM_PHONE=PHONE)
    result, _ = channels(tmp_path, TELEGRAM_PHONE=PHONE, TELEGRAM_LOGIN_CODE=CODE)
    assert result.returncode == 0, result.stderr
    assert not state_file(tmp_path).exists()


def test_wrong_code_then_right_code(session: str, tmp_path: Path) -> None:
    channels(tmp_path, TELEGRAM_PHONE=PHONE)
    result, env = channels(tmp_path, TELEGRAM_PHONE=PHONE, TELEGRAM_CODE="00000")
    assert_auth_error(result, env, "the login code is wrong")
    assert state_file(tmp_path).exists()  # the pending login stays usable
    result, _ = channels(tmp_path, TELEGRAM_PHONE=PHONE, TELEGRAM_CODE=CODE)
    assert result.returncode == 0, result.stderr


def test_code_without_saved_login_requests_a_new_one(server, session: str, tmp_path: Path) -> None:
    before = server.requests.count("auth.sendCode")
    result, env = channels(tmp_path, TELEGRAM_PHONE=PHONE, TELEGRAM_CODE=CODE)
    assert_auth_error(result, env, "a new login code was sent")
    assert server.requests.count("auth.sendCode") == before + 1
    assert state_file(tmp_path).exists()
    result, _ = channels(tmp_path, TELEGRAM_PHONE=PHONE, TELEGRAM_CODE=CODE)
    assert result.returncode == 0, result.stderr


def test_expired_saved_login_is_dropped(session: str, tmp_path: Path) -> None:
    state = state_file(tmp_path)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"created_at": "2020-01-01T00:00:00Z", "phone": PHONE,
                                 "phone_code_hash": "stale-hash"}), encoding="utf-8")
    result, env = channels(tmp_path, TELEGRAM_PHONE=PHONE, TELEGRAM_CODE=CODE)
    assert_auth_error(result, env, "the login code has expired")
    assert not state.exists()


def test_unknown_phone(session: str, tmp_path: Path) -> None:
    channels(tmp_path, TELEGRAM_PHONE="+15550000000")
    result, env = channels(tmp_path, TELEGRAM_PHONE="+15550000000", TELEGRAM_CODE="11111")
    assert result.returncode == 1
    assert "AUTH_ERROR" in read_app_log(env)


def test_two_step_verification(session: str, tmp_path: Path) -> None:
    channels(tmp_path, TELEGRAM_PHONE=PHONE_2FA)
    result, env = channels(tmp_path, TELEGRAM_PHONE=PHONE_2FA, TELEGRAM_CODE=CODE_2FA)
    assert_auth_error(result, env, "set TELEGRAM_2FA_PASSWORD")  # stdin is not a terminal: no prompt
    result, env = channels(tmp_path, TELEGRAM_PHONE=PHONE_2FA, TELEGRAM_CODE=CODE_2FA,
                           TELEGRAM_2FA_PASSWORD="wrong-password")
    assert_auth_error(result, env, "password is wrong")
    result, _ = channels(tmp_path, TELEGRAM_PHONE=PHONE_2FA, TELEGRAM_CODE=CODE_2FA,
                         TELEGRAM_2FA_PASSWORD=PASSWORD)
    assert result.returncode == 0, result.stderr
    assert not state_file(tmp_path).exists()


def _auth_key(session_path: Path) -> bytes:
    conn = sqlite3.connect(session_path)
    try:
        return conn.execute("select auth_key from sessions").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_secrets_never_in_logs_or_outputs(server, session: str, tmp_path: Path) -> None:
    outputs: list[str] = []
    steps = [
        {"TELEGRAM_PHONE": PHONE_2FA},
        {"TELEGRAM_PHONE": PHONE_2FA, "TELEGRAM_CODE": "13579"},
        {"TELEGRAM_PHONE": PHONE_2FA, "TELEGRAM_CODE": CODE_2FA},
        {"TELEGRAM_PHONE": PHONE_2FA, "TELEGRAM_CODE": CODE_2FA, "TELEGRAM_2FA_PASSWORD": "wrong-Pass-77"},
        {"TELEGRAM_PHONE": PHONE_2FA, "TELEGRAM_CODE": CODE_2FA, "TELEGRAM_2FA_PASSWORD": PASSWORD},
    ]
    for extra in steps:
        result, _ = channels(tmp_path, **extra)
        outputs += [result.stdout, result.stderr]
    assert result.returncode == 0, result.stderr
    env = cli_env(tmp_path)
    for args in (["resolve", "--channel", "@auth_chan"],
                 ["parse", "--channel", "auth_chan", "--output-dir", str(tmp_path / "out")]):
        result = run_cli([*args, "--session-file", "fresh"], env)
        assert result.returncode == 0, result.stderr
        outputs += [result.stdout, result.stderr]
    key = _auth_key(tmp_path / "fresh.session")
    secrets = [PHONE_2FA, PHONE_2FA.lstrip("+"), "13579", CODE_2FA, "wrong-Pass-77", PASSWORD, DUMMY_API_HASH,
               key.hex(), base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode()]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith((".session", ".zip"))]
    assert any(p.name == "app.log" for p in files) and any(p.name == "export.json" for p in files)
    texts = outputs + [p.read_bytes().decode("utf-8", "replace") for p in files]
    for secret in secrets:
        assert all(secret not in text for text in texts), f"a secret leaked ({len(secret)} chars)"
