"""Shared pieces of the proxy tests: a small channel with media, a parse through `--proxy`, and the checks that
the export is complete, that a secret is nowhere, and that the server saw only relayed connections."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testkit.cli import cli_env, run_cli
from testkit.proxies import PROXY_HOST
from testkit.server import make_session
from tests.reliability.test_secrets import _forms as secret_forms

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
    """`secret` (plain, URL-encoded, hex or base64) is in no file under `root` (export, summary, app logs) and not
    on stdout or stderr; the proxies' own logs are not the parser's."""
    forms = secret_forms(secret)
    for form in forms:
        assert form not in proc.stdout and form not in proc.stderr, form
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith(("pproxy-", "mtproxy-")):
            data = path.read_bytes()
            assert not [f for f in forms if f.encode() in data], path


def relayed_only(server: Any, before: int) -> list[tuple[str, int]]:
    """The server's peers since `before`; asserts every one came through the proxy (PROXY_HOST), none direct."""
    peers = server.peers[before:]
    assert peers and all(host == PROXY_HOST for host, _ in peers), peers
    return peers
