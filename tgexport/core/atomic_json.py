"""Atomic JSON files: write to a temp file, fsync, rename; load strictly, never default silently.

Temp files are `.<name>.<pid>.<random>.tmp` beside the target, so a later run can remove the
leftovers of a killed process (`remove_stale_temps`) without touching a live writer's.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from errors import DataFormatError
from tgexport.core import fault_points, platform

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
    write_bytes_atomic(path, dump_json_text(data).encode("utf-8"), mode=mode)  # encoded first: no temp on failure


def write_bytes_atomic(path: Path, payload: bytes, *, mode: int = DEFAULT_FILE_MODE,
                       before_rename: Callable[[], None] | None = None) -> None:
    """Replace `path` with `payload` atomically; `before_rename` runs when the temp file is complete."""
    with atomic_file(path, mode=mode, before_rename=before_rename) as handle:
        handle.write(payload)


@contextlib.contextmanager
def atomic_file(path: Path, *, mode: int = DEFAULT_FILE_MODE,
                before_rename: Callable[[], None] | None = None) -> Iterator[BinaryIO]:
    """A binary handle on a temp file beside `path`; on success it is fsynced and renamed to `path`,
    on any exception removed, so `path` is always the old or the complete new file."""
    writer = AtomicWriter(path, mode=mode)
    try:
        yield writer.handle
    except BaseException:
        writer.abort()
        raise
    writer.commit(before_rename)


class AtomicWriter:
    """A temp file beside `path`, written piece by piece (e.g. over a whole run), then `commit()`:
    fsynced and renamed to `path`; or `abort()`: removed. `path` is always the old or the new file."""

    def __init__(self, path: Path, *, mode: int = DEFAULT_FILE_MODE) -> None:
        self.path = Path(path)
        fault_points.raise_os_error("json_write", self.path)
        fd, self.tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}.", suffix=".tmp",
                                             dir=platform.long_path(self.path.parent))
        try:
            platform.set_mode(fd, mode)
            self.handle: BinaryIO = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self._unlink()
            raise

    def commit(self, before_rename: Callable[[], None] | None = None) -> None:
        """fsync, `before_rename()`, rename over `path`, fsync the directory; on failure the temp is removed."""
        try:
            with self.handle:
                self.handle.flush()
                os.fsync(self.handle.fileno())
            if before_rename is not None:
                before_rename()
            platform.replace(self.tmp_name, platform.long_path(self.path))  # Windows: retried while a reader holds it
        except BaseException:
            self._unlink()
            raise
        fsync_dir(self.path.parent)

    def abort(self) -> None:
        """Close and remove the temp file (`path` is left as it was)."""
        with contextlib.suppress(OSError):
            self.handle.close()
        self._unlink()

    def _unlink(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp_name)


fsync_dir = platform.fsync_dir  # make a rename durable (skipped where directories cannot be opened)


_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def remove_stale_temps(directory: Path, wanted: Callable[[str], bool]) -> list[str]:
    """Delete temp files (of targets whose name `wanted` accepts) left in `directory` by processes
    that are gone; returns their names."""
    removed: list[str] = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            match = _TEMP_RE.match(entry.name)
            if match and wanted(match["name"]) and not _alive(int(match["pid"])):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_bytes(path: Path, raw: bytes) -> Any:
    """Parse the bytes of file `path`; DataFormatError naming it when they are not strict JSON."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DataFormatError(f"{path} is not valid JSON ({exc}); refusing to overwrite it") from exc


def _regular(path: Path) -> Path:
    """`path`, when it is a regular file; a directory (or other non-file) in its place is DataFormatError."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path} is not a regular file; refusing to overwrite it")
    return path


def read_bytes_checked(path: Path) -> bytes:
    """The bytes of a data file (see `_regular`)."""
    return _regular(path).read_bytes()


def sha256_checked(path: Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a data file (see `_regular`), read in chunks: memory stays flat whatever its size."""
    digest = hashlib.sha256()
    with open(_regular(path), "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_json_strict(path: Path) -> Any:
    """Load a JSON file; a file that does not parse raises DataFormatError naming it."""
    return parse_json_bytes(Path(path), read_bytes_checked(path))
