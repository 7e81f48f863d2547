"""`parse --comments` end to end (real CLI, local server with a linked discussion group): threads go to
comments/<post id>.json, a later run asks only for the new comments (getReplies with min_id, from the
request log), comment media are described but not downloaded unless --comments-media; comments deleted from the
discussion keep their records, marked deleted, when their post is refreshed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testkit.cli import cli_env, run_cli
from testkit.server import make_session, server_call

CHANNEL, GROUP = 1777000111, 1777000222
PHOTO = {"type": "photo", "size": 12_000, "w": 320, "h": 240}
REPLIES = {"count": 0, "comments": True, "channel_id": GROUP}
POSTS = [{"id": i, "text": f"post {i}", "replies": REPLIES} for i in range(1, 7)]
POSTS.append({"id": 7, "text": "its thread is gone", "replies": {**REPLIES, "count": 4}})  # MSG_ID_INVALID
SCENARIO = {
    "channels": [{"id": CHANNEL, "username": "talk_chan", "title": "Talk", "messages": POSTS},
                 {"id": GROUP, "title": "Talk chat", "megagroup": True, "member": False, "messages": []}],
    "comments": [{"channel": CHANNEL, "post": 3, "count": 150},
                 {"channel": CHANNEL, "post": 5, "messages": [{"text": "look", "media": PHOTO}]}],
}


def parse(server: Any, tmp_path: Path, out: str, *extra: str) -> dict[str, Any]:
    session = make_session(server, tmp_path / "s.session") if not (tmp_path / "s.session").exists() \
        else tmp_path / "s.session"
    args = ["parse", "--channel", "@talk_chan", "--session-file", str(session), "--output-dir",
            str(tmp_path / out), *extra]
    proc = run_cli(args, cli_env(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def thread(result: dict[str, Any], post_id: int) -> dict[str, Any]:
    return json.loads((Path(result["export_dir"]) / "comments" / f"{post_id}.json").read_text(encoding="utf-8"))


def test_threads_are_exported_and_later_runs_fetch_only_new_comments(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(SCENARIO)
    first = parse(server, tmp_path, "out", "--comments")
    export_dir = Path(first["export_dir"])
    assert sorted(p.name for p in (export_dir / "comments").iterdir()) == ["3.json", "5.json", "state.json"]
    long = thread(first, 3)
    ids = [c["id"] for c in long["comments"]]
    assert len(ids) == 150 and ids == sorted(set(ids)) and long["last_comment_id"] == ids[-1]
    assert long["discussion_chat_id"] == GROUP and long["post_id"] == 3
    assert long["comments"][0]["text"] == "comment 1" and long["comments"][0]["reply_to_msg_id"] == long[
        "discussion_msg_id"]
    [with_photo] = thread(first, 5)["comments"]
    [item] = with_photo["media_files"]
    assert item["path"] is None and item["skipped"] == "comment_media"
    assert not (export_dir / "media").exists() or not any((export_dir / "media").rglob("*.*"))
    assert server.requests.count("messages.getDiscussionMessage") == 3  # posts without comments cost nothing
    assert first["summary"]["comment_threads_failed"] == 1  # post 7: logged, the others go on
    log = (export_dir / "logs" / "errors.log").read_text(encoding="utf-8")
    assert '"comments_unavailable"' in log and "MsgIdInvalidError" in log and '"post_id": 7' in log
    assert server.requests.count("messages.getReplies") == 3  # 150 = 100 + 50, and 1
    assert first["summary"]["new_comments"] == 151

    new = server_call(server, server.world.add_comments, CHANNEL, 3, 5)
    server.requests.reset()
    second = parse(server, tmp_path, "out", "--comments", "--refresh-recent", "10")
    assert server.requests.count("messages.getDiscussionMessage") == 0
    [ask] = server.requests.entries("messages.getReplies")  # one request, for the new comments only
    assert ask["params"]["min_id"] == ids[-1] and ask["params"]["msg_id"] == 3
    assert [c["id"] for c in thread(second, 3)["comments"]] == ids + new
    assert second["summary"]["new_comments"] == 5 and second["summary"]["comment_threads_updated"] == 1

    server.requests.reset()
    third = parse(server, tmp_path, "out", "--comments", "--refresh-recent", "10")
    assert server.requests.count("messages.getReplies") == 0 and third["summary"]["new_comments"] == 0

    server_call(server, server.world.delete_messages, GROUP, [ids[0], new[-1]])  # post 3 now counts 153
    server.requests.reset()
    fourth = parse(server, tmp_path, "out", "--comments", "--refresh-recent", "10")
    assert server.requests.count("messages.getReplies") == 1  # nothing new
    assert server.requests.count("channels.getMessages") == 1 + 2  # the refresh, then 155 comments by id
    comments = thread(fourth, 3)["comments"]
    assert [c["id"] for c in comments] == ids + new  # an export never loses a comment it once had
    assert [c["id"] for c in comments if c.get("deleted")] == [ids[0], new[-1]]
    assert all(isinstance(c.get("deleted_at"), str) for c in comments if c.get("deleted"))
    assert fourth["summary"]["deleted_comments"] == 2 and fourth["summary"]["comment_threads_updated"] == 1


def test_comments_media_downloads_comment_media(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(SCENARIO)
    result = parse(server, tmp_path, "out", "--comments-media")
    [with_photo] = thread(result, 5)["comments"]
    [item] = with_photo["media_files"]
    stored = Path(result["export_dir"]) / item["path"]
    assert stored.read_bytes() == server.world.expected_bytes(GROUP, with_photo["id"])
    assert result["summary"]["media_saved"] == 1 and not result["partial_failure"]
