"""The two-run sign-in state file: atomic write, private mode, phone-bound lookup, removal."""
from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from tgexport.client.auth import clear_auth_state, load_code_hash, save_auth_state
from tgexport.config.environment import Credentials


def test_save_load_clear(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "telegram_auth_state.json"
    save_auth_state(path, "+15550100001", "hash-1")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"created_at", "phone", "phone_code_hash"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", data["created_at"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind
    assert load_code_hash(path, "+15550100001") == "hash-1"
    assert load_code_hash(path, "+15550100002") is None  # saved for another phone
    clear_auth_state(path)
    assert not path.exists()
    clear_auth_state(path)  # idempotent


def test_unreadable_state_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "telegram_auth_state.json"
    path.write_text("{truncated", encoding="utf-8")
    assert load_code_hash(path, "+1") is None
    path.write_text('["list"]', encoding="utf-8")
    assert load_code_hash(path, "+1") is None
    assert load_code_hash(tmp_path / "missing.json", "+1") is None


def test_credentials_repr_hides_values(monkeypatch) -> None:
    monkeypatch.setenv("TELEGRAM_PHONE", "+15550100001")
    monkeypatch.delenv("TELEGRAM_CODE", raising=False)
    monkeypatch.setenv("TELEGRAM_LOGIN_CODE", "54321")
    monkeypatch.setenv("TELEGRAM_2FA_PASSWORD", "s3cret")
    creds = Credentials.from_env()
    assert (creds.phone, creds.code, creds.password) == ("+15550100001", "54321", "s3cret")
    text = repr(creds)
    assert "15550100001" not in text and "54321" not in text and "s3cret" not in text
    monkeypatch.setenv("TELEGRAM_CODE", "11111")
    assert Credentials.from_env().code == "11111"  # TELEGRAM_CODE wins over the alias
