"""Stored media files: sha256, dedup through the sha256 → path index (and the Telegram file id →
sha256 index), atomic placement. Index updates go through `on_placed` (the export store's
`record_media`, which journals them); this module never writes JSON."""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tgexport.core import fault_points, platform
from tgexport.core.atomic_json import fsync_dir
from tgexport.media.names import relative_posix, safe_target

CHUNK = 1024 * 1024
OnPlaced = Callable[[str, str, "str | None"], None]  # (sha256, relative path, file key or None)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _move_atomic(src: Path, dst: Path) -> None:
    """Rename `src` onto `dst`; across file systems copy beside `dst` first, then rename."""
    try:
        platform.replace(src, platform.long_path(dst))  # Windows: retried while another process holds it
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        staging = dst.with_name(f".{dst.name}.part")
        try:
            shutil.copyfile(src, staging)
            _fsync_file(staging)
            platform.replace(staging, platform.long_path(dst))
        finally:
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
        src.unlink()
    fsync_dir(dst.parent)


class MediaStore:
    """Places downloaded files under `media/<kind>/`; knows sha256 → path and file key → sha256."""

    def __init__(self, export_dir: Path, sha_index: dict[str, str], file_index: dict[str, str] | None = None,
                 on_placed: OnPlaced | None = None) -> None:
        self.export_dir = Path(export_dir)
        self.sha_index = sha_index
        self.file_index: dict[str, str] = {} if file_index is None else file_index
        self.on_placed = on_placed

    def existing(self, sha: str) -> str | None:
        """The indexed relative path for `sha` if that file is still there, inside the export dir."""
        rel = self.sha_index.get(sha)
        if not rel:
            return None
        root = self.export_dir.resolve()
        path = (self.export_dir / rel).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return rel

    def known_file(self, file_key: str | None) -> tuple[str, str, int] | None:
        """(relative path, sha256, size) of the stored copy of Telegram file `file_key`, if there is one."""
        sha = self.file_index.get(file_key) if file_key else None
        rel = self.existing(sha) if sha else None
        if rel is None or sha is None:
            return None
        return rel, sha, (self.export_dir / rel).stat().st_size

    def place(self, tmp: Path, kind: str, name: str, sha: str) -> str:
        """Move `tmp` into `media/<kind>/<name>` (another name if a different file is there); the
        caller then calls `record` (the index is not touched here)."""
        target = self._free_target(kind, name, sha)
        _fsync_file(tmp)
        fault_points.raise_os_error("media_place")
        _move_atomic(tmp, target)
        fault_points.hit("media_placed")
        return relative_posix(self.export_dir, target)

    def _free_target(self, kind: str, name: str, sha: str) -> Path:
        """`media/<kind>/<name>`, or `<stem>_<sha prefix>.<ext>` (longer prefixes, then a counter)
        when a different file already has that name: a stored file is never overwritten."""
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        alternatives = [f"{stem}_{sha[:n]}" for n in (8, 16, 64)] + [f"{stem}_{sha}_{i}" for i in range(2, 1000)]
        for candidate in [name, *(f"{alt}.{ext}" if ext else alt for alt in alternatives)]:
            target = safe_target(self.export_dir, kind, candidate)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or sha256_file(target) == sha:
                return target
        raise FileExistsError(f"no free name for {name} in media/{kind}")

    def record(self, sha: str, rel: str, file_key: str | None) -> None:
        """A file with `sha` is stored at `rel` (placed now or found by hash): index it (via on_placed)."""
        if self.on_placed is not None:
            self.on_placed(sha, rel, file_key)
            return
        self.sha_index.setdefault(sha, rel)
        if file_key:
            self.file_index[file_key] = sha
