"""CLI: `serve` a scenario over TCP, or `make-session` (a Telethon .session file for a running server)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from telethon.errors import RPCError

from telegram_test_server.session_file import SessionError, make_session


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m telegram_test_server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a scenario until SIGINT/SIGTERM")
    serve.add_argument("--scenario", required=True, help="scenario JSON file, or 'demo'")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port (see the ready file)")
    serve.add_argument("--ready-file", type=Path, help="JSON {host, port, pid, dc_id} written once listening")
    serve.add_argument("--request-log", type=Path, help="JSONL file, one line per RPC")
    serve.add_argument("--state-dir", type=Path, help="keep auth keys and sign-ins here across restarts")
    serve.add_argument("--log-level", default="WARNING")
    make = sub.add_parser("make-session", help="create a Telethon .session file for a running server")
    make.add_argument("--ready", required=True, type=Path, help="the server's ready file")
    make.add_argument("--out", required=True, type=Path, help="new .session file to create")
    make.add_argument("--phone")
    make.add_argument("--code")
    make.add_argument("--password")
    make.add_argument("--handshake-only", action="store_true", help="auth key only, not signed in")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    from telegram_test_server.server import TestServer

    scenario = args.scenario if args.scenario == "demo" else Path(args.scenario)
    server = TestServer(scenario, host=args.host, port=args.port, request_log=args.request_log,
                        state_dir=args.state_dir, ready_file=args.ready_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    print(f"serving on {server.host}:{server.port} (dc {server.dc_id})", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
        if args.ready_file is not None:
            args.ready_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        asyncio.run(_serve(args))
        return 0
    try:
        path = asyncio.run(make_session(args.ready, args.out, authorized=not args.handshake_only,
                                        phone=args.phone, code=args.code, password=args.password))
    except (SessionError, OSError, RPCError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
