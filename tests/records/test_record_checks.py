"""The store's shape check accepts records with or without the reader keys, and rejects wrong types."""
from __future__ import annotations

from pathlib import Path

import pytest

from tgexport.store.checks import PathGuard, check_message

OLD = {"id": 1, "date": "2024-01-01T00:00:00Z", "text": "x", "media_files": [], "forwarded": None,
       "reply_to_msg_id": None, "views": 1, "forwards": 0}
NEW = {**OLD, "entities": [{"type": "bold", "offset": 0, "length": 1}], "text_markdown": "**x**",
       "edit_date": None, "grouped_id": 5, "post_author": None, "pinned": True,
       "reactions": {"total": 1, "items": []}, "replies": None, "web_page": None, "attachment": {"kind": "dice"}}


def test_old_and_new_records_pass(tmp_path: Path) -> None:
    guard = PathGuard(tmp_path)
    assert check_message(OLD, guard) is None
    assert check_message(NEW, guard) is None


@pytest.mark.parametrize(("key", "value"), [("entities", {}), ("entities", [1]), ("text_markdown", None),
                                            ("pinned", "yes"), ("grouped_id", "7"), ("reactions", []),
                                            ("attachment", "geo"), ("edit_date", 5)])
def test_wrong_types_are_named(tmp_path: Path, key: str, value: object) -> None:
    problem = check_message({**NEW, key: value}, PathGuard(tmp_path))
    assert problem is not None and problem.startswith(f"message 1 has a \"{key}\" that is not")
