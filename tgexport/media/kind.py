"""Classify a Telethon message's media and find the file location to download (docs/contract.md section 5)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telethon import utils as tl_utils
from telethon.tl import types

PHOTO = "photo"
VIDEO = "video"
DOCUMENT = "document"
KIND_DIRS = {PHOTO: "photos", VIDEO: "videos", DOCUMENT: "documents"}
PHOTO_MIME = "image/jpeg"  # Telegram re-encodes every photo as JPEG


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # "photo" | "video" | "document"
    known_size: int | None
    original_name: str | None
    mime_type: str | None
    subtype: str | None = None  # "voice" | "audio" | "sticker" | "animation" | "round_video"
    duration: float | None = None  # seconds, where Telegram gives it

    def item_extras(self) -> dict[str, Any]:
        """`subtype` and `duration` for a media_files item, each only when known."""
        extras: dict[str, Any] = {}
        if self.subtype is not None:
            extras["subtype"] = self.subtype
        if self.duration is not None:
            extras["duration"] = self.duration
        return extras


@dataclass(frozen=True)
class MediaSource:
    """What to fetch: a file location and its size, or bytes Telegram sent inline (cached sizes)."""

    location: Any  # InputPhotoFileLocation | InputDocumentFileLocation | None
    file_size: int | None
    inline_bytes: bytes | None = None
    file_key: str | None = None  # "document:<id>" / "photo:<id>": one Telegram file, whatever the message
    dc_id: int | None = None  # the data centre that stores the file

    @property
    def part_name(self) -> str | None:
        """Deterministic part-file name of this Telegram file (`document-<id>.part`), or None."""
        if self.file_key is None or self.location is None:
            return None
        kind, _, ident = self.file_key.partition(":")
        thumb = getattr(self.location, "thumb_size", "") or ""
        suffix = f"-{thumb}" if thumb and thumb.isalnum() else ""
        return f"{kind}-{ident}{suffix}.part"


def kind_for_mime(mime_type: str | None) -> str:
    """video/* → video, image/* → photo, anything else (or unknown) → document."""
    mime = (mime_type or "").strip().lower()
    if mime.startswith("video/"):
        return VIDEO
    if mime.startswith("image/"):
        return PHOTO
    return DOCUMENT


def _photo_of(media: Any) -> types.Photo | None:
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        return media.photo
    return None


def _document_of(media: Any) -> types.Document | None:
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        return media.document
    return None


def _size_bytes(size: Any) -> int:
    """Byte size of one PhotoSize variant (0 for empty/path sizes, which are never chosen)."""
    if isinstance(size, types.PhotoSize):
        return size.size
    if isinstance(size, types.PhotoSizeProgressive):
        return max(size.sizes) if size.sizes else 0
    if isinstance(size, (types.PhotoCachedSize, types.PhotoStrippedSize)):
        return len(size.bytes)
    return 0


def largest_photo_size(photo: types.Photo) -> Any | None:
    """The largest downloadable PhotoSize (what Telethon downloads by default; video sizes ignored)."""
    candidates = [
        s for s in photo.sizes or []
        if isinstance(s, (types.PhotoSize, types.PhotoSizeProgressive, types.PhotoCachedSize,
                          types.PhotoStrippedSize))
    ]
    if not candidates:
        return None
    # Real sizes beat inline previews of the same byte count (Telethon's order does the same).
    return max(candidates, key=lambda s: (_size_bytes(s), isinstance(s, (types.PhotoSize,
                                                                           types.PhotoSizeProgressive))))


def _subtype(document: types.Document) -> tuple[str | None, float | None]:
    """(subtype, duration) from the document's attributes; a sticker beats its video or animation."""
    found: dict[type, Any] = {type(a): a for a in document.attributes or []}
    video = found.get(types.DocumentAttributeVideo)
    audio = found.get(types.DocumentAttributeAudio)
    timed = video if video is not None else audio
    duration = timed.duration if timed is not None and timed.duration is not None else None
    if types.DocumentAttributeSticker in found:
        return "sticker", duration
    if types.DocumentAttributeAnimated in found:
        return "animation", duration
    if video is not None:
        return ("round_video" if video.round_message else None), duration
    if audio is not None:
        return ("voice" if audio.voice else "audio"), duration
    return None, None


def _file_name(document: types.Document) -> str | None:
    for attr in document.attributes or []:
        if isinstance(attr, types.DocumentAttributeFilename):
            return attr.file_name
    return None


def _photo_and_size(message: Any) -> tuple[types.Photo, Any] | None:
    """The message's photo and the PhotoSize we download, when it has a downloadable photo."""
    photo = _photo_of(getattr(message, "media", None))
    size = largest_photo_size(photo) if photo is not None else None
    return (photo, size) if size is not None else None


def describe_media(message: Any) -> MediaInfo | None:
    """MediaInfo for a message's downloadable media; None for polls, web pages, geo, service…"""
    photo = _photo_and_size(message)
    if photo is not None:
        return MediaInfo(PHOTO, _size_bytes(photo[1]), None, PHOTO_MIME)
    document = _document_of(getattr(message, "media", None))
    if document is not None:
        subtype, duration = _subtype(document)
        return MediaInfo(kind_for_mime(document.mime_type), document.size, _file_name(document),
                         document.mime_type, subtype, duration)
    return None


def media_source(message: Any) -> MediaSource | None:
    """The location (with the message's current file reference) to download, or None."""
    photo = _photo_and_size(message)
    if photo is not None:
        return _photo_source(*photo)
    document = _document_of(getattr(message, "media", None))
    if document is not None:
        location = types.InputDocumentFileLocation(
            id=document.id, access_hash=document.access_hash,
            file_reference=document.file_reference, thumb_size="")
        return MediaSource(location, document.size, file_key=f"document:{document.id}", dc_id=document.dc_id)
    return None


def _photo_source(photo: types.Photo, size: Any) -> MediaSource:
    key = f"photo:{photo.id}"
    if isinstance(size, types.PhotoStrippedSize):
        data = tl_utils.stripped_photo_to_jpg(size.bytes)
        return MediaSource(None, len(data), data, key)
    if isinstance(size, types.PhotoCachedSize):
        return MediaSource(None, len(size.bytes), bytes(size.bytes), key)
    location = types.InputPhotoFileLocation(
        id=photo.id, access_hash=photo.access_hash, file_reference=photo.file_reference,
        thumb_size=size.type)
    return MediaSource(location, _size_bytes(size), file_key=key, dc_id=photo.dc_id)


def media_changed(old_items: list[dict[str, Any]], message: Any, file_index: dict[str, str]) -> bool:
    """True when `message` (read again) no longer carries the media its exported `old_items` describe:
    an edit replaced, added or removed it. Same Telegram file: same file key → same stored sha256;
    items without a stored file compare by kind and known size."""
    info = describe_media(message)
    if info is None:
        return bool(old_items)
    if not old_items:
        return True
    old = old_items[0]
    source = media_source(message)
    key = source.file_key if source is not None else None
    if old.get("sha256") and key:
        return file_index.get(key) != old["sha256"]
    return old.get("type") != info.kind or old.get("size") not in (None, info.known_size)
