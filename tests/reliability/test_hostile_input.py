"""Hostile input from Telegram (issue 5.7): file names, titles and usernames chosen by strangers.

End to end: the real CLI parses the `hostile.json` scenario on the local server with `--zip`;
every file must land inside the export directory (media under `media/<kind>/`) with a name
valid on Linux and Windows alike, unique, and the zip may hold only relative, clean paths.
Unit level: `channel_slug`, `MediaStore.place` collisions and the archive's exclusions.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, running_server
from tgexport.media.store import MediaStore
from tgexport.store.archive import archive_members, make_archive
from tgexport.store.export import _DIR_RE, ChannelInfo, ExportStore, channel_slug, dir_name

SCENARIO = Path(__file__).resolve().parents[2] / "telegram_test_server" / "scenarios" / "hostile.json"
KIND_DIRS = {"photo": "photos", "video": "videos", "document": "documents"}
RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
            *(f"{p}{c}" for p in ("COM", "LPT") for c in "0123456789¹²³")}
STAMP = datetime(2024, 5, 6, 7, 8, tzinfo=UTC)


def portable_problems(name: str) -> list[str]:
    """Why `name` is not one valid file name on both Linux and Windows ([] when it is)."""
    problems = []
    if not name or name in (".", ".."):
        problems.append("empty or dot name")
    if any(c in '<>:"/\\|?*' or ord(c) < 32 or unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name):
        problems.append("forbidden or invisible character")
    if name[-1:] in (".", " "):
        problems.append("trailing dot or space")
    if name.split(".", 1)[0].rstrip(" ").upper() in RESERVED:
        problems.append("Windows device name")
    if len(name.encode("utf-8")) > 255 or len(name.encode("utf-16-le")) // 2 > 255:
        problems.append("too long")
    return problems


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Iterator[tuple]:
    """One server on hostile.json; `channels` then a zipped parse of each hostile channel."""
    tmp = tmp_path_factory.mktemp("hostile")
    with running_server(SCENARIO) as server:
        make_session(server, tmp / "acc.session")
        env = cli_env(tmp)
        listed = run_cli(["channels", "--session-file", "acc"], env)  # caches the entities in the session
        assert listed.returncode == 0, listed.stderr
        outs = {}
        for channel in ("@hostile_channel", "-1001300000002", "-1001300000003"):
            result = run_cli(["parse", "--channel", channel, "--session-file", "acc", "--zip",
                              "--output-dir", str(tmp / "out")], env)
            assert result.returncode == 0, result.stderr
            outs[channel] = json.loads(result.stdout)
        yield server, tmp / "out", outs, json.loads(listed.stdout)


def _media_items(out: dict) -> list[tuple[int, dict]]:
    export = json.loads(Path(out["export_json"]).read_text(encoding="utf-8"))
    return [(m["id"], item) for m in export["messages"] for item in m["media_files"]]


def test_channels_lists_hostile_values_as_data(hostile_run) -> None:
    _, _, _, listed = hostile_run
    by_id = {c["id"]: c for c in listed}
    assert by_id[-1001300000003]["username"] == "../..\\CON:evil/x"  # reported as data, never used as a path


def test_export_dirs_and_archives_are_plain(hostile_run) -> None:
    _, out_dir, outs, _ = hostile_run
    names = sorted(p.name for p in out_dir.iterdir())
    assert len(names) == 6  # three export dirs, three archives, nothing else
    for out, expected_slug in zip(outs.values(), ["hostile_channel", "channel_1300000002", "CON_evil_x"],
                                  strict=True):
        export_dir = Path(out["export_dir"])
        assert export_dir.parent == out_dir.resolve()
        match = _DIR_RE.match(export_dir.name)
        assert match and match["slug"] == expected_slug and not portable_problems(export_dir.name)
        assert out["archive"] == str(export_dir) + ".zip"


def test_every_media_file_is_inside_its_kind_dir(hostile_run) -> None:
    server, _, outs, _ = hostile_run
    for channel, out in outs.items():
        export_dir = Path(out["export_dir"]).resolve()
        items = _media_items(out)
        paths = [item["path"] for _, item in items]
        assert None not in paths and not out["partial_failure"]
        assert len(set(paths)) == len(paths)  # no two messages share (or overwrote) a file
        assert len({p.casefold() for p in paths}) == len(paths)  # unique on case-insensitive disks too
        for message_id, item in items:
            rel = PurePosixPath(item["path"])
            assert rel.parts[:2] == ("media", KIND_DIRS[item["type"]]) and len(rel.parts) == 3, rel
            assert "\\" not in item["path"] and item["filename"] == rel.name
            assert rel.name.startswith(f"{message_id}_") or rel.name.startswith(f"{message_id}."), rel.name
            assert not portable_problems(rel.name), (rel.name, portable_problems(rel.name))
            path = (export_dir / rel).resolve()
            assert path.parent == export_dir / rel.parent and path.is_file()
            expected = server.world.expected_bytes(int(channel[4:]) if channel[0] == "-" else channel[1:],
                                                   message_id)
            assert item["sha256"] == hashlib.sha256(expected).hexdigest() == hashlib.sha256(
                path.read_bytes()).hexdigest()


def test_hostile_names_become_readable_names(hostile_run) -> None:
    _, _, outs, _ = hostile_run
    names = {mid: item["filename"] for mid, item in _media_items(outs["@hostile_channel"])}
    assert names[1] == "1_x.sh" and names[27] == "27_x.sh"  # same hostile name, two files
    assert names[3] == "3_passwd" and names[17] == "17_x" and names[4] == "4__CON"
    assert names[18] == "18__NUL.tar.gz" and names[19] == "19__con.txt" and names[28] == "28__lpt¹.doc"
    assert names[20] == "20_invoice.pdf" and names[10] == "10_gnp.exe" and names[8] == "8_newline.txt"
    assert names[25] == "25_Report.PDF" and names[26] == "26_report.pdf"
    assert names[24] == "24.bin" and names[29] == "29_tabhere_pipe.txt" and names[31] == "31_Á.txt"
    assert names[30].startswith("30_clip") and names[30].endswith(".mp4")
    assert names[22].endswith(".txt") and names[23].endswith(".zip") and len(names[21]) > 100
    pwned = _media_items(outs["-1001300000003"])[0][1]["path"]
    assert pwned == "media/documents/1_pwned.txt"


def test_nothing_outside_the_output_dir(hostile_run) -> None:
    _, out_dir, _, _ = hostile_run
    tmp = out_dir.parent
    assert sorted(p.name for p in tmp.iterdir()) == sorted(["acc.session", "applogs", "out"])
    for export_dir in (p for p in out_dir.iterdir() if p.is_dir()):
        for path in export_dir.rglob("*"):
            rel = path.relative_to(export_dir)
            assert not path.is_symlink() and path.resolve().is_relative_to(export_dir.resolve())
            assert all(not portable_problems(part) for part in rel.parts), rel
            assert not rel.name.startswith("."), f"working file left behind: {rel}"


def test_archives_hold_only_clean_relative_paths(hostile_run) -> None:
    _, _, outs, _ = hostile_run
    for out in outs.values():
        export_dir = Path(out["export_dir"])
        on_disk = {p.relative_to(export_dir).as_posix() for p in export_dir.rglob("*") if p.is_file()}
        with zipfile.ZipFile(out["archive"]) as archive:
            assert archive.testzip() is None
            names = archive.namelist()
            for info in archive.infolist():
                name = info.filename
                assert not name.startswith("/") and not re.match(r"^[A-Za-z]:", name) and "\\" not in name
                assert ".." not in name.split("/") and "" not in name.split("/") and not info.is_dir()
                assert not any(part.startswith(".") or portable_problems(part) for part in name.split("/")), name
                packed, now = archive.read(info), (export_dir / name).read_bytes()
                assert now.startswith(packed) if name.startswith("logs/") else now == packed  # logs go on
        assert len(names) == len(set(names)) and set(names) == on_disk
        assert {"export.json", "state.json", "media-index.json", "summary.json"} <= set(names)


# --- channel_slug (tgexport/store/export.py) ---------------------------------------------------

@pytest.mark.parametrize("username, expected", [
    ("../../etc/passwd", "etc_passwd"), ("..\\CON:x", "CON_x"), ("C:\\Windows", "C_Windows"),
    ("\u202eevil\u0000", "evil"), ("канал", "channel_77"), ("..", "channel_77"), ("", "channel_77"),
    (None, "channel_77"), ("Good_Name", "Good_Name"), ("a" * 300, "a" * 64),
])
def test_channel_slug_examples(username, expected) -> None:
    assert channel_slug(username, 77) == expected


@settings(max_examples=300)
@given(st.none() | st.text(max_size=120), st.integers(min_value=1, max_value=2**40))
def test_channel_slug_is_a_safe_dir_prefix(username, channel_id) -> None:
    slug = channel_slug(username, channel_id)
    assert re.fullmatch(r"[A-Za-z0-9_]{1,64}", slug) and slug == channel_slug(username, channel_id)
    name = dir_name(slug, STAMP)
    assert not portable_problems(name) and _DIR_RE.match(name)["slug"] == slug


def test_new_channel_never_writes_into_another_channels_dir(tmp_path: Path) -> None:
    """A username that sanitises like another channel's slug (`channel_5`) in the same minute."""
    first = ExportStore.open(tmp_path, ChannelInfo(5, None, "five"), now=STAMP)
    first.create_dir()
    first.save()
    second = ExportStore.open(tmp_path, ChannelInfo(7, "channel_5", "seven"), now=STAMP)
    assert second.export_dir != first.export_dir, "channel 7 would write into channel 5's export"


# --- MediaStore.place (tgexport/media/store.py) ------------------------------------------------

def _tmp_file(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_same_name_different_content_is_kept_twice(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "export", {})
    stage = tmp_path / "stage"
    rels = []
    for data in (b"first", b"second", b"first"):
        sha = hashlib.sha256(data).hexdigest()
        rels.append(store.place(_tmp_file(stage, "part", data), "document", "5_x.sh", sha))
    assert rels[0] == rels[2] == "media/documents/5_x.sh" and rels[1] != rels[0]
    folder = tmp_path / "export" / "media" / "documents"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {"5_x.sh": b"first", rels[1][16:]: b"second"}
    assert not portable_problems(rels[1][16:])


def test_colliding_fallback_names_never_overwrite(tmp_path: Path) -> None:
    """Three different files for one stored name whose sha256 share the first 8 hex digits."""
    store = MediaStore(tmp_path / "export", {})
    stage = tmp_path / "stage"
    contents = [b"a", b"b", b"c"]
    shas = [hashlib.sha256(b"a").hexdigest(), "deadbeef" + "1" * 56, "deadbeef" + "2" * 56]
    rels = [store.place(_tmp_file(stage, "part", data), "document", "9_a.txt", sha)
            for data, sha in zip(contents, shas, strict=True)]
    assert len(set(rels)) == 3, rels
    assert sorted((tmp_path / "export" / rel).read_bytes() for rel in rels) == contents


# --- archive (tgexport/store/archive.py) -------------------------------------------------------------

def test_archive_leaves_out_working_files_and_unportable_names(tmp_path: Path) -> None:
    root = tmp_path / "chan__2024-01-01_00-00"
    docs = root / "media" / "documents"
    docs.mkdir(parents=True)
    for name in ("1_a.txt", ".1_a.txt.part", "back\\slash.txt", "drive:x.txt", ".export.lock"):
        (docs / name).write_bytes(b"x")
    (root / ".journal").mkdir()
    (root / ".journal" / "0001.jsonl").write_bytes(b"{}")
    (root / "export.json").write_text("{}", encoding="utf-8")
    assert [arc for _, arc in archive_members(root)] == ["export.json", "media/documents/1_a.txt"]
    with zipfile.ZipFile(make_archive(root)) as archive:
        assert archive.namelist() == ["export.json", "media/documents/1_a.txt"]
