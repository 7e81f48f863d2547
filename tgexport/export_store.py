"""The export directory of one channel: find/reuse it, load strictly, append new messages, save atomically.

Files (contract section 6): export.json, state.json, media-index.json, summary.json. Saving is
explicit (`save()`): the run saves at the end, on every stop and at time-based checkpoints,
never per page, so I/O stays linear. A file that does not parse is a DataFormatError and is
never replaced. Invariants kept (and repaired on load): ids ascending, each id once, every id
≤ `last_message_id`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from errors import ConfigError, DataFormatError
from tgexport.atomic_json import read_json_strict, write_json_atomic
from tgexport.timeutil import utc_iso

EXPORT_JSON = "export.json"
STATE_JSON = "state.json"
MEDIA_INDEX_JSON = "media-index.json"
SUMMARY_JSON = "summary.json"
DIR_TIME_FORMAT = "%Y-%m-%d_%H-%M"
_DIR_RE = re.compile(r"^(?P<slug>.+)__(?P<stamp>\d{4}-\d{2}-\d{2}_\d{2}-\d{2})$")


def channel_slug(username: str | None, channel_id: int) -> str:
    """The sanitised username (letters, digits, `_`), or `channel_{id}` when there is none."""
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", username or "").strip("_")[:64]
    return cleaned or f"channel_{int(channel_id)}"


def dir_name(slug: str, moment: datetime) -> str:
    return f"{slug}__{moment.astimezone(UTC).strftime(DIR_TIME_FORMAT)}"


def _state_channel_id(directory: Path, strict: bool) -> int | None:
    path = directory / STATE_JSON
    if not path.is_file():
        return None
    try:
        state = read_json_strict(path)
    except DataFormatError:
        if strict:
            raise
        return None
    value = state.get("channel_id") if isinstance(state, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def find_export_dir(output_dir: Path, slug: str, channel_id: int) -> Path | None:
    """The newest directory of this channel: same slug (unless its state names another channel),
    or another slug whose state.json names this channel id (the username changed)."""
    if not output_dir.is_dir():
        return None
    found: list[tuple[str, Path]] = []
    for entry in output_dir.iterdir():
        match = _DIR_RE.match(entry.name)
        if not match or not entry.is_dir():
            continue
        same_slug = match["slug"] == slug
        owner = _state_channel_id(entry, strict=same_slug)
        if (same_slug and owner in (None, channel_id)) or (not same_slug and owner == channel_id):
            found.append((match["stamp"], entry))
    return max(found)[1] if found else None


def known_channel(output_dir: Path, username: str | None, channel_id: int | None) -> ChannelInfo | None:
    """The channel of the newest existing export that `--channel` names, from state.json alone
    (no network): used to report a run that stops before Telegram could resolve the channel."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    found: list[tuple[str, ChannelInfo]] = []
    for entry in output_dir.iterdir():
        match = _DIR_RE.match(entry.name)
        state_path = entry / STATE_JSON
        if not match or not state_path.is_file():
            continue
        try:
            state = read_json_strict(state_path)
        except DataFormatError:
            continue
        cid = state.get("channel_id") if isinstance(state, dict) else None
        name = state.get("channel_username") if isinstance(state, dict) else None
        by_id = channel_id is not None and cid == channel_id
        by_name = bool(username and isinstance(name, str) and name.lower() == username.lower())
        if _is_int(cid) and (by_id or by_name):
            found.append((match["stamp"], ChannelInfo(cid, name if isinstance(name, str) else None, None)))
    return max(found, key=lambda pair: pair[0])[1] if found else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def select_new(
    last_id: int, new: list[dict[str, Any]], position: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """The records to append (id > last_id, ascending, each id once) and the new last id.

    `position` is how far the scan got (it may pass filtered-out messages); `last_id` never goes back.
    """
    fresh: dict[int, dict[str, Any]] = {}
    for record in new:
        if record["id"] > last_id and record["id"] not in fresh:
            fresh[record["id"]] = record
    return max([last_id, position, *fresh]), [fresh[i] for i in sorted(fresh)]


def repair_messages(messages: list[dict[str, Any]], last_id: int) -> tuple[list[dict[str, Any]], int, list[str]]:
    """Sort by id, keep the first copy of each id, raise last_id to the highest id; notes what changed."""
    notes: list[str] = []
    unique: dict[int, dict[str, Any]] = {}
    for record in messages:
        unique.setdefault(record["id"], record)
    if len(unique) != len(messages):
        notes.append(f"dropped {len(messages) - len(unique)} duplicate message id(s)")
    repaired = [unique[i] for i in sorted(unique)]
    if [m["id"] for m in repaired] != [m["id"] for m in messages] and not notes:
        notes.append("sorted messages by id")
    top = repaired[-1]["id"] if repaired else 0
    if top > last_id:
        notes.append(f"raised last_message_id from {last_id} to {top}")
        last_id = top
    return repaired, last_id, notes


def _check_messages(path: Path, data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise DataFormatError(f"{path} is not an export (no \"messages\" list); refusing to overwrite it")
    for item in data["messages"]:
        if not isinstance(item, dict) or not _is_int(item.get("id")):
            raise DataFormatError(f"{path} holds a message without an integer \"id\"; refusing to overwrite it")
    return data["messages"]


def _check_state(path: Path, data: Any, channel_id: int) -> int:
    if not isinstance(data, dict) or not _is_int(data.get("last_message_id")) or data["last_message_id"] < 0:
        raise DataFormatError(f"{path} has no valid \"last_message_id\"; refusing to overwrite it")
    if _is_int(data.get("channel_id")) and data["channel_id"] != channel_id:
        raise DataFormatError(f"{path} belongs to channel {data['channel_id']}, not {channel_id}")
    return data["last_message_id"]


def _safe_relpath(value: Any) -> bool:
    if not isinstance(value, str) or not value or "\\" in value:
        return False
    parts = PurePosixPath(value).parts
    return not PurePosixPath(value).is_absolute() and ".." not in parts and ":" not in value


def _check_index(path: Path, data: Any, export_dir: Path) -> tuple[dict[str, str], list[str]]:
    if not isinstance(data, dict) or not isinstance(data.get("sha256_to_path"), dict):
        raise DataFormatError(f"{path} has no \"sha256_to_path\" object; refusing to overwrite it")
    index: dict[str, str] = {}
    dropped = 0
    for sha, rel in data["sha256_to_path"].items():
        if re.fullmatch(r"[0-9a-f]{64}", str(sha)) and _safe_relpath(rel) and (export_dir / rel).is_file():
            index[sha] = rel
        else:
            dropped += 1
    notes = [f"dropped {dropped} media-index entr(ies) with a bad hash, unsafe path or missing file"] if dropped else []
    return index, notes


@dataclass
class ChannelInfo:
    id: int
    username: str | None
    title: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "title": self.title}


@dataclass
class ExportStore:
    """In-memory export of one channel, bound to its directory."""

    export_dir: Path
    channel: ChannelInfo
    messages: list[dict[str, Any]] = field(default_factory=list)
    last_message_id: int = 0
    sha_index: dict[str, str] = field(default_factory=dict)
    last_update_at: str | None = None
    existed: bool = False
    repairs: list[str] = field(default_factory=list)

    @property
    def export_json(self) -> Path:
        return self.export_dir / EXPORT_JSON

    @property
    def state_json(self) -> Path:
        return self.export_dir / STATE_JSON

    @property
    def media_index_json(self) -> Path:
        return self.export_dir / MEDIA_INDEX_JSON

    @property
    def summary_json(self) -> Path:
        return self.export_dir / SUMMARY_JSON

    @classmethod
    def open(cls, output_dir: Path, channel: ChannelInfo, now: datetime | None = None) -> ExportStore:
        """Reuse the newest directory of the channel (loading it strictly) or name a new one (not created yet)."""
        output_dir = Path(output_dir).resolve()
        slug = channel_slug(channel.username, channel.id)
        existing = find_export_dir(output_dir, slug, channel.id)
        if existing is None:
            return cls(output_dir / dir_name(slug, now or datetime.now(UTC)), channel)
        store = cls(existing, channel, existed=True)
        store._load()
        return store

    def _load(self) -> None:
        """Read export.json, state.json, media-index.json; all three parse or nothing is touched."""
        export_data = read_json_strict(self.export_json) if self.export_json.is_file() else None
        state_data = read_json_strict(self.state_json) if self.state_json.is_file() else None
        index_data = read_json_strict(self.media_index_json) if self.media_index_json.is_file() else None
        if export_data is None and state_data is not None:
            raise DataFormatError(f"{self.state_json} exists but {self.export_json} is missing; refusing to continue")
        messages = _check_messages(self.export_json, export_data) if export_data is not None else []
        last_id = _check_state(self.state_json, state_data, self.channel.id) if state_data is not None else 0
        self.messages, self.last_message_id, self.repairs = repair_messages(messages, last_id)
        if isinstance(state_data, dict):
            self.last_update_at = state_data.get("last_update_at")
        if index_data is not None:
            self.sha_index, notes = _check_index(self.media_index_json, index_data, self.export_dir)
            self.repairs += notes

    def create_dir(self) -> None:
        """Create the export directory (and the output root); ConfigError when it cannot be written."""
        try:
            self.export_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the export directory {self.export_dir}: {exc.strerror or exc}") from exc

    def append(self, records: list[dict[str, Any]], position: int = 0) -> list[dict[str, Any]]:
        """Add records newer than last_message_id (ascending, once each); returns the ones added."""
        self.last_message_id, added = select_new(self.last_message_id, records, position)
        self.messages.extend(added)  # in place: a page costs its own size, not the whole export's
        return added

    def media_total(self) -> int:
        return sum(len(m.get("media_files") or []) for m in self.messages)

    def export_document(self, now: datetime) -> dict[str, Any]:
        return {
            "channel_info": self.channel.as_dict(),
            "messages": self.messages,
            "export_date": utc_iso(now),
            "total_messages": len(self.messages),
        }

    def state_document(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel.id,
            "channel_username": self.channel.username,
            "last_message_id": self.last_message_id,
            "last_update_at": self.last_update_at,
            "messages_total": len(self.messages),
            "media_total": self.media_total(),
        }

    def save(self, now: datetime | None = None) -> None:
        """Write media-index.json, export.json, then state.json (the commit point), each atomically."""
        now = now or datetime.now(UTC)
        self.last_update_at = utc_iso(now)
        write_json_atomic(self.media_index_json, {"sha256_to_path": dict(sorted(self.sha_index.items()))})
        write_json_atomic(self.export_json, self.export_document(now))
        write_json_atomic(self.state_json, self.state_document())

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.summary_json, summary)

