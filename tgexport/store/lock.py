"""One writer per export: an inter-process lock per (output directory, channel id).

The lock file `.<channel id>.export.lock` lives in the output directory (not in the export
directory, which may not exist yet and whose name changes with the channel's username), holds
the owner's PID and is removed on release. It is the session lock's machinery
(`tgexport/core/path_lock.py`: flock, inode re-check, owner JSON, mode 0600), keyed differently.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from errors import ExportLockedError, storage_error
from tgexport.core.path_lock import PathLock, owner_pid

LOCK_NAME = ".{channel_id}.export.lock"


def export_lock_path(output_dir: str | os.PathLike[str], channel_id: int) -> Path:
    """`<resolved output dir>/.<channel id>.export.lock`."""
    return Path(output_dir).resolve() / LOCK_NAME.format(channel_id=int(channel_id))


class ExportBusy(ExportLockedError):
    """Another process writes this channel's export; `owner_pid` is what its lock file says."""

    def __init__(self, lock_path: Path, channel: str, owner: dict[str, Any]) -> None:
        self.owner_pid = owner_pid(owner)
        self.lock_path = lock_path
        holder = f"PID {self.owner_pid}" if self.owner_pid is not None else "a process that has not written its PID yet"
        super().__init__(
            f"the export of {channel} in {lock_path.parent} is being written by another process ({holder}); "
            "wait for it to finish",
            lock_path=str(lock_path), owner_pid=self.owner_pid,
        )


class ExportLock(PathLock):
    """Exclusive lock on the export of `channel_id` under `output_dir` (created if missing)."""

    def __init__(self, output_dir: str | os.PathLike[str], channel_id: int, *, channel_name: str | None = None,
                 run_id: str | None = None) -> None:
        super().__init__(export_lock_path(output_dir, channel_id))
        self.channel_id = int(channel_id)
        self.channel = f"@{channel_name}" if channel_name else f"channel {self.channel_id}"
        self.run_id = run_id

    def acquire(self, wait: float = 0.0) -> None:
        """Create the output directory if needed, then take the lock or raise `ExportBusy`."""
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, self.lock_path.parent) from exc
        super().acquire(wait)

    def _owner_fields(self) -> dict[str, Any]:
        return {"command": "parse", "channel_id": self.channel_id, "run_id": self.run_id}

    def _busy(self, owner: dict[str, Any]) -> BaseException:
        return ExportBusy(self.lock_path, self.channel, owner)

    def _open_failed(self, exc: OSError) -> BaseException:
        return storage_error(exc, self.lock_path)
