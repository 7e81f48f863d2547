"""End-to-end: what `parse` writes — corrupt files are never replaced, dry runs write only the
directory, summary.json and logs, `--zip` archives, the temp download folder is cleaned."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from testkit.cli import cli_env, read_app_log, run_cli
from testkit.server import make_session, server_call
from tgexport.store.archive import TEMP_DIR_NAME

CHANNEL_ID = 1234567890
MEDIA = [{"ids": [2], "type": "photo", "size": 30000},
         {"ids": [5], "type": "document", "size": 3 * 1024 * 1024, "mime_type": "application/pdf",
          "file_name": "big.pdf"},
         {"ids": [8], "type": "video", "size": 50000, "mime_type": "video/mp4", "file_name": "clip.mp4"}]


def _scenario(count: int = 12) -> dict[str, Any]:
    return {"channels": [{"id": CHANNEL_ID, "username": "test_channel", "title": "Test channel",
                          "generate": {"count": count, "text_length": 24, "media": MEDIA}}]}


class Runner:
    def __init__(self, server: Any, tmp_path: Path) -> None:
        self.out = tmp_path / "out"
        self.session = make_session(server, tmp_path / "s.session")
        self.env = cli_env(tmp_path)

    def run(self, *extra: str) -> Any:
        return run_cli(["parse", "--channel", "@test_channel", "--session-file", str(self.session),
                        "--output-dir", str(self.out), *extra], self.env)

    def export_dir(self) -> Path:
        (path,) = [p for p in self.out.iterdir() if p.is_dir()]
        return path

    def tree(self) -> dict[str, bytes]:
        root = self.export_dir()
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_corrupt_export_json_is_a_data_format_error_and_left_unchanged(server_factory: Any, tmp_path: Path) -> None:
    runner = Runner(server_factory(_scenario()), tmp_path)
    assert runner.run().returncode == 0
    export_json = runner.export_dir() / "export.json"
    export_json.write_bytes(export_json.read_bytes()[:-40])  # a torn file
    before = runner.tree()
    proc = runner.run()
    assert proc.returncode == 1 and proc.stderr.startswith("Error: ") and "export.json" in proc.stderr
    assert "error_code=DATA_FORMAT_ERROR" in read_app_log(runner.env)
    after = runner.tree()
    for name in ("export.json", "state.json", "media-index.json", "summary.json"):
        assert after[name] == before[name]


def test_dry_run_writes_only_directory_summary_and_logs(server_factory: Any, tmp_path: Path) -> None:
    runner = Runner(server_factory(_scenario()), tmp_path)
    proc = runner.run("--dry-run", "--max-media-size", "2")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert sorted(p.name for p in runner.out.iterdir()) == [runner.export_dir().name]
    assert sorted(runner.tree()) == ["logs/errors.log", "logs/run.log", "summary.json"]
    summary = result["summary"]
    assert summary["dry_run"] is True and summary["new_messages"] == 12 and summary["scanned_messages"] == 12
    assert summary["media_skipped_by_size"] == 1 and summary["unknown_size_count"] == 0
    assert summary["known_size_mb"] == round((30000 + 50000) / 1048576, 3)
    assert summary["media_saved"] == 0 and result["archive"] is None
    items = {m["id"]: m["media_files"] for m in result["new_messages"] if m["media_files"]}
    assert items == {2: [{"type": "photo", "path": None, "filename": None, "size": 30000}],
                     5: [{"type": "document", "path": None, "filename": None, "size": 3 * 1024 * 1024}],
                     8: [{"type": "video", "path": None, "filename": None, "size": 50000, "duration": 10.0}]}


def test_dry_run_on_an_existing_export_changes_only_summary_and_logs(server_factory: Any, tmp_path: Path) -> None:
    runner = Runner(server_factory(_scenario()), tmp_path)
    assert runner.run().returncode == 0
    before = runner.tree()
    assert runner.run("--dry-run").returncode == 0
    after = runner.tree()
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed <= {"summary.json", "logs/run.log", "logs/errors.log"} and "summary.json" in changed
    assert set(after) == set(before)


def test_zip_archives_the_export_beside_it(server_factory: Any, tmp_path: Path) -> None:
    runner = Runner(server_factory(_scenario()), tmp_path)
    proc = runner.run("--zip")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    export_dir = runner.export_dir()
    assert result["archive"] == str(export_dir) + ".zip"
    assert sorted(p.name for p in runner.out.iterdir()) == sorted([export_dir.name, export_dir.name + ".zip"])
    with zipfile.ZipFile(result["archive"]) as archive:
        names = set(archive.namelist())
        assert json.loads(archive.read("export.json")) == json.loads((export_dir / "export.json").read_text("utf-8"))
    assert {"export.json", "state.json", "media-index.json", "summary.json", "logs/run.log"} <= names
    media = {f["path"] for m in result["new_messages"] for f in m["media_files"]}
    assert len(media) == 3 and media <= names
    assert all(not n.startswith("/") and ".." not in n.split("/") and not n.endswith(".tmp")
               and not n.startswith(".tmp/") for n in names)
    assert not [p for p in runner.out.iterdir() if p.name.endswith(".tmp")]


def _zip_names(result: dict[str, Any]) -> set[str]:
    with zipfile.ZipFile(result["archive"]) as archive:
        return set(archive.namelist())


@pytest.mark.parametrize("keep", [False, True], ids=["cleanup", "no-cleanup-temp"])
def test_temp_folder_is_removed_unless_no_cleanup_temp(server_factory: Any, tmp_path: Path, keep: bool) -> None:
    """Real runs with media download through `<export>/.tmp`: removed at the end unless
    --no-cleanup-temp (then kept, with a killed run's leftover in it); never in the --zip archive."""
    server = server_factory(_scenario())
    runner = Runner(server, tmp_path)
    flags = ("--zip", "--no-cleanup-temp") if keep else ("--zip",)
    proc = runner.run(*flags)
    assert proc.returncode == 0, proc.stderr
    first = json.loads(proc.stdout)
    temp = runner.export_dir() / TEMP_DIR_NAME
    assert first["summary"]["media_saved"] == 3
    assert temp.is_dir() is keep and temp.exists() is keep  # created by this run's downloads
    if keep:
        assert not any(temp.iterdir()), "finished downloads must not stay in the temp folder"
    assert not any(n.split("/")[0] == TEMP_DIR_NAME for n in _zip_names(first))

    temp.mkdir(exist_ok=True)
    (temp / "left.part").write_bytes(b"partial download of a killed run")
    server_call(server, server.world.append_messages, CHANNEL_ID, None,
                [{"text": "late", "media": {"type": "document", "size": 40000, "file_name": "late.bin"}}])
    proc = runner.run(*flags)
    assert proc.returncode == 0, proc.stderr
    second = json.loads(proc.stdout)
    assert second["summary"]["media_saved"] == 1 and second["summary"]["new_messages"] == 1
    assert temp.exists() is keep and (temp / "left.part").exists() is keep
    if keep:
        assert [p.name for p in temp.iterdir()] == ["left.part"]
    names = _zip_names(second)
    (late,) = [f["path"] for m in second["new_messages"] for f in m["media_files"]]
    assert late in names and "export.json" in names
    assert not any(n.split("/")[0] == TEMP_DIR_NAME or n.endswith(".part") for n in names), sorted(names)


def test_media_failure_is_a_partial_run_with_everything_saved(server_factory: Any, tmp_path: Path) -> None:
    scenario = _scenario()
    scenario["faults"] = [{"kind": "file_reference_expired", "channel": CHANNEL_ID, "message_id": 2, "forever": True}]
    runner = Runner(server_factory(scenario), tmp_path)
    proc = runner.run()
    assert proc.returncode == 2, proc.stderr
    result = json.loads(proc.stdout)
    assert result["partial_failure"] is True and result["summary"]["media_errors_count"] == 1
    export = json.loads((runner.export_dir() / "export.json").read_text("utf-8"))
    by_id = {m["id"]: m for m in export["messages"]}
    assert len(by_id) == 12 and by_id[2]["media_files"][0]["error"] == "file_reference_expired"
    events = [json.loads(line) for line in (runner.export_dir() / "logs" / "run.log").read_text("utf-8").splitlines()]
    finished = [e for e in events if e["event"] == "run_finished"]
    assert finished[-1]["level"] == "ERROR" and finished[-1]["data"]["error_code"] == "PARTIAL_FAILURE"
    assert json.loads((runner.export_dir() / "summary.json").read_text("utf-8"))["partial_failure"] is True
