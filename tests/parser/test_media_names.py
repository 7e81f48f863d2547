"""Sanitised media file names: hostile names never leave media/<kind>/ and stay portable."""
from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tgexport.media_names import (
    NAME_MAX_BYTES,
    UnsafePathError,
    ext_for_mime,
    safe_target,
    sanitise_name,
    stored_name,
)

RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def _assert_portable(name: str) -> None:
    assert "/" not in name and "\\" not in name
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"} for c in name)
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
