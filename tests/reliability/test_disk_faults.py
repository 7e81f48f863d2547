"""Disk faults (injected OSErrors at the write points): a clean exit 1 with one `Error: cannot write
<path>: <reason>` line, STORAGE_ERROR in the logs, the previous files intact and parseable, no temp
files; a placement failure is never counted as a per-item media error; the next run completes."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import errors
from testkit.cli import cli_env, json_error, run_cli
from testkit.server import make_session
from tests.reliability.hardening_kit import (
    all_json_parses,
    app_log_codes,
    assert_consistent_prefix,
    events,
    export_dir,
    load,
    parse_args,
    scenario,
    snapshot,
    temp_leftovers,
)
from tgexport.core import fault_points
from tgexport.store.lock import export_lock_path

CHANNEL_ID = 1888000444
MEDIA = [{"every": 7, "type": "document", "size": 30000, "file_name": "a.bin"},
         {"every": 5, "type": "photo"}]
FAULT = fault_points.OSERROR_ENV


def _ids(server) -> list[int]:
    return list(server.world.channel(CHANNEL_ID).ids)


def _media_paths(out: Path) -> list[str]:
    return [f["path"] for m in load(out, "export.json")["messages"] for f in m["media_files"]]


def _assert_clean_storage_stop(result, env: dict[str, str], reason: str) -> str:
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: cannot write ") and line.endswith(f": {reason}"), line
    assert app_log_codes(env)[-1] == "STORAGE_ERROR"
    assert "Traceback" not in result.stderr
    return line


def _assert_next_run_completes(server, session: Path, out: Path, env: dict[str, str]) -> None:
    again = run_cli(parse_args("@diskchan", session, out), env, timeout=180)
    assert again.returncode == 0, again.stderr
    assert assert_consistent_prefix(out, _ids(server)) == _ids(server)
    paths = _media_paths(out)
    assert paths and all(p and (export_dir(out) / p).is_file() for p in paths)
    assert load(out, "summary.json")["media_errors_count"] == 0
    assert not temp_leftovers(out) and not (export_dir(out) / ".journal.jsonl").exists()


@pytest.mark.parametrize(("rule", "reason"), [
    ("journal_append:1:ENOSPC", "No space left on device (injected at journal_append)"),
    ("journal_append:2:EDQUOT", "Disk quota exceeded (injected at journal_append)"),
    ("json_write:1:EACCES", "Permission denied (injected at json_write)"),
    ("json_write:2:EIO", "Input/output error (injected at json_write)"),
])
def test_write_fault_stops_cleanly_and_the_next_run_completes(server_factory, tmp_path: Path, rule: str,
                                                              reason: str) -> None:
    server = server_factory(scenario(CHANNEL_ID, "diskchan", 450, media=MEDIA))
    session, out = make_session(server, tmp_path / "acc.session"), tmp_path / "out"
    env = cli_env(tmp_path)
    result = run_cli(parse_args("@diskchan", session, out), {**env, FAULT: rule})
    line = _assert_clean_storage_stop(result, env, reason)
    assert str(export_dir(out)) in line  # the file (or, failing that, the export directory) is named
    all_json_parses(export_dir(out))
    if (export_dir(out) / "export.json").exists():
        assert_consistent_prefix(out, _ids(server))
    assert not temp_leftovers(out, keep_parts=True) and not export_lock_path(out, CHANNEL_ID).exists()
    finished = [e["data"] for e in events(out, "errors.log") if e["event"] == "run_finished"]
    assert not finished or finished[-1]["error_code"] == "STORAGE_ERROR"
    _assert_next_run_completes(server, session, out, env)


def test_media_placement_failure_is_a_storage_stop_not_a_media_error(server_factory, tmp_path: Path) -> None:
    server = server_factory(scenario(CHANNEL_ID, "diskchan", 300, media=MEDIA))
    session, out = make_session(server, tmp_path / "acc.session"), tmp_path / "out"
    env = cli_env(tmp_path)
    result = run_cli(parse_args("@diskchan", session, out), {**env, FAULT: "media_place:3:ENOSPC"})
    _assert_clean_storage_stop(result, env, "No space left on device (injected at media_place)")
    summary = load(out, "summary.json")
    assert summary["media_errors_count"] == 0 and summary["partial_failure"] is False
    assert not any(f.get("error") for m in load(out, "export.json")["messages"] for f in m["media_files"])
    assert_consistent_prefix(out, _ids(server))
    assert not temp_leftovers(out, keep_parts=True)
    _assert_next_run_completes(server, session, out, env)


def test_disk_that_stays_full_leaves_every_previous_file_byte_identical(server_factory, tmp_path: Path) -> None:
    """An incremental run on a disk that refuses every write: nothing of the previous export changes
    (logs aside), no temp file is left, exit 1 with STORAGE_ERROR."""
    server = server_factory(scenario(CHANNEL_ID, "diskchan", 200, media=MEDIA))
    session, out = make_session(server, tmp_path / "acc.session"), tmp_path / "out"
    env = cli_env(tmp_path)
    assert run_cli(parse_args("@diskchan", session, out), env).returncode == 0
    server.world.append_messages(CHANNEL_ID, count=150)
    before = {k: v for k, v in snapshot(out).items() if "/logs/" not in k}
    full = "json_write:1+:ENOSPC,journal_append:1+:ENOSPC,media_place:1+:ENOSPC"
    result = run_cli(parse_args("@diskchan", session, out), {**env, FAULT: full})
    _assert_clean_storage_stop(result, env, "No space left on device (injected at journal_append)")
    assert {k: v for k, v in snapshot(out).items() if "/logs/" not in k} == before
    json_error(result, "STORAGE_ERROR")  # nothing could be saved: only the error, no result
    _assert_next_run_completes(server, session, out, env)


@pytest.mark.parametrize(("code", "text"), [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied"),
                                            (errno.EDQUOT, "Disk quota exceeded"), (errno.EIO, "Input/output error")])
def test_oserror_is_classified_as_storage_error_naming_the_path(code: int, text: str) -> None:
    exc = errors.as_parser_error(OSError(code, os.strerror(code), "/x/export.json"))
    assert (type(exc), exc.code, exc.exit_code) == (errors.StorageError, "STORAGE_ERROR", 1)
    assert exc.message == f"cannot write /x/export.json: {text}"
    assert errors.storage_error(OSError(code, os.strerror(code)), "/x").message == f"cannot write /x: {text}"
    assert errors.error_code_of(OSError(code, "x")) == "STORAGE_ERROR"


def test_network_and_other_os_errors_keep_their_codes() -> None:
    assert errors.error_code_of(ConnectionResetError(errno.ECONNRESET, "reset")) == "NETWORK_ERROR"
    assert errors.error_code_of(TimeoutError()) == "NETWORK_ERROR"
    assert errors.error_code_of(OSError(errno.EBADF, "bad fd")) == "EXTERNAL_API_ERROR"


def test_fault_rules_persistent_and_several(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(FAULT, "json_write:2+:EDQUOT,media_place:1:EACCES")
    fault_points.reload_from_env()
    try:
        fault_points.raise_os_error("json_write", tmp_path / "a.json")  # pass 1 writes
        for _ in range(3):  # pass 2 and every later one fail: a disk that stays full
            with pytest.raises(OSError) as caught:
                fault_points.raise_os_error("json_write", tmp_path / "a.json")
            assert (caught.value.errno, caught.value.filename) == (errno.EDQUOT, str(tmp_path / "a.json"))
        with pytest.raises(PermissionError):
            fault_points.raise_os_error("media_place")
        fault_points.raise_os_error("media_place")  # one-shot rule
    finally:
        monkeypatch.delenv(FAULT)
        fault_points.reload_from_env()
