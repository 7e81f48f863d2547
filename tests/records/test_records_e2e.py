"""End-to-end through the CLI: every reader key of every record is what the server sent.

One server and three parse runs (real, --dry-run, --date-from/--date-to) share the module;
each record is compared with the scenario field by field (tests/records/scenario.py).
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.cli import cli_env, read_app_log, run_cli
from testkit.server import make_session, running_server, server_call
from tests.records import scenario as sc
from tgexport.records.markdown import expressible, from_markdown
from tgexport.records.message import CONTRACT_KEYS, READER_KEYS


class Runs:
    """The module's server, session and CLI runs (each run's stdout JSON, export dir and env)."""

    def __init__(self, server: Any, root: Path) -> None:
        self.server, self.root = server, root
        self.session = make_session(server, root / "s.session")

    def parse(self, name: str, *extra: str) -> tuple[dict[str, Any], dict[str, str]]:
        env = cli_env(self.root / name)
        proc = run_cli(["parse", "--channel", f"@{sc.USERNAME}", "--session-file", str(self.session),
                        "--output-dir", str(self.root / name / "out"), "--mode", "normal", *extra], env)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout), env


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    with running_server(sc.scenario()) as server:
        yield Runs(server, tmp_path_factory.mktemp("records"))


@pytest.fixture(scope="module")
def real(runs: Runs) -> tuple[dict[str, Any], dict[str, str]]:
    return runs.parse("real")


def _export(result: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads((Path(result["export_dir"]) / "export.json").read_text("utf-8"))["messages"]


def _expected(mid: int, text: str) -> dict[str, Any]:
    """The reader keys of message `mid` as the scenario defines them."""
    spec = {m["id"]: m for m in sc.messages()}.get(mid, {})
    reactions = spec.get("reactions")
    replies = spec.get("replies")
    attachment = sc.ATTACHMENTS.get(mid, (None, None))[1]
    if mid in (sc.UNKNOWN_ID, sc.UNKNOWN_TWICE_ID):
        attachment = {"kind": "paid_media"}
    return {
        "entities": spec.get("entities", []),
        "text_markdown": sc.RICH_MARKDOWN if mid == 10 else text,
        "edit_date": spec.get("edit_date"),
        "grouped_id": spec.get("grouped_id"),
        "post_author": spec.get("post_author"),
        "pinned": spec.get("pinned", False),
        "reactions": {"total": sum(r["count"] for r in reactions), "items": reactions} if reactions else None,
        "replies": None if replies is None else {"comments": False, "channel_id": None, **replies},
        "web_page": spec.get("web_page"),
        "attachment": attachment,
    }


def test_every_record_carries_what_the_server_sent(real: tuple[dict[str, Any], dict[str, str]]) -> None:
    result, _env = real
    messages = _export(result)
    assert [m["id"] for m in messages] == list(range(1, 111))
    assert result["new_messages"] == messages  # stdout and export.json carry the same records
    for record in messages:
        assert tuple(record)[:len(CONTRACT_KEYS) + len(READER_KEYS)] == CONTRACT_KEYS + READER_KEYS
        reader = {key: record[key] for key in READER_KEYS}
        assert reader == _expected(record["id"], record["text"]), record["id"]
    rich = messages[9]
    assert rich["text"] == sc.RICH_TEXT  # the plain text stays Telegram's raw text


def test_text_markdown_reads_back_to_the_text_and_its_entities(real: tuple[dict[str, Any], dict[str, str]]) -> None:
    rich = _export(real[0])[9]
    text, entities = from_markdown(rich["text_markdown"])
    assert text == rich["text"]
    key = lambda e: (e["offset"], e["length"], e["type"])  # noqa: E731
    assert sorted(entities, key=key) == sorted(expressible(text, rich["entities"]), key=key)
    assert {e["type"] for e in rich["entities"]} - {e["type"] for e in entities} == {"hashtag", "mention"}


def test_files_carry_subtype_and_duration(real: tuple[dict[str, Any], dict[str, str]]) -> None:
    result, _env = real
    by_id = {m["id"]: m for m in _export(result)}
    for mid, (_media, (kind, subtype, duration)) in sc.FILES.items():
        (item,) = by_id[mid]["media_files"]
        assert (item["type"], item["subtype"], item.get("duration")) == (kind, subtype, duration), mid
        assert item["path"] and (Path(result["export_dir"]) / item["path"]).is_file()
    assert by_id[30]["media_files"][0]["filename"] == "30.ogg"  # voice notes have no file name: fallback rule
    assert by_id[34]["media_files"][0]["filename"] == "34.mp4"
    assert by_id[32]["media_files"][0]["path"].startswith("media/photos/")  # a sticker is image/webp: a photo
    album = [by_id[mid] for mid in (99, 100, 101)]
    assert all(m["grouped_id"] == sc.ALBUM_ID and m["media_files"][0]["type"] == "photo" for m in album)
    assert "subtype" not in album[0]["media_files"][0]


def test_unknown_media_kind_keeps_the_message_and_warns_once(real: tuple[dict[str, Any], dict[str, str]]) -> None:
    result, env = real
    by_id = {m["id"]: m for m in _export(result)}
    assert by_id[sc.UNKNOWN_ID]["text"] == "Paid media" and by_id[sc.UNKNOWN_TWICE_ID]["media_files"] == []
    log = read_app_log(env)
    assert log.count("unknown_media_kind kind=paid_media") == 1, log
    assert result["partial_failure"] is False and result["summary"]["new_messages"] == 110  # exit 0: Runs.parse


def _without_media(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k != "media_files"} for m in messages]


def test_dry_run_and_date_runs_give_the_same_records(runs: Runs, real: tuple[dict[str, Any], dict[str, str]]) -> None:
    messages = _export(real[0])
    dry, _ = runs.parse("dry", "--dry-run")
    assert _without_media(dry["new_messages"]) == _without_media(messages)
    voice = next(m for m in dry["new_messages"] if m["id"] == 30)["media_files"]
    assert voice == [{"type": "document", "path": None, "filename": None, "size": 3000, "subtype": "voice",
                      "duration": 4}]
    dated, _ = runs.parse("dated", "--date-from", "2024-01-01", "--date-to", "2024-01-01")
    assert _export(dated) == messages


def _strip(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as an older parser wrote them: contract keys only, items without subtype/duration."""
    old = []
    for record in messages:
        item = {k: record[k] for k in CONTRACT_KEYS}
        item["media_files"] = [{k: v for k, v in f.items() if k not in ("subtype", "duration")}
                               for f in record["media_files"]]
        old.append(item)
    return old


def test_an_older_export_loads_as_it_is_and_is_not_rewritten(runs: Runs,
                                                              real: tuple[dict[str, Any], dict[str, str]]) -> None:
    source = Path(real[0]["export_dir"])
    target = runs.root / "old" / "out" / source.name
    shutil.copytree(source, target)
    data = json.loads((target / "export.json").read_text("utf-8"))
    old = _strip(data["messages"])
    data["messages"] = old
    (target / "export.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    (new_id,) = server_call(runs.server, runs.server.world.append_messages, sc.CHANNEL_ID, None,
                            [{"text": "new", "pinned": True}])
    result, _ = runs.parse("old")
    assert [m["id"] for m in result["new_messages"]] == [new_id]
    messages = _export(result)
    assert messages[:-1] == old  # loaded as they are: no key added, none rewritten
    assert messages[-1]["pinned"] is True and tuple(messages[-1])[:18] == CONTRACT_KEYS + READER_KEYS
