"""A stop (task cancel) that lands just as a bounded call finishes must not be lost.

Python 3.11's `asyncio.wait_for` returns the result and drops the cancel when the inner call has
already finished; a Ctrl+C then went unnoticed until the run ended (exit 0). FloodController.call
bounds calls with `asyncio.timeout`, which keeps an outside cancel."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from errors import NetworkError
from tgexport.client.flood import FloodController


class Events:
    """The controller's event sink: remembers (level, event, fields)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.seen.append(("info", event, fields))

    def error(self, event: str, code: str, **fields: Any) -> None:
        self.seen.append(("error", event, {"code": code, **fields}))


def _controller(events: Events | None = None, timeout: float = 60) -> FloodController:
    return FloodController(extra=0, max_wait=10, log=events or Events(), request_timeout=timeout,
                           timeout_retries=1, sleep=_no_sleep)


async def _cancel_after(done_steps: int) -> str:
    """The run's task makes a bounded call and goes on (more awaits); the call's answer arrives, the
    loop runs `done_steps` times, a stop cancels the task: does the task stop or run on past it?"""
    answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def call() -> int:
        return await answer

    async def run() -> str:
        await _controller().call(call, what="a page")
        for _ in range(10):  # the run's next awaits: a kept cancel lands at one of them at the latest
            await asyncio.sleep(0)
        return "ran on"

    task = asyncio.ensure_future(run())
    await asyncio.sleep(0)  # the call waits for its answer
    answer.set_result(1)
    for _ in range(done_steps):
        await asyncio.sleep(0)
    task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return "cancelled"


@pytest.mark.parametrize("done_steps", range(6))
def test_a_cancel_racing_a_finished_call_is_kept(done_steps: int) -> None:
    assert asyncio.run(_cancel_after(done_steps)) == "cancelled"


def test_a_call_that_takes_too_long_still_times_out_and_is_retried() -> None:
    events, calls = Events(), []

    async def hang() -> None:
        calls.append(1)
        await asyncio.Event().wait()

    with pytest.raises(NetworkError, match="no answer from Telegram to a page within 0.01 s"):
        asyncio.run(_controller(events, timeout=0.01).call(hang, what="a page"))
    assert len(calls) == 2  # the first attempt and one retry
    assert [(level, event, f.get("attempt"), f.get("action")) for level, event, f in events.seen] == [
        ("error", "request_timeout", 1, None), ("error", "request_timeout", 2, "stop")]


async def _no_sleep(_seconds: float) -> None:
    return None
