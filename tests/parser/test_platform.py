"""The OS branches in tgexport/core/platform.py: each decision for Windows and POSIX (platform name
injected), and the POSIX behaviour for real on this machine."""
from __future__ import annotations

import io
import os
import signal
import stat
from pathlib import Path

import pytest

from tgexport.core import platform
from tgexport.run import signals


@pytest.mark.parametrize(("system", "windows"), [("win32", True), ("linux", False), ("darwin", False)])
def test_decisions_per_platform(system: str, windows: bool) -> None:
    assert platform.is_windows(system) is windows
    assert platform.can_unlink_open_files(system) is not windows
    assert platform.has_advisory_locks(system) is not windows
    assert platform.fsync_dir_supported(system) is not windows
    assert platform.has_file_modes(system) is not windows
    assert (platform.replace_delays(system) != ()) is windows
    assert ("SIGBREAK" in platform.stop_signal_names(system)) is windows
    assert platform.stop_signal_names(system)[:2] == ("SIGINT", "SIGTERM")


def test_replace_retries_a_target_held_open_on_windows_then_gives_up() -> None:
    calls: list[tuple[str, str]] = []
    sleeps: list[float] = []

    def held_twice(src: str, dst: str) -> None:
        calls.append((src, dst))
        if len(calls) <= 2:
            raise PermissionError(13, "The process cannot access the file", dst)

    platform.replace("a.tmp", "a.json", system="win32", sleep=sleeps.append, do_replace=held_twice)
    assert len(calls) == 3 and sleeps == list(platform.REPLACE_DELAYS[:2])

    def always_held(src: str, dst: str) -> None:
        raise PermissionError(13, "held", dst)

    sleeps.clear()
    with pytest.raises(PermissionError):
        platform.replace("a.tmp", "a.json", system="win32", sleep=sleeps.append, do_replace=always_held)
    assert sleeps == list(platform.REPLACE_DELAYS) and sum(sleeps) < 5  # bounded


def test_replace_on_posix_never_retries_a_permission_error() -> None:
    sleeps: list[float] = []

    def refused(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied", dst)

    with pytest.raises(PermissionError):
        platform.replace("a.tmp", "a.json", system="linux", sleep=sleeps.append, do_replace=refused)
    assert sleeps == []


def test_replace_for_real(tmp_path: Path) -> None:
    (tmp_path / "new").write_text("new")
    (tmp_path / "old").write_text("old")
    platform.replace(tmp_path / "new", tmp_path / "old")
    assert (tmp_path / "old").read_text() == "new" and not (tmp_path / "new").exists()


@pytest.mark.parametrize(("path", "expected"), [
    ("C:\\exports\\" + "x" * 300, "\\\\?\\C:\\exports\\" + "x" * 300),
    ("C:/exports/" + "x" * 300, "\\\\?\\C:\\exports\\" + "x" * 300),
    ("\\\\server\\share\\" + "x" * 300, "\\\\?\\UNC\\server\\share\\" + "x" * 300),
    ("\\\\?\\C:\\" + "x" * 300, "\\\\?\\C:\\" + "x" * 300),  # already extended
    ("C:\\short\\export.json", "C:\\short\\export.json"),
    ("relative\\" + "x" * 300, "relative\\" + "x" * 300),  # the prefix needs an absolute path
])
def test_long_paths_on_windows(path: str, expected: str) -> None:
    assert platform.long_path(path, system="win32") == expected


def test_long_paths_untouched_on_posix(tmp_path: Path) -> None:
    long = str(tmp_path / ("x" * 300))
    assert platform.long_path(long, system="linux") == long and platform.long_path(Path(long)) == long


def test_modes_and_locks_for_real(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    other = os.open(path, os.O_RDWR)
    try:
        platform.set_mode(fd, 0o600)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert platform.try_lock(fd) is True and platform.try_lock(other) is False
        platform.unlock(fd)
        assert platform.try_lock(other) is True
    finally:
        os.close(fd)
        os.close(other)
    platform.fsync_dir(tmp_path)
    platform.fsync_dir(tmp_path / "missing")  # nothing to sync: no error


def test_utf8_stdio_reencodes_a_code_page_stream() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="cp1251")
    platform.utf8_stdio([stream, object()])  # a stream without reconfigure is left alone
    stream.write("канал ✓")
    stream.flush()
    assert stream.buffer.getvalue().decode("utf-8") == "канал ✓"  # type: ignore[attr-defined]


def test_stop_signals_here_and_their_exit_codes() -> None:
    assert signals.STOP_SIGNALS == (signal.SIGINT, signal.SIGTERM)
    assert (signals.exit_code(signal.SIGINT), signals.exit_code(signal.SIGTERM)) == (130, 143)
    assert signals.stop_message(signal.SIGTERM) == "terminated (SIGTERM)"
    assert signals.stop_message(signal.SIGINT) == signals.stop_message(None) == "interrupted"
