"""Raw Telethon baseline: download_media of every message with media in a channel (PARALLEL at a time).

Usage: python bench/raw_media.py SESSION.session CHANNEL OUT_DIR [PARALLEL=1] [durable|durable-loop]
With `durable`, each finished file is also sha256-hashed and fsync'ed in a worker thread; with
`durable-loop`, hashed in a thread but fsync'ed on the event loop (what the parser does).
Prints one JSON line: files, bytes, and `seconds` / `cpu_seconds` measured in-process from after the
imports to after disconnect (client creation, connect, resolve, history, downloads, disconnect).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_telethon import raw_client  # noqa: E402


def sha256_file(path: str) -> str:
    """Hash the file in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_file(path: str) -> None:
    """Flush the file to disk."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def sha256_and_fsync(path: str) -> str:
    """The parser's per-file durability work, all in one worker thread."""
    digest = sha256_file(path)
    fsync_file(path)
    return digest


async def main(session: str, channel: str, out_dir: str, parallel: str = "1", durable: str = "") -> dict[str, int]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    slots = asyncio.Semaphore(int(parallel))
    async with raw_client(session) as client:
        entity = await client.get_entity(channel)
        messages = [m async for m in client.iter_messages(entity, wait_time=0, reverse=True) if m.media]

        async def fetch(msg) -> int:
            async with slots:
                path = await client.download_media(msg, file=str(out / f"{msg.id}"))
                if durable == "durable":
                    await asyncio.to_thread(sha256_and_fsync, path)
                elif durable == "durable-loop":
                    await asyncio.to_thread(sha256_file, path)
                    fsync_file(path)
            return Path(path).stat().st_size

        sizes = await asyncio.gather(*(fetch(m) for m in messages))
    return {"files": len(sizes), "bytes": sum(sizes)}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(*args: str) -> int:
    """Run `main` with the clock started after the imports; print the one-line JSON result."""
    t0, cpu0 = time.perf_counter(), _cpu()
    info = asyncio.run(main(*args))
    info.update(seconds=time.perf_counter() - t0, cpu_seconds=_cpu() - cpu0)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(timed(*sys.argv[1:6]))
