"""Proof by fault injection (issue 5.2): SIGKILL a real `parse` at 20 instants, resume, compare.

One local server serves a 5,000-message channel with media (small files, a few of 1-3 MiB so kills
land mid-file, identical bytes under different ids for sha256 dedup, polls, service messages).
An uninterrupted reference run (with `TELEGRAM_PARSER_FAULT_COUNTS`) tells how often a run passes
each fault point. Then 20 runs on another output dir are each killed by `tgexport.core.fault_points` at
`<point>:<n>`; after each kill the directory is checked (export_checks.disk_problems), and a copy is
opened with the real ExportStore (what the next run resumes from). A last run without faults must
finish (exit 0) with an export equal to the reference, and the server's request log must show that
only media in flight at a kill was fetched again.

Kill plan (repeatable): `RELIABILITY_SEED` (default 20261129) fixes the kills (each of the 7 points
at least twice), the order of the streaming ones, and a v in [0.05, 0.35) per kill. A streaming
kill's n is v × the passes of its point still ahead, from where the export stands after the previous
kill (Aim), so kills walk through the whole channel and stay reachable; a streaming kill whose point
has fewer than NEARLY_DONE passes left moves to the point with the most work left (else a run could
finish the export and leave the remaining kills nothing to hit). An early compact kill comes
once the next run will start by compacting a journal the last kill left (Schedule); the late one is
compact_write in the first write of a run's closing compaction. Every kill and its outcome is
printed, then `RELIABILITY_KILLS=point:n,...`, which replays that exact sequence.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, running_server
from tests.reliability import export_checks as checks
from tgexport.core import fault_points
from tgexport.run import parse as parse_run
from tgexport.store.export import ChannelInfo

DEFAULT_SEED = 20261129
KILLS = 20
MIN_HITS = 18
CHANNEL_ID = 1555000001
USERNAME = "kill_resume"
TITLE = "Kill and resume"
MIB = 1024 * 1024
DEDUP = {2223: 2222, 1501: 777, 4001: 40, 4002: 53}  # message with the same bytes -> the earliest one
STREAMING = ("history_page", "media_part", "media_placed", "journal_write", "journal_synced")
JOURNAL = ("journal_write", "journal_synced")
COMPACT = ("compact_write", "compact_renamed")
CATEGORIES = STREAMING + COMPACT
# messages between checkpoints in these runs (the default, 5,000, is the whole channel: no run would
# commit history before its end, and the journal would hold messages only at the very end)
CHECKPOINT_RECORDS = 1000
NEARLY_DONE = 8  # passes left below which a planned streaming kill moves to the point with most work left
assert set(CATEGORIES) <= set(fault_points.POINTS)


def scenario() -> dict[str, Any]:
    """5,000 messages: ~340 media (mostly 1-30 KB), 1-3 MiB files, same bytes under other ids, polls, service."""
    media = [
        {"ids": [777, 2222, 4444], "type": "document", "size": [3 * MIB // 2, 3 * MIB, MIB + 4097],
         "mime_type": "application/zip", "file_name": "big.zip"},
        {"ids": [3333], "type": "video", "size": 2 * MIB + 12345, "mime_type": "video/mp4", "file_name": "clip.mp4",
         "duration": 12.0, "w": 640, "h": 360},
        {"every": 20, "type": "photo", "size": [9000, 12000, 20000, 30000], "w": 800, "h": 600},  # > 8000: x is largest
        {"every": 53, "type": "document", "size": [1000, 4096, 20000], "mime_type": "application/pdf",
         "file_name": "doc.pdf"},
    ]
    copies = [  # same bytes, other media ids: the earliest message keeps the stored copy
        {"id": 2223, "text": "the same archive again", "media": {"type": "document", "content_of": 2222,
                                                                 "file_name": "again.zip"}},
        {"id": 1501, "text": "an old archive", "media": {"type": "document", "content_of": 777,
                                                         "file_name": "old.zip", "mime_type": "application/zip"}},
        {"id": 4001, "text": "a photo seen before", "media": {"type": "photo", "content_of": 40}},
        {"id": 4002, "text": "a pdf seen before", "media": {"type": "document", "content_of": 53,
                                                            "file_name": "same.pdf", "mime_type": "application/pdf"}},
    ]
    return {"name": "kill-resume", "seed": 5, "channels": [{
        "id": CHANNEL_ID, "username": USERNAME, "title": TITLE,
        "generate": {"count": 5000, "deleted": [100, 101, 2500], "text_length": 60, "reply_every": 11,
                     "forward_every": 17, "poll_every": 997, "service_every": 499, "media": media},
        "messages": copies,
    }]}


# --- the kill plan --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlannedKill:
    point: str
    v: float  # how far into what is left of the channel's passes of `point` the kill lands, [0.05, 0.35)
    late: bool = False  # the last kill: a compact point in the compaction at the end of a run
    after: int = 0  # an early compact kill comes after this many streaming kills, once a journal is pending


@dataclass(frozen=True)
class Kill:
    point: str
    n: int

    def __str__(self) -> str:
        return f"{self.point}:{self.n}"


@dataclass(frozen=True)
class Pending:
    """What the next run's start will compact (the store replays a journal left by a kill and compacts at
    once): seen by comparing the recovered view with the files on disk."""

    journal: bool = False  # a journal with entries is left: the next run compacts at its start
    messages: bool = False  # it holds messages export.json lacks: export.json is rewritten (renamed)
    index: bool = False  # it holds media the index lacks: media-index.json is rewritten

    @property
    def writes(self) -> int:
        """compact_write passes of that compaction (state.json is always written); 0 = no compaction."""
        return int(self.messages) + int(self.index) + 1 if self.journal else 0


def kill_plan(seed: int, kills: int = KILLS) -> list[PlannedKill]:
    """Streaming kills in order, the early compact kills (with `after`), the late one (compact_write in
    the first write of a run's closing compaction, which leaves a journal for the leftovers); from the seed."""
    rng = random.Random(seed)
    streaming = [p for p in STREAMING for _ in range(2)]
    streaming += [rng.choice(STREAMING) for _ in range(kills - 2 * len(CATEGORIES))]
    rng.shuffle(streaming)
    early = ["compact_write", "compact_renamed", "compact_renamed"]
    rng.shuffle(early)
    afters = sorted(rng.sample(range(1, len(streaming) * 2 // 3), len(early)))
    plan = [PlannedKill(p, _v(rng)) for p in streaming]
    plan += [PlannedKill(p, _v(rng), after=a) for p, a in zip(early, afters, strict=True)]
    return plan + [PlannedKill("compact_write", _v(rng), late=True)]


def _v(rng: random.Random) -> float:
    return round(rng.uniform(0.05, 0.35), 3)


class Schedule:
    """Hands out the planned kills: streaming ones in order; an early compact kill as soon as its `after`
    has passed and the next run will start by compacting what it needs; then the late one; then any early
    compact kill that found no chance (the late kill leaves a journal, so they hit the next run's start)."""

    def __init__(self, plan: list[PlannedKill]) -> None:
        self.streaming = [k for k in plan if k.point in STREAMING]
        self.early = [k for k in plan if k.point in COMPACT and not k.late]
        self.late = [k for k in plan if k.late]
        self.streamed = 0

    def next(self, pending: Pending) -> PlannedKill | None:
        for planned in self.early:
            ready = pending.messages if planned.point == "compact_renamed" else pending.writes > 0
            if planned.after <= self.streamed and ready:
                self.early.remove(planned)
                return planned
        if self.streaming:
            self.streamed += 1
            return self.streaming.pop(0)
        for queue in (self.late, self.early):
            if queue:
                return queue.pop(0)
        return None


class Aim:
    """n for a planned kill. Streaming: v × the passes of its point still ahead, estimated from where the
    export stands (messages committed, media recorded, part files) and calibrated by the passes the
    uninterrupted reference run counted (so the model only has to be proportional). Compact: a pass of
    the compaction at the run's start (early) or of the one at its end (late)."""

    def __init__(self, counts: dict[str, int], expected: checks.Expected) -> None:
        self.expected = expected
        full = self.passes_left(0, checks.KillState(set(), {}))
        self.ratio = {p: counts.get(p, 0) / full[p] for p in STREAMING}

    def passes_left(self, committed: int, state: checks.KillState) -> dict[str, float]:
        """Model: a page per 100 messages (+1 empty), a pass per unrecorded file, a part per MiB of it
        not yet in its part file (none when that is complete), a journal entry per placed file and per
        CHECKPOINT_RECORDS messages."""
        messages = len(self.expected.ids) - committed
        files = [f for f in self.expected.media.values() if f.file_id not in state.recorded]
        parts = sum(math.ceil(max(0, f.size - state.parts.get(f.file_id, 0)) / MIB) for f in files)
        journal = len(files) + messages // CHECKPOINT_RECORDS
        return {"history_page": messages / 100 + 1, "media_part": parts, "media_placed": len(files),
                "journal_write": journal, "journal_synced": journal}

    def kill(self, planned: PlannedKill, committed: int, state: checks.KillState, pending: Pending) -> Kill:
        if planned.point in STREAMING:
            model = self.passes_left(committed, state)
            left = {p: model[p] * self.ratio[p] for p in STREAMING}
            point = planned.point
            if left[point] < NEARLY_DONE:  # would likely not be reached: kill where most work is left
                point = max(STREAMING, key=lambda p: left[p])
            return Kill(point, max(1, math.ceil(planned.v * left[point])))
        if planned.point == "compact_write":
            early = 1 + int(planned.v >= 0.2 and pending.writes >= 2)
            return Kill(planned.point, pending.writes + 1 if planned.late else early)
        return Kill(planned.point, int(planned.late and pending.messages) + 1)


def replay_kills(text: str) -> list[Kill]:
    """`RELIABILITY_KILLS=history_page:3,media_part:40,...`."""
    kills = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        point, _, n = item.partition(":")
        kills.append(Kill(point, int(n)))
    return kills


def test_plan_is_repeatable_and_covers_every_point() -> None:
    plan = kill_plan(DEFAULT_SEED)
    assert plan == kill_plan(DEFAULT_SEED)
    assert plan != kill_plan(DEFAULT_SEED + 1)
    assert len(plan) == KILLS
    counted = Counter(k.point for k in plan)
    assert all(counted[p] >= 2 for p in CATEGORIES), counted
    assert plan[-1].late and plan[-1].point in COMPACT


def test_schedule_puts_compact_kills_where_the_next_run_compacts_first() -> None:
    plan = [PlannedKill("history_page", 0.1), PlannedKill("media_part", 0.1),
            PlannedKill("compact_renamed", 0.1, after=1), PlannedKill("compact_write", 0.1, after=1),
            PlannedKill("compact_write", 0.1, late=True)]
    schedule = Schedule(plan)
    nothing, media = Pending(), Pending(journal=True, index=True)
    both = Pending(journal=True, messages=True, index=True)
    assert schedule.next(both).point == "history_page"  # `after` not reached yet
    assert schedule.next(media).point == "compact_write"  # only the index is pending: no rename at start
    assert schedule.next(nothing).point == "media_part"
    assert schedule.next(nothing) == plan[4]  # streaming used up: the late kill
    assert schedule.next(nothing) == plan[2]  # then what found no chance
    assert schedule.next(both) is None


def test_aim_stays_within_the_passes_left() -> None:
    fid = (7, "")
    expected = checks.Expected(1, list(range(1, 1001)), {5: checks.MediaFile(5, fid, 10 * MIB, "0" * 64)})
    counts = {"history_page": 11, "media_part": 10, "media_placed": 1, "journal_write": 2, "journal_synced": 2}
    aim = Aim(counts, expected)
    start, part, none = checks.KillState(set(), {}), checks.KillState(set(), {fid: 2 * MIB}), Pending()
    assert aim.kill(PlannedKill("history_page", 0.3), 0, start, none) == Kill("history_page", 4)
    assert aim.kill(PlannedKill("media_part", 0.34), 0, start, none) == Kill("media_part", 4)
    assert aim.kill(PlannedKill("media_part", 0.34), 0, part, none) == Kill("media_part", 3)  # 8 parts left
    complete = checks.KillState(set(), {fid: 10 * MIB})  # finished before the kill, not yet placed
    assert aim.passes_left(0, complete)["media_part"] == 0
    assert aim.passes_left(0, complete)["media_placed"] == 1
    # fewer than NEARLY_DONE passes left: the kill moves to the point with the most work left
    assert aim.kill(PlannedKill("media_part", 0.3), 0, complete, none) == Kill("history_page", 4)
    assert aim.kill(PlannedKill("history_page", 0.3), 900, start, none) == Kill("media_part", 3)
    both = Pending(journal=True, messages=True, index=True)
    assert aim.kill(PlannedKill("compact_write", 0.3, late=True), 0, start, both) == Kill("compact_write", 4)
    assert aim.kill(PlannedKill("compact_write", 0.3, late=True), 0, start, none) == Kill("compact_write", 1)
    assert aim.kill(PlannedKill("compact_write", 0.3), 0, start, both) == Kill("compact_write", 2)
    assert aim.kill(PlannedKill("compact_renamed", 0.1, late=True), 0, start, both) == Kill("compact_renamed", 2)
    assert aim.kill(PlannedKill("compact_renamed", 0.1), 0, start, both) == Kill("compact_renamed", 1)


# --- the checks themselves catch what they must ------------------------------------------------------

def _tiny_export(root: Path) -> tuple[Path, checks.Expected, dict[int, Any]]:
    """A hand-made, consistent export of channel 1 (ids 1-3; message 2 has a 4-byte document)."""
    sha = hashlib.sha256(b"abcd").hexdigest()
    expected = checks.Expected(1, [1, 2, 3], {2: checks.MediaFile(2, (7, ""), 4, sha)})
    expected.by_file = {(7, ""): expected.media[2]}
    item = {"type": "document", "path": "media/documents/2_a.bin", "filename": "2_a.bin", "size": 4, "sha256": sha}
    msgs = [{"id": i, "date": "2024-01-01T00:00:00Z", "text": "", "media_files": [item] if i == 2 else [],
             "forwarded": None, "reply_to_msg_id": None, "views": 1, "forwards": 0} for i in (1, 2)]
    export_dir = root / "c__2024-01-01_00-00"
    (export_dir / "media" / "documents").mkdir(parents=True)
    (export_dir / "media" / "documents" / "2_a.bin").write_bytes(b"abcd")
    files = {"export.json": {"channel_info": {"id": 1, "username": None, "title": "t"}, "messages": msgs,
                             "export_date": "2024-01-01T00:00:00Z", "total_messages": 2},
             "state.json": {"channel_id": 1, "channel_username": None, "last_message_id": 2,
                            "last_update_at": None, "messages_total": 2, "media_total": 1},
             "media-index.json": {"sha256_to_path": {sha: item["path"]}}}
    for name, value in files.items():
        (export_dir / name).write_text(json.dumps(value), encoding="utf-8")
    return export_dir, expected, {m["id"]: m for m in msgs}


@pytest.mark.parametrize(("damage", "symptom"), [
    (lambda d: (d / "media/documents/2_a.bin").write_bytes(b"abce"), "bytes differ"),
    (lambda d: (d / "media/documents/.2_a.bin.part").write_bytes(b"ab"), "temp/part file under media/"),
    (lambda d: (d / "export.json").write_text('{"messages": [', encoding="utf-8"), "does not parse"),
    (lambda d: _edit(d / "state.json", last_message_id=1), "state.json last_message_id"),
    (lambda d: _edit(d / "export.json", total_messages=3), "total_messages"),
])
def test_disk_checks_catch_damage(tmp_path: Path, damage: Any, symptom: str) -> None:
    export_dir, expected, reference = _tiny_export(tmp_path)
    assert checks.disk_problems(export_dir, expected, reference, checks.Hasher()) == []
    damage(export_dir)
    problems = checks.disk_problems(export_dir, expected, reference, checks.Hasher())
    assert any(symptom in p for p in problems), problems


def test_disk_checks_catch_a_gap_and_a_changed_message(tmp_path: Path) -> None:
    export_dir, expected, reference = _tiny_export(tmp_path)
    data = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    reference[3] = dict(data["messages"][0], id=3)
    data["messages"] = [dict(data["messages"][0], text="changed"), reference[3]]
    data["total_messages"] = 2
    (export_dir / "export.json").write_text(json.dumps(data), encoding="utf-8")
    problems = "\n".join(checks.disk_problems(export_dir, expected, reference, checks.Hasher()))
    assert "gap-free prefix" in problems and "differs from the reference in ['text']" in problems


def test_renamed_window_needs_a_journal_that_covers_the_difference(tmp_path: Path) -> None:
    export_dir, expected, reference = _tiny_export(tmp_path)
    _edit(export_dir / "state.json", last_message_id=1, messages_total=1, media_total=0)
    assert checks.in_renamed_window(export_dir)
    outside = checks.disk_problems(export_dir, expected, reference, checks.Hasher())
    assert any("state.json last_message_id" in p for p in outside), outside
    inside = checks.disk_problems(export_dir, expected, reference, checks.Hasher(), renamed_window=True)
    assert any("no journal" in p for p in inside), inside
    journal = export_dir / ".journal.jsonl"
    journal.write_text(json.dumps({"op": "messages", "messages": [reference[1]]}) + "\n", encoding="utf-8")
    inside = checks.disk_problems(export_dir, expected, reference, checks.Hasher(), renamed_window=True)
    assert any("the journal lacks 1 message" in p for p in inside), inside
    journal.write_text(json.dumps({"op": "messages", "messages": [reference[2]]}) + "\n", encoding="utf-8")
    assert checks.disk_problems(export_dir, expected, reference, checks.Hasher(), renamed_window=True) == []


def _edit(path: Path, **changes: Any) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), **changes}), encoding="utf-8")


def _ledger(second_run: list[tuple[int, int]], recorded: bool = False, part: int = 40) -> checks.RefetchReport:
    fid = (7, "")
    expected = checks.Expected(1, [1], {1: checks.MediaFile(1, fid, 100, "0" * 64)})
    expected.by_file = {fid: expected.media[1]}
    killed = checks.KillState({fid} if recorded else set(), {fid: part})
    runs = [([(fid, 0, 60)], killed), ([(fid, s, e) for s, e in second_run], None)]
    return checks.refetch_report(runs, expected)


def test_refetch_ledger_allows_only_bytes_in_flight_at_the_kill() -> None:
    resumed = _ledger([(40, 100)])
    assert (resumed.problems, resumed.refetched, resumed.in_flight_bytes) == ([], 20, 60)
    assert _ledger([(0, 100)]).problems  # bytes 0-40 were safe in the part file
    assert _ledger([(60, 100)], recorded=True).problems == []  # nothing fetched again
    assert _ledger([(0, 100)], recorded=True).problems  # a recorded file is never fetched again
    assert _ledger([(40, 100), (40, 60)]).problems  # twice in one run


# --- running the CLI ------------------------------------------------------------------------------

@dataclass
class RunResult:
    name: str
    returncode: int
    hit: str | None  # "<point> <n>" from the fault report
    counts: dict[str, int]
    entries: list[dict[str, Any]]
    stdout: str
    stderr: str
    seconds: float


class Runner:
    """Runs `parse` for the test channel against one server; one app-log folder per run."""

    def __init__(self, server: Any, session: Path, tmp: Path) -> None:
        self.server, self.session, self.tmp = server, session, tmp

    def parse(self, name: str, output_dir: Path, kill: Kill | None = None) -> RunResult:
        root = self.tmp / "runs" / name
        root.mkdir(parents=True)
        report, counts = root / "fault-report.txt", root / "fault-counts.json"
        env = cli_env(root, TELEGRAM_PARSER_FAULT_KILL=str(kill) if kill else None,
                      TELEGRAM_PARSER_FAULT_REPORT=str(report), TELEGRAM_PARSER_FAULT_COUNTS=str(counts),
                      **{parse_run.CHECKPOINT_RECORDS_ENV: str(CHECKPOINT_RECORDS)})
        first = self.server.requests.count()
        started = time.monotonic()
        proc = run_cli(["parse", "--channel", f"@{USERNAME}", "--mode", "normal", "--output-dir", str(output_dir),
                        "--session-file", str(self.session)], env, timeout=120)
        seconds = time.monotonic() - started
        self._settle()
        hit = report.read_text(encoding="utf-8").strip() if report.exists() else None
        return RunResult(name, proc.returncode, hit or None, _read_counts(counts),
                         self.server.requests.entries()[first:], proc.stdout, proc.stderr, seconds)

    def _settle(self, deadline: float = 10.0) -> None:
        """Wait until the server has seen the client go (so every request of the run is logged)."""
        end = time.monotonic() + deadline
        while self.server.connections and time.monotonic() < end:
            time.sleep(0.01)


def _read_counts(path: Path) -> dict[str, int]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _pending(export_dir: Path, rec: checks.Recovered, on_disk: int) -> Pending:
    journals = checks.journal_files(export_dir)
    if not any(j.read_bytes().count(b"\n") >= 2 for j in journals):  # a header and at least one entry
        return Pending()
    index = checks.load_json(export_dir / "media-index.json", []) or {}
    same = (rec.sha_index == index.get("sha256_to_path", {})
            and rec.file_index == index.get("file_id_to_sha256", rec.file_index))
    return Pending(journal=True, messages=len(rec.messages) > on_disk, index=not same)


def export_dir_of(output_dir: Path) -> Path | None:
    dirs = sorted(p for p in output_dir.glob(f"{USERNAME}__*") if p.is_dir()) if output_dir.is_dir() else []
    return dirs[-1] if dirs else None


def _tail(text: str) -> str:
    return " | ".join(text.strip().splitlines()[-3:])[:400]


# --- the test ---------------------------------------------------------------------------------------

@pytest.fixture
def no_faults_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test process itself opens exports (recovery check): no fault point may fire in it."""
    for var in (fault_points.FAULT_ENV, fault_points.REPORT_ENV, fault_points.OSERROR_ENV, fault_points.COUNTS_ENV):
        monkeypatch.delenv(var, raising=False)
    fault_points.reload_from_env()


class Sequence:
    """The interrupted output dir: kills, checks after each, the getFile ledger, hits per point."""

    def __init__(self, runner: Runner, tmp: Path, expected: checks.Expected, reference: dict[int, Any]) -> None:
        self.runner, self.tmp, self.expected, self.reference = runner, tmp, expected, reference
        self.out = tmp / "interrupted"
        self.sha_of = checks.Hasher()
        self.problems: list[str] = []
        self.ledger: list[tuple[list[Any], checks.KillState | None]] = []
        self.hits: Counter[str] = Counter()
        self.planned: Counter[str] = Counter()
        self.committed = 0  # messages the next run resumes after (recovered from the last kill)
        self.state = checks.KillState(set(), {})  # recorded files and part files after the last kill
        self.pending = Pending()  # what the next run's start compacts
        self.window_open = False  # export.json renamed, state.json not yet (left by a compact_renamed kill)
        self.done: list[Kill] = []

    def kill(self, index: int, kill: Kill) -> None:
        run = self.runner.parse(f"kill-{index:02d}", self.out, kill)
        self.planned[kill.point] += 1
        status = self._classify(index, kill, run)
        export_dir = export_dir_of(self.out)
        served, problems = checks.served_ranges(run.entries, self.expected)
        state, started = None, time.monotonic()
        if export_dir is not None:
            # the window stays open until a compaction writes state.json: later kills may land in it too
            window = (status == "hit" and kill.point == "compact_renamed") or self.window_open
            problems += checks.disk_problems(export_dir, self.expected, self.reference, self.sha_of, window)
            self.window_open = window and checks.in_renamed_window(export_dir)
            state, more = self._recovered(export_dir)
            problems += more
        checked = time.monotonic() - started
        self.ledger.append((served, state))
        self.done.append(kill)
        self.problems += [f"kill {index:02d} ({kill}): {p}" for p in problems]
        flying = len({f for f, *_ in served if state is None or f not in state.recorded})
        print(f"kill {index:02d} {str(kill):22} {status:34} run {run.seconds:4.2f}s check {checked:4.2f}s "
              f"getFile={len(served):3} in-flight files={flying:2} part files={len(state.parts) if state else 0} "
              f"problems={len(problems)}")
        if state is not None:
            print(f"         next run resumes after {self.committed} message(s), {len(state.recorded)} file(s) "
                  f"recorded, {self.pending}")

    def _classify(self, index: int, kill: Kill, run: RunResult) -> str:
        if run.hit == f"{kill.point} {kill.n}" and run.returncode == -9:
            self.hits[kill.point] += 1
            return "hit"
        if run.hit is None and run.returncode == 0:
            return f"NOT REACHED (passed {run.counts.get(kill.point, 0)}x), exit 0"
        self.problems.append(f"kill {index:02d} ({kill}): exit {run.returncode}, report {run.hit!r}: {_tail(run.stderr)}")
        return f"UNEXPECTED exit {run.returncode}"

    def _recovered(self, export_dir: Path) -> tuple[checks.KillState, list[str]]:
        info = ChannelInfo(CHANNEL_ID, USERNAME, TITLE)
        rec = checks.recover(export_dir, self.tmp / "scratch", info)
        on_disk = checks.messages_of(checks.read_data(export_dir, []))
        problems = checks.recovered_problems(rec, on_disk, self.expected, self.reference)
        state = checks.kill_state(export_dir, rec, self.expected)
        self.committed, self.state = len(rec.messages), state
        self.pending = _pending(export_dir, rec, len(on_disk))
        return state, problems


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_at_20_instants_then_resume_equals_an_uninterrupted_run(tmp_path: Path, no_faults_here: None) -> None:
    started = time.monotonic()
    seed = int(os.environ.get("RELIABILITY_SEED", DEFAULT_SEED))
    with running_server(scenario()) as server:
        runner = Runner(server, make_session(server, tmp_path / "kill.session"), tmp_path)
        expected = checks.Expected.from_world(server.world, USERNAME)
        ref = runner.parse("reference", tmp_path / "reference")
        assert ref.returncode == 0, _tail(ref.stderr)
        ref_dir = export_dir_of(tmp_path / "reference")
        assert ref_dir is not None
        reference = {m["id"]: m for m in json.loads((ref_dir / "export.json").read_text(encoding="utf-8"))["messages"]}
        replay = replay_kills(os.environ.get("RELIABILITY_KILLS", ""))
        plan, aim = kill_plan(seed), Aim(ref.counts, expected)
        print(f"\nRELIABILITY_SEED={seed} reference: {ref.seconds:.2f}s, passes {ref.counts}")
        print("plan: " + ", ".join(f"{k.point}@{k.v}" + (" late" if k.late else f" after {k.after}" if k.after else "")
                                   for k in plan))
        seq = Sequence(runner, tmp_path, expected, reference)
        seq.problems += [f"reference: {p}" for p in checks.disk_problems(ref_dir, expected, reference, seq.sha_of)]
        seq.problems += _dedup_problems(reference)
        schedule = Schedule(plan)
        for index in range(1, len(replay or plan) + 1):
            planned = replay[index - 1] if replay else schedule.next(seq.pending)
            assert planned is not None
            seq.kill(index, planned if isinstance(planned, Kill) else
                     aim.kill(planned, seq.committed, seq.state, seq.pending))
        final = runner.parse("final", seq.out)
        print("replay with RELIABILITY_KILLS=" + ",".join(map(str, seq.done)))
    problems = seq.problems + _final_problems(seq, final, ref_dir, expected)
    problems += _refetch_problems(seq, ref, final, expected)
    problems += _hit_problems(seq, len(seq.done))
    print(f"whole test: {time.monotonic() - started:.1f}s")
    assert not problems, f"{len(problems)} broken invariant(s) (seed {seed}):\n" + "\n".join(problems)


def _dedup_problems(messages: dict[int, Any]) -> list[str]:
    """Same bytes under another id point at the stored copy of the earliest message (the reference run)."""
    out = []
    for copy, original in DEDUP.items():
        paths = [[i.get("path") for i in messages.get(mid, {}).get("media_files", [])] for mid in (copy, original)]
        if paths[0] != paths[1] or not paths[1] or not paths[1][0]:
            out.append(f"reference: message {copy} has {paths[0]}, not the stored copy of message {original} {paths[1]}")
    return out


def _final_problems(seq: Sequence, final: RunResult, ref_dir: Path, expected: checks.Expected) -> list[str]:
    if final.returncode != 0:
        return [f"final run: exit {final.returncode}: {_tail(final.stderr)}"]
    final_dir = export_dir_of(seq.out)
    assert final_dir is not None
    problems = [f"final: {p}" for p in checks.final_problems(final_dir, ref_dir, expected, seq.sha_of)]
    result = json.loads(final.stdout)
    summary = json.loads((final_dir / "summary.json").read_text(encoding="utf-8"))
    problems += checks.summary_sanity(summary, final_dir, expected.channel_id, len(result["new_messages"]))
    if result["summary"] != summary:
        problems.append("final run: stdout summary differs from summary.json")
    print(f"final run: {final.seconds:.2f}s, added {len(result['new_messages'])} message(s)")
    return problems


def _refetch_problems(seq: Sequence, ref: RunResult, final: RunResult, expected: checks.Expected) -> list[str]:
    """Media fetched again across the sequence is only what was in flight at a kill (request log)."""
    ref_served, problems = checks.served_ranges(ref.entries, expected)
    once = checks.refetch_report([(ref_served, None)], expected)
    one_copy = sum(f.size for f in expected.media.values())
    if once.total != one_copy or once.problems:
        problems.append(f"reference run fetched {once.total} bytes, not one copy of every file ({one_copy})")
    final_served, more = checks.served_ranges(final.entries, expected)
    report = checks.refetch_report([*seq.ledger, (final_served, None)], expected)
    print(f"getFile bytes: reference {once.total}, interrupted sequence {report.total}, fetched again "
          f"{report.refetched}; in flight at the kills {report.in_flight_bytes} bytes in all, at most "
          f"{report.max_in_flight_files} file(s) at one kill")
    problems += more + [f"re-download: {p}" for p in report.problems[:20]]
    if report.total > once.total + report.in_flight_bytes:
        problems.append(f"getFile bytes {report.total} > reference {once.total} + in-flight at the kills "
                        f"{report.in_flight_bytes}")
    return problems


def _hit_problems(seq: Sequence, planned: int) -> list[str]:
    hits, need = sum(seq.hits.values()), math.ceil(planned * MIN_HITS / KILLS)
    print("hits per point: " + ", ".join(f"{p} {seq.hits[p]}/{seq.planned[p]}" for p in CATEGORIES))
    problems = [f"only {hits} of {planned} kills hit their point (need {need})"] if hits < need else []
    return problems + [f"no kill hit {p}" for p in CATEGORIES if seq.planned[p] and not seq.hits[p]]
