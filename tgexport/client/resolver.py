"""`ChannelRef` → Telethon `Channel`, using the session's entity cache first (never bulk resolve).

Usernames go through `client.get_input_entity`, answered from the session's entity table
once the channel was seen (so `contacts.resolveUsername` runs once per session), then one
`channels.getChannels` by id + access hash for the current title. Ids become
`PeerChannel(id)`: the cache, else Telethon's `channels.getChannels` with access_hash 0
(Telegram honours that only for bots; user accounts get CHANNEL_INVALID), else a scan of
the account's dialogs, which also fills the cache.

Error codes: a malformed identifier or one that names a user/group is CONFIG_ERROR (the
caller must fix `--channel`); a well-formed identifier Telegram does not answer with an
accessible channel (no such username, unknown id, private/banned) is EXTERNAL_API_ERROR.
"""
from __future__ import annotations

import logging
from typing import Any

from telethon import errors as tl_errors
from telethon import types

from errors import ConfigError, ExternalApiError
from tgexport.client.channel_ref import ChannelRef, parse_channel_ref

log = logging.getLogger("tgexport.client.resolver")


def _not_found(ref: ChannelRef) -> ExternalApiError:
    how = "username" if ref.username else "id"
    return ExternalApiError(f"channel not found: no channel with {how} {ref.describe()} is visible to this account",
                            hint="check the channel's name or id (`channels` lists what this account sees); "
                                 "running it again unchanged gives the same answer")


def _private(ref: ChannelRef) -> ExternalApiError:
    return ExternalApiError(f"channel {ref.describe()} is private or not accessible to this account",
                            hint="join the channel with this account in a Telegram app (or use an account that "
                                 "is a member), then run again")


async def _input_by_username(client: Any, ref: ChannelRef) -> Any:
    try:
        return await client.get_input_entity(ref.username)
    except (ValueError, tl_errors.UsernameNotOccupiedError, tl_errors.UsernameInvalidError) as exc:
        raise _not_found(ref) from exc
    except tl_errors.ChannelPrivateError as exc:
        raise _private(ref) from exc


async def _scan_dialogs(client: Any, channel_id: int) -> Any | None:
    """Find a channel by id among the account's dialogs (fills the entity cache)."""
    async for dialog in client.iter_dialogs():
        entity = dialog.entity
        if isinstance(entity, types.Channel) and entity.id == channel_id:
            return types.InputPeerChannel(entity.id, entity.access_hash or 0)
    return None


async def _input_by_id(client: Any, ref: ChannelRef) -> Any:
    try:
        return await client.get_input_entity(types.PeerChannel(ref.channel_id))
    except ValueError:
        log.info("channel id %s not in the session cache; looking through dialogs", ref.channel_id)
    except tl_errors.ChannelPrivateError as exc:
        raise _private(ref) from exc
    found = await _scan_dialogs(client, ref.channel_id)
    if found is None:
        raise _not_found(ref)
    return found


async def _full_channel(client: Any, peer: Any, ref: ChannelRef) -> types.Channel:
    if not isinstance(peer, types.InputPeerChannel):
        kind = "user" if isinstance(peer, types.InputPeerUser | types.InputPeerSelf) else "group"
        raise ConfigError(f"{ref.describe()} is a {kind}, not a channel")
    try:
        entity = await client.get_entity(peer)
    except (tl_errors.ChannelPrivateError, tl_errors.ChannelPublicGroupNaError) as exc:
        raise _private(ref) from exc
    except (tl_errors.ChannelInvalidError, ValueError) as exc:
        raise _not_found(ref) from exc
    if not isinstance(entity, types.Channel):
        raise _private(ref)
    return entity


async def resolve_channel(client: Any, identifier_or_ref: str | ChannelRef) -> types.Channel:
    """Resolve a `--channel` value or `ChannelRef` to a full `Channel` (username resolved at most once)."""
    ref = identifier_or_ref if isinstance(identifier_or_ref, ChannelRef) else parse_channel_ref(identifier_or_ref)
    if ref.username:
        peer = await _input_by_username(client, ref)
    else:
        peer = await _input_by_id(client, ref)
    return await _full_channel(client, peer, ref)


def channel_username(entity: Any) -> str | None:
    """The channel's public username: `username`, else the first active of `usernames`, else None."""
    if getattr(entity, "username", None):
        return entity.username
    for item in getattr(entity, "usernames", None) or []:
        if getattr(item, "active", False):
            return item.username
    return None


def cached_channel_peer(client: Any, ref: ChannelRef) -> types.InputPeerChannel | None:
    """The channel's input peer from the session's entity cache alone (no request); None when not cached."""
    key: Any = ref.username if ref.username else types.PeerChannel(ref.channel_id or 0)
    try:
        peer = client.session.get_input_entity(key)
    except (ValueError, TypeError):
        return None
    return peer if isinstance(peer, types.InputPeerChannel) else None


def names_channel(ref: ChannelRef, entity: Any) -> bool:
    """True when `entity` is the channel `ref` names (its id, or one of its usernames, any case)."""
    if ref.channel_id is not None:
        return int(getattr(entity, "id", 0)) == ref.channel_id
    names = {getattr(entity, "username", None) or ""}
    names.update(getattr(item, "username", "") for item in getattr(entity, "usernames", None) or [])
    return (ref.username or "").lower() in {n.lower() for n in names if n}
