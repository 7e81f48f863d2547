"""The export directory of one channel: find/reuse it, load it strictly, append new messages,
checkpoint them to a journal, compact them into export.json / state.json / media-index.json.

- `checkpoint()` appends what was committed since the last checkpoint to `.journal.jsonl`
  (tgexport/store/journal.py): cost proportional to the new records, never to the export. The
  records then go to the next export.json (tgexport/store/next_export.py, a temp file written
  during the run) and leave memory: a run holds one checkpoint's records at most.
- `record_media()` journals a placed media file at once (a crash never re-downloads it).
- `update()` replaces records already in the export (a refresh: counters, edits, deletions); the
  next checkpoint journals them (`update` entries). While records are replaced since export.json was
  last written, the next export.json gets the current messages re-encoded (not copied as bytes), and
  one opened before the update is rebuilt: compaction rewrites export.json once.
- `compact()` writes media-index.json, export.json (only when its content changed: the next
  export.json is finished and renamed), then state.json (the commit point), each atomically, and
  removes the journal; `written_records()` reads the records it added back from export.json.
  `open()` replays a journal left by a killed run (one line at a time) and compacts at once; it
  also writes the repairs of known damage.
- state.json carries `export_check` (sha256, counts, newest id, channel_info of the export.json
  it was written with): while export.json still has that hash its messages are not parsed until
  a run appends (an unchanged channel reads only state.json and media-index.json).
- A file that does not parse, has wrong types or points outside the directory is a
  DataFormatError raised before anything is written (tgexport/store/checks.py).
"""
from __future__ import annotations

import bisect
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from errors import ConfigError, DataFormatError
from tgexport.core import fault_points
from tgexport.core.atomic_json import (
    dump_json_text,
    parse_json_bytes,
    read_bytes_checked,
    read_json_strict,
    remove_stale_temps,
    sha256_checked,
    write_bytes_atomic,
    write_json_atomic,
)
from tgexport.core.timeutil import utc_iso
from tgexport.store.checks import (
    SHA256_RE,
    PathGuard,
    check_export,
    check_index,
    check_state,
    damaged,
    is_int,
)
from tgexport.store.journal import (
    JOURNAL_NAME,
    REFUSE,
    JournalReader,
    JournalWriter,
    lock_existing,
    media_line,
    messages_line,
    update_line,
)
from tgexport.store.layout import (
    LINE_SEPARATOR,
    RecordLines,
    encode_message,
    export_bytes,
    lines_backwards,
    message_lines,
    message_span,
)
from tgexport.store.next_export import NextExport

EXPORT_JSON = "export.json"
STATE_JSON = "state.json"
MEDIA_INDEX_JSON = "media-index.json"
SUMMARY_JSON = "summary.json"
BACKUP_PREFIX = "export.json.bak-"
DIR_TIME_FORMAT = "%Y-%m-%d_%H-%M"
_DIR_RE = re.compile(r"^(?P<slug>.+)__(?P<stamp>\d{4}-\d{2}-\d{2}_\d{2}-\d{2})$")
_DATA_FILES = (EXPORT_JSON, STATE_JSON, MEDIA_INDEX_JSON, SUMMARY_JSON)


def channel_slug(username: str | None, channel_id: int) -> str:
    """The sanitised username (letters, digits, `_`), or `channel_{id}` when there is none."""
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", username or "").strip("_")[:64]
    return cleaned or f"channel_{int(channel_id)}"


def dir_name(slug: str, moment: datetime) -> str:
    return f"{slug}__{moment.astimezone(UTC).strftime(DIR_TIME_FORMAT)}"


# state.json → the channel id it names, keyed by the file's (inode, mtime, size): a run of many channels
# looks through every export directory once per channel; a file rewritten (atomically: a new inode) is read again.
_OWNERS: dict[Path, tuple[tuple[int, int, int], int | None]] = {}


def _state_channel_id(directory: Path, strict: bool) -> int | None:
    path = directory / STATE_JSON
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _OWNERS.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        state = read_json_strict(path)
    except DataFormatError:
        if strict:
            raise
        return None
    value = state.get("channel_id") if isinstance(state, dict) else None
    owner = value if is_int(value) else None
    _OWNERS[path] = (key, owner)
    return owner


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
        if is_int(cid) and (by_id or by_name):
            found.append((match["stamp"], ChannelInfo(cid, name if isinstance(name, str) else None, None)))
    return max(found, key=lambda pair: pair[0])[1] if found else None


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


def dedupe_sorted(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Sorted by id, the first copy of each id kept; notes what changed."""
    unique: dict[int, dict[str, Any]] = {}
    for record in messages:
        unique.setdefault(record["id"], record)
    repaired = [unique[i] for i in sorted(unique)]
    if len(unique) != len(messages):
        return repaired, [f"dropped {len(messages) - len(unique)} duplicate message id(s) (kept the first copy)"]
    if any(a["id"] != b["id"] for a, b in zip(repaired, messages, strict=True)):
        return repaired, ["sorted messages by id"]
    return repaired, []


def repair_messages(messages: list[dict[str, Any]], last_id: int) -> tuple[list[dict[str, Any]], int, list[str]]:
    """Sort by id, keep the first copy of each id, raise last_id to the highest id; notes what changed."""
    repaired, notes = dedupe_sorted(messages)
    top = repaired[-1]["id"] if repaired else 0
    if top > last_id:
        notes.append(f"raised last_message_id from {last_id} to {top}")
        last_id = top
    return repaired, last_id, notes


def _locate(parts: tuple[list[dict[str, Any]], ...], message_id: int) -> tuple[list[dict[str, Any]] | None, int]:
    """The list of `parts` (each ascending by id) holding `message_id`, and its index there."""
    for part in parts:
        index = bisect.bisect_left(part, message_id, key=lambda m: m["id"])
        if index < len(part) and part[index]["id"] == message_id:
            return part, index
    return None, 0


def _media_count(messages: list[dict[str, Any]]) -> int:
    return sum(len(m.get("media_files") or ()) for m in messages)


@dataclass
class ChannelInfo:
    id: int
    username: str | None
    title: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "title": self.title}


@dataclass
class ExportFacts:
    """What the store knows about export.json's messages without holding them (state.json `export_check`)."""

    sha256: str | None = None  # of export.json's bytes on disk; None: not on disk as these facts say
    messages_total: int = 0
    media_total: int = 0
    max_id: int = 0
    channel_info: dict[str, Any] | None = None
    ours: bool = False  # written by this tool (export_layout): new messages are appended to its lines as bytes

    @classmethod
    def of(cls, messages: list[dict[str, Any]], sha256: str | None, channel_info: Any) -> ExportFacts:
        info = channel_info if isinstance(channel_info, dict) else None
        return cls(sha256, len(messages), _media_count(messages), messages[-1]["id"] if messages else 0, info)

    @classmethod
    def from_check(cls, value: Any) -> ExportFacts | None:
        """The facts recorded in state.json, or None when the key is absent or malformed."""
        if not isinstance(value, dict) or not isinstance(value.get("sha256"), str):
            return None
        counts = [value.get(k) for k in ("messages_total", "media_total", "max_id")]
        if not SHA256_RE.fullmatch(value["sha256"]) or not all(is_int(c) and c >= 0 for c in counts):
            return None
        info = value.get("channel_info")
        return cls(value["sha256"], *counts, info if isinstance(info, dict) else None, value.get("layout") == 1)

    def as_check(self) -> dict[str, Any]:
        check = {"sha256": self.sha256, "messages_total": self.messages_total, "media_total": self.media_total,
                 "max_id": self.max_id, "channel_info": self.channel_info}
        return {**check, "layout": 1} if self.ours else check


def _free_dir(output_dir: Path, slug: str, channel_id: int, moment: datetime) -> Path:
    """`<slug>__<stamp>`, or `<slug>_<id>__<stamp>` when another channel's export has that name."""
    target = output_dir / dir_name(slug, moment)
    return target if not target.exists() else output_dir / dir_name(f"{slug}_{int(channel_id)}", moment)


def _in_our_layout(raw: bytes, data: dict[str, Any]) -> bool:
    """True when export.json's bytes are exactly what export_layout writes (so new lines can be appended)."""
    lines = message_lines(raw)
    if lines is None:
        return False
    try:
        again = export_bytes(data["channel_info"], [lines] if lines else [], data["export_date"],
                             data["total_messages"])
    except (KeyError, TypeError, ValueError):
        return False
    return again == raw


def _busy(path: Path) -> OSError:
    return OSError(errno.EBUSY, "another process is writing this export (its journal is locked)", str(path))


class ExportStore:
    """One channel's export bound to its directory: messages, scan position, media indexes."""

    def __init__(self, export_dir: Path, channel: ChannelInfo, messages: list[dict[str, Any]] | None = None,
                 last_message_id: int = 0, *, existed: bool = False) -> None:
        self.export_dir = Path(export_dir)
        self.channel = channel
        self.last_message_id = last_message_id
        self.sha_index: dict[str, str] = {}
        self.file_index: dict[str, str] = {}
        self.last_update_at: str | None = None
        self.existed = existed
        self.repairs: list[str] = []
        self._loaded: list[dict[str, Any]] | None = list(messages or [])  # None: export.json not parsed yet
        self._facts = ExportFacts.of(self._loaded, None, None)  # export.json's messages (before the tail)
        self._export_dirty = True  # export.json must be (re)written even without new messages
        self._trusted = False  # export.json on disk still has the hash in _facts (checked or written by us)
        self._tail: list[dict[str, Any]] = []  # appended, not journaled yet (the only records held)
        self._added = 0  # records appended since export.json was last written (tail + those in _next)
        self._added_media = 0
        self._added_top = 0  # the id of the last of them
        self._next: NextExport | None = None  # the next export.json, written as records are journaled
        self._next_error: BaseException | None = None  # writing it failed: compaction must not go on
        self._written: tuple[tuple[int, int], int] | None = None  # last compaction: added lines' span, count
        self._updates: list[dict[str, Any]] = []  # records replaced since the last checkpoint (not journaled)
        self._updated = False  # export.json's records were replaced since it was last written
        # export.json's newest records read from its end (not parsed whole), replacements applied:
        # (byte offset of the first, every id from this one up is in it, the records)
        self._newest: tuple[int, int, list[dict[str, Any]]] | None = None
        self._update_media = 0  # media items those replacements added (or removed) since then
        self._journaled_last = last_message_id
        self._disk_index: tuple[dict[str, str], dict[str, str]] = ({}, {})  # media-index.json as on disk
        self._durable_index: tuple[dict[str, str], dict[str, str]] = ({}, {})  # on disk or journaled
        self._index_on_disk = False
        self._backup: Path | None = None
        self._writer: JournalWriter | None = None
        self._old_journal_fd: int | None = None
        self._read_only = False

    # -- paths -------------------------------------------------------------------------------

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

    @property
    def journal_path(self) -> Path:
        return self.export_dir / JOURNAL_NAME

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, output_dir: Path, channel: ChannelInfo, now: datetime | None = None, *,
             recover: bool = True) -> ExportStore:
        """Reuse the newest directory of the channel (loading it strictly) or name a new one (not created yet).

        With `recover` (the default), a journal left by a killed run is replayed and compacted and
        known damage is repaired on disk at once; without it (or while another process holds the
        journal) the store is a read-only view of the committed state.
        """
        output_dir = Path(output_dir).resolve()
        slug = channel_slug(channel.username, channel.id)
        existing = find_export_dir(output_dir, slug, channel.id)
        if existing is None:
            return cls(_free_dir(output_dir, slug, channel.id, now or datetime.now(UTC)), channel)
        store = cls(existing, channel, existed=True)
        store._load(now or datetime.now(UTC), recover)
        return store

    def _load(self, now: datetime, recover: bool) -> None:
        """Read and check everything first (DataFormatError: nothing written), then repair/recover."""
        guard = PathGuard(self.export_dir)
        state = check_state(self.state_json, read_json_strict(self.state_json), self.channel.id) \
            if self.state_json.exists() else None
        self._load_index(guard)
        self._load_export(state, guard, now)
        self._reconcile_state(state)
        self._read_only = not recover
        journal = self._load_journal(guard, recover)
        if self._read_only:
            return
        remove_stale_temps(self.export_dir, lambda name: name in _DATA_FILES or name.startswith(BACKUP_PREFIX))
        if journal or self.repairs:
            try:
                self.compact(now)
            finally:
                self.close()

    def _load_index(self, guard: PathGuard) -> None:
        if not self.media_index_json.exists():
            return
        data = read_json_strict(self.media_index_json)
        self.sha_index, self.file_index, dropped = check_index(self.media_index_json, data, guard)
        self._index_on_disk = not dropped  # else rewritten at the next compaction
        self._disk_index = (dict(self.sha_index), dict(self.file_index))
        self._durable_index = (dict(self.sha_index), dict(self.file_index))
        if dropped:
            self.repairs.append(f"dropped {dropped} media-index.json entr(ies) whose file is missing")

    def _load_export(self, state: dict[str, Any] | None, guard: PathGuard, now: datetime) -> None:
        if not self.export_json.exists():
            if state is not None:
                raise DataFormatError(f"{self.state_json} exists but {self.export_json} is missing; "
                                      "refusing to continue")
            return
        known = ExportFacts.from_check(state.get("export_check")) if state else None
        self._export_dirty = False
        if known is not None and known.sha256 == sha256_checked(self.export_json):  # hashed in chunks
            self._loaded, self._facts, self._trusted = None, known, True  # never read whole unless asked for
            return
        raw = read_bytes_checked(self.export_json)
        sha = hashlib.sha256(raw).hexdigest()
        data = parse_json_bytes(self.export_json, raw)
        messages, notes = dedupe_sorted(check_export(self.export_json, data, self.channel.id, guard))
        self._loaded, self._facts = messages, ExportFacts.of(messages, sha, data.get("channel_info"))
        self._facts.ours = not notes and _in_our_layout(raw, data)  # e.g. recovered after compact_renamed
        if self._facts.ours:  # checked by hash just now: its lines are copied as bytes, not held
            self._loaded, self._trusted = None, True
        if notes:
            self._export_dirty = True
            self._backup = _unique(self.export_dir / f"{BACKUP_PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}")
            self.repairs.append(f"export.json: {'; '.join(notes)}; the original is kept as {self._backup}")

    def _reconcile_state(self, state: dict[str, Any] | None) -> None:
        """state.json must agree with export.json; when it does not it is rebuilt from export.json."""
        facts = self._facts
        if state is None:
            self.last_message_id = self._journaled_last = facts.max_id
            if self.export_json.exists():
                self.repairs.append("state.json was missing: rebuilt from export.json")
            return
        self.last_update_at = state.get("last_update_at")
        last = state["last_message_id"]
        wrong = [f"{key} {state.get(key)} (export.json: {value})"
                 for key, value in (("messages_total", facts.messages_total), ("media_total", facts.media_total))
                 if state.get(key) != value]
        if last < facts.max_id:
            wrong.append(f"last_message_id {last} (export.json holds up to {facts.max_id})")
        self.last_message_id = self._journaled_last = max(last, facts.max_id)
        if wrong:
            self.repairs.append("rebuilt state.json from export.json: it said " + ", ".join(wrong))

    def _load_journal(self, guard: PathGuard, recover: bool) -> bool:
        """Replay a journal left behind (in memory); True when there was one this process may compact."""
        path = self.journal_path
        if not path.exists():
            return False
        fd = lock_existing(path) if recover else None
        self._read_only = self._read_only or fd is None
        try:
            self._replay(JournalReader(path, self.channel.id, guard))
        except BaseException:
            self._drop_next(None)  # a damaged journal: nothing written, the next export.json's temp removed
            if fd is not None:
                os.close(fd)
            raise
        self._old_journal_fd = fd
        return fd is not None

    def _replay(self, contents: JournalReader) -> None:
        """Apply each entry as it is read; its records go to the next export.json at once (flat memory)."""
        added = placed = updated = 0
        for entry in contents:
            if entry["op"] == "messages":
                if entry["after"] > self.last_message_id:
                    raise damaged(self.journal_path, f"it continues after message {entry['after']} but the export "
                                  f"ends at {self.last_message_id}", REFUSE)
                added += len(self.append(entry["messages"], entry["last"]))
                if not self._read_only:  # durable in that journal: out of memory at once
                    self._spool([encode_message(r) for r in self._tail])
                    self._tail = []
            elif entry["op"] == "update":
                updated += self._replace(entry["messages"])
            elif (self.export_dir / entry["path"]).is_file():
                placed += self._set_media(entry["sha256"], entry["path"], entry.get("file_key"))
        if contents.torn_note:
            self.repairs.append(contents.torn_note)
        refreshed = f", {updated} refreshed message(s)" if updated else ""
        self.repairs.append(f"recovered {added} message(s){refreshed} and {placed} media file(s) "
                            "from the journal of an interrupted run")

    # -- the run -----------------------------------------------------------------------------

    def create_dir(self) -> None:
        """Create the export directory (and the output root); ConfigError when it cannot be written."""
        try:
            self.export_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the export directory {self.export_dir}: {exc.strerror or exc}") from exc

    @property
    def messages(self) -> list[dict[str, Any]]:
        """All messages, ascending, as a new list: export.json's, then the appended ones (read back from
        the next export.json being written). A full view in memory, never used by a run's path."""
        spooled = self._spooled()
        return [*self._base(), *spooled, *self._tail]

    def _spooled(self) -> list[dict[str, Any]]:
        """The records already in the next export.json, read back from it ([] when none is open)."""
        return self._next.added_records() if self._next is not None else []

    def _base(self) -> list[dict[str, Any]]:
        """export.json's messages (parsed on first use when it was trusted by hash)."""
        if self._loaded is None:
            loaded = self._parse_trusted_export()
            if self._newest is not None and self._newest[2]:  # replacements made on its last lines
                loaded[-len(self._newest[2]):] = self._newest[2]
            self._loaded, self._newest = loaded, None
        return self._loaded

    def _lines_readable(self) -> tuple[int, int] | None:
        """export.json's message span when its lines can be read as they are (ours, unchanged), else None."""
        facts = self._facts
        if self._loaded is not None or not (self._trusted and facts.ours and not self._export_dirty
                                            and facts.sha256 is not None and facts.messages_total):
            return None
        return message_span(self.export_json)

    def _base_from(self, min_id: int, count: int = 0) -> list[dict[str, Any]]:
        """export.json's records, ascending, holding at least every id >= `min_id` (and, with `count`,
        the `count` newest): read from the end of the file when it is not held, so memory and time
        follow the records asked for, not the export. The list is the one replacements are made in."""
        newest = self._newest
        if newest is not None and (newest[1] <= min_id and len(newest[2]) >= count):
            return newest[2]
        span = self._lines_readable()
        if span is None:
            return self._base()
        offset, floor, records = span[1], 0, []
        for at, line in lines_backwards(self.export_json, *span):
            record = self._line_record(line)
            if record["id"] < min_id and len(records) >= count:
                floor = record["id"] + 1
                break
            records.append(record)
            offset = at
        records.reverse()
        if newest is not None:  # replacements already made on fewer lines
            done = {r["id"]: r for r in newest[2]}
            records = [done.get(r["id"], r) for r in records]
        self._newest = (offset, floor, records)
        return records

    def _line_record(self, line: bytes) -> dict[str, Any]:
        """One message line of export.json, parsed; DataFormatError when it is not a message."""
        record = parse_json_bytes(self.export_json, line)
        if not isinstance(record, dict) or type(record.get("id")) is not int:
            raise DataFormatError(f"{self.export_json}: a message line is not a message; refusing to continue")
        return record

    def recent(self, count: int) -> list[dict[str, Any]]:
        """The `count` newest records, ascending (export.json's read from its end when not held)."""
        if count <= 0:
            return []
        newer = [*self._spooled(), *self._tail]
        if len(newer) >= count:
            return newer[-count:]
        base = self._base_from(self._facts.max_id + 1, count - len(newer))
        return [*base, *newer][-count:]

    def iter_from(self, min_id: int) -> Iterator[dict[str, Any]]:
        """Every record with id >= `min_id`, ascending, one at a time: export.json's read line by line
        from the first such line when it is not held (memory flat), replacements applied; then the
        records this run added."""
        newest = self._newest
        done: dict[int, dict[str, Any]] = {}
        base: Iterable[dict[str, Any]]
        if self._loaded is None and newest is not None and newest[1] <= min_id:
            base = newest[2]
        elif (span := self._lines_readable()) is not None:
            base, done = self._lines_from(span, min_id), {r["id"]: r for r in (newest[2] if newest else [])}
        else:
            base = self._base()
        for record in base:
            if record["id"] >= min_id:
                yield done.get(record["id"], record)
        yield from (r for r in self._spooled() if r["id"] >= min_id)
        yield from (r for r in self._tail if r["id"] >= min_id)

    def _lines_from(self, span: tuple[int, int], min_id: int) -> Iterator[dict[str, Any]]:
        """export.json's records from the first with id >= `min_id` on, parsed one line at a time."""
        first = span[1]
        for at, line in lines_backwards(self.export_json, *span):
            if self._line_record(line)["id"] < min_id:
                break
            first = at
        lines = RecordLines(self.export_json, first, span[1], 0)
        try:
            yield from lines
        finally:
            lines.close()

    def _parse_trusted_export(self) -> list[dict[str, Any]]:
        raw = read_bytes_checked(self.export_json)
        if hashlib.sha256(raw).hexdigest() != self._facts.sha256:
            raise DataFormatError(f"{self.export_json} changed while this run was going; refusing to overwrite it")
        data = parse_json_bytes(self.export_json, raw)
        return check_export(self.export_json, data, self.channel.id, PathGuard(self.export_dir))

    def append(self, records: list[dict[str, Any]], position: int = 0) -> list[dict[str, Any]]:
        """Add records newer than last_message_id (ascending, once each); returns the ones added."""
        self.last_message_id, added = select_new(self.last_message_id, records, position)
        self._tail.extend(added)  # in place: a page costs its own size, not the whole export's
        self._added += len(added)
        self._added_media += _media_count(added)
        if added:
            self._added_top = added[-1]["id"]
        return added

    def update(self, records: list[dict[str, Any]]) -> None:
        """Replace records already in the export (same ids); journaled at the next checkpoint."""
        self._replace(records)
        self._updates.extend(records)

    def _replace(self, records: list[dict[str, Any]]) -> int:
        """Put `records` in place of the held ones with their ids: export.json's (its last lines read, or
        the parsed file), those already in the next export.json (read back, then that file is rebuilt)
        or the tail."""
        if not records:
            return 0
        spooled = self._spooled()
        base = self._base_from(min(r["id"] for r in records))
        for record in records:
            part, index = _locate((base, spooled, self._tail), record["id"])
            if part is None:
                raise damaged(self.journal_path, f"it updates message {record['id']}, which the export does not "
                              "hold", REFUSE)
            media = len(record.get("media_files") or ()) - len(part[index].get("media_files") or ())
            if part is base:
                self._update_media += media
                self._updated = True
            else:
                self._added_media += media
            part[index] = record
        if self._next is not None:  # it holds the old lines: rebuilt from the replaced records
            self._drop_next(None)
            self._spool([encode_message(r) for r in spooled])
        return len(records)

    def messages_total(self) -> int:
        return self._facts.messages_total + self._added

    def media_total(self) -> int:
        return self._facts.media_total + self._added_media + self._update_media

    def pending_records(self) -> int:
        """Records appended since the last checkpoint (not yet in the journal)."""
        return len(self._tail)

    def _set_media(self, sha256: str, rel_path: str, file_key: str | None) -> bool:
        changed = self.sha_index.get(sha256) != rel_path or bool(file_key and self.file_index.get(file_key) != sha256)
        self.sha_index[sha256] = rel_path
        if file_key:
            self.file_index[file_key] = sha256
        return changed

    def record_media(self, sha256: str, rel_path: str, file_key: str | None = None) -> None:
        """A media file was placed at `rel_path`: index it and journal that at once."""
        self._set_media(sha256, rel_path, file_key)
        durable_sha, durable_files = self._durable_index
        if durable_sha.get(sha256) == rel_path and (not file_key or durable_files.get(file_key) == sha256):
            return
        self._journal([media_line(sha256, rel_path, file_key)], [(sha256, rel_path, file_key)])

    def _index_changes(self) -> list[tuple[str, str, str | None]]:
        """(sha256, path, file key) of index changes not yet durable (made other than through record_media)."""
        durable_sha, durable_files = self._durable_index
        keys_of: dict[str, list[str]] = {}
        for key, sha in self.file_index.items() - durable_files.items():
            keys_of.setdefault(sha, []).append(key)
        shas = {sha for sha, _ in self.sha_index.items() - durable_sha.items()} | keys_of.keys()
        return [(sha, self.sha_index[sha], key)
                for sha in sorted(shas) if sha in self.sha_index for key in (keys_of.get(sha) or [None])]

    def checkpoint(self) -> bool:
        """Journal the records and scan position committed (and media indexed) since the last
        checkpoint; cost proportional to that. False when there was nothing new."""
        media = self._index_changes()
        lines = [media_line(*change) for change in media]
        encoded = [encode_message(r) for r in self._tail]
        if encoded or self.last_message_id != self._journaled_last:
            lines.append(messages_line(self._journaled_last, self.last_message_id, encoded))
        if self._updates:
            lines.append(update_line([encode_message(r) for r in self._updates]))
        if not lines:
            return False
        self._journal(lines, media)
        self._journaled_last = self.last_message_id
        self._tail, self._updates = [], []
        self._spool(encoded)
        return True

    def _spool(self, encoded: list[bytes]) -> None:
        """Records already durable (journaled) into the next export.json, out of memory. A failed
        write loses nothing (the journal has them) but this store can no longer compact them."""
        if not encoded:
            return
        if self._next_error is not None:
            raise self._next_error
        try:
            self._open_next().add(encoded)
        except BaseException as exc:
            self._drop_next(exc)
            raise

    def _open_next(self) -> NextExport:
        """The next export.json, opened with the current one's messages on first use."""
        if self._next is None:
            nxt = NextExport(self.export_json, self.channel.as_dict())
            try:
                self._keep_current(nxt)
            except BaseException:
                nxt.abort()
                raise
            self._next = nxt
        return self._next

    def _keep_current(self, nxt: NextExport) -> None:
        """Our own unchanged file's message lines are copied as bytes; any other file's messages encoded."""
        facts = self._facts
        if not facts.messages_total:
            return
        span = self._lines_readable()
        if span is not None and facts.sha256 is not None:
            if not self._updated:
                nxt.keep(*span, facts.messages_total, facts.sha256)
                return
            if self._newest is not None:  # only its last lines were replaced: the others copied as bytes
                offset, _, newest = self._newest
                nxt.keep(span[0], max(span[0], offset - len(LINE_SEPARATOR)), facts.messages_total - len(newest),
                         facts.sha256)
                nxt.keep_encoded([encode_message(m) for m in newest])
                return
        nxt.keep_encoded([encode_message(m) for m in self._base()])

    def _drop_next(self, exc: BaseException | None) -> None:
        """Remove the next export.json's temp file; with `exc`, it held journaled records: no compaction."""
        if self._next is not None:
            self._next.abort()
            self._next = None
        if exc is not None:
            self._next_error = exc

    def written_records(self) -> RecordLines | None:
        """The records the last compaction added to export.json, read back from that file when used
        (opened now, under the export lock); None when it added none."""
        if self._written is None or not self._written[1]:
            return None
        (start, end), count = self._written
        return RecordLines(self.export_json, start, end, count)

    def _journal(self, lines: list[bytes], media: list[tuple[str, str, str | None]]) -> None:
        if self._read_only:
            raise _busy(self.journal_path)
        if self._writer is None:
            self._writer = JournalWriter(self.journal_path, self.channel.id)
        self._writer.append(lines)
        for sha, path, key in media:
            self._durable_index[0][sha] = path
            if key:
                self._durable_index[1][key] = sha

    # -- compaction --------------------------------------------------------------------------

    def _export_changed(self) -> bool:
        return bool(self._added) or self._updated or self._export_dirty or self._facts.channel_info != self.channel.as_dict()

    def compact(self, now: datetime | None = None) -> None:
        """Write media-index.json, export.json (when its content changed) and state.json atomically,
        in that order (state.json is the commit point), then remove the journal."""
        if self._read_only:
            raise _busy(self.journal_path)
        if self._next_error is not None:  # journaled records never reached the next export.json
            raise self._next_error
        self._written = None
        now = now or datetime.now(UTC)
        if not self._index_on_disk or self._disk_index != (self.sha_index, self.file_index):
            self._write(self.media_index_json, dump_json_text(self.index_document()).encode("utf-8"))
            self._disk_index = (dict(self.sha_index), dict(self.file_index))
            self._durable_index = (dict(self.sha_index), dict(self.file_index))
            self._index_on_disk = True
        if self._export_changed():
            self._write_export(now)
        self.last_update_at = utc_iso(now)
        self._write(self.state_json, dump_json_text(self.state_document()).encode("utf-8"))
        self._drop_journal()

    def _write_export(self, now: datetime) -> None:
        """Finish the next export.json (the records not journaled yet added last) and rename it into place."""
        if self._backup is not None:
            write_bytes_atomic(self._backup, read_bytes_checked(self.export_json))
            self._backup = None
        nxt = self._open_next()
        try:
            nxt.add([encode_message(r) for r in self._tail])
            sha, span = nxt.finish(utc_iso(now), before_rename=lambda: fault_points.hit("compact_write"))
        except BaseException as exc:
            self._drop_next(exc)
            raise
        self._next = None
        fault_points.hit("compact_renamed")
        top = self._added_top if self._added else self._facts.max_id
        self._facts = ExportFacts(sha, self.messages_total(), self.media_total(), top, self.channel.as_dict(),
                                  ours=True)
        self._written = (span, nxt.added)
        self._tail, self._added, self._added_media, self._added_top = [], 0, 0, 0
        self._updated, self._update_media, self._newest = False, 0, None
        self._loaded = None  # export.json is trusted by hash: parsed again only if asked for
        self._export_dirty, self._trusted = False, True

    @staticmethod
    def _write(path: Path, payload: bytes) -> None:
        write_bytes_atomic(path, payload, before_rename=lambda: fault_points.hit("compact_write"))

    def _drop_journal(self) -> None:
        if self._writer is not None:
            self._writer.remove()
            self._writer = None
        elif self.journal_path.exists():
            JournalWriter(self.journal_path, self.channel.id, self._old_journal_fd).remove()
        elif self._old_journal_fd is not None:
            os.close(self._old_journal_fd)
        self._old_journal_fd = None
        self._journaled_last = self.last_message_id

    def save(self, now: datetime | None = None) -> None:
        """End of a run: checkpoint what is pending (kept even if compaction fails), then compact."""
        self.checkpoint()
        self.compact(now)

    def close(self) -> None:
        """Release the journal's file and lock (a journal that was not compacted stays for the next run)
        and remove the next export.json's temp file if it was not finished."""
        self._drop_next(None)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._old_journal_fd is not None:
            os.close(self._old_journal_fd)
            self._old_journal_fd = None

    # -- documents ---------------------------------------------------------------------------

    def state_document(self) -> dict[str, Any]:
        state = {
            "channel_id": self.channel.id,
            "channel_username": self.channel.username,
            "last_message_id": self.last_message_id,
            "last_update_at": self.last_update_at,
            "messages_total": self.messages_total(),
            "media_total": self.media_total(),
        }
        if self._facts.sha256 is not None and not self._export_changed():
            state["export_check"] = self._facts.as_check()
        return state

    def index_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"sha256_to_path": dict(sorted(self.sha_index.items()))}
        if self.file_index:
            document["file_id_to_sha256"] = dict(sorted(self.file_index.items()))
        return document

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.summary_json, summary)


def _unique(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, … when taken."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate
