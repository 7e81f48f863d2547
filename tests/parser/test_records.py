"""Unit tests: Telethon messages (real TL types) → export.json message dicts."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from telethon.tl import types

from tgexport.records.message import (
    CONTRACT_KEYS,
    READER_KEYS,
    action_name,
    matches_keywords,
    message_to_record,
)

PEER = types.PeerChannel(1234)
WHEN = datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC)


def _text(value: str) -> types.TextWithEntities:
    return types.TextWithEntities(text=value, entities=[])


def test_plain_message_has_the_contract_keys_then_the_reader_keys() -> None:
    msg = types.Message(id=7, peer_id=PEER, date=WHEN, message="Привет", views=10, forwards=2)
    record = message_to_record(msg)
    assert tuple(record) == CONTRACT_KEYS + READER_KEYS
    assert record == {"id": 7, "date": "2024-03-01T12:30:05Z", "text": "Привет", "media_files": [],
                      "forwarded": None, "reply_to_msg_id": None, "views": 10, "forwards": 2,
                      "entities": [], "text_markdown": "Привет", "edit_date": None, "grouped_id": None,
                      "post_author": None, "pinned": False, "reactions": None, "replies": None,
                      "web_page": None, "attachment": None}


def test_date_is_converted_to_utc() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=3)))
    assert message_to_record(types.Message(id=1, peer_id=PEER, date=local, message="x"))["date"] == "2024-03-01T12:30:05Z"


def test_missing_text_is_empty_string_and_media_files_are_copied() -> None:
    items = [{"type": "photo", "path": "media/photos/1_a.jpg", "filename": "1_a.jpg", "size": 3, "sha256": "0" * 64}]
    record = message_to_record(types.Message(id=1, peer_id=PEER, date=WHEN, message=None), items)
    assert record["text"] == ""
    assert record["media_files"] == items and record["media_files"] is not items


def test_forward_and_reply() -> None:
    fwd = types.MessageFwdHeader(date=WHEN, from_id=types.PeerChannel(55), channel_post=99, post_author="Ann")
    msg = types.Message(id=3, peer_id=PEER, date=WHEN, message="f", fwd_from=fwd,
                        reply_to=types.MessageReplyHeader(reply_to_msg_id=2))
    record = message_to_record(msg)
    assert record["forwarded"] == {"from_name": None, "date": "2024-03-01T12:30:05Z", "channel_post_id": 99,
                                   "post_author": "Ann"}
    assert record["reply_to_msg_id"] == 2


def test_poll_question_becomes_text_and_poll_key_is_added() -> None:
    poll = types.Poll(id=1, question=_text("Best colour?"), hash=0, quiz=False,
                      answers=[types.PollAnswer(text=_text("Red"), option=b"0"),
                               types.PollAnswer(text=_text("Blue"), option=b"1")])
    results = types.PollResults(results=[types.PollAnswerVoters(option=b"0", voters=3),
                                         types.PollAnswerVoters(option=b"1", voters=5)], total_voters=8)
    msg = types.Message(id=4, peer_id=PEER, date=WHEN, message="", media=types.MessageMediaPoll(poll, results))
    record = message_to_record(msg)
    assert record["text"] == "Best colour?"
    assert record["poll"] == {"question": "Best colour?", "answers": [{"text": "Red", "voters": 3},
                                                                      {"text": "Blue", "voters": 5}],
                              "total_voters": 8, "closed": False, "quiz": False, "multiple_choice": False}
    assert record["media_files"] == []


def test_service_message_is_kept_with_empty_text_and_action() -> None:
    pin = types.MessageService(id=5, peer_id=PEER, date=WHEN, action=types.MessageActionPinMessage(),
                               reply_to=types.MessageReplyHeader(reply_to_msg_id=4))
    record = message_to_record(pin)
    assert record["text"] == "" and record["service"] == {"action": "pin_message"}
    assert record["reply_to_msg_id"] == 4
    title = types.MessageService(id=6, peer_id=PEER, date=WHEN, action=types.MessageActionChatEditTitle("New"))
    assert message_to_record(title)["service"] == {"action": "chat_edit_title", "title": "New"}


def test_action_names() -> None:
    assert action_name(types.MessageActionChannelCreate(title="x")) == "channel_create"
    assert action_name(types.MessageActionChatDeletePhoto()) == "chat_delete_photo"


def test_keyword_filter_is_any_of_case_insensitive() -> None:
    record = {"text": "Hello ПРИВЕТ world"}
    assert matches_keywords(record, ())
    assert matches_keywords(record, ("привет",))
    assert matches_keywords(record, ("nope", "WORLD"))
    assert not matches_keywords(record, ("nope", "absent"))
    assert matches_keywords({"text": "q", "poll": {"answers": [{"text": "Yes"}]}}, ("yes",))
