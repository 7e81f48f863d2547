"""Flat memory (issue 14): peak RSS of a first export at 100,000 and 1,000,000 messages, and of the
later runs on that export (unchanged, `--refresh-recent 100`, the first `--comments` run (100,000 only:
one thread per second post), `--refresh-recent 100 --comments` after it).

Each size is its own server process (a channel shaped like @bench_history, bench/export_bench.py's
`_channel`) and one parser run through bench/run_parser.py (peak RSS (`VmHWM`) at exit, imports included),
pauses off. The 1,000,000 case takes minutes (server generation and ~10,000 getHistory pages), so
it is skipped with `--no-million`; every run writes bench/results/memory.json, the last result that
BENCHMARKS.md shows (`python bench/report.py --write` renders it with the rest).

Usage: python bench/memory_bench.py [--no-million] [--sizes 100000 1000000]
Targets: 1,000,000 peaks at ≤ 150 MB; 1,000,000 − 100,000 ≤ 20 MB; every later run ≤ 150 MB.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_bench  # noqa: E402
from common import BENCH_DIR, RequestCounter, machine, serve, workdir  # noqa: E402

SMALL, MILLION = 100_000, 1_000_000
PEAK_LIMIT_MB = 150
GROWTH_LIMIT_MB = 20
RESULTS = BENCH_DIR / "results" / "memory.json"
# Later runs on the first export, in this order (each starts from the export the one before left).
LATER_RUNS = (("unchanged", ()), ("refresh", ("--refresh-recent", "100")), ("comments", ("--comments",)),
              ("refresh + comments", ("--refresh-recent", "100", "--comments")))


def measure(count: int, root: Path) -> dict[str, Any]:
    """One first export of a `count`-message channel on its own server: peak RSS, wall, bytes."""
    sizes = export_bench.Sizes(memory=(count,))
    root = root / f"size-{count}"  # one server per size, each with its own ready file
    root.mkdir()
    scenario = root / f"memory-{count}.json"
    scenario.write_text(json.dumps(export_bench.memory_scenario(sizes)), encoding="utf-8")
    log = root / f"requests-{count}.jsonl"
    started = time.perf_counter()
    with serve(root, scenario=scenario, request_log=log) as server:
        server_seconds = time.perf_counter() - started
        bench = export_bench.Bench(server, RequestCounter(log))
        channel, run_dir = export_bench.memory_channel(count), root / f"run-{count}"
        run = bench.parser(run_dir, channel)
        if run.new_messages != count:
            raise RuntimeError(f"full export of {count}: {run.new_messages} messages exported")
        later = {name: bench.parser(run_dir, channel, *extra, session=False)
                 for name, extra in LATER_RUNS if count <= SMALL or "--comments" not in extra}
    shutil.rmtree(root, ignore_errors=True)
    return {"maxrss_mb": run.maxrss_kb / 1000, "seconds": run.seconds, "server_start_seconds": server_seconds,
            "file_bytes": run.file_bytes, "export_json_bytes": run.export_json_bytes,
            "stdout_bytes": run.stdout_bytes, "get_history": run.get_history,
            "later": {name: {"maxrss_mb": r.maxrss_kb / 1000, "seconds": r.seconds} for name, r in later.items()}}


def run(counts: list[int]) -> dict[str, Any]:
    with workdir("bench-memory-") as root:
        runs = {str(count): measure(count, root) for count in counts}
    return {"runs": runs, "machine": machine(), "finished_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": "python bench/memory_bench.py" + ("" if MILLION in counts else " --no-million")}


def table(result: dict[str, Any]) -> str:
    """Targets first (when both sizes ran), then every run."""
    runs = result["runs"]
    lines = [f"Last run: `{result['command']}`, finished {result['finished_utc']}, commit "
             f"`{result['machine'].get('git', '?')}`.", "",
             "| case | measure | result | target | met |", "|---|---|---|---|---|"]
    big, small = runs.get(str(MILLION)), runs.get(str(SMALL))
    if big is not None:
        peak = big["maxrss_mb"]
        lines.append(f"| first export of {MILLION:,} | peak RSS (VmHWM, MB) | {peak:.0f} | ≤ {PEAK_LIMIT_MB} | "
                     f"{'✔' if peak <= PEAK_LIMIT_MB else '✘'} |")
    if big is not None and small is not None:
        growth = round(big["maxrss_mb"] - small["maxrss_mb"])
        lines.append(f"| {SMALL:,} → {MILLION:,} | peak RSS difference (MB) | {growth:+d} | ≤ {GROWTH_LIMIT_MB} | "
                     f"{'✔' if growth <= GROWTH_LIMIT_MB else '✘'} |")
    lines += ["", "| messages | peak RSS | wall | bytes to files ÷ export.json | getHistory |", "|---|---|---|---|---|"]
    for key in sorted(runs, key=int):
        r = runs[key]
        ratio = (r["file_bytes"] or 0) / r["export_json_bytes"] if r["export_json_bytes"] else 0.0
        lines.append(f"| {int(key):,} | {r['maxrss_mb']:.0f} MB | {r['seconds']:.1f} s | {ratio:.2f} "
                     f"({r['export_json_bytes'] / 1e6:.0f} MB) | {r['get_history']} |")
    later = [(int(key), name, value) for key in sorted(runs, key=int) for name, value in runs[key].get("later", {}).items()]
    if later:
        names = dict(LATER_RUNS)
        lines += ["", "Later runs on the same export (peak RSS ≤ 150 MB each):", "",
                  "| messages | run | peak RSS | wall | met |", "|---|---|---|---|---|"]
        lines += [f"| {count:,} | {name} (`{' '.join(('parse', *names.get(name, ())))}`) | {v['maxrss_mb']:.0f} MB | "
                  f"{v['seconds']:.2f} s | {'✔' if v['maxrss_mb'] <= PEAK_LIMIT_MB else '✘'} |"
                  for count, name, v in later]
    return "\n".join(lines)


def load_last() -> dict[str, Any] | None:
    """The last recorded result (bench/results/memory.json), or None."""
    return json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-million", action="store_true", help="only the 100,000 case (about a minute)")
    ap.add_argument("--sizes", type=int, nargs="+", help="channel sizes instead of 100,000 and 1,000,000")
    args = ap.parse_args()
    counts = args.sizes or ([SMALL] if args.no_million else [SMALL, MILLION])
    result = run(counts)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
