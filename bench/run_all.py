"""Run every benchmark once: server speed (1) and parser vs raw Telethon (2), with profiles.

Usage: python bench/run_all.py [--quick]
Writes bench/results/latest.json and bench/results/profile_*.txt (--quick: under bench/results/quick/,
which git ignores); prints the tables' numbers.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parser_vs_raw  # noqa: E402
import server_speed  # noqa: E402
from common import BENCH_DIR, machine  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (smoke check of the scripts)")
    args = ap.parse_args()
    speed_n, hist_n, media_n = (1, 1, 1) if args.quick else (5, 7, 5)
    # --quick only checks that the scripts work: it must not overwrite the recorded full run
    results = BENCH_DIR / "results" / ("quick" if args.quick else "")
    results.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    out = {"machine": machine(), "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": "python bench/run_all.py" + (" --quick" if args.quick else "")}
    out["server_speed"] = server_speed.run(speed_n, do_profile=True, results_dir=results)
    print(server_speed.report(out["server_speed"]), flush=True)
    out["parser_vs_raw"] = parser_vs_raw.run(hist_n, media_n, profile_dir=results)
    print(parser_vs_raw.report(out["parser_vs_raw"]), flush=True)
    out["total_seconds"] = time.perf_counter() - t0
    (results / "latest.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(f"machine: {out['machine']}\ntotal {out['total_seconds']:.0f} s; results in {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
