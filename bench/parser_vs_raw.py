"""Benchmark 2: the real CLI `parse` vs raw Telethon scripts, side by side on one server, repeats interleaved.

(fixed cost) CLI `resolve` vs bench/raw_resolve.py; (history: moved to bench/export_bench.py)
(b) media: @bench_media (40 files, ~203 MB) in safe (1 download) and normal (2) mode vs bench/raw_media.py
    (sequential; 2 at a time; both again plus the parser's sha256 + fsync per file in a thread; 2 at a
    time with the fsync on the event loop, as the parser does).
Every run is a subprocess (start-up included), with a fresh session copy and a fresh output directory.

Usage: python bench/parser_vs_raw.py [--history-repeats 5] [--media-repeats 3] [--profile] [--json OUT.json]
(--history-repeats: repeats of the fixed-cost pair)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    BENCH_DIR,
    HISTORY_CHANNEL,
    MB,
    MEDIA_CHANNEL,
    REPO_ROOT,
    Server,
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

PY = sys.executable
CLI = str(REPO_ROOT / "telegram_parser_skill.py")
Variant = Callable[[Server, Path], float]


def parser_cmd(channel: str, run_dir: Path, mode: str) -> list[str]:
    """The exact CLI command of one parser run."""
    return [PY, CLI, "parse", "--channel", f"@{channel}", "--mode", mode,
            "--session-file", str(run_dir / "parser"), "--output-dir", str(run_dir / "out")]


def run_parser(server: Server, run_dir: Path, channel: str, mode: str, expect_media: int | None) -> float:
    """One first export by the CLI; checks exit 0 and the counts; returns wall seconds."""
    fresh_session(server, run_dir, "parser")
    secs, out = run_timed(parser_cmd(channel, run_dir, mode), parser_env(run_dir), run_dir)
    summary = json.loads(out)["summary"]
    if expect_media is None and summary["new_messages"] != 20000:
        raise RuntimeError(f"parser exported {summary['new_messages']} messages")
    if expect_media is not None and (summary["media_saved"] != expect_media or summary["media_errors_count"]):
        raise RuntimeError(f"parser media: {summary}")
    return secs


def run_raw(server: Server, run_dir: Path, script: str, channel: str, *extra: str) -> tuple[float, dict]:
    """One raw-Telethon script run in its own process; returns (wall seconds, its JSON line)."""
    session = fresh_session(server, run_dir, "raw")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    argv = [PY, str(BENCH_DIR / script), str(session), channel, str(run_dir / "out"), *extra]
    secs, out = run_timed(argv, env, run_dir)
    return secs, json.loads(out.strip().splitlines()[-1])


def media_variants(files: int, total: int) -> dict[str, Variant]:
    """(b): CLI parse safe/normal vs raw download_media sequential / 2 at a time."""
    def raw(parallel: int, durable: str = "") -> Variant:
        def go(server: Server, d: Path) -> float:
            extra = [str(parallel)] + ([durable] if durable else [])
            secs, info = run_raw(server, d, "raw_media.py", MEDIA_CHANNEL, *extra)
            if (info["files"], info["bytes"]) != (files, total):
                raise RuntimeError(f"raw media: {info}")
            return secs
        return go

    return {
        "raw_seq": raw(1),
        "parser_safe": lambda s, d: run_parser(s, d, MEDIA_CHANNEL, "safe", files),
        "parser_normal": lambda s, d: run_parser(s, d, MEDIA_CHANNEL, "normal", files),
        "raw_par2": raw(2),
        "raw_seq_durable": raw(1, "durable"),
        "raw_par2_durable": raw(2, "durable"),
        "raw_par2_durable_loop": raw(2, "durable-loop"),
    }


def interleaved(server: Server, root: Path, variants: dict[str, Variant], repeats: int) -> dict[str, list[float]]:
    """Run A B C … A B C … with a fresh directory per run (removed right after)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(repeats):
        for name, fn in variants.items():
            run_dir = root / f"{name}-{i}"
            run_dir.mkdir()
            try:
                times[name].append(fn(server, run_dir))
            finally:
                shutil.rmtree(run_dir, ignore_errors=True)
    return times


def ratios(times: dict[str, list[float]], a: str, b: str) -> dict[str, float]:
    """Per-repeat paired ratio a/b (time): median, min, max."""
    return spread([x / y for x, y in zip(times[a], times[b], strict=True)])


def fixed_cost_variants() -> dict[str, Variant]:
    """Per-process fixed cost: CLI `resolve` vs raw start + connect + get_entity (both one RPC of work)."""
    def cli(server: Server, d: Path) -> float:
        fresh_session(server, d, "parser")
        argv = [PY, CLI, "resolve", "--channel", f"@{HISTORY_CHANNEL}", "--session-file", str(d / "parser")]
        return run_timed(argv, parser_env(d), d)[0]

    return {"cli_resolve": cli, "raw_resolve": lambda s, d: run_raw(s, d, "raw_resolve.py", HISTORY_CHANNEL)[0]}


def profile_parser(server: Server, root: Path, out_dir: Path) -> dict[str, str]:
    """One normal-mode media export under cProfile (not timed)."""
    from profiling import profile_cli

    d = root / "prof-media_normal"
    fresh_session(server, d, "parser")
    argv = parser_cmd(MEDIA_CHANNEL, d, "normal")[1:]
    report = profile_cli(argv, parser_env(d), d, out_dir / "profile_parser_media_normal.txt")
    shutil.rmtree(d, ignore_errors=True)
    return {"media_normal": report}


def media_totals() -> tuple[int, int]:
    """(files, bytes) of @bench_media, read from the scenario itself."""
    from telegram_test_server.world.scenario import load_scenario
    from telegram_test_server.world.state import World

    world = World(load_scenario(BENCH_DIR / "scenarios" / "bench.json"))
    state = world.channel(MEDIA_CHANNEL)
    sizes = [len(world.expected_bytes(MEDIA_CHANNEL, mid)) for mid in state.ids if state.messages[mid].media]
    return len(sizes), sum(sizes)


def run_media(media_repeats: int = 3, profile_dir: Path | None = None) -> dict:
    """The media part (b) on its own server process (profiling, if asked, after the timed runs)."""
    return run(0, media_repeats, profile_dir)


def run(history_repeats: int = 5, media_repeats: int = 3, profile_dir: Path | None = None) -> dict:
    """Fixed cost (`history_repeats` pairs) and media (b) on one server process."""
    files, total = media_totals()
    result: dict = {"media_files": files, "media_bytes": total}
    with workdir("bench-pvr-") as tmp, serve(tmp) as server:
        fixed = interleaved(server, tmp, fixed_cost_variants(), history_repeats) if history_repeats else None
        media = interleaved(server, tmp, media_variants(files, total), media_repeats)
        if profile_dir is not None:
            result["profiles"] = profile_parser(server, tmp, profile_dir)
    if fixed is not None:
        result["fixed_cost"] = {"times": fixed, "stats": {k: spread(v) for k, v in fixed.items()},
                                "ratio_cli_over_raw": ratios(fixed, "cli_resolve", "raw_resolve")}
    result["media"] = {
        "times": media, "stats": {k: spread(v) for k, v in media.items()},
        "MB_per_s": {k: spread([total / MB / t for t in v]) for k, v in media.items()},
        "ratio_safe_over_raw_seq": ratios(media, "parser_safe", "raw_seq"),
        "ratio_normal_over_raw_seq": ratios(media, "parser_normal", "raw_seq"),
        "ratio_normal_over_raw_par2": ratios(media, "parser_normal", "raw_par2"),
        "ratio_safe_over_raw_seq_durable": ratios(media, "parser_safe", "raw_seq_durable"),
        "ratio_normal_over_raw_par2_durable": ratios(media, "parser_normal", "raw_par2_durable"),
        "ratio_normal_over_raw_par2_durable_loop": ratios(media, "parser_normal", "raw_par2_durable_loop"),
    }
    return result


def report_media(r: dict) -> str:
    """Human-readable lines of the media part."""
    m = r["media"]
    lines = [f"(b) media {r['media_files']} files {r['media_bytes'] / MB:.0f} MB, {k}: {fmt(v)} s, "
             f"{fmt(m['MB_per_s'][k], 1)} MB/s" for k, v in m["stats"].items()]
    return "\n".join(lines + [f"    {k}: {fmt(v)}" for k, v in m.items() if k.startswith("ratio")])


def report(r: dict) -> str:
    """Human-readable lines."""
    lines = []
    if "fixed_cost" in r:
        f = r["fixed_cost"]
        lines.append(f"fixed cost (start, connect, resolve, exit), wall s: CLI {fmt(f['stats']['cli_resolve'])}, "
                     f"raw {fmt(f['stats']['raw_resolve'])}; ratio {fmt(f['ratio_cli_over_raw'])}")
    return "\n".join(lines + [report_media(r)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--history-repeats", type=int, default=5)
    ap.add_argument("--media-repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--profile", action="store_true", help="also profile one CLI media run")
    args = ap.parse_args()
    result = run(args.history_repeats, args.media_repeats, BENCH_DIR / "results" if args.profile else None)
    result["machine"] = machine()
    publish(result, report(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

