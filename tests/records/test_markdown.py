"""text_markdown: the dialect's escapes and markers, and parsing it back gives the text and entities."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tgexport.records.markdown import EXPRESSIBLE, expressible, from_markdown, to_markdown, utf16_len


def _key(entity: dict) -> tuple:
    return entity["offset"], entity["length"], entity["type"], str(sorted(entity.items()))


def _round_trip(text: str, entities: list[dict]) -> None:
    markdown = to_markdown(text, entities)
    back_text, back_entities = from_markdown(markdown)
    assert back_text == text, markdown
    assert sorted(back_entities, key=_key) == sorted(expressible(text, entities), key=_key), markdown


def test_every_kind_written_as_documented() -> None:
    text = "Bold italic under strike spoiler code\nlink Ann 🙂 x\nquoted line\nprint(1)"
    ents = [{"type": "bold", "offset": 0, "length": 4}, {"type": "italic", "offset": 5, "length": 6},
            {"type": "underline", "offset": 12, "length": 5}, {"type": "strike", "offset": 18, "length": 6},
            {"type": "spoiler", "offset": 25, "length": 7}, {"type": "code", "offset": 33, "length": 4},
            {"type": "text_url", "offset": 38, "length": 4, "url": "https://e.com/a_(b)"},
            {"type": "mention_name", "offset": 43, "length": 3, "user_id": 42},
            {"type": "custom_emoji", "offset": 47, "length": 2, "custom_emoji_id": 5368324170671202286},
            {"type": "hashtag", "offset": 50, "length": 1},
            {"type": "blockquote", "offset": 52, "length": 11},
            {"type": "pre", "offset": 64, "length": 8, "language": "python"}]
    assert to_markdown(text, ents) == (
        "**Bold** __italic__ <u>under</u> ~~strike~~ ||spoiler|| `code`\n"
        "[link](https://e.com/a_(b\\)) [Ann](tg://user?id=42) [🙂](tg://emoji?id=5368324170671202286) x\n"
        "> quoted line\n```python\nprint(1)\n```")
    assert expressible(text, ents) == [e for e in ents if e["type"] != "hashtag"]
    _round_trip(text, ents)


def test_plain_text_is_escaped_only_where_needed() -> None:
    text = "a*b_c~d|e[f]g`h\\i > j <u> </u> <b>\n> k"
    bold = [{"type": "bold", "offset": 0, "length": 1}]
    assert to_markdown(text, bold) == "**a**\\*b\\_c\\~d\\|e\\[f\\]g\\`h\\\\i > j \\<u> \\</u> <b>\n\\> k"
    assert to_markdown(text, []) == text  # no entities: the text itself
    _round_trip(text, bold)


def test_code_escapes_only_backslash_and_backtick() -> None:
    text = "x *a_b* `c` \\d"
    code = [{"type": "code", "offset": 2, "length": 12}]
    assert to_markdown(text, code) == "x `*a_b* \\`c\\` \\\\d`"
    _round_trip(text, code)


def test_offsets_are_utf16_units_after_astral_emoji() -> None:
    text = "🙂🎉 link"
    ents = [{"type": "text_url", "offset": 5, "length": 4, "url": "https://x.org"}]  # 2 + 2 + 1 units
    assert to_markdown(text, ents) == "🙂🎉 [link](https://x.org)"
    _round_trip(text, ents)


def test_entities_it_cannot_express_are_left_out_of_the_markdown_only() -> None:
    text = "ab cd\nef"
    ents = [{"type": "code", "offset": 0, "length": 4}, {"type": "bold", "offset": 2, "length": 3},
            {"type": "blockquote", "offset": 1, "length": 4}, {"type": "mention", "offset": 6, "length": 2}]
    assert expressible(text, ents) == ents[:1]
    assert to_markdown(text, ents) == "`ab c`d\nef"


_ALPHABET = "ab *_~|[]`\\<>u/\n🙂é()!#"
_KINDS = st.sampled_from([*EXPRESSIBLE, "mention", "hashtag"])


@st.composite
def _message(draw: st.DrawFn) -> tuple[str, list[dict]]:
    text = draw(st.text(alphabet=_ALPHABET, max_size=40))
    size = utf16_len(text)
    entities = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(_KINDS)
        offset = draw(st.integers(0, size))
        entity = {"type": kind, "offset": offset, "length": draw(st.integers(0, size - offset))}
        extra = {"text_url": ("url", st.text(alphabet="a)(\\ /:\n", max_size=6)),
                 "pre": ("language", st.text(alphabet="py\n\\", max_size=4)),
                 "mention_name": ("user_id", st.integers(1, 2**40)),
                 "custom_emoji": ("custom_emoji_id", st.integers(1, 2**62))}.get(kind)
        if extra:
            entity[extra[0]] = draw(extra[1])
        entities.append(entity)
    return text, entities


@given(_message())
def test_round_trip_property(message: tuple[str, list[dict]]) -> None:
    text, entities = message
    if entities:
        _round_trip(text, entities)
    else:
        assert to_markdown(text, entities) == text


def test_the_quick_paths_write_what_the_general_one_writes() -> None:
    """Entities before the first astral character (no UTF-16 map), side by side (cut directly), next to
    entities after an astral character, crossing each other, or in text that needs escapes."""
    bold, italic = {"type": "bold", "offset": 0, "length": 2}, {"type": "italic", "offset": 2, "length": 3}
    link = {"type": "text_url", "offset": 3, "length": 5, "url": "https://e.org/x"}
    cases = [
        ("Hi there 🙂 x", [bold, link], "**Hi** [there](https://e.org/x) 🙂 x"),
        ("Hithere", [bold, italic], "**Hi**__the__re"),
        ("🙂 Hi 🎉", [{"type": "bold", "offset": 3, "length": 2}], "🙂 **Hi** 🎉"),
        ("🙂🎉", [{"type": "bold", "offset": 1, "length": 2}], "🙂🎉"),  # edges inside surrogate pairs
        ("a*b c", [{"type": "bold", "offset": 4, "length": 1}], "a\\*b **c**"),
        ("Hithere", [{"type": "bold", "offset": 0, "length": 5}, italic], "**Hi__the__**re"),  # nested
        ("Hi", [{"type": "bold", "offset": 0, "length": 3}], "Hi"),  # past the end
        ("#tag >x", [{"type": "hashtag", "offset": 0, "length": 4}], "#tag >x"),
    ]
    for text, ents, expected in cases:
        assert to_markdown(text, ents) == expected, text
        _round_trip(text, ents)
