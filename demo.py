"""Demo: export the sample channel @demo_channel from the local test server with the real CLI.

Starts `python -m telegram_test_server serve --scenario demo`, creates a signed-in session
with `make-session`, runs `python telegram_parser_skill.py parse --channel demo_channel` (its
stderr on this terminal: progress bars), prints where to look next, and stops the server. Everything lives in `demo-out/` (no network, no
Telegram account). Run it again to see an incremental run (no new messages); `--fresh` starts over.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
READY_TIMEOUT = 30.0


def _server_cmd(work: Path) -> list[str]:
    return [sys.executable, "-m", "telegram_test_server", "serve", "--scenario", "demo",
            "--ready-file", str(work / "server.ready.json"), "--state-dir", str(work / "server-state"),
            "--request-log", str(work / "server-requests.jsonl")]


def start_server(work: Path) -> subprocess.Popen[bytes]:
    """Start the local server and wait for its ready file."""
    ready = work / "server.ready.json"
    ready.unlink(missing_ok=True)
    with open(work / "server.log", "ab") as log:
        proc = subprocess.Popen(_server_cmd(work), cwd=ROOT, stdout=log, stderr=log)
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            raise SystemExit("demo: the local test server did not start")
        time.sleep(0.05)
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Ask the server to stop (SIGINT), kill it if it does not."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ensure_session(work: Path) -> Path:
    """A signed-in session for the demo account, kept across demo runs with the server state.

    The server listens on a new free port each run, so a kept session is pointed at it.
    """
    session = work / "demo.session"
    ready = json.loads((work / "server.ready.json").read_text(encoding="utf-8"))
    if not session.exists():
        subprocess.run([sys.executable, "-m", "telegram_test_server", "make-session",
                        "--ready", str(work / "server.ready.json"), "--out", str(session)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        return session
    from telethon.sessions import SQLiteSession

    kept = SQLiteSession(str(session))
    kept.set_dc(int(ready.get("dc_id", 2)), str(ready["host"]), int(ready["port"]))
    kept.save()
    kept.close()
    return session


def cli_env(work: Path, real_pauses: bool) -> dict[str, str]:
    """Dummy API credentials, app logs in demo-out/logs, loopback-only guard on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(TELEGRAM_API_ID="12345", TELEGRAM_API_HASH="0123456789abcdef0123456789abcdef",
               TELEGRAM_PARSER_LOG_DIR=str(work / "logs"), TELEGRAM_PARSER_ENV_FILE=str(work / "no.env"),
               TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER="1", PYTHONIOENCODING="utf-8")
    if not real_pauses:
        env["TELEGRAM_PARSER_PAUSE_SCALE"] = "0"
    return env


def run_parse(work: Path, session: Path, real_pauses: bool) -> int:
    """Run the real CLI (stderr on this terminal, so its progress bars show); print where to look next."""
    cmd = [sys.executable, str(ROOT / "telegram_parser_skill.py"), "parse", "--channel", "demo_channel",
           "--session-file", str(session), "--output-dir", str(work / "exports"), "--mode", "normal"]
    print("$ python telegram_parser_skill.py " + " ".join(cmd[2:]), flush=True)
    result = subprocess.run(cmd, cwd=ROOT, env=cli_env(work, real_pauses), stdout=subprocess.PIPE,
                            stderr=None, text=True, encoding="utf-8")
    (work / "last-result.json").write_text(result.stdout, encoding="utf-8")
    lines = (next_steps(json.loads(result.stdout), work) if result.returncode in (0, 2)
             else failure_lines(result.stdout, result.returncode))
    print("\n".join([f"exit code {result.returncode}", *lines]))
    return result.returncode


def next_steps(out: dict[str, Any], work: Path) -> list[str]:
    """What the run did and where to look next: the export, its logs, the app logs, the docs."""
    s, export_dir = out["summary"], Path(out["export_dir"])
    return [
        f"run_id {s['run_id']}: scanned {s['scanned_messages']}, new {s['new_messages']}, "
        f"media saved {s['media_saved']}",
        f"export directory: {export_dir}",
        f"  messages:      {out['export_json']}",
        f"  this run:      {out['summary_json']}",
        f"  run events:    {export_dir / 'logs' / 'run.log'}",
        f"stdout JSON (new_messages = what this run added): {work / 'last-result.json'}",
        f"app logs: {work / 'logs' / 'app.log'}",
        "next: run `python demo.py` again for an incremental run (nothing new); read SKILL.md (for agents), "
        "README.md (every option) or README.ru.md",
    ]


def failure_lines(stdout: str, code: int) -> list[str]:
    """The CLI's JSON error (code, message, what to do next), or a note that it printed none."""
    try:
        error = json.loads(stdout).get("error") or {}
    except (ValueError, AttributeError):
        return [f"the CLI exited {code} without a JSON result"]
    return [f"error {error.get('error_code')}: {error.get('message')}", f"what to do: {error.get('hint')}"]


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the CLI's exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fresh", action="store_true", help="delete demo-out/ first")
    ap.add_argument("--real-pauses", action="store_true", help="keep the mode's pauses between pages")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "demo-out", help="where everything goes")
    args = ap.parse_args(argv)
    work = args.work_dir.resolve()
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    server = start_server(work)
    try:
        return run_parse(work, ensure_session(work), args.real_pauses)
    finally:
        stop_server(server)


if __name__ == "__main__":
    sys.exit(main())
