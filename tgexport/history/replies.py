"""The discussion thread (comments) of a channel post, asking only for what is new.

`discussion(post_id)` is `messages.getDiscussionMessage`: the linked group and the post's discussion
message there. `comments_after(post_id, after_id)` pages `messages.getReplies` upwards from
`after_id` with `min_id = after_id` (Telethon's `iter_messages(reply_to=…)` sends min_id=0 and
filters locally): a thread with k new comments costs ⌈(k+1)/100⌉ requests. Every request goes
through the FloodController; the mode's random pause separates requests.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from telethon import errors as tl_errors
from telethon import utils
from telethon.tl import functions, types

from tgexport.client.flood import FloodController
from tgexport.core import fault_points
from tgexport.history.pages import PAGE_SIZE, Sleep, random_pause


class ThreadUnavailable(Exception):
    """Telegram refused a post's thread (e.g. MSG_ID_INVALID, CHANNEL_PRIVATE for the group); the
    message is the RPC error's name. FloodWaits and timeouts are not this: the FloodController has them."""


@dataclass
class Discussion:
    """Where a post's comments live: the discussion group's id and entity, the discussion message id."""

    chat_id: int
    msg_id: int
    entity: Any


class ThreadReader:
    """Reads the comments of one channel's posts."""

    def __init__(self, client: Any, entity: Any, flood: FloodController, *,
                 pause: tuple[float, float] = (0.0, 0.0), sleep: Sleep = asyncio.sleep) -> None:
        self.client = client
        self.peer = utils.get_input_peer(entity)
        self.flood = flood
        self.pause = pause
        self.sleep = sleep
        self.requests = 0
        self.groups: dict[int, Any] = {}  # discussion group id → its Channel (from the answers' chats)

    async def _call(self, request: Any, what: str) -> Any:
        if self.requests:
            await self._pause()
        try:
            result = await self.flood.call(lambda: self.client(request), what=what)
        except tl_errors.FloodError:
            raise
        except tl_errors.RPCError as exc:
            self.requests += 1
            raise ThreadUnavailable(f"{what}: {type(exc).__name__} ({exc.code})") from exc
        fault_points.hit("comments_page")  # an answer arrived; nothing of it is used yet
        self.requests += 1
        for chat in getattr(result, "chats", None) or []:
            if isinstance(chat, types.Channel) and chat.megagroup:
                self.groups[chat.id] = chat
        return result

    async def discussion(self, post_id: int) -> Discussion | None:
        """The post's discussion message, or None when Telegram has none for it."""
        result = await self._call(functions.messages.GetDiscussionMessageRequest(peer=self.peer, msg_id=post_id),
                                  "messages.getDiscussionMessage")
        top = next((m for m in result.messages if isinstance(getattr(m, "peer_id", None), types.PeerChannel)), None)
        if top is None:
            return None
        chat_id = int(top.peer_id.channel_id)
        return Discussion(chat_id, int(top.id), self.groups.get(chat_id))

    async def comments_after(self, post_id: int, after_id: int) -> list[Any]:
        """Comments with id > after_id, ascending (bound to the client and their group)."""
        found: list[Any] = []
        position = after_id
        while True:
            request = functions.messages.GetRepliesRequest(
                peer=self.peer, msg_id=post_id, offset_id=position + 1, offset_date=None, add_offset=-PAGE_SIZE,
                limit=PAGE_SIZE, max_id=0, min_id=after_id, hash=0)
            result = await self._call(request, "messages.getReplies")
            page = sorted((m for m in result.messages if m.id > position and not isinstance(m, types.MessageEmpty)),
                          key=lambda m: m.id)
            self._bind(page)
            found.extend(page)
            if len(result.messages) < PAGE_SIZE or not page:
                return found
            position = page[-1].id

    def _bind(self, messages: list[Any]) -> None:
        for message in messages:
            group = self.groups.get(getattr(message.peer_id, "channel_id", None))
            message._client = self.client
            if group is not None:
                message._input_chat = utils.get_input_peer(group)

    async def _pause(self) -> None:
        await random_pause(self.pause, self.sleep)
