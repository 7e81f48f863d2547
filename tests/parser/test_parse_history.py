"""End-to-end: `parse` as a real CLI subprocess against the local server; history completeness,
incremental runs checked through the server's request log, date and keyword filters."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, server_call

CHANNEL_ID = 1234567890


def _scenario(**generate: Any) -> dict[str, Any]:
    return {"channels": [{"id": CHANNEL_ID, "username": "test_channel", "title": "Test channel",
                          "generate": {"text_length": 24, **generate}}]}


class Exporter:
    """Runs `parse` for one session and output folder; keeps the last result."""

    def __init__(self, server: Any, tmp_path: Path) -> None:
        self.server = server
        self.out = tmp_path / "out"
        self.session = make_session(server, tmp_path / "s.session")
        self.env = cli_env(tmp_path)

    def run(self, *extra: str, channel: str = "@test_channel") -> subprocess.CompletedProcess[str]:
        args = ["parse", "--channel", channel, "--session-file", str(self.session), "--output-dir", str(self.out)]
        return run_cli([*args, *extra], self.env, timeout=180)

    def ok(self, *extra: str, channel: str = "@test_channel") -> dict[str, Any]:
        proc = self.run(*extra, channel=channel)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def export(self) -> dict[str, Any]:
        (export_dir,) = [p for p in self.out.iterdir() if p.is_dir()]
        return json.loads((export_dir / "export.json").read_text(encoding="utf-8"))

    def state(self) -> dict[str, Any]:
        (export_dir,) = [p for p in self.out.iterdir() if p.is_dir()]
        return json.loads((export_dir / "state.json").read_text(encoding="utf-8"))

    def calls(self, method: str = "messages.getHistory") -> int:
        return self.server.requests.count(method)


def _ids(messages: list[dict[str, Any]]) -> list[int]:
    return [m["id"] for m in messages]


def _server_ids(server: Any) -> list[int]:
    return list(server.world.channel(CHANNEL_ID).ids)


@pytest.mark.slow
def test_first_export_of_20000_messages_is_complete_ascending_unique(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario(count=20_000, gap_every=9))
    exp = Exporter(server, tmp_path)
    result = exp.ok()
    ids = _ids(exp.export()["messages"])
    assert len(ids) == 20_000 and ids == sorted(set(ids)) == _server_ids(server)
    assert _ids(result["new_messages"]) == ids
    assert exp.export()["total_messages"] == 20_000
    assert exp.state()["last_message_id"] == ids[-1] and exp.state()["messages_total"] == 20_000
    assert exp.calls() <= 20_000 // 100 + 1


def test_incremental_runs_ask_only_for_new_messages(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario(count=450, gap_every=7))
    exp = Exporter(server, tmp_path)
    exp.ok()
    first = exp.export()["messages"]
    assert exp.calls("contacts.resolveUsername") == 1

    server.requests.reset()
    again = exp.ok()
    assert exp.calls() == 1  # unchanged channel: one history request
    assert exp.calls("contacts.resolveUsername") == 0  # the username is not resolved again
    assert again["new_messages"] == [] and again["summary"]["new_messages"] == 0
    assert exp.export()["messages"] == first

    new_ids = server_call(server, server.world.append_messages, CHANNEL_ID, 250)
    server.requests.reset()
    result = exp.ok()
    assert exp.calls() <= 250 // 100 + 2  # about N/100 requests, never the whole history
    assert exp.calls("contacts.resolveUsername") == 0
    min_ids = [e["params"].get("offset_id") for e in server.requests.entries("messages.getHistory")]
    assert min(min_ids) == first[-1]["id"] + 1  # the first request starts right after last_message_id
    assert _ids(result["new_messages"]) == new_ids
    messages = exp.export()["messages"]
    assert messages[: len(first)] == first and _ids(messages[len(first):]) == new_ids
    assert _ids(messages) == _server_ids(server)
    assert exp.state()["last_message_id"] == new_ids[-1] and exp.state()["messages_total"] == len(messages)
    assert len([p for p in exp.out.iterdir() if p.is_dir()]) == 1  # update mode: same directory


def test_numeric_id_reaches_the_same_export(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario(count=30))
    exp = Exporter(server, tmp_path)
    exp.ok()
    server_call(server, server.world.append_messages, CHANNEL_ID, 5)
    result = exp.ok(channel=f"-100{CHANNEL_ID}")
    assert len(result["new_messages"]) == 5 and len(exp.export()["messages"]) == 35


def test_date_filters_are_inclusive_whole_days_and_stop_early(server_factory: Any, tmp_path: Path) -> None:
    # one message per hour from 2024-03-01 00:00 UTC: 24 a day, 60 days
    server = server_factory(_scenario(count=24 * 60, start_date="2024-03-01T00:00:00Z", date_step=3600))
    exp = Exporter(server, tmp_path)
    result = exp.ok("--date-from", "2024-03-10", "--date-to", "2024-03-11")
    messages = exp.export()["messages"]
    dates = [m["date"] for m in messages]
    assert len(messages) == 48
    assert dates[0] == "2024-03-10T00:00:00Z" and dates[-1] == "2024-03-11T23:00:00Z"
    assert result["summary"]["date_from"] == "2024-03-10" and result["summary"]["date_to"] == "2024-03-11"
    assert exp.calls() == 1  # started at date_from, stopped at the first message after date_to
    assert exp.state()["last_message_id"] == messages[-1]["id"]


def test_date_to_alone_stops_the_scan(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(_scenario(count=24 * 40, start_date="2024-03-01T00:00:00Z", date_step=3600))
    exp = Exporter(server, tmp_path)
    exp.ok("--date-to", "2024-03-05")
    messages = exp.export()["messages"]
    assert len(messages) == 5 * 24 and messages[-1]["date"] == "2024-03-05T23:00:00Z"
    assert exp.calls() == 2  # 120 messages: two pages, then stop; never the other 35 days


def test_keyword_filter_any_of_case_insensitive(server_factory: Any, tmp_path: Path) -> None:
    scenario = _scenario(count=40)
    scenario["channels"][0]["messages"] = [
        {"id": 3, "text": "Big NEWS today"}, {"id": 7, "text": "an Update"}, {"id": 9, "text": "nothing here"},
    ]
    scenario["channels"][0]["generate"]["text_length"] = 0
    server = server_factory(scenario)
    exp = Exporter(server, tmp_path)
    result = exp.ok("--keyword-filter", "news", "UPDATE")
    assert _ids(exp.export()["messages"]) == [3, 7]
    assert result["summary"]["new_messages"] == 2 and result["summary"]["scanned_messages"] == 40


def test_polls_and_service_messages_are_kept(server_factory: Any, tmp_path: Path) -> None:
    scenario = _scenario(count=20)
    scenario["channels"][0]["messages"] = [
        {"id": 4, "poll": {"question": "Tea or coffee?", "answers": ["Tea", "Coffee"], "voters": [2, 3]}},
        {"id": 5, "service": {"action": "pin", "reply_to": 4}},
        {"id": 6, "service": {"action": "edit_title", "title": "Renamed"}},
    ]
    server = server_factory(scenario)
    exp = Exporter(server, tmp_path)
    exp.ok()
    by_id = {m["id"]: m for m in exp.export()["messages"]}
    assert sorted(by_id) == list(range(1, 21))
    assert by_id[4]["text"] == "Tea or coffee?"
    assert by_id[4]["poll"]["answers"] == [{"text": "Tea", "voters": 2}, {"text": "Coffee", "voters": 3}]
    assert by_id[5]["text"] == "" and by_id[5]["service"] == {"action": "pin_message"}
    assert by_id[5]["reply_to_msg_id"] == 4
    assert by_id[6]["service"] == {"action": "chat_edit_title", "title": "Renamed"}
