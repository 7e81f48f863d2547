"""Benchmark 1 (issue 2 item 10): how fast one raw Telethon client reads history and downloads from the
test server running as a separate process.

Usage: python bench/server_speed.py [--repeats 3] [--profile] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DOWNLOAD_CHANNEL,
    HISTORY_CHANNEL,
    MB,
    fmt,
    fresh_session,
    machine,
    publish,
    serve,
    spread,
    workdir,
)
from profiling import by_file, top_functions  # noqa: E402
from raw_telethon import raw_client  # noqa: E402

BIG_ID = 1
MID_IDS = range(2, 22)


async def read_history(client, entity) -> tuple[int, float]:
    """(messages, seconds) for one full iter_messages pass, wait_time=0."""
    t0 = time.perf_counter()
    n = 0
    async for _ in client.iter_messages(entity, wait_time=0):
        n += 1
    return n, time.perf_counter() - t0


async def download(client, messages) -> tuple[int, float]:
    """(bytes, seconds) for download_media of each message in turn, into memory."""
    t0 = time.perf_counter()
    total = 0
    for msg in messages:
        data = await client.download_media(msg, file=bytes)
        total += len(data)
    return total, time.perf_counter() - t0


async def measure(session: Path, repeats: int) -> dict:
    """Interleaved repeats of the three measurements on one connected client."""
    runs: dict[str, list[float]] = {"history_msgs_per_s": [], "big_MB_per_s": [], "batch_MB_per_s": []}
    sizes: dict[str, int] = {}
    async with raw_client(session) as client:
        hist = await client.get_entity(HISTORY_CHANNEL)
        dl = await client.get_entity(DOWNLOAD_CHANNEL)
        big = await client.get_messages(dl, ids=BIG_ID)
        mids = await client.get_messages(dl, ids=list(MID_IDS))
        for _ in range(repeats):
            n, secs = await read_history(client, hist)
            runs["history_msgs_per_s"].append(n / secs)
            sizes["history_messages"] = n
            b, secs = await download(client, [big])
            runs["big_MB_per_s"].append(b / MB / secs)
            sizes["big_bytes"] = b
            b, secs = await download(client, mids)
            runs["batch_MB_per_s"].append(b / MB / secs)
            sizes["batch_bytes"], sizes["batch_files"] = b, len(mids)
    return {"sizes": sizes, "runs": runs, "stats": {k: spread(v) for k, v in runs.items()}}


async def _profiled_pass(session: Path) -> None:
    async with raw_client(session) as client:
        hist = await client.get_entity(HISTORY_CHANNEL)
        dl = await client.get_entity(DOWNLOAD_CHANNEL)
        await read_history(client, hist)
        await download(client, [await client.get_messages(dl, ids=BIG_ID)])


def profile(out_dir: Path) -> dict[str, str]:
    """One history pass + one 50 MiB download with the server under cProfile and the client under cProfile."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with workdir("bench-prof-") as tmp:
        server_prof = tmp / "server.prof"
        with serve(tmp, profile_to=server_prof) as server:
            session = fresh_session(server, tmp / "c")
            prof = cProfile.Profile()
            prof.enable()
            asyncio.run(_profiled_pass(session))
            prof.disable()
        reports = {"server": pstats.Stats(str(server_prof)), "client": pstats.Stats(prof)}
        texts = {}
        for side, st in reports.items():
            text = by_file(st) + "\n" + top_functions(st)
            (out_dir / f"profile_{side}.txt").write_text(text, encoding="utf-8")
            texts[side] = str(out_dir / f"profile_{side}.txt")
    return texts


def run(repeats: int = 3, do_profile: bool = False, results_dir: Path | None = None) -> dict:
    """Measure (and optionally profile); returns the result dict."""
    with workdir("bench-speed-") as tmp, serve(tmp) as server:
        result = asyncio.run(measure(fresh_session(server, tmp / "c"), repeats))
    if do_profile:
        result["profiles"] = profile(results_dir or Path(__file__).resolve().parent / "results")
    return result


def report(result: dict) -> str:
    """Human-readable lines."""
    s, z = result["stats"], result["sizes"]
    return "\n".join([
        f"history: {z['history_messages']} messages, msgs/s median (min–max): {fmt(s['history_msgs_per_s'], 0)}",
        f"download 50 MiB document ({z['big_bytes']} B), MB/s: {fmt(s['big_MB_per_s'], 1)}",
        f"download batch of {z['batch_files']} files ({z['batch_bytes']} B), MB/s: {fmt(s['batch_MB_per_s'], 1)}",
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="also profile server and client (cProfile)")
    ap.add_argument("--json", type=Path, help="write the result dict here")
    args = ap.parse_args()
    result = run(args.repeats, args.profile)
    result["machine"] = machine()
    publish(result, report(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
