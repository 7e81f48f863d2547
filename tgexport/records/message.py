"""Telethon `Message` → the plain message dict of export.json (Telethon types stop here).

Contract keys: id, date, text, media_files, forwarded, reply_to_msg_id, views, forwards.
Documented additions on every record (READER_KEYS): entities, text_markdown, edit_date,
grouped_id, post_author, pinned, reactions, replies, web_page, attachment. On some records:
`poll` (question, answers, totals) on poll messages, whose `text` is the question when the
message has no text of its own; `service` (`{"action": ...}`) on service messages, whose `text` is "".
"""
from __future__ import annotations

from operator import attrgetter
from typing import Any

from telethon.tl import types

from tgexport.core.timeutil import utc_iso
from tgexport.records.entities import entity_dicts, snake_name
from tgexport.records.extras import AttachmentReader, reactions_dict, replies_dict, web_page_dict
from tgexport.records.markdown import to_markdown

_REPLY_HEADER = types.MessageReplyHeader
CONTRACT_KEYS = ("id", "date", "text", "media_files", "forwarded", "reply_to_msg_id", "views", "forwards")
READER_KEYS = ("entities", "text_markdown", "edit_date", "grouped_id", "post_author", "pinned", "reactions",
               "replies", "web_page", "attachment")
_ATTACHMENTS = AttachmentReader()  # callers without a run of their own share this one
# What a record reads from a message besides id and date, in one C call for a `Message` (which has them all).
_FIELDS = ("message", "fwd_from", "reply_to", "entities", "edit_date", "reactions", "replies", "media", "views",
           "forwards", "grouped_id", "post_author", "pinned")
_READ_FIELDS = attrgetter(*_FIELDS)
_MESSAGE = types.Message


def _fields(message: Any) -> tuple[Any, ...]:
    """The _FIELDS of a message (None for those a `MessageService` or other kind has not got)."""
    if type(message) is _MESSAGE or isinstance(message, _MESSAGE):  # isinstance of a TL class is slow (ABC)
        return _READ_FIELDS(message)
    return tuple(getattr(message, name, None) for name in _FIELDS)


def _iso(moment: Any) -> str | None:
    return utc_iso(moment) if moment is not None else None


def _plain(text: Any) -> str:
    """A `TextWithEntities` or str → str ("" for None)."""
    if text is None:
        return ""
    return text if isinstance(text, str) else str(getattr(text, "text", "") or "")


def _forwarded(fwd: Any) -> dict[str, Any] | None:
    if fwd is None:
        return None
    return {
        "from_name": fwd.from_name,
        "date": _iso(fwd.date),
        "channel_post_id": fwd.channel_post,
        "post_author": fwd.post_author,
    }


def _reply_to(reply: Any) -> int | None:
    if isinstance(reply, types.MessageReplyHeader):
        return reply.reply_to_msg_id
    return None


def poll_dict(media: types.MessageMediaPoll) -> dict[str, Any]:
    """`{"question", "answers": [{"text", "voters"}], "total_voters", "closed", "quiz", "multiple_choice"}`."""
    poll = media.poll
    results = media.results
    votes = {r.option: r.voters for r in (getattr(results, "results", None) or [])}
    return {
        "question": _plain(poll.question),
        "answers": [{"text": _plain(a.text), "voters": votes.get(a.option)} for a in poll.answers],
        "total_voters": getattr(results, "total_voters", None),
        "closed": bool(poll.closed),
        "quiz": bool(poll.quiz),
        "multiple_choice": bool(poll.multiple_choice),
    }


def action_name(action: Any) -> str:
    """`MessageActionPinMessage` → `pin_message` (snake case of the TL name without the prefix)."""
    return snake_name(type(action), "MessageAction")


def service_dict(action: Any) -> dict[str, Any]:
    """`{"action": name}` plus `title` for actions that carry one (channel create, title edit)."""
    info: dict[str, Any] = {"action": action_name(action)}
    title = getattr(action, "title", None)
    if isinstance(title, str):
        info["title"] = title
    return info


def message_to_record(message: Any, media_files: list[dict[str, Any]] | None = None,
                      attachments: AttachmentReader | None = None) -> dict[str, Any]:
    """The export.json dict of one `Message`/`MessageService` (Telethon's or its custom subclass).

    Runs once per exported message: plain attribute reads and type() checks, no per-key helpers
    for the common case (a text message without entities, reactions or media; BENCHMARKS.md).
    `attachments` is the run's reader (one warning per unknown media kind and run).
    """
    message_id = int(message.id)
    date = message.date
    (text, fwd, reply, entities, edited, reactions, replies, media, views, forwards, grouped_id, post_author,
     pinned) = _fields(message)
    text = text if type(text) is str else _plain(text)
    found = entity_dicts(entities) if entities else []
    record: dict[str, Any] = {
        "id": message_id,
        "date": None if date is None else utc_iso(date),
        "text": text,
        "media_files": list(media_files) if media_files else [],
        "forwarded": None if fwd is None else _forwarded(fwd),
        "reply_to_msg_id": None if reply is None else (
            reply.reply_to_msg_id if type(reply) is _REPLY_HEADER else _reply_to(reply)),
        "views": views,
        "forwards": forwards,
        "entities": found,
        "text_markdown": to_markdown(text, found) if found else text,
        "edit_date": None if edited is None else utc_iso(edited),
        "grouped_id": grouped_id,
        "post_author": post_author,
        "pinned": bool(pinned),
        "reactions": None if reactions is None else reactions_dict(reactions),
        "replies": None if replies is None else replies_dict(replies),
        "web_page": None if media is None else web_page_dict(media),
        "attachment": None if media is None else (attachments or _ATTACHMENTS)(media, message_id),
    }
    if type(message) is not _MESSAGE and isinstance(message, types.MessageService):
        record["text"] = record["text_markdown"] = ""
        record["service"] = service_dict(message.action)
    elif media is not None and isinstance(media, types.MessageMediaPoll):
        record["poll"] = poll_dict(media)
        if not text:
            record["text"] = record["text_markdown"] = record["poll"]["question"]
    return record


class KeywordMatcher:
    """The `--keyword-filter` test, with the keywords casefolded once for the whole run."""

    def __init__(self, keywords: tuple[str, ...]) -> None:
        self.folded = tuple(word.casefold() for word in keywords)

    def __call__(self, record: dict[str, Any]) -> bool:
        """True when no keywords are set or the text (or a poll answer) contains any of them, ignoring case."""
        if not self.folded:
            return True
        haystack = record.get("text") or ""
        poll = record.get("poll")
        if poll:
            haystack = "\n".join([haystack, *(a.get("text") or "" for a in poll.get("answers", []))])
        folded = haystack.casefold()
        return any(word in folded for word in self.folded)


def matches_keywords(record: dict[str, Any], keywords: tuple[str, ...]) -> bool:
    """One-off `KeywordMatcher(keywords)(record)`; a run builds its matcher once."""
    return KeywordMatcher(keywords)(record)
