"""Benchmark (issue 13): what `parse --refresh-recent 100` costs on an unchanged channel and with k changes.

One in-process local server (testkit, loopback only) serves a generated channel of N posts shaped like
bench/export_bench.py's (120-char texts, entities, reactions, comment counts). A first export is the
base; each case runs on a copy of it through bench/run_parser.py (bytes written from /proc/self/io):

- unchanged: `--refresh-recent 100` on the unchanged channel;
- k changes (k = 1, 10, 100): the views of the k newest posts change on the server, then the same run.

Reported per case: channels.getMessages and messages.getHistory requests (server request log), whether
export.json was rewritten (inode / mtime), bytes written to files, updated_messages and the wall time.
No timing is asserted anywhere; the request counts are the point.

Usage: python bench/refresh_bench.py [--quick] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from testkit.cli import cli_env  # noqa: E402
from testkit.server import make_session, running_server, server_call  # noqa: E402

CHANNEL_ID = 1_700_000_301
USERNAME = "bench_refresh"
REFRESH = 100
KS = (1, 10, 100)


def scenario(count: int) -> dict[str, Any]:
    return {"name": "bench-refresh", "seed": 7, "channels": [{
        "id": CHANNEL_ID, "username": USERNAME, "title": "bench refresh",
        "generate": {"count": count, "text_length": 120, "reply_every": 9, "forward_every": 13,
                     "entities_every": 3, "reactions_every": 2, "comments_every": 2,
                     "discussion_id": CHANNEL_ID + 50_000}}]}


def parse(server: Any, run_dir: Path, session: Path, *extra: str) -> dict[str, Any]:
    """One CLI parse through bench/run_parser.py; its stats plus the requests it made."""
    stats = run_dir / "stats.json"
    argv = [sys.executable, str(REPO_ROOT / "bench" / "run_parser.py"), str(stats), "parse", "--channel",
            f"@{USERNAME}", "--session-file", str(session), "--output-dir", str(run_dir / "out"), *extra]
    server.requests.reset()
    started = time.perf_counter()
    done = subprocess.run(argv, env=cli_env(run_dir), cwd=run_dir, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    result = json.loads(done.stdout)
    info = json.loads(stats.read_text(encoding="utf-8"))
    return {"seconds": round(seconds, 3), "file_bytes": info["file_bytes"],
            "get_messages": server.requests.count("channels.getMessages"),
            "get_history": server.requests.count("messages.getHistory"),
            "updated_messages": len(result.get("updated_messages", [])),
            "new_messages": len(result["new_messages"]), "export_json": result["export_json"]}


def refresh_case(server: Any, root: Path, base: Path, name: str) -> dict[str, Any]:
    run_dir = root / name
    shutil.copytree(base / "out", run_dir / "out")
    session = run_dir / "s.session"
    shutil.copyfile(base / "s.session", session)
    export_json = next((run_dir / "out").glob("*/export.json"))
    before = export_json.stat()
    row = parse(server, run_dir, session, "--refresh-recent", str(REFRESH))
    after = export_json.stat()
    row["export_json_rewritten"] = (before.st_ino, before.st_mtime_ns) != (after.st_ino, after.st_mtime_ns)
    row["export_json_bytes"] = after.st_size
    shutil.rmtree(run_dir, ignore_errors=True)
    return row


def run(count: int) -> dict[str, Any]:
    result: dict[str, Any] = {"posts": count, "refresh_recent": REFRESH, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp, running_server(scenario(count)) as server:
        root = Path(tmp)
        base = root / "base"
        base.mkdir()
        make_session(server, base / "s.session")
        result["base"] = parse(server, base, base / "s.session")
        result["cases"]["unchanged"] = refresh_case(server, root, base, "unchanged")
        ids = list(server.world.channel(CHANNEL_ID).ids)
        for k in KS:  # the newest k posts differ from the base (the newest 1 ⊂ 10 ⊂ 100)
            for message_id in ids[-k:]:
                server_call(server, server.world.edit_message, CHANNEL_ID, message_id, {"views": 10_000 + k})
            result["cases"][f"k={k}"] = refresh_case(server, root, base, f"k{k}")
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"`--refresh-recent {result['refresh_recent']}` on a channel of {result['posts']:,} posts "
             f"(export.json {result['cases']['unchanged']['export_json_bytes']:,} bytes)", "",
             "| case | channels.getMessages | messages.getHistory | updated_messages | export.json rewritten "
             "| bytes written to files | wall s |", "|---|---|---|---|---|---|---|"]
    for name, row in result["cases"].items():
        lines.append(f"| {name} | {row['get_messages']} | {row['get_history']} | {row['updated_messages']} | "
                     f"{'yes' if row['export_json_rewritten'] else 'no'} | {row['file_bytes']:,} | {row['seconds']} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="2,000 posts instead of 10,000")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = run(2_000 if args.quick else 10_000)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
