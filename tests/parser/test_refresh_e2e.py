"""`parse --refresh-recent N` end to end (real CLI, local server): edits, deletions, counter changes
and replaced media between two runs land in the export; an unchanged refresh costs one
channels.getMessages plus the usual getHistory and leaves export.json untouched."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from testkit.cli import cli_env, json_error, run_cli
from testkit.server import make_session, server_call

CHANNEL = 1888000111
PHOTO = {"type": "photo", "size": 20_000, "w": 320, "h": 240}
MESSAGES = [{"id": i, "text": f"post {i}", "views": 10 * i, "forwards": 0} for i in range(1, 13)]
MESSAGES[3] = {**MESSAGES[3], "media": PHOTO}  # id 4
SCENARIO = {"channels": [{"id": CHANNEL, "username": "fresh_chan", "title": "Fresh", "messages": MESSAGES}]}


class Runs:
    def __init__(self, server: Any, tmp_path: Path) -> None:
        self.server = server
        self.session = make_session(server, tmp_path / "s.session")
        self.out = tmp_path / "out"
        self.env = cli_env(tmp_path)

    def parse(self, *extra: str, env: dict[str, str] | None = None) -> Any:
        args = ["parse", "--channel", "@fresh_chan", "--session-file", str(self.session),
                "--output-dir", str(self.out), *extra]
        return run_cli(args, {**self.env, **(env or {})}, timeout=120)

    def ok(self, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        proc = self.parse(*extra, env=env)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    @property
    def export_dir(self) -> Path:
        (found,) = [p for p in self.out.iterdir() if p.is_dir()]
        return found

    def messages(self) -> dict[int, dict[str, Any]]:
        data = json.loads((self.export_dir / "export.json").read_text(encoding="utf-8"))
        return {m["id"]: m for m in data["messages"]}

    def edit(self, message_id: int, **changes: Any) -> None:
        server_call(self.server, self.server.world.edit_message, CHANNEL, message_id, changes)


def test_edits_deletions_counters_and_replaced_media_land_in_the_export(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(SCENARIO)
    runs = Runs(server, tmp_path)
    runs.ok()
    before = runs.messages()
    old_photo = before[4]["media_files"][0]
    runs.edit(12, text="post 12, corrected", edit_date="2024-06-01T00:00:00Z")
    runs.edit(11, views=999, reactions=[{"type": "emoji", "emoji": "👍", "count": 3}])
    runs.edit(4, media={"type": "photo", "size": 30_000, "w": 640, "h": 480}, edit_date="2024-06-02T00:00:00Z")
    runs.edit(3, text="too old to be refreshed")
    server_call(server, server.world.delete_messages, CHANNEL, [10])
    new_ids = server_call(server, server.world.append_messages, CHANNEL, None, [{"text": "newest"}])

    server.requests.reset()
    result = runs.ok("--refresh-recent", "9")  # ids 4..12
    after = runs.messages()
    summary = result["summary"]
    assert (summary["refreshed_messages"], summary["edited_messages"], summary["deleted_messages"]) == (9, 2, 1)
    assert sorted(m["id"] for m in result["updated_messages"]) == [4, 10, 11, 12]
    assert [m["id"] for m in result["new_messages"]] == new_ids
    assert after[12]["text"] == "post 12, corrected" and after[12]["edit_date"] == "2024-06-01T00:00:00Z"
    assert after[11]["views"] == 999 and after[11]["reactions"] != before[11]["reactions"]
    assert after[11]["text"] == before[11]["text"]
    assert after[10] == {**before[10], "deleted": True, "deleted_at": after[10]["deleted_at"]}
    assert after[3] == before[3]  # outside the refreshed window
    new_photo = after[4]["media_files"][0]
    assert new_photo["sha256"] != old_photo["sha256"] and new_photo["path"] != old_photo["path"]
    assert (runs.export_dir / old_photo["path"]).is_file() and (runs.export_dir / new_photo["path"]).is_file()
    assert (runs.export_dir / new_photo["path"]).read_bytes() == server.world.expected_bytes(CHANNEL, 4)
    assert server.requests.count("channels.getMessages") == 1
    state = json.loads((runs.export_dir / "state.json").read_text(encoding="utf-8"))
    assert state["messages_total"] == 13 and state["media_total"] == 1
    on_disk = json.loads((runs.export_dir / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["edited_messages"] == 2 and on_disk["deleted_messages"] == 1

    again = runs.ok("--refresh-recent", "9")  # a deleted message stays deleted, with its first deleted_at
    assert again["updated_messages"] == [] and runs.messages() == after


def test_unchanged_refresh_leaves_export_json_untouched(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(SCENARIO)
    runs = Runs(server, tmp_path)
    runs.ok()
    export_json = runs.export_dir / "export.json"
    raw, stat = export_json.read_bytes(), export_json.stat()
    server.requests.reset()
    result = runs.ok(env={"TELEGRAM_PARSER_REFRESH_RECENT": "100"})
    assert result["summary"]["refreshed_messages"] == 12 and result["updated_messages"] == []
    assert server.requests.count("channels.getMessages") == 1
    assert server.requests.count("messages.getHistory") == 1
    assert export_json.read_bytes() == raw
    assert (export_json.stat().st_mtime_ns, export_json.stat().st_ino) == (stat.st_mtime_ns, stat.st_ino)


def test_a_bad_refresh_count_is_a_config_error(server_factory: Any, tmp_path: Path) -> None:
    runs = Runs(server_factory(SCENARIO), tmp_path)
    for extra, env in ((("--refresh-recent", "-3"), {}), ((), {"TELEGRAM_PARSER_REFRESH_RECENT": "lots"})):
        proc = runs.parse(*extra, env=env)
        assert proc.returncode == 1 and proc.stderr.startswith("Error: ")
        assert json_error(proc, "CONFIG_ERROR")
        assert not runs.out.exists() or not os.listdir(runs.out)
