"""Stop signals of the CLI: SIGINT and SIGTERM stop the run at its next safe point; a second one exits at once.

First signal: while `run_stoppable` runs, the main task is cancelled *from the event loop*
(`call_soon_threadsafe`), so CancelledError surfaces at an `await`, never in the middle of a
file write; elsewhere (argument checks, the session lock, printing) KeyboardInterrupt is raised.
The run's cleanup saves progress, writes summary.json (`"interrupted": true`) and releases the
locks; the CLI exits 128 + the signal number (130 SIGINT, 143 SIGTERM).

Second signal (during that cleanup): one `Error:` line and `os._exit` with the same code at once.
That is a crash-equivalent stop, which the export store is built for (SIGKILL-safe journal and
atomic renames): every file stays parseable and the next run resumes; summary.json and stdout
may miss this run, and lock files may stay behind (the kernel already freed their locks, so the
next run takes them over).
"""
from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from tgexport.core import platform

T = TypeVar("T")
STOP_SIGNALS = tuple(getattr(signal, name) for name in platform.stop_signal_names())
# SIGTERM and (Windows) SIGBREAK end the run as "terminated": 143 (128 + SIGTERM's number, as on POSIX).
_EXIT_CODES = {signal.SIGINT: EXIT_INTERRUPTED, **{sig: EXIT_TERMINATED for sig in STOP_SIGNALS if sig != signal.SIGINT}}

_received: list[int] = []  # signal numbers in arrival order (this process)
_stop: Callable[[], None] | None = None  # cancels the running main task, when there is one


def received() -> int | None:
    """The first stop signal this process got, or None."""
    return _received[0] if _received else None


def signal_name(signum: int | None) -> str:
    """`SIGINT` / `SIGTERM` / `SIGBREAK` (SIGINT when None: a KeyboardInterrupt without a signal)."""
    return signal.Signals(signum or signal.SIGINT).name


def exit_code(signum: int | None) -> int:
    """130 for SIGINT (or no signal), 143 for SIGTERM (and SIGBREAK on Windows)."""
    return _EXIT_CODES.get(signum or signal.SIGINT, EXIT_INTERRUPTED)


def stop_message(signum: int | None) -> str:
    """The `Error:` text of a stopped run: `interrupted` (SIGINT, as before) or `terminated (SIGTERM)`
    (`terminated (SIGBREAK)` for Ctrl+Break on Windows)."""
    return f"terminated ({signal_name(signum)})" if exit_code(signum) == EXIT_TERMINATED else "interrupted"


def _hard_exit(signum: int) -> None:
    first = received()
    line = (f"Error: {signal_name(signum)} during the cleanup after {signal_name(first)}: stopped at once; "
            "run again to resume\n")
    os.write(2, line.encode("utf-8"))  # no buffered I/O from a signal handler (it may interrupt a print)
    os._exit(exit_code(first))


def _handler(signum: int, frame: Any) -> None:
    """First signal: ask the run to stop (or raise KeyboardInterrupt outside it); second: exit now."""
    if _received:
        _hard_exit(signum)
    _received.append(signum)
    stop = _stop
    if stop is None:
        raise KeyboardInterrupt
    stop()


def install() -> None:
    """Handle SIGINT and SIGTERM (and SIGBREAK on Windows) as stop signals (CLI only; the Python API
    keeps Python's defaults)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _handler)


def raise_on_sigterm() -> None:
    """Former name of `install` (SIGTERM no longer exits 130: it exits 143)."""
    install()


def raise_if_stopping() -> None:
    """CancelledError when a stop signal came during `run_stoppable`: a safe point's check, so a stop
    is honoured even if its cancel was lost on the way (a library that swallows CancelledError)."""
    if _received and _stop is not None:
        raise asyncio.CancelledError()


async def run_stoppable(coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro` as the task a stop signal cancels (at its next await, from the event loop)."""
    global _stop
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop() -> None:
        loop.call_soon_threadsafe(task.cancel)

    _stop = stop
    try:
        return await coro
    finally:
        _stop = None
