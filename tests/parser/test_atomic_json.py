"""Atomic JSON files: the written text round-trips, a failed write leaves the old file, bad JSON is refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errors import DataFormatError
from tgexport.core.atomic_json import atomic_file, dump_json_text, read_json_strict, write_json_atomic

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=40,
)


@given(JSON_VALUES)
def test_dump_json_text_round_trips(value: object) -> None:
    assert json.loads(dump_json_text(value)) == value


def test_layout_is_one_message_per_line_and_keeps_unicode() -> None:
    text = dump_json_text({"messages": [{"id": 1, "text": "Привет"}, {"id": 2, "text": ""}], "total_messages": 2})
    assert text.splitlines() == [
        "{",
        '  "messages": [',
        '    {"id": 1, "text": "Привет"},',
        '    {"id": 2, "text": ""}',
        "  ],",
        '  "total_messages": 2',
        "}",
    ]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_json_atomic(target, {"last_message_id": 5})
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write(b'{"last_message_id": ')
        raise RuntimeError("crash mid-write")
    assert read_json_strict(target) == {"last_message_id": 5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_unparsable_file_is_refused_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    target.write_bytes(b'{"messages": [')
    with pytest.raises(DataFormatError, match="export.json is not valid JSON"):
        read_json_strict(target)
    assert target.read_bytes() == b'{"messages": ['


def test_files_get_the_usual_permissions_not_mkstemp_0600(tmp_path: Path) -> None:
    """mkstemp alone would leave every export file readable by its owner only."""
    import os
    import stat

    from tgexport.core.atomic_json import DEFAULT_FILE_MODE

    mask = os.umask(0)
    os.umask(mask)
    assert 0o666 & ~mask == DEFAULT_FILE_MODE
    target = tmp_path / "export.json"
    write_json_atomic(target, {"a": 1})
    assert stat.S_IMODE(target.stat().st_mode) == DEFAULT_FILE_MODE
    secret = tmp_path / "auth.json"
    write_json_atomic(secret, {"phone": "x"}, mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_temp_files_carry_the_writer_pid_and_the_hook_runs_before_the_rename(tmp_path: Path) -> None:
    import os

    from tgexport.core.atomic_json import write_bytes_atomic

    target = tmp_path / "export.json"
    seen: list[list[str]] = []
    write_bytes_atomic(target, b"{}", before_rename=lambda: seen.append(sorted(p.name for p in tmp_path.iterdir())))
    (names,) = seen
    assert len(names) == 1 and names[0].startswith(f".export.json.{os.getpid()}.") and names[0].endswith(".tmp")
    assert target.read_bytes() == b"{}"


def test_injected_disk_error_before_writing_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from tgexport.core import fault_points

    target = tmp_path / "state.json"
    write_json_atomic(target, {"last_message_id": 5})
    monkeypatch.setenv(fault_points.OSERROR_ENV, "json_write:1:ENOSPC")
    fault_points.reload_from_env()
    try:
        with pytest.raises(OSError) as info:
            write_json_atomic(target, {"last_message_id": 6})
    finally:
        monkeypatch.delenv(fault_points.OSERROR_ENV)
        fault_points.reload_from_env()
    assert info.value.errno == errno.ENOSPC and str(target) in str(info.value)
    assert read_json_strict(target) == {"last_message_id": 5} and sorted(p.name for p in tmp_path.iterdir()) == [
        "state.json"]


def test_stale_temps_of_gone_processes_are_removed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tgexport.core.atomic_json import remove_stale_temps

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    names = [f".export.json.{gone.stdout.strip()}.k2j_x.tmp", f".export.json.{os.getpid()}.abc.tmp",
             f".other.json.{gone.stdout.strip()}.abc.tmp", "export.json"]
    for name in names:
        (tmp_path / name).write_bytes(b"{")
    assert remove_stale_temps(tmp_path, lambda name: name == "export.json") == [names[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b"\xff{}", b'{"a": 1'])
def test_non_json_is_refused(tmp_path: Path, raw: bytes) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(raw)
    with pytest.raises(DataFormatError, match="state.json is not valid JSON"):
        read_json_strict(target)


def test_a_directory_in_place_of_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "export.json").mkdir()
    with pytest.raises(DataFormatError, match="export.json is not a regular file"):
        read_json_strict(tmp_path / "export.json")
