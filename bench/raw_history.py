"""Raw Telethon baseline: iter_messages a whole channel (wait_time=0) and write the messages to JSON.

Usage: python bench/raw_history.py SESSION.session CHANNEL OUT.json
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_telethon import raw_client  # noqa: E402


def record(msg) -> dict:
    """A plain dict of the fields an export keeps (comparable to the parser's record)."""
    fwd = msg.fwd_from
    return {
        "id": msg.id, "date": msg.date.isoformat() if msg.date else None, "text": msg.message or "",
        "views": getattr(msg, "views", None), "forwards": getattr(msg, "forwards", None),
        "reply_to": msg.reply_to.reply_to_msg_id if msg.reply_to else None,
        "forwarded_from": (fwd.from_name or getattr(fwd.from_id, "channel_id", None)) if fwd else None,
        "has_media": msg.media is not None,
    }


async def main(session: str, channel: str, out: str) -> int:
    async with raw_client(session) as client:
        entity = await client.get_entity(channel)
        rows = [record(m) async for m in client.iter_messages(entity, wait_time=0)]
    rows.reverse()
    Path(out).write_text(json.dumps({"messages": rows}, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps({"messages": len(rows)}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
