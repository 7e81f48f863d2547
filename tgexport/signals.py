"""SIGTERM handling: make a termination unwind like Ctrl+C so cleanup (`finally`) runs."""
from __future__ import annotations

import signal
from typing import Any


def _sigterm_handler(signum: int, frame: Any) -> None:
    """Treat SIGTERM like Ctrl+C: asyncio's SIGINT handler cancels the main task, else KeyboardInterrupt."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM terminates at once
    on_sigint = signal.getsignal(signal.SIGINT)
    if callable(on_sigint):
        on_sigint(signal.SIGINT, frame)
        return
    raise KeyboardInterrupt


def raise_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl+C so `finally` blocks run and the lock is released (exit 130)."""
    signal.signal(signal.SIGTERM, _sigterm_handler)
