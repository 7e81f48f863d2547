"""What a reader sees beside the text: reactions, replies, link preview, non-file attachments.

Each function takes the Telethon object (or None) and returns the plain value of its record key.
"""
from __future__ import annotations

import logging
from typing import Any

from telethon.tl import types

from tgexport.records.entities import snake_name

log = logging.getLogger("tgexport.records")

# Media that are files (media_files), or have their own key (poll, web_page): no attachment.
_EMOJI = types.ReactionEmoji
_NOT_ATTACHMENTS = (types.MessageMediaPhoto, types.MessageMediaDocument, types.MessageMediaPoll,
                    types.MessageMediaWebPage, types.MessageMediaEmpty)


def reactions_dict(reactions: Any) -> dict[str, Any] | None:
    """`{"total", "items": [{"type", "emoji" | "custom_emoji_id", "count"}]}`, or None without reactions."""
    results = getattr(reactions, "results", None)
    if not results:
        return None
    items = [_reaction_item(r.reaction, int(r.count)) for r in results]
    return {"total": sum([item["count"] for item in items]), "items": items}


def _reaction_item(reaction: Any, count: int) -> dict[str, Any]:
    cls = type(reaction)
    if cls is _EMOJI or isinstance(reaction, _EMOJI):
        return {"type": "emoji", "emoji": reaction.emoticon, "count": count}
    if isinstance(reaction, types.ReactionCustomEmoji):
        return {"type": "custom_emoji", "custom_emoji_id": int(reaction.document_id), "count": count}
    if isinstance(reaction, types.ReactionPaid):
        return {"type": "paid", "count": count}
    return {"type": snake_name(cls, "Reaction"), "count": count}


def replies_dict(replies: Any) -> dict[str, Any] | None:
    """`{"count", "comments", "channel_id"}` of a `MessageReplies`, or None."""
    if replies is None:
        return None
    channel_id = getattr(replies, "channel_id", None)
    return {"count": int(replies.replies or 0), "comments": bool(replies.comments),
            "channel_id": int(channel_id) if channel_id is not None else None}


def web_page_dict(media: Any) -> dict[str, Any] | None:
    """The link preview of a `MessageMediaWebPage` (nothing downloaded), or None."""
    if not isinstance(media, types.MessageMediaWebPage):
        return None
    page = media.webpage
    return {"url": getattr(page, "url", None), "display_url": getattr(page, "display_url", None),
            "site_name": getattr(page, "site_name", None), "title": getattr(page, "title", None),
            "description": getattr(page, "description", None)}


def _geo(point: Any) -> dict[str, Any]:
    return {"lat": getattr(point, "lat", None), "long": getattr(point, "long", None)}


def _title(obj: Any) -> dict[str, Any]:
    title = getattr(obj, "title", None)
    return {"title": title} if isinstance(title, str) else {}


def _known(media: Any) -> dict[str, Any] | None:
    """The attachment fields of a known non-file media kind, or None when the kind is not known."""
    if isinstance(media, (types.MessageMediaGeo, types.MessageMediaGeoLive)):
        return _geo(media.geo)
    if isinstance(media, types.MessageMediaVenue):
        return {**_geo(media.geo), "title": media.title, "address": media.address}
    if isinstance(media, types.MessageMediaContact):
        return {"first_name": media.first_name, "last_name": media.last_name, "phone_number": media.phone_number}
    if isinstance(media, types.MessageMediaDice):
        return {"emoji": media.emoticon, "value": int(media.value)}
    if isinstance(media, types.MessageMediaGame):
        return _title(media.game)
    if isinstance(media, types.MessageMediaInvoice):
        return _title(media)
    if isinstance(media, types.MessageMediaGiveaway):
        return {"title": media.prize_description} if media.prize_description else {}
    if isinstance(media, types.MessageMediaStory):
        return {}
    return None


class AttachmentReader:
    """`attachment` of a message; warns once per reader (one per run) for each unknown media kind."""

    def __init__(self) -> None:
        self.warned: set[str] = set()

    def __call__(self, media: Any, message_id: int) -> dict[str, Any] | None:
        if media is None or isinstance(media, _NOT_ATTACHMENTS):
            return None
        kind = snake_name(type(media), "MessageMedia")
        fields = _known(media)
        if fields is None:
            self._warn(kind, message_id)
            return {"kind": kind}
        return {"kind": kind, **fields}

    def _warn(self, kind: str, message_id: int) -> None:
        if kind in self.warned:
            return
        self.warned.add(kind)
        log.warning("unknown_media_kind kind=%s message_id=%s (kept as {\"kind\": \"%s\"}; once per run)",
                    kind, message_id, kind)
