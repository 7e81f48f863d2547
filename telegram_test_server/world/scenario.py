"""Scenario format (JSON file or dict): accounts, channels, messages, faults; the built-in `demo`.

The format is documented in docs/test-server.md. Loading validates every key, generates
messages, and returns plain dataclasses; nothing here knows about TL.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_USER_ID = 100001
DEFAULT_PHONE = "+15550100001"
DEFAULT_CODE = "12345"
DEFAULT_DC_ID = 2
DEFAULT_START_DATE = 1704067200  # 2024-01-01T00:00:00Z


class ScenarioError(ValueError):
    """The scenario is malformed (unknown key, wrong type, decreasing dates...)."""


@dataclass(frozen=True)
class Account:
    """One account that can sign in."""

    user_id: int = DEFAULT_USER_ID
    phone: str = DEFAULT_PHONE
    code: str = DEFAULT_CODE
    password: str | None = None
    hint: str = ""
    first_name: str = "Test"
    last_name: str | None = None
    username: str | None = "test_user"


@dataclass(frozen=True)
class PhotoSizeSpec:
    """One PhotoSize of a photo."""

    type: str
    w: int
    h: int
    size: int


@dataclass(frozen=True)
class MediaSpec:
    """A media item: photo, document/video, geo or unsupported."""

    type: str
    size: int = 0
    sizes: tuple[PhotoSizeSpec, ...] = ()
    mime_type: str = "application/octet-stream"
    file_name: str | None = None
    duration: float = 0.0
    w: int = 0
    h: int = 0
    supports_streaming: bool = False
    round_message: bool = False
    lat: float = 0.0
    long: float = 0.0
    content_of: int | None = None  # message id (same channel) whose media bytes this one shares
    same_file: bool = False  # with content_of: the very same Telegram file (same photo/document id), as a re-post
    edition: int = 0  # how many times an edit replaced the message's media (a new photo/document id each time)
    subtype: str | None = None  # document: voice | audio | sticker | animation | round_video
    fields: dict[str, Any] = field(default_factory=dict)  # an attachment's reader-visible fields (venue title…)


@dataclass
class MessageSpec:
    """One existing message; `text=None` means generated text of `text_length`."""

    id: int
    date: int
    text: str | None = ""
    text_length: int = 0
    views: int | None = None
    forwards: int | None = None
    post_author: str | None = None
    edit_date: int | None = None
    reply_to: int | None = None
    fwd_from: dict[str, Any] | None = None
    media: MediaSpec | None = None
    poll: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)  # export shape: type, offset, length, …
    reactions: list[dict[str, Any]] = field(default_factory=list)  # export item shape: type, emoji…, count
    grouped_id: int | None = None
    pinned: bool = False
    replies: dict[str, Any] | None = None  # {"count", "comments", "channel_id"}
    web_page: dict[str, Any] | None = None  # {"url", "display_url", "site_name", "title", "description"}
    styled: bool = False  # generated text: entities placed on its words when rendered (generate.entities_every)


@dataclass
class ChannelSpec:
    """A channel and its messages (sorted by id)."""

    id: int
    access_hash: int
    title: str
    username: str | None = None
    about: str = ""
    member: bool = True
    private: bool = False
    megagroup: bool = False
    date: int = DEFAULT_START_DATE
    participants_count: int = 1000
    date_step: int = 60
    text_length: int = 80
    messages: list[MessageSpec] = field(default_factory=list)


@dataclass
class Scenario:
    """A loaded scenario."""

    dc_id: int = DEFAULT_DC_ID
    seed: int = 1
    accounts: list[Account] = field(default_factory=lambda: [Account()])
    channels: list[ChannelSpec] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)  # discussion threads made at start


# --- small helpers -------------------------------------------------------------------------

def parse_date(value: Any, what: str = "date") -> int:
    """ISO 8601 string (Z allowed) or unix int → unix seconds."""
    if isinstance(value, bool):
        raise ScenarioError(f"{what}: expected ISO string or unix int, got {value!r}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ScenarioError(f"{what}: bad ISO date {value!r}") from exc
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return int(dt.timestamp())
    raise ScenarioError(f"{what}: expected ISO string or unix int, got {value!r}")


def normalize_phone(phone: str) -> str:
    """Digits only: '+1 555-0100' → '15550100'."""
    return "".join(ch for ch in str(phone) if ch.isdigit())


def derived_hash(*parts: Any) -> int:
    """A stable signed 64-bit number derived from `parts` (access hashes, ids)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _check_keys(obj: dict[str, Any], allowed: set[str], what: str) -> None:
    if not isinstance(obj, dict):
        raise ScenarioError(f"{what}: expected an object, got {type(obj).__name__}")
    unknown = set(obj) - allowed
    if unknown:
        raise ScenarioError(f"{what}: unknown keys {sorted(unknown)}")


# --- accounts ------------------------------------------------------------------------------

_ACCOUNT_KEYS = {"user_id", "phone", "code", "password", "hint", "first_name", "last_name", "username"}


def _load_account(raw: dict[str, Any]) -> Account:
    _check_keys(raw, _ACCOUNT_KEYS, "account")
    acc = Account(**raw)
    if not normalize_phone(acc.phone):
        raise ScenarioError(f"account {acc.user_id}: empty phone")
    return acc


# --- media ---------------------------------------------------------------------------------

_MEDIA_KEYS = {"type", "size", "sizes", "w", "h", "mime_type", "file_name", "duration",
               "supports_streaming", "round_message", "lat", "long", "content_of", "same_file", "subtype"}
# Media that are not files: the fields each may carry (served as the TL fields of the same name).
ATTACHMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "geo": ("lat", "long"), "venue": ("lat", "long", "title", "address"),
    "contact": ("first_name", "last_name", "phone_number"), "dice": ("emoji", "value"),
    "game": ("title",), "invoice": ("title",), "giveaway": ("title",), "story": ("story_id",),
    "unsupported": (), "unknown": (),
}
_MEDIA_TYPES = {"photo", "document", "video", *ATTACHMENT_FIELDS}
SUBTYPES = {"voice": "audio/ogg", "audio": "audio/mpeg", "sticker": "image/webp", "animation": "video/mp4",
            "round_video": "video/mp4"}  # subtype → default MIME type
_CONTENT_FAMILY = {"photo": "photo", "document": "document", "video": "document"}  # same bytes within a family


def _photo_sizes(raw: dict[str, Any]) -> tuple[PhotoSizeSpec, ...]:
    if "sizes" in raw:
        sizes = tuple(PhotoSizeSpec(s["type"], int(s["w"]), int(s["h"]), int(s["size"])) for s in raw["sizes"])
        if not sizes:
            raise ScenarioError("photo: empty sizes")
        return sizes
    size = int(raw.get("size", 50_000))
    w, h = int(raw.get("w", 1280)), int(raw.get("h", 960))
    return (PhotoSizeSpec("m", 320, 240, min(size, 8000)), PhotoSizeSpec("x", w, h, size))


def _check_content_of(raw: dict[str, Any], kind: str) -> None:
    """`content_of`: a message id, only on photos/documents/videos, sizes not given (they are copied)."""
    ref = raw["content_of"]
    if isinstance(ref, bool) or not isinstance(ref, int) or ref <= 0:
        raise ScenarioError(f"media.content_of: must be a positive message id, got {ref!r}")
    if kind not in _CONTENT_FAMILY:
        raise ScenarioError(f"media.content_of: not allowed on {kind!r} media")
    copied = {"size", "sizes", "w", "h"} if kind == "photo" else {"size"}
    if copied & set(raw):
        raise ScenarioError(f"media.content_of: {sorted(copied & set(raw))} come from message {ref}")


def load_media(raw: dict[str, Any]) -> MediaSpec:
    """Validate one media spec (`content_of` is resolved later, against its channel)."""
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind not in _MEDIA_TYPES:
        raise ScenarioError(f"media: type must be one of {sorted(_MEDIA_TYPES)}, got {kind!r}")
    if kind in ATTACHMENT_FIELDS and "content_of" not in raw:
        return _attachment(raw, kind)
    _check_keys(raw, _MEDIA_KEYS, "media")
    if "same_file" in raw and (not isinstance(raw["same_file"], bool) or "content_of" not in raw):
        raise ScenarioError("media.same_file: a boolean, only together with content_of")
    if "content_of" in raw:
        _check_content_of(raw, kind)
        return replace(load_media({k: v for k, v in raw.items() if k not in ("content_of", "same_file")}),
                       content_of=raw["content_of"], same_file=bool(raw.get("same_file", False)))
    subtype = raw.get("subtype")
    if subtype is not None and (kind != "document" or subtype not in SUBTYPES):
        raise ScenarioError(f"media.subtype: one of {sorted(SUBTYPES)}, on documents only")
    if kind == "photo":
        sizes = _photo_sizes(raw)
        return MediaSpec(type="photo", sizes=sizes, size=max(s.size for s in sizes), mime_type="image/jpeg")
    size = int(raw.get("size", 0))
    if size < 0:
        raise ScenarioError("media: negative size")
    default_mime = SUBTYPES.get(subtype) or ("video/mp4" if kind == "video" else "application/octet-stream")
    return MediaSpec(
        type=kind, size=size, mime_type=raw.get("mime_type") or default_mime, subtype=subtype,
        file_name=raw.get("file_name"), duration=float(raw.get("duration", 10.0)),
        w=int(raw.get("w", 1280 if kind == "video" else 0)), h=int(raw.get("h", 720 if kind == "video" else 0)),
        supports_streaming=bool(raw.get("supports_streaming", kind == "video")),
        round_message=bool(raw.get("round_message", False)),
    )


def _attachment(raw: dict[str, Any], kind: str) -> MediaSpec:
    """A media that is not a file: only its kind's fields (ATTACHMENT_FIELDS) besides `type`."""
    allowed = ATTACHMENT_FIELDS[kind]
    extra = set(raw) - {"type", *allowed}
    if extra:
        raise ScenarioError(f"media {kind!r}: unknown keys {sorted(extra)} (allowed: {list(allowed)})")
    fields = {k: raw[k] for k in allowed if k in raw}
    return MediaSpec(type=kind, lat=float(raw.get("lat", 0.0)), long=float(raw.get("long", 0.0)), fields=fields)


def resolve_content_of(msg: MessageSpec, earlier: Mapping[int, MessageSpec]) -> None:
    """Point `msg.media.content_of` at the original media (an earlier message) and copy its sizes."""
    spec = msg.media
    if spec is None or spec.content_of is None:
        return
    source = earlier.get(spec.content_of) if spec.content_of < msg.id else None
    src = source.media if source is not None else None
    if src is None or _CONTENT_FAMILY.get(src.type) != _CONTENT_FAMILY[spec.type]:
        raise ScenarioError(f"message {msg.id}: media.content_of {spec.content_of} is not an earlier message "
                            f"of the channel with {_CONTENT_FAMILY[spec.type]} media")
    msg.media = replace(spec, content_of=src.content_of or spec.content_of, size=src.size, sizes=src.sizes)


# --- explicit messages ---------------------------------------------------------------------

_MESSAGE_KEYS = {"id", "date", "text", "views", "forwards", "post_author", "edit_date", "reply_to",
                 "fwd_from", "media", "poll", "service", "entities", "reactions", "grouped_id", "pinned",
                 "replies", "web_page"}
_ENTITY_EXTRA = {"text_url": "url", "mention_name": "user_id", "pre": "language", "custom_emoji": "custom_emoji_id"}
_REACTION_KEYS = {"emoji": "emoji", "custom_emoji": "custom_emoji_id", "paid": None}
_WEB_PAGE_KEYS = ("url", "display_url", "site_name", "title", "description")
_FWD_KEYS = {"from_name", "date", "from_channel", "channel_post", "post_author"}
_POLL_KEYS = {"question", "answers", "voters", "closed", "quiz", "multiple_choice"}
_SERVICE_ACTIONS = {"pin", "channel_create", "edit_title", "delete_photo"}


def _load_fwd(raw: dict[str, Any], date: int) -> dict[str, Any]:
    _check_keys(raw, _FWD_KEYS, "fwd_from")
    fwd = dict(raw)
    fwd["date"] = parse_date(raw.get("date", date - 86400), "fwd_from.date")
    return fwd


def _load_poll(raw: dict[str, Any]) -> dict[str, Any]:
    _check_keys(raw, _POLL_KEYS, "poll")
    answers = list(raw.get("answers") or [])
    if len(answers) < 2:
        raise ScenarioError("poll: needs at least two answers")
    voters = list(raw.get("voters") or [0] * len(answers))
    if len(voters) != len(answers):
        raise ScenarioError("poll: voters and answers differ in length")
    return {"question": str(raw.get("question", "")), "answers": [str(a) for a in answers],
            "voters": [int(v) for v in voters], "closed": bool(raw.get("closed", False)),
            "quiz": bool(raw.get("quiz", False)), "multiple_choice": bool(raw.get("multiple_choice", False))}


def _load_service(raw: dict[str, Any]) -> dict[str, Any]:
    _check_keys(raw, {"action", "title", "reply_to"}, "service")
    if raw.get("action") not in _SERVICE_ACTIONS:
        raise ScenarioError(f"service: action must be one of {sorted(_SERVICE_ACTIONS)}")
    return dict(raw)


def _load_entities(raw: Any) -> list[dict[str, Any]]:
    """`[{"type", "offset", "length", extra?}]`: the export's entity shape (UTF-16 offsets)."""
    out = []
    for item in raw or []:
        kind = item.get("type") if isinstance(item, dict) else None
        extra = _ENTITY_EXTRA.get(kind or "")
        _check_keys(item, {"type", "offset", "length", *([extra] if extra else [])}, "entity")
        if not isinstance(kind, str) or not all(isinstance(item.get(k), int) for k in ("offset", "length")):
            raise ScenarioError(f"entity: needs a type and integer offset and length, got {item!r}")
        out.append(dict(item))
    return out


def _load_reactions(raw: Any) -> list[dict[str, Any]]:
    """`[{"type": "emoji"|"custom_emoji"|"paid", "emoji"|"custom_emoji_id", "count"}]`."""
    out = []
    for item in raw or []:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in _REACTION_KEYS:
            raise ScenarioError(f"reaction: type must be one of {sorted(_REACTION_KEYS)}, got {kind!r}")
        key = _REACTION_KEYS[kind]
        _check_keys(item, {"type", "count", *([key] if key else [])}, "reaction")
        out.append(dict(item))
    return out


def _load_replies(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    _check_keys(raw, {"count", "comments", "channel_id"}, "replies")
    return {"count": int(raw.get("count", 0)), "comments": bool(raw.get("comments", False)),
            "channel_id": raw.get("channel_id")}


def _load_web_page(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    _check_keys(raw, set(_WEB_PAGE_KEYS), "web_page")
    if not isinstance(raw.get("url"), str):
        raise ScenarioError("web_page: url is required")
    return {k: raw.get(k) for k in _WEB_PAGE_KEYS}


def load_message(raw: dict[str, Any], default_date: int) -> MessageSpec:
    """Validate one explicit message; `default_date` is used when it has no date."""
    _check_keys(raw, _MESSAGE_KEYS, "message")
    if not isinstance(raw.get("id"), int) or raw["id"] <= 0:
        raise ScenarioError(f"message: id must be a positive int, got {raw.get('id')!r}")
    date = parse_date(raw["date"], "message.date") if "date" in raw else default_date
    if raw.get("web_page") and (raw.get("media") or raw.get("poll")):
        raise ScenarioError(f"message {raw['id']}: web_page is the message's media; no media or poll with it")
    return MessageSpec(
        id=raw["id"], date=date, text=str(raw.get("text", "")),
        views=raw.get("views"), forwards=raw.get("forwards"), post_author=raw.get("post_author"),
        edit_date=parse_date(raw["edit_date"]) if raw.get("edit_date") is not None else None,
        reply_to=raw.get("reply_to"),
        fwd_from=_load_fwd(raw["fwd_from"], date) if raw.get("fwd_from") else None,
        media=load_media(raw["media"]) if raw.get("media") else None,
        poll=_load_poll(raw["poll"]) if raw.get("poll") else None,
        service=_load_service(raw["service"]) if raw.get("service") else None,
        entities=_load_entities(raw.get("entities")), reactions=_load_reactions(raw.get("reactions")),
        grouped_id=raw.get("grouped_id"), pinned=bool(raw.get("pinned", False)),
        replies=_load_replies(raw.get("replies")), web_page=_load_web_page(raw.get("web_page")),
    )


# --- generated messages --------------------------------------------------------------------

_GENERATE_KEYS = {"count", "first_id", "gap_every", "deleted", "start_date", "date_step", "text_length",
                  "views", "reply_every", "forward_every", "poll_every", "service_every", "media",
                  "entities_every", "reactions_every", "comments_every", "discussion_id"}


def _every(value: int, n: int) -> bool:
    return n > 0 and value % n == 0


def _generated_ids(gen: dict[str, Any]) -> list[int]:
    count, first = int(gen["count"]), int(gen.get("first_id", 1))
    gap, deleted = int(gen.get("gap_every", 0)), set(gen.get("deleted", []))
    if gap == 1:
        raise ScenarioError("generate.gap_every: 1 would delete every id")
    ids: list[int] = []
    msg_id = first
    while len(ids) < count:
        if not _every(msg_id, gap) and msg_id not in deleted:
            ids.append(msg_id)
        msg_id += 1
    return ids


class _MediaRules:
    """`generate.media`: which id gets which media (sizes used round-robin)."""

    def __init__(self, rules: list[dict[str, Any]]) -> None:
        self._rules = [self._split(r) for r in rules]
        self._uses = [0] * len(self._rules)

    @staticmethod
    def _split(rule: dict[str, Any]) -> tuple[int, set[int], dict[str, Any]]:
        spec = {k: v for k, v in rule.items() if k not in ("every", "ids")}
        return int(rule.get("every", 0)), set(rule.get("ids", [])), spec

    def media_for(self, msg_id: int) -> MediaSpec | None:
        for index, (every, ids, spec) in enumerate(self._rules):
            if msg_id in ids or _every(msg_id, every):
                spec = dict(spec)
                if isinstance(spec.get("size"), list):
                    spec["size"] = spec["size"][self._uses[index] % len(spec["size"])]
                self._uses[index] += 1
                return load_media(spec)
        return None


def _generated_message(msg_id: int, date: int, prev: int | None, gen: dict[str, Any],
                       media: _MediaRules) -> MessageSpec:
    msg = MessageSpec(id=msg_id, date=date, text=None, text_length=int(gen.get("text_length", 80)))
    if gen.get("views", True):
        msg.views, msg.forwards = 100 + (msg_id * 37) % 1000, msg_id % 7
    if _every(msg_id, int(gen.get("service_every", 0))):
        n = msg_id // int(gen["service_every"])
        msg.service = ({"action": "pin", "reply_to": prev} if prev and n % 2 else
                       {"action": "edit_title", "title": f"Renamed {msg_id}"})
        msg.text, msg.views, msg.forwards = "", None, None
        return msg
    if _every(msg_id, int(gen.get("poll_every", 0))):
        msg.poll = {"question": f"Poll {msg_id}?", "answers": ["Yes", "No", "Maybe"],
                    "voters": [msg_id % 11, msg_id % 5, 3], "closed": False, "quiz": False,
                    "multiple_choice": False}
        msg.text = ""
        return msg
    msg.media = media.media_for(msg_id)
    if _every(msg_id, int(gen.get("reply_every", 0))) and prev:
        msg.reply_to = prev
    _reader_extras(msg, gen)
    every = int(gen.get("forward_every", 0))
    if _every(msg_id, every):
        msg.fwd_from = ({"from_name": "Hidden Sender", "date": date - 86400} if (msg_id // every) % 2 else
                        {"from_channel": 1000000001, "channel_post": msg_id, "post_author": "Original Author",
                         "date": date - 86400})
    return msg


def _reader_extras(msg: MessageSpec, gen: dict[str, Any]) -> None:
    """`entities_every`, `reactions_every`, `comments_every`: what readers see on many real posts."""
    msg_id = msg.id
    msg.styled = _every(msg_id, int(gen.get("entities_every", 0)))
    if _every(msg_id, int(gen.get("reactions_every", 0))):
        msg.reactions = [{"type": "emoji", "emoji": "👍", "count": 1 + msg_id % 50},
                         {"type": "emoji", "emoji": "🔥", "count": 1 + msg_id % 7}]
    if _every(msg_id, int(gen.get("comments_every", 0))):
        msg.replies = {"count": msg_id % 30, "comments": True, "channel_id": gen.get("discussion_id")}


def generate_messages(gen: dict[str, Any]) -> tuple[list[MessageSpec], int, int]:
    """Messages from a `generate` block; also returns (start_date, date_step)."""
    _check_keys(gen, _GENERATE_KEYS, "generate")
    if "count" not in gen:
        raise ScenarioError("generate: count is required")
    start = parse_date(gen.get("start_date", DEFAULT_START_DATE), "generate.start_date")
    step, first = int(gen.get("date_step", 60)), int(gen.get("first_id", 1))
    if step < 0:
        raise ScenarioError("generate.date_step: must be >= 0")
    media = _MediaRules(list(gen.get("media", [])))
    out: list[MessageSpec] = []
    prev: int | None = None
    for msg_id in _generated_ids(gen):
        out.append(_generated_message(msg_id, start + (msg_id - first) * step, prev, gen, media))
        prev = msg_id
    return out, start, step


# --- channels ------------------------------------------------------------------------------

_CHANNEL_KEYS = {"id", "access_hash", "username", "title", "about", "member", "private", "megagroup",
                 "date", "participants_count", "generate", "messages"}


def _merge_messages(generated: list[MessageSpec], explicit: list[dict[str, Any]], start: int, step: int,
                    first_id: int) -> list[MessageSpec]:
    by_id = {m.id: m for m in generated}
    for raw in explicit:
        msg_id = raw.get("id") if isinstance(raw, dict) else None
        default_date = start + ((msg_id or first_id) - first_id) * step
        msg = load_message(raw, default_date)
        by_id[msg.id] = msg
    messages = [by_id[k] for k in sorted(by_id)]
    for older, newer in zip(messages, messages[1:], strict=False):
        if newer.date < older.date:
            raise ScenarioError(f"message {newer.id}: date goes back in time (older than message {older.id})")
    for msg in messages:
        resolve_content_of(msg, by_id)
    return messages


def load_channel(raw: dict[str, Any]) -> ChannelSpec:
    """Validate one channel and build its messages."""
    _check_keys(raw, _CHANNEL_KEYS, "channel")
    if not isinstance(raw.get("id"), int) or not 0 < raw["id"] < 2**39:
        raise ScenarioError(f"channel: id must be a positive int below 2**39, got {raw.get('id')!r}")
    gen = raw.get("generate")
    generated, start, step = generate_messages(gen) if gen else ([], DEFAULT_START_DATE, 60)
    first_id = int(gen.get("first_id", 1)) if gen else 1
    messages = _merge_messages(generated, list(raw.get("messages", [])), start, step, first_id)
    channel_id = raw["id"]
    return ChannelSpec(
        id=channel_id, access_hash=int(raw.get("access_hash", derived_hash("channel", channel_id))),
        title=str(raw.get("title", f"Channel {channel_id}")), username=raw.get("username"),
        about=str(raw.get("about", "")), member=bool(raw.get("member", True)),
        private=bool(raw.get("private", False)), megagroup=bool(raw.get("megagroup", False)),
        date=parse_date(raw.get("date", start), "channel.date"),
        participants_count=int(raw.get("participants_count", 1000)),
        date_step=step or 60, text_length=int(gen.get("text_length", 80)) if gen else 80, messages=messages,
    )


# --- scenario ------------------------------------------------------------------------------

_SCENARIO_KEYS = {"dc_id", "seed", "accounts", "channels", "faults", "comments", "name", "description"}
_COMMENTS_KEYS = {"channel", "post", "count", "messages"}


def _load_comments(raw: Any) -> list[dict[str, Any]]:
    """`comments`: [{"channel": id or username, "post": id, "count": n, "messages": [...]}] (threads at start)."""
    if not isinstance(raw, list):
        raise ScenarioError("comments: expected a list")
    for item in raw:
        if not isinstance(item, dict):
            raise ScenarioError("comments: every item must be an object")
        _check_keys(item, _COMMENTS_KEYS, "comments item")
        if not isinstance(item.get("post"), int) or "channel" not in item:
            raise ScenarioError("comments item: needs \"channel\" and an integer \"post\"")
    return list(raw)


def _check_unique(values: list[Any], what: str) -> None:
    seen = [v for v in values if v is not None]
    if len(seen) != len(set(seen)):
        raise ScenarioError(f"duplicate {what}")


def scenario_from_dict(raw: dict[str, Any]) -> Scenario:
    """Validate a scenario dict."""
    _check_keys(raw, _SCENARIO_KEYS, "scenario")
    accounts = [_load_account(a) for a in raw.get("accounts") or [{}]]
    channels = [load_channel(c) for c in raw.get("channels", [])]
    _check_unique([a.user_id for a in accounts], "account user_id")
    _check_unique([normalize_phone(a.phone) for a in accounts], "account phone")
    _check_unique([c.id for c in channels], "channel id")
    _check_unique([(c.username or "").lower() or None for c in channels], "channel username")
    faults = list(raw.get("faults", []))
    from telegram_test_server.world.faults import parse_rules  # local: faults imports nothing from here
    parse_rules(faults)  # validate early
    return Scenario(dc_id=int(raw.get("dc_id", DEFAULT_DC_ID)), seed=int(raw.get("seed", 1)),
                    accounts=accounts, channels=channels, faults=faults,
                    comments=_load_comments(raw.get("comments", [])))


def load_scenario(source: str | Path | dict[str, Any] | Scenario) -> Scenario:
    """A Scenario from a dict, a JSON file path, a JSON string, or the name `demo`."""
    if isinstance(source, Scenario):
        return source
    if isinstance(source, dict):
        return scenario_from_dict(source)
    text = str(source)
    if text == "demo":
        return scenario_from_dict(demo_dict())
    if text.lstrip().startswith("{"):
        return scenario_from_dict(json.loads(text))
    path = Path(source)
    if not path.is_file():
        raise ScenarioError(f"scenario file not found: {path}")
    return scenario_from_dict(json.loads(path.read_text(encoding="utf-8")))


# --- built-in demo -------------------------------------------------------------------------

DEMO_CHANNEL_ID = 1987654321
DEMO_USERNAME = "demo_channel"


def _demo_documents() -> list[dict[str, Any]]:
    docs: list[tuple[int, str, int, str | None]] = [
        (11, "application/pdf", 1_572_864, "annual-report.pdf"),
        (37, "application/zip", 300_000, "archive.zip"),
        (59, "text/plain", 0, "empty.txt"),
        (61, "text/plain", 1, "one-byte.txt"),
        (83, "application/octet-stream", 4095, "block-minus-one.bin"),
        (85, "application/octet-stream", 4096, "block.bin"),
        (777, "text/x-sh", 2_000, "../../x.sh"),
        (901, "application/pdf", 250_000, None),
    ]
    out = [{"ids": [i], "type": "document", "mime_type": m, "size": s, "file_name": n} for i, m, s, n in docs]
    out.append({"ids": [1001], "type": "video", "mime_type": "video/mp4", "size": 6 * 1024 * 1024 + 12345,
                "file_name": "big-clip.mp4", "duration": 95.0, "w": 1920, "h": 1080})
    out.append({"ids": [123, 1111], "type": "video", "mime_type": "video/mp4", "size": [500_000, 700_000],
                "file_name": "clip.mp4", "duration": 7.5, "w": 640, "h": 360})
    out.append({"every": 50, "type": "photo", "size": [20_000, 60_000, 150_000, 400_000], "w": 1280, "h": 960})
    return out


def demo_dict() -> dict[str, Any]:
    """The built-in `demo` scenario as a dict (one public channel @demo_channel)."""
    return {
        "name": "demo",
        "dc_id": DEFAULT_DC_ID,
        "channels": [{
            "id": DEMO_CHANNEL_ID, "access_hash": 7_305_114_228_190_412_345, "username": DEMO_USERNAME,
            "title": "Demo channel", "about": "Built-in demo channel of the local Telegram test server",
            "participants_count": 4242,
            "generate": {
                "count": 1200, "gap_every": 8, "deleted": [2, 3, 500, 501, 502, 503],
                "start_date": "2024-01-01T00:00:00Z", "date_step": 3600, "text_length": 120,
                "reply_every": 9, "forward_every": 13, "poll_every": 301, "service_every": 97,
                "media": _demo_documents(),
            },
            "messages": [
                {"id": 1, "service": {"action": "channel_create", "title": "Demo channel"}},
                {"id": 4, "text": "Welcome to the demo channel! Hostile title below.", "views": 5000,
                 "forwards": 12, "post_author": "Admin"},
                {"id": 5, "text": "Forwarded from a channel", "views": 10,
                 "fwd_from": {"from_channel": 1000000001, "channel_post": 42, "post_author": "Someone",
                              "date": "2023-12-31T12:00:00Z"}},
            ],
        }],
    }
