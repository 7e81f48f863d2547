"""Raw Telethon fixed cost: start, connect, resolve one channel, print it, exit.

Usage: python bench/raw_resolve.py SESSION.session CHANNEL
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_telethon import raw_client  # noqa: E402


async def main(session: str, channel: str, *_: str) -> int:
    async with raw_client(session) as client:
        entity = await client.get_entity(channel)
    print(json.dumps({"id": entity.id, "username": entity.username, "title": entity.title}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:])))
