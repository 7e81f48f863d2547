"""The export store's journal, checkpoints, compaction and recovery (issue 5.1), in-process and with
real SIGKILLs at the store's fault points (tiny subprocesses, no server)."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from errors import DataFormatError
from tgexport.core import fault_points
from tgexport.core.atomic_json import dump_json_text
from tgexport.store import export as export_store
from tgexport.store.export import ChannelInfo, ExportStore
from tgexport.store.journal import JOURNAL_NAME

REPO = Path(__file__).resolve().parents[2]
CHANNEL = ChannelInfo(42, "my_chan", "My chan")
T1 = datetime(2024, 5, 1, 10, 5, tzinfo=UTC)
SHA = "ab" * 32


def msg(i: int, media: str | None = None) -> dict[str, Any]:
    files = [{"type": "photo", "path": media, "filename": media.rsplit("/", 1)[-1], "size": 1, "sha256": SHA}] \
        if media else []
    return {"id": i, "date": "2024-01-01T00:00:00Z", "text": f"m{i} é", "media_files": files, "forwarded": None,
            "reply_to_msg_id": None, "views": i, "forwards": 0}


def opened(tmp_path: Path, **kw: Any) -> ExportStore:
    store = ExportStore.open(tmp_path, CHANNEL, now=T1, **kw)
    store.create_dir()
    return store


def data_files(export_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(export_dir.iterdir()) if p.is_file()}


def check_consistent(export_dir: Path) -> dict[str, Any]:
    """The three files parse and agree (counts, last id ≥ newest id); no journal or temp file is left."""
    export = json.loads((export_dir / "export.json").read_text("utf-8"))
    state = json.loads((export_dir / "state.json").read_text("utf-8"))
    ids = [m["id"] for m in export["messages"]]
    assert ids == sorted(set(ids)) and export["total_messages"] == len(ids)
    assert state["messages_total"] == len(ids) and state["last_message_id"] >= (ids[-1] if ids else 0)
    assert state["media_total"] == sum(len(m["media_files"]) for m in export["messages"])
    assert state["export_check"]["sha256"] == hashlib.sha256((export_dir / "export.json").read_bytes()).hexdigest()
    json.loads((export_dir / "media-index.json").read_text("utf-8"))
    assert not [p.name for p in export_dir.iterdir() if p.name.endswith(".tmp") or p.name == JOURNAL_NAME]
    return export


def place(export_dir: Path, rel: str) -> None:
    (export_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (export_dir / rel).write_bytes(b"jpeg")


# -- checkpoints --------------------------------------------------------------------------------

def test_checkpoint_appends_only_the_new_records_and_leaves_the_json_files_alone(tmp_path: Path) -> None:
    store = opened(tmp_path)
    store.append([msg(i) for i in range(1, 101)], 0)
    store.save(T1)
    before = data_files(store.export_dir)
    sizes = []
    for start, position in ((101, 110), (111, 120), (121, 142)):
        store.append([msg(i) for i in range(start, start + 10)], position)
        assert store.pending_records() == 10 and store.checkpoint() and store.pending_records() == 0
        sizes.append((store.export_dir / JOURNAL_NAME).stat().st_size)
        now = data_files(store.export_dir)
        (spool,) = [name for name in now if name.endswith(".tmp")]  # the next export.json, being written
        assert spool.startswith(".export.json.")
        assert {k: v for k, v in now.items() if k != spool} == before | {JOURNAL_NAME: now[JOURNAL_NAME]}
    assert not store.checkpoint()  # nothing new: nothing written
    assert sizes[2] - sizes[1] == pytest.approx(sizes[1] - sizes[0], rel=0.05)  # ∝ the new records only
    lines = (store.export_dir / JOURNAL_NAME).read_bytes().splitlines()
    assert json.loads(lines[0]) == {"op": "journal", "version": 1, "channel_id": 42}
    entry = json.loads(lines[1])
    assert entry["op"] == "messages" and entry["after"] == 100 and entry["last"] == 110
    assert [m["id"] for m in entry["messages"]] == list(range(101, 111))
    assert json.loads(lines[3])["after"] == 120 and json.loads(lines[3])["last"] == 142
    store.save(T1)
    export = check_consistent(store.export_dir)
    assert [m["id"] for m in export["messages"]] == list(range(1, 131))
    assert json.loads(store.state_json.read_text("utf-8"))["last_message_id"] == 142


def test_a_killed_run_is_recovered_from_its_journal_on_the_next_open(tmp_path: Path) -> None:
    store = opened(tmp_path)
    store.append([msg(i) for i in range(1, 6)], 0)
    store.save(T1)
    store.append([msg(i) for i in range(6, 9)], 8)
    store.checkpoint()
    store.append([msg(9)], 10)  # committed after the last checkpoint: fetched again by the next run
    store.close()  # the process dies here: no compaction
    assert (store.export_dir / JOURNAL_NAME).exists()
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert again.repairs == ["recovered 3 message(s) and 0 media file(s) from the journal of an interrupted run"]
    assert again.last_message_id == 8 and [m["id"] for m in again.messages] == list(range(1, 9))
    export = check_consistent(again.export_dir)  # compacted at once, journal removed
    assert export["messages"] == [msg(i) for i in range(1, 9)]
    assert export == json.loads(dump_json_text(export))
    assert again.append([msg(9), msg(10)], 10) == [msg(9), msg(10)]


@pytest.mark.parametrize("tail", [b'{"op":"messages","after":5,"la', b"garbage\n", b"\xff\xfe\n"],
                         ids=["no-newline", "unparsable", "not-utf8"])
def test_a_torn_last_line_is_ignored_with_a_note(tmp_path: Path, tail: bytes) -> None:
    store = opened(tmp_path)
    store.append([msg(1), msg(2)], 0)
    store.checkpoint()
    store.close()
    with open(store.export_dir / JOURNAL_NAME, "ab") as handle:
        handle.write(tail)
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert again.repairs[0].startswith(f"ignored the incomplete last line of {JOURNAL_NAME}")
    assert [m["id"] for m in check_consistent(again.export_dir)["messages"]] == [1, 2]


def test_a_torn_header_leaves_an_empty_export(tmp_path: Path) -> None:
    export_dir = tmp_path / "my_chan__2024-05-01_10-05"
    export_dir.mkdir()
    (export_dir / JOURNAL_NAME).write_bytes(b'{"op":"jour')
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert again.messages == [] and check_consistent(export_dir)["messages"] == []


def _journal_with(tmp_path: Path, lines: list[bytes]) -> Path:
    store = opened(tmp_path)
    store.append([msg(1)], 0)
    store.save(T1)
    journal = store.export_dir / JOURNAL_NAME
    journal.write_bytes(b"".join(line + b"\n" for line in lines))
    return store.export_dir


HEADER = b'{"op":"journal","version":1,"channel_id":42}'


@pytest.mark.parametrize(("lines", "fragment"), [
    ([HEADER, b"garbage", b'{"op":"messages","after":1,"last":2,"messages":[]}'], "line 2 is damaged"),
    ([b'{"op":"journal","version":1,"channel_id":7}', b"{}"], "line 1 belongs to channel 7"),
    ([b'{"op":"journal","version":9,"channel_id":42}'], "line 1 is not a version 1 journal header"),
    ([HEADER, b'{"op":"messages","after":5,"last":9,"messages":[]}'], "continues after message 5"),
    ([HEADER, b'{"op":"messages","after":1,"last":9,"messages":[{"id":"2"}]}', HEADER],
     "line 2 holds a message without an integer"),
    ([HEADER, b'{"op":"messages","after":1,"last":3,"messages":[{"id":5}]}', HEADER], "out of order"),
    ([HEADER, b'{"op":"media","sha256":"' + SHA.encode() + b'","path":"../x","file_key":null}', HEADER],
     "malformed media entry"),
    ([HEADER, b'{"op":"drop_everything"}', HEADER], "unknown \"op\""),
], ids=["damaged-middle", "other-channel", "version", "gap", "bad-message", "order", "unsafe-media", "op"])
def test_a_damaged_journal_is_refused_and_nothing_is_touched(tmp_path: Path, lines: list[bytes],
                                                            fragment: str) -> None:
    export_dir = _journal_with(tmp_path, lines)
    before = data_files(export_dir)
    with pytest.raises(DataFormatError, match=f"{JOURNAL_NAME}: .*{fragment}"):
        ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert data_files(export_dir) == before


# -- media ---------------------------------------------------------------------------------------

def test_record_media_is_journaled_at_once_and_survives_a_kill(tmp_path: Path) -> None:
    store = opened(tmp_path)
    place(store.export_dir, "media/photos/3.jpg")
    store.record_media(SHA, "media/photos/3.jpg", "photo:77")
    size = (store.export_dir / JOURNAL_NAME).stat().st_size
    store.record_media(SHA, "media/photos/3.jpg", "photo:77")  # nothing new: not journaled again
    store.record_media(SHA, "media/photos/3.jpg", None)
    assert (store.export_dir / JOURNAL_NAME).stat().st_size == size
    store.close()  # killed before the message carrying it was committed
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert again.sha_index == {SHA: "media/photos/3.jpg"} and again.file_index == {"photo:77": SHA}
    assert again.repairs == ["recovered 0 message(s) and 1 media file(s) from the journal of an interrupted run"]
    index = json.loads(again.media_index_json.read_text("utf-8"))
    assert index == {"sha256_to_path": {SHA: "media/photos/3.jpg"}, "file_id_to_sha256": {"photo:77": SHA}}


def test_a_journaled_media_file_that_is_gone_is_not_recovered(tmp_path: Path) -> None:
    store = opened(tmp_path)
    place(store.export_dir, "media/photos/3.jpg")
    store.record_media(SHA, "media/photos/3.jpg", "photo:77")
    store.close()
    (store.export_dir / "media/photos/3.jpg").unlink()
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert again.sha_index == {} and again.file_index == {}


def test_index_changes_made_directly_are_journaled_at_the_next_checkpoint(tmp_path: Path) -> None:
    store = opened(tmp_path)
    place(store.export_dir, "media/photos/4.jpg")
    store.sha_index[SHA] = "media/photos/4.jpg"
    store.file_index["document:5"] = SHA
    assert store.checkpoint()
    store.close()
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert again.sha_index == {SHA: "media/photos/4.jpg"} and again.file_index == {"document:5": SHA}


# -- compaction and cheap unchanged runs ---------------------------------------------------------

def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real = export_store.parse_json_bytes

    def counting(path: Path, raw: bytes) -> Any:
        parsed.append(Path(path).name)
        return real(path, raw)

    monkeypatch.setattr(export_store, "parse_json_bytes", counting)
    return parsed


def test_an_unchanged_export_is_neither_parsed_nor_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = opened(tmp_path)
    store.append([msg(i) for i in range(1, 50)], 0)
    store.save(T1)
    export_stat = store.export_json.stat()
    parsed = _count_parses(monkeypatch)
    later = datetime(2024, 6, 1, tzinfo=UTC)
    again = ExportStore.open(tmp_path, CHANNEL, now=later)
    assert again.append([msg(3)], 60) == []  # only the scan position moves
    again.save(later)
    assert parsed == [] and again.repairs == []
    assert (store.export_json.stat().st_ino, store.export_json.stat().st_mtime_ns) == (export_stat.st_ino,
                                                                                       export_stat.st_mtime_ns)
    state = json.loads(store.state_json.read_text("utf-8"))
    assert state["last_message_id"] == 60 and state["last_update_at"] == "2024-06-01T00:00:00Z"
    assert state["messages_total"] == 49 and not (store.export_dir / JOURNAL_NAME).exists()


def test_appending_to_our_own_export_keeps_its_bytes_and_equals_a_full_dump(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = opened(tmp_path)
    store.append([msg(i) for i in range(1, 4)], 0)
    store.save(T1)
    parsed = _count_parses(monkeypatch)
    renamed = ChannelInfo(42, "my_chan", "New title")
    again = ExportStore.open(tmp_path, renamed, now=T1)
    again.append([msg(4), msg(5)], 0)
    again.checkpoint()
    again.append([msg(6)], 0)
    again.save(T1)
    assert parsed == []  # the old message lines were kept as bytes
    expected = {"channel_info": renamed.as_dict(), "messages": [msg(i) for i in range(1, 7)],
                "export_date": "2024-05-01T10:05:00Z", "total_messages": 6}
    assert again.export_json.read_text("utf-8") == dump_json_text(expected)
    check_consistent(again.export_dir)


def test_a_hand_edited_export_is_loaded_in_full_and_state_rebuilt(tmp_path: Path) -> None:
    store = opened(tmp_path)
    store.append([msg(i) for i in range(1, 6)], 0)
    store.save(T1)
    data = json.loads(store.export_json.read_text("utf-8"))
    data["messages"] = data["messages"][:3]
    store.export_json.write_text(json.dumps(data, indent=2), encoding="utf-8")
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert again.repairs == ["rebuilt state.json from export.json: it said messages_total 5 (export.json: 3)"]
    assert again.last_message_id == 5  # above the newest kept message: legitimate, kept
    assert json.loads(again.state_json.read_text("utf-8"))["messages_total"] == 3
    assert json.loads(again.export_json.read_text("utf-8")) == data  # export.json itself is fine: kept


def test_a_live_journal_is_left_alone(tmp_path: Path) -> None:
    writer = opened(tmp_path)
    writer.append([msg(1)], 0)
    writer.checkpoint()  # holds the journal's lock, as a running process would
    journal = (writer.export_dir / JOURNAL_NAME).read_bytes()
    reader = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert [m["id"] for m in reader.messages] == [1]  # sees the committed state
    with pytest.raises(OSError) as info:
        reader.compact(T1)
    assert info.value.errno == errno.EBUSY
    assert (writer.export_dir / JOURNAL_NAME).read_bytes() == journal and not writer.export_json.exists()
    writer.save(T1)
    assert [m["id"] for m in check_consistent(writer.export_dir)["messages"]] == [1]


def test_recover_false_is_a_read_only_view(tmp_path: Path) -> None:
    store = opened(tmp_path)
    store.append([msg(1), msg(2)], 0)
    store.checkpoint()
    store.close()
    before = data_files(store.export_dir)
    view = ExportStore.open(tmp_path, CHANNEL, now=T1, recover=False)
    assert view.last_message_id == 2 and [m["id"] for m in view.messages] == [1, 2]
    with pytest.raises(OSError):
        view.save(T1)
    assert data_files(store.export_dir) == before


def test_temp_files_of_dead_processes_are_removed_on_open(tmp_path: Path) -> None:
    store = opened(tmp_path)
    store.save(T1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = store.export_dir / f".export.json.{dead.stdout.strip()}.abc123.tmp"
    live = store.export_dir / f".state.json.{os.getpid()}.abc123.tmp"
    other = store.export_dir / f".notes.txt.{dead.stdout.strip()}.abc123.tmp"
    for path in (stale, live, other):
        path.write_bytes(b"{")
    ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert not stale.exists() and live.exists() and other.exists()


# -- write failures ------------------------------------------------------------------------------

def test_a_failed_append_is_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tgexport.store import journal as export_journal

    store = opened(tmp_path)
    store.append([msg(1)], 0)
    store.checkpoint()
    journal = (store.export_dir / JOURNAL_NAME).read_bytes()
    real = export_journal._write_all
    calls = []

    def second_half_fails(fd: int, data: bytes) -> None:
        calls.append(len(data))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(export_journal, "_write_all", second_half_fails)
    store.append([msg(2)], 0)
    with pytest.raises(OSError):
        store.checkpoint()
    assert (store.export_dir / JOURNAL_NAME).read_bytes() == journal  # no torn line left behind
    monkeypatch.setattr(export_journal, "_write_all", real)
    assert store.checkpoint()
    store.close()
    again = ExportStore.open(tmp_path, CHANNEL, now=T1)
    assert [m["id"] for m in again.messages] == [1, 2] and again.repairs[0].startswith("recovered 2 message")


@pytest.mark.parametrize("point", ["journal_append", "json_write"])
def test_injected_disk_errors_leave_the_previous_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       point: str) -> None:
    store = opened(tmp_path)
    store.append([msg(1)], 0)
    store.save(T1)
    before = data_files(store.export_dir)
    monkeypatch.setenv(fault_points.OSERROR_ENV, f"{point}:1:ENOSPC")
    fault_points.reload_from_env()
    try:
        store.append([msg(2)], 0)
        with pytest.raises(OSError) as info:
            store.save(T1)
    finally:
        monkeypatch.delenv(fault_points.OSERROR_ENV)
        fault_points.reload_from_env()
    assert info.value.errno == errno.ENOSPC
    after = data_files(store.export_dir)
    assert {k: v for k, v in after.items() if k != JOURNAL_NAME} == before
    assert not [p for p in store.export_dir.iterdir() if p.name.endswith(".tmp")]


# -- SIGKILL at the store's fault points --------------------------------------------------------

SCRIPT = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from tgexport.store.export import ChannelInfo, ExportStore
    sys.path.insert(0, {tests!r})
    from test_store_journal import msg, place, SHA
    store = ExportStore.open(Path({out!r}), ChannelInfo(42, "my_chan", "My chan"))
    store.create_dir()
    store.append([msg(i) for i in range(1, 11)], 0)
    store.checkpoint()
    place(store.export_dir, "media/photos/11.jpg")
    store.record_media(SHA, "media/photos/11.jpg", "photo:11")
    store.append([msg(11, "media/photos/11.jpg")] + [msg(i) for i in range(12, 21)], 25)
    store.checkpoint()
    store.save()
    print("done")
""")

# kill point -> (messages recovered, media indexed): lines are header, messages 1-10, media, messages 11-20
KILLS = {"journal_write:1": (0, False), "journal_write:2": (0, False), "journal_synced:1": (10, False),
         "journal_write:3": (10, False), "journal_write:4": (10, True), "journal_synced:2": (10, True),
         "journal_synced:3": (20, True), "compact_write:1": (20, True), "compact_write:2": (20, True),
         "compact_renamed:1": (20, True), "compact_write:3": (20, True)}


@pytest.mark.parametrize("point", sorted(KILLS))
def test_sigkill_at_a_store_fault_point_loses_nothing_checkpointed(tmp_path: Path, point: str) -> None:
    out = tmp_path / "out"
    code = SCRIPT.format(repo=str(REPO), tests=str(Path(__file__).parent), out=str(out))
    env = {**os.environ, fault_points.FAULT_ENV: point, fault_points.REPORT_ENV: str(tmp_path / "hit")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert (tmp_path / "hit").read_text().split() == point.split(":")
    (export_dir,) = out.iterdir()
    for name in ("export.json", "state.json", "media-index.json"):  # whatever is there parses
        if (export_dir / name).exists():
            json.loads((export_dir / name).read_text("utf-8"))
    lagging = point == "compact_renamed:1"  # the one window where state.json is behind export.json
    if (export_dir / "state.json").exists() and not lagging:
        state = json.loads((export_dir / "state.json").read_text("utf-8"))
        assert state["messages_total"] == len(json.loads((export_dir / "export.json").read_text("utf-8"))["messages"])
    assert (export_dir / JOURNAL_NAME).exists() or point.startswith("journal_write:1")
    again = ExportStore.open(out, CHANNEL)
    count, media = KILLS[point]
    export = check_consistent(export_dir)
    assert [m["id"] for m in export["messages"]] == list(range(1, count + 1))
    assert again.last_message_id == {0: 0, 10: 10, 20: 25}[count]
    assert (again.file_index == {"photo:11": SHA}) is media
