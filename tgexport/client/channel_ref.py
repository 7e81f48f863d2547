"""Parse a `--channel` value (docs/contract.md section 3) into a `ChannelRef`."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from errors import ConfigError

HOSTS = {"t.me", "telegram.me", "telegram.dog"}
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,31}$")
MARK_PREFIX = "-100"


@dataclass(frozen=True)
class ChannelRef:
    """A channel named by `username` or by bare positive `channel_id`; `post_id` from a post link."""

    username: str | None = None
    channel_id: int | None = None
    post_id: int | None = None

    def __post_init__(self) -> None:
        if (self.username is None) == (self.channel_id is None):
            raise ValueError("ChannelRef needs exactly one of username / channel_id")

    def describe(self) -> str:
        """Human form for messages: `@name` or `id 123`."""
        return f"@{self.username}" if self.username else f"id {self.channel_id}"


def _bad(raw: str, why: str) -> ConfigError:
    return ConfigError(f"invalid channel identifier {raw!r}: {why}")


def _username(name: str, raw: str) -> str:
    if not USERNAME_RE.match(name):
        raise _bad(raw, "expected a link (https://t.me/name), @name, name, a numeric id or -100… id")
    return name


def _post(segment: str | None, raw: str) -> int | None:
    if segment is None:
        return None
    if not segment.isdigit() or int(segment) <= 0:
        raise _bad(raw, f"post number {segment!r} is not a positive integer")
    return int(segment)


def _numeric(text: str, raw: str) -> ChannelRef:
    if text.startswith(MARK_PREFIX) and len(text) > len(MARK_PREFIX):
        value = int(text[len(MARK_PREFIX):])
    elif text.startswith("-"):
        raise _bad(raw, "negative ids must be marked channel ids starting with -100")
    else:
        value = int(text)
    if value <= 0:
        raise _bad(raw, "channel id must be positive")
    return ChannelRef(channel_id=value)


def _from_path(segments: list[str], raw: str) -> ChannelRef:
    if segments and segments[0] == "s":  # web preview: t.me/s/name[/post]
        segments = segments[1:]
    if segments and segments[0] == "c":  # private post link: t.me/c/<id>[/post]
        if len(segments) not in (2, 3) or not segments[1].isdigit() or int(segments[1]) <= 0:
            raise _bad(raw, "expected t.me/c/<channel id>/<post>")
        post = _post(segments[2] if len(segments) == 3 else None, raw)
        return ChannelRef(channel_id=int(segments[1]), post_id=post)
    if not segments or len(segments) > 2:
        raise _bad(raw, "expected t.me/<name> or t.me/<name>/<post>")
    if segments[0].startswith("+") or segments[0] in ("joinchat", "addlist"):
        raise _bad(raw, "invite links are not supported; use the channel's username or id")
    name = _username(segments[0], raw)
    return ChannelRef(username=name, post_id=_post(segments[1] if len(segments) == 2 else None, raw))


def _split_link(text: str) -> list[str] | None:
    """Path segments of a t.me-style link, or None when `text` is not such a link."""
    candidate = text if "://" in text else f"https://{text}"
    parts = urlsplit(candidate)
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if host not in HOSTS or parts.scheme.lower() not in ("http", "https"):
        return None
    return [s for s in parts.path.split("/") if s]


def parse_channel_ref(value: str | None) -> ChannelRef:
    """Parse any accepted form; ConfigError (CONFIG_ERROR) when it is empty or malformed."""
    raw = (value or "").strip()
    if not raw:
        raise ConfigError("--channel is empty")
    if re.fullmatch(r"-?\d+", raw):
        return _numeric(raw, raw)
    if raw.startswith("@"):
        return ChannelRef(username=_username(raw[1:], raw))
    if "/" in raw or "://" in raw:
        segments = _split_link(raw)
        if segments is None:
            raise _bad(raw, "only t.me, telegram.me and telegram.dog links are accepted")
        return _from_path(segments, raw)
    return ChannelRef(username=_username(raw, raw))
