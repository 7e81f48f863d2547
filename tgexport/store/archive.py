"""`--zip`: pack an export directory into `<export_dir>.zip` beside it, atomically.

Entries are relative POSIX paths under the directory (never absolute, never `..`, never a
backslash). Hidden entries are working files and are left out: the temp download folder
(`.tmp/`), atomic-write leftovers (`.*.tmp`), staging `.*.part` files, locks; so are symlinks
and names a Windows unzip would read as paths (a backslash or colon in a name written on POSIX).
Everything the tool exports (JSON, logs, `media/<kind>/<id>…`) has a plain, non-hidden name.
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tgexport.core.atomic_json import atomic_file

TEMP_DIR_NAME = ".tmp"


def archive_path(export_dir: Path) -> Path:
    return export_dir.with_name(export_dir.name + ".zip")


def _excluded(rel: Path) -> bool:
    return any(part.startswith(".") or "\\" in part or ":" in part for part in rel.parts)


def archive_members(export_dir: Path) -> Iterator[tuple[Path, str]]:
    """(file, arcname) pairs in a stable order; arcnames are relative with forward slashes."""
    for root, dirs, files in os.walk(export_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not _excluded(Path(d)))
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(export_dir)
            if path.is_symlink() or not path.is_file() or _excluded(rel):
                continue
            yield path, rel.as_posix()


def make_archive(export_dir: Path) -> Path:
    """Write `<export_dir>.zip` through a temp file in the same folder and rename it into place."""
    export_dir = Path(export_dir)
    target = archive_path(export_dir)
    with atomic_file(target) as handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, arcname in archive_members(export_dir):
            zf.write(path, arcname)
    return target
