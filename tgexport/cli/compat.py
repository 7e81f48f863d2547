"""`run(args, run_id)`, the original tool's way to run one command from Python without the process
around it (no app logs, signals, stdout or exit code: the caller gets the result or the exception)."""
from __future__ import annotations

import argparse
from contextlib import nullcontext
from typing import Any

from tgexport.cli.args import validate_args
from tgexport.cli.main import run_command
from tgexport.config import environment as config
from tgexport.config.applog import new_run_id
from tgexport.session.lock import SessionLock


async def run(args: argparse.Namespace, run_id: str | None = None, *, lock_session: bool = True) -> Any:
    """Run one command parsed by `build_parser().parse_args(...)` and return what the CLI would print.

    Checks the arguments, reads the configuration (environment and .env) and, unless the caller
    already holds it (`lock_session=False`), takes the session lock. Failures raise ParserError
    (its `code`, `message`, `hint`); a stopped parse raises too, with what it saved on disk.
    """
    config.load_env_file()  # first: TELEGRAM_PROXY and TELEGRAM_PARSER_OUTPUT_DIR may come from .env
    validate_args(args)
    cfg = config.load_config()
    lock = SessionLock(args.session_file, command=args.command) if lock_session else nullcontext()
    with lock:
        return await run_command(args, cfg, run_id or new_run_id(), {})
