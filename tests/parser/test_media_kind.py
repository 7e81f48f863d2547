"""Media classification and sizes from real Telethon TL objects."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telethon.tl import types

from tgexport.media import describe_media, kind_for_mime
from tgexport.media.kind import media_source

DATE = datetime(2024, 1, 1, tzinfo=UTC)


def _msg(media):
    return types.Message(id=5, peer_id=types.PeerChannel(1), date=DATE, message="", media=media)


def _photo(sizes):
    return types.MessageMediaPhoto(photo=types.Photo(
        id=1, access_hash=2, file_reference=b"ref", date=DATE, sizes=sizes, dc_id=2))


def _doc(mime, size=10, name=None, video=False):
    attrs = []
    if name is not None:
        attrs.append(types.DocumentAttributeFilename(file_name=name))
    if video:
        attrs.append(types.DocumentAttributeVideo(duration=1.0, w=2, h=2))
    return types.MessageMediaDocument(document=types.Document(
        id=3, access_hash=4, file_reference=b"r", date=DATE, mime_type=mime, size=size, dc_id=2,
        attributes=attrs))


@pytest.mark.parametrize("mime, kind", [
    ("video/mp4", "video"), ("VIDEO/quicktime", "video"), ("image/png", "photo"),
    ("image/webp", "photo"), ("application/pdf", "document"), ("", "document"), (None, "document"),
    ("audio/ogg", "document"),
])
def test_kind_for_mime(mime, kind):
    assert kind_for_mime(mime) == kind


def test_photo_takes_largest_size():
    sizes = [types.PhotoStrippedSize(type="i", bytes=b"\x01\x02\x03"),
             types.PhotoSize(type="m", w=320, h=240, size=8000),
             types.PhotoSizeProgressive(type="y", w=1280, h=960, sizes=[1000, 5000, 150000]),
             types.PhotoSize(type="x", w=800, h=600, size=60000)]
    info = describe_media(_msg(_photo(sizes)))
    assert (info.kind, info.known_size, info.original_name) == ("photo", 150000, None)
    source = media_source(_msg(_photo(sizes)))
    assert source.location.thumb_size == "y" and source.file_size == 150000


def test_documents():
    info = describe_media(_msg(_doc("video/mp4", 5500000, "clip.mp4", video=True)))
    assert (info.kind, info.known_size, info.original_name, info.mime_type) == (
        "video", 5500000, "clip.mp4", "video/mp4")
    assert describe_media(_msg(_doc("image/gif", 7))).kind == "photo"
    assert describe_media(_msg(_doc("application/zip", 0, "../../x.sh"))).known_size == 0
    assert media_source(_msg(_doc("text/plain"))).location.thumb_size == ""


@pytest.mark.parametrize("media", [
    None,
    types.MessageMediaGeo(geo=types.GeoPoint(long=1.0, lat=2.0, access_hash=0)),
    types.MessageMediaPoll(poll=types.Poll(id=1, question=types.TextWithEntities("q", []), answers=[], hash=0),
                           results=types.PollResults()),
    types.MessageMediaWebPage(webpage=types.WebPageEmpty(id=1)),
    types.MessageMediaUnsupported(),
    types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1)),
    types.MessageMediaDocument(document=types.DocumentEmpty(id=1)),
    types.MessageMediaPhoto(photo=None),
])
def test_nothing_downloadable(media):
    assert describe_media(_msg(media)) is None
    assert media_source(_msg(media)) is None


def test_service_message_has_no_media():
    service = types.MessageService(id=1, peer_id=types.PeerChannel(1), date=DATE,
                                   action=types.MessageActionPinMessage())
    assert describe_media(service) is None
