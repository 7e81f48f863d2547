"""A `parse` of several channels in one process: one session lock, one connection, one ParseRun per
channel (each with its own export directory and export lock), one result line per channel.

Isolation: a channel that cannot be resolved, is private or fails on its own gets a line with `error`
and the batch goes on. An account-wide stop (FloodWait over the cap, no answer after the retries,
sign-in revoked, the session database locked) ends the batch once the current channel has saved what
it fetched; every channel not reached then gets a line with that error and `"started": false`.
Joined channels found in the session's entity cache are checked in one `messages.getPeerDialogs`
per 100 (tgexport/history/dialogs.py): no resolving, and no getHistory when nothing is new.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import errors
from errors import AuthError, NetworkError, ParserError, RateLimitError, SessionLockedError, as_parser_error
from tgexport.client.channel_ref import parse_channel_ref
from tgexport.client.resolver import cached_channel_peer, names_channel
from tgexport.config.options import ParseOptions
from tgexport.history.dialogs import ChannelDialog, joined_channels, peer_dialogs
from tgexport.run.parse import Clock, KnownChannel, Sleep, error_object, run_flood_controller, run_parse

log = logging.getLogger("tgexport.run.batch")
LineSink = Callable[[dict[str, Any]], None]
ACCOUNT_WIDE = (RateLimitError, NetworkError, AuthError, SessionLockedError)


def is_account_wide(exc: BaseException) -> bool:
    """A stop that would fail every further channel too (the account or the connection, not the channel)."""
    return isinstance(exc, asyncio.CancelledError | KeyboardInterrupt) or isinstance(
        as_parser_error(exc), ACCOUNT_WIDE)


@dataclass
class BatchOutcome:
    """How the channels of a batch ended (their lines are already printed)."""

    succeeded: int = 0
    partial: int = 0
    failed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (channel, error object)

    def exit_code(self) -> int:
        """0 when every channel succeeded; 2 when some failed or were partial; 1 (raised) when none succeeded."""
        if self.succeeded == 0 and self.failed:
            channel, error = self.failed[0]
            raise ParserError(f"no channel could be exported ({len(self.failed)} failed; {channel}: "
                              f"{error['message']})", code=error["error_code"] or errors.EXTERNAL_API_ERROR)
        if self.failed or self.partial:
            return errors.EXIT_PARTIAL
        return errors.EXIT_OK


class BatchRun:
    """Runs `options` for each channel in order; `emit` gets each channel's result line when it ends."""

    def __init__(self, client: Any, options: ParseOptions, channels: list[str] | None, run_id: str, emit: LineSink,
                 *, sleep: Sleep = asyncio.sleep, clock: Clock = time.monotonic) -> None:
        self.client = client
        self.options = options
        self.channels = channels  # None: --all-channels
        self.run_id = run_id
        self.emit = emit
        self.sleep = sleep
        self.clock = clock
        self.outcome = BatchOutcome()
        self.flood = run_flood_controller(options, sleep)

    async def execute(self) -> BatchOutcome:
        self.client.flood_sleep_threshold = 0  # every FloodWait goes through a FloodController
        try:
            targets = await self._targets()
        except BaseException as exc:
            self._not_started(self.channels or [], exc)
            raise
        log.info("batch of %d channel(s): %d checked by their dialog", len(targets),
                 sum(known is not None for _, known in targets))
        for index, (channel, known) in enumerate(targets):
            try:
                await self._one(channel, known)
            except BaseException as exc:
                self._not_started([name for name, _ in targets[index + 1:]], exc)
                raise
        return self.outcome

    async def _targets(self) -> list[tuple[str, KnownChannel | None]]:
        if self.channels is None:
            return [(d.label, _known(d)) for d in await joined_channels(self.client, self.flood)]
        refs = [parse_channel_ref(name) for name in self.channels]
        peers = {i: cached_channel_peer(self.client, ref) for i, ref in enumerate(refs)}
        dialogs = await peer_dialogs(self.client, self.flood, [p for p in peers.values() if p is not None])
        targets: list[tuple[str, KnownChannel | None]] = []
        for i, (name, ref) in enumerate(zip(self.channels, refs, strict=True)):
            peer = peers[i]
            dialog = dialogs.get(peer.channel_id) if peer is not None else None
            targets.append((name, _known(dialog) if dialog and names_channel(ref, dialog.entity) else None))
        return targets

    async def _one(self, channel: str, known: KnownChannel | None) -> None:
        """One channel through the usual ParseRun; its line is printed however it ends."""
        options = dataclasses.replace(self.options, channel=channel)
        saved: dict[str, Any] = {}
        try:
            result = await run_parse(self.client, options, self.run_id, sleep=self.sleep, clock=self.clock,
                                     on_result=saved.update, known=known)
        except BaseException as exc:
            self._failed(channel, saved, exc)
            if is_account_wide(exc):
                raise
            return
        if result.get("partial_failure"):
            self.outcome.partial += 1
        self.outcome.succeeded += 1
        self.emit({"channel": channel, "started": True, **result})

    def _failed(self, channel: str, saved: dict[str, Any], exc: BaseException) -> None:
        error = error_object(exc)
        if not isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
            log.error("channel %s failed: %s", channel, error["message"], extra={"error_code": error["error_code"]})
        self.outcome.failed.append((channel, error))
        line = {"channel": channel, "started": True, **saved}
        line["error"] = error
        self.emit(line)

    def _not_started(self, channels: list[str], exc: BaseException) -> None:
        """Lines for the channels an account-wide stop kept from running."""
        error = error_object(exc)
        for channel in channels:
            self.emit({"channel": channel, "started": False, "error": error})


def _known(dialog: ChannelDialog | None) -> KnownChannel | None:
    return None if dialog is None else KnownChannel(dialog.entity, dialog.top_message_id)


async def run_batch(client: Any, options: ParseOptions, channels: list[str] | None, run_id: str, emit: LineSink,
                    *, sleep: Sleep = asyncio.sleep, clock: Clock = time.monotonic) -> BatchOutcome:
    """Export every channel (`None`: every joined channel) with `options`; lines go to `emit` in input order."""
    return await BatchRun(client, options, channels, run_id, emit, sleep=sleep, clock=clock).execute()
