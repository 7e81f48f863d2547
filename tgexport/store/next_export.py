"""The next export.json, written while the run goes instead of being built in memory at the end.

Opened when the first new records are journaled (or at compaction): a temp file beside export.json
gets the head, then the current file's message lines copied as bytes (their hash checked on the
way) or, for a file not in our layout, its messages encoded; then each checkpoint's new lines,
once they are in the journal. `finish()` adds `export_date` / `total_messages`, fsyncs and renames
it into place (the journal stays the record of truth until state.json is written after it). Memory
holds one checkpoint's lines at most; the bytes written are the new export.json's, once. A kill
leaves the temp file, removed by the next run (atomic_json.remove_stale_temps).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from errors import DataFormatError
from tgexport.core.atomic_json import AtomicWriter
from tgexport.store.layout import export_end, export_head, line_prefix, read_span


def _identity(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino


class NextExport:
    """One export.json being written: kept lines first, then added lines, then `finish()` or `abort()`."""

    def __init__(self, path: Path, channel_info: dict[str, Any]) -> None:
        self.path = Path(path)
        self.channel_info = channel_info
        self._writer = AtomicWriter(self.path)
        self._sha = hashlib.sha256()
        self._size = 0
        self.count = 0  # message lines written
        self.added = 0  # of them, added after the kept ones
        self._added_start: int | None = None  # byte offset of the first added line
        self._source: tuple[int, int, int] | None = None  # the export.json whose lines were kept
        try:
            self._put(export_head(channel_info))
        except BaseException:
            self._writer.abort()
            raise

    def _put(self, data: bytes) -> None:
        self._writer.handle.write(data)
        self._sha.update(data)
        self._size += len(data)

    def keep(self, start: int, end: int, count: int, sha256: str) -> None:
        """Copy the current export.json's message lines (bytes [start, end), `count` of them) as they
        are; DataFormatError when the file no longer has `sha256`."""
        self._source = _identity(self.path)
        if count:
            self._put(line_prefix(first=not self.count))
        for chunk in read_span(self.path, start, end, sha256):  # also with no line: the file is checked
            self._put(chunk)
        self.count += count

    def keep_encoded(self, lines: list[bytes]) -> None:
        """The current messages, encoded (an export.json not in our layout, or repaired)."""
        self._lines(lines)

    def add(self, lines: list[bytes]) -> None:
        """New records' encoded lines (ascending ids, after everything written so far)."""
        if lines and self._added_start is None:
            self._added_start = self._size + len(line_prefix(first=not self.count))
        self._lines(lines)
        self.added += len(lines)

    def _lines(self, lines: list[bytes]) -> None:
        if lines:
            self._put(line_prefix(first=not self.count) + line_prefix(first=False).join(lines))
            self.count += len(lines)

    def finish(self, export_date: str, before_rename: Callable[[], None] | None = None,
               ) -> tuple[str, tuple[int, int]]:
        """Close the list, rename the file into place; its sha256 and the byte span of the added lines."""
        if self._source is not None and _identity(self.path) != self._source:
            self.abort()
            raise DataFormatError(f"{self.path} changed while this run was going; refusing to overwrite it")
        added_end = self._size
        try:
            self._put(export_end(self.channel_info, export_date, self.count, bool(self.count)))
        except BaseException:
            self.abort()
            raise
        self._writer.commit(before_rename)
        start = added_end if self._added_start is None else self._added_start
        return self._sha.hexdigest(), (start, added_end)

    def abort(self) -> None:
        self._writer.abort()

    def added_records(self) -> list[dict[str, Any]]:
        """The added records parsed back from the temp file (a full view for callers that ask for one)."""
        if self._added_start is None:
            return []
        self._writer.handle.flush()
        with open(self._writer.tmp_name, "rb") as handle:
            handle.seek(self._added_start)
            raw = handle.read(self._size - self._added_start)
        return [json.loads(line.strip().removesuffix(b",")) for line in raw.split(b"\n")]
