"""The test server's reader-visible scenario keys are validated at load time."""
from __future__ import annotations

from typing import Any

import pytest

from telegram_test_server.api.render import build_message
from telegram_test_server.world.scenario import ScenarioError
from telegram_test_server.world.state import World


def _world(**message: Any) -> World:
    return World({"channels": [{"id": 4242, "messages": [{"id": 1, "text": "x", **message}]}]})


@pytest.mark.parametrize(("message", "error"), [
    ({"media": {"type": "venue", "title": "T", "size": 3}}, "media 'venue': unknown keys \\['size'\\]"),
    ({"media": {"type": "photo", "subtype": "voice"}}, "unknown keys \\['subtype'\\]|media.subtype"),
    ({"media": {"type": "document", "subtype": "gif"}}, "media.subtype"),
    ({"web_page": {"url": "https://a"}, "media": {"type": "geo"}}, "web_page is the message's media"),
    ({"web_page": {"title": "no url"}}, "web_page: url is required"),
    ({"reactions": [{"type": "heart", "count": 1}]}, "reaction: type must be one of"),
    ({"reactions": [{"type": "paid", "count": 1, "emoji": "x"}]}, "reaction: unknown keys"),
    ({"entities": [{"type": "bold", "offset": 0}]}, "entity: needs a type"),
    ({"entities": [{"type": "bold", "offset": 0, "length": 1, "url": "u"}]}, "entity: unknown keys"),
    ({"replies": {"count": 1, "comment": True}}, "replies: unknown keys"),
])
def test_bad_reader_keys_are_rejected(message: dict[str, Any], error: str) -> None:
    with pytest.raises(ScenarioError, match=error):
        _world(**message)


def test_reader_keys_are_served_as_their_tl_fields() -> None:
    world = _world(entities=[{"type": "text_url", "offset": 0, "length": 1, "url": "https://a"}],
                   reactions=[{"type": "paid", "count": 2}], grouped_id=5, pinned=True,
                   replies={"count": 3, "comments": True, "channel_id": 99},
                   media={"type": "document", "subtype": "voice", "size": 10, "duration": 3})
    state = world.channels[4242]
    msg = build_message(world, state, state.messages[1])
    assert msg.entities[0].url == "https://a" and msg.grouped_id == 5 and msg.pinned
    assert msg.reactions.results[0].count == 2 and msg.replies.channel_id == 99 and msg.replies.comments
    assert msg.media.voice and msg.media.document.mime_type == "audio/ogg"
    assert msg.media.document.attributes[0].voice and msg.media.document.attributes[0].duration == 3
