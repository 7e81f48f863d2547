"""Invariants of an export directory on disk, for the kill/resume test (issue 5.2).

Each check returns a list of problems (strings), empty when the invariant holds, so a test can
collect every broken invariant of every kill before it fails. What is expected comes from the
server's world (`Expected.from_world`: ids and the sha256 of every media file, computed with the
server's own media functions) and from an uninterrupted reference export.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from telegram_test_server.world import media as server_media

ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
LEADING_ID_RE = re.compile(r"^(\d+)")
DATA_FILES = ("export.json", "state.json", "media-index.json", "summary.json")
KINDS = {"photo", "video", "document"}
ITEM_ERRORS = {"file_reference_expired", "download_timeout", "retry_exhausted"}
SUMMARY_TYPES: dict[str, tuple[type, ...]] = {
    "run_at": (str,), "run_id": (str,), "channel_id": (int,), "mode": (str,), "dry_run": (bool,),
    "scanned_messages": (int,), "new_messages": (int,), "media_saved": (int,), "media_skipped_by_size": (int,),
    "media_dedup_hits": (int,), "media_errors_count": (int,), "partial_failure": (bool,),
    "known_size_mb": (float, int), "unknown_size_count": (int,), "flood_wait_events": (int,), "export_dir": (str,),
}
STATE_INTS = ("channel_id", "last_message_id", "messages_total", "media_total")

FileId = tuple[int, str]  # (media id of the InputFileLocation, thumb_size; "" for documents)


# --- what the server serves -------------------------------------------------------------------

@dataclass(frozen=True)
class MediaFile:
    """One downloadable file of the scenario: the message that carries it, its size and sha256."""

    message_id: int
    file_id: FileId
    size: int
    sha256: str


@dataclass
class Expected:
    """Ids of the channel and its media files, from the running server's world."""

    channel_id: int
    ids: list[int]
    media: dict[int, MediaFile]  # by message id
    by_file: dict[FileId, MediaFile] = field(default_factory=dict)

    @classmethod
    def from_world(cls, world: Any, channel: str) -> Expected:
        state = world.channel(channel)
        files: dict[int, MediaFile] = {}
        for mid in state.ids:
            spec = state.messages[mid].media
            if spec is None or spec.type not in KINDS:
                continue
            thumb = max(spec.sizes, key=lambda s: s.size).type if spec.type == "photo" else server_media.MAIN
            key, size = world.media_file(state.id, mid, thumb)
            digest = hashlib.sha256(server_media.file_bytes(key, size)).hexdigest()
            files[mid] = MediaFile(mid, (server_media.media_id(state.id, mid), thumb), size, digest)
        return cls(state.id, list(state.ids), files, {f.file_id: f for f in files.values()})

    def file_key(self, message_id: int) -> str:
        """The parser's Telegram file key (`photo:<id>` / `document:<id>`) of a message's media."""
        kind = "photo" if self.media[message_id].file_id[1] else "document"
        return f"{kind}:{self.media[message_id].file_id[0]}"


class Hasher:
    """sha256 of files, cached by (path, size, mtime) so repeated checks stay cheap."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, int], str] = {}

    def __call__(self, path: Path) -> str:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self._cache:
            self._cache[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self._cache[key]


# --- reading ----------------------------------------------------------------------------------

def load_json(path: Path, problems: list[str]) -> Any:
    """The parsed file, or None (with a problem noted) when it is missing or does not parse."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name} does not parse: {exc}")
        return None


def read_data(export_dir: Path, problems: list[str]) -> dict[str, Any]:
    """export.json, state.json, media-index.json, summary.json by name (None when absent)."""
    return {name: load_json(export_dir / name, problems) for name in DATA_FILES}


def journal_files(export_dir: Path) -> list[Path]:
    """Files that look like the store's journal (name contains "journal"), outside media/."""
    if not export_dir.is_dir():
        return []
    return sorted(p for p in export_dir.rglob("*") if p.is_file() and "journal" in p.name.lower()
                  and p.relative_to(export_dir).parts[0] != "media")


def leftover_files(export_dir: Path) -> list[str]:
    """Temp, part and journal files anywhere in the export dir (relative paths)."""
    out = []
    for path in sorted(export_dir.rglob("*")):
        rel = path.relative_to(export_dir).as_posix()
        name = path.name.lower()
        if path.is_dir() and name == ".tmp":
            out.append(rel + "/")
        elif path.is_file() and (name.endswith((".part", ".tmp")) or "journal" in name or ".tmp" in rel.split("/")):
            out.append(rel)
    return out


# --- contract shapes --------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _opt(value: Any, check: Any) -> bool:
    return value is None or check(value)


def item_problems(mid: int, item: Any) -> list[str]:
    """A `media_files` item: contract keys and types; an error item is a problem here (no faults)."""
    where = f"message {mid} media item"
    if not isinstance(item, dict) or item.get("type") not in KINDS:
        return [f"{where} is not a media item: {item!r}"]
    if "error" in item:
        return [f"{where} failed: {item['error']!r}" + ("" if item["error"] in ITEM_ERRORS else " (unknown error)")]
    ok = (isinstance(item.get("path"), str) and isinstance(item.get("filename"), str)
          and _opt(item.get("size"), _is_int) and SHA_RE.match(str(item.get("sha256", ""))))
    return [] if ok else [f"{where} has wrong keys/types: {item!r}"]


def message_problems(msg: Any) -> list[str]:
    """One export.json message against the contract table (extra keys such as poll/service allowed)."""
    if not isinstance(msg, dict) or not _is_int(msg.get("id")):
        return [f"message without an integer id: {str(msg)[:120]}"]
    fwd = msg.get("forwarded")
    ok = (isinstance(msg.get("date"), str) and ISO_RE.match(msg["date"]) and isinstance(msg.get("text"), str)
          and isinstance(msg.get("media_files"), list) and _opt(msg.get("reply_to_msg_id"), _is_int)
          and _opt(msg.get("views"), _is_int) and _opt(msg.get("forwards"), _is_int)
          and (fwd is None or (isinstance(fwd, dict) and {"from_name", "date", "channel_post_id", "post_author"} <= set(fwd))))
    out = [] if ok else [f"message {msg['id']} does not meet the contract: {str(msg)[:200]}"]
    for item in msg.get("media_files") or []:
        out += item_problems(msg["id"], item)
    return out


def export_problems(data: Any) -> list[str]:
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        return ["export.json has no messages list"]
    info = data.get("channel_info")
    out = []
    if not (isinstance(info, dict) and _is_int(info.get("id")) and _opt(info.get("username"), lambda v: isinstance(v, str))):
        out.append(f"export.json channel_info is wrong: {info!r}")
    if not (isinstance(data.get("export_date"), str) and ISO_RE.match(data["export_date"])):
        out.append(f"export.json export_date is wrong: {data.get('export_date')!r}")
    if data.get("total_messages") != len(data["messages"]):
        out.append(f"export.json total_messages {data.get('total_messages')!r} != {len(data['messages'])} messages")
    for msg in data["messages"]:
        out += message_problems(msg)
    return out


def state_problems(data: Any) -> list[str]:
    if not isinstance(data, dict) or not all(_is_int(data.get(k)) for k in STATE_INTS):
        return [f"state.json does not meet the contract: {data!r}"]
    ok = _opt(data.get("channel_username"), lambda v: isinstance(v, str)) and _opt(
        data.get("last_update_at"), lambda v: isinstance(v, str) and ISO_RE.match(v))
    return [] if ok else [f"state.json has wrong types: {data!r}"]


def index_problems(data: Any) -> list[str]:
    if not isinstance(data, dict) or not isinstance(data.get("sha256_to_path"), dict):
        return ["media-index.json has no sha256_to_path object"]
    out = [f"media-index.json entry {k!r}: {v!r}" for k, v in data["sha256_to_path"].items()
           if not SHA_RE.match(k) or not _safe_rel(v)]
    by_file = data.get("file_id_to_sha256", {})
    if not isinstance(by_file, dict):
        return out + ["media-index.json file_id_to_sha256 is not an object"]
    out += [f"media-index.json file_id_to_sha256[{k!r}] = {v!r} is not an indexed sha256"
            for k, v in by_file.items() if v not in data["sha256_to_path"]]
    return out


def summary_problems(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return ["summary.json is not an object"]
    return [f"summary.json {k} = {data.get(k)!r}" for k, types in SUMMARY_TYPES.items()
            if not isinstance(data.get(k), types) or (types == (int,) and isinstance(data.get(k), bool))]


def contract_problems(data: dict[str, Any]) -> list[str]:
    """Every data file that exists meets its contract shape; state.json never without export.json."""
    checks = {"export.json": export_problems, "state.json": state_problems,
              "media-index.json": index_problems, "summary.json": summary_problems}
    out = [p for name, check in checks.items() if data[name] is not None for p in check(data[name])]
    if data["state.json"] is not None and data["export.json"] is None:
        out.append("state.json exists without export.json")
    return out


def _safe_rel(value: Any) -> bool:
    if not isinstance(value, str) or not value or "\\" in value:
        return False
    path = PurePosixPath(value)
    return not path.is_absolute() and ".." not in path.parts and path.parts[0] == "media"


def log_problems(export_dir: Path) -> list[str]:
    """Every complete line of the export's JSONL logs parses."""
    out = []
    for path in sorted((export_dir / "logs").glob("*.log*")):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            try:
                json.loads(line)
            except ValueError:
                out.append(f"logs/{path.name}:{number} is not JSON: {line[:120]!r}")
    return out


# --- consistency after a kill -----------------------------------------------------------------

def messages_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    export = data["export.json"]
    if not isinstance(export, dict) or not isinstance(export.get("messages"), list):
        return []
    return [m for m in export["messages"] if isinstance(m, dict) and _is_int(m.get("id"))]


def order_problems(messages: list[dict[str, Any]], where: str) -> list[str]:
    ids = [m["id"] for m in messages]
    bad = [(a, b) for a, b in zip(ids, ids[1:], strict=False) if b <= a]
    return [f"{where}: ids not strictly ascending (first at {bad[0]}, {len(bad)} place(s))"] if bad else []


def reference_problems(messages: list[dict[str, Any]], reference: dict[int, dict[str, Any]], where: str) -> list[str]:
    """Every message equals the uninterrupted run's message with the same id (all keys)."""
    out = []
    for msg in messages:
        ref = reference.get(msg["id"])
        if ref is None:
            out.append(f"{where}: message {msg['id']} is not in the reference export")
        elif msg != ref:
            keys = sorted(k for k in set(msg) | set(ref) if msg.get(k) != ref.get(k))
            out.append(f"{where}: message {msg['id']} differs from the reference in {keys}: "
                       f"{ {k: msg.get(k) for k in keys} } vs { {k: ref.get(k) for k in keys} }")
    return out[:10] + ([f"{where}: ... {len(out) - 10} more differing messages"] if len(out) > 10 else [])


def prefix_problems(ids: list[int], expected: list[int], where: str) -> list[str]:
    """No gaps: the ids are exactly the first len(ids) ids of the channel."""
    if ids == expected[:len(ids)]:
        return []
    first = next((i for i, (a, b) in enumerate(zip(ids, expected, strict=False)) if a != b), len(expected))
    return [f"{where}: ids are not a gap-free prefix of the channel (first difference at position {first}: "
            f"{ids[first:first + 3]} vs {expected[first:first + 3]}; {len(ids)} ids)"]


def state_agreement(export_dir: Path, data: dict[str, Any], messages: list[dict[str, Any]]) -> list[str]:
    """state.json says what export.json holds: channel, last id, totals (and, when state.json has the
    store's `export_check`, the hash and facts of export.json as it is on disk)."""
    state, export = data["state.json"], data["export.json"]
    if not isinstance(state, dict) or not isinstance(export, dict):
        return []
    top = messages[-1]["id"] if messages else 0
    media_total = sum(len(m.get("media_files") or []) for m in messages)
    want = {"channel_id": (export.get("channel_info") or {}).get("id"), "last_message_id": top,
            "messages_total": len(messages), "media_total": media_total}
    out = [f"state.json {k} = {state.get(k)!r} but export.json says {v!r}" for k, v in want.items()
           if state.get(k) != v]
    check = state.get("export_check")
    if isinstance(check, dict):
        facts = {"sha256": hashlib.sha256((export_dir / "export.json").read_bytes()).hexdigest(),
                 "messages_total": len(messages), "media_total": media_total, "max_id": top,
                 "channel_info": export.get("channel_info")}
        out += [f"state.json export_check.{k} = {str(check.get(k))[:70]} but export.json gives {str(v)[:70]}"
                for k, v in facts.items() if k in check and check[k] != v]
    return out


def journal_ids(paths: list[Path]) -> set[int]:
    """Message ids found in the journal, read tolerantly: JSON lines, any dict with id+date+media_files."""
    found: set[int] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if _is_int(value.get("id")) and "media_files" in value and "date" in value:
                found.add(value["id"])
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for path in paths:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                walk(json.loads(line))
            except ValueError:
                continue
    return found


def renamed_window_problems(export_dir: Path, data: dict[str, Any], messages: list[dict[str, Any]]) -> list[str]:
    """Killed between export.json's and state.json's rename: the journal is still there and holds
    every message export.json has beyond state.json's last_message_id."""
    state = data["state.json"] if isinstance(data["state.json"], dict) else {}
    last = state.get("last_message_id", 0) if _is_int(state.get("last_message_id")) else 0
    newer = {m["id"] for m in messages if m["id"] > last}
    journals = journal_files(export_dir)
    if not journals:
        return ["compact_renamed window: no journal file left beside the new export.json"
                + (f" ({len(newer)} message(s) beyond state.json's last_message_id {last})" if newer else "")]
    missing = newer - journal_ids(journals)
    return [f"compact_renamed window: the journal lacks {len(missing)} message(s) export.json has beyond "
            f"state.json (e.g. {sorted(missing)[:5]})"] if missing else []


def media_problems(export_dir: Path, data: dict[str, Any], messages: list[dict[str, Any]],
                   expected: Expected, sha_of: Hasher) -> list[str]:
    """Stored files are byte-exact copies of what the server serves; index and items point at them."""
    out = media_dir_problems(export_dir, expected, sha_of)
    index = data["media-index.json"]
    sha_to_path = index.get("sha256_to_path", {}) if isinstance(index, dict) else {}
    for sha, rel in sha_to_path.items():
        path = export_dir / rel
        if _safe_rel(rel) and (not path.is_file() or sha_of(path) != sha):
            out.append(f"media-index.json: {rel} is missing or its bytes do not hash to {sha[:12]}")
    for msg in messages:
        for item in msg.get("media_files") or []:
            out += _item_file_problems(export_dir, msg["id"], item, sha_to_path if index else None, expected)
    if index is None and any(_stored(m) for m in messages):
        out.append("export.json points at media files but there is no media-index.json")
    return out


def _stored(msg: dict[str, Any]) -> bool:
    """The message has a media item with a stored file."""
    return any(isinstance(i, dict) and i.get("path") for i in msg.get("media_files") or [])


def _item_file_problems(export_dir: Path, mid: int, item: Any, sha_to_path: dict[str, str] | None,
                        expected: Expected) -> list[str]:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        return []
    out = []
    want = expected.media.get(mid)
    if want is None or item.get("sha256") != want.sha256:
        out.append(f"message {mid}: item sha256 {str(item.get('sha256'))[:12]} is not what the server serves")
    if not (export_dir / item["path"]).is_file():
        out.append(f"message {mid}: {item['path']} does not exist")
    if sha_to_path is not None and sha_to_path.get(item.get("sha256")) != item["path"]:
        out.append(f"message {mid}: media-index.json maps its sha256 to {sha_to_path.get(item.get('sha256'))!r}, "
                   f"not {item['path']!r}")
    return out


def media_dir_problems(export_dir: Path, expected: Expected, sha_of: Hasher) -> list[str]:
    """Under media/: no temp or part file, and every file (named `<message id>...`) has that message's bytes."""
    out = []
    root = export_dir / "media"
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if not path.is_file():
            continue
        rel = path.relative_to(export_dir).as_posix()
        if path.name.startswith(".") or path.name.lower().endswith((".part", ".tmp")):
            out.append(f"temp/part file under media/: {rel}")
            continue
        match = LEADING_ID_RE.match(path.name)
        want = expected.media.get(int(match[1])) if match else None
        if want is None:
            out.append(f"{rel}: its name names no message with media")
        elif sha_of(path) != want.sha256:
            out.append(f"{rel}: bytes differ from what the server serves for message {want.message_id} "
                       f"({path.stat().st_size} of {want.size} bytes)")
    return out


def in_renamed_window(export_dir: Path) -> bool:
    """export.json is newer than state.json (a compaction renamed the one, not yet the other)."""
    data = read_data(export_dir, [])
    return bool(state_agreement(export_dir, data, messages_of(data)))


def disk_problems(export_dir: Path, expected: Expected, reference: dict[int, dict[str, Any]], sha_of: Hasher,
                  renamed_window: bool = False) -> list[str]:
    """Every invariant that must hold on disk at any instant (after a SIGKILL). `renamed_window`: the
    kill may have left export.json renamed and state.json not yet (a kill at compact_renamed, or any
    kill before a later compaction finished): then the journal must be there and cover the difference."""
    problems: list[str] = []
    data = read_data(export_dir, problems)
    problems += contract_problems(data)
    messages = messages_of(data)
    problems += order_problems(messages, "export.json")
    problems += reference_problems(messages, reference, "export.json")
    problems += prefix_problems([m["id"] for m in messages], expected.ids, "export.json")
    disagreement = state_agreement(export_dir, data, messages)
    if disagreement and renamed_window:
        problems += renamed_window_problems(export_dir, data, messages)
    else:
        problems += disagreement
    problems += media_problems(export_dir, data, messages, expected, sha_of)
    return problems + log_problems(export_dir)


# --- what the next run will see -----------------------------------------------------------------

@dataclass
class Recovered:
    """The export as the store loads it (journal replayed), from a copy of the directory."""

    messages: list[dict[str, Any]]
    last_message_id: int
    file_index: dict[str, str]
    sha_index: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def recover(export_dir: Path, scratch: Path, channel: Any) -> Recovered:
    """Open a copy of `export_dir` with the real ExportStore (media hard-linked: never rewritten in place)."""
    from tgexport.store.export import ExportStore

    if scratch.exists():
        shutil.rmtree(scratch)
    copy = scratch / export_dir.name
    shutil.copytree(export_dir, copy, ignore=shutil.ignore_patterns("media"))
    if (export_dir / "media").is_dir():
        shutil.copytree(export_dir / "media", copy / "media", copy_function=_link)
    try:
        store = ExportStore.open(scratch, channel)
    except Exception as exc:  # noqa: BLE001 - reported as a broken invariant
        return Recovered([], 0, {}, error=f"{type(exc).__name__}: {exc}")
    return Recovered(list(store.messages), store.last_message_id, dict(getattr(store, "file_index", {}) or {}),
                     dict(store.sha_index))


def _link(src: str, dst: str) -> None:
    Path(dst).hardlink_to(src)


def recovered_problems(rec: Recovered, on_disk: list[dict[str, Any]], expected: Expected,
                       reference: dict[int, dict[str, Any]]) -> list[str]:
    """The next run starts from a gap-free prefix of reference messages that keeps all of export.json."""
    if rec.error is not None:
        return [f"the store cannot open the export after the kill: {rec.error}"]
    ids = [m["id"] for m in rec.messages]
    out = order_problems(rec.messages, "recovered") + prefix_problems(ids, expected.ids, "recovered")
    out += reference_problems(rec.messages, reference, "recovered")
    if ids and rec.last_message_id != ids[-1]:
        out.append(f"recovered last_message_id {rec.last_message_id} != last recovered id {ids[-1]}")
    lost = {m["id"] for m in on_disk} - set(ids)
    if lost:
        out.append(f"recovery dropped {len(lost)} message(s) export.json already had (e.g. {sorted(lost)[:5]})")
    return out


# --- the finished export against the reference ------------------------------------------------

def media_listing(export_dir: Path, sha_of: Hasher) -> dict[str, str]:
    root = export_dir / "media"
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    return {p.relative_to(export_dir).as_posix(): sha_of(p) for p in files}


def other_files(export_dir: Path) -> set[str]:
    """Files outside media/ and logs/ (relative paths)."""
    return {p.relative_to(export_dir).as_posix() for p in export_dir.rglob("*")
            if p.is_file() and p.relative_to(export_dir).parts[0] not in ("media", "logs")}


def _diff(name: str, got: Any, want: Any) -> list[str]:
    if got == want:
        return []
    if isinstance(got, dict) and isinstance(want, dict):
        keys = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
        return [f"{name} differs from the reference in {k!r}: {str(got.get(k))[:200]} vs {str(want.get(k))[:200]}"
                for k in keys[:10]]
    return [f"{name} differs from the reference: {str(got)[:300]} vs {str(want)[:300]}"]


def final_problems(final_dir: Path, ref_dir: Path, expected: Expected, sha_of: Hasher) -> list[str]:
    """Same messages (all keys), ids, media files and hashes, index and state as the uninterrupted run;
    nothing left behind."""
    problems: list[str] = []
    got, want = read_data(final_dir, problems), read_data(ref_dir, problems)
    problems += contract_problems(got)
    got_msgs, want_msgs = messages_of(got), messages_of(want)
    ids = [m["id"] for m in got_msgs]
    problems += order_problems(got_msgs, "final export.json")
    problems += _diff("message ids (gaps or duplicates)", ids, expected.ids)
    problems += reference_problems(got_msgs, {m["id"]: m for m in want_msgs}, "final export.json")
    problems += _diff("export.json channel_info", (got["export.json"] or {}).get("channel_info"),
                      (want["export.json"] or {}).get("channel_info"))
    problems += _diff("media-index.json", got["media-index.json"], want["media-index.json"])
    problems += _diff("state.json (without last_update_at, export_check.sha256)", _timeless(got["state.json"]),
                      _timeless(want["state.json"]))
    problems += state_agreement(final_dir, got, got_msgs)
    problems += _diff("media files (path -> sha256)", media_listing(final_dir, sha_of), media_listing(ref_dir, sha_of))
    problems += _diff("files outside media/ and logs/", sorted(other_files(final_dir)), sorted(other_files(ref_dir)))
    problems += [f"left behind: {rel}" for rel in leftover_files(final_dir)]
    problems += [f"left behind by the reference run: {rel}" for rel in leftover_files(ref_dir)]
    return problems + media_problems(final_dir, got, got_msgs, expected, sha_of) + log_problems(final_dir)


def _timeless(state: Any) -> Any:
    """state.json without what depends on the time of the run (last_update_at; the hash of export.json,
    which holds export_date: state_agreement checks that hash against the file)."""
    if not isinstance(state, dict):
        return state
    out = {k: v for k, v in state.items() if k != "last_update_at"}
    if isinstance(out.get("export_check"), dict):
        out["export_check"] = {k: v for k, v in out["export_check"].items() if k != "sha256"}
    return out


def summary_sanity(summary: Any, export_dir: Path, channel_id: int, added: int) -> list[str]:
    """The final run's summary: contract types, its own counts, no errors."""
    out = summary_problems(summary)
    if out:
        return out
    want = {"channel_id": channel_id, "export_dir": str(export_dir), "new_messages": added, "dry_run": False,
            "partial_failure": False, "media_errors_count": 0, "mode": "normal"}
    out = [f"final summary.json {k} = {summary.get(k)!r}, expected {v!r}" for k, v in want.items() if summary.get(k) != v]
    if summary["scanned_messages"] < summary["new_messages"]:
        out.append(f"final summary.json scanned_messages {summary['scanned_messages']} < new_messages")
    if summary.get("interrupted"):
        out.append("final summary.json says interrupted")
    return out


# --- getFile bytes: what a kill may cost --------------------------------------------------------

PART_RE = re.compile(r"^(document|photo)-(\d+)(?:-([A-Za-z0-9]+))?\.part$")
Ranges = list[tuple[int, int]]  # sorted, disjoint [start, end) byte ranges


def _norm(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _overlap(a: Ranges, b: Ranges) -> Ranges:
    return _norm([(max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b])


def _minus(a: Ranges, b: Ranges) -> Ranges:
    out = a
    for s2, e2 in b:
        out = [piece for s1, e1 in out for piece in ((s1, min(e1, s2)), (max(s1, e2), e1)) if piece[1] > piece[0]]
    return _norm(out)


def _size(ranges: Ranges) -> int:
    return sum(e - s for s, e in ranges)


def served_ranges(entries: list[dict[str, Any]], expected: Expected) -> tuple[list[tuple[FileId, int, int]], list[str]]:
    """(file, start, end) of every answered upload.getFile in log order, clipped at the file size."""
    out, problems = [], []
    for entry in entries:
        if entry.get("method") != "upload.getFile" or entry.get("error") or entry.get("result_bytes") is None:
            continue
        params = entry["params"]
        loc = params.get("location") or {}
        fid = (loc.get("id"), loc.get("thumb_size") or "")
        known = expected.by_file.get(fid)
        if known is None:
            problems.append(f"getFile for a file the scenario does not serve: {loc!r}")
            continue
        start = params["offset"]
        out.append((fid, start, min(known.size, start + params["limit"])))
    return out, problems


@dataclass
class KillState:
    """After a kill: files the store has recorded, how many bytes each part file holds, and files
    placed under media/ (a file named for their message) that the store has not recorded."""

    recorded: set[FileId]
    parts: dict[FileId, int]
    placed: set[FileId] = field(default_factory=set)


def kill_state(export_dir: Path, rec: Recovered, expected: Expected) -> KillState:
    recorded = {expected.media[m["id"]].file_id for m in rec.messages
                if m["id"] in expected.media and _stored(m)}
    by_key = {expected.file_key(mid): f.file_id for mid, f in expected.media.items()}
    recorded |= {by_key[k] for k in rec.file_index if k in by_key}
    parts: dict[FileId, int] = {}
    for path in (export_dir / ".tmp").glob("*.part") if (export_dir / ".tmp").is_dir() else []:
        match = PART_RE.match(path.name)
        if match:
            parts[(int(match[2]), match[3] or "")] = path.stat().st_size
    placed = set()
    for path in (export_dir / "media").rglob("*") if (export_dir / "media").is_dir() else []:
        match = LEADING_ID_RE.match(path.name)
        if path.is_file() and match and int(match[1]) in expected.media:
            placed.add(expected.media[int(match[1])].file_id)
    return KillState(recorded, parts, placed - recorded)


@dataclass
class RefetchReport:
    """Bytes fetched by the interrupted sequence beyond one copy of each file, and what explains them."""

    total: int = 0
    refetched: int = 0  # bytes fetched again (in a later run, or twice in one run)
    in_flight_bytes: int = 0  # sum over kills of the in-flight bytes (see refetch_report)
    max_in_flight_files: int = 0
    problems: list[str] = field(default_factory=list)


def _held(fid: FileId, state: KillState, size: int) -> Ranges:
    """Bytes of a file that survive a kill: all of a recorded file, else its part-file prefix."""
    return [(0, size)] if fid in state.recorded else [(0, min(size, state.parts.get(fid, 0)))]


def refetch_report(runs: list[tuple[list[tuple[FileId, int, int]], KillState | None]], expected: Expected) -> RefetchReport:
    """Walk the runs in order (each: its served ranges, the state after its kill; None after the last run).

    The media in flight at a kill are the files the store has not recorded that the killed run
    fetched bytes of or that are placed under media/ (killed between placing and recording); of those, every byte not in the file's part-file prefix may be fetched again (and only
    those: a byte that was safe at a kill, in a part file or a recorded file, must never be fetched
    again; nor a byte twice in one run). The in-flight bytes of a kill are those files' sizes minus
    their prefixes; their sum bounds the bytes fetched again.
    """
    report = RefetchReport()
    fetched: dict[FileId, Ranges] = {}
    eligible: dict[FileId, Ranges] = {}
    previous: KillState | None = None
    for number, (served, after) in enumerate(runs, 1):
        touched: dict[FileId, Ranges] = {}
        for fid, start, end in served:
            piece = [(start, end)]
            report.total += end - start
            again = _overlap(piece, fetched.get(fid, []))
            report.refetched += _size(again)
            wrong = _minus(again, eligible.get(fid, []))
            if wrong:
                twice = bool(_overlap(piece, touched.get(fid, [])))
                report.problems.append(f"run {number}: " + _unexplained(fid, wrong, twice, previous, expected))
            eligible[fid] = _minus(eligible.get(fid, []), piece)  # explained once
            fetched[fid] = _norm(fetched.get(fid, []) + piece)
            touched[fid] = _norm(touched.get(fid, []) + piece)
        if after is not None:
            _after_kill(report, touched, eligible, after, expected)
        previous = after
    return report


def _after_kill(report: RefetchReport, touched: dict[FileId, Ranges], eligible: dict[FileId, Ranges],
                state: KillState, expected: Expected) -> None:
    flying = [fid for fid in touched.keys() | state.placed if fid not in state.recorded]
    report.max_in_flight_files = max(report.max_in_flight_files, len(flying))
    for fid in flying:
        size = expected.by_file[fid].size
        report.in_flight_bytes += size - _size(_held(fid, state, size))
        eligible[fid] = [(0, size)]
    for fid in list(eligible):
        eligible[fid] = _minus(eligible[fid], _held(fid, state, expected.by_file[fid].size))


def _unexplained(fid: FileId, ranges: Ranges, twice: bool, previous: KillState | None, expected: Expected) -> str:
    mid = expected.by_file[fid].message_id
    if twice:
        why = "twice in one run"
    elif previous is None:
        why = "after a run that was not killed"
    elif fid in previous.recorded:
        why = "although the store had recorded the file at the last kill"
    elif fid in previous.parts:
        why = f"although its part file held {previous.parts[fid]} bytes at the last kill"
    else:
        why = "although it was not in flight at the last kill (no part file, not fetched by the killed run)"
    return f"message {mid}: {_size(ranges)} byte(s) {ranges[:3]} fetched again {why}"
