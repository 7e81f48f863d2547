"""Run every benchmark: the parser cases (export_bench), media (media_bench, or parser_vs_raw's media part
until media_bench exists), server speed; with profiles. Then refresh the table in BENCHMARKS.md.

Usage: python bench/run_all.py [--quick] [--no-write]
Writes bench/results/latest.json and bench/results/profile_*.txt, prints the tables and rewrites the
generated section of BENCHMARKS.md (`python bench/report.py --write` does that last step alone, from the
JSON). A benchmark that fails is recorded under "errors" in latest.json, the others still run, and
BENCHMARKS.md is then left alone (exit 1). --quick: 1 repeat, memory at 25,000 only, results under bench/results/quick/ (git-ignored),
BENCHMARKS.md untouched.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_bench  # noqa: E402
import parser_vs_raw  # noqa: E402
import report  # noqa: E402
import server_speed  # noqa: E402
from common import BENCH_DIR, REPO_ROOT, machine  # noqa: E402


def run_media(quick: bool, results: Path) -> dict[str, Any]:
    """bench/media_bench.py's run() when that file exists, else parser_vs_raw's media part."""
    module = report._load("media_bench")
    if module is None:
        return {"source": "parser_vs_raw", "result": parser_vs_raw.run_media(1 if quick else 3, results)}
    params = inspect.signature(module.run).parameters
    kwargs = {k: v for k, v in (("quick", quick), ("results_dir", results), ("profile_dir", results))
              if k in params}
    return {"source": "media_bench", "result": module.run(**kwargs)}


def _section(out: dict[str, Any], key: str, measure: Callable[[], Any], render: Callable[[Any], str]) -> None:
    """Run one benchmark into out[key] and print it; a failure is recorded (out["errors"]) and the rest goes on."""
    try:
        out[key] = measure()
        print(render(out[key]), flush=True)
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not lose the others' results
        out.setdefault("errors", {})[key] = f"{type(exc).__name__}: {exc}"
        print(f"{key} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1 repeat each, smaller memory case (checks the scripts)")
    ap.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = ap.parse_args()
    results = BENCH_DIR / "results" / ("quick" if args.quick else "")
    results.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    out: dict[str, Any] = {"machine": machine(), "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "command": "python bench/run_all.py" + (" --quick" if args.quick else "")}
    sizes = export_bench.QUICK if args.quick else export_bench.FULL
    _section(out, "export", lambda: export_bench.run(sizes, profile_dir=results), report.export_tables)
    _section(out, "media", lambda: run_media(args.quick, results), report.media_report)
    _section(out, "server_speed", lambda: server_speed.run(1 if args.quick else 3, do_profile=not args.quick,
                                                           results_dir=results), report.speed_table)
    out["total_seconds"] = time.perf_counter() - t0
    (results / "latest.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    write = not (args.quick or args.no_write or out.get("errors"))
    if write:
        report.write_section(REPO_ROOT / "BENCHMARKS.md", report.render(out))
    print(f"total {out['total_seconds']:.0f} s; results in {results}"
          + ("; BENCHMARKS.md updated" if write else "; BENCHMARKS.md not touched"))
    return 1 if out.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
