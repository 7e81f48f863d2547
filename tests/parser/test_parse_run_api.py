"""In-process `run_parse` with a real Telethon client over TCP to the local server: linear I/O
(one save per run; fetched pages recoverable before a long wait), sleeps through an injected sleep,
and the page pause of the mode. Time-based journal checkpoints: tests/reliability/test_store_checkpoints.py."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from testkit.inproc import FakeTime as Recorder
from testkit.inproc import generated_channel, run_parse_inprocess
from testkit.server import make_session
from tgexport.config.options import ParseOptions
from tgexport.store import export as export_store
from tgexport.store.export import ChannelInfo, ExportStore

CHANNEL_ID = 1234567890


def _scenario(count: int, faults: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return generated_channel(CHANNEL_ID, "test_channel", "Test channel", count, faults)


def _run(session: Path, options: ParseOptions, rec: Recorder) -> dict[str, Any]:
    return run_parse_inprocess(session, options, rec)


@pytest.fixture
def count_saves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = export_store.ExportStore.save

    def save(self: export_store.ExportStore, now: Any = None) -> None:
        calls.append(len(self.messages))
        real(self, now)

    monkeypatch.setattr(export_store.ExportStore, "save", save)
    return calls


def test_one_save_per_run_not_per_page(server_factory: Any, tmp_path: Path, count_saves: list[int],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_PARSER_PAUSE_SCALE", "0")
    server = server_factory(_scenario(1000))
    session = make_session(server, tmp_path / "s.session")
    result = _run(session, ParseOptions.build("@test_channel", tmp_path / "out"), Recorder())
    assert result["summary"]["new_messages"] == 1000 and server.requests.count("messages.getHistory") == 11
    assert count_saves == [1000]
    assert json.loads(Path(result["state_json"]).read_text("utf-8"))["last_message_id"] == 1000


def test_page_pauses_follow_the_mode_and_flood_waits_add_the_extra(server_factory: Any, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_PARSER_PAUSE_SCALE", raising=False)
    faults = [{"kind": "flood_wait", "method": "messages.getHistory", "call": 2, "seconds": 7, "times": 1}]
    server = server_factory(_scenario(250, faults))
    session = make_session(server, tmp_path / "s.session")
    rec = Recorder()
    result = _run(session, ParseOptions.build("@test_channel", tmp_path / "out", mode="normal"), rec)
    assert result["summary"]["flood_wait_events"] == 1 and result["summary"]["new_messages"] == 250
    flood_sleeps = [s for s in rec.sleeps if s >= 7]
    page_pauses = [s for s in rec.sleeps if s < 7]
    assert flood_sleeps == [7 + 3.0]  # normal: FloodWait seconds + 3 s extra
    assert len(page_pauses) == server.requests.count("messages.getHistory") - 1 - 1  # between pages only
    assert all(0.3 <= s <= 0.8 for s in page_pauses)


def test_flood_wait_above_bound_raises_after_saving(server_factory: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from errors import RateLimitError

    monkeypatch.setenv("TELEGRAM_PARSER_PAUSE_SCALE", "0")
    faults = [{"kind": "flood_wait", "method": "messages.getHistory", "call": 2, "seconds": 3600, "times": 1}]
    server = server_factory(_scenario(250, faults))
    session = make_session(server, tmp_path / "s.session")
    rec = Recorder()
    with pytest.raises(RateLimitError) as info:
        _run(session, ParseOptions.build("@test_channel", tmp_path / "out", max_flood_wait=60), rec)
    assert info.value.retry_after == 3600 and rec.sleeps == []
    (export_dir,) = (tmp_path / "out").iterdir()
    assert json.loads((export_dir / "state.json").read_text("utf-8"))["last_message_id"] == 100
    assert json.loads((export_dir / "summary.json").read_text("utf-8"))["retry_after"] == 3600


def test_fetched_pages_are_saved_before_a_flood_wait_starts(server_factory: Any, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A cron `timeout -s KILL` during a long wait must not lose the pages fetched before it."""
    monkeypatch.setenv("TELEGRAM_PARSER_PAUSE_SCALE", "0")
    faults = [{"kind": "flood_wait", "method": "messages.getHistory", "call": 3, "seconds": 30, "times": 1}]
    server = server_factory(_scenario(350, faults))
    session = make_session(server, tmp_path / "s.session")
    on_disk_during_wait: list[int] = []

    class Watcher(Recorder):
        async def sleep(self, seconds: float) -> None:
            if seconds >= 30:  # what a kill now would leave: a copy of the folder, opened as the next run would
                (export_dir,) = [d for d in (tmp_path / "out").iterdir() if d.is_dir()]
                copy = tmp_path / "copy" / export_dir.name
                shutil.copytree(export_dir, copy)
                info = ChannelInfo(CHANNEL_ID, "test_channel", None)
                on_disk_during_wait.append(ExportStore.open(copy.parent, info).last_message_id)
            await super().sleep(seconds)

    result = _run(session, ParseOptions.build("@test_channel", tmp_path / "out"), Watcher())
    assert on_disk_during_wait == [200] and result["summary"]["new_messages"] == 350
