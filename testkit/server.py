"""Run the local Telegram test server in a background thread; make sessions for it; a tiny core-only Api."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import gc
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from telethon import TelegramClient
from telethon.tl import functions, types

from telegram_test_server.protocol import keys
from telegram_test_server.protocol.rpc import CallContext, RpcError
from telegram_test_server.server import TestServer
from telegram_test_server.session_file import DUMMY_API_HASH, DUMMY_API_ID, is_loopback
from telegram_test_server.session_file import make_session as _make_session_async


def _collect_cycles() -> None:
    """Collect Telethon/asyncio reference cycles now, at a safe point.

    Python 3.11's ast module breaks ("AST constructor recursion depth mismatch", CPython #106905) when a
    garbage collection inside ast.parse runs finalizers that format tracebacks; pytest parses ASTs a lot.
    """
    gc.collect()


class _ServerThread(threading.Thread):
    """A daemon thread owning one event loop that runs one TestServer."""

    def __init__(self, server: TestServer) -> None:
        super().__init__(name=f"test-server-{id(server):x}", daemon=True)
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.started = concurrent.futures.Future[None]()

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            self.loop.close()
            self.started.set_exception(exc)
            return
        self.started.set_result(None)
        self.loop.run_forever()
        self.loop.run_until_complete(self.server.stop())
        self.loop.close()


@contextlib.contextmanager
def running_server(scenario: Any = "demo", **kw: Any) -> Iterator[TestServer]:
    """Start `TestServer(scenario, **kw)` in its own thread and loop; stop it on exit."""
    keys.register_with_telethon()
    thread = _ServerThread(TestServer(scenario, **kw))
    thread.start()
    thread.started.result(timeout=30)
    try:
        yield thread.server
    finally:
        thread.loop.call_soon_threadsafe(thread.loop.stop)
        thread.join(timeout=30)
        _collect_cycles()


def server_call(server: TestServer, fn: Callable[..., Any], *args: Any, timeout: float = 30) -> Any:
    """Run `fn(*args)` in the server's loop thread (awaiting it if it returns an awaitable); return its result."""
    async def call() -> Any:
        result = fn(*args)
        return await result if inspect.isawaitable(result) else result

    if server.loop is None:
        raise RuntimeError("server is not running")
    return asyncio.run_coroutine_threadsafe(call(), server.loop).result(timeout)


def make_session(server_or_ready: TestServer | str | Path | dict[str, Any], path: str | Path, *,
                 authorized: bool = True, phone: str | None = None, code: str | None = None,
                 password: str | None = None) -> Path:
    """Create a Telethon session file for the server (blocking; runs its own loop in a worker thread)."""
    ready = server_or_ready.ready_info() if isinstance(server_or_ready, TestServer) else server_or_ready
    coro = _make_session_async(ready, path, authorized=authorized, phone=phone, code=code, password=password)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)


class MiniApi:
    """Just enough API for core tests without the world: getConfig, getUsers(self), getState, getDifference.

    The signed-in user is whatever `server.auth.bind(key_id, user_id)` said; unbound keys get 401.
    """

    async def handle(self, request: Any, ctx: CallContext) -> Any:
        if isinstance(request, functions.help.GetConfigRequest):
            return mini_config(ctx)
        user_id = ctx.auth.user_for(ctx.auth_key_id)
        if user_id is None:
            raise RpcError(401, "AUTH_KEY_UNREGISTERED")
        if isinstance(request, functions.updates.GetStateRequest | functions.updates.GetDifferenceRequest):
            return self._updates(request)
        if isinstance(request, functions.users.GetUsersRequest):
            return [types.User(id=user_id, is_self=True, access_hash=7, first_name="Test") for _ in request.id]
        raise RpcError(400, "METHOD_NOT_IN_MINI_API")

    @staticmethod
    def _updates(request: Any) -> Any:
        now = dt.datetime.now(dt.UTC)
        if isinstance(request, functions.updates.GetStateRequest):
            return types.updates.State(pts=1, qts=0, date=now, seq=0, unread_count=0)
        return types.updates.DifferenceEmpty(date=now, seq=0)


def mini_config(ctx: CallContext) -> types.Config:
    """A minimal but valid Config whose only DC is this server."""
    info = ctx.extra["server"]
    now = dt.datetime.now(dt.UTC)
    return types.Config(
        date=now, expires=now + dt.timedelta(hours=1), test_mode=False, this_dc=info["dc_id"],
        dc_options=[types.DcOption(id=info["dc_id"], ip_address=info["host"], port=info["port"])],
        dc_txt_domain_name="localhost", chat_size_max=200, megagroup_size_max=200000,
        forwarded_count_max=100, online_update_period_ms=210000, offline_blur_timeout_ms=5000,
        offline_idle_timeout_ms=30000, online_cloud_timeout_ms=300000, notify_cloud_delay_ms=30000,
        notify_default_delay_ms=1500, push_chat_period_ms=60000, push_chat_limit=2, edit_time_limit=172800,
        revoke_time_limit=172800, revoke_pm_time_limit=2147483647, rating_e_decay=2419200,
        stickers_recent_limit=200, channels_read_media_period=604800, call_receive_timeout_ms=20000,
        call_ring_timeout_ms=90000, call_connect_timeout_ms=30000, call_packet_timeout_ms=10000,
        me_url_prefix="https://t.me/", caption_length_max=1024, message_length_max=4096,
        webfile_dc_id=info["dc_id"],
    )


def address_only_session(server: TestServer, path: str | Path) -> Path:
    """A session file with the server's address and no auth key (the client will handshake)."""
    from telethon.sessions import SQLiteSession

    session = SQLiteSession(str(path))
    session.set_dc(server.dc_id, server.host, server.port)
    session.save()
    session.close()
    return Path(path)


@contextlib.asynccontextmanager
async def open_client(path: str | Path, **kw: Any) -> AsyncIterator[TelegramClient]:
    """Connect a real TelegramClient on an existing loopback session file; disconnect on exit."""
    from telethon.sessions import SQLiteSession

    if not Path(path).exists():
        raise FileNotFoundError(path)
    session = SQLiteSession(str(path))
    if not is_loopback(session.server_address or ""):
        raise RuntimeError(f"session {path} does not point at a loopback server")
    keys.register_with_telethon()
    client = TelegramClient(session, DUMMY_API_ID, DUMMY_API_HASH, **kw)
    try:
        await client.connect()
        yield client
    finally:
        await client.disconnect()
        _collect_cycles()
