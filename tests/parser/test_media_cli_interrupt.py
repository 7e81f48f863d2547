"""Ctrl+C during a media download (real CLI, SIGINT): one finished event (error: cancelled), exit 130,
and the part file keeps the bytes already received for the next run to resume."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from testkit.cli import cli_env, start_cli
from testkit.server import make_session, running_server

SCENARIO = {
    "channels": [{"id": 1234567890, "access_hash": 555, "username": "sigint_media", "title": "Sigint",
                  "messages": [{"id": 1, "text": "x", "media": {"type": "document", "size": 3 * 2**20,
                                                                 "file_name": "hang.bin"}}]}],
    "faults": [{"kind": "stall", "message_id": 1, "offset": 2**20, "times": None}],
}


def _run_log(out: Path) -> list[dict]:
    logs = list(out.glob("sigint_media__*/logs/run.log"))
    if not logs:
        return []
    return [json.loads(line) for line in logs[0].read_text(encoding="utf-8").splitlines() if line.strip()]


def test_sigint_mid_download(tmp_path):
    with running_server(SCENARIO) as server:
        make_session(server, tmp_path / "acc.session")
        env = cli_env(tmp_path)  # default (long) media timeout: only SIGINT ends this download
        proc = start_cli(["parse", "--channel", "@sigint_media", "--session-file", str(tmp_path / "acc"),
                          "--output-dir", str(tmp_path / "out")], env)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _first_part_written(tmp_path / "out"):
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
            assert server.requests.count("upload.getFile") >= 2
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130
    events = _run_log(tmp_path / "out")
    starts = [e for e in events if e["event"] == "media_download_start"]
    finished = [(e["data"]["outcome"], e["data"].get("error")) for e in events if e["event"] == "media_download_finished"]
    assert len(starts) == 1 and finished == [("error", "cancelled")]
    part, = (tmp_path / "out").rglob("*.part")
    assert part.stat().st_size == 2**20  # the first MiB survives the stop
    assert not list((tmp_path / "out").rglob("1_hang.bin"))


def _first_part_written(out: Path) -> bool:
    return any(p.stat().st_size >= 2**20 for p in out.rglob("*.part"))
