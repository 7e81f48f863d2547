"""Dedup before download: a Telegram file already stored in this export is never fetched again
(same photo/document id in a later message or a later run); identical bytes under another id
are still fetched once and deduplicated by sha256."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from media_testkit import MIB, USERNAME, doc, export_dir, messages, parse, scenario

from testkit.server import make_session, running_server, server_call

ORIGINAL, REPOST, SAME_BYTES, LATER_REPOST = 1, 2, 3, 5


def _repost(mid: int, of: int) -> dict[str, Any]:
    return {"id": mid, "text": f"m{mid}", "media": {"type": "document", "content_of": of, "same_file": True,
                                                   "file_name": "again.bin"}}


def _get_file_parts(server: Any) -> list[tuple[int, int]]:
    """(file id, offset) of every upload.getFile the server answered or saw."""
    return [(c["params"]["location"]["id"], c["params"]["offset"]) for c in server.requests.entries("upload.getFile")]


def test_a_file_stored_once_is_never_downloaded_again(tmp_path: Path) -> None:
    msgs = [doc(ORIGINAL, 3 * MIB // 2, "orig.bin"), _repost(REPOST, ORIGINAL),
            {"id": SAME_BYTES, "text": "m3", "media": {"type": "document", "content_of": ORIGINAL,
                                                       "file_name": "copy.bin"}},
            {"id": 4, "text": "plain"}]
    with running_server(scenario(msgs)) as server:
        make_session(server, tmp_path / "acc.session")
        first = json.loads(parse(tmp_path).stdout)
        parts = _get_file_parts(server)
        export = export_dir(tmp_path)
        items = {mid: m["media_files"] for mid, m in messages(export).items()}
        stored = items[ORIGINAL][0]
        assert items[REPOST] == [stored] and items[SAME_BYTES][0]["path"] == stored["path"]
        assert first["summary"]["media_saved"] == 1 and first["summary"]["media_dedup_hits"] == 2
        # two files fetched (the original's id, the same-bytes copy's id), no part twice: the re-post
        # (the original's id again) asked for nothing
        assert len({file_id for file_id, _ in parts}) == 2 and len(parts) == len(set(parts)), parts
        index = json.loads((export / "media-index.json").read_text(encoding="utf-8"))
        assert len(index["file_id_to_sha256"]) == 2 and set(index["file_id_to_sha256"].values()) == {stored["sha256"]}

        server_call(server, lambda: server.world.append_messages(USERNAME, messages=[_repost(LATER_REPOST, ORIGINAL)]))
        before = len(server.requests.entries("upload.getFile"))
        second = json.loads(parse(tmp_path).stdout)
        assert len(server.requests.entries("upload.getFile")) == before  # a later run: not fetched either
        assert second["summary"]["media_dedup_hits"] == 1 and second["summary"]["media_saved"] == 0
        assert messages(export)[LATER_REPOST]["media_files"] == [stored]
