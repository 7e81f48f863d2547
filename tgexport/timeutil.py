"""UTC timestamps in the contract's `YYYY-MM-DDTHH:MM:SSZ` form."""
from __future__ import annotations

from datetime import UTC, datetime


def utc_iso(moment: datetime) -> str:
    """Format an aware or naive-UTC datetime as `YYYY-MM-DDTHH:MM:SSZ`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now_iso() -> str:
    return utc_iso(datetime.now(UTC))
