"""Benchmark 3 (issue 7): the parser's export cases on a generated scenario, side by side with raw Telethon.

Cases (all on one server process, loopback only, pauses off through TELEGRAM_PARSER_PAUSE_SCALE=0):
full export of N text messages vs raw `iter_messages`; incremental run on the unchanged channel; incremental
run with M new messages; bytes written by the full export; peak RSS of full exports of growing channels
(second server); start-up (`channels` vs `python -c "import telethon"`).

Parser runs go through bench/run_parser.py (the CLI's `main()` in-process, imports done before the clock,
/proc/self/io and ru_maxrss read at exit); raw runs through bench/raw_history.py (Telethon only, imports
before the clock). Both clocks cover client creation → connect → work → disconnect; see BENCHMARKS.md.

Usage: python bench/export_bench.py [--quick] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    BENCH_DIR,
    REPO_ROOT,
    RequestCounter,
    Server,
    fresh_session,
    machine,
    parser_env,
    publish,
    run_timed,
    serve,
    spread,
    workdir,
)

PY = sys.executable
CLI = str(REPO_ROOT / "telegram_parser_skill.py")
EXPORT_CHANNEL = "bench_export"
GET_HISTORY = "messages.getHistory"
NEW_DAY = datetime(2024, 3, 1, tzinfo=UTC)  # the M "new" messages start on this UTC day
STEP = 60  # seconds between generated messages
MB = 1_000_000


@dataclass(frozen=True)
class Sizes:
    """How big each case is and how often it runs."""

    history: int = 20_000
    new: int = 500
    memory: tuple[int, ...] = (25_000, 50_000, 100_000)
    repeats: int = 5
    startup_repeats: int = 5


FULL = Sizes()
QUICK = Sizes(memory=(25_000,), repeats=1, startup_repeats=1)
TINY = Sizes(history=300, new=50, memory=(300,), repeats=1, startup_repeats=1)  # the test suite's


def memory_channel(count: int) -> str:
    return f"bench_mem_{count}"


# What readers see on a share of the posts (BENCHMARKS.md, "Scenarios"): entities (a hashtag, a bold
# word and a text link) on every 3rd, reactions (two emoji) on every 2nd, a comment count from the
# linked discussion group on every 2nd.
READER_SHARES = {"entities_every": 3, "reactions_every": 2, "comments_every": 2}


def _channel(channel_id: int, username: str, count: int, start: datetime) -> dict[str, Any]:
    """A generated text channel shaped like @bench_history (120-char texts, replies, forwards, views),
    plus entities, reactions and comment counts on READER_SHARES of the posts."""
    return {"id": channel_id, "username": username, "title": username.replace("_", " "),
            "generate": {"count": count, "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "date_step": STEP,
                         "text_length": 120, "reply_every": 9, "forward_every": 13, **READER_SHARES,
                         "discussion_id": channel_id + 50_000}}


def export_scenario(sizes: Sizes) -> dict[str, Any]:
    """One channel of `history` messages whose last `new` ones are the only ones on NEW_DAY or later."""
    start = NEW_DAY - timedelta(seconds=(sizes.history - sizes.new) * STEP)
    return {"name": "bench-export", "dc_id": 2, "seed": 7,
            "channels": [_channel(1_700_000_101, EXPORT_CHANNEL, sizes.history, start)]}


def memory_scenario(sizes: Sizes) -> dict[str, Any]:
    """One channel per memory size."""
    start = datetime(2023, 1, 1, tzinfo=UTC)
    return {"name": "bench-memory", "dc_id": 2, "seed": 7,
            "channels": [_channel(1_700_000_200 + i, memory_channel(n), n, start) for i, n in enumerate(sizes.memory)]}


@dataclass
class ParserRun:
    """What one parser run cost and did."""

    seconds: float
    cpu_seconds: float
    file_bytes: int | None
    stdout_bytes: int
    write_bytes: int | None
    maxrss_kb: int
    get_history: int
    new_messages: int
    export_json_bytes: int


class Bench:
    """One server process, its request counter, and the commands that run against it."""

    def __init__(self, server: Server, requests: RequestCounter) -> None:
        self.server, self.requests = server, requests

    def parser(self, run_dir: Path, channel: str, *extra: str, session: bool = True) -> ParserRun:
        """One CLI `parse` through bench/run_parser.py; `session=False` reuses run_dir's session file."""
        if session:
            fresh_session(self.server, run_dir, "parser")
        stats_path = run_dir / "stats.json"
        argv = [PY, str(BENCH_DIR / "run_parser.py"), str(stats_path), "parse", "--channel", f"@{channel}",
                "--mode", "safe", "--session-file", str(run_dir / "parser"), "--output-dir", str(run_dir / "out"),
                *extra]
        mark = self.requests.mark()
        _, out = run_timed(argv, parser_env(run_dir), run_dir, timeout=600)
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        result = json.loads(out)
        export_json = Path(result["export_json"])
        return ParserRun(seconds=stats["seconds"], cpu_seconds=stats["cpu_seconds"], file_bytes=stats["file_bytes"], stdout_bytes=stats["stdout_bytes"],
                         write_bytes=stats["write_bytes"], maxrss_kb=stats["maxrss_kb"],
                         get_history=self.requests.since(mark, GET_HISTORY),
                         new_messages=result["summary"]["new_messages"],
                         export_json_bytes=export_json.stat().st_size if export_json.exists() else 0)

    def raw(self, run_dir: Path, channel: str) -> tuple[float, int, float]:
        """One raw `iter_messages` pass (bench/raw_history.py): (seconds, messages, CPU seconds)."""
        session = fresh_session(self.server, run_dir, "raw")
        argv = [PY, str(BENCH_DIR / "raw_history.py"), str(session), channel, str(run_dir / "raw.json"), "iterate"]
        _, out = run_timed(argv, parser_env(run_dir), run_dir)
        info = json.loads(out.strip().splitlines()[-1])
        return info["seconds"], info["messages"], info["cpu_seconds"]


def _expect(what: str, got: int, want: int) -> None:
    if got != want:
        raise RuntimeError(f"{what}: got {got}, expected {want}")


def _copy_run(src: Path, dest: Path) -> None:
    """A copy of an earlier run's export and session (the state a later incremental run starts from)."""
    shutil.copytree(src / "out", dest / "out")
    shutil.copyfile(src / "parser.session", dest / "parser.session")


def export_cases(bench: Bench, root: Path, sizes: Sizes) -> dict[str, Any]:
    """Full vs raw, unchanged and new-messages incremental runs, bytes; repeats interleaved."""
    n, old = sizes.history, sizes.history - sizes.new
    warm = root / "warm"
    _expect("raw warm-up pass", bench.raw(warm, EXPORT_CHANNEL)[1], n)  # the server's cache is built by now
    base = root / "base"  # the channel as it was before the `new` messages: exported up to the day before
    first = bench.parser(base, EXPORT_CHANNEL, "--date-to", (NEW_DAY - timedelta(days=1)).date().isoformat())
    _expect("export before the new messages", first.new_messages, old)
    rows: dict[str, list[Any]] = {"raw": [], "raw_cpu": [], "full": [], "unchanged": [], "new": []}
    for i in range(sizes.repeats):
        run = root / f"run-{i}"
        seconds, count, cpu = bench.raw(run / "raw", EXPORT_CHANNEL)
        _expect("raw pass", count, n)
        rows["raw"].append(seconds)
        rows["raw_cpu"].append(cpu)
        full = bench.parser(run / "full", EXPORT_CHANNEL)
        _expect("full export", full.new_messages, n)
        unchanged = bench.parser(run / "full", EXPORT_CHANNEL, session=False)  # same export, same session
        _expect("unchanged incremental run", unchanged.new_messages, 0)
        _copy_run(base, run / "new")
        new = bench.parser(run / "new", EXPORT_CHANNEL, session=False)
        _expect("incremental run with new messages", new.new_messages, sizes.new)
        rows["full"].append(asdict(full))
        rows["unchanged"].append(asdict(unchanged))
        rows["new"].append(asdict(new))
        shutil.rmtree(run, ignore_errors=True)
    return summarise(rows)


def summarise(rows: dict[str, list[Any]]) -> dict[str, Any]:
    """Per-repeat paired ratios and spreads of the raw rows."""
    raw, full, unchanged, new = rows["raw"], rows["full"], rows["unchanged"], rows["new"]
    return {
        "runs": rows,
        "full_over_raw": spread([f["seconds"] / r for f, r in zip(full, raw, strict=True)]),
        "full_seconds": spread([f["seconds"] for f in full]), "raw_seconds": spread(raw),
        "full_cpu_over_raw_cpu": spread([f["cpu_seconds"] / c for f, c in zip(full, rows["raw_cpu"], strict=True)]),
        "full_cpu_seconds": spread([f["cpu_seconds"] for f in full]), "raw_cpu_seconds": spread(rows["raw_cpu"]),
        "unchanged_over_full": spread([u["seconds"] / f["seconds"] for u, f in zip(unchanged, full, strict=True)]),
        "unchanged_seconds": spread([u["seconds"] for u in unchanged]),
        "unchanged_get_history": spread([u["get_history"] for u in unchanged]),
        "new_get_history": spread([x["get_history"] for x in new]),
        "new_seconds": spread([x["seconds"] for x in new]),
        "full_get_history": spread([f["get_history"] for f in full]),
        "bytes_over_export": spread([f["file_bytes"] / f["export_json_bytes"] for f in full]),
        "file_bytes": spread([f["file_bytes"] for f in full]),
        "export_json_bytes": spread([f["export_json_bytes"] for f in full]),
        "stdout_bytes": spread([f["stdout_bytes"] for f in full]),
        "full_maxrss_mb": spread([f["maxrss_kb"] / 1000 for f in full]),
    }


def memory_cases(bench: Bench, root: Path, sizes: Sizes) -> dict[str, Any]:
    """Peak RSS (ru_maxrss) of one full export per channel size, smallest first."""
    out: dict[str, Any] = {}
    for count in sizes.memory:
        run = bench.parser(root / f"mem-{count}", memory_channel(count))
        _expect(f"full export of {count}", run.new_messages, count)
        out[str(count)] = {"maxrss_mb": run.maxrss_kb / 1000, "seconds": run.seconds,
                           "file_bytes": run.file_bytes, "export_json_bytes": run.export_json_bytes}
        shutil.rmtree(root / f"mem-{count}", ignore_errors=True)
    return out


def startup_cases(server: Server, root: Path, repeats: int) -> dict[str, Any]:
    """`channels` end to end (spawn → exit) vs a bare `python -c "import telethon"`, interleaved."""
    channels: list[float] = []
    bare: list[float] = []
    for i in range(repeats):
        run = root / f"startup-{i}"
        fresh_session(server, run, "parser")
        env = parser_env(run)
        channels.append(run_timed([PY, CLI, "channels", "--session-file", str(run / "parser")], env, run)[0])
        bare.append(run_timed([PY, "-c", "import telethon"], env, run)[0])
        shutil.rmtree(run, ignore_errors=True)
    return {"channels_seconds": spread(channels), "import_telethon_seconds": spread(bare),
            "ratio": spread([c / b for c, b in zip(channels, bare, strict=True)]), "runs": [channels, bare]}


def _scenario_file(root: Path, name: str, data: dict[str, Any]) -> Path:
    path = root / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run(sizes: Sizes = FULL, profile_dir: Path | None = None) -> dict[str, Any]:
    """Every case; with `profile_dir`, also one profiled full export and unchanged run (not timed)."""
    result: dict[str, Any] = {"sizes": asdict(sizes)}
    with workdir("bench-export-") as tmp:
        log = tmp / "requests.jsonl"
        with serve(tmp, scenario=_scenario_file(tmp, "export", export_scenario(sizes)), request_log=log) as server:
            bench = Bench(server, RequestCounter(log))
            result["export"] = export_cases(bench, tmp / "cases", sizes)
            result["startup"] = startup_cases(server, tmp / "startup", sizes.startup_repeats)
            if profile_dir is not None:
                result["profiles"] = profile_runs(server, tmp / "prof", profile_dir)
        mem_dir = tmp / "mem"
        mem_dir.mkdir()
        mem_log = mem_dir / "requests.jsonl"
        with serve(mem_dir, scenario=_scenario_file(mem_dir, "memory", memory_scenario(sizes)),
                   request_log=mem_log) as server:
            result["memory"] = memory_cases(Bench(server, RequestCounter(mem_log)), mem_dir, sizes)
    return result


def profile_runs(server: Server, root: Path, out_dir: Path) -> dict[str, str]:
    """cProfile reports (main() only, imports excluded) of one full export and of the unchanged run after it."""
    from profiling import profile_parser_run

    fresh_session(server, root, "parser")
    argv = ["parse", "--channel", f"@{EXPORT_CHANNEL}", "--session-file", str(root / "parser"),
            "--output-dir", str(root / "out")]
    reports = {name: profile_parser_run(argv, parser_env(root), root, out_dir / f"profile_parser_{name}.txt")
               for name in ("full", "unchanged")}
    shutil.rmtree(root, ignore_errors=True)
    return reports


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1 repeat, memory at 25,000 only")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = run(QUICK if args.quick else FULL)
    result["machine"] = machine()
    from report import export_tables

    publish(result, export_tables(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
