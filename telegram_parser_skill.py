"""CLI: `python telegram_parser_skill.py channels|resolve|parse [options]` (contract sections 1-9)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import errors
import session_lock
from errors import ConfigError, ParserError, one_line
from tgexport.client.channel_ref import parse_channel_ref
from tgexport.config import environment as config
from tgexport.config.applog import AppLogError, new_run_id, open_app_logs
from tgexport.config.options import DEFAULT_MAX_FLOOD_WAIT, ParseOptions, parse_non_negative
from tgexport.core.atomic_json import dump_json_text
from tgexport.run import signals
from tgexport.store.layout import write_result

log = logging.getLogger("telegram_parser_skill")
COMMANDS = ("channels", "resolve", "parse")


class ContractArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors become one `Error:` line, CONFIG_ERROR and exit 1."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see --help)")


def build_parser() -> ContractArgumentParser:
    """Every option of the contract plus --max-flood-wait and --lock-wait."""
    p = ContractArgumentParser(
        prog="telegram_parser_skill.py",
        description="Export Telegram channels to JSON + media (channels | resolve | parse).",
    )
    p.add_argument("command", choices=COMMANDS, help="what to do")
    p.add_argument("--channel", help="link (https://t.me/name[/post]), @name, name, numeric or -100… id")
    p.add_argument("--mode", choices=("safe", "normal"), default="safe", help="pacing preset (default safe)")
    p.add_argument("--date-from", help="keep messages on or after this UTC day (YYYY-MM-DD)")
    p.add_argument("--date-to", help="keep messages on or before this UTC day (YYYY-MM-DD)")
    p.add_argument("--keyword-filter", nargs="+", metavar="WORD", help="keep messages containing any word")
    p.add_argument("--max-media-size", metavar="MB", help="skip media larger than this many MB")
    p.add_argument("--dry-run", action="store_true", help="estimate only; writes summary.json and logs")
    p.add_argument("--zip", action="store_true", help="pack the export directory into <export_dir>.zip")
    p.add_argument("--output-dir", default=None,
                   help=f"root folder for exports (default $TELEGRAM_PARSER_OUTPUT_DIR or {config.DEFAULT_OUTPUT_DIR})")
    p.add_argument("--session-file", default=config.DEFAULT_SESSION,
                   help="Telethon session name; the file is NAME.session (default telegram_session)")
    p.add_argument("--no-cleanup-temp", action="store_true", help="keep the temporary download folder")
    p.add_argument("--max-flood-wait", metavar="SECONDS", default=f"{DEFAULT_MAX_FLOOD_WAIT:g}",
                   help="longest FloodWait to sit out; longer ones stop the run with RATE_LIMIT (default 300)")
    p.add_argument("--lock-wait", metavar="SECONDS", default="0",
                   help="wait this long for another process holding the session (default 0: fail at once)")
    p.add_argument("--media-stall-timeout", metavar="SECONDS", default=None,
                   help="abort (and retry) a media download that receives no bytes for this long "
                        "(default: 120 safe, 60 normal)")
    return p


def _check_output_dir(raw: str) -> None:
    """ConfigError unless `raw` is (or can be created as) a writable directory; creates nothing."""
    path = Path(raw).expanduser().absolute()
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"--output-dir {raw}: {probe} is not a directory")
    try:  # a real write, not os.access: root passes access checks that writing would fail
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise ConfigError(f"--output-dir {raw}: {probe} is not writable ({exc.strerror})") from exc


def validate_args(args: argparse.Namespace) -> None:
    """Check every argument before anything touches the session or the disk; ConfigError if bad."""
    args.lock_wait = parse_non_negative(args.lock_wait, "--lock-wait") or 0.0
    flood = parse_non_negative(args.max_flood_wait, "--max-flood-wait")
    args.max_flood_wait = DEFAULT_MAX_FLOOD_WAIT if flood is None else flood
    if not str(args.session_file or "").strip():
        raise ConfigError("--session-file must not be empty")
    if args.command == "channels":
        return
    if not (args.channel or "").strip():
        raise ConfigError(f"--channel is required for {args.command}")
    parse_channel_ref(args.channel)
    if args.command == "parse":
        args.output_dir = args.output_dir or config.default_output_dir()
        args.options = ParseOptions.build(
            channel=args.channel, output_dir=args.output_dir, mode=args.mode,
            date_from=args.date_from, date_to=args.date_to, keyword_filter=args.keyword_filter,
            max_media_size_mb=args.max_media_size, dry_run=args.dry_run, zip_output=args.zip,
            cleanup_temp=not args.no_cleanup_temp, max_flood_wait=args.max_flood_wait,
            media_stall_timeout=args.media_stall_timeout,
        )
        _check_output_dir(args.output_dir)


async def run_command(args: argparse.Namespace, cfg: config.Config, run_id: str, stopped: dict[str, Any]) -> Any:
    """Connect, sign in, run one command, disconnect; returns what goes to stdout as JSON.

    A parse that stops early leaves its partial result in `stopped["result"]`.
    """
    from telegram_parser import TelegramParser  # Telethon loads only after the arguments are valid

    parser = TelegramParser(
        cfg.api_id, cfg.api_hash, args.session_file, auth_state_dir=cfg.log_dir,
        credentials=cfg.credentials, max_flood_wait=args.max_flood_wait,
        lock_session=False,  # main() already holds the session lock
    )
    try:
        await parser.connect()
        if args.command == "channels":
            return await parser.get_available_channels()
        if args.command == "resolve":
            return await parser.get_channel_info(args.channel)
        return await parser.parse_with_options(
            args.options, run_id=run_id,
            on_result=lambda result: stopped.update(result=result) if "error" in result else None,
        )
    finally:
        await parser.disconnect()


def fail(exc: ParserError, cause: BaseException | None = None) -> int:
    """Log the error with its code (and `cause`'s traceback), print one `Error:` line, return the exit code."""
    log.error(one_line(exc.log_message), exc_info=cause, extra={"error_code": exc.code})
    print(f"Error: {one_line(exc.message)}", file=sys.stderr, flush=True)
    return exc.exit_code


def _utf8_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")


def emit(result: Any) -> None:
    """Print the command's result as UTF-8 JSON on stdout (messages streamed from their encoded bytes)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stdout (e.g. replaced by a caller)
        sys.stdout.write(dump_json_text(result))
    else:
        write_result(result, buffer)
        buffer.flush()
    sys.stdout.flush()


def _exit_code(command: str, result: Any) -> int:
    if command == "parse" and isinstance(result, dict) and result.get("partial_failure"):
        log.warning("parse finished with media errors (partial failure)", extra={"error_code": errors.PARTIAL_FAILURE})
        return errors.EXIT_PARTIAL
    return errors.EXIT_OK


def _run(argv: list[str] | None, run_id: str) -> int:
    args = build_parser().parse_args(argv)
    validate_args(args)
    cfg = config.load_config()
    log.info("command %s started (session %s)", args.command, args.session_file)
    lock = session_lock.SessionLock(args.session_file, command=args.command)
    stopped: dict[str, Any] = {}
    try:
        _acquire(lock, args.lock_wait)
        result = asyncio.run(signals.run_stoppable(run_command(args, cfg, run_id, stopped)))
    except BaseException:
        if "result" in stopped:  # what a stopped parse saved is reported, then the error
            emit(stopped["result"])
        raise
    finally:
        lock.release()
    emit(result)
    code = _exit_code(args.command, result)
    log.info("command %s finished, exit %d", args.command, code)
    return code


def _acquire(lock: session_lock.SessionLock, wait: float) -> None:
    """Take the session lock; with --lock-wait, say in the app log whom we wait for."""
    try:
        lock.acquire()
    except session_lock.SessionLockBusy as busy:
        if wait <= 0:
            raise
        log.info("session %s is locked by PID %s; waiting up to %g s (--lock-wait)", busy.lock_path, busy.owner_pid, wait)
        lock.acquire(wait=wait)
        log.info("session lock acquired after waiting")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0, 1, 2, 130 on SIGINT or 143 on SIGTERM)."""
    _utf8_stdio()
    run_id = new_run_id()
    env_file: config.EnvFile | None = None
    env_error: ConfigError | None = None
    try:
        env_file = config.load_env_file()
    except ConfigError as exc:  # app logs then go where the real environment (or the default) says
        env_error = exc
    try:
        open_app_logs(config.log_dir(), run_id)
    except AppLogError as exc:  # nothing can be logged: only the one Error line
        print(f"Error: {one_line((env_error or exc).message)}", file=sys.stderr, flush=True)
        return errors.EXIT_FATAL
    if env_error is not None:
        return fail(env_error)
    if env_file is not None:
        env_file.log_warnings(log)
    signals.install()  # SIGINT/SIGTERM: stop at the next safe point; a second one exits at once
    logging.raiseExceptions = False  # a log line the disk refuses is dropped, never a traceback on stderr
    try:
        return _run(argv, run_id)
    except (KeyboardInterrupt, asyncio.CancelledError):
        signum = signals.received()
        code = signals.exit_code(signum)
        log.warning("interrupted by a signal (%s); exit %d", signals.signal_name(signum), code)
        print(f"Error: {signals.stop_message(signum)}", file=sys.stderr, flush=True)
        return code
    except ParserError as exc:
        return fail(exc)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one Error line and exit 1
        return fail(errors.as_parser_error(exc), exc)


if __name__ == "__main__":
    sys.exit(main())
