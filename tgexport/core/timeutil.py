"""UTC timestamps in the contract's `YYYY-MM-DDTHH:MM:SSZ` form."""
from __future__ import annotations

from datetime import UTC, datetime


def utc_iso(moment: datetime) -> str:
    """Format an aware or naive-UTC datetime as `YYYY-MM-DDTHH:MM:SSZ`.

    `isoformat()` (C, ~3x faster than strftime; a keyword argument costs half as much again) always
    starts with `YYYY-MM-DDTHH:MM:SS`, whatever follows; it runs for every message.
    """
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:19] + "Z"


def utc_now_iso() -> str:
    return utc_iso(datetime.now(UTC))
