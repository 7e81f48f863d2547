"""SIGINT / SIGTERM stop a real `parse` at the next safe point: progress saved, summary.json with
`"interrupted": true`, locks released, exit 130 / 143, the partial result on stdout; a second signal
during the cleanup exits at once without corrupting anything; the Python API keeps KeyboardInterrupt."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import errors
import session_lock
from testkit.cli import REPO_ROOT, cli_env, read_app_log, run_cli, start_cli
from testkit.server import make_session
from tests.reliability.hardening_kit import (
    all_json_parses,
    assert_consistent_prefix,
    events,
    export_dir,
    finish,
    load,
    parse_args,
    scenario,
    temp_leftovers,
    wait_until,
)
from tgexport.store.lock import export_lock_path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals to a child process")

CHANNEL_ID = 1666000111
# The server holds the 4th history page: a signal always lands mid-export, after 3 pages (300 messages).
HELD_PAGE = [{"kind": "slow", "method": "messages.getHistory", "call": 4, "delay": 3600, "times": 1}]
STOPS = [(signal.SIGINT, 130, "Error: interrupted\n"), (signal.SIGTERM, 143, "Error: terminated (SIGTERM)\n")]


def _ids(server) -> list[int]:
    return list(server.world.channel(CHANNEL_ID).ids)


def _assert_no_locks(session: Path, out: Path) -> None:
    assert not session_lock.lock_path_for(session).exists()
    assert not export_lock_path(out, CHANNEL_ID).exists()


@pytest.mark.parametrize(("sig", "code", "line"), STOPS)
def test_signal_mid_export_saves_reports_and_exits(server_factory, tmp_path: Path, sig: signal.Signals,
                                                   code: int, line: str) -> None:
    server = server_factory(scenario(CHANNEL_ID, "sigchan", 1500, HELD_PAGE))
    session, out, env = make_session(server, tmp_path / "acc.session"), tmp_path / "out", cli_env(tmp_path)
    proc = start_cli(parse_args("@sigchan", session, out), env)
    wait_until(lambda: server.requests.count("messages.getHistory") >= 4, "the held 4th page", proc)
    assert export_lock_path(out, CHANNEL_ID).is_file()  # held while the run writes
    proc.send_signal(sig)
    stdout, stderr = finish(proc)
    assert proc.returncode == code, stderr
    assert stderr == line
    summary = load(out, "summary.json")
    assert summary["interrupted"] is True
    saved = assert_consistent_prefix(out, _ids(server))
    assert len(saved) == 300 and summary["new_messages"] == 300  # the three pages before the stop
    reported = json.loads(stdout)  # the partial result, as for every stop after the export is open
    assert reported["summary"] == summary and [m["id"] for m in reported["new_messages"]] == saved
    assert reported["error"] == {"error_code": None, "status": "interrupted", "message": line[len("Error: "):-1],
                                 "hint": errors.INTERRUPTED_HINT}
    finished = [e["data"] for e in events(out) if e["event"] == "run_finished"]
    assert finished[-1]["status"] == "interrupted" and finished[-1]["interrupted"] is True
    assert f"interrupted by a signal ({sig.name}); exit {code}" in read_app_log(env)
    _assert_no_locks(session, out)
    assert not temp_leftovers(out)

    again = run_cli(parse_args("@sigchan", session, out), env, timeout=180)
    assert again.returncode == 0, again.stderr
    assert assert_consistent_prefix(out, _ids(server)) == _ids(server)
    assert "interrupted" not in load(out, "summary.json")  # the key is present only on such stops


def test_second_signal_exits_at_once_and_the_next_run_completes(server_factory, tmp_path: Path) -> None:
    """SIGINT and SIGTERM both pending (the child is stopped while they arrive): Python handles SIGINT
    first (a graceful stop begins), then SIGTERM, which exits at once with SIGINT's code."""
    server = server_factory(scenario(CHANNEL_ID, "sigchan", 1200, HELD_PAGE))
    session, out, env = make_session(server, tmp_path / "acc.session"), tmp_path / "out", cli_env(tmp_path)
    proc = start_cli(parse_args("@sigchan", session, out), env)
    wait_until(lambda: server.requests.count("messages.getHistory") >= 4, "the held 4th page", proc)
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        os.kill(proc.pid, signal.SIGINT)
        os.kill(proc.pid, signal.SIGTERM)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    stdout, stderr = finish(proc)
    assert proc.returncode == 130, stderr
    assert stderr == "Error: SIGTERM during the cleanup after SIGINT: stopped at once; run again to resume\n"
    all_json_parses(export_dir(out))  # whatever instant it hit, every file is whole
    if (export_dir(out) / "export.json").exists():  # (a crash-equivalent stop before the first checkpoint has none)
        assert_consistent_prefix(out, _ids(server))

    again = run_cli(parse_args("@sigchan", session, out), env, timeout=180)
    assert again.returncode == 0, again.stderr  # lock files left by the hard exit are taken over
    assert assert_consistent_prefix(out, _ids(server)) == _ids(server)
    _assert_no_locks(session, out)
    assert not temp_leftovers(out)


CLEANUP_CHILD = r"""
import asyncio, signal, sys
from tgexport.run import signals

async def work():
    try:
        print("ready", flush=True)
        await asyncio.sleep(120)
    except asyncio.CancelledError:
        print("cleanup started", flush=True)
        signal.raise_signal(signal.SIGINT)  # a second signal in the middle of the cleanup
        for _ in range(100000):
            pass
        print("cleanup finished", flush=True)
        raise

signals.install()
asyncio.run(signals.run_stoppable(work()))
"""


def _signal_child(code: str, cwd: Path, sig: int) -> tuple[subprocess.Popen[str], str, str]:
    """Run `code` in a child, send `sig` once it prints `ready`; the child and what it printed after."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(sig)
    stdout, stderr = finish(proc, timeout=60)
    return proc, stdout, stderr


def test_second_signal_during_cleanup_stops_it_at_once(tmp_path: Path) -> None:
    """The first signal (SIGTERM) cancels the task at its await; the second, inside the cleanup,
    ends the process right there with the first one's code and one `Error:` line."""
    proc, stdout, stderr = _signal_child(CLEANUP_CHILD, tmp_path, signal.SIGTERM)
    assert proc.returncode == 143
    assert stdout == "cleanup started\n"
    assert stderr == "Error: SIGINT during the cleanup after SIGTERM: stopped at once; run again to resume\n"


LOST_CANCEL_CHILD = r"""
import asyncio, sys
from tgexport.run import signals

async def work():
    signals.raise_if_stopping()  # no signal yet: nothing happens
    print("ready", flush=True)
    try:
        await asyncio.sleep(120)
    except asyncio.CancelledError:
        print("cancel swallowed", flush=True)  # a library that loses the stop
    signals.raise_if_stopping()  # the run's next safe point
    print("ran on", flush=True)

signals.install()
try:
    asyncio.run(signals.run_stoppable(work()))
except asyncio.CancelledError:
    print("stopped", flush=True)
    sys.exit(signals.exit_code(signals.received()))
"""


def test_a_stop_whose_cancel_was_lost_is_honoured_at_the_next_safe_point(tmp_path: Path) -> None:
    proc, stdout, stderr = _signal_child(LOST_CANCEL_CHILD, tmp_path, signal.SIGINT)
    assert (proc.returncode, stdout, stderr) == (130, "cancel swallowed\nstopped\n", "")


def test_signal_while_resolving_records_the_stop_in_the_existing_export(server_factory, tmp_path: Path) -> None:
    server = server_factory(scenario(CHANNEL_ID, "sigchan", 150, [
        {"kind": "slow", "method": "channels.getChannels", "call": 2, "delay": 120, "times": 1}]))
    session, out, env = make_session(server, tmp_path / "acc.session"), tmp_path / "out", cli_env(tmp_path)
    assert run_cli(parse_args("@sigchan", session, out), env).returncode == 0
    before = (export_dir(out) / "export.json").read_bytes()
    proc = start_cli(parse_args("@sigchan", session, out), env)
    wait_until(lambda: server.requests.count("channels.getChannels") >= 2, "the resolve request", proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = finish(proc)
    assert (proc.returncode, stderr) == (143, "Error: terminated (SIGTERM)\n")
    summary = load(out, "summary.json")
    assert summary["interrupted"] is True and summary["new_messages"] == 0
    assert json.loads(stdout)["error"]["status"] == "interrupted"
    assert (export_dir(out) / "export.json").read_bytes() == before
    _assert_no_locks(session, out)


API_CHILD = r"""
import asyncio, signal, sys
from telegram_parser import TelegramParser
from testkit.cli import DUMMY_API_HASH, DUMMY_API_ID

async def main():
    parser = TelegramParser(int(DUMMY_API_ID), DUMMY_API_HASH, sys.argv[1], auth_state_dir=sys.argv[3])
    await parser.connect()
    try:
        await parser.parse_channel("@sigchan", sys.argv[2], mode="normal")
    finally:
        await parser.disconnect()

try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("KeyboardInterrupt", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, flush=True)
    sys.exit(3)
"""


def test_python_api_still_raises_keyboard_interrupt(server_factory, tmp_path: Path) -> None:
    """`parse_channel` under asyncio.run: Ctrl+C still surfaces as KeyboardInterrupt (no handlers are
    installed by the API); what was fetched is saved and summary.json says `interrupted`."""
    server = server_factory(scenario(CHANNEL_ID, "sigchan", 1500, HELD_PAGE))
    session, out = make_session(server, tmp_path / "api.session"), tmp_path / "out"
    env = {**cli_env(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", API_CHILD, str(session), str(out), str(tmp_path)], cwd=tmp_path,
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: server.requests.count("messages.getHistory") >= 4, "the held 4th page", proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = finish(proc)
    assert (proc.returncode, stdout) == (3, "KeyboardInterrupt True\n"), stderr
    assert load(out, "summary.json")["interrupted"] is True
    assert len(assert_consistent_prefix(out, _ids(server))) == 300
    _assert_no_locks(session, out)
