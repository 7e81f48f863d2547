"""Progress: `media_download_progress` events (injected clock) and the terminal display, which
appears only when stderr is a terminal (a real pty) and never touches stdout."""
from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

from media_testkit import MIB, doc, parse_args, scenario

from testkit.cli import SCRIPT, cli_env
from testkit.server import make_session, running_server
from tgexport.media.progress import DownloadProgress, TerminalProgress


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **data: Any) -> None:
        self.events.append((event, data))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_events_at_most_one_per_interval_and_only_for_long_downloads() -> None:
    log, clock = Log(), Clock()
    progress = DownloadProgress(log, message_id=7, media_type="video", total=10_000, clock=clock, interval=10)
    progress.resumed(1000)  # found in the part file: counted in bytes_done, not in the rate
    for _ in range(9):  # 9 s of parts: shorter than the interval, no event
        clock.now += 1
        progress.add(100)
    assert log.events == []
    clock.now += 1
    progress.add(100)  # 10 s: the first event
    clock.now += 5
    progress.add(500)  # 5 s later: too soon
    clock.now += 5
    progress.tick()  # 10 s after the first: the second
    assert [name for name, _ in log.events] == ["media_download_progress"] * 2
    first, second = (data for _, data in log.events)
    assert first == {"message_id": 7, "media_type": "video", "bytes_done": 2000, "bytes_total": 10_000, "rate": 100}
    assert second["bytes_done"] == 2500 and second["rate"] == 50


def test_a_hung_download_reports_rate_zero() -> None:
    log, clock = Log(), Clock()
    progress = DownloadProgress(log, message_id=1, media_type="document", total=None, clock=clock, interval=10)
    progress.add(4096)
    for _ in range(3):
        clock.now += 10
        progress.tick()  # the watchdog ticks every interval even when nothing arrives
    rates = [data["rate"] for _, data in log.events]
    assert rates == [410, 0, 0] and {data["bytes_done"] for _, data in log.events} == {4096}


def test_telethon_callback_counts_deltas() -> None:
    log, clock = Log(), Clock()
    progress = DownloadProgress(log, message_id=1, media_type="photo", total=300, clock=clock, interval=10)
    progress(100, 300)
    progress(300, 300)
    assert progress.done == 300 and progress.last == clock.now


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_display_only_on_a_tty() -> None:
    plain = io.StringIO()
    quiet = TerminalProgress(plain)
    quiet.scanned(100)
    quiet.expect(MIB)
    quiet.media_bytes(MIB)
    quiet.close()
    assert not quiet.enabled and plain.getvalue() == ""
    tty = TtyBuffer()
    shown = TerminalProgress(tty)
    shown.scanned(100)
    shown.expect(MIB)
    shown.media_bytes(MIB // 2)
    shown.close()
    text = tty.getvalue()
    assert shown.enabled and "history" in text and "100" in text and "media" in text


def test_cli_shows_progress_on_a_pty_and_keeps_stdout_json(tmp_path: Path) -> None:
    msgs = [{"id": i, "text": f"t{i}"} for i in range(1, 120)] + [doc(120, 2 * MIB, "a.bin")]
    with running_server(scenario(msgs)) as server:
        make_session(server, tmp_path / "acc.session")
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([sys.executable, str(SCRIPT), *parse_args(tmp_path)], env=cli_env(tmp_path),
                                    cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
            os.close(slave)
            shown = _read_all(master)
            out, _ = proc.communicate(timeout=60)
        finally:
            os.close(master)
    assert proc.returncode == 0, shown
    result = json.loads(out)  # stdout: the JSON document and nothing else
    assert result["summary"]["new_messages"] == 120
    assert "history" in shown and "media" in shown and "120" in shown
    assert "{" not in shown  # no JSON on the terminal


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")
