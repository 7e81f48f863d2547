"""Let child processes receive SIGINT even when this process was started with SIGINT ignored."""
from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def sigint_catchable() -> Iterator[None]:
    """Catch SIGINT in this process while spawning, so exec'ed children start with SIG_DFL.

    A shell without job control starts background jobs with SIGINT ignored; an ignored
    signal survives exec, and Python then never installs its KeyboardInterrupt handler.
    A caught signal is reset to the default on exec. The previous disposition is restored.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
