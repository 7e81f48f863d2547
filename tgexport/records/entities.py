"""Telethon message entities → plain dicts (`{"type", "offset", "length", …}`, UTF-16 units as sent)."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from telethon.tl import types

# The one extra field each entity kind carries: record key → TL attribute.
_EXTRA: dict[type, tuple[str, str]] = {
    types.MessageEntityTextUrl: ("url", "url"),
    types.MessageEntityMentionName: ("user_id", "user_id"),
    types.MessageEntityPre: ("language", "language"),
    types.MessageEntityCustomEmoji: ("custom_emoji_id", "document_id"),
}


@lru_cache(maxsize=64)
def snake_name(cls: type, prefix: str) -> str:
    """`MessageEntityTextUrl` with prefix `MessageEntity` → `text_url` (cached per class)."""
    name = cls.__name__.removeprefix(prefix) or "unknown"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def entity_dict(entity: Any) -> dict[str, Any]:
    """One entity: type (snake case TL name), offset, length, and its extra field when it has one."""
    cls = type(entity)
    item: dict[str, Any] = {"type": snake_name(cls, "MessageEntity"), "offset": int(entity.offset),
                            "length": int(entity.length)}
    extra = _EXTRA.get(cls)
    if extra is not None:
        value = getattr(entity, extra[1], None)
        item[extra[0]] = value if value is None or extra[0] in ("url", "language") else int(value)
    return item


def entity_dicts(entities: Any) -> list[dict[str, Any]]:
    """All entities of a message (`[]` for None)."""
    return [entity_dict(e) for e in entities] if entities else []
