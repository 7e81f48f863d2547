"""Strict shape checks of the export's JSON files (and journal entries) before the store trusts them.

A file that fails a check is one this tool did not write (correctly): the store raises
DataFormatError naming the file and what is wrong, and never overwrites it. Media paths must stay
inside the export directory: relative, forward slashes, no `..`, no drive letter, and no symlink
on the way that leads out.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from errors import DataFormatError

SHA256_RE = re.compile(r"[0-9a-f]{64}")
REFUSE = "refusing to overwrite it"
_OPTIONAL_INT = ("reply_to_msg_id", "views", "forwards")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_or_none(value: Any) -> bool:
    return value is None or is_int(value)


def _str_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def damaged(path: Path, what: str, action: str = REFUSE) -> DataFormatError:
    """The one error of a file we will not touch: `<path>: <what is wrong>; refusing to overwrite it`."""
    return DataFormatError(f"{path}: {what}; {action}")


def safe_relpath(value: Any) -> bool:
    """A relative POSIX path that cannot leave its folder by its text alone."""
    if not isinstance(value, str) or not value or "\\" in value or ":" in value or "\x00" in value:
        return False
    pure = PurePosixPath(value)
    return not pure.is_absolute() and ".." not in pure.parts and bool(pure.parts)


class PathGuard:
    """Checks media paths of one export directory (text rules plus symlinks that lead out)."""

    def __init__(self, export_dir: Path) -> None:
        self.export_dir = Path(export_dir)
        self.root = Path(os.path.realpath(export_dir))
        self._parents: dict[str, bool] = {}

    def inside(self, rel: Any) -> bool:
        """False for unsafe text or a path whose folder or symlinked file resolves outside the root."""
        if not safe_relpath(rel):
            return False
        parent, _, _name = rel.rpartition("/")
        if parent not in self._parents:
            real = Path(os.path.realpath(self.export_dir / parent)) if parent else self.root
            self._parents[parent] = real == self.root or real.is_relative_to(self.root)
        if not self._parents[parent]:
            return False
        full = self.export_dir / rel
        try:
            mode = os.lstat(full).st_mode
        except OSError:
            return True  # missing: not an escape
        return not stat.S_ISLNK(mode) or Path(os.path.realpath(full)).is_relative_to(self.root)


def check_media_item(item: Any, guard: PathGuard) -> str | None:
    """What is wrong with one `media_files` item, or None."""
    if not isinstance(item, dict):
        return "a media_files item that is not an object"
    if not isinstance(item.get("type"), str):
        return "a media_files item without a string \"type\""
    path = item.get("path")
    if path is not None and not isinstance(path, str):
        return "a media_files item whose \"path\" is not a string or null"
    if path is not None and not guard.inside(path):
        return f"a media file path outside the export directory ({path!r})"
    if not _str_or_none(item.get("filename")) or not _int_or_none(item.get("size")):
        return "a media_files item whose \"filename\" or \"size\" has the wrong type"
    if "sha256" in item and not isinstance(item["sha256"], str):
        return "a media_files item whose \"sha256\" is not a string"
    return None


def check_message(item: Any, guard: PathGuard) -> str | None:
    """What is wrong with one message object, or None (keys beyond `id` are checked when present)."""
    if not isinstance(item, dict) or not is_int(item.get("id")):
        return "a message without an integer \"id\""
    where = f"message {item['id']}"
    for key in ("date", "text"):
        if key in item and not isinstance(item[key], str):
            return f"{where} has a \"{key}\" that is not a string"
    for key in _OPTIONAL_INT:
        if not _int_or_none(item.get(key)):
            return f"{where} has a \"{key}\" that is not an integer or null"
    if item.get("forwarded") is not None and not isinstance(item["forwarded"], dict):
        return f"{where} has a \"forwarded\" that is not an object or null"
    problem = _reader_key_problem(item)
    if problem:
        return f"{where} has {problem}"
    media = item.get("media_files", [])
    if not isinstance(media, list):
        return f"{where} has a \"media_files\" that is not a list"
    for entry in media:
        problem = check_media_item(entry, guard)
        if problem:
            return f"{where} has {problem}"
    return None


# The reader keys (docs/formats.md): optional (older exports lack them), typed when present.
_READER_TYPES: dict[str, tuple[str, Any]] = {
    "entities": ("a list", lambda v: isinstance(v, list) and all(isinstance(e, dict) for e in v)),
    "text_markdown": ("a string", lambda v: isinstance(v, str)),
    "edit_date": ("a string or null", _str_or_none), "post_author": ("a string or null", _str_or_none),
    "grouped_id": ("an integer or null", _int_or_none), "pinned": ("a boolean", lambda v: isinstance(v, bool)),
    "deleted": ("a boolean", lambda v: isinstance(v, bool)), "deleted_at": ("a string", lambda v: isinstance(v, str)),
    **{key: ("an object or null", lambda v: v is None or isinstance(v, dict))
       for key in ("reactions", "replies", "web_page", "attachment")},
}


def _reader_key_problem(item: dict[str, Any]) -> str | None:
    for key, (what, ok) in _READER_TYPES.items():
        if key in item and not ok(item[key]):
            return f"a \"{key}\" that is not {what}"
    return None


def check_messages(path: Path, messages: Any, guard: PathGuard) -> list[dict[str, Any]]:
    """The list of valid message objects, or DataFormatError naming `path`."""
    if not isinstance(messages, list):
        raise damaged(path, "\"messages\" is not a list")
    for item in messages:
        problem = check_message(item, guard)
        if problem:
            raise damaged(path, problem)
    return messages


def check_export(path: Path, data: Any, channel_id: int, guard: PathGuard) -> list[dict[str, Any]]:
    """export.json: an object with a valid `messages` list and, when present, well-typed other keys."""
    if not isinstance(data, dict) or "messages" not in data:
        raise damaged(path, "not an export (no \"messages\" list)")
    info = data.get("channel_info")
    if info is not None and (not isinstance(info, dict) or not _int_or_none(info.get("id"))):
        raise damaged(path, "\"channel_info\" is not an object with an integer \"id\"")
    if isinstance(info, dict) and is_int(info.get("id")) and info["id"] != channel_id:
        raise damaged(path, f"it belongs to channel {info['id']}, not {channel_id}")
    if not _int_or_none(data.get("total_messages")) or not _str_or_none(data.get("export_date")):
        raise damaged(path, "\"total_messages\" or \"export_date\" has the wrong type")
    return check_messages(path, data["messages"], guard)


STATE_TYPES = {"channel_username": _str_or_none, "last_update_at": _str_or_none,
               "messages_total": lambda v: is_int(v) and v >= 0, "media_total": lambda v: is_int(v) and v >= 0,
               "channel_id": is_int}


def check_state(path: Path, data: Any, channel_id: int) -> dict[str, Any]:
    """state.json: an object with a non-negative integer `last_message_id` of this channel."""
    if not isinstance(data, dict) or not is_int(data.get("last_message_id")) or data["last_message_id"] < 0:
        raise damaged(path, "no valid \"last_message_id\" (a non-negative integer)")
    for key, ok in STATE_TYPES.items():
        if key in data and not ok(data[key]):
            raise damaged(path, f"\"{key}\" has the wrong type")
    if "channel_id" in data and data["channel_id"] != channel_id:
        raise damaged(path, f"it belongs to channel {data['channel_id']}, not {channel_id}")
    return data


def check_index(path: Path, data: Any, guard: PathGuard) -> tuple[dict[str, str], dict[str, str], int]:
    """media-index.json → (sha256 → path, file key → sha256, entries dropped because the file is gone).

    A malformed hash, an unsafe path or a wrong type is DataFormatError; a missing file only drops its entry.
    """
    if not isinstance(data, dict) or not isinstance(data.get("sha256_to_path"), dict):
        raise damaged(path, "no \"sha256_to_path\" object")
    sha_index: dict[str, str] = {}
    for sha, rel in data["sha256_to_path"].items():
        if not SHA256_RE.fullmatch(sha):
            raise damaged(path, f"a malformed sha256 key ({sha[:80]!r})")
        if not isinstance(rel, str) or not guard.inside(rel):
            raise damaged(path, f"a path outside the export directory ({rel!r})")
        if (guard.export_dir / rel).is_file():
            sha_index[sha] = rel
    file_index = _check_file_index(path, data.get("file_id_to_sha256", {}))
    kept = {key: sha for key, sha in file_index.items() if sha in sha_index}
    return sha_index, kept, len(data["sha256_to_path"]) - len(sha_index)


def _check_file_index(path: Path, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise damaged(path, "\"file_id_to_sha256\" is not an object")
    for key, sha in value.items():
        if not isinstance(sha, str) or not SHA256_RE.fullmatch(sha) or not key:
            raise damaged(path, f"a malformed \"file_id_to_sha256\" entry ({key[:80]!r})")
    return value
