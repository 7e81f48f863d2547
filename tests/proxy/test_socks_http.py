"""End-to-end through real pproxy servers on loopback: SOCKS5 (with and without a password) and HTTP CONNECT carry a
full parse with media, the proxy's log shows the relayed connections, the test server sees none from the parser
directly; a wrong password and a dead proxy are NETWORK_ERROR naming the proxy without its credentials."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from testkit.cli import cli_env, json_error, run_cli
from testkit.proxies import PROXY_HOST, free_port, running_pproxy
from tests.proxy.proxy_kit import (
    PASSWORD,
    assert_full_export,
    assert_secret_nowhere,
    relayed_only,
    run_parse,
    scenario,
)


@pytest.mark.parametrize(("scheme", "user"), [("socks5", None), ("socks5", "alice"), ("socks4", None), ("http", "bob")])
def test_full_parse_through_the_proxy(scheme: str, user: str | None, server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(scenario())
    with running_pproxy(scheme, tmp_path, user, PASSWORD if user else None) as proxy:
        auth = f"{user}:{PASSWORD}@" if user else ""
        before = len(server.peers) + 1  # make_session's own connection comes first
        proc = run_parse(server, tmp_path, f"{scheme}://{auth}{PROXY_HOST}:{proxy.port}")
        assert_full_export(server, proc)
        peers = relayed_only(server, before)
        relays = [line for line in proxy.log_text().splitlines() if f"-> 127.0.0.1:{server.port}" in line]
        assert relays and all(line.startswith(scheme) for line in relays), proxy.log_text()
        assert len(relays) >= len(peers)
    logs = "".join(p.read_text("utf-8") for p in (tmp_path / "applogs").rglob("*.log"))
    assert f"proxy {scheme}://{PROXY_HOST}:{proxy.port}" in logs
    assert_secret_nowhere(tmp_path, proc, PASSWORD)


def test_wrong_password_is_network_error_naming_the_proxy(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(scenario())
    with running_pproxy("socks5", tmp_path, "alice", PASSWORD) as proxy:
        before = len(server.peers) + 1
        proc = run_parse(server, tmp_path, f"socks5://alice:wrong-{PASSWORD}@{PROXY_HOST}:{proxy.port}")
    assert proc.returncode == 1
    error = json_error(proc, "NETWORK_ERROR")
    assert f"socks5://{PROXY_HOST}:{proxy.port}" in error["message"]
    logs = "".join(p.read_text("utf-8") for p in (tmp_path / "applogs").rglob("*.log"))
    assert "Attempt 2 at connecting failed: " in logs  # each attempt's reason, as the message says
    assert server.peers[before:] == []  # nothing reached the server, directly or relayed
    assert_secret_nowhere(tmp_path, proc, PASSWORD)


def test_dead_proxy_is_network_error(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(scenario())
    port = free_port()
    before = len(server.peers) + 1
    proc = run_parse(server, tmp_path, f"http://u:{PASSWORD}@{PROXY_HOST}:{port}")
    assert proc.returncode == 1
    error = json_error(proc, "NETWORK_ERROR")
    assert f"http://{PROXY_HOST}:{port}" in error["message"] and PASSWORD not in error["message"]
    assert server.peers[before:] == []
    assert_secret_nowhere(tmp_path, proc, PASSWORD)


def test_malformed_proxy_is_config_error_before_anything_opens(tmp_path: Path) -> None:
    proc = run_cli(["channels", "--session-file", str(tmp_path / "none"),
                    "--proxy", f"mtproxy://ee{'ab' * 16}@{PROXY_HOST}:443"], cli_env(tmp_path))
    assert proc.returncode == 1
    error = json_error(proc, "CONFIG_ERROR")
    assert "fake-TLS" in error["message"] and "socks5://[user:pass@]host:port" in error["message"]


def test_non_loopback_proxy_is_refused_when_only_local_servers_are_allowed(tmp_path: Path) -> None:
    """With TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER (every test run) a proxy elsewhere is never dialled."""
    proc = run_cli(["channels", "--session-file", str(tmp_path / "none"), "--proxy", "socks5://192.0.2.1:1080"],
                   cli_env(tmp_path))
    assert proc.returncode == 1
    error = json_error(proc, "CONFIG_ERROR")
    assert "socks5://192.0.2.1:1080 is not on a loopback address" in error["message"]
