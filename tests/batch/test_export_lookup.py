"""Finding a channel's export directory among many: state.json read once per version, never stale."""
from __future__ import annotations

from pathlib import Path

from tgexport.core.atomic_json import write_json_atomic
from tgexport.store import export
from tgexport.store.export import find_export_dir


def test_state_read_once_per_version_and_a_rewrite_is_seen(tmp_path: Path, monkeypatch) -> None:
    for i in range(3):
        (tmp_path / f"chan_{i}__2026-01-01_00-00").mkdir()
        write_json_atomic(tmp_path / f"chan_{i}__2026-01-01_00-00" / "state.json", {"channel_id": 100 + i})
    reads: list[Path] = []
    real = export.read_json_strict
    monkeypatch.setattr(export, "read_json_strict", lambda path: reads.append(path) or real(path))
    renamed = tmp_path / "chan_1__2026-01-01_00-00"
    assert find_export_dir(tmp_path, "new_name", 101) == renamed  # the username changed: found by id
    assert find_export_dir(tmp_path, "chan_0", 100) == tmp_path / "chan_0__2026-01-01_00-00"
    assert len(reads) <= 3  # every state.json at most once for both lookups
    write_json_atomic(renamed / "state.json", {"channel_id": 999})  # rewritten: a new file
    assert find_export_dir(tmp_path, "new_name", 101) is None
    assert find_export_dir(tmp_path, "new_name", 999) == renamed
