"""tgexport.core.fault_points: SIGKILL at the n-th pass of a named point (in a child process), the pass
counts file, and injected OSErrors at write points."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tgexport.core import fault_points

REPO = Path(__file__).resolve().parents[2]
ENV_VARS = (fault_points.FAULT_ENV, fault_points.REPORT_ENV, fault_points.OSERROR_ENV, fault_points.COUNTS_ENV)
# Passes history_page five times and media_part once between them; prints each history_page pass it survives.
CHILD = """
from tgexport.core import fault_points
for i in range(1, 6):
    fault_points.hit("media_part")
    fault_points.hit("history_page")
    print(i, flush=True)
"""


def _child(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    clean.update(PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-c", CHILD], env=clean, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def fault_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set fault variables in this process; the module is reloaded from a clean environment afterwards."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    yield monkeypatch
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    fault_points.reload_from_env()


def test_kill_on_the_nth_pass_of_the_named_point_and_report_it(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    proc = _child(tmp_path, TELEGRAM_PARSER_FAULT_KILL="history_page:3", TELEGRAM_PARSER_FAULT_REPORT=str(report))
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout.split() == ["1", "2"]  # other points' passes do not count
    assert report.read_text(encoding="utf-8") == "history_page 3\n"


def test_a_point_never_reached_often_enough_does_not_kill(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    proc = _child(tmp_path, TELEGRAM_PARSER_FAULT_KILL="history_page:6", TELEGRAM_PARSER_FAULT_REPORT=str(report))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "2", "3", "4", "5"]
    assert not report.exists()


@pytest.mark.parametrize("value", ["history_page", "history_page:0", "history_page:x", ":3", "media_part:-1"])
def test_malformed_kill_settings_are_ignored(tmp_path: Path, value: str) -> None:
    assert _child(tmp_path, TELEGRAM_PARSER_FAULT_KILL=value).returncode == 0


def test_counts_file_holds_every_points_passes_at_exit_and_at_the_kill(tmp_path: Path) -> None:
    counts = tmp_path / "counts.json"
    assert _child(tmp_path, TELEGRAM_PARSER_FAULT_COUNTS=str(counts)).returncode == 0
    assert json.loads(counts.read_text(encoding="utf-8")) == {"history_page": 5, "media_part": 5}
    proc = _child(tmp_path, TELEGRAM_PARSER_FAULT_COUNTS=str(counts), TELEGRAM_PARSER_FAULT_KILL="media_part:2")
    assert proc.returncode == -signal.SIGKILL
    assert json.loads(counts.read_text(encoding="utf-8")) == {"history_page": 1, "media_part": 2}


def test_hit_does_nothing_without_settings(fault_env: pytest.MonkeyPatch) -> None:
    fault_points.reload_from_env()
    for _ in range(3):
        fault_points.hit("history_page")
    fault_points.raise_os_error("json_write")


def test_oserror_on_the_nth_pass_only(fault_env: pytest.MonkeyPatch) -> None:
    fault_env.setenv(fault_points.OSERROR_ENV, "json_write:2:EACCES")
    fault_points.reload_from_env()
    fault_points.raise_os_error("journal_append")  # another point: not counted
    fault_points.raise_os_error("json_write")
    with pytest.raises(OSError) as caught:
        fault_points.raise_os_error("json_write")
    assert caught.value.errno == errno.EACCES
    assert "json_write" in str(caught.value)
    fault_points.raise_os_error("json_write")  # the third pass writes again


def test_oserror_defaults_to_enospc(fault_env: pytest.MonkeyPatch) -> None:
    fault_env.setenv(fault_points.OSERROR_ENV, "media_place:1")
    fault_points.reload_from_env()
    with pytest.raises(OSError) as caught:
        fault_points.raise_os_error("media_place")
    assert caught.value.errno == errno.ENOSPC


def test_every_kill_point_the_reliability_test_uses_is_declared() -> None:
    assert {"history_page", "media_part", "media_placed", "journal_write", "journal_synced", "compact_write",
            "compact_renamed"} <= set(fault_points.POINTS)
