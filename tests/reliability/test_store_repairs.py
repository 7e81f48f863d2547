"""The store through the real CLI and the local server: exports written by the earlier parser load as
they are and their known damage is repaired with a log line (issue 5.4); a run SIGKILLed in its
journal or between the renames of a compaction is finished by the next run (issue 5.1)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, server_call
from tgexport.core import fault_points
from tgexport.core.atomic_json import dump_json_text

CHANNEL_ID = 1234500088
MEDIA = [{"ids": [2], "type": "photo", "size": 3000},
         {"ids": [5], "type": "document", "size": 4000, "mime_type": "application/pdf", "file_name": "a.pdf"}]


def scenario(count: int, media: bool = True) -> dict[str, Any]:
    return {"channels": [{"id": CHANNEL_ID, "username": "repair_chan", "title": "Repair",
                          "generate": {"count": count, "text_length": 12, "media": MEDIA if media else []}}]}


class Runner:
    def __init__(self, server: Any, tmp_path: Path) -> None:
        self.server = server
        self.out = tmp_path / "out"
        self.session = make_session(server, tmp_path / "s.session")
        self.env = cli_env(tmp_path)

    def run(self, **env: str) -> Any:
        return run_cli(["parse", "--channel", "@repair_chan", "--session-file", str(self.session),
                        "--output-dir", str(self.out)], {**self.env, **env})

    @property
    def export_dir(self) -> Path:
        (path,) = [p for p in self.out.iterdir() if p.is_dir()]
        return path

    def load(self, name: str) -> Any:
        return json.loads((self.export_dir / name).read_text("utf-8"))

    def events(self, name: str) -> list[dict[str, Any]]:
        lines = (self.export_dir / "logs" / "run.log").read_text("utf-8").splitlines()
        return [e for e in map(json.loads, lines) if e["event"] == name]

    def server_ids(self) -> list[int]:
        return list(self.server.world.channel(CHANNEL_ID).ids)

    def assert_complete(self) -> dict[str, Any]:
        """export.json holds every server message once, state.json agrees, nothing is left behind."""
        export, state = self.load("export.json"), self.load("state.json")
        ids = [m["id"] for m in export["messages"]]
        assert ids == self.server_ids() and export["total_messages"] == len(ids)
        assert state["messages_total"] == len(ids) and state["last_message_id"] == ids[-1]
        assert state["media_total"] == sum(len(m["media_files"]) for m in export["messages"])
        assert not [p.name for p in self.export_dir.iterdir() if "journal" in p.name or p.name.endswith(".tmp")]
        return export


def make_legacy(export_dir: Path, messages: Any = None, state_change: Any = None) -> bytes:
    """Rewrite the three files as the earlier parser laid them out (indent=2, ASCII escapes, no added keys)."""
    export = json.loads((export_dir / "export.json").read_text("utf-8"))
    if messages is not None:
        export["messages"] = messages(export["messages"])
    state = json.loads((export_dir / "state.json").read_text("utf-8"))
    state.pop("export_check")
    state["messages_total"] = len(export["messages"])
    if state_change is not None:
        state_change(state)
    index = json.loads((export_dir / "media-index.json").read_text("utf-8"))
    index.pop("file_id_to_sha256", None)
    for name, data in (("export.json", export), ("state.json", state), ("media-index.json", index)):
        (export_dir / name).write_text(json.dumps(data, indent=2), encoding="utf-8")
    return (export_dir / "export.json").read_bytes()


def test_a_legacy_export_loads_as_it_is(server_factory: Any, tmp_path: Path) -> None:
    runner = Runner(server_factory(scenario(8)), tmp_path)
    assert runner.run().returncode == 0
    legacy = make_legacy(runner.export_dir)
    proc = runner.run()
    assert proc.returncode == 0, proc.stderr
    assert (runner.export_dir / "export.json").read_bytes() == legacy  # nothing new: not rewritten
    assert "export_check" in runner.load("state.json") and runner.events("export_repaired") == []
    server_call(runner.server, runner.server.world.append_messages, CHANNEL_ID, 2)
    proc = runner.run()
    assert proc.returncode == 0, proc.stderr
    export = runner.assert_complete()
    assert (runner.export_dir / "export.json").read_text("utf-8") == dump_json_text(export)
    assert not list(runner.export_dir.glob("export.json.bak-*"))


def test_duplicate_ids_collapse_with_the_original_kept_as_a_backup(server_factory: Any, tmp_path: Path) -> None:
    runner = Runner(server_factory(scenario(8)), tmp_path)
    assert runner.run().returncode == 0
    original = make_legacy(runner.export_dir, messages=lambda ms: ms[:5] + ms[2:4] + ms[5:] + ms[-1:])
    proc = runner.run()
    assert proc.returncode == 0, proc.stderr
    (backup,) = runner.export_dir.glob("export.json.bak-*")
    assert backup.read_bytes() == original
    notes = [e["data"]["note"] for e in runner.events("export_repaired")]
    assert any("dropped 3 duplicate message id(s)" in n and str(backup) in n for n in notes), notes
    runner.assert_complete()


@pytest.mark.parametrize("change", [
    {"messages_total": 3, "media_total": 0},
    {"messages_total": 99, "last_message_id": 1},
], ids=["counts", "counts-and-last-id-behind"])
def test_a_state_that_disagrees_is_rebuilt_from_export(server_factory: Any, tmp_path: Path,
                                                       change: dict[str, int]) -> None:
    runner = Runner(server_factory(scenario(8)), tmp_path)
    assert runner.run().returncode == 0
    make_legacy(runner.export_dir, state_change=lambda state: state.update(change))
    server_call(runner.server, runner.server.world.append_messages, CHANNEL_ID, 1)
    proc = runner.run()
    assert proc.returncode == 0, proc.stderr
    notes = [e["data"]["note"] for e in runner.events("export_repaired")]
    assert len(notes) == 1 and notes[0].startswith("rebuilt state.json from export.json: it said"), notes
    assert json.loads(proc.stdout)["summary"]["new_messages"] == 1  # nothing fetched twice
    runner.assert_complete()
    assert not list(runner.export_dir.glob("*.bak-*"))


@pytest.mark.parametrize("point", ["journal_synced:1", "compact_renamed:1"])
def test_a_run_killed_in_the_store_is_finished_by_the_next_run(server_factory: Any, tmp_path: Path,
                                                               point: str) -> None:
    runner = Runner(server_factory(scenario(2500, media=False)), tmp_path)
    killed = runner.run(**{fault_points.FAULT_ENV: point, fault_points.REPORT_ENV: str(tmp_path / "hit")})
    assert killed.returncode == -9 and (tmp_path / "hit").read_text().split() == point.split(":")
    assert (runner.export_dir / ".journal.jsonl").exists()
    proc = runner.run()
    assert proc.returncode == 0, proc.stderr
    notes = [e["data"]["note"] for e in runner.events("export_repaired")]
    assert any(n.startswith("recovered ") and "from the journal of an interrupted run" in n for n in notes), notes
    new = json.loads(proc.stdout)["summary"]["new_messages"]
    # 2,500 records are below CHECKPOINT_RECORDS: the first journal entry is the end-of-run checkpoint,
    # so both kills leave every message in the journal (mid-run resumes: test_kill_resume.py)
    assert new == 0
    runner.assert_complete()
    assert os.path.exists(runner.export_dir / "summary.json")
