"""Sanitised media file names: hostile names never leave media/<kind>/ and stay portable."""
from __future__ import annotations

import re
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tgexport.media.names import (
    NAME_MAX_BYTES,
    UnsafePathError,
    ext_for_mime,
    safe_target,
    sanitise_name,
    stored_name,
)

RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
            *(f"{p}{c}" for p in ("COM", "LPT") for c in "0123456789¹²³")}
# Arbitrary text, surrogates and private use included, salted with the pieces attacks are made of.
FRAGMENTS = ["../", "..\\", "/", "\\", "C:\\", "CON", "con", "NUL", "LPT¹", ".", " ", "..", "\x00", "\n", "\r",
             "\t", "\u202e", "\u200b", "\u200d", "\ufeff", "\u2028", "\u0301", "\u00a0", "\u3000", "я", "🙂",
             ".txt", ".tar.gz", ":", "*", "?", "<", ">", "|", '"', "\udc80", "\ue000", "A" * 130, "ж" * 70]
ANY_CHAR = st.characters(blacklist_categories=())
HOSTILE_TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=600),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(ANY_CHAR, max_size=8)), max_size=40).map("".join),
)
KINDS = st.sampled_from(["photo", "video", "document"])


def _assert_portable(name: str) -> None:
    assert "/" not in name and "\\" not in name and name not in ("", ".", "..")
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"} for c in name)
    assert name == unicodedata.normalize("NFC", name)
    assert len(name.encode("utf-16-le")) // 2 <= 255  # Windows counts UTF-16 units
    assert not any(c in '<>:"|?*' for c in name)
    assert not name.startswith(".") and not name.startswith(" ")
    assert not name.endswith(".") and not name.endswith(" ")
    assert len(name.encode("utf-8")) <= NAME_MAX_BYTES
    assert name.split(".", 1)[0].strip().upper() not in RESERVED


@pytest.mark.parametrize("raw, expected", [
    ("../../x.sh", "x.sh"),
    ("..\\..\\evil.bat", "evil.bat"),
    ("/etc/passwd", "passwd"),
    ("a\x00b\x1f.txt", "ab.txt"),
    ("CON.txt", "_CON.txt"),
    ("nul", "_nul"),
    ("com1.tar.gz", "_com1.tar.gz"),
    ("...hidden", "hidden"),
    ("trailing. . ", "trailing"),
    ("..", ""),
    ("", ""),
    (None, ""),
    ("report.pdf", "report.pdf"),
    ("a:b*c?.txt", "a_b_c_.txt"),
    ("\u202eexe.txt", "exe.txt"),
    ("отчёт 2024.pdf", "отчёт 2024.pdf"),
])
def test_sanitise_examples(raw, expected):
    assert sanitise_name(raw) == expected


def test_long_name_keeps_extension_and_cap():
    name = sanitise_name("x" * 300 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) == NAME_MAX_BYTES
    multibyte = sanitise_name("я" * 300 + ".txt")
    assert multibyte.endswith(".txt") and len(multibyte.encode()) <= NAME_MAX_BYTES
    multibyte.encode("utf-8")  # no split characters


def test_stored_name_forms():
    assert stored_name(42, "../../x.sh", "application/x-sh", "document") == "42_x.sh"
    assert stored_name(7, None, "video/mp4", "video") == "7.mp4"
    assert stored_name(7, "...", "application/pdf", "document") == "7.pdf"
    assert stored_name(8, None, "image/jpeg", "photo") == "8.jpg"
    assert stored_name(9, None, "application/octet-stream", "document").startswith("9.")
    assert stored_name(9, None, None, "document") == "9.bin"


def test_ext_for_mime_is_plain():
    for mime in ("application/x-weird; a=b", "text/plain", "", "../..", "image/png"):
        ext = ext_for_mime(mime, "document")
        assert ext.startswith(".") and ext[1:].isalnum()


def test_safe_target_rejects_escapes(tmp_path):
    assert safe_target(tmp_path, "photo", "1.jpg") == tmp_path / "media" / "photos" / "1.jpg"
    for bad in ("..", "../x", "a/b"):
        with pytest.raises(UnsafePathError):
            safe_target(tmp_path, "document", bad)


def test_safe_target_rejects_symlinked_kind_dir(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    export = tmp_path / "export"
    (export / "media").mkdir(parents=True)
    (export / "media" / "documents").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        safe_target(export, "document", "1_x.txt")


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_any_string_is_sanitised(raw):
    name = sanitise_name(raw)
    if name:
        _assert_portable(name)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=1, max_value=2**31), st.text(max_size=300), st.sampled_from(
    ["photo", "video", "document"]))
def test_stored_name_stays_inside_export_dir(message_id, raw, kind):
    name = stored_name(message_id, raw, None, kind)
    assert name.startswith(str(message_id))
    with tempfile.TemporaryDirectory() as tmp:
        target = safe_target(Path(tmp), kind, name)
        target.parent.mkdir(parents=True)
        target.write_bytes(b"x")  # the OS accepts the name
        assert target.resolve().parent == (Path(tmp) / "media").resolve() / target.parent.name
        assert [p.name for p in target.parent.iterdir()] == [name]


@pytest.mark.parametrize("raw, expected", [
    ("../../x.sh", "12_x.sh"),
    ("/etc/passwd", "12_passwd"),
    ("C:\\x", "12_x"),
    ("CON", "12__CON"),
    ("con.txt", "12__con.txt"),
    ("NUL.tar.gz", "12__NUL.tar.gz"),
    ("CONIN$.log", "12__CONIN$.log"),
    ("a\x00b.txt", "12_ab.txt"),
    ("new\nline\r.txt", "12_newline.txt"),
    ("\u202egnp.exe", "12_gnp.exe"),
    ("in\u200bvoi\u200dce\ufeff.pdf", "12_invoice.pdf"),
    (" . .. . ", "12.bin"),
    ("...", "12.bin"),
    ("Report.PDF", "12_Report.PDF"),
    ("A\u0301.txt", "12_\u00c1.txt"),  # one NFC form, whatever Telegram sent
    ("A\x00\u0301.txt", "12_\u00c1.txt"),  # also when a dropped character sat in between
])
def test_stored_name_examples(raw, expected):
    assert stored_name(12, raw, "application/octet-stream", "document") == expected


@pytest.mark.parametrize("raw, ext", [("x" * 500 + ".pdf", ".pdf"), ("я" * 500 + ".txt", ".txt"),
                                      ("🙂" * 500 + ".zip", ".zip"), ("x" * 500, "")],
                         ids=["ascii", "cyrillic", "emoji", "no-extension"])
def test_500_character_names(raw, ext):
    name = stored_name(7, raw, None, "document")
    _assert_portable(name)
    assert name.startswith("7_") and name.endswith(ext) and NAME_MAX_BYTES - 3 <= len(name.encode()) <= NAME_MAX_BYTES
    assert raw.startswith(name[2:len(name) - len(ext)])  # readable: a prefix of the original


def test_extensions_do_not_depend_on_the_machine(monkeypatch):
    """The system MIME tables (/etc/mime.types, the Windows registry) are not consulted."""
    import mimetypes

    monkeypatch.setattr(mimetypes, "guess_extension", lambda *a, **k: ".local")
    assert ext_for_mime("video/x-matroska", "video") == ".mkv"
    assert ext_for_mime("application/x-sh", "document") == ".sh"
    assert ext_for_mime("application/x-unknown-thing", "document") == ".bin"


def _portable_everywhere(name: str) -> None:
    """Windows and Linux rules for one name (independent of the module's own tables)."""
    _assert_portable(name)
    assert not any(ord(c) < 32 or c in '<>:"/\\|?*' for c in name)
    assert name.split(".", 1)[0].rstrip(" ").upper() not in RESERVED
    assert len(name.encode("utf-8")) <= 255


@settings(max_examples=600, deadline=None)
@given(st.integers(min_value=0, max_value=2**31), HOSTILE_TEXT, st.none() | st.text(max_size=40), KINDS)
def test_stored_name_is_valid_everywhere(message_id, raw, mime, kind):
    name = stored_name(message_id, raw, mime, kind)
    _portable_everywhere(name)
    assert re.match(rf"{message_id}[._]", name)  # starts with the message id, then a separator
    assert name == stored_name(message_id, raw, mime, kind)  # deterministic
    clean = sanitise_name(raw)
    assert sanitise_name(clean) == clean  # a stable fixed point: the same input always lands on one name
    if clean:
        _portable_everywhere(clean)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=50), HOSTILE_TEXT), min_size=2, max_size=6), KINDS)
def test_names_of_different_messages_never_collide(items, kind):
    """Distinct message ids give distinct names, also on case-insensitive file systems."""
    by_id: dict[int, set[str]] = {}
    for mid, raw in items:
        by_id.setdefault(mid, set()).add(stored_name(mid, raw, None, kind).casefold())
    for a, names_a in by_id.items():
        for b, names_b in by_id.items():
            assert a == b or not names_a & names_b


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=2**31), HOSTILE_TEXT, KINDS)
def test_hostile_name_resolves_inside_the_kind_dir(message_id, raw, kind):
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export"
        target = safe_target(export, kind, stored_name(message_id, raw, None, kind))
        target.parent.mkdir(parents=True)
        target.write_bytes(b"x")
        assert target.resolve().parent == (export / "media").resolve() / target.parent.name
        assert target.resolve().is_relative_to(export.resolve())
