"""`TelegramParser` (the contract's Python API, imported as `telegram_parser.TelegramParser`): connect, sign-in,
channels, resolve, parse, for one session file."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from telethon import TelegramClient, utils

from tgexport.client.auth import AUTH_STATE_FILE, AuthIO, ensure_authorized
from tgexport.client.channel_ref import parse_channel_ref
from tgexport.client.connect import open_client, quiet_disconnect, retry_locked_database
from tgexport.client.flood import AppLogEvents, FloodController, request_timeout_from_env
from tgexport.client.proxy import ProxySpec, parse_proxy
from tgexport.client.resolver import channel_username, resolve_channel
from tgexport.config import environment as config
from tgexport.config.applog import current_run_id, new_run_id
from tgexport.config.environment import Credentials
from tgexport.config.options import DEFAULT_MAX_FLOOD_WAIT, ParseOptions
from tgexport.history.dialogs import joined_channels
from tgexport.session.lock import SessionLock

log = logging.getLogger("telegram_parser")
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class TelegramParser:
    """Telegram channel parser bound to one session file."""

    def __init__(
        self,
        api_id: int,
        api_hash: str,
        session_file: str = config.DEFAULT_SESSION,
        auth_state_dir: str | Path | None = None,
        *,
        credentials: Credentials | None = None,
        auth_io: AuthIO | None = None,
        max_flood_wait: float = DEFAULT_MAX_FLOOD_WAIT,
        sleep: Sleep = asyncio.sleep,
        lock_session: bool = True,
        proxy: str | ProxySpec | None = None,
    ) -> None:
        self.api_id = int(api_id)
        self._api_hash = api_hash
        self.session_file = session_file
        self.auth_state_dir = Path(auth_state_dir) if auth_state_dir else config.log_dir()
        self._credentials = credentials
        self._auth_io = auth_io
        self.max_flood_wait = max_flood_wait
        self._sleep = sleep
        # The CLI takes the lock itself (before validating the session) and passes lock_session=False.
        self._lock = SessionLock(session_file, command="python-api") if lock_session else None
        self.client: TelegramClient | None = None
        self.proxy = parse_proxy(proxy) if isinstance(proxy, str) else proxy  # added: --proxy / TELEGRAM_PROXY

    def __repr__(self) -> str:
        return f"TelegramParser(api_id={self.api_id}, session_file={self.session_file!r})"

    @property
    def auth_state_path(self) -> Path:
        """Where the two-run sign-in keeps `{created_at, phone, phone_code_hash}`."""
        return self.auth_state_dir / AUTH_STATE_FILE

    async def connect(self) -> None:
        """Lock the session file, open it (retrying a locked database), connect, sign in if needed.

        Raises `session_lock.SessionLockBusy` when another process (or parser) holds the session.
        """
        if self._lock is not None and not self._lock.held:
            self._lock.acquire()
        try:
            self.client = await retry_locked_database(
                lambda: open_client(self.session_file, self.api_id, self._api_hash, self.proxy), sleep=self._sleep, logger=log)
        except BaseException:
            self._release_lock()
            raise
        log.info("connected")
        creds = self._credentials or Credentials.from_env()
        await ensure_authorized(self.client, creds, self.auth_state_path, self._auth_io)

    async def disconnect(self) -> None:
        """Disconnect and close the session (safe to call twice)."""
        client, self.client = self.client, None
        try:
            if client is not None:
                await quiet_disconnect(client)
        finally:
            self._release_lock()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def _require_client(self) -> TelegramClient:
        if self.client is None:
            raise RuntimeError("TelegramParser.connect() must be awaited first")
        return self.client

    def _flood(self) -> FloodController:
        """FloodWaits (logged in the app log) sat out up to `max_flood_wait` s; request deadlines."""
        return FloodController(extra=0.0, max_wait=self.max_flood_wait, log=AppLogEvents(), sleep=self._sleep,
                               request_timeout=request_timeout_from_env())

    async def _with_flood_wait(self, make_call: Callable[[], Awaitable[T]], what: str) -> T:
        """Await `make_call()` through `_flood()`."""
        return await self._flood().call(make_call, what=what)

    async def get_available_channels(self) -> list[dict[str, Any]]:
        """Every channel among the account's dialogs: `{id (marked), username, title}`."""
        client = self._require_client()
        return [{"id": utils.get_peer_id(d.entity), "username": channel_username(d.entity), "title": d.entity.title}
                for d in await joined_channels(client, self._flood())]

    async def get_channel_info(self, channel_identifier: str) -> dict[str, Any]:
        """`{id (bare), username, title}` plus `post_id` when the identifier links a post."""
        ref = parse_channel_ref(channel_identifier)
        client = self._require_client()
        entity = await self._with_flood_wait(lambda: resolve_channel(client, ref), "resolving")
        info: dict[str, Any] = {"id": entity.id, "username": channel_username(entity), "title": entity.title}
        if ref.post_id is not None:
            info["post_id"] = ref.post_id
        return info

    async def parse_channel(
        self,
        channel_identifier: str,
        output_dir: str | Path,
        mode: str = "safe",
        date_from: str | None = None,
        date_to: str | None = None,
        keyword_filter: list[str] | str | None = None,
        max_media_size_mb: float | None = None,
        dry_run: bool = False,
        zip_output: bool = False,
        cleanup_temp: bool = True,
        run_id: str | None = None,
        max_flood_wait: float | None = None,
        on_result: Callable[[dict[str, Any]], None] | None = None,
        takeout: bool = False,
        *,
        refresh_recent: int = 0,
        comments: bool = False,
        comments_media: bool = False,
    ) -> dict[str, Any]:
        """Export the channel (delegates to `tgexport.run.parse.run_parse`); returns the `parse` JSON.

        `on_result` (added) also gets that JSON, with an `error` key, when the run stops early
        after saving something (RATE_LIMIT, Ctrl+C, errors), so callers can report what was saved.
        `refresh_recent`, `comments`, `comments_media` (added): as `--refresh-recent N`, `--comments`,
        `--comments-media`.
        """
        options = ParseOptions.build(
            channel=channel_identifier,
            output_dir=output_dir,
            mode=mode,
            date_from=date_from,
            date_to=date_to,
            keyword_filter=keyword_filter,
            max_media_size_mb=max_media_size_mb,
            dry_run=dry_run,
            zip_output=zip_output,
            cleanup_temp=cleanup_temp,
            max_flood_wait=self.max_flood_wait if max_flood_wait is None else max_flood_wait,
            takeout=takeout,
            refresh_recent=refresh_recent, comments=comments, comments_media=comments_media,
        )
        return await self.parse_with_options(options, run_id=run_id, on_result=on_result)

    async def parse_channels(
        self,
        channel_identifiers: list[str] | None,
        output_dir: str | Path,
        *,
        run_id: str | None = None,
        on_line: Callable[[dict[str, Any]], None] | None = None,
        **options: Any,
    ) -> list[dict[str, Any]]:
        """Several channels in one run (None: every joined channel), as `parse --channel A B …` does:
        returns one result per channel (the CLI's JSON lines, with `channel`, `started`, `error`);
        `on_line` gets each as its channel ends. `options` are `parse_channel`'s (mode, date_from, …).
        An account-wide stop (RATE_LIMIT, NETWORK_ERROR, AUTH_ERROR) raises after every line was given."""
        from tgexport.run.batch import run_batch

        names = None if channel_identifiers is None else [str(c).strip() for c in channel_identifiers]
        options.setdefault("max_flood_wait", self.max_flood_wait)
        parse_options = ParseOptions.build(channel=names[0] if names else "all channels", output_dir=output_dir,
                                           **options)
        lines: list[dict[str, Any]] = []

        def sink(line: dict[str, Any]) -> None:
            lines.append(line)
            if on_line is not None:
                on_line(line)

        await run_batch(self._require_client(), parse_options, names, run_id or current_run_id() or new_run_id(), sink)
        return lines

    async def parse_with_options(
        self,
        options: ParseOptions,
        *,
        run_id: str | None = None,
        on_result: Callable[[dict[str, Any]], None] | None = None,
        stream_records: bool = False,
    ) -> dict[str, Any]:
        """Export with already validated `options` (what `parse_channel` builds); returns the `parse` JSON.

        `stream_records` (the CLI's choice): `new_messages` is read from export.json when printed by
        `tgexport.store.layout.write_result` instead of being a list held in memory.
        """
        from tgexport.run.parse import run_parse

        return await run_parse(self._require_client(), options, run_id or current_run_id() or new_run_id(),
                               on_result=on_result, stream_records=stream_records)

