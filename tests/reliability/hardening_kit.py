"""Shared helpers of the hardening tests (signals, export lock, disk and network faults): a real CLI
`parse` against the local server, and checks on the export directory it leaves."""
from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testkit.cli import read_app_log
from tgexport.store import archive

TEMP_MARKERS = (".tmp", ".part")


def scenario(channel_id: int, username: str, count: int, faults: list[dict[str, Any]] | None = None,
             media: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A generated channel of `count` messages (optionally `generate.media` rules) plus fault rules."""
    generate: dict[str, Any] = {"count": count, "gap_every": 13, "text_length": 20}
    if media:
        generate["media"] = media
    return {"channels": [{"id": channel_id, "username": username, "title": username.title(),
                          "generate": generate}], "faults": faults or []}


def parse_args(channel: str, session: Path, out: Path, *extra: str) -> list[str]:
    return ["parse", "--channel", channel, "--session-file", str(session), "--output-dir", str(out), *extra]


def export_dir(out: Path) -> Path:
    (found,) = [p for p in out.iterdir() if p.is_dir()]
    return found


def load(out: Path, name: str) -> Any:
    return json.loads((export_dir(out) / name).read_text(encoding="utf-8"))


def events(out: Path, name: str = "run.log") -> list[dict[str, Any]]:
    text = (export_dir(out) / "logs" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def saved_ids(out: Path) -> list[int]:
    return [m["id"] for m in load(out, "export.json")["messages"]]


def assert_consistent_prefix(out: Path, server_ids: list[int]) -> list[int]:
    """export.json holds a contiguous prefix of the channel (ascending, no duplicates) and
    state.json agrees with it; returns the saved ids."""
    ids = saved_ids(out)
    assert ids == server_ids[: len(ids)]
    state = load(out, "state.json")
    assert state["last_message_id"] >= (ids[-1] if ids else 0)
    assert state["messages_total"] == len(ids)
    return ids


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file below `directory` (relative POSIX path → bytes)."""
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def temp_leftovers(directory: Path, *, keep_parts: bool = False) -> list[str]:
    """Temp files (atomic-write temps, part files, the temp folder) below `directory`; with
    `keep_parts`, the part files a stopped run keeps in the export's temp folder for the next run
    to resume are allowed."""
    found = [p for p in directory.rglob("*") if p.name.endswith(TEMP_MARKERS)]
    if keep_parts:
        found = [p for p in found if archive.TEMP_DIR_NAME not in p.relative_to(directory).parts]
    return [p.name for p in found]


def all_json_parses(directory: Path) -> None:
    for path in directory.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


def app_log_codes(env: dict[str, str]) -> list[str]:
    return [ln.rsplit("error_code=", 1)[1] for ln in read_app_log(env).splitlines() if " error_code=" in ln]


def wait_until(predicate: Callable[[], bool], what: str, proc: subprocess.Popen[str] | None = None,
               limit: float = 60.0) -> None:
    """Poll `predicate` (a readiness wait, never a timing assertion); fail if `proc` exits first."""
    deadline = time.monotonic() + limit
    while not predicate():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the CLI exited ({proc.returncode}) before {what}: {err}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    """Wait for the child (killing it if it hangs) and return (stdout, stderr)."""
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
