"""Stored media files: sha256, dedup through the sha256 → path index, atomic placement."""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from pathlib import Path

from tgexport.atomic_json import fsync_dir
from tgexport.media_names import relative_posix, safe_target

CHUNK = 1024 * 1024


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
        os.replace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        staging = dst.with_name(f".{dst.name}.part")
        try:
            shutil.copyfile(src, staging)
            _fsync_file(staging)
            os.replace(staging, dst)
        finally:
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
        src.unlink()
    fsync_dir(dst.parent)


class MediaStore:
    """Places downloaded files under `media/<kind>/` and keeps `sha_index` (sha256 → relative path)."""

    def __init__(self, export_dir: Path, sha_index: dict[str, str]) -> None:
        self.export_dir = Path(export_dir)
        self.sha_index = sha_index

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

    def place(self, tmp: Path, kind: str, name: str, sha: str) -> str:
        """Move `tmp` into `media/<kind>/<name>` (another name if a different file is there); index it."""
        target = safe_target(self.export_dir, kind, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and sha256_file(target) != sha:
            stem, dot, ext = name.rpartition(".")
            alt = f"{stem}_{sha[:8]}.{ext}" if dot else f"{name}_{sha[:8]}"
            target = safe_target(self.export_dir, kind, alt)
        _fsync_file(tmp)
        _move_atomic(tmp, target)
        rel = relative_posix(self.export_dir, target)
        self.sha_index[sha] = rel
        return rel
