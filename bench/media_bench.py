"""Media benchmark (issue 6 item 6): the parser's downloads vs plain Telethon `download_media`,
side by side against one local server process (loopback).

Every case is measured with two clocks, parser and baseline interleaved:
  spawn→exit (`parser_s`, `raw_s`, `ratio`): wall time of a fresh subprocess, from spawn to exit. It
      includes interpreter start-up and every import (Telethon alone takes ≈ 0.3–0.5 s to import on
      the 2-vCPU bench machine), client creation, connect, resolve, history, the downloads and
      disconnect. The parser runs through its CLI (`telegram_parser_skill.py parse`, pause scale 0),
      the baseline through `bench/raw_media.py` (plain `download_media`, one file after another).
  in-process (`parser_in_s`, `raw_in_s`, `ratio_in`): as bench/export_bench.py measures, the clock
      starts after the imports and stops after disconnect (client creation, connect, resolve,
      history, downloads, disconnect; for the parser also its export files, journal and fsyncs).
      The parser runs through `bench/run_parser.py` (the CLI's `main()` in-process, a separate run),
      the baseline is the same `raw_media.py` run, which reports its own in-process clock.
Cases:
  (a) one 50 MiB file, 50 ms added to every getFile answer (fault `slow`, served concurrently)
  (b) the same file size, no added latency
  (c) eight 5 MiB files, parser in `normal` mode vs the baseline one after another, with no added
      latency (c0: on loopback both sides are CPU-bound on the same cores) and with 50 ms (c50)
The parser floor is a `--dry-run` of the eight-file channel (start-up, connect, history), both clocks.

Usage: python bench/media_bench.py [--repeats 3] [--quick] [--cases c0_8x5MiB_0ms,...] [--json OUT.json]
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


def _parser_argv(server: Any, root: Path, channel: str, mode: str, *extra: str) -> list[str]:
    session = fresh_session(server, root, "p")
    return ["parse", "--channel", f"@{channel}", "--session-file", str(session.with_suffix("")),
            "--output-dir", str(root / "out"), "--mode", mode, *extra]


def _check(out: str, extra: tuple[str, ...]) -> None:
    summary = json.loads(out)["summary"]
    if not extra and (summary["media_errors_count"] or not summary["media_saved"]):
        raise RuntimeError(f"parser run failed: {summary}")


def _parser(server: Any, root: Path, channel: str, mode: str, *extra: str) -> float:
    """Spawn→exit seconds of one CLI run."""
    argv = [sys.executable, str(REPO_ROOT / "telegram_parser_skill.py"),
            *_parser_argv(server, root, channel, mode, *extra)]
    seconds, out = run_timed(argv, parser_env(root), root)
    _check(out, extra)
    return seconds


def _parser_inproc(server: Any, root: Path, channel: str, mode: str, *extra: str) -> float:
    """In-process seconds (after imports → after disconnect) of one run through bench/run_parser.py."""
    stats = root / "run_parser.json"
    argv = [sys.executable, str(REPO_ROOT / "bench" / "run_parser.py"), str(stats),
            *_parser_argv(server, root, channel, mode, *extra)]
    _, out = run_timed(argv, parser_env(root), root)
    _check(out, extra)
    return float(json.loads(stats.read_text(encoding="utf-8"))["seconds"])


def _raw(server: Any, root: Path, channel: str) -> tuple[float, float]:
    """(spawn→exit seconds, in-process seconds) of one bench/raw_media.py run."""
    session = fresh_session(server, root, "r")
    argv = [sys.executable, str(REPO_ROOT / "bench" / "raw_media.py"), str(session), channel, str(root / "raw"), "1"]
    seconds, out = run_timed(argv, parser_env(root), root)
    return seconds, float(json.loads(out.strip().splitlines()[-1])["seconds"])


def _one_case(server: Any, root: Path, channel: str, mode: str) -> dict[str, float]:
    parser_s = _parser(server, root / "cli", channel, mode)
    raw_s, raw_in_s = _raw(server, root / "raw", channel)
    parser_in_s = _parser_inproc(server, root / "inproc", channel, mode)
    return {"parser_s": parser_s, "raw_s": raw_s, "ratio": raw_s / parser_s,
            "parser_in_s": parser_in_s, "raw_in_s": raw_in_s, "ratio_in": raw_in_s / parser_in_s}


def run(quick: bool = False, repeats: int = 3, cases: list[str] | None = None) -> dict[str, Any]:
    """Measure every case (or `cases`) `repeats` times (1 with quick), parser and baseline interleaved."""
    repeats = 1 if quick else repeats
    chosen = {c: v for c, v in CASES.items() if cases is None or c in cases}
    runs: dict[str, dict[str, list[float]]] = {c: {} for c in chosen}
    floor: dict[str, list[float]] = {"spawn_s": [], "in_s": []}  # --dry-run of mb_eight: no download
    with workdir("bench-media-") as tmp:
        scenario_path = tmp / "media_bench.json"
        scenario_path.write_text(json.dumps(scenario()), encoding="utf-8")
        with serve(tmp, scenario=scenario_path) as server:
            for i in range(repeats):
                for case, (channel, mode, _) in chosen.items():
                    for key, value in _one_case(server, tmp / f"{case}-{i}", channel, mode).items():
                        runs[case].setdefault(key, []).append(value)
                floor["spawn_s"].append(_parser(server, tmp / f"floor-{i}", "mb_eight", "normal", "--dry-run"))
                floor["in_s"].append(_parser_inproc(server, tmp / f"floor-in-{i}", "mb_eight", "normal", "--dry-run"))
    stats = {case: {k: spread(v) for k, v in r.items()} for case, r in runs.items()}
    met = {c: statistics.median(runs[c]["ratio"]) >= CASES[c][2] for c in chosen}
    met_in = {c: statistics.median(runs[c]["ratio_in"]) >= CASES[c][2] for c in chosen}
    return {"runs": runs, "stats": stats, "targets": {c: v[2] for c, v in chosen.items()}, "met": met,
            "met_inproc": met_in, "parser_dry_run_s": spread(floor["spawn_s"]),
            "parser_dry_run_in_s": spread(floor["in_s"]),
            "how": "spawn→exit: CLI subprocess per parser run, bench/raw_media.py subprocess per baseline run; "
                   "in-process: bench/run_parser.py (separate parser run) and raw_media.py's own clock, "
                   "both from after the imports to after disconnect"}


def report(result: dict[str, Any]) -> str:
    """Human-readable lines: seconds and speed-up (baseline / parser), median (min–max), both clocks."""
    lines = ["media: parser vs plain Telethon download_media (one server, loopback); "
             "spawn→exit = subprocess wall incl. start-up and imports; in-process = after imports → after disconnect"]
    for case, s in result["stats"].items():
        target = result["targets"][case]
        ok = "met" if result["met"][case] else "NOT met"
        lines.append(f"  {case} spawn→exit: parser {fmt(s['parser_s'])} s, raw {fmt(s['raw_s'])} s, "
                     f"speed-up {fmt(s['ratio'])}× (target ≥ {target:g}×, {ok}; n={s['ratio']['n']})")
        if "ratio_in" in s:
            ok_in = "met" if result.get("met_inproc", {}).get(case) else "NOT met"
            lines.append(f"  {case} in-process: parser {fmt(s['parser_in_s'])} s, raw {fmt(s['raw_in_s'])} s, "
                         f"speed-up {fmt(s['ratio_in'])}× (target ≥ {target:g}×, {ok_in})")
    lines.append(f"  parser floor (--dry-run of mb_eight: start-up, connect, history): spawn→exit "
                 f"{fmt(result['parser_dry_run_s'])} s"
                 + (f", in-process {fmt(result['parser_dry_run_in_s'])} s" if "parser_dry_run_in_s" in result else ""))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one repeat")
    ap.add_argument("--cases", help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--json", type=Path, help="write the result dict here")
    args = ap.parse_args()
    cases = args.cases.split(",") if args.cases else None
    if cases and not set(cases) <= set(CASES):
        ap.error(f"unknown case in {args.cases}")
    result = run(args.quick, args.repeats, cases)
    result["machine"] = machine()
    publish(result, report(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
