"""`parse` of several channels through the CLI: JSON Lines in input order, isolation of channel
errors, account-wide stops, lists from a file or stdin, `--all-channels`, one-request change detection."""
from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.cli import cli_env, read_app_log, run_cli, start_cli
from testkit.server import make_session, running_server
from tests.reliability.hardening_kit import finish, wait_until

SCENARIO = {
    "channels": [
        {"id": 1200000001, "username": "batch_alpha", "title": "Alpha", "generate": {"count": 5}},
        {"id": 1200000002, "username": "batch_beta", "title": "Beta", "generate": {"count": 150}},
        {"id": 1200000003, "title": "Gamma (no username)", "generate": {"count": 3}},
        {"id": 1200000004, "username": "batch_secret", "title": "Secret", "private": True, "member": False},
        {"id": 1200000005, "username": "batch_outside", "title": "Not joined", "member": False,
         "generate": {"count": 2}},
        {"id": 1200000006, "username": "batch_pinned", "title": "Pinned on top",
         "messages": [{"id": 1, "text": "hello"}, {"id": 2, "service": {"action": "pin", "reply_to": 1}}]},
    ],
}


@pytest.fixture(scope="module")
def server() -> Iterator:
    with running_server(SCENARIO) as srv:
        yield srv


@pytest.fixture
def env(server, tmp_path: Path) -> dict[str, str]:
    make_session(server, tmp_path / "acc.session")
    server.requests.reset()
    return cli_env(tmp_path, TELEGRAM_PARSER_OUTPUT_DIR=str(tmp_path / "out"))


def parse(env: dict[str, str], *args: str, stdin: str | None = None):
    return run_cli(["parse", "--session-file", "acc", *args], env, input=stdin)


def lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_mixed_good_and_bad_channels_each_get_their_line(server, env) -> None:
    result = parse(env, "--channel", "batch_alpha", "@nobody_here", "--channel", "batch_secret", "-1001200000002")
    assert result.returncode == 2, result.stderr
    out = lines(result)
    assert [o["channel"] for o in out] == ["batch_alpha", "@nobody_here", "batch_secret", "-1001200000002"]
    assert [len(o.get("new_messages", [])) for o in out] == [5, 0, 0, 150]
    assert [o.get("error", {}).get("error_code") for o in out] == [None, "EXTERNAL_API_ERROR",
                                                                   "EXTERNAL_API_ERROR", None]
    assert all(o["started"] for o in out)
    assert "not found" in out[1]["error"]["message"] and "private" in out[2]["error"]["message"]
    assert result.stderr.startswith("Error: 2 channel(s) failed: @nobody_here, batch_secret")
    assert "EXTERNAL_API_ERROR" in read_app_log(env, "errors.log")
    assert out[0]["export_dir"] != out[3]["export_dir"]
    assert json.loads(Path(out[3]["state_json"]).read_text())["last_message_id"] == 150


def test_single_channel_keeps_todays_output(server, env) -> None:
    result = parse(env, "--channel", "batch_alpha")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('{\n  "summary": {\n')  # today's indented object, not a JSON line
    assert "channel" not in json.loads(result.stdout)


def test_no_channel_succeeds_exit_1(server, env) -> None:
    result = parse(env, "--channel", "nobody_one", "nobody_two")
    assert result.returncode == 1
    assert [o["channel"] for o in lines(result)] == ["nobody_one", "nobody_two"]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: no channel could be exported")


def test_list_on_stdin_then_unchanged_channels_cost_one_request(server, env) -> None:
    listing = "# channels to mirror\nbatch_alpha\n\n  https://t.me/batch_pinned  # service message on top\n1200000003\n"
    first = parse(env, "--channels-file", "-", stdin=listing)
    assert first.returncode == 0, first.stderr
    assert [len(o["new_messages"]) for o in lines(first)] == [5, 2, 3]
    server.requests.reset()
    again = parse(env, "--channels-file", "-", stdin=listing)
    assert again.returncode == 0, again.stderr
    assert [(o["channel"], o["new_messages"]) for o in lines(again)] == [
        ("batch_alpha", []), ("https://t.me/batch_pinned", []), ("1200000003", [])]
    assert server.requests.count("messages.getPeerDialogs") == 1
    for method in ("messages.getHistory", "contacts.resolveUsername", "channels.getChannels", "messages.getDialogs"):
        assert server.requests.count(method) == 0, method

    # Telegram refusing getPeerDialogs only costs the change detection: each channel takes the usual path
    server.world.faults.add({"kind": "rpc_error", "method": "messages.getPeerDialogs", "code": 400,
                             "message": "PEER_ID_INVALID"})
    server.requests.reset()
    refused = parse(env, "--channels-file", "-", stdin=listing)
    assert refused.returncode == 0, refused.stderr
    assert [o["new_messages"] for o in lines(refused)] == [[], [], []]
    assert server.requests.count("channels.getChannels") == 3 and server.requests.count("messages.getHistory") == 3
    assert "messages.getPeerDialogs refused" in read_app_log(env)


def test_all_channels_names_each_joined_channel(server, env) -> None:
    result = parse(env, "--all-channels", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = {o["channel"]: o for o in lines(result)}
    assert set(out) == {"@batch_alpha", "@batch_beta", "-1001200000003", "@batch_pinned"}
    assert out["@batch_beta"]["summary"]["new_messages"] == 150
    assert server.requests.count("contacts.resolveUsername") == 0


def test_flood_wait_mid_batch_stops_saves_and_the_next_run_completes(server, env, tmp_path: Path) -> None:
    # alpha: getHistory calls 1-2; beta (150 messages): call 3 gives 100, call 4 is refused
    server.world.faults.add({"kind": "flood_wait", "method": "messages.getHistory", "call": 4, "seconds": 900})
    channels = ["--channel", "batch_alpha", "batch_beta", "1200000003"]
    result = parse(env, *channels, "--max-flood-wait", "60")
    assert result.returncode == 1
    alpha, beta, gamma = lines(result)
    assert alpha["started"] and "error" not in alpha and len(alpha["new_messages"]) == 5
    assert beta["error"]["error_code"] == "RATE_LIMIT" and beta["summary"]["retry_after"] == 900
    assert len(beta["new_messages"]) == 100
    assert gamma == {"channel": "1200000003", "started": False, "error": beta["error"]}
    assert json.loads(Path(beta["state_json"]).read_text())["last_message_id"] == 100
    assert result.stderr.startswith("Error: Telegram asked to wait 900 s")

    again = parse(env, *channels)
    assert again.returncode == 0, again.stderr
    assert [len(o["new_messages"]) for o in lines(again)] == [0, 50, 3]
    assert [o["new_messages"][0]["id"] for o in lines(again)[1:]] == [101, 1]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals to a child process")
def test_sigterm_mid_batch_reports_the_current_and_the_rest(server, env, tmp_path: Path) -> None:
    # alpha: getHistory calls 1-2; the server holds beta's first page (call 3) until the signal lands
    server.world.faults.add({"kind": "slow", "method": "messages.getHistory", "call": 3, "delay": 3600, "times": 1})
    proc = start_cli(["parse", "--session-file", "acc", "--channel", "batch_alpha", "batch_beta", "batch_pinned"], env)
    wait_until(lambda: server.requests.count("messages.getHistory") >= 3, "beta's held page", proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = finish(proc)
    assert proc.returncode == 143, stderr
    assert stderr == "Error: terminated (SIGTERM)\n"
    alpha, beta, pinned = (json.loads(line) for line in stdout.splitlines())
    assert "error" not in alpha and len(alpha["new_messages"]) == 5
    assert {k: v for k, v in beta["error"].items() if k != "hint"} == {
        "error_code": None, "status": "interrupted", "message": "terminated (SIGTERM)"}
    assert beta["started"] and beta["summary"]["interrupted"] is True and beta["new_messages"] == []
    assert pinned == {"channel": "batch_pinned", "started": False, "error": beta["error"]}


def test_revoked_sign_in_mid_batch_is_account_wide(server, env) -> None:
    # alpha: getHistory calls 1-2; call 3 (beta's first page) finds the sign-in gone
    server.world.faults.add({"kind": "rpc_error", "method": "messages.getHistory", "call": 3, "code": 401,
                             "message": "AUTH_KEY_UNREGISTERED"})
    result = parse(env, "--channel", "batch_alpha", "batch_beta", "batch_pinned")
    assert result.returncode == 1
    alpha, beta, pinned = lines(result)
    assert "error" not in alpha
    assert beta["error"]["error_code"] == "AUTH_ERROR" and beta["started"]
    assert pinned == {"channel": "batch_pinned", "started": False, "error": beta["error"]}
    assert result.stderr.startswith("Error: the session is no longer authorised")
