"""Media benchmark (issue 6 item 6): the parser's downloads vs plain Telethon `download_media`,
side by side against one local server process (loopback).

Both sides are measured the same way: a fresh subprocess per run (start-up, connect, resolve,
history and download included): the parser through its CLI (`telegram_parser_skill.py parse`,
pause scale 0), the baseline through `bench/raw_media.py` (plain `download_media`, one file after
another). Cases:
  (a) one 50 MiB file, 50 ms added to every getFile answer (fault `slow`, served concurrently)
  (b) the same file size, no added latency
  (c) eight 5 MiB files, parser in `normal` mode vs the baseline one after another, with no added
      latency (c0: on loopback both sides are CPU-bound on the same cores) and with 50 ms (c50)

Usage: python bench/media_bench.py [--repeats 3] [--quick] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    REPO_ROOT,
    fmt,
    fresh_session,
    machine,
    parser_env,
    publish,
    run_timed,
    serve,
    spread,
    workdir,
)

MIB = 1024 * 1024
LATENCY = 0.05
CASES = {  # name: (channel, parser mode, target ratio baseline/parser)
    "a_50MiB_50ms": ("mb_slow", "normal", 5.0),
    "b_50MiB_0ms": ("mb_fast", "normal", 0.9),
    "c0_8x5MiB_0ms": ("mb_eight", "normal", 1.6),
    "c50_8x5MiB_50ms": ("mb_eight_slow", "normal", 1.6),
}
SLOW_CHANNELS = ("mb_slow", "mb_eight_slow")


def _doc(mid: int, size: int) -> dict[str, Any]:
    return {"id": mid, "text": f"file {mid}", "media": {"type": "document", "size": size,
                                                        "mime_type": "application/octet-stream",
                                                        "file_name": f"f{mid}.bin"}}


def scenario() -> dict[str, Any]:
    """Four channels; the `slow` fault applies to the *_slow ones only."""
    def channel(cid: int, name: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": cid, "access_hash": cid * 7, "username": name, "title": name, "messages": messages}

    eight = [_doc(i, 5 * MIB) for i in range(1, 9)]
    return {"channels": [channel(1660000001, "mb_slow", [_doc(1, 50 * MIB)]),
                         channel(1660000002, "mb_fast", [_doc(1, 50 * MIB)]),
                         channel(1660000003, "mb_eight", eight),
                         channel(1660000004, "mb_eight_slow", eight)],
            "faults": [{"kind": "slow", "method": "upload.getFile", "delay": LATENCY, "channel": name,
                        "times": None} for name in SLOW_CHANNELS]}


def _parser(server: Any, root: Path, channel: str, mode: str, *extra: str) -> float:
    session = fresh_session(server, root, "p")
    argv = [sys.executable, str(REPO_ROOT / "telegram_parser_skill.py"), "parse", "--channel", f"@{channel}",
            "--session-file", str(session.with_suffix("")), "--output-dir", str(root / "out"), "--mode", mode,
            *extra]
    seconds, out = run_timed(argv, parser_env(root), root)
    summary = json.loads(out)["summary"]
    if not extra and (summary["media_errors_count"] or not summary["media_saved"]):
        raise RuntimeError(f"parser run failed: {summary}")
    return seconds


def _raw(server: Any, root: Path, channel: str) -> float:
    session = fresh_session(server, root, "r")
    argv = [sys.executable, str(REPO_ROOT / "bench" / "raw_media.py"), str(session), channel, str(root / "raw"), "1"]
    seconds, _ = run_timed(argv, parser_env(root), root)
    return seconds


def run(quick: bool = False, repeats: int = 3) -> dict[str, Any]:
    """Measure every case `repeats` times (1 with quick), parser and baseline interleaved."""
    repeats = 1 if quick else repeats
    runs: dict[str, dict[str, list[float]]] = {c: {"parser_s": [], "raw_s": [], "ratio": []} for c in CASES}
    floor: list[float] = []  # parser --dry-run of mb_eight: start-up, connect, history, no download
    with workdir("bench-media-") as tmp:
        scenario_path = tmp / "media_bench.json"
        scenario_path.write_text(json.dumps(scenario()), encoding="utf-8")
        with serve(tmp, scenario=scenario_path) as server:
            for i in range(repeats):
                for case, (channel, mode, _) in CASES.items():
                    root = tmp / f"{case}-{i}"
                    parser_s = _parser(server, root, channel, mode)
                    raw_s = _raw(server, root, channel)
                    runs[case]["parser_s"].append(parser_s)
                    runs[case]["raw_s"].append(raw_s)
                    runs[case]["ratio"].append(raw_s / parser_s)
                floor.append(_parser(server, tmp / f"floor-{i}", "mb_eight", "normal", "--dry-run"))
    stats = {case: {k: spread(v) for k, v in r.items()} for case, r in runs.items()}
    verdict = {case: statistics.median(runs[case]["ratio"]) >= CASES[case][2] for case in CASES}
    return {"runs": runs, "stats": stats, "targets": {c: v[2] for c, v in CASES.items()}, "met": verdict,
            "parser_dry_run_s": spread(floor),
            "how": "CLI subprocess per parser run; bench/raw_media.py subprocess (download_media) per baseline run"}


def report(result: dict[str, Any]) -> str:
    """Human-readable lines: seconds and speed-up (baseline / parser), median (min–max)."""
    lines = ["media: parser CLI vs plain Telethon download_media (subprocess each, one server, loopback)"]
    for case, s in result["stats"].items():
        target = result["targets"][case]
        ok = "met" if result["met"][case] else "NOT met"
        lines.append(f"  {case}: parser {fmt(s['parser_s'])} s, raw {fmt(s['raw_s'])} s, "
                     f"speed-up {fmt(s['ratio'])}× (target ≥ {target:g}×, {ok}; n={s['ratio']['n']})")
    lines.append(f"  parser floor (--dry-run of mb_eight: start-up, connect, history): "
                 f"{fmt(result['parser_dry_run_s'])} s")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one repeat")
    ap.add_argument("--json", type=Path, help="write the result dict here")
    args = ap.parse_args()
    result = run(args.quick, args.repeats)
    result["machine"] = machine()
    publish(result, report(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
