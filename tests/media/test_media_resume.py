"""Resume and dedup by Telegram file id after a killed run (real CLI, SIGKILL at named fault points).

The server's request log proves that no part written to the part file is requested again, and
that a file already placed and journaled is not downloaded again at all."""
from __future__ import annotations

import json
from pathlib import Path

from media_testkit import MIB, check_stored, doc, events, export_dir, messages, offsets, parse, scenario

from testkit.server import make_session, running_server

KILLED = -9


def test_resume_after_sigkill_asks_only_for_missing_parts(tmp_path: Path) -> None:
    msgs = [{"id": 1, "text": "before"}, doc(2, 6 * MIB + 5000, "big.bin"), {"id": 3, "text": "after"}]
    with running_server(scenario(msgs)) as server:
        make_session(server, tmp_path / "acc.session")
        first = parse(tmp_path, expect=KILLED, TELEGRAM_PARSER_FAULT_KILL="media_part:3")
        assert first.returncode == KILLED
        export = export_dir(tmp_path)
        part, = export.rglob("document-*.part")
        written = part.stat().st_size
        assert written == 3 * MIB  # three parts written and flushed, then SIGKILL
        first_run = offsets(server, 2)
        server.requests.reset()

        parse(tmp_path)
        check_stored(export, server, 2)
        second_run = offsets(server, 2)
        assert second_run and min(o for o, _ in second_run) == written
        assert not {o for o, _ in first_run if o < written} & {o for o, _ in second_run}
        assert len({o for o, _ in second_run}) == len(second_run)  # nothing asked twice in the run
        start, = events(export, "media_download_start")[-1:]
        assert start["resumed_bytes"] == written
        assert sorted(messages(export)) == [1, 2, 3]
        assert not list(export.rglob("*.part"))  # the completed run removed the temp folder


def test_placed_file_is_not_downloaded_again_after_sigkill(tmp_path: Path) -> None:
    """Killed right after the placed file was journaled (before its message was committed): the
    next run finds the Telegram file id in the index and asks for no byte of it."""
    msgs = [doc(1, 2 * MIB, "a.bin"), {"id": 2, "text": "x"}]
    with running_server(scenario(msgs)) as server:
        make_session(server, tmp_path / "acc.session")
        parse(tmp_path, expect=KILLED, TELEGRAM_PARSER_FAULT_KILL="journal_synced:1")
        export = export_dir(tmp_path)
        assert list((export / "media" / "documents").iterdir())  # placed before the kill
        server.requests.reset()

        result = parse(tmp_path)
        assert offsets(server, 1) == []  # not one byte downloaded again
        item = check_stored(export, server, 1)
        assert item["path"] == "media/documents/1_a.bin"
        summary = json.loads(result.stdout)["summary"]
        assert summary["media_dedup_hits"] == 1 and summary["media_saved"] == 0
        assert len(events(export, "media_download_start")) == 1  # the killed run's only


def test_same_bytes_under_another_id_are_not_downloaded_again_after_sigkill(tmp_path: Path) -> None:
    """Killed while journaling the hash-dedup hit of message 2 (same bytes as message 1, another Telegram
    file; journal lines: header, message 1's file, message 2's): its finished part file must still be
    there, so the next run asks for no byte of it."""
    msgs = [doc(1, 2 * MIB, "a.bin"),
            {"id": 2, "text": "again", "media": {"type": "document", "content_of": 1, "file_name": "b.bin"}}]
    with running_server(scenario(msgs)) as server:
        make_session(server, tmp_path / "acc.session")
        report = tmp_path / "hit.txt"
        parse(tmp_path, expect=KILLED, TELEGRAM_PARSER_FAULT_KILL="journal_write:3",
              TELEGRAM_PARSER_FAULT_REPORT=str(report))
        assert report.read_text(encoding="utf-8") == "journal_write 3\n"
        assert sum(limit for _, limit in offsets(server, 2)) >= 2 * MIB  # fetched whole before the kill
        server.requests.reset()

        result = parse(tmp_path)
        assert offsets(server, 2) == []  # not one byte of message 2 asked again
        export = export_dir(tmp_path)
        assert check_stored(export, server, 2)["path"] == "media/documents/1_a.bin"
        summary = json.loads(result.stdout)["summary"]
        assert (summary["media_dedup_hits"], summary["media_saved"]) == (2, 0)  # 1 by file id, 2 by sha256
