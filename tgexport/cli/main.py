"""The CLI's run: app logs, signals, session lock, connect, one command, stdout, exit code (docs/contract.md)."""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Callable
from typing import Any

import errors
from errors import ConfigError, ParserError, one_line
from tgexport.cli.args import build_parser, validate_args
from tgexport.cli.output import emit, emit_line, fail, report
from tgexport.config import environment as config
from tgexport.config.applog import AppLogError, new_run_id, open_app_logs
from tgexport.core.platform import utf8_stdio
from tgexport.run import signals
from tgexport.session.lock import SessionLock, SessionLockBusy

log = logging.getLogger("telegram_parser_skill")


async def run_command(args: argparse.Namespace, cfg: config.Config, run_id: str, stopped: dict[str, Any]) -> Any:
    """Connect, sign in, run one command, disconnect; returns what goes to stdout as JSON.

    A parse that stops early leaves its partial result in `stopped["result"]`.
    """
    from tgexport.run.parser import TelegramParser  # Telethon loads only after the arguments are valid

    gc.freeze()  # what is loaded by now (Telethon's TL classes above all) lives as long as the process:
    # kept out of every later full collection, which would otherwise walk it again and again

    parser = TelegramParser(
        cfg.api_id, cfg.api_hash, args.session_file, auth_state_dir=cfg.log_dir,
        credentials=cfg.credentials, max_flood_wait=args.max_flood_wait,
        lock_session=False,  # main() already holds the session lock
        proxy=args.proxy_spec,
    )
    try:
        await parser.connect()
        if args.command == "channels":
            return await parser.get_available_channels()
        if args.command == "resolve":
            return await parser.get_channel_info(args.channel)
        if args.batch:
            from tgexport.run.batch import run_batch

            return await run_batch(parser.client, args.options, args.channels, run_id, _batch_sink(stopped))
        return await parser.parse_with_options(
            args.options, run_id=run_id,
            on_result=lambda result: stopped.update(result=result) if "error" in result else None,
            stream_records=True,  # new_messages printed from export.json's bytes: memory stays flat
        )
    finally:
        await parser.disconnect()


def _batch_sink(stopped: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """Print a batch's result lines, noting that stdout carries them (a later error adds no JSON object)."""
    def sink(line: dict[str, Any]) -> None:
        stopped["lines"] = True
        emit_line(line)
    return sink


def _exit_code(command: str, result: Any) -> int:
    if command == "parse" and isinstance(result, dict) and result.get("partial_failure"):
        log.warning("parse finished with media errors (partial failure)", extra={"error_code": errors.PARTIAL_FAILURE})
        return errors.EXIT_PARTIAL
    return errors.EXIT_OK


def _batch_exit_code(outcome: Any) -> int:
    """0, or 2 with the failed channels named in the app log and on stderr; raises when none succeeded."""
    code = outcome.exit_code()
    if outcome.failed:
        names = ", ".join(channel for channel, _ in outcome.failed)
        log.warning("%d channel(s) failed: %s", len(outcome.failed), names, extra={"error_code": errors.PARTIAL_FAILURE})
        print(f"Error: {len(outcome.failed)} channel(s) failed: {one_line(names)} (see their result lines)",
              file=sys.stderr, flush=True)
    elif code == errors.EXIT_PARTIAL:
        log.warning("batch finished with media errors (partial failure)", extra={"error_code": errors.PARTIAL_FAILURE})
    return code


def _run(argv: list[str] | None, run_id: str, stopped: dict[str, Any]) -> int:
    args = build_parser().parse_args(argv)
    validate_args(args)
    cfg = config.load_config()
    log.info("command %s started (session %s%s)", args.command, args.session_file,
             f", proxy {args.proxy_spec.display}" if args.proxy_spec else "")
    lock = SessionLock(args.session_file, command=args.command)
    try:
        _acquire(lock, args.lock_wait)
        result = asyncio.run(signals.run_stoppable(run_command(args, cfg, run_id, stopped)))
    finally:
        lock.release()
    if args.batch:  # its lines are printed as each channel ends
        code = _batch_exit_code(result)
    else:
        emit(result)
        code = _exit_code(args.command, result)
    log.info("command %s finished, exit %d", args.command, code)
    return code


def _acquire(lock: SessionLock, wait: float) -> None:
    """Take the session lock; with --lock-wait, say in the app log whom we wait for."""
    try:
        lock.acquire()
    except SessionLockBusy as busy:
        if wait <= 0:
            raise
        log.info("session %s is locked by PID %s; waiting up to %g s (--lock-wait)", busy.lock_path, busy.owner_pid, wait)
        lock.acquire(wait=wait)
        log.info("session lock acquired after waiting")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0, 1, 2, 130 on SIGINT or 143 on SIGTERM)."""
    utf8_stdio()
    run_id = new_run_id()
    env_file: config.EnvFile | None = None
    env_error: ConfigError | None = None
    try:
        env_file = config.load_env_file()
    except ConfigError as exc:  # app logs then go where the real environment (or the default) says
        env_error = exc
    try:
        open_app_logs(config.log_dir(), run_id)
    except AppLogError as exc:  # nothing can be logged: only the JSON error and the Error line
        return report(env_error or exc)
    if env_error is not None:
        return fail(env_error)
    if env_file is not None:
        env_file.log_warnings(log)
    signals.install()  # SIGINT/SIGTERM: stop at the next safe point; a second one exits at once
    logging.raiseExceptions = False  # a log line the disk refuses is dropped, never a traceback on stderr
    stopped: dict[str, Any] = {}  # a stopped parse's saved result: printed instead of the bare error
    try:
        return _run(argv, run_id, stopped)
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        signum = signals.received()
        code = signals.exit_code(signum)
        log.warning("interrupted by a signal (%s); exit %d", signals.signal_name(signum), code)
        report(exc, stopped.get("result"), signals.stop_message(signum), stdout=not stopped.get("lines"))
        return code
    except ParserError as exc:
        return fail(exc, result=stopped.get("result"), stdout=not stopped.get("lines"))
    except Exception as exc:  # noqa: BLE001 - every failure becomes one JSON error, one Error line, exit 1
        return fail(errors.as_parser_error(exc), exc, stopped.get("result"), stdout=not stopped.get("lines"))


