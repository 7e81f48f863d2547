"""A successful `parse` through the CLI: one run id in app log, export logs and summary; JSON stdout."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.cli import cli_env, read_app_log, run_cli
from testkit.server import make_session, running_server

SCENARIO = {"channels": [{"id": 1999000111, "username": "run_chan", "title": "Запуск ✓",
                          "generate": {"count": 150}}]}
APP_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}Z (INFO|WARNING|ERROR) \[([0-9a-f]{8}|-)\] [\w.]+: ")
RESULT_KEYS = {"summary", "partial_failure", "export_dir", "export_json", "state_json", "media_index_json",
               "summary_json", "archive", "updated_messages", "new_messages"}


@pytest.fixture(scope="module")
def server() -> Iterator:
    with running_server(SCENARIO) as srv:
        yield srv


def test_parse_run_id_everywhere(server, tmp_path: Path) -> None:
    make_session(server, tmp_path / "acc.session")
    env = cli_env(tmp_path, TELEGRAM_PARSER_OUTPUT_DIR=str(tmp_path / "exports"))
    result = run_cli(["parse", "--channel", "https://t.me/run_chan/3", "--session-file", "acc"], env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert set(out) == RESULT_KEYS
    assert out["partial_failure"] is False
    assert len(out["new_messages"]) == 150
    assert Path(out["export_dir"]).parent == tmp_path / "exports"  # default from TELEGRAM_PARSER_OUTPUT_DIR
    run_id = out["summary"]["run_id"]
    assert re.fullmatch(r"[0-9a-f]{8}", run_id)
    assert json.loads(Path(out["summary_json"]).read_text(encoding="utf-8"))["run_id"] == run_id

    app_lines = [ln for ln in read_app_log(env).splitlines() if APP_LINE.match(ln)]
    assert app_lines and {APP_LINE.match(ln).group(2) for ln in app_lines} == {run_id}
    run_log = Path(out["export_dir"]) / "logs" / "run.log"
    events = [json.loads(ln) for ln in run_log.read_text(encoding="utf-8").splitlines()]
    assert events and all(e["data"]["run_id"] == run_id for e in events)

    again = run_cli(["parse", "--channel", "run_chan", "--session-file", "acc"], env)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["summary"]["run_id"] != run_id  # one run id per process
    assert second["export_dir"] == out["export_dir"] and second["new_messages"] == []


def test_every_app_log_line_has_the_contract_format(server, tmp_path: Path) -> None:
    make_session(server, tmp_path / "acc.session")
    env = cli_env(tmp_path)
    run_cli(["parse", "--channel", "run_chan", "--session-file", "acc", "--output-dir", "o", "--dry-run"], env)
    run_cli(["resolve", "--session-file", "acc"], env)
    text = read_app_log(env)
    assert text
    assert all(APP_LINE.match(ln) for ln in text.splitlines()), text
