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


# Per entity class: (type name, record key of its extra field, TL attribute, whether it is an int),
# filled on first sight of the class (one dict lookup per entity after that).
_SPECS: dict[type, tuple[str, str | None, str, bool]] = {}


def _spec(cls: type) -> tuple[str, str | None, str, bool]:
    key, attr = _EXTRA.get(cls, (None, ""))
    spec = _SPECS[cls] = (snake_name(cls, "MessageEntity"), key, attr, key not in (None, "url", "language"))
    return spec


def entity_dict(entity: Any) -> dict[str, Any]:
    """One entity: type (snake case TL name), offset, length, and its extra field when it has one."""
    name, key, attr, as_int = _SPECS.get(type(entity)) or _spec(type(entity))
    item: dict[str, Any] = {"type": name, "offset": int(entity.offset), "length": int(entity.length)}
    if key is not None:
        value = getattr(entity, attr, None)
        item[key] = int(value) if as_int and value is not None else value
    return item


def entity_dicts(entities: Any) -> list[dict[str, Any]]:
    """All entities of a message (`[]` for None)."""
    return [entity_dict(e) for e in entities] if entities else []
