"""`text_markdown`: a message text with its entities written as Markdown, and the parser that reads it back.

The dialect (docs/formats.md, "text_markdown"): `**bold**`, `__italic__`, `<u>underline</u>`,
`~~strike~~`, `||spoiler||`, `` `code` ``, ```` ```language⏎code⏎``` ````, `[text](url)` (text links),
`[name](tg://user?id=N)` (mentions by id), `[🙂](tg://emoji?id=N)` (custom emoji), and `> ` before
each line of a blockquote. Outside the markup, `\\`, `` ` ``, `*`, `_`, `~`, `|`, `[` and `]` are
escaped with a backslash, `>` too at the start of a line and `<` before `u>` or `/u>`; inside code
only `\\`, `` ` `` (and `>` at a line start); inside a URL `\\` and `)`.
Entities the dialect cannot express (see `expressible`) are left out of the Markdown only.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Any

TOGGLES = {"bold": "**", "italic": "__", "strike": "~~", "spoiler": "||"}
LITERAL = ("code", "pre")
LINKS = ("text_url", "mention_name", "custom_emoji")
EXPRESSIBLE = (*TOGGLES, "underline", *LITERAL, *LINKS, "blockquote")
_EXPRESSIBLE_SET = frozenset(EXPRESSIBLE)
USER_URL = "tg://user?id="
EMOJI_URL = "tg://emoji?id="
_PLAIN_ESCAPES = frozenset("\\`*_~|[]")
_CODE_ESCAPES = frozenset("\\`")


# --- UTF-16 offsets ------------------------------------------------------------------------

_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


class Units:
    """UTF-16 offsets of a text with characters outside the BMP (each is 2 units, 1 Python character)."""

    def __init__(self, text: str, astral: list[int]) -> None:
        self.starts = [index + n for n, index in enumerate(astral)]  # unit offset of each astral character
        self.size = len(text) + len(astral)

    def py(self, unit: int) -> int:
        """The Python index of a unit offset (one inside a surrogate pair: its character's)."""
        return unit - bisect.bisect_right(self.starts, unit - 2)

    def inside_pair(self, unit: int) -> bool:
        i = bisect.bisect_left(self.starts, unit - 1)
        return i < len(self.starts) and self.starts[i] == unit - 1


def utf16_index(text: str) -> Units | None:
    """The unit ↔ index mapping of `text`, or None when every offset is its own index (all BMP)."""
    if text.isascii():
        return None
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    return Units(text, astral) if astral else None


def _index(text: str, candidates: list[dict[str, Any]]) -> Units | None:
    """`utf16_index(text)` as far as `candidates` can tell: None also when every entity ends at or before
    the first astral character (the units before it are their own indexes)."""
    if text.isascii():
        return None
    first = _ASTRAL.search(text)
    if first is None or max(e["offset"] + e["length"] for e in candidates) <= first.start():
        return None
    return Units(text, [m.start() for m in _ASTRAL.finditer(text, first.start())])


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --- which entities the Markdown carries ---------------------------------------------------

def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """True when the spans cross (neither holds the other, and they share a unit)."""
    (s1, e1), (s2, e2) = a, b
    return s1 < s2 < e1 < e2 or s2 < s1 < e2 < e1


def _inside(point: int, span: tuple[int, int]) -> bool:
    return span[0] < point < span[1]


def _quote_ok(text16: str, span: tuple[int, int], quotes: list[tuple[int, int]]) -> bool:
    start, end = span
    if (start and text16[start - 1:start] != "\n") or text16[end - 1:end] == "\n":
        return False
    if end < len(text16) and text16[end:end + 1] != "\n":
        return False
    return all(not (s <= end + 1 and start <= e + 1) for s, e in quotes)  # no touching or shared lines


def expressible(text: str, entities: list[dict[str, Any]], index: Units | None = None,
                known: bool = False) -> list[dict[str, Any]]:
    """The entities the Markdown carries, in order: known kinds, non-empty, inside the text, and
    none crossing a code/pre span, a link of another link, or a bold of another bold (etc.).
    `index`: `utf16_index(text)` when `known` (computed here otherwise)."""
    candidates = _candidates(entities)
    if not candidates:  # the common case of Telegram's own entities (hashtags, URLs, mentions)
        return []
    return _select(text, candidates, index if known else _index(text, candidates))


def _candidates(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entities if e.get("type") in _EXPRESSIBLE_SET and e["length"] > 0]


def _select(text: str, candidates: list[dict[str, Any]], index: Units | None) -> list[dict[str, Any]]:
    """`expressible` of the non-empty candidates of known kinds (sorted here)."""
    size = len(text) if index is None else index.size
    text16 = text if index is None else None
    kept: list[dict[str, Any]] = []
    literal: list[tuple[int, int]] = []
    by_kind: dict[str, list[tuple[int, int]]] = {}
    if len(candidates) > 1:
        candidates.sort(key=_span_order)
    if index is None and _flat(candidates) and candidates[-1]["offset"] + candidates[-1]["length"] <= size:
        return candidates  # side by side, inside the text, no quote: each crosses nothing
    for entity in candidates:
        kind, start = entity["type"], entity["offset"]
        span = (start, start + entity["length"])
        if start < 0 or span[1] > size:
            continue
        if index is not None and (index.inside_pair(span[0]) or index.inside_pair(span[1])):
            continue  # a boundary inside a surrogate pair
        if literal and any(_inside(span[0], lit) or _inside(span[1], lit) or (span == lit) for lit in literal):
            continue
        if kind == "blockquote":
            text16 = text16 if text16 is not None else _as_units(text)
            if not _quote_ok(text16, span, by_kind.get(kind, [])):
                continue
        group = "link" if kind in LINKS else kind
        same = by_kind.setdefault(group, [])
        if kind in LITERAL:
            if any(_inside(e["offset"], span) or _inside(e["offset"] + e["length"], span) for e in kept):
                continue
            if any(lit[0] < span[1] and span[0] < lit[1] for lit in literal):
                continue
            literal.append(span)
        elif not same:
            pass  # the first of its kind crosses nothing
        elif group == "link":
            if any(_overlaps(span, other) or other == span for other in same):
                continue
        elif any(other[0] < span[1] and span[0] < other[1] for other in same):
            continue
        same.append(span)
        kept.append(entity)
    return kept


def _span_order(entity: dict[str, Any]) -> tuple[int, int]:
    return entity["offset"], -entity["length"]


def _flat(entities: list[dict[str, Any]]) -> bool:
    """True when the (sorted) entities lie side by side from offset 0 on, none a blockquote."""
    end = 0
    for entity in entities:
        if entity["offset"] < end or entity["type"] == "blockquote":
            return False
        end = entity["offset"] + entity["length"]
    return True


def _as_units(text: str) -> str:
    """The text with every astral character as two placeholder units (for UTF-16 position tests)."""
    return "".join(ch if ord(ch) < 0x10000 else "\ufffd\ufffd" for ch in text)


# --- rendering -----------------------------------------------------------------------------

def _markers(entity: dict[str, Any]) -> tuple[str, str]:
    kind = entity["type"]
    if kind in TOGGLES:
        return TOGGLES[kind], TOGGLES[kind]
    if kind == "underline":
        return "<u>", "</u>"
    if kind == "code":
        return "`", "`"
    if kind == "pre":
        return "```" + _escape_url(entity.get("language") or "", "\n") + "\n", "\n```"
    if kind == "text_url":
        return "[", "](" + _escape_url(str(entity.get("url") or ""), ")") + ")"
    if kind == "mention_name":
        return "[", f"]({USER_URL}{int(entity['user_id'])})"
    return "[", f"]({EMOJI_URL}{int(entity['custom_emoji_id'])})"


def _escape_url(value: str, stop: str) -> str:
    if "\\" not in value and stop not in value:
        return value
    return value.replace("\\", "\\\\").replace(stop, "\\" + stop)


def _escaper(pattern: str, chars: str) -> Callable[[str], str]:
    """A function that puts a backslash before every match of `pattern`; `chars`, a character class
    that every match starts with, is searched first (most text has none, and it is far quicker)."""
    regex, needed = re.compile(pattern), re.compile(chars)

    def escape(segment: str) -> str:
        return regex.sub(_backslash, segment) if needed.search(segment) else segment
    return escape


def _backslash(match: re.Match[str]) -> str:
    return "\\" + match.group()


_SPECIAL = re.compile(r"[\\`*_~|\[\]<>]")  # every character an escape starts with, in code or not
_escape_plain = _escaper(r"[\\`*_~|\[\]]|(?<=\n)>|<(?=/?u>)", _SPECIAL.pattern)
_escape_code = _escaper(r"[\\`]|(?<=\n)>", r"[\\`>]")
_QUOTE_KEY = -(1 << 62)  # a quote's `> ` comes first at its position: right after the newline


def _events(kept: list[dict[str, Any]], index: Units | None) -> tuple[list, list, list]:
    """Markers as sorted (Python index, key, marker): a quote's prefix first, then closers innermost
    first, then openers outermost first; plus the quote spans and the code spans."""
    events: list[tuple[int, int, str]] = []
    quotes: list[tuple[int, int]] = []
    literal: list[tuple[int, int]] = []
    for order, entity in enumerate(kept):
        start = entity["offset"]
        end = start + entity["length"]
        if index is not None:
            start, end = index.py(start), index.py(end)
        if entity["type"] == "blockquote":
            quotes.append((start, end))
            events.append((start, _QUOTE_KEY, "> "))
            continue
        opener, closer = _markers(entity)
        events.append((start, order, opener))
        events.append((end, -order - 1, closer))
        if entity["type"] in LITERAL:
            literal.append((start, end))
    events.sort()
    return events, quotes, literal


def to_markdown(text: str, entities: list[dict[str, Any]]) -> str:
    """`text` with `entities` (UTF-16 offsets) rendered in the dialect above; `text` when entities is empty."""
    if not entities:
        return text
    index, kept = None, []
    candidates = _candidates(entities)
    if candidates:
        index = _index(text, candidates)
        kept = _select(text, candidates, index)
    if not kept:  # only entities Telegram detects by itself (hashtags, URLs, mentions…): escapes alone
        piece = _escape_plain(text)
        return "\\" + piece if piece.startswith(">") else piece
    if index is None and _flat(kept) and not _SPECIAL.search(text):
        return _render_flat(text, kept)
    events, quotes, literal = _events(kept, index)
    if quotes:
        events = sorted(events + [(end, _QUOTE_KEY, "") for _, end in quotes])  # cut where a quote ends
    out: list[str] = []
    last = 0
    plain = not quotes and not literal
    for pos, _key, marker in [*events, (len(text), 0, "")]:
        if pos > last:
            if plain:  # the common case, inline: no code, no quote, only a line start to watch
                piece = _escape_plain(text[last:pos])
                out.append("\\" + piece if piece[0] == ">" and (not out or out[-1][-1] == "\n") else piece)
            else:
                out.append(_segment(text, last, pos, out, quotes, literal))
            last = pos
        if marker:
            out.append(marker)
    return "".join(out)


def _render_flat(text: str, kept: list[dict[str, Any]]) -> str:
    """`to_markdown` when the entities lie side by side, no quote, offsets are indexes and the text
    needs no escape: the text cut at the entities' edges, with their markers."""
    out: list[str] = []
    last = 0
    for entity in kept:
        start, end = entity["offset"], entity["offset"] + entity["length"]
        opener, closer = _markers(entity)
        out += (text[last:start], opener, text[start:end], closer)
        last = end
    out.append(text[last:])
    return "".join(out)


def _segment(text: str, a: int, b: int, out: list[str], quotes: list, literal: list) -> str:
    """text[a:b] escaped for where it stands (code or not, quoted or not, at a line start or not)."""
    code = bool(literal) and any(s <= a < e for s, e in literal)
    piece = (_escape_code if code else _escape_plain)(text[a:b])
    if piece[0] == ">" and (not out or out[-1][-1] == "\n"):
        piece = "\\" + piece
    if quotes and any(s <= a < e for s, e in quotes):
        piece = piece.replace("\n", "\n> ")
    return piece


# --- reading it back -----------------------------------------------------------------------

class _Reader:
    """Reads the dialect back into (text, entities); used by tests and by anyone who needs the entities."""

    def __init__(self, markdown: str) -> None:
        self.md, self.i = markdown, 0
        self.text: list[str] = []
        self.pos = 0  # UTF-16 units written
        self.entities: list[dict[str, Any]] = []
        self.open: dict[str, int] = {}
        self.links: list[int] = []
        self.literal: tuple[str, int, str] | None = None  # (kind, start, language)

    def add(self, kind: str, start: int, **extra: Any) -> None:
        if self.pos > start:
            self.entities.append({"type": kind, "offset": start, "length": self.pos - start, **extra})

    def char(self, ch: str) -> None:
        self.text.append(ch)
        self.pos += 2 if ord(ch) >= 0x10000 else 1
        if ch == "\n":
            self.line_start()

    def line_start(self) -> None:
        """After a text newline (and at the start): a `> ` prefix opens or continues a quote."""
        if self.md.startswith("> ", self.i):
            self.i += 2
            self.open.setdefault("blockquote", self.pos)
        elif "blockquote" in self.open:
            self.pos -= 1  # the quote ended before this newline
            self.add("blockquote", self.open.pop("blockquote"))
            self.pos += 1

    def until(self, stop: str) -> str:
        """Escaped text up to the next unescaped `stop` (consumed)."""
        value: list[str] = []
        while self.i < len(self.md) and self.md[self.i] != stop:
            if self.md[self.i] == "\\" and self.i + 1 < len(self.md):
                self.i += 1
            value.append(self.md[self.i])
            self.i += 1
        self.i += 1
        return "".join(value)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        self.line_start()
        while self.i < len(self.md):
            self.step()
        if "blockquote" in self.open:
            self.add("blockquote", self.open.pop("blockquote"))
        return "".join(self.text), self.entities

    def step(self) -> None:
        md, i = self.md, self.i
        if md[i] == "\\" and i + 1 < len(md):
            self.i += 2
            self.char(md[i + 1])
        elif self.literal is not None:
            self.step_literal()
        else:
            self.step_markup()

    def step_literal(self) -> None:
        kind, start, language = self.literal or ("", 0, "")
        closer = "`" if kind == "code" else "\n```"
        if self.md.startswith(closer, self.i):
            self.i += len(closer)
            self.add(kind, start, **({"language": language} if kind == "pre" else {}))
            self.literal = None
        else:
            self.i += 1
            self.char(self.md[self.i - 1])

    def step_markup(self) -> None:
        md, i = self.md, self.i
        token = next((t for t in _TOKENS if md.startswith(t, i)), None)
        if token is None:
            self.i += 1
            self.char(md[i])
            return
        self.i += len(token)
        if token == "```":
            language = self.until("\n")
            self.literal = ("pre", self.pos, language)
        elif token == "`":
            self.literal = ("code", self.pos, "")
        elif token == "[":
            self.links.append(self.pos)
        elif token == "](":
            self.close_link(self.until(")"))
        else:
            self.toggle(_TOKEN_KINDS[token], token)

    def toggle(self, kind: str, token: str) -> None:
        if token == "</u>" or (token != "<u>" and kind in self.open):
            if kind in self.open:
                self.add(kind, self.open.pop(kind))
        else:
            self.open.setdefault(kind, self.pos)

    def close_link(self, url: str) -> None:
        start = self.links.pop() if self.links else self.pos
        for prefix, kind, key in ((USER_URL, "mention_name", "user_id"), (EMOJI_URL, "custom_emoji", "custom_emoji_id")):
            rest = url.removeprefix(prefix)
            if rest != url and rest.isdigit():
                self.add(kind, start, **{key: int(rest)})
                return
        self.add("text_url", start, url=url)


_TOKEN_KINDS = {"**": "bold", "__": "italic", "~~": "strike", "||": "spoiler", "<u>": "underline",
                "</u>": "underline"}
_TOKENS = ("```", "`", "](", "[", *_TOKEN_KINDS)


def from_markdown(markdown: str) -> tuple[str, list[dict[str, Any]]]:
    """(text, entities) of a `text_markdown` value with escapes (entities in UTF-16 units, close order)."""
    return _Reader(markdown).run()
