"""MessageSpec → Message / MessageService TL objects (cached per channel), plus chats lists."""
from __future__ import annotations

import random
from functools import lru_cache

from telethon.tl import types

from telegram_test_server.api.common import channel_tl, foreign_channel_tl, utc
from telegram_test_server.world import media
from telegram_test_server.world.scenario import MessageSpec
from telegram_test_server.world.state import ChannelState, World

_WORDS = ("alpha", "beta", "gamma", "delta", "telegram", "channel", "post", "news", "update", "report",
          "photo", "video", "hello", "world", "test", "data", "paging", "server", "Привет", "мир", "✓", "🙂")


@lru_cache(maxsize=8)
def _corpus(seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(20000))


def generated_text(seed: int, channel_id: int, message_id: int, length: int) -> str:
    """Deterministic pseudo-words of exactly `length` characters (a slice of a seeded corpus)."""
    head = f"#{message_id} "
    corpus = _corpus(seed)
    need = max(0, length - len(head))
    start = (channel_id * 7919 + message_id * 104729) % max(1, len(corpus) - need)
    return (head + corpus[start:start + need])[:length]


def _fwd_header(fwd: dict) -> types.MessageFwdHeader:
    from_channel = fwd.get("from_channel")
    return types.MessageFwdHeader(
        date=utc(fwd["date"]), from_name=fwd.get("from_name"),
        from_id=types.PeerChannel(from_channel) if from_channel else None,
        channel_post=fwd.get("channel_post"), post_author=fwd.get("post_author"),
    )


def _poll(poll: dict, mid: int) -> types.MessageMediaPoll:
    answers = [types.PollAnswer(text=types.TextWithEntities(text=a, entities=[]), option=bytes([i]))
               for i, a in enumerate(poll["answers"])]
    question = types.TextWithEntities(text=poll["question"], entities=[])
    results = types.PollResults(
        results=[types.PollAnswerVoters(option=bytes([i]), voters=v, recent_voters=[]) for i, v in enumerate(poll["voters"])],
        total_voters=sum(poll["voters"]))
    return types.MessageMediaPoll(
        poll=types.Poll(id=mid, question=question, answers=answers, hash=0, closed=poll["closed"] or None,
                        quiz=poll["quiz"] or None, multiple_choice=poll["multiple_choice"] or None),
        results=results)


def _action(service: dict, state: ChannelState):
    kind = service["action"]
    if kind == "pin":
        return types.MessageActionPinMessage()
    if kind == "channel_create":
        return types.MessageActionChannelCreate(title=service.get("title", state.spec.title))
    if kind == "edit_title":
        return types.MessageActionChatEditTitle(title=service.get("title", state.spec.title))
    return types.MessageActionChatDeletePhoto()


def _reply(msg_id: int | None) -> types.MessageReplyHeader | None:
    return types.MessageReplyHeader(reply_to_msg_id=msg_id) if msg_id else None


def _service(world: World, state: ChannelState, msg: MessageSpec) -> types.MessageService:
    return types.MessageService(
        id=msg.id, peer_id=types.PeerChannel(state.id), date=utc(msg.date), post=True,
        reply_to=_reply(msg.service.get("reply_to")), action=_action(msg.service, state))


def _media(world: World, state: ChannelState, msg: MessageSpec):
    mid = media.media_id(state.id, msg.id)
    if msg.poll is not None:
        return _poll(msg.poll, mid)
    if msg.media is None:
        return None
    owner = msg.media.content_of if msg.media.same_file else msg.id  # a re-post carries the original's file
    mid = media.media_id(state.id, owner, 0 if msg.media.same_file else msg.media.edition)
    version = world.ref_version(state.id, owner)
    return media.message_media(msg.media, mid, world.seed, version, msg.date, world.dc_id)


def _entity(item: dict):
    """An export-shaped entity dict → its MessageEntity* (the same fields, TL names)."""
    cls = getattr(types, "MessageEntity" + "".join(part.title() for part in item["type"].split("_")))
    extra = {"url": item.get("url"), "user_id": item.get("user_id"), "language": item.get("language"),
             "document_id": item.get("custom_emoji_id")}
    names = cls.__init__.__code__.co_varnames
    return cls(offset=item["offset"], length=item["length"], **{k: v for k, v in extra.items() if k in names})


def _reactions(items: list[dict]) -> types.MessageReactions | None:
    if not items:
        return None
    kinds = {"emoji": lambda r: types.ReactionEmoji(emoticon=r["emoji"]),
             "custom_emoji": lambda r: types.ReactionCustomEmoji(document_id=r["custom_emoji_id"]),
             "paid": lambda r: types.ReactionPaid()}
    return types.MessageReactions(results=[types.ReactionCount(reaction=kinds[r["type"]](r), count=r["count"])
                                           for r in items])


def _replies(replies: dict | None) -> types.MessageReplies | None:
    if replies is None:
        return None
    return types.MessageReplies(replies=replies["count"], replies_pts=1, comments=replies["comments"] or None,
                                channel_id=replies["channel_id"])


def _web_page(page: dict, mid: int) -> types.MessageMediaWebPage:
    return types.MessageMediaWebPage(webpage=types.WebPage(
        id=mid, url=page["url"], display_url=page.get("display_url") or page["url"], hash=0, type="article",
        site_name=page.get("site_name"), title=page.get("title"), description=page.get("description")))


def styled_entities(text: str, msg_id: int) -> list[dict]:
    """Entities of a `styled` generated text: hashtag on `#id`, bold and a text link on the next words."""
    units = text.encode("utf-16-le")
    head = len(f"#{msg_id}")
    words = text[head + 1:].split(" ")
    out = [{"type": "hashtag", "offset": 0, "length": head}]
    offset = head + 1
    for kind, word in zip(("bold", "text_url"), words, strict=False):
        length = len(word.encode("utf-16-le")) // 2
        if length and offset + length <= len(units) // 2:
            link = {"url": f"https://example.org/{msg_id}"} if kind == "text_url" else {}
            out.append({"type": kind, "offset": offset, "length": length, **link})
        offset += length + 1
    return out


def build_message(world: World, state: ChannelState, msg: MessageSpec):
    """One message as Telegram sends it in a channel."""
    if msg.service is not None:
        return _service(world, state, msg)
    text = msg.text if msg.text is not None else generated_text(world.seed, state.id, msg.id, msg.text_length)
    counted = msg.views is not None or msg.forwards is not None  # one TL flag covers both
    page = _web_page(msg.web_page, media.media_id(state.id, msg.id)) if msg.web_page else None
    return types.Message(
        id=msg.id, peer_id=types.PeerChannel(state.id), date=utc(msg.date), message=text,
        post=not state.spec.megagroup or None, fwd_from=_fwd_header(msg.fwd_from) if msg.fwd_from else None,
        reply_to=_reply(msg.reply_to), media=page or _media(world, state, msg),
        views=(msg.views or 0) if counted else None, forwards=(msg.forwards or 0) if counted else None,
        edit_date=utc(msg.edit_date) if msg.edit_date else None, post_author=msg.post_author,
        entities=[_entity(e) for e in (styled_entities(text, msg.id) if msg.styled else msg.entities)] or None,
        reactions=_reactions(msg.reactions),
        grouped_id=msg.grouped_id, pinned=msg.pinned or None, replies=_replies(msg.replies),
    )


def _freeze(obj):
    """Serialise once: later serialisations of this (never mutated) object reuse the bytes."""
    data = obj._bytes()
    obj._bytes = lambda: data
    return obj


def message_tl(world: World, state: ChannelState, msg_id: int):
    """Cached TL object of an existing message (its serialised form cached too)."""
    cached = state.tl_cache.get(msg_id)
    if cached is None:
        cached = state.tl_cache[msg_id] = _freeze(build_message(world, state, state.messages[msg_id]))
    return cached


def chats_for(world: World, state: ChannelState, messages: list) -> list:
    """The channel plus every channel a forward in `messages` comes from."""
    chats = {state.id: channel_tl(state)}
    for msg in messages:
        fwd = getattr(msg, "fwd_from", None)
        peer = getattr(fwd, "from_id", None)
        if isinstance(peer, types.PeerChannel) and peer.channel_id not in chats:
            other = world.channels.get(peer.channel_id)
            chats[peer.channel_id] = channel_tl(other) if other else foreign_channel_tl(peer.channel_id)
    return list(chats.values())
