"""The mutable world a server serves: accounts, channels with their messages, media, faults.

Handlers read it; tests append messages while the server runs (`append_messages`, called
on the server loop). TL rendering lives in `api/render.py`; rendered messages are cached
per channel here and dropped when a message changes (new file reference).
"""
from __future__ import annotations

import dataclasses
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any

from telegram_test_server.world import media
from telegram_test_server.world.faults import Faults, MediaTarget
from telegram_test_server.world.scenario import (
    Account,
    ChannelSpec,
    MessageSpec,
    Scenario,
    load_message,
    load_scenario,
    normalize_phone,
    resolve_content_of,
)


@dataclass
class ChannelState:
    """One channel: spec, ascending ids/dates, messages by id, TL cache, file-reference versions."""

    spec: ChannelSpec
    ids: list[int] = field(default_factory=list)
    dates: list[int] = field(default_factory=list)
    messages: dict[int, MessageSpec] = field(default_factory=dict)
    tl_cache: dict[int, Any] = field(default_factory=dict)
    ref_versions: dict[int, int] = field(default_factory=dict)
    media_editions: dict[int, int] = field(default_factory=dict)  # message id → media replaced this often

    @property
    def id(self) -> int:
        return self.spec.id

    @property
    def pts(self) -> int:
        """Channel pts: grows with every appended message."""
        return len(self.ids) + 1

    @property
    def top_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    def extend(self, msgs: list[MessageSpec]) -> None:
        """Append messages, each newer than every existing one."""
        ids, dates = list(self.ids), list(self.dates)  # new lists: a page being built keeps its snapshot
        for msg in msgs:
            if ids and (msg.id <= ids[-1] or msg.date < dates[-1]):
                raise ValueError(f"message {msg.id} is not newer than message {ids[-1]}")
            ids.append(msg.id)
            dates.append(msg.date)
        for msg in msgs:
            self.messages[msg.id] = msg
        self.ids, self.dates = ids, dates


class World:
    """Accounts, channels and fault state of one running server."""

    def __init__(self, scenario: Scenario | str | dict[str, Any]) -> None:
        self.scenario = load_scenario(scenario)
        self.dc_id = self.scenario.dc_id
        self.seed = self.scenario.seed
        self.accounts: dict[int, Account] = {a.user_id: a for a in self.scenario.accounts}
        self.channels: dict[int, ChannelState] = {}
        self.media_index: dict[int, tuple[int, int]] = {}  # media id → (channel id, message id)
        self.faults = Faults(self.scenario.faults)
        self.address: tuple[str, int] | None = None  # set by the server once it listens
        self.takeouts: dict[int, bool | None] = {}  # takeout id → None while open, then finish's `success` (False also: closed by the server)
        self.threads: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, post) → (group, discussion msg)
        for spec in self.scenario.channels:
            self._add_channel(spec)
        for item in self.scenario.comments:
            self.add_comments(item["channel"], item["post"], item.get("count"), item.get("messages"))

    def _add_channel(self, spec: ChannelSpec) -> None:
        state = ChannelState(spec=spec)
        state.ids = [m.id for m in spec.messages]
        state.dates = [m.date for m in spec.messages]
        state.messages = {m.id: m for m in spec.messages}
        self.channels[spec.id] = state
        for msg in spec.messages:
            self._index_media(state, msg)

    def _index_media(self, state: ChannelState, msg: MessageSpec) -> None:
        if msg.media is not None and msg.media.type in ("photo", "document", "video") and not msg.media.same_file:
            self.media_index[media.media_id(state.id, msg.id, msg.media.edition)] = (state.id, msg.id)

    # --- lookups ---------------------------------------------------------------------------

    def account_by_phone(self, phone: str) -> Account | None:
        """The account with this phone number (any formatting)."""
        digits = normalize_phone(phone)
        return next((a for a in self.accounts.values() if normalize_phone(a.phone) == digits), None)

    def channel(self, ref: int | str | ChannelState) -> ChannelState:
        """A channel by id, username (with or without @), or state; KeyError when unknown."""
        if isinstance(ref, ChannelState):
            return ref
        if isinstance(ref, int):
            return self.channels[ref]
        name = ref.lstrip("@").lower()
        for state in self.channels.values():
            if (state.spec.username or "").lower() == name:
                return state
        raise KeyError(ref)

    def target(self, channel_id: int, message_id: int, part: int = 0) -> MediaTarget:
        """A fault-matching target for a message's media."""
        return MediaTarget(channel_id, self.channels[channel_id].spec.username, message_id, part)

    # --- media -----------------------------------------------------------------------------

    def ref_version(self, channel_id: int, message_id: int) -> int:
        """Current file-reference version of a message's media."""
        return self.channels[channel_id].ref_versions.get(message_id, 0)

    def refetched(self, channel_id: int, message_id: int) -> None:
        """channels.getMessages returned this message: refresh an expired reference."""
        target = self.target(channel_id, message_id)
        if not self.faults.reference_expired(target):
            return
        state = self.channels[channel_id]
        state.ref_versions[message_id] = state.ref_versions.get(message_id, 0) + 1
        state.tl_cache.pop(message_id, None)
        self.faults.refetched(channel_id, message_id)

    def media_file(self, channel: int | str, message_id: int, thumb: str | None = None) -> tuple[int, int]:
        """(key, size) of a message's downloadable file: the largest photo size, or the document."""
        state = self.channel(channel)
        spec = state.messages[message_id].media
        if spec is None or spec.type not in ("photo", "document", "video"):
            raise KeyError(f"message {message_id} has no downloadable media")
        if thumb is None:
            thumb = max(spec.sizes, key=lambda s: s.size).type if spec.type == "photo" else media.MAIN
        return self.file_key(state.id, message_id, thumb), media.downloadable_size(spec, thumb) or 0

    def file_key(self, channel_id: int, message_id: int, thumb: str) -> int:
        """Key of a message's file; a `content_of` media shares the original's key (same bytes)."""
        spec = self.channels[channel_id].messages[message_id].media
        mid = media.content_id(spec, channel_id, media.media_id(channel_id, message_id, spec.edition))
        return media.file_key(self.seed, mid, thumb)

    def expected_bytes(self, channel: int | str, message_id: int, thumb: str | None = None) -> bytes:
        """The bytes a download of this message's media must produce."""
        key, size = self.media_file(channel, message_id, thumb)
        return media.file_bytes(key, size)

    # --- editing and deleting -------------------------------------------------------------

    def edit_message(self, channel: int | str | ChannelState, message_id: int, changes: dict[str, Any]) -> None:
        """Change an existing message as an edit or a counter change would: `changes` are scenario
        message keys (text, entities, edit_date, media, views, forwards, reactions, replies, pinned, …);
        a new `media` gets a new photo/document id (the old file stays downloadable as before)."""
        state = self.channel(channel)
        old = state.messages[message_id]
        if {"id", "date"} & changes.keys():
            raise ValueError("an edit cannot change a message's id or date")
        parsed = load_message({"id": message_id, **changes}, old.date)
        for key in changes:
            setattr(old, key, getattr(parsed, key))
        if {"text", "entities"} & changes.keys():
            old.styled = False  # the new text carries the entities given (or none)
        if "media" in changes and old.media is not None:
            edition = state.media_editions[message_id] = state.media_editions.get(message_id, 0) + 1
            old.media = dataclasses.replace(old.media, edition=edition)
            self._index_media(state, old)
        state.tl_cache.pop(message_id, None)

    def delete_messages(self, channel: int | str | ChannelState, message_ids: list[int]) -> None:
        """Delete messages: history skips them, channels.getMessages answers messageEmpty; a deleted
        comment no longer counts in its post's `replies.count`."""
        state = self.channel(channel)
        gone = set(message_ids)
        kept = [(i, d) for i, d in zip(state.ids, state.dates, strict=True) if i not in gone]
        state.ids, state.dates = [i for i, _ in kept], [d for _, d in kept]  # new lists, as `extend`
        self._uncount_comments(state, gone)
        for message_id in gone:
            state.messages.pop(message_id, None)
            state.tl_cache.pop(message_id, None)

    def _uncount_comments(self, group: ChannelState, gone: set[int]) -> None:
        """Deleted comments leave their post's `replies.count`."""
        for (channel_id, post_id), (group_id, top_id) in self.threads.items():
            if group_id != group.id:
                continue
            n = sum(1 for i in gone if i in group.messages and group.messages[i].reply_to == top_id)
            post = self.channels[channel_id].messages.get(post_id)
            if n and post is not None and post.replies is not None:
                post.replies = {**post.replies, "count": max(0, int(post.replies.get("count") or 0) - n)}
                self.channels[channel_id].tl_cache.pop(post_id, None)

    # --- discussion threads ----------------------------------------------------------------

    def add_comments(self, channel: int | str | ChannelState, post_id: int, count: int | None = None,
                     messages: list[dict[str, Any]] | None = None) -> list[int]:
        """Add comments under a post: messages of its linked discussion group (the megagroup named by
        the post's `replies.channel_id`) replying to the post's discussion message, made on first use.
        The post's `replies.count` grows with them. Returns the new comment ids."""
        state = self.channel(channel)
        post = state.messages[post_id]
        group_id, top_id = self._thread(state, post)
        raws = [{"text": f"comment {n + 1}"} for n in range(count or 0)] + list(messages or [])
        ids = self.append_messages(group_id, messages=[{**raw, "reply_to": top_id} for raw in raws])
        replies = post.replies or {}
        post.replies = {**replies, "count": int(replies.get("count") or 0) + len(ids)}
        state.tl_cache.pop(post_id, None)
        return ids

    def _thread(self, state: ChannelState, post: MessageSpec) -> tuple[int, int]:
        key = (state.id, post.id)
        if key not in self.threads:
            group_id = (post.replies or {}).get("channel_id")
            group = self.channels.get(group_id) if group_id else None
            if group is None or not group.spec.megagroup:
                raise ValueError(f"post {post.id} has no linked discussion group (replies.channel_id of a megagroup)")
            [top] = self.append_messages(group, messages=[{"text": post.text or "", "fwd_from": {
                "from_channel": state.id, "channel_post": post.id, "date": post.date}}])
            self.threads[key] = (group.id, top)
        return self.threads[key]

    def thread_ids(self, channel_id: int, post_id: int) -> list[int]:
        """Ascending ids of a post's comments (its discussion group's replies to the discussion message)."""
        group_id, top_id = self.threads[(channel_id, post_id)]
        group = self.channels[group_id]
        return [i for i in group.ids if group.messages[i].reply_to == top_id]

    # --- appending -------------------------------------------------------------------------

    def append_messages(self, channel: int | str | ChannelState, count: int | None = None,
                        messages: list[dict[str, Any]] | None = None) -> list[int]:
        """Append `count` generated messages and/or explicit ones (ids may be omitted); new ids."""
        state = self.channel(channel)
        new: list[MessageSpec] = []
        earlier = ChainMap({}, state.messages)  # for `content_of`: existing and just appended messages
        top_id = state.top_id
        last_date = state.dates[-1] if state.dates else state.spec.date
        for raw in list(messages or []) + [{} for _ in range(count or 0)]:
            msg = self._next_message(state, dict(raw), top_id, last_date, generated=not raw)
            resolve_content_of(msg, earlier)
            new.append(msg)
            earlier[msg.id] = msg
            top_id, last_date = msg.id, msg.date
        state.extend(new)
        for msg in new:
            self._index_media(state, msg)
        return [m.id for m in new]

    @staticmethod
    def _next_message(state: ChannelState, raw: dict[str, Any], top_id: int, last_date: int,
                      generated: bool) -> MessageSpec:
        raw.setdefault("id", top_id + 1)
        msg = load_message(raw, last_date + state.spec.date_step)
        if generated:
            msg.text, msg.text_length = None, state.spec.text_length
            msg.views, msg.forwards = 1, 0
        return msg
