"""Raw Telethon baseline: iter_messages over a whole channel (wait_time=0), timed in-process.

Usage: python bench/raw_history.py SESSION.session CHANNEL OUT.json [iterate|json]

The clock starts after the imports (Telethon only) and stops after disconnect: it covers client
creation, connect, get_entity, every getHistory page (Telethon decodes each message and binds it to
its entities in `_finish_init`) and disconnect. `iterate` (default) keeps nothing: the physical limit
of this stack. `json` also builds a small dict per message and writes them all with one json.dumps.
Prints one JSON line: {"messages": N, "seconds": S, "cpu_seconds": user + system CPU over the same span}.
"""
from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
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


async def read_all(session: str, channel: str, out: str, mode: str) -> int:
    """One pass over the channel; returns the number of messages."""
    async with raw_client(session) as client:
        entity = await client.get_entity(channel)
        if mode == "iterate":
            count = 0
            async for _ in client.iter_messages(entity, wait_time=0):
                count += 1
            return count
        rows = [record(m) async for m in client.iter_messages(entity, wait_time=0)]
    rows.reverse()
    Path(out).write_text(json.dumps({"messages": rows}, ensure_ascii=False), encoding="utf-8")
    return len(rows)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(session: str, channel: str, out: str, mode: str = "iterate") -> int:
    t0, cpu0 = time.perf_counter(), _cpu()
    count = asyncio.run(read_all(session, channel, out, mode))
    print(json.dumps({"messages": count, "seconds": time.perf_counter() - t0, "cpu_seconds": _cpu() - cpu0}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
