"""Root pytest fixtures: local Telegram test servers and sessions made against them.

Every fixture runs the server in a background thread (its own event loop) on 127.0.0.1 and
registers the server's RSA key with Telethon in this process, so clients can handshake.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from telegram_test_server.protocol import keys
from telegram_test_server.server import TestServer
from testkit.server import make_session, running_server

keys.register_with_telethon()

# Property tests are deterministic by default (fixed seeds, no example database), as CI needs;
# HYPOTHESIS_PROFILE=explore searches with fresh random examples.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture
def server_factory() -> Iterator[Callable[..., TestServer]]:
    """`server_factory(scenario, **TestServer kwargs)` starts a server; all are stopped after the test."""
    with contextlib.ExitStack() as stack:
        def start(scenario: Any = "demo", **kw: Any) -> TestServer:
            return stack.enter_context(running_server(scenario, **kw))

        yield start


@pytest.fixture
def local_server(request: pytest.FixtureRequest, server_factory: Callable[..., TestServer]) -> TestServer:
    """A fresh server for one test; scenario from indirect parametrisation (default: "demo")."""
    return server_factory(getattr(request, "param", "demo"))


@pytest.fixture(scope="session")
def demo_server() -> Iterator[TestServer]:
    """One shared server on the built-in "demo" scenario (do not mutate it)."""
    with running_server("demo") as server:
        yield server


@pytest.fixture
def authorized_session(local_server: TestServer, tmp_path: Path) -> Path:
    """A signed-in (default account) session file for `local_server`."""
    return make_session(local_server, tmp_path / "authorized.session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` first (the rest in collection order): on two workers a long test that
    starts last would otherwise stretch the whole run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
