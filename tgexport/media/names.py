"""Safe file names for stored media: `<message_id>_<sanitised name>` or `<message_id>.<ext>`.

Names come from Telegram senders and are hostile by assumption: only the last path
component is kept (NFC), control/format characters and path or Windows-invalid characters go,
leading dots and trailing dots/spaces go, Windows reserved device names get a `_` prefix,
and the result is capped at NAME_MAX_BYTES of UTF-8 with the extension kept.
"""
from __future__ import annotations

import mimetypes
import re
import unicodedata
from pathlib import Path

from tgexport.media.kind import KIND_DIRS, PHOTO

NAME_MAX_BYTES = 120
EXT_MAX_BYTES = 16
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}  # control, format (bidi), surrogates, private
_REPLACE = set('<>:"|?*')
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
             *(f"COM{c}" for c in "0123456789¹²³"), *(f"LPT{c}" for c in "0123456789¹²³")}
_EXT_RE = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_KNOWN_EXT = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg", "application/pdf": ".pdf", "application/zip": ".zip", "text/plain": ".txt",
    "video/x-matroska": ".mkv", "audio/mp4": ".m4a", "application/vnd.android.package-archive": ".apk",
}
# Python's built-in table only: the global `mimetypes` also reads /etc/mime.types (or the Windows
# registry), so the same MIME type would get a different extension on another machine.
_BUILTIN_TYPES = mimetypes.MimeTypes()


class UnsafePathError(ValueError):
    """A computed media path would leave its folder (never expected: names are sanitised)."""


def _basename(text: str) -> str:
    parts = [p for p in re.split(r"[/\\]", text) if p]
    return parts[-1] if parts else ""


def _clean_char(char: str) -> str:
    if unicodedata.category(char) in _DROP_CATEGORIES:
        return ""
    return "_" if char in _REPLACE else char


def _trim(text: str) -> str:
    return text.lstrip(". ").rstrip(". ")


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max(max_bytes, 0)].decode("utf-8", "ignore")


def _cap(text: str, max_bytes: int) -> str:
    """Cut to `max_bytes` of UTF-8, keeping a short extension intact."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    dot = text.rfind(".")
    ext = text[dot:] if dot > 0 and len(text[dot:].encode("utf-8")) <= EXT_MAX_BYTES else ""
    stem = _truncate_utf8(text[: len(text) - len(ext)], max_bytes - len(ext.encode("utf-8")))
    stem = stem.rstrip(". ") or "_"
    return stem + ext


def _is_reserved(text: str) -> bool:
    return text.split(".", 1)[0].strip().upper() in _RESERVED


def sanitise_name(raw: str | None, max_bytes: int = NAME_MAX_BYTES) -> str:
    """A safe single file-name component from an untrusted name; "" when nothing usable is left."""
    if not raw:
        return ""
    text = _basename(unicodedata.normalize("NFC", raw))
    text = _trim(unicodedata.normalize("NFC", "".join(_clean_char(c) for c in text)))
    text = _trim(_cap(text, max_bytes))
    if text and _is_reserved(text):
        text = "_" + _cap(text, max_bytes - 1)
    return text


def ext_for_mime(mime_type: str | None, kind: str) -> str:
    """A plain extension for a file without a name: known table, then mimetypes, else `.bin`."""
    if kind == PHOTO and not mime_type:
        return ".jpg"
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    ext = _KNOWN_EXT.get(mime) or _BUILTIN_TYPES.guess_extension(mime, strict=False) or ""
    return ext if _EXT_RE.match(ext) else ".bin"


def stored_name(message_id: int, original_name: str | None, mime_type: str | None, kind: str) -> str:
    """`<message_id>_<sanitised original name>` (NAME_MAX_BYTES in all), or `<message_id><.ext>` when
    there is no usable name."""
    prefix = f"{message_id}_"
    clean = sanitise_name(original_name, NAME_MAX_BYTES - len(prefix))
    if clean:
        return prefix + clean
    return f"{message_id}{ext_for_mime(mime_type, kind)}"


def media_dir(export_dir: Path, kind: str) -> Path:
    return Path(export_dir) / "media" / KIND_DIRS[kind]


def safe_target(export_dir: Path, kind: str, name: str) -> Path:
    """`media/<kind dir>/<name>` under `export_dir`; raises UnsafePathError if it would resolve outside."""
    folder = media_dir(export_dir, kind)
    target = folder / name
    root = Path(export_dir).resolve()
    resolved = target.resolve()
    if resolved.parent != folder.resolve() or not resolved.is_relative_to(root):
        raise UnsafePathError(f"media path escapes the export directory: {name!r}")
    return target


def relative_posix(export_dir: Path, path: Path) -> str:
    """A stored file's path relative to the export dir, with forward slashes (contract form)."""
    return Path(path).relative_to(Path(export_dir)).as_posix()
