"""In-process `run_parse` over a real Telethon client and TCP to the local server, with injected time."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from testkit.server import open_client
from tgexport.config.options import ParseOptions
from tgexport.run.parse import run_parse


def generated_channel(channel_id: int, username: str, title: str, count: int,
                      faults: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A scenario with one channel of `count` generated 16-character text messages."""
    return {"channels": [{"id": channel_id, "username": username, "title": title,
                          "generate": {"count": count, "text_length": 16}}], "faults": faults or []}


class FakeTime:
    """Injected sleep and clock: sleeps are recorded, never slept; the clock moves `step` per read."""

    def __init__(self, step: float = 0.0) -> None:
        self.sleeps: list[float] = []
        self.now = 0.0
        self.step = step

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def clock(self) -> float:
        self.now += self.step
        return self.now


def run_parse_inprocess(session: Path, options: ParseOptions, time: FakeTime) -> dict[str, Any]:
    """`run_parse` with run id 0badc0de on a client of `session` (a make_session file)."""
    async def go() -> dict[str, Any]:
        async with open_client(session, flood_sleep_threshold=60, receive_updates=False) as client:
            return await run_parse(client, options, "0badc0de", sleep=time.sleep, clock=time.clock)

    return asyncio.run(go())
