"""The README's demo command: `python demo.py` exports @demo_channel end to end (server, session, CLI)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.cli import REPO_ROOT, cli_env


def run_demo(work: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(work)  # no TELEGRAM_* from the caller; demo.py sets its own
    return subprocess.run([sys.executable, str(REPO_ROOT / "demo.py"), "--work-dir", str(work), *extra],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300)


@pytest.mark.slow
def test_demo_exports_then_updates(tmp_path: Path) -> None:
    work = tmp_path / "demo-out"
    first = run_demo(work, "--fresh")
    assert first.returncode == 0, first.stdout + first.stderr
    result = json.loads((work / "last-result.json").read_text(encoding="utf-8"))
    export_dir = Path(result["export_dir"])
    assert export_dir.parent == work / "exports"
    assert f"export directory: {export_dir}" in first.stdout
    assert f"run events:    {export_dir / 'logs' / 'run.log'}" in first.stdout and "SKILL.md" in first.stdout
    assert first.stderr == ""  # the CLI's stderr is the demo's: no terminal here, so no progress bars
    export = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    assert export["channel_info"]["username"] == "demo_channel"
    assert export["total_messages"] == len(export["messages"]) == result["summary"]["new_messages"] > 1000
    assert any((export_dir / "media").rglob("*.*"))

    second = run_demo(work)  # kept session and server state: an incremental run with nothing new
    assert second.returncode == 0, second.stdout + second.stderr
    again = json.loads((work / "last-result.json").read_text(encoding="utf-8"))
    assert again["export_dir"] == result["export_dir"]
    assert again["summary"]["new_messages"] == 0
    assert not (work / "server.ready.json").exists()  # the server was stopped


def test_demo_failure_shows_the_error_and_what_to_do() -> None:
    import demo

    printed = '{"error": {"error_code": "SESSION_LOCKED", "message": "session is locked", "hint": "wait"}}'
    assert demo.failure_lines(printed, 1) == ["error SESSION_LOCKED: session is locked", "what to do: wait"]
    assert demo.failure_lines("", 1) == ["the CLI exited 1 without a JSON result"]
