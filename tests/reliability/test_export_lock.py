"""One writer per export: two runs with different sessions on one channel and output directory never
interleave; the second exits 1 at once with EXPORT_LOCKED naming the first one's PID; lock files are 0600."""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

import errors
import session_lock
from testkit.cli import cli_env, json_error, read_app_log, run_cli, start_cli
from testkit.server import make_session, server_call
from tests.reliability.hardening_kit import (
    app_log_codes,
    assert_consistent_prefix,
    finish,
    load,
    parse_args,
    scenario,
    snapshot,
    wait_until,
)
from tgexport.store.lock import ExportBusy, ExportLock, export_lock_path

CHANNEL_ID = 1777000222
OTHER_ID = 1777000333
HELD_THIRD_PAGE = [{"kind": "slow", "method": "messages.getHistory", "call": 3, "delay": 3600, "times": 1}]


def _busy_line(pid: int, out: Path) -> str:
    return (f"Error: the export of @lockchan in {out.resolve()} is being written by another process "
            f"(PID {pid}); wait for it to finish\n")


def _ids(server, channel_id: int = CHANNEL_ID) -> list[int]:
    return list(server.world.channel(channel_id).ids)


def test_second_run_on_the_same_export_is_refused_and_the_first_finishes(server_factory, tmp_path: Path) -> None:
    """The first run's third page is held by the server until the test cuts its connection (Telethon
    then reconnects and asks again), so the second run is refused while the first is mid-export."""
    server = server_factory(scenario(CHANNEL_ID, "lockchan", 900, HELD_THIRD_PAGE))
    first_session = make_session(server, tmp_path / "one.session")
    second_session = make_session(server, tmp_path / "two.session")
    out, env = tmp_path / "out", cli_env(tmp_path, TELEGRAM_PARSER_REQUEST_TIMEOUT="600")
    lock_file = export_lock_path(out, CHANNEL_ID)
    first = start_cli(parse_args("@lockchan", first_session, out), env)
    try:
        wait_until(lambda: server.requests.count("messages.getHistory") >= 3, "the first run's held page", first)
        assert json.loads(lock_file.read_text(encoding="utf-8"))["pid"] == first.pid
        if sys.platform != "win32":
            assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
        second = run_cli(parse_args("@lockchan", second_session, tmp_path / "." / "out"), env)
        assert first.poll() is None and server.requests.count("messages.getHistory") == 3  # still held
        assert server_call(server, server.drop_connections) >= 1  # let the first run go on
    finally:
        stdout, stderr = finish(first)
    assert second.returncode == 1
    assert json_error(second, "EXPORT_LOCKED")["hint"] == errors.HINTS["EXPORT_LOCKED"]
    assert second.stderr == _busy_line(first.pid, out)
    assert app_log_codes(env).count("EXPORT_LOCKED") == 1
    assert first.returncode == 0, stderr
    assert assert_consistent_prefix(out, _ids(server)) == _ids(server)  # intact: every id once, in order
    assert json.loads(stdout)["summary"]["new_messages"] == len(_ids(server))
    assert not lock_file.exists()
    assert not session_lock.lock_path_for(first_session).exists()


def test_lock_is_taken_before_the_export_directory_exists(server_factory, tmp_path: Path) -> None:
    """A holder of the export lock keeps a new run from even creating the export directory."""
    server = server_factory(scenario(CHANNEL_ID, "lockchan", 30))
    session, out, env = make_session(server, tmp_path / "acc.session"), tmp_path / "out", cli_env(tmp_path)
    holder = ExportLock(out, CHANNEL_ID, channel_name="lockchan")
    holder.acquire()
    try:
        result = run_cli(parse_args("@lockchan", session, out), env)
        left = sorted(p.name for p in out.iterdir())
    finally:
        holder.release()
    assert (result.returncode, result.stderr) == (1, _busy_line(os.getpid(), out))
    json_error(result, "EXPORT_LOCKED")
    assert left == [f".{CHANNEL_ID}.export.lock"]  # no export directory, no summary
    lines = [ln for ln in read_app_log(env).splitlines() if ln.endswith("error_code=EXPORT_LOCKED")]
    assert len(lines) == 1 and f"PID {os.getpid()}" in lines[0]
    assert not session_lock.lock_path_for(session).exists()
    assert run_cli(parse_args("@lockchan", session, out), env).returncode == 0  # free again


def test_refused_run_leaves_the_existing_export_byte_identical(server_factory, tmp_path: Path) -> None:
    server = server_factory(scenario(CHANNEL_ID, "lockchan", 60))
    session, out, env = make_session(server, tmp_path / "acc.session"), tmp_path / "out", cli_env(tmp_path)
    assert run_cli(parse_args("@lockchan", session, out), env).returncode == 0
    server.world.append_messages(CHANNEL_ID, count=5)
    before = snapshot(out)
    with ExportLock(out, CHANNEL_ID):
        result = run_cli(parse_args("@lockchan", session, out), env)
        assert snapshot(out) == {**before, f".{CHANNEL_ID}.export.lock": (out / f".{CHANNEL_ID}.export.lock").read_bytes()}
    assert result.returncode == 1 and "error_code=EXPORT_LOCKED" in read_app_log(env)
    assert snapshot(out) == before
    assert load(out, "state.json")["last_message_id"] < _ids(server)[-1]


def test_other_channels_and_other_output_dirs_are_not_blocked(tmp_path: Path) -> None:
    held = ExportLock(tmp_path / "out", CHANNEL_ID)
    held.acquire()
    try:
        with ExportLock(tmp_path / "out", OTHER_ID), ExportLock(tmp_path / "elsewhere", CHANNEL_ID):
            pass
        with pytest.raises(ExportBusy) as busy:
            ExportLock(tmp_path / "sub" / ".." / "out", CHANNEL_ID).acquire()  # same directory, other spelling
        assert busy.value.owner_pid == os.getpid() and busy.value.code == "EXPORT_LOCKED"
    finally:
        held.release()
    assert not export_lock_path(tmp_path / "out", CHANNEL_ID).exists()


def test_stale_lock_file_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    path = export_lock_path(tmp_path, CHANNEL_ID)
    path.write_text(json.dumps({"pid": 2 ** 22 + 1}), encoding="utf-8")  # nobody holds its flock
    os.chmod(path, 0o644)
    lock = ExportLock(tmp_path, CHANNEL_ID)
    lock.acquire()
    try:
        assert json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid()
        if sys.platform != "win32":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600  # made owner-only when taken over
    finally:
        lock.release()
    assert not path.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_session_lock_file_is_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even a permissive umask gives 0600
    try:
        with session_lock.SessionLock(tmp_path / "acc") as lock:
            assert stat.S_IMODE(lock.lock_path.stat().st_mode) == 0o600
            assert json.loads(lock.lock_path.read_text(encoding="utf-8"))["pid"] == os.getpid()
    finally:
        os.umask(old_umask)
