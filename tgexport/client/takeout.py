"""`parse --takeout`: the run's requests go through a takeout session (Telegram's data-export mode, with lower
flood limits): account.initTakeoutSession, every request wrapped in invokeWithTakeout, and
account.finishTakeoutSession at the end (success only when the run completed).

Telethon keeps the open takeout id in the session file (`sessions.takeout_id`). A run killed during a takeout
leaves it there; the next run finishes that one (unsuccessful; an expired one answers TAKEOUT_INVALID, which is
fine) and starts a fresh takeout session, so it never fails on the stale id."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from telethon import TelegramClient, utils
from telethon import errors as tl_errors
from telethon.tl import functions

import errors

log = logging.getLogger("tgexport.client.takeout")
FINISH_TIMEOUT = 15.0  # finishing never holds up the end of a run longer than this
MAX_FILE_SIZE = 4000 * 1024 * 1024  # Telegram's largest file (4000 MiB) when no --max-media-size is given


def _save_takeout_id(client: TelegramClient, takeout_id: int | None) -> None:
    client.session.takeout_id = takeout_id
    client.session.save()


async def _finish(client: TelegramClient, takeout_id: int, success: bool) -> bool:
    """account.finishTakeoutSession inside invokeWithTakeout; False when Telegram no longer knows the id."""
    request = functions.InvokeWithTakeoutRequest(takeout_id, functions.account.FinishTakeoutSessionRequest(success))
    try:
        await asyncio.wait_for(client(request), FINISH_TIMEOUT)
    except tl_errors.RPCError as exc:
        log.warning("takeout %d could not be finished: %s", takeout_id, exc)
        return False
    return True


async def _finish_stale(client: TelegramClient) -> None:
    """Finish (unsuccessfully) the takeout session a stopped run left in the session file."""
    stale = client.session.takeout_id
    if stale is None:
        return
    finished = await _finish(client, stale, success=False)
    log.warning("takeout %d left open by a stopped run was %s; starting a fresh takeout session",
                stale, "finished" if finished else "no longer valid")
    _save_takeout_id(client, None)


async def _init(client: TelegramClient, files: bool, max_file_size: int | None, timeout: float | None) -> int:
    """account.initTakeoutSession; its FloodError TAKEOUT_INIT_DELAY_X is no wait to sit out but TAKEOUT_DELAY."""
    request = functions.account.InitTakeoutSessionRequest(
        message_channels=True, message_megagroups=True, files=files or None,
        file_max_size=(max_file_size or MAX_FILE_SIZE) if files else None)
    try:
        async with asyncio.timeout(timeout):
            result = await client(request)
    except TimeoutError as exc:
        raise errors.NetworkError(f"no answer from Telegram to account.initTakeoutSession within {timeout:g} s; "
                                  "run again") from exc
    except tl_errors.TakeoutInitDelayError as exc:
        seconds = int(exc.seconds)
        raise errors.TakeoutDelayError(
            f"Telegram holds the takeout (data export) for {seconds} s until you confirm it: open Telegram, "
            "allow the data export request it shows, then run again", retry_after=seconds) from exc
    return int(result.id)


class _Wrapper:
    """Replaces the client's `_call` (what every request goes through, also file downloads) so each request is
    sent as invokeWithTakeout(takeout_id, request); `restore` puts Telethon's own back."""

    def __init__(self, client: TelegramClient, takeout_id: int) -> None:
        self.client, self.takeout_id = client, takeout_id
        self.original = client._call  # noqa: SLF001 - the one place every request passes
        client._call = self._call  # type: ignore[method-assign]  # noqa: SLF001

    async def _call(self, sender: Any, request: Any, ordered: bool = False,
                    flood_sleep_threshold: float | None = None) -> Any:
        single = not utils.is_list_like(request)
        wrapped = []
        for item in (request,) if single else request:
            await item.resolve(self.client, utils)
            wrapped.append(functions.InvokeWithTakeoutRequest(self.takeout_id, item))
        return await self.original(sender, wrapped[0] if single else wrapped, ordered, flood_sleep_threshold)

    def restore(self) -> None:
        self.client._call = self.original  # type: ignore[method-assign]  # noqa: SLF001


@contextlib.asynccontextmanager
async def takeout_session(client: TelegramClient, *, files: bool, max_file_size: int | None = None,
                          timeout: float | None = None) -> AsyncIterator[int]:
    """Run the body inside a takeout session asking for channels (and files when `files`); yields its id.
    `timeout` bounds the init request (None: unbounded).

    Finishes it with success=True only when the body returns; on an error or a stop with success=False."""
    await _finish_stale(client)
    takeout_id = await _init(client, files, max_file_size, timeout)
    _save_takeout_id(client, takeout_id)
    log.info("takeout session %d started (channels%s)", takeout_id, ", files" if files else "")
    wrapper = _Wrapper(client, takeout_id)
    success = False
    try:
        yield takeout_id
        success = True
    finally:
        wrapper.restore()
        try:
            finished = await _finish(client, takeout_id, success)
            _save_takeout_id(client, None)  # finished, or Telegram no longer knows it
            if finished:
                log.info("takeout session %d finished (success=%s)", takeout_id, success)
        except (TimeoutError, OSError) as exc:
            log.warning("takeout session %d could not be finished (%s); the next run finishes it",
                        takeout_id, type(exc).__name__)
