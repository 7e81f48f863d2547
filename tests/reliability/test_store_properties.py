"""Property test (hypothesis): any sequence of append / checkpoint / record_media / compact, then a
kill that leaves the journal cut at any byte, reopens to exactly the last committed state."""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tgexport.store.export import ChannelInfo, ExportStore
from tgexport.store.journal import JOURNAL_NAME
from tgexport.store.layout import encode_message, export_bytes, message_lines

CHANNEL = ChannelInfo(9, "prop", "Prop")

OPS = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(0, 4), st.integers(0, 3)),
    st.tuples(st.just("checkpoint")),
    st.tuples(st.just("media"), st.integers(0, 3)),
    st.tuples(st.just("compact")),
), max_size=14)


def record(i: int) -> dict[str, Any]:
    return {"id": i, "date": "2024-01-01T00:00:00Z", "text": f"t{i}\n\"ü\"", "media_files": [],
            "forwarded": None, "reply_to_msg_id": None, "views": None, "forwards": None}


@dataclass
class Model:
    """What is committed, by journal size since the last compaction: messages and scan position as of
    the last checkpoint, media as of the last record_media (this test changes the index only so)."""

    boundaries: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    records: tuple[list[int], int] = ([], 0)

    def note(self, store: ExportStore, journal: Path, op: str) -> None:
        if op in ("checkpoint", "compact"):
            self.records = ([m["id"] for m in store.messages], store.last_message_id)
        size = journal.stat().st_size if journal.exists() else 0
        if not self.boundaries or self.boundaries[-1][0] != size:
            self.boundaries.append((size, (*self.records, dict(store.sha_index), dict(store.file_index))))

    def at(self, cut: int) -> tuple[Any, ...]:
        return [snap for size, snap in self.boundaries if size <= cut][-1]


def run_ops(store: ExportStore, ops: list[tuple[Any, ...]], model: Model) -> None:
    journal = store.export_dir / JOURNAL_NAME
    next_id = 1
    for op in ops:
        if op[0] == "append":
            ids = list(range(next_id, next_id + op[1]))
            next_id += op[1] + op[2]  # op[2] ids scanned and not kept
            store.append([record(i) for i in ids], next_id - 1)
        elif op[0] == "checkpoint":
            store.checkpoint()
        elif op[0] == "media":
            rel = f"media/photos/{op[1]}.jpg"
            (store.export_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (store.export_dir / rel).write_bytes(b"x")
            store.record_media(f"{op[1] + next_id % 2:064x}", rel, f"photo:{op[1]}")
        else:
            store.compact()
            model.boundaries = []
        model.note(store, journal, op[0])


@settings(max_examples=60)
@given(ops=OPS, cut_fraction=st.floats(0, 1))
def test_reopen_after_a_kill_at_any_journal_byte_equals_the_committed_prefix(ops: list[tuple[Any, ...]],
                                                                            cut_fraction: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = ExportStore.open(Path(tmp), CHANNEL)
        store.create_dir()
        model = Model()
        model.note(store, store.export_dir / JOURNAL_NAME, "compact")
        run_ops(store, ops, model)
        store.close()  # killed: nothing compacted after the last op
        journal = store.export_dir / JOURNAL_NAME
        cut = 0
        if journal.exists():
            data = journal.read_bytes()
            cut = round(len(data) * cut_fraction)
            journal.write_bytes(data[:cut])
        ids, last, sha_index, file_index = model.at(cut)
        again = ExportStore.open(Path(tmp), CHANNEL)
        assert ([m["id"] for m in again.messages], again.last_message_id) == (ids, last)
        assert (again.sha_index, again.file_index) == (sha_index, file_index)
        if (again.export_dir / "state.json").exists():
            state = json.loads((again.export_dir / "state.json").read_text("utf-8"))
            assert state["messages_total"] == len(ids) and state["last_message_id"] == last
            assert not journal.exists()


@given(st.lists(st.integers(1, 10**6), unique=True, max_size=8), st.lists(st.integers(1, 10**6), max_size=5),
       st.text(max_size=20))
def test_export_bytes_equal_a_full_dump_and_splice(old_ids: list[int], new_ids: list[int], title: str) -> None:
    from tgexport.core.atomic_json import dump_json_text

    info = {"id": 1, "username": None, "title": title}
    old = [record(i) for i in sorted(old_ids)]
    new = [record(i) for i in new_ids]
    raw = export_bytes(info, [encode_message(m) for m in old], "2024-01-01T00:00:00Z", len(old))
    assert raw.decode() == dump_json_text({"channel_info": info, "messages": old,
                                           "export_date": "2024-01-01T00:00:00Z", "total_messages": len(old)})
    kept = message_lines(raw)
    assert kept is not None
    spliced = export_bytes(info, ([kept] if kept else []) + [encode_message(m) for m in new], "x", 0)
    assert json.loads(spliced)["messages"] == old + new
