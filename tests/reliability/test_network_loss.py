"""Connection lost mid-run (the local server goes away) and not recovered within the bound: exit 1
NETWORK_ERROR with progress saved; the next run (server back, same address and keys) resumes."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

from testkit.cli import cli_env, run_cli, start_cli
from testkit.server import make_session, running_server, server_call
from tests.reliability.hardening_kit import (
    app_log_codes,
    assert_consistent_prefix,
    events,
    finish,
    load,
    parse_args,
    scenario,
    temp_leftovers,
    wait_until,
)

CHANNEL_ID = 1555000111
# The server holds the 3rd history page, so the connection is always lost mid-export (after 200 messages).
HELD_PAGE = [{"kind": "slow", "method": "messages.getHistory", "call": 3, "delay": 3600, "times": 1}]


def _ids(server) -> list[int]:
    return list(server.world.channel(CHANNEL_ID).ids)


def test_server_gone_mid_run_stops_with_network_error_and_the_next_run_resumes(tmp_path: Path) -> None:
    """Telethon keeps reconnecting (and, once it gives up, leaves the request pending forever): the
    per-request deadline with its retries is what bounds the run. Exit 1, NETWORK_ERROR, data saved."""
    spec = scenario(CHANNEL_ID, "netloss", 900, HELD_PAGE)
    state, out, session = tmp_path / "server-state", tmp_path / "out", tmp_path / "acc.session"
    env = cli_env(tmp_path, TELEGRAM_PARSER_REQUEST_TIMEOUT="0.5")
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(running_server(spec, state_dir=state))
        port, all_ids = server.port, _ids(server)
        make_session(server, session)
        proc = start_cli(parse_args("@netloss", session, out, "--mode", "normal"), env)
        wait_until(lambda: server.requests.count("messages.getHistory") >= 3, "the held 3rd page", proc)
        stack.close()  # the server goes away: listener closed, connections dropped
        stdout, stderr = finish(proc)
    assert proc.returncode == 1, stderr
    (line,) = stderr.splitlines()
    assert line.startswith("Error: no answer from Telegram to messages.getHistory within 0.5 s (4 attempt(s))"), line
    assert app_log_codes(env)[-1] == "NETWORK_ERROR"
    saved = assert_consistent_prefix(out, all_ids)
    assert len(saved) == 200  # the two pages answered before the server went away were saved
    reported = json.loads(stdout)
    assert reported["error"]["error_code"] == "NETWORK_ERROR" and reported["error"]["status"] == "failed"
    assert reported["summary"] == load(out, "summary.json")
    assert "interrupted" not in reported["summary"]
    finished = [e["data"] for e in events(out) if e["event"] == "run_finished"]
    assert finished[-1]["error_code"] == "NETWORK_ERROR"
    timeouts = [e["data"]["attempt"] for e in events(out) if e["event"] == "request_timeout"]
    assert timeouts == [1, 2, 3, 4]  # normal mode: 3 retries, then the stop

    healthy = scenario(CHANNEL_ID, "netloss", 900)  # the same channel, no page held
    with running_server(healthy, state_dir=state, port=port) as server:  # back, same address and auth keys
        proc2 = run_cli(parse_args("@netloss", session, out), cli_env(tmp_path))
        first = server.requests.entries("messages.getHistory")[0]
    assert proc2.returncode == 0, proc2.stderr
    assert first["params"]["offset_id"] == saved[-1] + 1  # resumed after the saved prefix
    assert assert_consistent_prefix(out, all_ids) == all_ids
    assert not temp_leftovers(out)


def test_dropped_connection_that_telethon_restores_is_not_an_error(tmp_path: Path) -> None:
    """Every connection is cut mid-run but the server keeps listening: Telethon reconnects by itself
    and the run completes (exit 0, the whole channel, no duplicates)."""
    spec = scenario(CHANNEL_ID, "netblip", 700, HELD_PAGE)
    out, session = tmp_path / "out", tmp_path / "acc.session"
    env = cli_env(tmp_path, TELEGRAM_PARSER_REQUEST_TIMEOUT="600")  # only the reconnect can free the page
    with running_server(spec) as server:
        make_session(server, session)
        proc = start_cli(parse_args("@netblip", session, out), env)
        wait_until(lambda: server.requests.count("messages.getHistory") >= 3, "the held 3rd page", proc)
        assert server_call(server, server.drop_connections) >= 1
        stdout, stderr = finish(proc)
        all_ids = _ids(server)
    assert proc.returncode == 0, stderr
    assert assert_consistent_prefix(out, all_ids) == all_ids
    assert json.loads(stdout)["summary"]["new_messages"] == len(all_ids)
