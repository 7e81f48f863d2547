"""Run mtprotoproxy (the PyPI package, unchanged) so it can only relay to the local test server.

mtprotoproxy normally looks up its own public address, downloads Telegram's proxy config and middle-proxy list,
probes its mask host and dials Telegram's datacenters. Here, before it starts: its datacenter tables are replaced
by the test server's address, the middle proxy is off, masking and time/config fetches are off, and every outgoing
connection of this process (asyncio and plain sockets) is refused unless it goes to the test server; relayed
connections are bound to --bind so the test server can tell them from direct ones. On SIGTERM it prints its own
per-user counters (connects, octets, msgs) and exits.

    python mtproxy_launcher.py --listen HOST:PORT --server HOST:PORT --bind HOST --secret HEX32
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import ipaddress
import signal
import socket
import sys
import tempfile
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

_real_open_connection = asyncio.open_connection
_real_create_connection = asyncio.BaseEventLoop.create_connection
_allowed: dict[str, Any] = {}


def _split(host_port: str) -> tuple[str, int]:
    host, _, port = host_port.rpartition(":")
    return host, int(port)


def _check_target(host: Any, port: Any) -> None:
    """Refuse (and say so) any destination but the test server; it must be loopback too."""
    target = (str(host), int(port))
    if target != _allowed["server"] or not ipaddress.ip_address(target[0]).is_loopback:
        print(f"BLOCKED outgoing connection to {target[0]}:{target[1]}", flush=True)
        raise PermissionError(f"mtproxy launcher: {target[0]}:{target[1]} is not the local test server")


async def _guarded_open_connection(host: Any = None, port: Any = None, **kw: Any) -> Any:
    _check_target(host, port)
    kw["local_addr"] = (_allowed["bind"], 0)
    reader, writer = await _real_open_connection(host, port, **kw)
    local = writer.get_extra_info("sockname")
    print(f"RELAY {local[0]}:{local[1]} -> {host}:{port}", flush=True)
    return reader, writer


async def _guarded_create_connection(self: Any, protocol_factory: Any, host: Any = None, port: Any = None,
                                     **kw: Any) -> Any:
    """Below every asyncio stream: nothing but the test server is ever dialled."""
    if host is not None or port is not None or kw.get("sock") is None:
        _check_target(host, port)
    return await _real_create_connection(self, protocol_factory, host, port, **kw)


def _refuse(*args: Any, **kw: Any) -> Any:
    print(f"BLOCKED {args[:1]}", flush=True)
    raise PermissionError("mtproxy launcher: no outside connections")


def _load_mtprotoproxy(config_path: Path) -> ModuleType:
    """Import the package's script as a module (its `__main__` block does not run)."""
    files = importlib.metadata.distribution("mtprotoproxy").files or []
    script = next(f for f in files if f.name == "mtprotoproxy.py")
    sys.argv = [sys.argv[0], str(config_path)]  # the script reads its config file name from argv
    spec = importlib.util.spec_from_file_location("mtprotoproxy_script", script.locate())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config_text(listen: tuple[str, int], secret: str) -> str:
    return "\n".join((
        f"PORT = {listen[1]}", f"USERS = {{'tester': {secret!r}}}", "AD_TAG = ''", "USE_MIDDLE_PROXY = False",
        "MASK = False", f"LISTEN_ADDR_IPV4 = {listen[0]!r}", "LISTEN_ADDR_IPV6 = ''", "PREFER_IPV6 = False",
        "GET_TIME_PERIOD = 0", "STATS_PRINT_PERIOD = 3600", "TG_CONNECT_TIMEOUT = 5", "",
    ))


def _prepare(module: ModuleType, server: tuple[str, int]) -> None:
    """Replace the datacenter tables and switch off everything that would reach the internet."""
    module.TG_DATACENTERS_V4 = [server[0]] * 5
    module.TG_DATACENTERS_V6 = []
    module.TG_DATACENTER_PORT = server[1]
    module.TG_MIDDLE_PROXIES_V4 = {}
    module.TG_MIDDLE_PROXIES_V6 = {}
    module.my_ip_info = {"ipv4": None, "ipv6": None}  # instead of init_ip_info(), which asks web services
    module.disable_middle_proxy = True
    module.init_config()
    assert not module.config.USE_MIDDLE_PROXY and not module.config.MASK
    module.init_stats()
    print(f"DATACENTERS {module.TG_DATACENTERS_V4}:{module.TG_DATACENTER_PORT} (replaced before start)", flush=True)


async def _serve(module: ModuleType, listen: tuple[str, int]) -> None:
    server = await asyncio.start_server(module.handle_client_wrapper, listen[0], listen[1])
    print(f"LISTENING {listen[0]}:{listen[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    for user, stat in module.stats.items():
        print(f"STATS {user}: {stat['connects']} connects, {stat['octets']} octets, {stat['msgs']} msgs", flush=True)


def main() -> None:
    cli = argparse.ArgumentParser()
    for name in ("--listen", "--server", "--bind", "--secret"):
        cli.add_argument(name, required=True)
    args = cli.parse_args()
    listen, server = _split(args.listen), _split(args.server)
    _allowed.update(server=server, bind=args.bind)
    asyncio.streams.IncompleteReadError = asyncio.IncompleteReadError  # type: ignore[attr-defined] # 3.11: moved
    asyncio.open_connection = _guarded_open_connection  # type: ignore[assignment]
    asyncio.BaseEventLoop.create_connection = _guarded_create_connection  # type: ignore[method-assign]
    socket.create_connection = _refuse  # type: ignore[assignment]
    urllib.request.urlopen = _refuse  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.py"
        config.write_text(_config_text(listen, args.secret), "utf-8")
        module = _load_mtprotoproxy(config)
        _prepare(module, server)
    asyncio.run(_serve(module, listen))


if __name__ == "__main__":
    main()
