"""The records scenario: one channel whose messages carry everything a reader sees."""
from __future__ import annotations

from typing import Any

CHANNEL_ID = 1357913579
DISCUSSION_ID = 1357913580
USERNAME = "reader_channel"
ALBUM_ID = 77001  # ids 99, 100 (history page 1) and 101 (page 2): one album split across pages

RICH_TEXT = "🙂🎉 Read the docs *now*, #news @someone\nquoted line\nprint(1)"
RICH_ENTITIES = [  # UTF-16 offsets: the two emoji before "Read" are 4 units but 2 Python characters
    {"type": "text_url", "offset": 5, "length": 4, "url": "https://example.org/docs_(v2)"},
    {"type": "bold", "offset": 10, "length": 3},
    {"type": "italic", "offset": 14, "length": 4},
    {"type": "spoiler", "offset": 20, "length": 3},
    {"type": "hashtag", "offset": 26, "length": 5},
    {"type": "mention", "offset": 32, "length": 8},
    {"type": "custom_emoji", "offset": 0, "length": 2, "custom_emoji_id": 5368324170671202286},
    {"type": "underline", "offset": 10, "length": 3},
    {"type": "blockquote", "offset": 41, "length": 11},
    {"type": "pre", "offset": 53, "length": 8, "language": "python"},
    {"type": "mention_name", "offset": 2, "length": 2, "user_id": 100001},
]
RICH_MARKDOWN = ("[🙂](tg://emoji?id=5368324170671202286)[🎉](tg://user?id=100001) "
                 "[Read](https://example.org/docs_(v2\\)) **<u>the</u>** __docs__ \\*||now||\\*, #news @someone\n"
                 "> quoted line\n```python\nprint(1)\n```")

ATTACHMENTS = {  # message id → (scenario media, the export's `attachment`)
    20: ({"type": "geo", "lat": 52.52, "long": 13.405}, {"kind": "geo", "lat": 52.52, "long": 13.405}),
    21: ({"type": "venue", "lat": 48.8584, "long": 2.2945, "title": "Eiffel Tower", "address": "Champ de Mars"},
         {"kind": "venue", "lat": 48.8584, "long": 2.2945, "title": "Eiffel Tower", "address": "Champ de Mars"}),
    22: ({"type": "contact", "first_name": "Ann", "last_name": "Lee", "phone_number": "+15550100"},
         {"kind": "contact", "first_name": "Ann", "last_name": "Lee", "phone_number": "+15550100"}),
    23: ({"type": "dice", "emoji": "🎯", "value": 6}, {"kind": "dice", "emoji": "🎯", "value": 6}),
    24: ({"type": "game", "title": "Snake"}, {"kind": "game", "title": "Snake"}),
    25: ({"type": "invoice", "title": "Premium"}, {"kind": "invoice", "title": "Premium"}),
    26: ({"type": "giveaway", "title": "3 books"}, {"kind": "giveaway", "title": "3 books"}),
    27: ({"type": "story", "story_id": 9}, {"kind": "story"}),
}
UNKNOWN_ID = 28  # a media TL type the parser does not know (MessageMediaPaidMedia)
UNKNOWN_TWICE_ID = 29
FILES = {  # message id → (scenario media, the media_files item's type, subtype, duration)
    30: ({"type": "document", "subtype": "voice", "size": 3000, "duration": 4}, ("document", "voice", 4)),
    31: ({"type": "document", "subtype": "audio", "size": 5000, "duration": 187, "file_name": "song.mp3"},
         ("document", "audio", 187)),
    32: ({"type": "document", "subtype": "sticker", "size": 2000, "file_name": "sticker.webp"},
         ("photo", "sticker", None)),
    33: ({"type": "document", "subtype": "animation", "size": 4000, "duration": 2.5, "file_name": "fun.mp4"},
         ("video", "animation", 2.5)),
    34: ({"type": "document", "subtype": "round_video", "size": 6000, "duration": 9.0}, ("video", "round_video", 9.0)),
}
REACTIONS = [{"type": "emoji", "emoji": "👍", "count": 12}, {"type": "custom_emoji", "custom_emoji_id": 987654321,
                                                            "count": 3}, {"type": "paid", "count": 40}]
WEB_PAGE = {"url": "https://example.org/a", "display_url": "example.org/a", "site_name": "Example",
            "title": "An article", "description": "What it says"}


def messages() -> list[dict[str, Any]]:
    """The explicit messages (the rest of ids 1..110 are generated plain texts)."""
    out: list[dict[str, Any]] = [
        {"id": 10, "text": RICH_TEXT, "entities": RICH_ENTITIES},
        {"id": 11, "text": "Edited, signed, pinned, with comments", "edit_date": "2024-01-02T03:04:05Z",
         "post_author": "Jane Editor", "pinned": True, "reactions": REACTIONS,
         "replies": {"count": 17, "comments": True, "channel_id": DISCUSSION_ID}},
        {"id": 12, "text": "Replies without a linked group", "replies": {"count": 2}},
        {"id": 13, "text": "See https://example.org/a", "web_page": WEB_PAGE,
         "entities": [{"type": "url", "offset": 4, "length": 21}]},
        {"id": UNKNOWN_ID, "text": "Paid media", "media": {"type": "unknown"}},
        {"id": UNKNOWN_TWICE_ID, "text": "More paid media", "media": {"type": "unknown"}},
    ]
    out += [{"id": mid, "text": f"attachment {mid}", "media": media} for mid, (media, _) in ATTACHMENTS.items()]
    out += [{"id": mid, "text": "", "media": media} for mid, (media, _) in FILES.items()]
    out += [{"id": mid, "text": f"album {mid}", "grouped_id": ALBUM_ID, "media": {"type": "photo", "size": 3000}}
            for mid in (99, 100, 101)]
    return out


def scenario() -> dict[str, Any]:
    return {"channels": [{"id": CHANNEL_ID, "username": USERNAME, "title": "Reader channel",
                          "generate": {"count": 110, "text_length": 16, "start_date": "2024-01-01T00:00:00Z",
                                       "date_step": 60},
                          "messages": messages()}]}
