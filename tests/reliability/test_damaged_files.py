"""Files we did not write (issue 5.4): an export.json, state.json, media-index.json (or journal) that
does not parse, has wrong types or points outside the export directory is never overwritten:
exit 1, `Error: ...` naming the file, DATA_FORMAT_ERROR in the app log, every byte left as it was.

Every case is checked in-process against ExportStore.open (fast); a representative case per file
and kind of damage also runs the real CLI against the local server.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from errors import DataFormatError
from testkit.cli import cli_env, json_error, read_app_log, run_cli
from testkit.server import make_session, running_server
from tgexport.store.export import ChannelInfo, ExportStore

CHANNEL_ID = 1234500077
CHANNEL = ChannelInfo(CHANNEL_ID, "damage_chan", "Damage")
MEDIA = [{"ids": [2], "type": "photo", "size": 3000},
         {"ids": [5], "type": "document", "size": 4000, "mime_type": "application/pdf", "file_name": "a.pdf"}]
SCENARIO = {"channels": [{"id": CHANNEL_ID, "username": "damage_chan", "title": "Damage",
                          "generate": {"count": 8, "text_length": 12, "media": MEDIA}}]}
Damage = Callable[[Path], None]


def _edit(name: str, change: Callable[[Any], Any]) -> Damage:
    def damage(export_dir: Path) -> None:
        path = export_dir / name
        data = json.loads(path.read_text("utf-8"))
        path.write_text(json.dumps(change(data)), encoding="utf-8")
    return damage


def _raw(name: str, transform: Callable[[bytes], bytes]) -> Damage:
    def damage(export_dir: Path) -> None:
        (export_dir / name).write_bytes(transform((export_dir / name).read_bytes()))
    return damage


def _message(key: str, value: Any, index: int = 0) -> Damage:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        data["messages"][index][key] = value
        return data
    return _edit("export.json", change)


def _media_item(key: str, value: Any) -> Damage:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        (item,) = [m for m in data["messages"] if m["id"] == 2][0]["media_files"]
        item[key] = value
        return data
    return _edit("export.json", change)


def _symlinked_media(export_dir: Path) -> None:
    outside = export_dir.parent.parent / "elsewhere"
    outside.mkdir(exist_ok=True)
    (outside / "x.jpg").write_bytes(b"not ours")
    os.symlink(outside, export_dir / "media" / "elsewhere")
    _media_item("path", "media/elsewhere/x.jpg")(export_dir)


def _index(change: Callable[[dict[str, Any]], Any]) -> Damage:
    return _edit("media-index.json", change)


def _first_index_path(value: str) -> Damage:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        sha = sorted(data["sha256_to_path"])[0]
        data["sha256_to_path"][sha] = value
        return data
    return _index(change)


def _journal(export_dir: Path) -> None:
    header = f'{{"op":"journal","version":1,"channel_id":{CHANNEL_ID}}}\n'
    (export_dir / ".journal.jsonl").write_text(header + "}{\n" + header, encoding="utf-8")


# name -> (damage, file named in the error, fragment of the message)
CASES: dict[str, tuple[Damage, str, str]] = {
    "export-torn": (_raw("export.json", lambda b: b[:-40]), "export.json", "is not valid JSON"),
    "export-not-object": (_edit("export.json", lambda d: d["messages"]), "export.json", "not an export"),
    "export-messages-not-list": (_edit("export.json", lambda d: {**d, "messages": {"1": {}}}), "export.json",
                                 "\"messages\" is not a list"),
    "export-id-not-int": (_message("id", "1"), "export.json", "without an integer \"id\""),
    "export-date-not-str": (_message("date", 20240101), "export.json", "\"date\" that is not a string"),
    "export-text-not-str": (_message("text", None), "export.json", "\"text\" that is not a string"),
    "export-views-not-int": (_message("views", "many"), "export.json", "\"views\" that is not an integer"),
    "export-media-not-list": (_message("media_files", {}), "export.json", "\"media_files\" that is not a list"),
    "export-media-item-not-object": (_message("media_files", ["x.jpg"]), "export.json", "not an object"),
    "export-path-not-str": (_media_item("path", 7), "export.json", "\"path\" is not a string or null"),
    "export-path-absolute": (_media_item("path", "/etc/passwd"), "export.json", "outside the export directory"),
    "export-path-dotdot": (_media_item("path", "media/../../x.jpg"), "export.json", "outside the export directory"),
    "export-path-backslash": (_media_item("path", "media\\photos\\2.jpg"), "export.json", "outside the export"),
    "export-path-drive": (_media_item("path", "C:/Windows/x.jpg"), "export.json", "outside the export directory"),
    "export-path-symlink": (_symlinked_media, "export.json", "outside the export directory"),
    "export-total-not-int": (_edit("export.json", lambda d: {**d, "total_messages": "8"}), "export.json",
                             "\"total_messages\""),
    "export-other-channel": (_edit("export.json", lambda d: {**d, "channel_info": {"id": 5}}), "export.json",
                             "belongs to channel 5"),
    "state-torn": (_raw("state.json", lambda b: b[:10]), "state.json", "is not valid JSON"),
    "state-last-id-not-int": (_edit("state.json", lambda d: {**d, "last_message_id": "8"}), "state.json",
                              "\"last_message_id\""),
    "state-count-not-int": (_edit("state.json", lambda d: {**d, "messages_total": 8.5}), "state.json",
                            "\"messages_total\" has the wrong type"),
    "state-username-not-str": (_edit("state.json", lambda d: {**d, "channel_username": 1}), "state.json",
                               "\"channel_username\" has the wrong type"),
    "state-nan": (_raw("state.json", lambda b: b.replace(b'"media_total": 2', b'"media_total": NaN')),
                  "state.json", "is not valid JSON"),
    "index-torn": (_raw("media-index.json", lambda b: b"\x00" + b), "media-index.json", "is not valid JSON"),
    "index-not-object": (_index(lambda d: {"sha256_to_path": list(d["sha256_to_path"].items())}),
                         "media-index.json", "no \"sha256_to_path\" object"),
    "index-path-absolute": (_first_index_path("/etc/passwd"), "media-index.json", "outside the export directory"),
    "index-path-dotdot": (_first_index_path("../../../etc/passwd"), "media-index.json", "outside the export"),
    "index-bad-hash": (_index(lambda d: {"sha256_to_path": {"XYZ": "media/photos/2.jpg"}}), "media-index.json",
                       "malformed sha256 key"),
    "index-file-ids-not-object": (_index(lambda d: {**d, "file_id_to_sha256": []}), "media-index.json",
                                  "\"file_id_to_sha256\" is not an object"),
    "journal-damaged-middle": (_journal, ".journal.jsonl", "line 2 is damaged"),
}
CLI_CASES = ["export-torn", "export-id-not-int", "export-path-dotdot", "export-path-symlink", "state-torn",
             "state-count-not-int", "index-torn", "index-path-absolute", "journal-damaged-middle"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, Path]]:
    """The server, a session, and a good export made once by the real CLI (copied per test)."""
    base = tmp_path_factory.mktemp("damaged")
    with running_server(SCENARIO) as server:
        session = make_session(server, base / "s.session")
        proc = run_cli(["parse", "--channel", "@damage_chan", "--session-file", str(session),
                        "--output-dir", str(base / "good")], cli_env(base))
        assert proc.returncode == 0, proc.stderr
        yield server, session, base / "good"


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): (os.readlink(p).encode() if p.is_symlink() else p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}


def _damaged_copy(world: tuple[Any, Path, Path], tmp_path: Path, case: str) -> tuple[Path, Path, str, str]:
    out = tmp_path / "out"
    shutil.copytree(world[2], out, symlinks=True)
    (export_dir,) = [p for p in out.iterdir() if p.is_dir()]
    damage, name, fragment = CASES[case]
    damage(export_dir)
    return out, export_dir, name, fragment


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_file_is_refused_in_process(world: tuple[Any, Path, Path], tmp_path: Path, case: str) -> None:
    out, export_dir, name, fragment = _damaged_copy(world, tmp_path, case)
    before = tree(out)
    with pytest.raises(DataFormatError) as info:
        ExportStore.open(out, CHANNEL)
    assert str(export_dir / name) in str(info.value) and fragment in str(info.value), str(info.value)
    assert tree(out) == before


@pytest.mark.parametrize("case", CLI_CASES)
def test_damaged_file_is_refused_by_the_cli(world: tuple[Any, Path, Path], tmp_path: Path, case: str) -> None:
    out, export_dir, name, fragment = _damaged_copy(world, tmp_path, case)
    before = tree(export_dir)
    env = cli_env(tmp_path)
    proc = run_cli(["parse", "--channel", "@damage_chan", "--session-file", str(world[1]), "--output-dir",
                    str(out)], env)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1, proc.stderr
    json_error(proc, "DATA_FORMAT_ERROR")
    assert len(lines) == 1 and lines[0].startswith("Error: ") and str(export_dir / name) in lines[0], proc.stderr
    assert fragment in lines[0]
    assert any(line.endswith("error_code=DATA_FORMAT_ERROR") and name in line
               for line in read_app_log(env).splitlines())
    assert tree(export_dir) == before  # not a byte changed, nothing added (no logs, no summary)
