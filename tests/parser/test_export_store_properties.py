"""Property tests (hypothesis) of the store's append/merge invariants."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tgexport.store.export import ChannelInfo, ExportStore, repair_messages

ids = st.lists(st.integers(min_value=1, max_value=300), max_size=60)


def _recs(values: list[int]) -> list[dict]:
    return [{"id": v, "text": str(v)} for v in values]


def _store(messages: list[dict] | None = None, last: int = 0) -> ExportStore:
    """An in-memory store (nothing touches the disk until save())."""
    return ExportStore(Path("/nonexistent/export"), ChannelInfo(1, None, None), list(messages or []), last)


@given(batches=st.lists(ids, max_size=8), positions=st.lists(st.integers(0, 400), max_size=8))
def test_appending_batches_keeps_ids_ascending_unique_and_bounded(batches: list[list[int]], positions: list[int]) -> None:
    store = _store()
    last = 0
    seen: set[int] = set()
    for i, batch in enumerate(batches):
        position = positions[i] if i < len(positions) else 0
        before = list(store.messages)
        added = store.append(_recs(batch), position)
        messages, new_last = store.messages, store.last_message_id
        got = [m["id"] for m in messages]
        assert got == sorted(set(got))  # ascending, each id once
        assert messages[: len(before)] == before  # nothing existing lost or changed
        assert {m["id"] for m in added} == {v for v in batch if v > last}
        assert all(m["id"] <= new_last for m in messages) and new_last >= last  # never goes back
        assert new_last == max([last, position, *[v for v in batch if v > last]])
        seen |= {m["id"] for m in added}
        last = new_last
    assert {m["id"] for m in store.messages} == seen


@given(values=ids, last=st.integers(0, 400))
def test_repair_gives_a_valid_export(values: list[int], last: int) -> None:
    messages, new_last, _notes = repair_messages(_recs(values), last)
    got = [m["id"] for m in messages]
    assert got == sorted(set(values))
    assert new_last == max([last, *values])
    assert all(m["text"] == str(m["id"]) for m in messages)


@given(values=ids, last=st.integers(0, 400))
def test_merge_after_repair_is_idempotent(values: list[int], last: int) -> None:
    messages, last2, _ = repair_messages(_recs(values), last)
    store = _store(messages, last2)
    added = store.append(_recs(values), 0)
    assert added == [] and store.messages == messages and store.last_message_id == last2
