"""Atomic JSON files: write to a temp file, fsync, rename; load strictly, never default silently."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from errors import DataFormatError

OUTLINE_DEPTH = 2  # objects/arrays this deep are laid out one member per line; deeper ones compact


def dump_json_text(data: Any) -> str:
    """The one JSON style of every file (and stdout) we write: UTF-8 kept as is, the outer two
    levels one member per line, each deeper value (e.g. one message) compact on its line.

    Compact values go through json's C encoder; `indent=` would force the pure-Python one,
    which made encoding a third of a large export's run time (BENCHMARKS.md).
    """
    return _outline(data, 0) + "\n"


def _outline(value: Any, level: int) -> str:
    if level >= OUTLINE_DEPTH or not value or not isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    pad, end = "  " * (level + 1), "\n" + "  " * level
    if isinstance(value, dict):
        members = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {_outline(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(members) + end + "}"
    return "[\n" + ",\n".join(pad + _outline(v, level + 1) for v in value) + end + "]"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


DEFAULT_FILE_MODE = 0o666 & ~_current_umask()  # what open() would give; mkstemp alone gives 0600


def write_json_atomic(path: Path, data: Any, *, mode: int = DEFAULT_FILE_MODE) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never a torn one."""
    payload = dump_json_text(data).encode("utf-8")  # encode first: a failure leaves no temp file
    with atomic_file(path, mode=mode) as handle:
        handle.write(payload)


@contextlib.contextmanager
def atomic_file(path: Path, *, mode: int = DEFAULT_FILE_MODE) -> Iterator[BinaryIO]:
    """A binary handle on a temp file beside `path`; on success it is fsynced and renamed to `path`,
    on any exception removed, so `path` is always the old or the complete new file."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_json_strict(path: Path) -> Any:
    """Load a JSON file; a file that does not parse raises DataFormatError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{path} is not valid JSON ({exc}); refusing to overwrite it") from exc
