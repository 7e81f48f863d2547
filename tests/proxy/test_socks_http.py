"""End-to-end through real pproxy servers on loopback: SOCKS5 (with and without a password) and HTTP CONNECT carry a
full parse with media, the proxy's log shows the relayed connections, the test server sees none from the parser
directly; a wrong password and a dead proxy are NETWORK_ERROR naming the proxy without its credentials."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testkit.cli import cli_env, json_error, run_cli
from testkit.proxies import PROXY_HOST, free_port, running_pproxy
from testkit.server import make_session

CHANNEL_ID = 1357913579
USERNAME = "proxied_channel"
PASSWORD = "pw-Zq81-secret"


def scenario() -> dict[str, Any]:
    """A small channel: five messages, a photo and a document."""
    media = [{"ids": [2], "type": "photo", "size": 20000},
             {"ids": [4], "type": "document", "size": 70000, "file_name": "notes.pdf", "mime_type": "application/pdf"}]
    return {"channels": [{"id": CHANNEL_ID, "username": USERNAME, "title": "Proxied",
                          "generate": {"count": 5, "text_length": 24, "media": media}}]}


def run_parse(server: Any, tmp_path: Path, proxy: str | None, **env: str) -> Any:
    """`parse` of the small channel with `--proxy` (when given) on a fresh session for `server`."""
    session = make_session(server, tmp_path / "s.session")
    args = ["parse", "--channel", f"@{USERNAME}", "--session-file", str(session),
            "--output-dir", str(tmp_path / "out"), "--mode", "normal"]
    return run_cli([*args, *(["--proxy", proxy] if proxy is not None else [])], cli_env(tmp_path, **env))


def assert_full_export(server: Any, proc: Any) -> None:
    """Exit 0, every message exported and every media file equal to the server's bytes."""
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    export_dir = Path(result["export_dir"])
    messages = json.loads((export_dir / "export.json").read_text("utf-8"))["messages"]
    assert sorted(m["id"] for m in messages) == [1, 2, 3, 4, 5]
    files = {m["id"]: item for m in messages for item in m["media_files"]}
    assert set(files) == {2, 4}
    for mid, item in files.items():
        assert (export_dir / item["path"]).read_bytes() == server.world.expected_bytes(CHANNEL_ID, mid)


def assert_secret_nowhere(root: Path, proc: Any, secret: str) -> None:
    """`secret` is in no file under `root` (export, summary, app logs) and not on stdout or stderr."""
    assert secret not in proc.stdout and secret not in proc.stderr
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith(("pproxy-", "mtproxy-")):  # the proxies' own logs
            assert secret.encode() not in path.read_bytes(), path


def relayed_only(server: Any, before: int) -> list[tuple[str, int]]:
    """The server's peers since `before`; asserts every one came through the proxy (PROXY_HOST), none direct."""
    peers = server.peers[before:]
    assert peers and all(host == PROXY_HOST for host, _ in peers), peers
    return peers


@pytest.mark.parametrize(("scheme", "user"), [("socks5", None), ("socks5", "alice"), ("http", "bob")])
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


def test_environment_proxy_is_used(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(scenario())
    with running_pproxy("socks5", tmp_path) as proxy:
        before = len(server.peers) + 1
        proc = run_parse(server, tmp_path, None, TELEGRAM_PROXY=f"socks5://{PROXY_HOST}:{proxy.port}")
        assert_full_export(server, proc)
        relayed_only(server, before)


def test_wrong_password_is_network_error_naming_the_proxy(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(scenario())
    with running_pproxy("socks5", tmp_path, "alice", PASSWORD) as proxy:
        before = len(server.peers) + 1
        proc = run_parse(server, tmp_path, f"socks5://alice:wrong-{PASSWORD}@{PROXY_HOST}:{proxy.port}")
    assert proc.returncode == 1
    error = json_error(proc, "NETWORK_ERROR")
    assert f"socks5://{PROXY_HOST}:{proxy.port}" in error["message"]
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
