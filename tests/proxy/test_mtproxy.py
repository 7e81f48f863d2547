"""End-to-end through a real MTProxy server (mtprotoproxy from PyPI, started by testkit/mtproxy_launcher.py with
its datacenter table replaced by the local test server): a full parse with media for a plain and a dd secret,
every relayed connection in the proxy's own log and counters, none straight from the parser to the server."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from telethon.network.connection import ConnectionTcpObfuscated

from errors import NetworkError
from testkit.proxies import PROXY_HOST, running_mtproxy
from testkit.server import make_session, open_client
from tests.proxy.proxy_kit import assert_full_export, assert_secret_nowhere, relayed_only, run_parse, scenario
from tgexport.client import connect
from tgexport.client.proxy import parse_proxy

SECRET = "5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b"


@pytest.mark.parametrize("form", ["mtproxy", "share-link-dd"])
def test_full_parse_through_mtproxy(form: str, server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(scenario())
    with running_mtproxy(SECRET, server.port, tmp_path) as proxy:
        url = (f"mtproxy://{SECRET}@{PROXY_HOST}:{proxy.port}" if form == "mtproxy"
               else f"https://t.me/proxy?server={PROXY_HOST}&port={proxy.port}&secret=dd{SECRET}")
        before = len(server.peers) + 1  # make_session's own connection comes first
        proc = run_parse(server, tmp_path, url)
        assert_full_export(server, proc)
        peers = relayed_only(server, before)
    log = proxy.log_text()
    # the datacenter table pointed at the test server before the proxy listened, and nothing else was dialled
    assert log.index(f"DATACENTERS {['127.0.0.1'] * 5}:{server.port}") < log.index("LISTENING")
    assert "BLOCKED" not in log
    relays = re.findall(r"^RELAY (\S+):(\d+) -> (\S+)$", log, re.M)
    assert {(host, int(port)) for host, port, _ in relays} == set(peers)
    assert {target for *_, target in relays} == {f"127.0.0.1:{server.port}"}
    connects, octets = map(int, re.search(r"^STATS tester: (\d+) connects, (\d+) octets", log, re.M).groups())
    assert connects == len(relays) and octets > 70000 + 20000  # both media files went through it
    logs = "".join(p.read_text("utf-8") for p in (tmp_path / "applogs").rglob("*.log"))
    assert f"proxy mtproxy://{PROXY_HOST}:{proxy.port}" in logs
    assert_secret_nowhere(tmp_path, proc, SECRET)


def test_server_speaks_obfuscated2(demo_server: Any, tmp_path: Path) -> None:
    """The transport MTProxy servers use towards Telegram, straight from Telethon's obfuscated connection."""
    session = make_session(demo_server, tmp_path / "o.session")

    async def me() -> int:
        async with open_client(session, connection=ConnectionTcpObfuscated) as client:
            return (await client.get_me()).id

    assert asyncio.run(me()) > 0


def test_wrong_mtproxy_secret_is_a_bounded_network_error(server_factory: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy accepts each TCP connection and drops it (Telethon would reconnect forever): the connect
    deadline ends it with NETWORK_ERROR naming the proxy; the proxy never dialled the server."""
    monkeypatch.setattr(connect, "PROXY_CONNECT_DEADLINE", 3.0)  # 30 s in production
    monkeypatch.setenv("TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER", "1")
    server = server_factory(scenario())
    session = make_session(server, tmp_path / "w.session")
    before = len(server.peers)
    wrong = "f" * 32
    with running_mtproxy(SECRET, server.port, tmp_path) as proxy:
        spec = parse_proxy(f"mtproxy://{wrong}@{PROXY_HOST}:{proxy.port}")
        with pytest.raises(NetworkError) as caught:
            asyncio.run(connect.open_client(str(session), 12345, "0" * 32, spec))
    assert f"proxy mtproxy://{PROXY_HOST}:{proxy.port}" in caught.value.message
    assert "no working connection within 3 s" in caught.value.message and wrong not in caught.value.message
    assert server.peers[before:] == [] and "RELAY" not in proxy.log_text()
