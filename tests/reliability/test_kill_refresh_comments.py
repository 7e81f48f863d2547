"""SIGKILL during `parse --refresh-recent N --comments`, then resume: the result equals an uninterrupted run.

A channel is exported once (the base). Then the server changes: edits (text, media), counter changes,
deletions, new comments under old posts, a new thread, new posts (one with comments). An uninterrupted
`--refresh-recent 60 --comments` run on a copy of the base is the reference. Each planned kill runs on
its own copy of the base: the run is killed at `<point>:<n>` (tgexport.core.fault_points), every file
left must be valid (the real ExportStore opens a copy; comment files check out), then a run without
faults must finish with the reference's export.json messages (a deleted record's `deleted_at` is the
time it was seen), state counts, media index and comment files.

The kill plan comes from `RELIABILITY_SEED` (default 13): the refresh, comments, journal and compaction
points always, plus random others; n is drawn within the passes the reference run counted.
`RELIABILITY_SEED=1..10` was run over this test (docs/reliability.md).
"""
from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, running_server, server_call
from tests.reliability import export_checks as checks
from tgexport.core import fault_points
from tgexport.run import parse as parse_run
from tgexport.store.comments import CommentsStore
from tgexport.store.export import ChannelInfo

DEFAULT_SEED = 13
CHANNEL, GROUP = 1666000111, 1666000222
USERNAME, TITLE = "kill_fresh", "Kill fresh"
REPLIES = {"count": 0, "comments": True, "channel_id": GROUP}
ALWAYS = ("refetch_page", "comments_page", "journal_synced", "compact_renamed")
OTHERS = ("history_page", "media_part", "media_placed", "journal_write", "compact_write")
OPTIONS = ("--refresh-recent", "60", "--comments")
assert set(ALWAYS + OTHERS) <= set(fault_points.POINTS)


def _photo(i: int) -> dict[str, Any]:
    return {"type": "photo", "size": 6000 + 37 * i, "w": 320, "h": 240}


def scenario() -> dict[str, Any]:
    posts = [{"id": i, "text": f"post {i}", "views": i, "forwards": 0,
              **({"media": _photo(i)} if i % 10 == 0 else {}), **({"replies": REPLIES} if i >= 240 else {})}
             for i in range(1, 251)]
    return {"channels": [{"id": CHANNEL, "username": USERNAME, "title": TITLE, "messages": posts},
                         {"id": GROUP, "title": "Kill chat", "megagroup": True, "member": False}],
            "comments": [{"channel": CHANNEL, "post": 242, "count": 120},
                         {"channel": CHANNEL, "post": 245, "messages": [{"text": "pic", "media": _photo(1)}]},
                         {"channel": CHANNEL, "post": 248, "count": 30}]}


def change_world(server: Any) -> None:
    world = server.world
    calls = [(world.edit_message, CHANNEL, 230, {"text": "post 230 (edited)", "edit_date": "2024-05-05T00:00:00Z"}),
             (world.edit_message, CHANNEL, 240, {"media": _photo(99), "edit_date": "2024-05-06T00:00:00Z"}),
             (world.delete_messages, CHANNEL, [233, 239]),
             (world.add_comments, CHANNEL, 242, 7), (world.add_comments, CHANNEL, 249, 4)]
    calls += [(world.edit_message, CHANNEL, i, {"views": 1000 + i}) for i in range(200, 251, 3) if i not in (233, 239)]
    for fn, *args in calls:
        server_call(server, fn, *args)
    new = [{"text": f"new {n}", **({"media": _photo(n)} if n % 25 == 0 else {}),
            **({"replies": REPLIES} if n == 60 else {})} for n in range(1, 121)]
    ids = server_call(server, world.append_messages, CHANNEL, None, new)
    server_call(server, world.add_comments, CHANNEL, ids[59], 12)


class Runner:
    def __init__(self, server: Any, tmp: Path) -> None:
        self.server, self.tmp = server, tmp
        self.session = make_session(server, tmp / "kill.session")

    def parse(self, name: str, out: Path, *extra: str, kill: str | None = None) -> tuple[int, dict[str, int]]:
        root = self.tmp / "runs" / name
        root.mkdir(parents=True)
        counts = root / "counts.json"
        env = cli_env(root, TELEGRAM_PARSER_FAULT_KILL=kill, TELEGRAM_PARSER_FAULT_COUNTS=str(counts),
                      **{parse_run.CHECKPOINT_RECORDS_ENV: "50"})
        proc = run_cli(["parse", "--channel", f"@{USERNAME}", "--mode", "normal", "--output-dir", str(out),
                        "--session-file", str(self.session), *extra], env, timeout=60)
        assert proc.returncode in (0, -9), proc.stderr
        return proc.returncode, json.loads(counts.read_text(encoding="utf-8")) if counts.exists() else {}


def export_dir(out: Path) -> Path:
    (found,) = [p for p in out.iterdir() if p.is_dir()]
    return found


def snapshot(out: Path) -> dict[str, Any]:
    """What must equal the reference: messages (deleted_at normalised), counts, media index, comment files."""
    folder = export_dir(out)
    data = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    messages = [{**m, "deleted_at": "*"} if m.get("deleted") else m for m in data["messages"]]
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    comments = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (folder / "comments").glob("*.json")}
    return {"messages": messages, "index": json.loads((folder / "media-index.json").read_text(encoding="utf-8")),
            "counts": [state[k] for k in ("last_message_id", "messages_total", "media_total")],
            "comments": comments}


def after_kill_problems(out: Path, scratch: Path) -> list[str]:
    """Every file valid: the store opens a copy (replaying any journal), comment files check out."""
    folder = export_dir(out)
    rec = checks.recover(folder, scratch, ChannelInfo(CHANNEL, USERNAME, TITLE))
    problems = [f"store: {rec.error}"] if rec.error else []
    files = CommentsStore(folder)
    try:
        files.read_state()
        for path in files.folder.glob("*.json"):
            if path.name != "state.json":
                files.read_thread(int(path.stem))
    except Exception as exc:  # noqa: BLE001 - reported as a broken invariant
        problems.append(f"comments: {type(exc).__name__}: {exc}")
    return problems


def kill_plan(seed: int, counts: dict[str, int]) -> list[str]:
    rng = random.Random(seed)
    points = list(ALWAYS) + rng.sample([p for p in OTHERS if counts.get(p)], 2)
    return [f"{p}:{rng.randint(1, counts[p])}" for p in points if counts.get(p)]


@pytest.fixture
def no_faults_here(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (fault_points.FAULT_ENV, fault_points.REPORT_ENV, fault_points.OSERROR_ENV, fault_points.COUNTS_ENV):
        monkeypatch.delenv(var, raising=False)
    fault_points.reload_from_env()


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_sigkill_during_refresh_and_comments_then_resume_equals_an_uninterrupted_run(
        tmp_path: Path, no_faults_here: None) -> None:
    seed = int(os.environ.get("RELIABILITY_SEED", DEFAULT_SEED))
    with running_server(scenario()) as server:
        runner = Runner(server, tmp_path)
        base = tmp_path / "base"
        assert runner.parse("base", base)[0] == 0
        change_world(server)
        shutil.copytree(base, tmp_path / "reference")
        code, counts = runner.parse("reference", tmp_path / "reference", *OPTIONS)
        assert code == 0
        reference = snapshot(tmp_path / "reference")
        assert reference["counts"][1] == 370 and len(reference["comments"]) == 6  # 5 threads + state.json
        problems, hits = [], 0
        plan = kill_plan(seed, counts)
        print(f"\nRELIABILITY_SEED={seed} passes {counts}\nplan {plan}")
        for index, kill in enumerate(plan):
            work = tmp_path / f"work-{index}"
            shutil.copytree(base, work)
            code, _ = runner.parse(f"kill-{index}", work, *OPTIONS, kill=kill)
            hits += code == -9
            problems += [f"{kill}: {p}" for p in after_kill_problems(work, tmp_path / "scratch")]
            assert runner.parse(f"resume-{index}", work, *OPTIONS)[0] == 0
            got = snapshot(work)
            problems += [f"{kill}: resumed export differs in {key}" for key in reference if got[key] != reference[key]]
    assert hits == len(plan), f"only {hits} of {len(plan)} kills hit"
    assert not problems, "\n".join(problems)
