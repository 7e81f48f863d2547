"""Change detection in few requests: past 100 joined channels, an unchanged batch costs one
messages.getPeerDialogs per 100 channels and nothing else beyond the connect-time requests."""
from __future__ import annotations

import json
from pathlib import Path

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, server_call

COUNT = 101  # one more than a getPeerDialogs request takes
CONNECT_TIME = {"help.getConfig", "users.getUsers", "updates.getState", "updates.getDifference"}  # sign-in check


def many_channels(count: int) -> dict:
    return {"channels": [{"id": 1300000000 + i, "username": f"many_{i:03d}", "title": f"Many {i}",
                          "generate": {"count": 1, "text_length": 8}} for i in range(count)]}


def test_unchanged_batch_costs_a_request_per_100_channels(server_factory, tmp_path: Path) -> None:
    server = server_factory(many_channels(COUNT))
    make_session(server, tmp_path / "acc.session")
    env = cli_env(tmp_path, TELEGRAM_PARSER_OUTPUT_DIR=str(tmp_path / "out"))
    first = run_cli(["parse", "--session-file", "acc", "--all-channels"], env)  # fills the entity cache
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == COUNT
    server_call(server, server.world.append_messages, "many_007", 2)
    listing = "".join(f"@many_{i:03d}\n" for i in range(COUNT))
    server.requests.reset()

    again = run_cli(["parse", "--session-file", "acc", "--channels-file", "-"], env, input=listing)
    assert again.returncode == 0, again.stderr
    out = [json.loads(line) for line in again.stdout.splitlines()]
    assert [o["channel"] for o in out] == listing.split()
    assert {o["channel"]: len(o["new_messages"]) for o in out if o["new_messages"]} == {"@many_007": 2}
    methods = [e["method"] for e in server.requests.entries()]
    beyond = [m for m in methods if m not in CONNECT_TIME]
    # the changed channel: one page, ended by the dialog's top id (no empty last request)
    assert sorted(beyond) == ["messages.getHistory", "messages.getPeerDialogs", "messages.getPeerDialogs"], methods
