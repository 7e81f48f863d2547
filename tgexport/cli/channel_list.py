"""Which channels a `parse` exports: `--channel A [B …]` (repeatable), `--channels-file PATH` (`-` = stdin)
and `--all-channels`; every identifier is checked before anything touches the session."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from errors import ConfigError
from tgexport.client.channel_ref import parse_channel_ref

ALL_CHANNELS = "all channels"  # ParseOptions.channel placeholder until the dialog list names them


def read_channel_file(path: str) -> list[str]:
    """Identifiers of a channel list (one a line; blank lines and `#` comments ignored); `-` reads stdin."""
    try:
        text = sys.stdin.read().lstrip("\ufeff") if path == "-" else Path(path).expanduser().read_text(
            encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"--channels-file {path}: cannot read it ({reason})") from exc
    found: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.split("#", 1)[0].strip()
        if not value:
            continue
        try:
            parse_channel_ref(value)
        except ConfigError as exc:
            raise ConfigError(f"--channels-file {path}, line {number}: {exc.message}") from exc
        found.append(value)
    if not found:
        raise ConfigError(f"--channels-file {path} lists no channels")
    return found


def parse_channels(args: argparse.Namespace) -> list[str] | None:
    """The channels a `parse` exports, in input order; None for `--all-channels` (known after connecting)."""
    given = [c.strip() for c in args.channel_values or []]
    if args.all_channels:
        if given or args.channels_file is not None:
            raise ConfigError("--all-channels cannot be combined with --channel or --channels-file")
        return None
    if any(not c for c in given):
        raise ConfigError("--channel is required for parse (an empty value was given)")
    for channel in given:
        parse_channel_ref(channel)
    if args.channels_file is not None:
        given += read_channel_file(args.channels_file)
    if not given:
        raise ConfigError("--channel is required for parse")
    return given


def is_batch(args: argparse.Namespace) -> bool:
    """JSON Lines output: more than one --channel value, a --channels-file or --all-channels."""
    return bool(args.all_channels or args.channels_file is not None or len(args.channel_values or []) > 1)


def single_channel(args: argparse.Namespace) -> str:
    """The one channel of `resolve`; ConfigError for none, several, a list file or --all-channels."""
    given = args.channel_values or []
    if args.channels_file is not None or args.all_channels or len(given) > 1:
        raise ConfigError(f"{args.command} takes exactly one --channel")
    if not given or not given[0].strip():
        raise ConfigError(f"--channel is required for {args.command}")
    parse_channel_ref(given[0])
    return given[0]
