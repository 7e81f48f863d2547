"""`python -m telegram_test_server serve` + `make-session`, then a plain Telethon client in a subprocess."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The client process gets nothing but the session file and dummy credentials: no test hooks and,
# on purpose, no registration of the server's RSA key (a session with an auth key never handshakes).
CLIENT = r"""
import asyncio, json, sys
from telethon import TelegramClient
from telethon.sessions import SQLiteSession

session = SQLiteSession(sys.argv[1])
assert session.server_address == "127.0.0.1", session.server_address

async def main():
    client = TelegramClient(session, 12345, "0123456789abcdef0123456789abcdef")
    await client.connect()
    try:
        out = {"authorized": await client.is_user_authorized()}
        if out["authorized"]:
            me = await client.get_me()
            channel = await client.get_entity(sys.argv[2])
            messages = await client.get_messages(channel, limit=5)
            out.update(me=me.id, channel=channel.username, ids=[m.id for m in messages])
        print(json.dumps(out))
    finally:
        await client.disconnect()

asyncio.run(main())
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        assert proc.poll() is None, "server exited before listening"
        time.sleep(0.05)
    raise TimeoutError(f"no ready file {path}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[dict, Path, Path]]:
    """A `serve --scenario demo` subprocess: (ready info, ready file, request log)."""
    ready, log = tmp_path / "ready.json", tmp_path / "requests.jsonl"
    cmd = [sys.executable, "-m", "telegram_test_server", "serve", "--scenario", "demo", "--host", "127.0.0.1",
           "--port", "0", "--ready-file", str(ready), "--request-log", str(log), "--state-dir", str(tmp_path / "st")]
    with open(tmp_path / "server.stderr", "w", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stderr=err, text=True)
        try:
            info = _wait_for(ready, proc)
            yield info, ready, log
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 0, (tmp_path / "server.stderr").read_text(encoding="utf-8")
    assert not ready.exists()


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_serve_make_session_and_a_plain_client_reads_the_channel(served, tmp_path: Path):
    info, ready, log = served
    assert set(info) == {"host", "port", "pid", "dc_id"} and info["host"] == "127.0.0.1"
    session = tmp_path / "cli.session"
    made = _run(["-m", "telegram_test_server", "make-session", "--ready", str(ready), "--out", str(session)], tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(session)
    assert "12345" not in made.stdout + made.stderr  # the login code is never printed

    client = _run(["-c", CLIENT, str(session), "demo_channel"], tmp_path)
    assert client.returncode == 0, client.stderr
    out = json.loads(client.stdout)
    assert out["authorized"] is True and out["me"] == 100001 and out["channel"] == "demo_channel"
    assert len(out["ids"]) == 5 and out["ids"] == sorted(out["ids"], reverse=True)

    methods = [json.loads(line)["method"] for line in log.read_text(encoding="utf-8").splitlines()]
    assert "auth.signIn" in methods and "messages.getHistory" in methods


@pytest.mark.slow
def test_handshake_only_session_is_not_signed_in(served, tmp_path: Path):
    _, ready, _ = served
    session = tmp_path / "hs.session"
    made = _run(["-m", "telegram_test_server", "make-session", "--ready", str(ready), "--out", str(session),
                 "--handshake-only"], tmp_path)
    assert made.returncode == 0, made.stderr
    client = _run(["-c", CLIENT, str(session), "demo_channel"], tmp_path)
    assert client.returncode == 0, client.stderr
    assert json.loads(client.stdout) == {"authorized": False}


def test_make_session_refuses_a_non_loopback_server(tmp_path: Path):
    ready = tmp_path / "ready.json"
    ready.write_text(json.dumps({"host": "149.154.167.51", "port": 443, "pid": 1, "dc_id": 2}), encoding="utf-8")
    made = _run(["-m", "telegram_test_server", "make-session", "--ready", str(ready),
                 "--out", str(tmp_path / "x.session")], tmp_path)
    assert made.returncode == 1 and "non-loopback" in made.stderr
    assert not (tmp_path / "x.session").exists()
