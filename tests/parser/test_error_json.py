"""The JSON error every failing command prints: one hint per error code, retry_after when known,
a specific hint where the raise site knows more, and a null code for an interruption."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

import errors
from tgexport.cli import output


def test_every_error_code_has_a_hint_and_every_hint_a_code() -> None:
    defined = {v for k, v in vars(errors).items() if isinstance(v, str) and k == v}
    assert set(errors.ERROR_CODES) == defined
    assert set(errors.HINTS) == defined
    assert all(hint.strip() and "\n" not in hint for hint in errors.HINTS.values())


def test_rate_limit_carries_retry_after() -> None:
    exc = errors.RateLimitError("Telegram asked to wait 70 s", retry_after=70)
    assert errors.error_json(exc) == {"error_code": "RATE_LIMIT", "message": "Telegram asked to wait 70 s",
                                      "hint": errors.HINTS["RATE_LIMIT"], "retry_after": 70}


def test_retry_after_from_details_and_a_specific_hint() -> None:
    exc = errors.ParserError("wait for the takeout", code=errors.TAKEOUT_DELAY, hint="confirm it", retry_after=5)
    assert errors.error_json(exc) == {"error_code": "TAKEOUT_DELAY", "message": "wait for the takeout",
                                      "hint": "confirm it", "retry_after": 5}


def test_interruption_has_no_code_and_unexpected_errors_map_to_their_code() -> None:
    assert errors.error_json(KeyboardInterrupt(), "interrupted") == {
        "error_code": None, "message": "interrupted", "hint": errors.INTERRUPTED_HINT}
    assert errors.error_json(ConnectionResetError("reset"))["hint"] == errors.HINTS["NETWORK_ERROR"]


def test_missing_credentials_get_the_sign_up_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tgexport.config import environment

    monkeypatch.delenv("TELEGRAM_API_ID", raising=False)
    with pytest.raises(errors.ConfigError) as info:
        environment.load_api_credentials()
    assert "my.telegram.org" in errors.hint_for(info.value) != errors.HINTS["CONFIG_ERROR"]


def test_report_prints_one_object_and_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert output.report(errors.SessionLockedError("session is locked\n by PID 7")) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["message"] == "session is locked by PID 7"
    assert err == "Error: session is locked by PID 7\n"


def test_report_survives_a_closed_stdout(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    closed = io.TextIOWrapper(io.BytesIO())
    closed.close()
    monkeypatch.setattr("sys.stdout", closed)
    assert output.report(errors.NetworkError("network error: reset")) == 1
    assert re.fullmatch(r"Error: network error: reset\n", capsys.readouterr().err)
