"""The command line: every option of the contract plus the added ones, and the checks that run before
anything touches the session or the disk (a bad value is one `Error:` line, CONFIG_ERROR, exit 1)."""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from errors import ConfigError
from tgexport.cli.channel_list import ALL_CHANNELS, is_batch, parse_channels, single_channel
from tgexport.client.proxy import PROXY_ENV, proxy_from
from tgexport.config import environment as config
from tgexport.config.options import DEFAULT_MAX_FLOOD_WAIT, ParseOptions, parse_count, parse_non_negative

COMMANDS = ("channels", "resolve", "parse")
REFRESH_RECENT_ENV = "TELEGRAM_PARSER_REFRESH_RECENT"


class ChannelValues(argparse.Action):
    """`--channel A [B …]`, repeatable: every value in `channel_values`, in order; `channel` is the first
    one (a string, as the earlier tool's parser gave it)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        given = [*(getattr(namespace, "channel_values", None) or []), *values]
        namespace.channel_values = given
        namespace.channel = given[0]


class ContractArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors become one `Error:` line, CONFIG_ERROR and exit 1."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see --help)")


def build_parser(prog: str | None = None) -> ContractArgumentParser:
    """Every option of the contract plus the added ones (--max-flood-wait, --lock-wait, ...); the usage
    names `prog`, by default the program run (`telegram_parser_skill.py` or `tg-channel-parser`)."""
    p = ContractArgumentParser(
        prog=prog,
        description="Export Telegram channels to JSON + media (channels | resolve | parse).",
    )
    p.add_argument("command", choices=COMMANDS, help="what to do")
    p.add_argument("--channel", nargs="+", action=ChannelValues, metavar="CHANNEL",
                   help="link (https://t.me/name[/post]), @name, name, numeric or -100… id; "
                        "parse takes several (or the option repeated)")
    p.set_defaults(channel_values=[])
    p.add_argument("--channels-file", metavar="PATH",
                   help="parse: one channel a line (blank lines and # comments ignored); - reads stdin")
    p.add_argument("--all-channels", action="store_true", help="parse: every channel that `channels` lists")
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
    p.add_argument("--takeout", action="store_true",
                   help="parse: read history and media through a takeout (data export) session, which Telegram "
                        "rate-limits less; Telegram may ask you to confirm it in an app first")
    p.add_argument("--proxy", metavar="URL", default=None,
                   help=f"reach Telegram through a proxy: socks5://[user:pass@]host:port, socks4://, http://, "
                        f"mtproxy://SECRET@host:port or a t.me/socks, t.me/proxy link (default ${PROXY_ENV})")
    p.add_argument("--refresh-recent", metavar="N", default=None,
                   help="re-read the N newest exported messages and update edits, counters and deletions "
                        f"(default ${REFRESH_RECENT_ENV} or 0)")
    p.add_argument("--comments", action="store_true",
                   help="export the discussion (comments) of posts that have any to comments/<post id>.json")
    p.add_argument("--comments-media", action="store_true",
                   help="with --comments: download the comments' media too (default: described only)")
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


def _refresh_recent(raw: str | None) -> str | int | None:
    """`--refresh-recent`, else `$TELEGRAM_PARSER_REFRESH_RECENT` (checked as strictly as the option)."""
    return raw if raw is not None else parse_count(os.environ.get(REFRESH_RECENT_ENV), REFRESH_RECENT_ENV)


def validate_args(args: argparse.Namespace) -> None:
    """Check every argument before anything touches the session or the disk; ConfigError if bad."""
    args.lock_wait = parse_non_negative(args.lock_wait, "--lock-wait") or 0.0
    flood = parse_non_negative(args.max_flood_wait, "--max-flood-wait")
    args.max_flood_wait = DEFAULT_MAX_FLOOD_WAIT if flood is None else flood
    if not str(args.session_file or "").strip():
        raise ConfigError("--session-file must not be empty")
    args.proxy_spec = proxy_from(args.proxy)
    args.channels = None
    args.batch = False
    if args.command == "channels":
        return
    if args.command == "resolve":
        args.channel = single_channel(args)
        return
    args.channels = parse_channels(args)
    args.batch = is_batch(args)
    args.channel = args.channels[0] if args.channels else ALL_CHANNELS
    if args.command == "parse":
        args.output_dir = args.output_dir or config.default_output_dir()
        args.options = ParseOptions.build(
            channel=args.channel, output_dir=args.output_dir, mode=args.mode,
            date_from=args.date_from, date_to=args.date_to, keyword_filter=args.keyword_filter,
            max_media_size_mb=args.max_media_size, dry_run=args.dry_run, zip_output=args.zip,
            cleanup_temp=not args.no_cleanup_temp, max_flood_wait=args.max_flood_wait,
            media_stall_timeout=args.media_stall_timeout, takeout=args.takeout,
            refresh_recent=_refresh_recent(args.refresh_recent), comments=args.comments,
            comments_media=args.comments_media,
        )
        _check_output_dir(args.output_dir)


