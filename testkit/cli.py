"""Run the real CLI (`telegram_parser_skill.py`) as a subprocess with a clean, test-safe environment."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "telegram_parser_skill.py"
DUMMY_API_ID = "12345"
DUMMY_API_HASH = "0123456789abcdef0123456789abcdef"


def cli_env(tmp_path: Path | str, **overrides: str | None) -> dict[str, str]:
    """A clean environment for one CLI run rooted at `tmp_path`.

    Inherited `TELEGRAM_*` variables are dropped; dummy API credentials, app logs
    in `<tmp>/applogs`, a `.env` path that does not exist, no voluntary pauses and
    the loopback-only guard are set. An override of `None` removes that variable.
    """
    tmp = Path(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(
        TELEGRAM_API_ID=DUMMY_API_ID,
        TELEGRAM_API_HASH=DUMMY_API_HASH,
        TELEGRAM_PARSER_LOG_DIR=str(tmp / "applogs"),
        TELEGRAM_PARSER_ENV_FILE=str(tmp / "no-such-dir" / ".env"),
        TELEGRAM_PARSER_PAUSE_SCALE="0",
        TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER="1",
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def _default_cwd(env: dict[str, str]) -> Path:
    """The folder above the app-log dir (the test's tmp_path), so `./out` never lands in the repo."""
    cwd = Path(env.get("TELEGRAM_PARSER_LOG_DIR", str(REPO_ROOT / "logs"))).parent
    cwd.mkdir(parents=True, exist_ok=True)
    return cwd


def _argv(args: Sequence[str]) -> list[str]:
    return [sys.executable, str(SCRIPT), *[str(a) for a in args]]


def run_cli(
    args: Sequence[str],
    env: dict[str, str],
    cwd: Path | str | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python telegram_parser_skill.py *args` to completion; text stdout/stderr (UTF-8)."""
    return subprocess.run(
        _argv(args),
        env=env,
        cwd=str(cwd) if cwd is not None else str(_default_cwd(env)),
        timeout=timeout,
        capture_output=True,
        text=True,
        encoding="utf-8",
        input=input if input is not None else "",
    )


def start_cli(
    args: Sequence[str], env: dict[str, str], cwd: Path | str | None = None
) -> subprocess.Popen[str]:
    """Start the CLI without waiting (for SIGINT/SIGTERM and lock tests); stdin is /dev/null."""
    return subprocess.Popen(
        _argv(args),
        env=env,
        cwd=str(cwd) if cwd is not None else str(_default_cwd(env)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def app_log_dir(env: dict[str, str]) -> Path:
    """The app-log folder the CLI uses under `env`."""
    return Path(env.get("TELEGRAM_PARSER_LOG_DIR", str(REPO_ROOT / "logs")))


def read_app_log(env: dict[str, str], name: str = "app.log") -> str:
    """Text of the CLI's app log (`app.log` or `errors.log`); "" when it does not exist."""
    path = app_log_dir(env) / name
    return path.read_text(encoding="utf-8") if path.exists() else ""


def json_error(result: subprocess.CompletedProcess[str], code: str | None) -> dict[str, Any]:
    """The `error` of a failed run that saved nothing: stdout is exactly one JSON object `{"error": …}`
    with `code`, the stderr `Error:` line's text as `message`, and a non-empty `hint`."""
    printed = json.loads(result.stdout)
    assert isinstance(printed, dict) and set(printed) == {"error"}, result.stdout
    error = printed["error"]
    assert error["error_code"] == code, error
    assert set(error) - {"retry_after"} == {"error_code", "message", "hint"}, error
    assert isinstance(error["hint"], str) and error["hint"].strip(), error
    assert f"Error: {error['message']}" in result.stderr.splitlines(), (error, result.stderr)
    return error
