"""upload.getFile: Telegram's offset/limit rules, file references, media faults."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.protocol.rpc import CallContext, RpcError
from telegram_test_server.world import media

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi

_LOCATIONS = (types.InputDocumentFileLocation, types.InputPhotoFileLocation)


def _locate(api: ServerApi, location) -> tuple[int, int, int]:
    """(media id, channel id, message id) of a file location; LOCATION_INVALID / FILE_ID_INVALID."""
    if not isinstance(location, _LOCATIONS):
        raise RpcError(400, "LOCATION_INVALID")
    found = api.world.media_index.get(location.id)
    if found is None or location.access_hash != media.media_access_hash(api.world.seed, location.id):
        raise RpcError(400, "FILE_ID_INVALID")
    return location.id, found[0], found[1]


def _check_reference(api: ServerApi, mid: int, channel_id: int, message_id: int, ref: bytes) -> None:
    if not ref:
        raise RpcError(400, "FILE_REFERENCE_EMPTY")
    parsed = media.parse_reference(ref)
    if parsed is None or parsed[0] != mid:
        raise RpcError(400, "FILE_REFERENCE_INVALID")
    current = api.world.ref_version(channel_id, message_id)
    if parsed[1] != current or api.world.faults.reference_expired(api.world.target(channel_id, message_id)):
        raise RpcError(400, "FILE_REFERENCE_EXPIRED")


async def get_file(api: ServerApi, req: functions.upload.GetFileRequest, ctx: CallContext) -> types.upload.File:
    """upload.getFile: one part of a photo size or a document."""
    mid, channel_id, message_id = _locate(api, req.location)
    media.check_part(req.offset, req.limit, bool(req.precise))
    target = dataclasses.replace(api.world.target(channel_id, message_id, part=req.offset // req.limit),
                                 offset=req.offset, limit=req.limit)
    await api.world.faults.before_call("upload.getFile", target)
    _check_reference(api, mid, channel_id, message_id, req.location.file_reference)
    msg = api.world.channels[channel_id].messages[message_id]
    thumb = req.location.thumb_size
    size = media.downloadable_size(msg.media, thumb)
    if size is None:
        raise RpcError(400, "LOCATION_INVALID")
    key = api.world.file_key(channel_id, message_id, thumb)
    data = media.file_slice(key, size, req.offset, req.limit)
    return types.upload.File(type=media.file_type(msg.media), mtime=msg.date, bytes=data)


HANDLERS = {functions.upload.GetFileRequest: get_file}
UNAUTHORISED_OK: set = set()
