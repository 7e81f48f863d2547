"""Raw Telethon baseline: download_media of every message with media in a channel (PARALLEL at a time).

Usage: python bench/raw_media.py SESSION.session CHANNEL OUT_DIR [PARALLEL=1]
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_telethon import raw_client  # noqa: E402


async def main(session: str, channel: str, out_dir: str, parallel: str = "1") -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    slots = asyncio.Semaphore(int(parallel))
    async with raw_client(session) as client:
        entity = await client.get_entity(channel)
        messages = [m async for m in client.iter_messages(entity, wait_time=0, reverse=True) if m.media]

        async def fetch(msg) -> int:
            async with slots:
                path = await client.download_media(msg, file=str(out / f"{msg.id}"))
            return Path(path).stat().st_size

        sizes = await asyncio.gather(*(fetch(m) for m in messages))
    print(json.dumps({"files": len(sizes), "bytes": sum(sizes)}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
