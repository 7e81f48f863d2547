"""Request log: one JSONL line per unwrapped RPC, plus in-memory entries a test can count."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from telethon.tl.tlobject import TLObject

SECRET_KEYS = frozenset({
    "phone_number", "phone_code", "phone_code_hash", "api_hash", "api_id", "password",
    "new_settings", "email_code", "code",
})
NESTED_KEYS = frozenset({"thumb_size", "username", "file_reference", "volume_id", "local_id", "big"})
MAX_LIST = 50


def method_name(request: TLObject | type) -> str:
    """TL name of a Telethon request class: `telethon.tl.functions.messages.GetHistoryRequest` → messages.getHistory."""
    cls = request if isinstance(request, type) else type(request)
    name = cls.__name__.removesuffix("Request")
    name = name[:1].lower() + name[1:]
    namespace = cls.__module__.rpartition("telethon.tl.functions")[2].lstrip(".")
    return f"{namespace}.{name}" if namespace else name


def _reduce(value: Any, nested: bool) -> Any:
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: _reduce(v, True) for k, v in value.items() if _keep_nested(k)}
    if isinstance(value, list):
        return [_reduce(v, nested) for v in value[:MAX_LIST]]
    return value


def _keep_nested(key: str) -> bool:
    return key == "_" or key == "id" or key.endswith(("_id", "ids")) or key in NESTED_KEYS


def params_of(request: TLObject) -> dict[str, Any]:
    """Parameters of a request: scalars kept (None as null), bytes as lengths, nested objects as `_` + ids, secrets hidden."""
    out: dict[str, Any] = {}
    for key, value in request.to_dict().items():
        if key == "_":
            continue
        out[key] = "<redacted>" if key in SECRET_KEYS else _reduce(value, False)
    return out


class RequestLog:
    """Thread-safe list of request entries, optionally mirrored to a JSONL file (flushed per line)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._file: TextIO | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def start(self, auth_key_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Add an in-flight entry (counted at once, so a stalled call still counts); finish() completes it."""
        entry: dict[str, Any] = {"t": round(time.time(), 6), "auth_key_id": f"{auth_key_id:016x}",
                                 "method": method, "params": params, "result_bytes": None}
        with self._lock:
            self._entries.append(entry)
        return entry

    def finish(self, entry: dict[str, Any], result_bytes: int | None = None, error: str | None = None) -> None:
        """Complete an entry with the answer size or the error (e.g. FLOOD_WAIT_3) and write its JSONL line."""
        if error is not None:
            entry.pop("result_bytes", None)
            entry["error"] = error
        else:
            entry["result_bytes"] = result_bytes
        if self._file is None:
            return
        line = json.dumps(entry, ensure_ascii=False, default=str)
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()

    def record(self, auth_key_id: int, method: str, params: dict[str, Any],
               result_bytes: int | None = None, error: str | None = None) -> dict[str, Any]:
        """Add a completed entry in one step."""
        entry = self.start(auth_key_id, method, params)
        self.finish(entry, result_bytes, error)
        return entry

    def count(self, method: str | None = None) -> int:
        """How many calls of `method` (all calls when None) were logged since the last reset."""
        with self._lock:
            if method is None:
                return len(self._entries)
            return sum(1 for e in self._entries if e["method"] == method)

    def entries(self, method: str | None = None) -> list[dict[str, Any]]:
        """A copy of the logged entries, optionally only those of one method."""
        with self._lock:
            return [e for e in self._entries if method is None or e["method"] == method]

    def reset(self) -> None:
        """Forget the in-memory entries (the file keeps its lines)."""
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        """Close the JSONL file, if any."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
