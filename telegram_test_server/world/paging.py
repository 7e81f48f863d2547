"""Telegram's messages.getHistory paging rules, as a pure function over (ids, dates).

Messages are ordered newest first. The anchor is the newest message m with
`m.id < offset_id` (when offset_id != 0) and `(m.date, m.id) < (offset_date, offset_id)`
(when offset_date != 0): offset_date alone is exclusive, and offset_id + offset_date of the
last message (how clients page) never skips messages sharing a date. The page starts
`add_offset` positions after the anchor (negative = towards newer messages), holds at most `limit` (capped at 100) messages and is clipped at both ends.
`max_id`/`min_id` (exclusive, 0 = none) filter the history before positioning.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

MAX_LIMIT = 100


def history_page(ids: Sequence[int], dates: Sequence[int], *, offset_id: int = 0, offset_date: int = 0,
                 add_offset: int = 0, limit: int = 100, max_id: int = 0, min_id: int = 0) -> list[int]:
    """Ids of one getHistory page, newest first. `ids` ascending, `dates` non-decreasing."""
    limit = max(0, min(limit, MAX_LIMIT))
    lo = bisect_left(ids, min_id + 1) if min_id > 0 else 0
    hi = bisect_left(ids, max_id) if max_id > 0 else len(ids)
    if lo >= hi or limit == 0:
        return []
    anchor = _anchor(ids, dates, lo, hi, offset_id, offset_date)
    # ascending positions [lo, anchor) are older than the anchor; descending index 0 = hi - 1
    top = anchor - add_offset  # exclusive upper bound of the page, in ascending positions
    bottom = top - limit
    top, bottom = min(top, hi), max(bottom, lo)
    if bottom >= top:
        return []
    return [ids[i] for i in range(top - 1, bottom - 1, -1)]


def _anchor(ids: Sequence[int], dates: Sequence[int], lo: int, hi: int, offset_id: int,
            offset_date: int) -> int:
    """Ascending position just above the first message of the page (exclusive bound)."""
    anchor = hi
    if offset_id:
        anchor = min(anchor, bisect_left(ids, offset_id))
    if offset_date:
        first, last = bisect_left(dates, offset_date), bisect_right(dates, offset_date)
        same_date = bisect_left(ids, offset_id, first, last) if offset_id else first
        anchor = min(anchor, same_date)
    return max(lo, anchor)
