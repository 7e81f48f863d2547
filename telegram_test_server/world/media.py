"""Deterministic media bytes, Photo/Document TL objects, and upload.getFile slicing rules.

A file's bytes are a 65,537-byte block (SHAKE-256 of the file key) repeated: cheap for any
size, different at every 4 KiB-aligned offset of a file under 256 MiB, and the same in the
server and in tests (`file_bytes`).
"""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache

from telethon.tl import types

from telegram_test_server.protocol.rpc import RpcError
from telegram_test_server.world.scenario import MediaSpec, derived_hash

BLOCK = 65_537
KIB = 1024
MIB = 1024 * 1024
MAIN = ""  # thumb_size of a document's main file


# --- bytes ---------------------------------------------------------------------------------

def file_key(seed: int, media_id: int, thumb: str = MAIN) -> int:
    """The key of one downloadable file (a document, or one PhotoSize of a photo)."""
    return derived_hash("file", seed, media_id, thumb) & (2**63 - 1)


@lru_cache(maxsize=256)
def _block(key: int) -> bytes:
    return hashlib.shake_256(key.to_bytes(8, "big")).digest(BLOCK)


def file_slice(key: int, size: int, offset: int, limit: int) -> bytes:
    """Bytes [offset, offset+limit) of the file (clipped at `size`)."""
    end = min(size, offset + limit)
    if offset >= end:
        return b""
    block = _block(key)
    start = offset % BLOCK
    repeats = (start + end - offset) // BLOCK + 1
    return (block * repeats)[start:start + end - offset]


def file_bytes(key: int, size: int) -> bytes:
    """The whole file (tests compare its sha256 with a download)."""
    return file_slice(key, size, 0, size)


# --- TL objects ----------------------------------------------------------------------------

def media_id(channel_id: int, message_id: int, edition: int = 0) -> int:
    """The photo/document id of a message's media (unique per channel, message and edition: an edit
    that replaces the media gives it a new id)."""
    return ((edition & 0x7F) << 56) | (channel_id << 24) | (message_id & 0xFFFFFF)


def content_id(spec: MediaSpec, channel_id: int, mid: int) -> int:
    """The media id whose bytes this media serves: its own, or the original's (`content_of`)."""
    return media_id(channel_id, spec.content_of) if spec.content_of else mid


def media_access_hash(seed: int, mid: int) -> int:
    """access_hash of a photo/document."""
    return derived_hash("media", seed, mid)


def file_reference(mid: int, version: int) -> bytes:
    """The file_reference handed out for a media at a given version."""
    return b"\x02" + mid.to_bytes(8, "big") + version.to_bytes(4, "big") + b"tgts"


def parse_reference(ref: bytes) -> tuple[int, int] | None:
    """(media id, version) of a reference, or None when it is not one of ours."""
    if len(ref) != 17 or ref[:1] != b"\x02" or ref[13:] != b"tgts":
        return None
    return int.from_bytes(ref[1:9], "big"), int.from_bytes(ref[9:13], "big")


def _date(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def photo(spec: MediaSpec, mid: int, seed: int, version: int, date: int, dc_id: int) -> types.Photo:
    """A Photo with its PhotoSize list."""
    sizes = [types.PhotoSize(type=s.type, w=s.w, h=s.h, size=s.size) for s in spec.sizes]
    return types.Photo(id=mid, access_hash=media_access_hash(seed, mid), file_reference=file_reference(mid, version),
                       date=_date(date), sizes=sizes, dc_id=dc_id)


def _subtype_attributes(spec: MediaSpec) -> list:
    """The attributes Telegram sends for a voice note, audio, sticker, animation or round video."""
    seconds = int(spec.duration)
    if spec.subtype in ("voice", "audio"):
        return [types.DocumentAttributeAudio(duration=seconds, voice=spec.subtype == "voice" or None,
                                             title="Track" if spec.subtype == "audio" else None)]
    if spec.subtype == "sticker":
        return [types.DocumentAttributeImageSize(w=512, h=512),
                types.DocumentAttributeSticker(alt="🙂", stickerset=types.InputStickerSetEmpty())]
    video = types.DocumentAttributeVideo(duration=spec.duration, w=spec.w or 240, h=spec.h or 240,
                                         round_message=spec.subtype == "round_video" or None)
    return [types.DocumentAttributeAnimated(), video] if spec.subtype == "animation" else [video]


def _document_attributes(spec: MediaSpec) -> list:
    attrs: list = _subtype_attributes(spec) if spec.subtype else []
    if spec.type == "video":
        attrs.append(types.DocumentAttributeVideo(duration=spec.duration, w=spec.w, h=spec.h,
                                                  supports_streaming=spec.supports_streaming or None,
                                                  round_message=spec.round_message or None))
    if spec.file_name is not None:
        attrs.append(types.DocumentAttributeFilename(file_name=spec.file_name))
    return attrs


def document(spec: MediaSpec, mid: int, seed: int, version: int, date: int, dc_id: int) -> types.Document:
    """A Document with mime type, size and attributes."""
    return types.Document(id=mid, access_hash=media_access_hash(seed, mid), file_reference=file_reference(mid, version),
                          date=_date(date), mime_type=spec.mime_type, size=spec.size, dc_id=dc_id,
                          attributes=_document_attributes(spec))


def message_media(spec: MediaSpec, mid: int, seed: int, version: int, date: int, dc_id: int):
    """The MessageMedia* object of a message."""
    if spec.type == "photo":
        return types.MessageMediaPhoto(photo=photo(spec, mid, seed, version, date, dc_id))
    if spec.type in ("document", "video"):
        return types.MessageMediaDocument(document=document(spec, mid, seed, version, date, dc_id),
                                          video=True if spec.type == "video" else None,
                                          voice=spec.subtype == "voice" or None,
                                          round=spec.subtype == "round_video" or None)
    return attachment_media(spec, mid, date)


def attachment_media(spec: MediaSpec, mid: int, date: int):
    """The MessageMedia* of a media that is not a file (`unknown`: a kind the parser does not know)."""
    f, geo = spec.fields, types.GeoPoint(long=spec.long, lat=spec.lat, access_hash=0)
    title = f.get("title", "")
    builders = {
        "geo": lambda: types.MessageMediaGeo(geo=geo),
        "venue": lambda: types.MessageMediaVenue(geo=geo, title=title, address=f.get("address", ""),
                                                 provider="", venue_id="", venue_type=""),
        "contact": lambda: types.MessageMediaContact(phone_number=f.get("phone_number", ""), vcard="", user_id=0,
                                                     first_name=f.get("first_name", ""),
                                                     last_name=f.get("last_name", "")),
        "dice": lambda: types.MessageMediaDice(value=int(f.get("value", 1)), emoticon=f.get("emoji", "🎲")),
        "game": lambda: types.MessageMediaGame(game=types.Game(
            id=mid, access_hash=0, short_name="game", title=title, description="", photo=types.PhotoEmpty(id=mid))),
        "invoice": lambda: types.MessageMediaInvoice(title=title, description="", currency="XTR", total_amount=100,
                                                     start_param=""),
        "giveaway": lambda: types.MessageMediaGiveaway(channels=[mid >> 24], quantity=3, until_date=_date(date),
                                                       prize_description=title or None),
        "story": lambda: types.MessageMediaStory(peer=types.PeerChannel(mid >> 24), id=int(f.get("story_id", 1))),
        "unknown": lambda: types.MessageMediaPaidMedia(stars_amount=5, extended_media=[]),
    }
    return builders.get(spec.type, types.MessageMediaUnsupported)()


def downloadable_size(spec: MediaSpec, thumb: str) -> int | None:
    """Size of the file named by thumb_size (photo size type, or '' for a document), or None."""
    if spec.type == "photo":
        return next((s.size for s in spec.sizes if s.type == thumb), None)
    if spec.type in ("document", "video") and thumb == MAIN:
        return spec.size
    return None


def file_type(spec: MediaSpec):
    """storage.FileType of a getFile answer."""
    if spec.type == "photo":
        return types.storage.FileJpeg()
    if spec.mime_type == "video/mp4":
        return types.storage.FileMp4()
    if spec.mime_type == "application/pdf":
        return types.storage.FilePdf()
    return types.storage.FilePartial()


# --- getFile rules -------------------------------------------------------------------------

def check_part(offset: int, limit: int, precise: bool) -> None:
    """Telegram's upload.getFile offset/limit rules; raises LIMIT_INVALID / OFFSET_INVALID."""
    align = KIB if precise else 4 * KIB
    if limit <= 0 or limit > MIB or limit % align:
        raise RpcError(400, "LIMIT_INVALID")
    if not precise and MIB % limit:
        raise RpcError(400, "LIMIT_INVALID")
    if offset < 0 or offset % align:
        raise RpcError(400, "OFFSET_INVALID")
    if not precise and offset // MIB != (offset + limit - 1) // MIB:
        raise RpcError(400, "LIMIT_INVALID")
