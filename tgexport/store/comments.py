"""The export's `comments/` folder (`parse --comments`): one file per post thread, plus its progress.

- `comments/<post id>.json`: `{"post_id", "discussion_chat_id", "discussion_msg_id", "comments": [records,
  ascending id], "last_comment_id"}`, written atomically (a kill leaves the old or the new file).
- `comments/state.json`: `{"checked_up_to": X, "pending": [post ids]}`: every post with id ≤ X had its
  thread looked at, except the pending ones (written before the work starts, cleared when it ends, so
  a killed run's posts are done by the next run).
Files that do not check out are a DataFormatError naming them (never overwritten).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tgexport.core.atomic_json import read_json_strict, write_json_atomic
from tgexport.store.checks import PathGuard, check_messages, damaged, is_int

COMMENTS_DIR = "comments"
STATE_NAME = "state.json"


@dataclass
class Thread:
    post_id: int
    discussion_chat_id: int
    discussion_msg_id: int
    comments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_comment_id(self) -> int:
        return self.comments[-1]["id"] if self.comments else 0

    def as_dict(self) -> dict[str, Any]:
        return {"post_id": self.post_id, "discussion_chat_id": self.discussion_chat_id,
                "discussion_msg_id": self.discussion_msg_id, "comments": self.comments,
                "last_comment_id": self.last_comment_id}


class CommentsStore:
    """Reads and writes the comment files of one export directory."""

    def __init__(self, export_dir: Path) -> None:
        self.export_dir = Path(export_dir)
        self.folder = self.export_dir / COMMENTS_DIR
        self.state_path = self.folder / STATE_NAME

    def thread_path(self, post_id: int) -> Path:
        return self.folder / f"{int(post_id)}.json"

    def read_thread(self, post_id: int) -> Thread | None:
        """The stored thread of a post, None when there is none; DataFormatError when it is damaged."""
        path = self.thread_path(post_id)
        if not path.is_file():
            return None
        data = read_json_strict(path)
        ids = [data.get(k) for k in ("post_id", "discussion_chat_id", "discussion_msg_id", "last_comment_id")] \
            if isinstance(data, dict) else [None]
        if not all(is_int(v) for v in ids) or ids[0] != post_id:
            raise damaged(path, "not a comments file of this post (post_id, discussion ids, last_comment_id)")
        comments = check_messages(path, data.get("comments"), PathGuard(self.export_dir))
        if [c["id"] for c in comments] != sorted({c["id"] for c in comments}):
            raise damaged(path, "comments are not in ascending id order, once each")
        thread = Thread(post_id, data["discussion_chat_id"], data["discussion_msg_id"], comments)
        if thread.last_comment_id != data["last_comment_id"] and comments:
            raise damaged(path, "last_comment_id is not the id of its last comment")
        return thread

    def write_thread(self, thread: Thread) -> None:
        self.folder.mkdir(exist_ok=True)
        write_json_atomic(self.thread_path(thread.post_id), thread.as_dict())

    def read_state(self) -> tuple[int, list[int]]:
        """(checked_up_to, pending post ids); (0, []) before the first --comments run."""
        if not self.state_path.is_file():
            return 0, []
        data = read_json_strict(self.state_path)
        checked = data.get("checked_up_to") if isinstance(data, dict) else None
        pending = data.get("pending") if isinstance(data, dict) else None
        if not is_int(checked) or not isinstance(pending, list) or not all(is_int(p) for p in pending):
            raise damaged(self.state_path, "not a comments state (checked_up_to, pending)")
        return checked, pending

    def write_state(self, checked_up_to: int, pending: list[int]) -> None:
        self.folder.mkdir(exist_ok=True)
        write_json_atomic(self.state_path, {"checked_up_to": checked_up_to, "pending": sorted(set(pending))})
