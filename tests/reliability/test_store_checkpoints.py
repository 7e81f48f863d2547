"""The run's checkpoint policy (parse_run._after_commit / _checkpoint / _save): in-process `run_parse`
with a real Telethon client over TCP to the local server, an injected clock and injected sleeps."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testkit.inproc import FakeTime as Clock
from testkit.inproc import generated_channel, run_parse_inprocess
from testkit.server import make_session
from tgexport.config.options import ParseOptions
from tgexport.run.parse import CHECKPOINT_RECORDS, CHECKPOINT_RECORDS_ENV, CHECKPOINT_SEC, checkpoint_records
from tgexport.store import journal as export_journal
from tgexport.store.export import ChannelInfo, ExportStore

CHANNEL_ID = 1234500099
INFO = ChannelInfo(CHANNEL_ID, "ckpt_chan", "Checkpoints")


def _scenario(count: int, faults: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return generated_channel(CHANNEL_ID, "ckpt_chan", "Checkpoints", count, faults)


def _run(session: Path, out: Path, clock: Clock) -> dict[str, Any]:
    return run_parse_inprocess(session, ParseOptions.build("@ckpt_chan", out), clock)


@pytest.fixture
def journal_entries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """(after, last, number of messages) of every messages entry the run journals."""
    entries: list[tuple[int, int, int]] = []
    real = export_journal.JournalWriter.append

    def append(self: export_journal.JournalWriter, lines: list[bytes]) -> None:
        for line in lines:
            entry = json.loads(line)
            if entry["op"] == "messages":
                entries.append((entry["after"], entry["last"], len(entry["messages"])))
        real(self, lines)

    monkeypatch.setattr(export_journal.JournalWriter, "append", append)
    return entries


def test_a_checkpoint_every_checkpoint_records_records(server_factory: Any, tmp_path: Path,
                                                       journal_entries: list[tuple[int, int, int]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_PARSER_PAUSE_SCALE", "0")
    total = 2 * CHECKPOINT_RECORDS + 500
    server = server_factory(_scenario(total))
    result = _run(make_session(server, tmp_path / "s.session"), tmp_path / "out", Clock())
    assert result["summary"]["new_messages"] == total
    n = CHECKPOINT_RECORDS
    assert journal_entries == [(0, n, n), (n, 2 * n, n), (2 * n, total, 500)]  # the last one by the final save
    assert not (Path(result["export_dir"]) / export_journal.JOURNAL_NAME).exists()  # compacted at the end


def test_the_environment_sets_the_records_between_checkpoints(server_factory: Any, tmp_path: Path,
                                                              journal_entries: list[tuple[int, int, int]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_PARSER_PAUSE_SCALE", "0")
    monkeypatch.setenv(CHECKPOINT_RECORDS_ENV, "200")
    server = server_factory(_scenario(450))
    _run(make_session(server, tmp_path / "s.session"), tmp_path / "out", Clock())
    assert journal_entries == [(0, 200, 200), (200, 400, 200), (400, 450, 50)]


@pytest.mark.parametrize(("value", "records"), [("250", 250), ("0", CHECKPOINT_RECORDS), ("-5", CHECKPOINT_RECORDS),
                                                ("many", CHECKPOINT_RECORDS), ("", CHECKPOINT_RECORDS), ("0.5", 1)])
def test_checkpoint_records_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, records: int) -> None:
    monkeypatch.setenv(CHECKPOINT_RECORDS_ENV, value)
    assert checkpoint_records() == records


def test_a_checkpoint_at_least_every_checkpoint_sec(server_factory: Any, tmp_path: Path,
                                                   journal_entries: list[tuple[int, int, int]],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_PARSER_PAUSE_SCALE", "0")
    server = server_factory(_scenario(450))
    _run(make_session(server, tmp_path / "s.session"), tmp_path / "out", Clock(step=CHECKPOINT_SEC))
    assert [count for _, _, count in journal_entries] == [100, 100, 100, 100, 50]  # one per committed page
    assert all(after < last for after, last, _ in journal_entries)


def test_fetched_pages_are_journaled_before_a_flood_wait_starts(server_factory: Any, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A cron `timeout -s KILL` during a long wait must not lose the pages fetched before it."""
    monkeypatch.setenv("TELEGRAM_PARSER_PAUSE_SCALE", "0")
    faults = [{"kind": "flood_wait", "method": "messages.getHistory", "call": 3, "seconds": 30, "times": 1}]
    server = server_factory(_scenario(350, faults))
    out = tmp_path / "out"
    during_wait: list[tuple[int, bool]] = []

    class Watcher(Clock):
        async def sleep(self, seconds: float) -> None:
            if seconds >= 30:
                view = ExportStore.open(out, INFO, recover=False)  # what the next run would resume from
                during_wait.append((view.last_message_id, view.export_json.exists()))
            await super().sleep(seconds)

    result = _run(make_session(server, tmp_path / "s.session"), out, Watcher())
    assert during_wait == [(200, False)] and result["summary"]["new_messages"] == 350
