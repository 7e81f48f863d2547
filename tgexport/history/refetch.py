"""Re-reading messages already exported, by id (`channels.getMessages`, 100 ids a request).

Used by `parse --refresh-recent N`: every request goes through the FloodController (FloodWait and
deadlines as for history pages) and the mode's random pause separates requests. An id the channel
no longer has comes back as `MessageEmpty`: it is reported as None (deleted).
"""
from __future__ import annotations

import asyncio
from typing import Any

from telethon import utils
from telethon.tl import functions, types

from tgexport.client.flood import FloodController
from tgexport.core import fault_points
from tgexport.history.pages import Sleep, random_pause

IDS_PER_REQUEST = 100


class MessageRefetcher:
    """Fetches existing messages of one channel by id."""

    def __init__(self, client: Any, entity: Any, flood: FloodController, *,
                 pause: tuple[float, float] = (0.0, 0.0), sleep: Sleep = asyncio.sleep) -> None:
        self.client = client
        self.channel = utils.get_input_channel(entity)
        self.peer = utils.get_input_peer(entity)
        self.flood = flood
        self.pause = pause
        self.sleep = sleep
        self.requests = 0

    async def fetch(self, ids: list[int]) -> dict[int, Any]:
        """id → the current Message (bound to the client) or None when the channel no longer has it."""
        found: dict[int, Any] = {}
        for start in range(0, len(ids), IDS_PER_REQUEST):
            if start:
                await self._pause()
            batch = ids[start:start + IDS_PER_REQUEST]
            result = await self.flood.call(lambda b=batch: self.client(self._request(b)), what="channels.getMessages")
            fault_points.hit("refetch_page")  # an answer arrived; nothing of it is used yet
            self.requests += 1
            found.update(self._take(batch, result))
        return found

    def _request(self, ids: list[int]) -> functions.channels.GetMessagesRequest:
        return functions.channels.GetMessagesRequest(channel=self.channel,
                                                     id=[types.InputMessageID(id=i) for i in ids])

    def _take(self, batch: list[int], result: Any) -> dict[int, Any]:
        by_id = {m.id: m for m in result.messages if not isinstance(m, types.MessageEmpty)}
        for message in by_id.values():  # as HistoryReader._bind: message.client and get_input_chat() work
            message._client = self.client
            message._input_chat = self.peer
        return {i: by_id.get(i) for i in batch}

    async def _pause(self) -> None:
        await random_pause(self.pause, self.sleep)
