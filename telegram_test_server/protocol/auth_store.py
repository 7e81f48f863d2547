"""Auth keys the server knows, their salts, and which account each key is signed in as (rpc.AuthBindings)."""
from __future__ import annotations

import json
import os
import struct
import tempfile
import threading
from pathlib import Path

from telethon.crypto import AuthKey

STATE_FILE = "auth_keys.json"


def atomic_write_json(path: Path, data: object) -> None:
    """Write JSON to a temp file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _new_salt() -> int:
    return struct.unpack("<q", os.urandom(8))[0]


class AuthKeyStore:
    """Key id → AuthKey and key id → user id; persisted to `<state_dir>/auth_keys.json` when a dir is given."""

    def __init__(self, state_dir: str | Path | None = None) -> None:
        self._path = Path(state_dir) / STATE_FILE if state_dir is not None else None
        self._lock = threading.Lock()
        self._keys: dict[int, AuthKey] = {}
        self._users: dict[int, int] = {}
        self._salts: dict[int, int] = {}
        if self._path is not None and self._path.exists():
            self._load(self._path)

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        for hex_key in data.get("keys", []):
            key = AuthKey(bytes.fromhex(hex_key))
            self._keys[key.key_id] = key
        self._users = {int(k, 16): int(v) for k, v in data.get("bindings", {}).items()}

    def _save(self) -> None:
        if self._path is None:
            return
        data = {
            "keys": [k.key.hex() for k in self._keys.values()],
            "bindings": {f"{kid:016x}": uid for kid, uid in self._users.items()},
        }
        atomic_write_json(self._path, data)

    def add(self, key: AuthKey) -> int:
        """Remember a freshly negotiated key; returns its id."""
        with self._lock:
            self._keys[key.key_id] = key
            self._save()
        return key.key_id

    def get(self, key_id: int) -> AuthKey | None:
        """The key with this id, or None when the server does not know it (client gets -404)."""
        return self._keys.get(key_id)

    def key_ids(self) -> list[int]:
        """Ids of all known keys."""
        with self._lock:
            return list(self._keys)

    def salt(self, key_id: int) -> int:
        """The current server salt for a key (a new random one per key and server run)."""
        salt = self._salts.get(key_id)
        if salt is None:
            salt = self._salts[key_id] = _new_salt()
        return salt

    def user_for(self, auth_key_id: int) -> int | None:
        """User id this key is signed in as, or None."""
        return self._users.get(auth_key_id)

    def bind(self, auth_key_id: int, user_id: int) -> None:
        """Mark the key as signed in as `user_id` (after auth.signIn / auth.checkPassword)."""
        with self._lock:
            self._users[auth_key_id] = user_id
            self._save()

    def unbind(self, auth_key_id: int) -> None:
        """Sign the key out (auth.logOut)."""
        with self._lock:
            if self._users.pop(auth_key_id, None) is not None:
                self._save()

    def forget(self, auth_key_id: int) -> None:
        """Drop a key entirely, as if the server never saw it (for AUTH_KEY tests)."""
        with self._lock:
            self._keys.pop(auth_key_id, None)
            self._users.pop(auth_key_id, None)
            self._salts.pop(auth_key_id, None)
            self._save()
