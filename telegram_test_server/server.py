"""`TestServer`: asyncio TCP listener serving MTProto to Telethon, with auth-key store and ready file."""
from __future__ import annotations

import asyncio
import collections
import logging
import os
from pathlib import Path
from typing import Any

from telegram_test_server.protocol.auth_store import AuthKeyStore, atomic_write_json
from telegram_test_server.protocol.mtproto import Connection, Core
from telegram_test_server.protocol.request_log import RequestLog
from telegram_test_server.protocol.rpc import Api

log = logging.getLogger(__name__)
DEFAULT_DC_ID = 2


def _build_api(scenario: Any) -> tuple[Any, Api]:
    """The real world and handlers (H2's modules) for a scenario source (path, dict, "demo", Scenario)."""
    from telegram_test_server.api import make_api
    from telegram_test_server.world.state import World

    world = World(scenario)
    return world, make_api(world)


class TestServer:
    """One local Telegram server; `await start()` listens, `await stop()` closes every connection."""

    __test__ = False  # not a pytest test class

    def __init__(self, scenario: Any = "demo", host: str = "127.0.0.1", port: int = 0,
                 request_log: str | Path | None = None, state_dir: str | Path | None = None, *,
                 ready_file: str | Path | None = None, api: Api | None = None,
                 gzip_threshold: int | None = None) -> None:
        if api is None:
            self.world, api = _build_api(scenario)
        else:
            self.world = None
        self.host, self.port = host, port
        self.dc_id: int = getattr(self.world, "dc_id", DEFAULT_DC_ID)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.ready_file = Path(ready_file) if ready_file is not None else None
        self.requests = RequestLog(request_log)
        self.auth = AuthKeyStore(self.state_dir)
        self._core = Core(api=api, store=self.auth, requests=self.requests,
                          info={"host": host, "port": port, "dc_id": self.dc_id}, gzip_threshold=gzip_threshold)
        self._server: asyncio.base_events.Server | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self.peers: list[tuple[str, int]] = []  # every accepted connection's peer (host, port), in order
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def counters(self) -> collections.Counter[str]:
        """Protocol event counters: handshakes, bad_server_salt, new_session_created, containers_in/out, ..."""
        return self._core.counters

    @property
    def handshakes(self) -> int:
        """How many auth keys were created since start."""
        return self._core.counters["handshakes"]

    @property
    def connections(self) -> int:
        """Currently open client connections."""
        return len(self._core.connections)

    async def start(self) -> None:
        """Listen, publish the bound address to the world and the ready file."""
        self.loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._on_client, self.host, self.port, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        self._core.info.update(host=self.host, port=self.port)
        if self.world is not None:
            self.world.address = (self.host, self.port)
        if self.ready_file is not None:
            atomic_write_json(self.ready_file, self.ready_info())
        log.info("test server listening on %s:%d (dc %d)", self.host, self.port, self.dc_id)

    def ready_info(self) -> dict[str, Any]:
        """What the ready file holds: host, port, pid, dc_id."""
        return {"host": self.host, "port": self.port, "pid": os.getpid(), "dc_id": self.dc_id}

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks.add(task)
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peers.append((str(peer[0]), int(peer[1])))
        log.info("connection accepted from %s:%d", peer[0], peer[1])
        try:
            await Connection(self._core, reader, writer).run()
        except Exception:  # noqa: BLE001 - one broken connection must never take the server down
            log.exception("connection crashed")
        finally:
            self._conn_tasks.discard(task)

    def drop_connections(self) -> int:
        """Abort every open client connection (the listener stays); returns how many were dropped."""
        conns = list(self._core.connections)
        for conn in conns:
            conn.close(abort=True)
        return len(conns)

    async def stop(self) -> None:
        """Stop listening, drop every connection, close the request log."""
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            for task in list(self._conn_tasks):
                task.cancel()
            await asyncio.gather(*self._conn_tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        self.requests.close()
